"""Periodic state resets (IR reset_every / reset_phase, lava-dl netx reset_interval) and the
loihi2_silicon target's differences from Lava's model, on hand-computed cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from snnc import api
from snnc.cli import main
from snnc.frontends.netx import NetxOptions
from snnc.frontends.text import load_text
from snnc.runtime.fixed_engine import FixedEngine
from snnc.runtime.float_engine import FloatEngine

from tests.cli.test_compile_cli import one_error
from tests.conftest import ROOT, write_netx

NEURON = {"type": "CUBA", "iDecay": 4096, "vDecay": 0, "vThMant": 1000, "refDelay": 1,
          "wgtExp": 0}


def two_dense(path: Path) -> Path:
    """A netx file without an input layer: 2 inputs -> 3 -> 2 neurons."""
    return write_netx(path, [
        {"type": np.bytes_("dense"), "shape": np.array([3]), "weight": np.ones((3, 2)),
         "neuron": NEURON},
        {"type": np.bytes_("dense"), "shape": np.array([2]), "weight": np.ones((2, 3)),
         "neuron": NEURON}])


def counter(tmp: Path, every: int, phase: int, v_th: float = 100.0) -> Path:
    """One neuron adding its bias 1 to v every step (no leak, no input), reset periodically."""
    f = tmp / f"count{every}_{phase}_{v_th:g}.snn"
    f.write_text("snnc-ir 1\ninput in : (1)\n"
                 f"population h : if (1) reset=zero refractory=0 reset_every={every} "
                 f"reset_phase={phase} {{\n"
                 "  du = f64 (1) fill 0.0\n  dv = f64 (1) fill 0.0\n"
                 f"  v_th = f64 (1) fill {v_th}\n  v_reset = f64 (1) fill 0.0\n"
                 "  bias = f64 (1) fill 1.0\n  i_bias = f64 (1) fill 0.0\n}\n"
                 "projection w : in -> h dense {\n  weight = f64 (1, 1) fill 0.0\n"
                 "  delay = i64 (1, 1) fill 0\n}\noutput out : (1) <- h\n")
    return f


NO_INPUT = {"in": np.zeros((1, 9, 1))}


def test_netx_reset_phases_are_staggered_by_layer_as_lava_dl_does(tmp_path: Path) -> None:
    net = str(two_dense(tmp_path / "n.net"))
    g = api.load(net, netx=NetxOptions(reset_interval=4, reset_offset=1))
    assert [(p.reset_every, p.reset_phase) for p in g.populations.values()] == [(4, 2), (4, 3)]
    assert all(p.reset_every == 0 for p in api.load(net).populations.values())
    cut = api.load(net, netx=NetxOptions(reset_interval=4, skip_layers=1))
    (p,) = cut.populations.values()
    assert cut.inputs["input"].shape == (3,) and (p.reset_every, p.reset_phase) == (4, 1)
    first = api.load(net, netx=NetxOptions(num_layers=1))
    assert [q.size for q in first.populations.values()] == [3]
    pooled = write_netx(tmp_path / "p.net", [  # a layer snnc cannot lower may be skipped
        {"type": np.bytes_("pool"), "shape": np.array([3])},
        {"type": np.bytes_("dense"), "shape": np.array([2]), "weight": np.ones((2, 3)),
         "neuron": NEURON}])
    assert api.load(str(pooled), netx=NetxOptions(skip_layers=1)).inputs["input"].shape == (3,)


def test_the_float_and_fixed_engines_reset_on_the_schedule(tmp_path: Path) -> None:
    g = load_text(str(counter(tmp_path, 3, 0)))  # cleared before t = 2, 5, 8
    v = FloatEngine(g).run(NO_INPUT, steps=9, trace=True).traces["v:h"][0, :, 0]
    assert v.tolist() == [1, 2, 1, 2, 3, 1, 2, 3, 1]
    for target, want in (("loihi2", [1, 2, 1, 2, 3, 1, 2, 3, 1]),
                         ("loihi2_silicon", [1, 2, 3, 1, 2, 3, 4, 1, 2])):  # every 3 + 1
        fx = api.compile(g, target, until="fixed").fixed
        v = FixedEngine(fx).run(NO_INPUT, steps=9, trace=True).traces["v:h"][0, :, 0]
        assert (v / v[0]).tolist() == want, target


def test_silicon_v_reads_128_at_a_spike_and_restarts_from_zero(tmp_path: Path) -> None:
    g = load_text(str(counter(tmp_path, 0, 0, v_th=2.5)))  # v = 1, 2, 3 > 2.5: fires at t = 2
    for target, at_spike in (("loihi2", 0), ("loihi2_silicon", 128)):
        fx = api.compile(g, target, until="fixed").fixed
        tr = FixedEngine(fx).run(NO_INPUT, steps=6, trace=True).traces
        v, s = tr["v:h"][0, :, 0], tr["s:h"][0, :, 0]
        one = v[0]
        assert s.tolist() == [0, 0, 1, 0, 0, 1], target
        assert v.tolist() == [one, 2 * one, at_spike, one, 2 * one, at_spike], target


def test_netx_options_refuse_in_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    net = str(two_dense(tmp_path / "n.net"))
    out = str(tmp_path / "o")
    assert main(["compile", net, "--skip-layers", "2", "-o", out]) == 1
    assert "--skip-layers 2 leaves none of the 2 layers" in one_error(capsys)
    assert main(["compile", net, "--reset-interval", "0", "-o", out]) == 1
    assert "--reset-interval 0 is outside 1.." in one_error(capsys)
    digits = str(ROOT / "snnc" / "models" / "digits.nir")
    assert main(["compile", digits, "--reset-interval", "8", "-o", out]) == 1
    assert "apply to lava-dl netx files only" in one_error(capsys)
    assert not Path(out).exists()


@pytest.mark.parametrize("ext", [".snn", ".nir", ".onnx"])
def test_the_schedule_survives_every_format(tmp_path: Path, ext: str) -> None:
    g = load_text(str(counter(tmp_path, 5, 3)))
    back = api.load(api.convert(g, str(tmp_path / f"g{ext}")))
    (p,) = back.populations.values()
    assert (p.reset_every, p.reset_phase) == (5, 3)


def test_the_manifest_records_how_the_model_was_read(tmp_path: Path) -> None:
    """`load` in the manifest: the options given when the model file was read, and nothing
    when none was given; netx options as lava-dl's arguments (defaults filled in)."""
    net = str(two_dense(tmp_path / "n.net"))
    plain, opts = tmp_path / "plain", tmp_path / "opts"
    assert main(["compile", net, "--target", "refsim", "-o", str(plain)]) == 0
    assert json.loads((plain / "manifest.json").read_text())["load"] == {}
    assert main(["compile", net, "--target", "refsim", "--reset-interval", "4",
                 "--reset-offset", "1", "-o", str(opts)]) == 0
    load = json.loads((opts / "manifest.json").read_text())["load"]
    assert load == {"netx": {"reset_interval": 4, "reset_offset": 1, "skip_layers": 0}}
    digits = str(ROOT / "snnc" / "models" / "digits.nir")
    hw = tmp_path / "hw"
    assert main(["compile", digits, "--target", "refsim", "--timing", "hardware",
                 "-o", str(hw)]) == 0
    assert json.loads((hw / "manifest.json").read_text())["load"] == {"timing": "hardware"}
    x = np.arange(6.0).reshape(2, 3)
    rec = api.load_record(balance_data=x, dt=0.5)
    assert rec["dt"] == 0.5 and rec["balance_data"]["shape"] == [2, 3]
    assert rec["balance_data"]["sha256"] != api.load_record(balance_data=x + 1)[
        "balance_data"]["sha256"]
