"""ONNX ANNs trained in PyTorch (examples/onnx_digits) convert, compile for loihi2 and tianjic,
and keep their accuracy within 1 percentage point at the documented 64 steps.

The ANN's accuracy is measured here with onnxruntime on the 450 held-out digits; the SNN's with
the fixed-point engine on the compiled (quantized, 8-bit) IR, which refsim reproduces bit for
bit (tests/engines/test_refsim.py); one case runs end to end through the CLI on refsim.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from examples.onnx_digits.train import data
from snnc import api
from snnc.frontends.ann_to_snn import AnnOptions
from snnc.runtime.fixed_engine import FixedEngine

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is a dev dependency")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "onnx_digits"
STEPS = AnnOptions().steps  # the documented default


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return data()


def ann_accuracy(model: Path, x: np.ndarray, y: np.ndarray) -> float:
    s = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    logits = s.run(None, {s.get_inputs()[0].name: x})[0]
    return float((logits.argmax(1) == y).mean())


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_converted_accuracy_within_one_point_on_both_targets(name: str, digits) -> None:  # type: ignore[no-untyped-def]
    xtr, _, xte, yte = digits
    path = EXAMPLE / f"{name}.onnx"
    ann = ann_accuracy(path, xte, yte)
    g = api.load(str(path), balance_data=xtr)
    assert g.meta["ann"]["steps"] == STEPS == 64
    spikes = {"image": api.encode_input(g, xte)}
    for target in ("loihi2", "tianjic"):
        c = api.compile(g, target)
        fixed = c.fixed
        assert c.coremap.n_cores >= 1  # it maps onto the target's cores
        if target == "loihi2":  # Loihi resets to zero: the subtract reset is emulated
            assert set(fixed.meta["lower_reset"]["populations"]) == set(g.meta["ann"]["lambda"])
        out = FixedEngine(fixed).run(spikes).outputs["logits"][:, -1]
        snn = float((out.argmax(1) == yte).mean())
        print(f"{name} {target}: ANN {ann:.4f}, SNN {snn:.4f} at {STEPS} steps")
        assert abs(snn - ann) <= 0.01, f"{name} on {target}: ANN {ann:.4f} vs SNN {snn:.4f}"


def test_the_shipped_onnx_files_are_what_the_script_reports(digits) -> None:  # type: ignore[no-untyped-def]
    """RESULTS.json was written by train.py beside the .onnx files it exported."""
    _, _, xte, yte = digits
    rep = json.loads((EXAMPLE / "RESULTS.json").read_text())
    for name in ("mlp", "cnn"):
        assert ann_accuracy(EXAMPLE / f"{name}.onnx", xte, yte) == pytest.approx(
            rep["test_accuracy"][name], abs=1e-9)


def _snnc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "snnc.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_cli_compile_encode_run_on_refsim(digits, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    xtr, _, xte, yte = digits
    np.save(tmp_path / "xtr.npy", xtr)
    np.save(tmp_path / "xte.npy", xte)
    cnn = str(EXAMPLE / "cnn.onnx")
    r = _snnc("compile", cnn, "--balance-data", "xtr.npy", "-t", "tianjic", "-o", "cnn.tj",
              "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["cores_used"] >= 1
    r = _snnc("compile", cnn, "--balance-data", "xtr.npy", "-t", "tianjic", "-o", "again.tj",
              cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    files = sorted(p.relative_to(tmp_path / "cnn.tj") for p in (tmp_path / "cnn.tj").rglob("*")
                   if p.is_file())
    assert len(files) > 5 and files == sorted(
        p.relative_to(tmp_path / "again.tj") for p in (tmp_path / "again.tj").rglob("*")
        if p.is_file())
    for f in files:  # conversion and compile are deterministic: byte-identical artifacts
        assert (tmp_path / "cnn.tj" / f).read_bytes() == (tmp_path / "again.tj" / f).read_bytes()
    for bad, msg in ((["encode", "cnn.tj", "--values", "xte.npy", "--steps", "0", "-o",
                       "bad.npy"], "--steps must be at least 1"),
                     (["encode", "cnn.tj", "--values", "xte.npy", "--encoding", "rate", "-o",
                       "bad.npy"], "already compiled"),
                     (["run", "cnn.tj", "--input", "xte.npy", "--balance-data", "xtr.npy"],
                      "already compiled")):
        r = _snnc(*bad, cwd=tmp_path)
        assert r.returncode == 1 and msg in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad.npy").exists()
    r = _snnc("encode", "cnn.tj", "--values", "xte.npy", "-o", "s.npy", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert np.load(tmp_path / "s.npy").shape == (450, STEPS, 1, 8, 8)
    r = _snnc("run", "cnn.tj", "--input", "s.npy", "--batch", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    pred = np.array(json.loads(r.stdout)["argmax"])
    acc = float((pred == yte).mean())
    assert abs(acc - ann_accuracy(EXAMPLE / "cnn.onnx", xte, yte)) <= 0.01


def test_cli_errors_are_one_clear_line(tmp_path: Path) -> None:
    cnn = str(EXAMPLE / "cnn.onnx")
    r = _snnc("compile", cnn, "-t", "tianjic", cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "needs calibration input for threshold balancing" in r.stderr
    assert "--balance-data X.npy with (N, 1, 8, 8)" in r.stderr
    np.save(tmp_path / "neg.npy", -np.ones((4, 1, 8, 8)))
    r = _snnc("inspect", cnn, "--balance-data", "neg.npy", cwd=tmp_path)
    assert r.returncode == 1 and "negative values" in r.stderr
    np.save(tmp_path / "bad.npy", np.ones((4, 7)))
    r = _snnc("inspect", cnn, "--balance-data", "bad.npy", cwd=tmp_path)
    assert r.returncode == 1 and "expected (N, 1, 8, 8)" in r.stderr
    r = _snnc("inspect", "digits", "--encoding", "rate", cwd=tmp_path)
    assert r.returncode == 1 and "ONNX ANNs only" in r.stderr
    assert not (tmp_path / "cnn.tianjic").exists()


def test_converted_mlp_runs_bit_exactly_in_lava(digits) -> None:  # type: ignore[no-untyped-def]
    """The loihi2 compile of a converted ANN (subtract reset emulated by a self-synapse, bias
    from the always-on neuron, integrator readout) is what Lava 0.10.0 computes too."""
    from snnc.backends import lava_network

    if not lava_network.have_lava():
        pytest.skip("lava-nc is not installed (make setup installs it)")
    xtr, _, xte, _ = digits
    g = api.load(str(EXAMPLE / "mlp.onnx"), balance_data=xtr, ann=AnnOptions(steps=24))
    fixed = api.compile(g, "loihi2", until="fixed").fixed
    x = {"image": api.encode_input(g, xte[:2])}
    lv = api.run_compiled(fixed, x, engine="lava", trace=True)
    fx = api.run_compiled(fixed, x, engine="fixed", trace=True)
    np.testing.assert_array_equal(lv.outputs["logits"], fx.outputs["logits"])
    for k in fx.traces:
        np.testing.assert_array_equal(lv.traces[k], fx.traces[k], err_msg=k)
    assert any(fx.traces[k].any() for k in fx.traces if k.startswith("s:node_relu"))
