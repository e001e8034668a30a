"""Trained timing (docs/timing.md): a latency-free network written as NIR is reproduced
exactly, shifted by its lag; shorter paths are delayed, biases start with the first input,
and feedback the chip cannot carry in time is named."""

from __future__ import annotations

import warnings

import nir
import numpy as np
import pytest
import snnc
from snnc.frontends.projections import RepairWarning


def _skip_net(rng: np.random.Generator) -> nir.NIRGraph:
    """input -> fc1 -> a (IF) -> fc2 -> b (IF), and input -> skip -> b; integer weights and
    biases, so the compiled network can be exact too."""
    return nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([6])}),
        "fc1": nir.Affine(weight=rng.integers(-8, 20, (8, 6)).astype(float),
                          bias=rng.integers(-2, 4, 8).astype(float)),
        "a": nir.IF(r=np.ones(8), v_threshold=np.full(8, 16.0)),
        "fc2": nir.Affine(weight=rng.integers(-10, 20, (5, 8)).astype(float),
                          bias=rng.integers(-2, 3, 5).astype(float)),
        "skip": nir.Linear(weight=rng.integers(-6, 12, (5, 6)).astype(float)),
        "b": nir.IF(r=np.ones(5), v_threshold=np.full(5, 24.0)),
        "output": nir.Output(output_type={"output": np.array([5])})},
        edges=[("input", "fc1"), ("fc1", "a"), ("a", "fc2"), ("fc2", "b"),
               ("input", "skip"), ("skip", "b"), ("b", "output")])


def _latency_free(g: nir.NIRGraph, x: np.ndarray) -> np.ndarray:
    """The same network with no latency at all, as a framework runs it: every layer in the
    step of its input, biases from step 0, reset to zero. x (B, T, 6) -> b's spikes."""
    n = g.nodes
    va, vb = np.zeros((x.shape[0], 8)), np.zeros((x.shape[0], 5))
    out = []
    for t in range(x.shape[1]):
        va = va + x[:, t] @ n["fc1"].weight.T + n["fc1"].bias
        sa = (va > 16).astype(float)
        va = np.where(sa > 0, 0.0, va)
        vb = vb + sa @ n["fc2"].weight.T + n["fc2"].bias + x[:, t] @ n["skip"].weight.T
        sb = (vb > 24).astype(float)
        vb = np.where(sb > 0, 0.0, vb)
        out.append(sb)
    return np.stack(out, 1)


def test_skip_connection_is_balanced_and_biases_start_with_the_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(5)
    net = _skip_net(rng)
    path = str(tmp_path / "skip.nir")
    nir.write(path, net)
    g = snnc.load(path)
    timing = g.meta["timing"]
    assert timing["mode"] == "trained" and timing["latency"] == {"output": 2}
    assert g.populations["a"].onset == 1 and g.populations["b"].onset == 2
    (skip,) = [p for p in g.projections.values() if p.src == "input" and p.dst == "b"]
    assert int(skip.delay.min()) == int(skip.delay.max()) == 1  # one step to wait for fc2
    x = (rng.random((4, 30, 6)) < 0.4).astype(float)
    want = _latency_free(net, x)
    assert want.sum() > 20
    got = snnc.run(g, {"input": x}).outputs["output"]
    assert got.shape[1] == 32  # T + latency by default
    np.testing.assert_array_equal(got[:, 2:], want)
    assert not got[:, :2].any()
    for target in ("loihi2", "tianjic"):  # integers: the chips reproduce it exactly too
        c = snnc.compile(g, target)
        fx = snnc.run_compiled(c.fixed, {"input": x.astype(np.int64)}, engine="fixed")
        np.testing.assert_array_equal(fx.outputs["output"][:, 2:], want, err_msg=target)


def test_hardware_timing_keeps_one_step_per_projection(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "skip.nir")
    nir.write(path, _skip_net(np.random.default_rng(5)))
    g = snnc.load(path, timing="hardware")
    assert g.meta["timing"] == {"mode": "hardware"}
    assert all(p.onset == 0 for p in g.populations.values())
    assert all(not p.delay.any() for p in g.projections.values())
    assert snnc.api.latency(g) == 0


def test_feedback_faster_than_the_chip_is_named() -> None:
    """b -> a feedback: trained, a sees b's spikes of the step before; on the chip b is one
    layer deeper, so they arrive a step late. The warning and the meta name the projection."""
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([3])}),
        "fc1": nir.Linear(weight=np.ones((3, 3))), "a": nir.IF(r=np.ones(3),
                                                                 v_threshold=np.ones(3)),
        "fc2": nir.Linear(weight=np.ones((3, 3))), "b": nir.IF(r=np.ones(3),
                                                                 v_threshold=np.ones(3)),
        "back": nir.Linear(weight=-np.ones((3, 3))),
        "output": nir.Output(output_type={"output": np.array([3])})},
        edges=[("input", "fc1"), ("fc1", "a"), ("a", "fc2"), ("fc2", "b"), ("b", "back"),
               ("back", "a"), ("b", "output")], type_check=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph = snnc.from_nir(g, dt=1.0)
    late = graph.meta["timing"]["late"]
    assert [d["projection"] for d in late] == ["back"] and late[0]["steps_late"] == 1
    assert any("'back'" in str(w.message) and "later on the chip" in str(w.message)
               for w in caught if issubclass(w.category, RepairWarning))


@pytest.mark.parametrize("timing", ["trained", "hardware"])
def test_snnc_written_nir_keeps_its_timing(timing: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An snnc export already holds the chip's delays and onsets: read back, nothing shifts
    again."""
    path = str(tmp_path / "skip.nir")
    nir.write(path, _skip_net(np.random.default_rng(5)))
    g = snnc.load(path, timing=timing)
    snnc.convert(g, str(tmp_path / "again.nir"))
    g2 = snnc.load(str(tmp_path / "again.nir"))
    assert g2.meta["timing"]["mode"] == "hardware"
    for k, p in g.populations.items():
        assert g2.populations[k].onset == p.onset
    x = (np.random.default_rng(1).random((2, 20, 6)) < 0.4).astype(float)
    a = snnc.run(g, {"input": x}, steps=24).outputs["output"]
    b = snnc.run(g2, {"input": x}, steps=24).outputs["output"]
    np.testing.assert_array_equal(a, b)


def test_an_unknown_timing_is_one_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from snnc.compiler.errors import ModelError

    path = str(tmp_path / "skip.nir")
    nir.write(path, _skip_net(np.random.default_rng(5)))
    with pytest.raises(ModelError, match="timing must be one of trained, hardware"):
        snnc.load(path, timing="latency-free")
