"""lower_reset: reset by subtraction emulated on a zero-reset target changes no spike.

Random networks of IF/LIF populations (recurrent projections included) run in the float engine
before and after the pass. Weights, thresholds and biases are multiples of 1/8 and leaks are 0
or 1/2, so every float sum is exact and spikes must match bit for bit.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Port, Projection, ResetMode
from snnc.compiler.passes import PassContext
from snnc.compiler.passes.lower_reset import lower_reset
from snnc.compiler.targets import load_target
from snnc.compiler.verify import validate
from snnc.runtime.float_engine import FloatEngine

LOIHI = PassContext(load_target("loihi2"))


def _eighths(draw, shape: tuple[int, ...], lo: int, hi: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    seed = draw(st.integers(0, 2**31 - 1))
    return np.random.default_rng(seed).integers(lo, hi + 1, size=shape) / 8.0


@st.composite
def networks(draw):  # type: ignore[no-untyped-def]
    """An input of 4..8 spike sources, then 1..3 populations in a chain, some recurrent."""
    n_in = draw(st.integers(4, 8))
    pops, projs, prev, prev_n = [], [], "in", n_in
    for i in range(draw(st.integers(1, 3))):
        n = draw(st.integers(1, 6))
        leaky = draw(st.booleans())
        model = NeuronModel.LIF if leaky else NeuronModel.IF
        reset = draw(st.sampled_from([ResetMode.SUBTRACT, ResetMode.SUBTRACT, ResetMode.ZERO]))
        pops.append(Population.make(
            f"p{i}", (n,), model, dv=0.5 if leaky else 0.0,
            v_th=_eighths(draw, (n,), 2, 16), bias=_eighths(draw, (n,), -1, 2), reset=reset))
        projs.append(Projection(name=f"w{i}", src=prev, dst=f"p{i}", kind=Conn.DENSE,
                                weight=_eighths(draw, (n, prev_n), -8, 16),
                                delay=np.zeros((n, prev_n), dtype=np.int64)))
        if draw(st.booleans()):
            projs.append(Projection(name=f"r{i}", src=f"p{i}", dst=f"p{i}", kind=Conn.DENSE,
                                    weight=_eighths(draw, (n, n), -8, 8),
                                    delay=np.zeros((n, n), dtype=np.int64)))
        prev, prev_n = f"p{i}", n
    g = Graph.build(pops, projs, [Port(name="in", shape=(n_in,))],
                    [Port(name="out", shape=(prev_n,), source=prev)])
    x = (np.random.default_rng(draw(st.integers(0, 2**31 - 1))).random((2, 30, n_in))
         < draw(st.sampled_from([0.2, 0.5, 0.9]))).astype(np.float64)
    return validate(g), x


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_subtract_reset_emulation_keeps_every_spike(case: tuple[Graph, np.ndarray]) -> None:
    g, x = case
    low = validate(lower_reset(g, LOIHI))
    a = FloatEngine(g).run({"in": x}, trace=True)
    b = FloatEngine(low).run({"in": x}, trace=True)
    for name, p in g.populations.items():
        np.testing.assert_array_equal(a.traces[f"s:{name}"], b.traces[f"s:{name}"])
        q = low.populations[name]
        if p.reset is ResetMode.SUBTRACT:
            assert q.model is NeuronModel.CUBA_LIF and q.reset is ResetMode.ZERO
            assert f"{name}.reset" in low.projections
            # the current holds what v held before the reset
            pre = a.traces[f"v:{name}"] + a.traces[f"s:{name}"] * p.v_th
            np.testing.assert_array_equal(b.traces[f"u:{name}"], pre)
        else:
            assert q is p
    np.testing.assert_array_equal(a.outputs["out"], b.outputs["out"])
    assert sorted(low.meta.get("lower_reset", {}).get("populations", [])) == sorted(
        k for k, p in g.populations.items() if p.reset is ResetMode.SUBTRACT)


def test_targets_with_subtract_reset_are_left_alone() -> None:
    p = Population.make("p", (2,), NeuronModel.IF, reset=ResetMode.SUBTRACT)
    g = Graph.build([p], [], [], [Port(name="o", shape=(2,), source="p")])
    assert lower_reset(g, PassContext(load_target("tianjic"))) is g
