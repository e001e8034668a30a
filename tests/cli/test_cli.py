"""CLI verbs on the shipped model: run output layout, batch shapes, traces, convert."""

from __future__ import annotations

import json

import numpy as np

from snnc import api
from snnc.cli import main
from tests.conftest import ROOT

DIGITS = str(ROOT / "examples" / "digits" / "digits.nir")


def test_run_writes_output_spikes_and_traces(tmp_path, capsys, rng):
    x = (rng.random((20, 64)) < 0.3).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "o.npz"
    assert main(["run", DIGITS, "--input", str(tmp_path / "x.npy"), "-o", str(out),
                 "--trace", "--steps", "22"]) == 0
    summary = json.loads(capsys.readouterr().out)
    with np.load(out) as z:
        assert z["output_spikes"].shape == (22, 10)
        assert z["v:lif1"].shape == (22, 64) and z["s:lif2"].shape == (22, 10)
        assert "u:lif1" not in z.files  # LIF has no current state
        np.testing.assert_array_equal(z["s:lif2"], z["output_spikes"])
        assert summary["spike_counts"] == z["output_spikes"].sum(0).astype(int).tolist()
    # same run through the API gives the same spikes
    g = api.load(DIGITS)
    ref = api.run(g, {"input": x[None]}, steps=22).outputs["output"][0]
    with np.load(out) as z:
        np.testing.assert_array_equal(z["output_spikes"], ref)


def test_run_batch_keeps_leading_axes(tmp_path, capsys, rng):
    x = (rng.random((3, 12, 64)) < 0.3).astype(np.float64)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "o.npz"
    assert main(["run", "digits", "--input", str(tmp_path / "x.npy"), "--batch", "-o",
                 str(out)]) == 0
    with np.load(out) as z:
        assert z["output_spikes"].shape == (3, 12, 10)
    assert len(json.loads(capsys.readouterr().out)["argmax"]) == 3


def test_convert_to_text_and_nir_roundtrips(tmp_path, capsys):
    g = api.load(DIGITS)
    for ext in ("snn", "nir"):
        p = tmp_path / f"m.{ext}"
        assert main(["convert", DIGITS, "-o", str(p)]) == 0
        assert api.load(str(p)) == g
    # conversion is deterministic: same bytes twice
    a, b = tmp_path / "a.snn", tmp_path / "b.snn"
    main(["convert", DIGITS, "-o", str(a)])
    main(["convert", DIGITS, "-o", str(b)])
    assert a.read_bytes() == b.read_bytes()


def test_inspect_text_parses_back(tmp_path, capsys):
    assert main(["inspect", DIGITS, "--full"]) == 0
    text = capsys.readouterr().out
    from snnc.frontends.text import parse_ir

    assert parse_ir(text) == api.load(DIGITS)


def test_missing_dt_warns_with_the_default(tmp_path, capsys):
    import nir

    g = nir.read(DIGITS)
    g.metadata = {}
    nir.write(str(tmp_path / "nodt.nir"), g)
    assert main(["inspect", str(tmp_path / "nodt.nir"), "--format", "json"]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "no --dt given; using dt=0.0001" in err


def test_packaged_model_is_the_trained_one():
    from pathlib import Path

    from snnc.cli import builtin_model

    assert Path(builtin_model("digits")).read_bytes() == Path(DIGITS).read_bytes()
