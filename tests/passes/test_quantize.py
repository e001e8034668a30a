"""quantize and lower_current_bias: expected integers worked out by hand from the documented
rules (compiler/passes/quantize.py docstring, docs/fixed_point.md), and the errors."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from snnc import api
from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Port, Projection, ResetMode
from snnc.compiler.passes import PassContext
from snnc.compiler.passes.lower_current_bias import lower_current_bias
from snnc.compiler.passes.quantize import QuantizeError, QuantizeOptions, quantize
from snnc.compiler.pipeline import CompileOptions
from snnc.compiler.targets import TargetError, load_target
from snnc.frontends.text import parse_ir, print_ir
from snnc.runtime.fixed_engine import FixedEngine

from tests.conftest import shared_file

LOIHI = PassContext(load_target("loihi2"))
TIANJIC = PassContext(load_target("tianjic"))


def one_layer(w: list[list[float]], v_th: float = 1.0, dv: float = 0.1,
              model: NeuronModel = NeuronModel.LIF, delay: int = 0, **pop: object) -> Graph:
    w_ = np.array(w, dtype=float)
    n, m = w_.shape
    p = Population.make("h", (n,), model, dv=dv, v_th=v_th, **pop)
    proj = Projection(name="w", src="in", dst="h", kind=Conn.DENSE, weight=w_,
                      delay=np.full(w_.shape, delay))
    return Graph.build([p], [proj], [Port(name="in", shape=(m,))],
                       [Port(name="out", shape=(n,), source="h")])


def test_loihi_8bit_by_hand() -> None:
    """W = [0.5, -0.3], v_th = 1 (-0.3 is no dyadic number, so no exact scale exists): the
    largest weight maps to 254 at the primary exponent; the exponent puts the threshold
    mantissa in [512, 1024): k = 64*254/0.5 * 2 = 65024, so vth = 65024/64 = 1016;
    W*k/64 = [508, -304.8] -> weight_exp 1 -> [254, -152.4] -> even grid [254, -152];
    dv = 0.1*4096 = 410; a LIF (no current) gets du = 4095 (u = input each step)."""
    q = quantize(one_layer([[0.5, -0.3]]), LOIHI, QuantizeOptions())
    p, w = q.populations["h"], q.projections["w"]
    assert w.weight.tolist() == [[254.0, -152.0]]
    assert (w.weight_exp, w.weight_bits) == (1, 8)
    assert (p.v_th[0], p.dv[0], p.du[0], p.bias[0]) == (1016, 410, 4095, 0)
    assert q.meta["stage"] == "fixed" and q.meta["semantics"] == "loihi"
    log = q.meta["quantize"]["projections"]["w"]
    assert log["clipped"] == 0 and log["zeroed"] == 0 and 40 < log["sqnr_db"] < 60
    # the fixed IR prints and parses back exactly, exponent and bits included
    assert parse_ir(print_ir(q)) == q


def test_cuba_decay_has_lavas_plus_one_and_4bit_grid() -> None:
    """CUBA du = 0.1 -> register round(409.6) - 1 = 409 (Lava decays by du + 1); 4-bit mixed
    weights are multiples of 32 up to 224."""
    g = one_layer([[1.0, 0.3, -0.6]], model=NeuronModel.CUBA_LIF, du=0.1)
    q = quantize(g, LOIHI, QuantizeOptions(weight_bits="4"))
    assert q.populations["h"].du[0] == 409
    w = q.projections["w"].weight
    assert w[0, 0] == 224 and np.all(w % 32 == 0) and q.projections["w"].weight_bits == 4
    assert w.tolist() == [[224.0, 64.0, -128.0]]  # 0.3*224 = 67.2 -> 64; -0.6*224 -> -128


def test_ternary_follows_twn() -> None:
    """|W| = [0.1, 0.9, 0.5, 0.05]: delta = 0.7 * mean = 0.27125 -> [0, +, -, 0]; stored as
    +-128 (Lava's 2-bit grid), scale alpha = mean(0.9, 0.5) = 0.7 folded into the threshold."""
    q = quantize(one_layer([[0.1, 0.9, -0.5, 0.05]]), LOIHI, QuantizeOptions(weight_bits="ternary"))
    w = q.projections["w"]
    assert w.weight.tolist() == [[0.0, 128.0, -128.0, 0.0]]
    k = q.meta["quantize"]["populations"]["h"]["scale"]
    assert 128 * 64 * 2.0**w.weight_exp / k == pytest.approx(0.7)
    assert q.meta["quantize"]["projections"]["w"]["zeroed"] == 2


def test_per_channel_gives_each_row_the_full_range() -> None:
    g = one_layer([[1.0, -0.5], [0.01, 0.004]])
    per_layer = quantize(g, LOIHI, QuantizeOptions()).projections["w"].weight
    per_ch = quantize(g, LOIHI, QuantizeOptions(per_channel=True))
    assert np.abs(per_layer[1]).max() <= 4  # the small row keeps almost nothing per layer
    assert np.abs(per_ch.projections["w"].weight).max(axis=1).tolist() == [254, 254]
    vth = per_ch.populations["h"].v_th
    assert vth[1] > 50 * vth[0]  # its scale went into its threshold


def test_mnist_dense_cuba_integers_unchanged() -> None:
    """A lava-dl export already holds Loihi integers: 8-bit compile keeps every one, read
    back from the HDF5 file directly (du register = iDecay - 1, as lava-dl's netx programs)."""
    path = shared_file("netx/mnist_dense_cuba.net")
    fixed = api.compile(api.load(str(path)), "loihi2", until="fixed").fixed
    with h5py.File(path) as f:
        for i in range(3):
            lg = f[f"layer/{i}"]
            pop, proj = fixed.populations[f"layer{i}"], fixed.projections[f"layer{i}.w"]
            np.testing.assert_array_equal(proj.weight, lg["weight"][()])
            assert proj.weight_exp == 0 and proj.weight_bits == 8
            assert set(pop.du) == {lg["neuron/iDecay"][()] - 1}
            assert set(pop.dv) == {lg["neuron/vDecay"][()]}
            assert set(pop.v_th) == {lg["neuron/vThMant"][()]}
            assert fixed.meta["quantize"]["projections"][f"layer{i}.w"]["sqnr_db"] is None


def test_threshold_beyond_mantissa_is_refused() -> None:
    with pytest.raises(QuantizeError, match=r"population 'h'.*131071"):
        quantize(one_layer([[1e-3]], v_th=1e6), LOIHI, QuantizeOptions())


def test_loihi_refuses_what_lavas_lif_cannot_do() -> None:
    with pytest.raises(QuantizeError, match=r"population 'h' \(lif\) resets by 'subtract'.*"
                                            r"compile for a target that has it"):
        quantize(one_layer([[1.0]], reset=ResetMode.SUBTRACT), LOIHI, QuantizeOptions())
    with pytest.raises(QuantizeError, match=r"refractory period of 2.*refractory counter"):
        quantize(one_layer([[1.0]], refractory=2), LOIHI, QuantizeOptions())
    # the Tianjic-style soma has both
    q = quantize(one_layer([[1.0]], reset=ResetMode.SUBTRACT, refractory=2), TIANJIC,
                 QuantizeOptions())
    assert q.populations["h"].refractory == 2


def test_tianjic_alpha_and_int8() -> None:
    """Tianjic keeps alpha = round((1 - dv) * 256); weights int8 with max at 127."""
    q = quantize(one_layer([[0.5, -0.3]], dv=0.1), TIANJIC, QuantizeOptions())
    assert q.populations["h"].dv[0] == round(0.9 * 256)
    assert np.abs(q.projections["w"].weight).max() == 127


def test_current_bias_becomes_an_always_on_neuron() -> None:
    g = one_layer([[0.5]], model=NeuronModel.CUBA_LIF, du=0.2, i_bias=0.3)
    low = lower_current_bias(g, LOIHI)
    assert not low.populations["h"].i_bias.any()
    on = low.populations["_always_on"]
    assert low.projections["h.i_bias"].weight.tolist() == [[0.3]]
    fixed = quantize(low, LOIHI, QuantizeOptions())
    res = FixedEngine(fixed).run({"in": np.zeros((1, 5, 1), dtype=np.int64)}, trace=True)
    assert res.traces["s:_always_on"].sum() == 5 and on.size == 1  # fires every step
    assert lower_current_bias(g, TIANJIC) is g  # Tianjic has a current bias


def test_calibration_is_deterministic_and_recorded(rng) -> None:  # type: ignore[no-untyped-def]
    g = api.load("snnc/models/digits.nir")
    x = {"input": (rng.random((20, 8, 64)) < 0.3).astype(np.int64)}
    opts = CompileOptions.of(weight_bits="4")
    ca = api.compile(g, "loihi2", opts, calibrate_inputs=x, until="fixed")
    cb = api.compile(g, "loihi2", opts, calibrate_inputs=x, until="fixed")
    a, oa, b, ob = ca.fixed, ca.options.quantize, cb.fixed, cb.options.quantize
    assert a == b and oa.gain == ob.gain and set(oa.gain) == {"lif1", "lif2"}
    assert a.meta["quantize"]["gain"] == dict(oa.gain)


def test_target_files_need_a_source_for_every_number(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "t.toml"
    bad.write_text('name = "x"\nextends = "loihi2"\n[core]\nneurons = { value = 10 }\n')
    with pytest.raises(TargetError, match=r"\[core\] neurons: the number has no source"):
        load_target(str(bad))
    good = tmp_path / "mine.toml"
    good.write_text('name = "mine"\nextends = "refsim"\n'
                    '[core]\nneurons = { value = 128, source = "my choice" }\n')
    t = load_target(str(good))
    assert t["core.neurons"] == 128 and t["format.vth_bits"] == 17 and t.semantics == "loihi"
    typo = tmp_path / "typo.toml"
    typo.write_text('name = "t"\nextends = "loihi2"\n'
                    '[core]\nneurons = { value = "many", source = "typo" }\n')
    with pytest.raises(TargetError, match=r"\[core\] neurons = 'many': must be an integer in 1"):
        load_target(str(typo))
    with pytest.raises(TargetError, match="unknown target 'nope'"):
        load_target("nope")
    for name in ("loihi2", "tianjic", "refsim"):
        assert all(f.source for f in load_target(name).facts.values())


@pytest.mark.parametrize("target,n_in,steps", [("loihi2", 8, 300), ("tianjic", 1000, 2200)])
def test_integrator_with_a_v_bound_stays_inside_the_state(target: str, n_in: int, steps: int
                                                          ) -> None:
    """A non-spiking readout that sums n_in inputs every step reaches |v| = n_in * steps (float
    units), beyond the target's state at the scale its weights alone would get. With
    meta['v_bound'] the quantizer leaves room, so the fixed engine's v stays exactly
    proportional to the float v instead of saturating (or, on Loihi, firing at the top of its
    range and resetting)."""
    w = np.array([[1.0] * n_in, [-1.0] * n_in])
    pop = Population.make("sum", (2,), NeuronModel.I)
    proj = Projection(name="w", src="in", dst="sum", kind=Conn.DENSE, weight=w,
                      delay=np.zeros(w.shape, dtype=np.int64))
    g = Graph.build([pop], [proj], [Port(name="in", shape=(n_in,))],
                    [Port(name="out", shape=(2,), source="sum")])
    x = {"in": np.ones((1, steps, n_in))}
    ref = api.run(g, x).outputs["out"][0]
    spec = PassContext(load_target(target))
    limit = 2 ** (int(spec.target["format.state_bits"]) - 1) - 1

    def proportional(fx: Graph) -> bool:  # one factor (the effective scale) for every step
        v = FixedEngine(fx).run(x).outputs["out"][0]
        return bool(np.allclose(v, v[1, 0] / ref[1, 0] * ref, rtol=1e-12))

    assert not proportional(quantize(g, spec, QuantizeOptions()))
    bound = 1.5 * n_in * steps
    bounded = quantize(g.with_meta(v_bound={"sum": bound}), spec, QuantizeOptions())
    assert bounded.meta["quantize"]["populations"]["sum"]["scale"] * bound <= limit / 2
    assert proportional(bounded)
