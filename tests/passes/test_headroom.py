"""Headroom: the quantizer's worst-case current per population, checked against networks whose
bound is worked out by hand; scales lowered where that costs no precision, so that a network
whose every input fires keeps the float engine's spikes with no wrap; the headroom recorded in
the quantization log and shown when it cannot be met."""

from __future__ import annotations

import json
import warnings

import nir
import numpy as np
import pytest
import snnc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snnc import api
from snnc.compiler.headroom import headroom
from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Port, Projection
from snnc.runtime.fixed_engine import FixedEngine

STEPS = 6


def dense_if(tmp, n: int, fan: int, w: float, vth: float) -> Graph:  # type: ignore[no-untyped-def]
    """n IF neurons, each fed by `fan` inputs of weight w, written as NIR and read back."""
    g = nir.NIRGraph(nodes={"in": nir.Input(input_type=np.array([fan])),
                            "fc": nir.Linear(weight=np.full((n, fan), w)),
                            "if": nir.IF(r=np.ones(n), v_threshold=np.full(n, vth)),
                            "out": nir.Output(output_type=np.array([n]))},
                     edges=[("in", "fc"), ("fc", "if"), ("if", "out")])
    path = str(tmp / "net.nir")
    nir.write(path, g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return api.load(path)


def all_fire(g: Graph) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], dict]:  # type: ignore[type-arg]
    """Float and loihi2-fixed output spikes when every input fires at every step, the fixed
    run's counters and the quantization log."""
    c = api.compile(g, "loihi2", until="fixed")
    port = next(iter(g.inputs))
    x = np.ones((1, STEPS, g.inputs[port].size))
    fl = api.run(g, {port: x}, steps=STEPS).outputs
    fx = FixedEngine(c.fixed).run({port: x.astype(np.int64)}, steps=STEPS)
    k = next(iter(fl))
    return fl[k], fx.outputs[k], fx.counters, c.fixed.meta["quantize"]


def test_the_issue_network_keeps_every_spike(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 19's network: 10,240 IF neurons, 99 inputs of weight 128 each, threshold 64. At
    the exact scale 512 every input firing gives 99 x 128 x 8 x 2^6 = 6,488,064 < 2^23 - 1:
    0.37 bits of headroom, recorded; all 10,240 fire at every step after the first, as in
    the float engine, and nothing wraps."""
    fl, fx, c, q = all_fire(dense_if(tmp_path, 10240, 99, 128.0, 64.0))
    room = q["populations"]["if"]["headroom"]
    assert room["current_bound"] == 6_488_064 and room["limit"] == 2**23 - 1
    assert room["lowered_bits"] == 0 and 0.37 <= room["headroom_bits"] < 0.38
    np.testing.assert_array_equal(fl, fx)
    assert fx.sum(axis=(0, 2)).tolist() == [0] + [10240] * (STEPS - 1)
    assert c["layer_wraps"].tolist() == [0] and c["layer_saturations"].tolist() == [0]


def test_a_wider_fan_in_lowers_the_scale_and_stays_exact(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """140 inputs: at scale 512 the worst case, 140 x 1024 x 2^6 = 9,175,040, would wrap u
    (> 2^23); one power of two lower it is 4,587,520, still exact (weight_exp 2, threshold
    mantissa 256), and every spike equals the float engine's."""
    fl, fx, c, q = all_fire(dense_if(tmp_path, 64, 140, 128.0, 64.0))
    pop = q["populations"]["if"]
    assert pop["scale"] == 256.0 and pop["exact"] and pop["headroom"]["lowered_bits"] == 1
    assert pop["headroom"]["current_bound"] == 4_587_520
    assert q["projections"]["fc"]["weight_exp"] == 2 and q["projections"]["fc"]["exact"]
    np.testing.assert_array_equal(fl, fx)
    assert c["layer_wraps"].sum() == 0 and fx.sum() == 64 * (STEPS - 1)


def random_layer(fan: int, w: float, ratio: float, neg: float, seed: int) -> Graph:
    """16 LIF (IF) neurons with `fan` mixed-sign float inputs each (a share `neg` negative),
    magnitudes in [w/2, w], threshold `ratio` x w."""
    rng = np.random.default_rng(seed)
    n = 16
    wts = rng.uniform(0.5, 1.0, (n, fan)) * w
    wts[rng.random((n, fan)) < neg] *= -1
    p = Population.make("h", (n,), NeuronModel.LIF, dv=0.0, v_th=ratio * w)
    return Graph.build([p], [Projection(name="w", src="in", dst="h", kind=Conn.DENSE,
                                        weight=wts, delay=np.zeros(wts.shape, np.int64))],
                       [Port(name="in", shape=(fan,))],
                       [Port(name="out", shape=(n,), source="h")])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fan=st.integers(20, 4000), w=st.floats(0.05, 4.0), ratio=st.floats(0.5, 40.0),
       neg=st.one_of(st.just(0.0), st.floats(0.0, 0.5)), seed=st.integers(0, 2**16))
def test_compile_refuses_or_never_wraps(fan: int, w: float, ratio: float, neg: float,  # type: ignore[no-untyped-def]
                                        seed: int) -> None:
    """Random layers drawn around the bound (fan-in up to 4,000, thresholds from half a
    weight to 40), compiled with the default options: either a refusal naming the population and
    the width, or neither every input firing at every step nor random inputs wrap u. With
    excitatory weights only, the all-firing run also keeps the float engine's spikes (with
    inhibition an IF neuron's v can fall without bound in the float model, and saturates on
    the chip: counted, not prevented)."""
    from snnc.compiler.passes.quantize import QuantizeError

    g = random_layer(fan, w, ratio, neg, seed)
    try:
        c = api.compile(g, "loihi2", until="fixed")
    except QuantizeError as e:
        assert "population 'h': the worst-case current" in str(e) and "24-bit state" in str(e)
        return
    room = c.fixed.meta["quantize"]["populations"]["h"]["headroom"]
    assert room["headroom_bits"] >= 0
    assert room["headroom_bits"] == round(headroom(c.fixed, "h").bits, 3)
    rng = np.random.default_rng(seed)
    x = np.concatenate([np.ones((1, STEPS, fan)), rng.random((3, STEPS, fan)) < 0.5])
    res = FixedEngine(c.fixed).run({"in": x.astype(np.int64)}, steps=STEPS)
    assert res.counters["layer_wraps"].tolist() == [0]
    if neg == 0:
        assert res.counters["sample_saturations"][0] == 0
        fl = api.run(g, {"in": x[:1]}, steps=STEPS).outputs["out"]
        np.testing.assert_array_equal(fl, res.outputs["out"][:1])


def test_both_sides_of_the_bound_are_reached() -> None:
    """The draws above do reach both outcomes: a wide layer with a low threshold is refused
    by default and, with --allow-overflow, compiles with a warning and wraps on the chip
    (counted); a narrower one is lowered by 3 bits and fits."""
    from snnc.compiler.passes.quantize import QuantizeError

    wide = random_layer(3000, 1.0, 1.0, 0.0, 0)
    try:
        api.compile(wide, "loihi2", until="fixed")
        raise AssertionError("not refused")
    except QuantizeError as e:
        assert "population 'h'" in str(e) and "--allow-overflow" in str(e)
    c = api.compile(wide, "loihi2", snnc.CompileOptions.of(allow_overflow=True), until="fixed")
    q = c.fixed.meta["quantize"]
    assert q["populations"]["h"]["headroom"]["headroom_bits"] < -4
    assert any("population 'h': the worst-case current" in m for m in q["warnings"])
    res = FixedEngine(c.fixed).run({"in": np.ones((1, STEPS, 3000), np.int64)}, steps=STEPS)
    assert res.counters["layer_wraps"].tolist() == [16 * (STEPS - 1)]
    fits = api.compile(random_layer(5000, 1.0, 3.0, 0.0, 0), "loihi2", until="fixed")
    room = fits.fixed.meta["quantize"]["populations"]["h"]["headroom"]
    assert room["lowered_bits"] == 3 and room["headroom_bits"] >= 0


def test_headroom_by_hand_for_a_decaying_current() -> None:
    """A CUBA neuron on loihi2: 3 inputs of stored weight 100 at exponent 0, du register 1023
    (+ offset 1 = 1024 of 4096 lost per step, 3/4 kept): A = 300 << 6 = 19,200 per step,
    |u| <= A / (1 - 3/4) = 76,800."""
    from dataclasses import replace

    from tests.fixed_strategies import LOIHI2, fixed_meta

    pop = replace(Population.make("c", (1,), NeuronModel.CUBA_LIF, v_th=1.0),
                  du=np.full(1, 1023.0), dv=np.zeros(1), v_th=np.full(1, 1000.0))
    proj = Projection(name="w", src="in", dst="c", kind=Conn.DENSE,
                      weight=np.array([[100.0, 100.0, 100.0, -7.0]]),
                      delay=np.array([[0, 1, 2, 0]]), weight_exp=0, weight_bits=8)
    g = Graph.build([pop], [proj], [Port(name="in", shape=(4,))],
                    [Port(name="out", shape=(1,), source="c")], meta=fixed_meta(LOIHI2))
    h = headroom(g, "c")
    assert h.input_pos == 19_200 and h.input_neg == 7 * 64
    assert h.current == 76_800 and h.limit == 2**23 - 1


def test_a_conv_net_far_from_its_worst_case_needs_measured_currents(
        tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """The ONNX digits CNN on loihi2: its conv populations' worst cases are 6.7 and 9.2 bits
    beyond the 24-bit state. Converted, it carries the currents its balance data reach
    (current_reach), so `snnc compile --balance-data` keeps its scales (recorded); without
    those the compile is refused in one error line naming the population and --calibrate;
    with 16 calibration digits the currents measured stay more than 1 bit inside, the scales
    are kept, and the 450 test digits run with no wrap and the ANN-converted accuracy."""
    import json
    from dataclasses import replace

    from snnc.compiler.passes.quantize import QuantizeError
    from pathlib import Path

    from examples.onnx_digits.train import data
    from snnc.cli import main

    root = Path(__file__).resolve().parents[2]

    xtr, _, xte, yte = data()
    model = str(root / "examples" / "onnx_digits" / "cnn.onnx")
    np.save(tmp_path / "xtr.npy", xtr)
    art = tmp_path / "art"
    assert main(["compile", model, "--balance-data", str(tmp_path / "xtr.npy"), "-t",
                 "loihi2", "-o", str(art)]) == 0
    capsys.readouterr()
    kept = json.loads((art / "manifest.json").read_text())["quantize"]["populations"]
    for pop in ("2.Relu", "6.Relu"):
        assert kept[pop]["headroom"]["headroom_bits"] < -6
        assert kept[pop]["headroom"]["reached_bits"] >= 1
    g = api.load(model, balance_data=xtr)
    bare = replace(g, meta={k: v for k, v in g.meta.items() if k != "current_reach"})
    with pytest.raises(QuantizeError, match=r"population '2.Relu'.*--calibrate"):
        api.compile(bare, "loihi2", until="fixed")
    port = next(iter(g.inputs))
    c = api.compile(bare, "loihi2", until="fixed",
                    calibrate_inputs={port: api.encode_input(g, xtr[:16])})
    q = c.fixed.meta["quantize"]
    for pop in ("2.Relu", "6.Relu"):
        room = q["populations"][pop]["headroom"]
        assert room["headroom_bits"] < -6 and room["reached_bits"] >= 1
        assert any(f"population '{pop}'" in m and "stays" in m for m in q["warnings"])
    res = FixedEngine(c.fixed).run({port: api.encode_input(g, xte)})
    assert res.counters["layer_wraps"].sum() == 0
    assert float((res.outputs["logits"][:, -1].argmax(1) == yte).mean()) > 0.98


def test_run_and_report_show_the_wraps_of_a_compiled_model(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """The wide layer compiled as a user would (warning kept in the log): on every input
    firing, `snnc run` warns naming the population and its wrap count, and `snnc report`
    lists the same count with the headroom in its fidelity section."""
    import json

    from snnc.cli import main

    from tests.cli.test_compile_cli import one_error

    g = random_layer(3000, 1.0, 1.0, 0.0, 0)
    model = tmp_path / "wide.snn"
    api.convert(g, str(model))
    art = tmp_path / "wide.loihi2"
    assert main(["compile", str(model), "-t", "loihi2", "-o", str(art)]) == 1
    msg = one_error(capsys)  # refused by default, in one line naming what fixes it
    for part in ("population 'h'", "worst-case current", "24-bit state (8388607)",
                 "--calibrate", "--allow-overflow"):
        assert part in msg, part
    assert not art.exists()
    assert main(["compile", str(model), "-t", "loihi2", "-o", str(art), "--json",
                 "--allow-overflow"]) == 0
    out = capsys.readouterr()
    assert "population 'h': the worst-case current" in out.err
    x = tmp_path / "x.npy"
    np.save(x, np.ones((STEPS, 3000), dtype=np.uint8))
    assert main(["run", str(art), "--input", str(x), "-q"]) == 0
    err = capsys.readouterr().err
    assert f"population 'h': u wrapped {16 * (STEPS - 1)} and states saturated" in err
    rep = tmp_path / "r.json"
    np.save(x, np.ones((1, STEPS, 3000), dtype=np.uint8))
    assert main(["report", str(art), "--input", str(x), "--batch", "-q", "--json",
                 str(rep)]) == 0
    rng = json.loads(rep.read_text())["fidelity"]["range"]["h"]
    assert rng["wraps"] == 16 * (STEPS - 1) and rng["headroom_bits"] < -4


def test_a_sweep_refuses_the_same_point_unless_told_to_allow_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`snnc sweep` compiles as `snnc compile` does: the wide layer's point is a refused row
    naming --allow-overflow, and with --allow-overflow it is evaluated."""
    from snnc.cli import main

    model = tmp_path / "wide.snn"
    api.convert(random_layer(3000, 1.0, 1.0, 0.0, 0), str(model))
    np.save(tmp_path / "x.npy", np.ones((2, STEPS, 3000), dtype=np.uint8))
    np.save(tmp_path / "y.npy", np.zeros(2, dtype=np.int64))
    rows = {}
    for flag in ([], ["--allow-overflow"]):
        out = tmp_path / f"sweep{len(flag)}"
        assert main(["sweep", str(model), "--input", str(tmp_path / "x.npy"), "--labels",
                     str(tmp_path / "y.npy"), "-o", str(out), "--scheduler", "none", "-q",
                     *flag]) in (0, 1)
        (rows[len(flag)],) = json.loads((out / "sweep.json").read_text())["rows"]
    assert rows[0]["status"] != "ok" and "--allow-overflow" in rows[0]["reason"]
    assert rows[1]["status"] == "ok"


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_row_sums_and_distinct_delays_equal_plain_numpy(seed: int) -> None:
    """The sparse row sums and the count of distinct delays equal np.add.at and np.unique
    (what they replaced), on random sparse projections, negative and wide delays included."""
    from snnc.compiler.headroom import distinct_delays, row_sums

    rng = np.random.default_rng(seed)
    n_dst, n_src = int(rng.integers(1, 30)), int(rng.integers(1, 30))
    counts = rng.integers(0, 6, n_dst)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    nnz = int(indptr[-1])
    w = rng.normal(0.0, 3.0, nnz) * (rng.random(nnz) < 0.8)
    delay = rng.integers(int(rng.integers(-3, 1)), int(rng.integers(1, 70)), nnz)
    p = Projection(name="p", src="a", dst="b", kind=Conn.SPARSE, weight=w,
                   delay=np.zeros(nnz, dtype=np.int64), indptr=indptr,
                   indices=rng.integers(0, n_src, nnz))
    pos, neg = np.zeros(n_dst), np.zeros(n_dst)
    rows = np.repeat(np.arange(n_dst), counts)
    np.add.at(pos, rows, np.maximum(w, 0))
    np.add.at(neg, rows, np.maximum(-w, 0))
    got = row_sums(p, n_dst)
    assert np.array_equal(got[0], pos) and np.array_equal(got[1], neg)
    assert distinct_delays(delay) == len(np.unique(delay))
    assert distinct_delays(delay[:0]) == 0
