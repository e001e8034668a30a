"""Lossless when nothing needs rounding: a model whose weights, thresholds and biases already
are integers the target holds (up to one power-of-two scale per population) is kept exactly,
whatever the frontend, and the quantization log says "exact"."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import snnc


def _integer_cnn(rng: np.random.Generator) -> nir.NIRGraph:
    """A hand-ported integer CNN written as NIR: IF neurons, biases, integer thresholds."""
    w1 = rng.integers(-20, 40, (4, 2, 3, 3)).astype(float)
    w2 = rng.integers(-30, 30, (10, 64)).astype(float)
    return nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([2, 8, 8])}),
        "conv": nir.Conv2d(input_shape=(8, 8), weight=w1, stride=1, padding=1, dilation=1,
                           groups=1, bias=rng.integers(-2, 3, 4).astype(float)),
        "if1": nir.IF(r=np.ones((4, 8, 8)), v_threshold=np.full((4, 8, 8), 40.0)),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([4, 4, 4])}, start_dim=0),
        "fc": nir.Affine(weight=w2, bias=rng.integers(-3, 4, 10).astype(float)),
        "if2": nir.IF(r=np.ones(10), v_threshold=rng.integers(30, 90, 10).astype(float)),
        "output": nir.Output(output_type={"output": np.array([10])})},
        edges=[("input", "conv"), ("conv", "if1"), ("if1", "pool"), ("pool", "flat"),
               ("flat", "fc"), ("fc", "if2"), ("if2", "output")])


def _integer_rnn(rng: np.random.Generator) -> nir.NIRGraph:
    """A recurrent integer network: IF layer with a recurrent Affine, IF readout."""
    return nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([12])}),
        "fc1": nir.Affine(weight=rng.integers(-40, 80, (16, 12)).astype(float),
                          bias=rng.integers(-4, 5, 16).astype(float)),
        "if1": nir.IF(r=np.ones(16), v_threshold=np.full(16, 64.0)),
        "rec": nir.Linear(weight=rng.integers(-50, 50, (16, 16)).astype(float)),
        "fc2": nir.Linear(weight=rng.integers(-60, 100, (6, 16)).astype(float)),
        "if2": nir.IF(r=np.ones(6), v_threshold=np.full(6, 100.0)),
        "output": nir.Output(output_type={"output": np.array([6])})},
        edges=[("input", "fc1"), ("fc1", "if1"), ("if1", "rec"), ("rec", "if1"),
               ("if1", "fc2"), ("fc2", "if2"), ("if2", "output")])


@pytest.mark.parametrize("target", ["loihi2", "tianjic"])
@pytest.mark.parametrize("build", [_integer_cnn, _integer_rnn], ids=["cnn", "rnn"])
def test_integer_models_compile_exactly(build, target: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    path = str(tmp_path / "int.nir")
    nir.write(path, build(rng))
    g = snnc.load(path, reset="subtract")
    (port,) = g.inputs
    x = (rng.random((3, 30, *g.inputs[port].shape)) < 0.3).astype(float)
    # subtract-reset IF layers have no worst-case bound (every input firing outgrows the
    # threshold's subtraction), so the range is accepted here and checked below: no wrap
    c = snnc.compile(g, target, snnc.CompileOptions.of(allow_overflow=True))
    log = c.fixed.meta["quantize"]
    assert all(p["exact"] for p in log["projections"].values()), log["projections"]
    want = snnc.run(g, {port: x}, trace=True)
    got = snnc.run_compiled(c.fixed, {port: x}, engine="fixed", trace=True)
    assert got.counters["layer_wraps"].sum() == 0
    spikes = 0
    for k in want.traces:
        if k.startswith("s:") and k[2:] in g.populations:
            np.testing.assert_array_equal(got.traces[k], want.traces[k], err_msg=k)
            spikes += int(want.traces[k].sum())
    assert spikes > 100  # the networks are active: the equality says something


def test_a_float_model_is_not_called_exact() -> None:
    g = snnc.api.load("snnc/models/digits.nir")
    log = snnc.compile(g, "loihi2", until="fixed").fixed.meta["quantize"]
    assert not any(p["exact"] for p in log["projections"].values())
