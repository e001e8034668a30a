"""The float engine against an independent, deliberately naive per-synapse/per-neuron loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snnc.compiler.ir import (
    HAS_CURRENT,
    SPIKING,
    Conn,
    Graph,
    NeuronModel,
    Population,
    Port,
    Projection,
    ResetMode,
)
from snnc.compiler.linalg import projection_coo
from snnc.runtime.float_engine import FloatEngine

from tests.strategies import graphs


def naive_run(g: Graph, x: np.ndarray, steps: int):
    """One sample, scalar Python loops, written from compiler/ir.py's docstring."""
    sent = {k: [np.zeros(g.node_size(k)) for _ in range(steps)] for k in [*g.inputs,
                                                                           *g.populations]}
    (iname,) = g.inputs
    syn = [(p, *projection_coo(p, g.node_shape(p.src))) for p in g.projections.values()]
    state = {k: dict(u=np.zeros(p.size), v=np.zeros(p.size), ref=np.zeros(p.size, int))
             for k, p in g.populations.items()}
    vs = {k: [] for k in g.populations}
    for t in range(steps):
        a = {k: np.zeros(p.size) for k, p in g.populations.items()}
        for p, rows, cols, w, d in syn:
            for r, c, wi, di in zip(rows, cols, w, d, strict=True):
                if t - 1 - di >= 0:
                    a[p.dst][r] += wi * sent[p.src][t - 1 - di][c]
        for k, p in g.populations.items():
            st_ = state[k]
            s = np.zeros(p.size)
            on = t >= p.onset  # biases count from the onset step
            for i in range(p.size):
                if p.model in HAS_CURRENT:
                    st_["u"][i] = (1 - p.du[i]) * st_["u"][i] + a[k][i] + p.i_bias[i] * on
                    drive = st_["u"][i]
                else:
                    drive = a[k][i]
                v = (1 - p.dv[i]) * st_["v"][i] + drive + p.bias[i] * on
                if p.reset is ResetMode.DELAYED_SUBTRACT and t > 0:
                    v = v - p.v_th[i] * sent[k][t - 1][i]
                if p.model in SPIKING:
                    held = st_["ref"][i] > 0
                    if held:
                        v = p.v_reset[i]
                        st_["ref"][i] -= 1
                    guard = (p.reset is ResetMode.SUBTRACT_SNNTORCH
                             and st_["v"][i] > p.v_th[i])  # residual still above threshold
                    if v > p.v_th[i] * (2 if guard else 1) and not held:
                        s[i] = 1
                        st_["ref"][i] = p.refractory
                        if p.reset is ResetMode.ZERO:
                            v = p.v_reset[i]
                        elif p.reset in (ResetMode.SUBTRACT, ResetMode.SUBTRACT_SNNTORCH):
                            v = v - p.v_th[i]
                st_["v"][i] = v
            sent[k][t] = s
            vs[k].append(st_["v"].copy())
        sent[iname][t] = x[t].reshape(-1) if t < len(x) else np.zeros(g.node_size(iname))
    return {k: np.array(v) for k, v in vs.items()}, sent


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(g=graphs(max_pops=3, max_delay=4), seed=st.integers(0, 2**16))
def test_float_engine_matches_naive_loop(g, seed):
    rng = np.random.default_rng(seed)
    (iname, port), = g.inputs.items()
    x = (rng.random((3, 10, *port.shape)) < 0.5).astype(float)
    res = FloatEngine(g).run({iname: x}, steps=12, trace=True)
    for b in range(3):
        vs, sent = naive_run(g, x[b], 12)
        for k, p in g.populations.items():
            np.testing.assert_allclose(res.traces[f"v:{k}"][b], vs[k], rtol=1e-9, atol=1e-9,
                                       err_msg=f"v of {k}, sample {b}")
            if p.model in SPIKING:
                np.testing.assert_array_equal(res.traces[f"s:{k}"][b], np.array(sent[k]))


def _chain(delay: int, reset=ResetMode.ZERO, refractory=0, v_th=0.5) -> Graph:
    pop = Population.make("n", (1,), NeuronModel.IF, v_th=v_th, reset=reset,
                          refractory=refractory)
    proj = Projection(name="w", src="x", dst="n", kind=Conn.DENSE, weight=np.ones((1, 1)),
                      delay=np.full((1, 1), delay))
    return Graph.build([pop], [proj], [Port(name="x", shape=(1,))],
                       [Port(name="y", shape=(1,), source="n")])


def test_spike_at_t_with_delay_d_arrives_at_t_plus_1_plus_d():
    for d in range(4):
        x = np.zeros((1, 8, 1))
        x[0, 2] = 1
        r = FloatEngine(_chain(d)).run({"x": x}, trace=True)
        assert np.flatnonzero(r.outputs["y"][0, :, 0]).tolist() == [3 + d]


def test_reset_modes_and_refractory():
    x = np.full((1, 6, 1), 0.4)
    zero = FloatEngine(_chain(0)).run({"x": x}, trace=True).traces["v:n"][0, :, 0]
    assert np.allclose(zero, [0, 0.4, 0, 0.4, 0, 0.4])
    sub = FloatEngine(_chain(0, ResetMode.SUBTRACT)).run({"x": x}, trace=True)
    sub = sub.traces["v:n"][0, :, 0]
    assert np.allclose(sub, [0, 0.4, 0.3, 0.2, 0.1, 0.0])
    ref = FloatEngine(_chain(0, refractory=2, v_th=0.1)).run({"x": x}, trace=True)
    assert ref.traces["s:n"][0, :, 0].tolist() == [0, 1, 0, 0, 1, 0]


def test_batch_is_independent(rng):
    g = _chain(1)
    x = (rng.random((5, 20, 1)) < 0.5).astype(float)
    whole = FloatEngine(g).run({"x": x}).outputs["y"]
    for b in range(5):
        np.testing.assert_array_equal(FloatEngine(g).run({"x": x[b:b + 1]}).outputs["y"][0],
                                      whole[b])


def test_a_batch_whose_state_is_over_the_memory_budget_is_refused(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The float and fixed engines check a batch's state against the memory budget before
    allocating it, naming the batch."""
    from snnc import api
    from snnc.compiler.budget import BudgetError
    from snnc.runtime.fixed_engine import FixedEngine

    g = api.load("snnc/models/digits.nir")
    fixed = api.compile(g, "loihi2", until="fixed").fixed
    x = np.zeros((500, 2, 64))
    for engine in (FloatEngine(g), FixedEngine(fixed)):
        assert engine.run({"input": x}, steps=2).outputs  # within the default budget
        monkeypatch.setenv("SNNC_MEMORY_BUDGET", "64K")
        with pytest.raises(BudgetError, match=r"the engine: 500 sample\(s\) of state"):
            engine.run({"input": x}, steps=2)
        monkeypatch.delenv("SNNC_MEMORY_BUDGET")
