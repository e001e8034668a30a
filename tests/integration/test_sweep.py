"""snnc sweep: the digits model over 2 targets x 3 weight widths x 2 step counts on a local
Dask cluster of worker processes, its table against `snnc eval` of the same artifacts, its HTML
page rendered in headless Chromium, refused points as rows, and the Pareto fronts."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from snnc.cli import main
from snnc.design_sweep import pareto

from tests.integration.test_report import render

ROOT = Path(__file__).resolve().parents[2]
DIGITS = str(ROOT / "examples" / "digits" / "digits.nir")


@pytest.fixture(scope="module")
def data(tmp_path_factory):  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("sweep")
    subprocess.run([sys.executable, str(ROOT / "examples" / "digits" / "demo.py"), "encode",
                    str(d / "x.npy"), str(d / "y.npy")], check=True, capture_output=True)
    return d


@pytest.fixture(scope="module")
def swept(data):  # type: ignore[no-untyped-def]
    out = data / "sweep"
    assert main(["sweep", DIGITS, "--targets", "loihi2,tianjic", "--weight-bits",
                 "8,4,ternary", "--steps", "10,18", "--input", str(data / "x.npy"), "--labels",
                 str(data / "y.npy"), "-o", str(out), "--workers", "2", "-q"]) == 0
    return out


def test_sweep_writes_every_design_point_as_eval_measures_it(swept, data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads((swept / "sweep.json").read_text())
    rows = doc["rows"]
    assert [(r["target"], r["weight_bits"], r["steps"]) for r in rows] == [
        (t, b, s) for t in ("loihi2", "tianjic") for b in ("8", "4", "ternary") for s in (10, 18)]
    assert all(r["status"] == "ok" for r in rows), [r["reason"] for r in rows]
    with open(swept / "sweep.csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 12
    for r, c in zip(rows, table, strict=True):
        assert c["point"] == r["point"] and float(c["accuracy"]) == r["accuracy"]
        assert float(c["energy_per_inference_joules"]) == r["energy_per_inference_joules"]
    # one point, measured again by `snnc eval` on the artifact the sweep wrote
    r = next(r for r in rows if r["point"] == "loihi2-w8-anneal" and r["steps"] == 18)
    out = tmp_path / "e.json"
    assert main(["eval", str(swept / r["artifact"]), "--input", str(data / "x.npy"),
                 "--labels", str(data / "y.npy"), "--steps", "18", "--scheduler", "none",
                 "-q", "-o", str(out)]) == 0
    ev = json.loads(out.read_text())
    assert ev["accuracy"] == r["accuracy"] > 0.95
    assert ev["per_inference"]["energy_joules"]["mean"] == r["energy_per_inference_joules"]
    assert ev["per_inference"]["latency_seconds"]["mean"] == r["latency_per_inference_seconds"]
    # the artifact is the one `snnc compile` writes for that point
    ref = tmp_path / "ref"
    assert main(["compile", DIGITS, "-t", "loihi2", "--weight-bits", "8", "-o", str(ref)]) == 0
    for f in ("refsim/program.npz", "ir.snn", "arrays.npz", "lava/weights.npz"):
        assert (ref / f).read_bytes() == (swept / r["artifact"] / f).read_bytes(), f
    # fewer weight bits never gain accuracy here; every front holds an evaluated point
    acc = {(x["target"], x["weight_bits"], x["steps"]): x["accuracy"] for x in rows}
    assert acc[("loihi2", "ternary", 18)] < acc[("loihi2", "8", 18)]
    for front in ("pareto_energy", "pareto_latency", "pareto_cores"):
        assert any(x[front] for x in rows)


def test_sweep_html_renders_in_headless_chromium(swept, tmp_path) -> None:  # type: ignore[no-untyped-def]
    dom, console, img = render(swept / "sweep.html", tmp_path)
    assert 'data-images="3/3"' in dom, dom[-500:]
    assert "tianjic-w8-anneal" in dom and "Pareto" in dom
    assert not console, console
    assert img.shape[:2] == (1600, 1200) and img[..., :3].std() > 0.05


def test_a_point_that_does_not_compile_is_a_row_with_its_reason(data, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    w4 = tmp_path / "tianjic_w4.toml"
    w4.write_text('name = "tianjic_w4"\nextends = "tianjic"\n[format]\n'
                  'weight_bits = { value = 4, source = "test: 4-bit synapses" }\n'
                  'weight_min = { value = -8, source = "test: int4" }\n'
                  'weight_max = { value = 7, source = "test: int4" }\n')
    out = tmp_path / "sw"
    assert main(["sweep", DIGITS, "--targets", str(w4), "--weight-bits", "8,4", "--per-channel",
                 "both", "--input", str(data / "x.npy"), "--labels", str(data / "y.npy"), "-o",
                 str(out), "--scheduler", "none", "-q"]) == 0
    rows = json.loads((out / "sweep.json").read_text())["rows"]
    assert [(r["point"], r["status"]) for r in rows] == [
        ("tianjic_w4-w8-anneal", "refused"), ("tianjic_w4-w8-pc-anneal", "refused"),
        ("tianjic_w4-w4-anneal", "ok"), ("tianjic_w4-w4-pc-anneal", "ok")]
    assert "at most 4-bit weights; asked for 8" in rows[0]["reason"]
    assert rows[0]["accuracy"] is None and not rows[0]["pareto_energy"]
    assert rows[2]["accuracy"] > 0.9 and rows[3]["per_channel"] is True
    assert any(r["pareto_energy"] for r in rows[2:])
    assert "tianjic_w4-w8-anneal (16 steps): refused" in capsys.readouterr().err
    # a target that does not exist is one error before any work
    assert main(["sweep", DIGITS, "--targets", "loihi2,loihi7", "--input",
                 str(data / "x.npy"), "--labels", str(data / "y.npy"), "-o",
                 str(tmp_path / "new"), "--scheduler", "none", "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "loihi7" in err[0] and not (tmp_path / "new").exists()
    # the sweep never writes over a directory it did not make
    assert main(["sweep", DIGITS, "--input", str(data / "x.npy"), "--labels",
                 str(data / "y.npy"), "-o", str(out), "--scheduler", "none", "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "exists and is not an empty directory" in err[0]


def test_pareto_fronts_by_hand() -> None:
    def row(acc: float | None, cost: float | None, status: str = "ok") -> dict:  # type: ignore[type-arg]
        return {"status": status, "accuracy": acc, "c": cost}

    rows = [row(0.9, 5.0), row(0.95, 5.0), row(0.95, 6.0), row(0.8, 1.0), row(0.8, 1.0),
            row(0.99, 9.0), row(None, None, "refused"), row(0.7, 2.0)]
    #   (0.9, 5) is beaten by (0.95, 5); (0.95, 6) by (0.95, 5); the two (0.8, 1) tie and
    #   both stay; (0.7, 2) is beaten by (0.8, 1); a refused row is never on a front
    assert pareto(rows, "c") == [False, True, False, True, True, True, False, False]
    assert np.array(pareto([], "c")).size == 0


def test_sweep_as_a_command_on_two_worker_processes(data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`snnc sweep` run as a command, as a user runs it: each worker process compiles design
    points and then simulates them."""
    snnc = str(Path(sys.executable).parent / "snnc")
    out = tmp_path / "sw"
    r = subprocess.run([snnc, "sweep", DIGITS, "--targets", "loihi2,tianjic", "--steps", "18",
                        "--input", str(data / "x.npy"), "--labels", str(data / "y.npy"), "-o",
                        str(out), "--workers", "2", "-q"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads((out / "sweep.json").read_text())["rows"]
    assert [r["status"] for r in rows] == ["ok", "ok"] and rows[0]["accuracy"] > 0.95
