"""The fixed-point engine against a deliberately naive per-neuron, per-synapse Python-int loop
written from DESIGN.md §4 (Loihi) and docs/fixed_point.md (Tianjic), on random networks."""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snnc.compiler.errors import InputError, SnncError
from snnc.compiler.ir import Conn, Graph, ResetMode
from snnc.runtime.fixed_engine import FixedEngine

from tests.fixed_strategies import loihi_networks, spike_inputs, tianjic_from


def synapse_list(g: Graph, p) -> list[tuple[int, int, int, int]]:  # type: ignore[no-untyped-def]
    """(dst, src, weight, delay) of every stored synapse."""
    if p.kind is Conn.DENSE:
        return [(i, j, int(p.weight[i, j]), int(p.delay[i, j]))
                for i in range(p.weight.shape[0]) for j in range(p.weight.shape[1])]
    out = []
    for i in range(len(p.indptr) - 1):
        for k in range(p.indptr[i], p.indptr[i + 1]):
            out.append((i, int(p.indices[k]), int(p.weight[k]), int(p.delay[k])))
    return out


def sat28(z: int) -> int:
    return max(min(z, 2**27 - 1), -(2**27))


def trunc0(x: int, s: int) -> int:
    return -((-x) >> s) if x < 0 else x >> s


def naive(g: Graph, x: dict[str, np.ndarray], steps: int, tianjic: bool = False
          ) -> dict[str, np.ndarray]:
    sent = {k: np.zeros((steps, p.size), dtype=np.int64) for k, p in g.inputs.items()}
    for k in g.inputs:
        t_in = min(steps, x[k].shape[1])
        sent[k][:t_in] = x[k][0, :t_in].reshape(t_in, -1)
    for k, p in g.populations.items():
        sent[k] = np.zeros((steps, p.size), dtype=np.int64)
    syn = {k: synapse_list(g, p) for k, p in g.projections.items()}
    state = {k: {"u": [0] * p.size, "v": [0] * p.size, "r": [0] * p.size}
             for k, p in g.populations.items()}
    tr = {f"{v}:{k}": np.zeros((1, steps, p.size), dtype=np.int64)
          for k, p in g.populations.items() for v in "uvs"}
    for t in range(steps):
        a = {k: [0] * p.size for k, p in g.populations.items()}
        for name, p in g.projections.items():
            by_delay: dict[int, list[int]] = {}
            for dst, src, w, d in syn[name]:
                if t - 1 - d >= 0 and sent[p.src][t - 1 - d, src]:
                    by_delay.setdefault(d, [0] * g.node_size(p.dst))[dst] += w
            for sums in by_delay.values():
                for i, acc in enumerate(sums):
                    if tianjic:
                        acc = max(min(acc, 2**31 - 1), -(2**31))
                    e = p.weight_exp
                    a[p.dst][i] += acc << e if e > 0 else acc >> -e
        for k, p in g.populations.items():
            st_ = state[k]
            for i in range(p.size):
                u, v = st_["u"][i], st_["v"][i]
                if not tianjic:
                    du, dv = int(p.du[i]), int(p.dv[i])
                    x_ = trunc0(u * (4096 - (du + 1)), 12) + (a[k][i] << 6)
                    u = x_ - 2**24 if x_ > 2**23 else (x_ + 2**24 if x_ <= -(2**23) else x_)
                    v = max(min(trunc0(v * (4096 - dv), 12) + u + int(p.bias[i]), 2**23 - 1),
                            -(2**23 - 1))
                    s = v > (int(p.v_th[i]) << 6)
                    if s:
                        v = 0
                else:
                    sat = sat28
                    cuba = p.model.value.startswith("cuba")
                    u = sat(((u * int(p.du[i])) >> 8) + a[k][i] + int(p.i_bias[i])) if cuba \
                        else a[k][i]
                    v = sat(((v * int(p.dv[i])) >> 8) + u + int(p.bias[i]))
                    held = st_["r"][i] > 0
                    if p.refractory and held:
                        v = int(p.v_reset[i])
                        st_["r"][i] -= 1
                    s = v > int(p.v_th[i]) and not held
                    if s:
                        st_["r"][i] = p.refractory
                        if p.reset is ResetMode.ZERO:
                            v = int(p.v_reset[i])
                        elif p.reset is ResetMode.SUBTRACT:
                            v = sat(v - int(p.v_th[i]))
                st_["u"][i], st_["v"][i] = u, v
                sent[k][t, i] = int(s)
                tr[f"u:{k}"][0, t, i], tr[f"v:{k}"][0, t, i], tr[f"s:{k}"][0, t, i] = u, v, s
    return tr


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_loihi_engine_equals_naive_loop(data: st.DataObject) -> None:
    g = data.draw(loihi_networks(max_n=6, max_delay=8))
    steps = data.draw(st.integers(1, 20))
    x = data.draw(spike_inputs(g, steps))
    got = FixedEngine(g).run(x, steps=steps + 2, trace=True).traces
    want = naive(g, x, steps + 2)
    for k in sorted(want):
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_tianjic_engine_equals_naive_loop(data: st.DataObject) -> None:
    g = tianjic_from(data.draw(loihi_networks(max_n=6, max_delay=8)), data)
    steps = data.draw(st.integers(1, 20))
    x = data.draw(spike_inputs(g, steps))
    got = FixedEngine(g).run(x, steps=steps + 2, trace=True).traces
    want = naive(g, x, steps + 2, tianjic=True)
    for k in sorted(got):
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


def test_engine_is_vectorized_over_the_batch(rng) -> None:  # type: ignore[no-untyped-def]
    """A batch of 5 gives what 5 single runs give."""
    from snnc import api

    fixed, _ = api.compile_graph(api.load("snnc/models/digits.nir"), "loihi2")
    x = (rng.random((5, 10, 64)) < 0.3).astype(np.int64)
    both = FixedEngine(fixed).run({"input": x}, steps=12).outputs["output"]
    for b in range(5):
        one = FixedEngine(fixed).run({"input": x[b:b + 1]}, steps=12).outputs["output"]
        np.testing.assert_array_equal(both[b], one[0])


def test_fixed_engine_refuses_float_graphs_and_graded_input() -> None:
    from snnc import api

    g = api.load("snnc/models/digits.nir")
    with pytest.raises(SnncError, match="compile the model first"):
        FixedEngine(g)
    fixed, _ = api.compile_graph(g, "loihi2")
    with pytest.raises(InputError, match="binary spikes"):
        FixedEngine(fixed).run({"input": np.full((1, 3, 64), 0.5)})


def test_input_beyond_int32_after_shift_stops_with_the_population_named() -> None:
    """Lava computes a << 6 in int32 and would wrap silently; the engine refuses instead.
    1100 inputs x 254 x 2^7 x 64 > 2^31. A quantized model never gets there."""
    from snnc.runtime.fixed_engine import FixedRunError

    from tests.fixed_strategies import int32_overflow_graph

    g = int32_overflow_graph()
    n_in = g.inputs["in"].size
    eng = FixedEngine(g)
    assert eng.unsafe == {"big"}
    with pytest.raises(FixedRunError, match="population 'big'.*int32"):
        eng.run({"in": np.ones((1, 3, n_in), dtype=np.int64)})
    quiet = eng.run({"in": np.zeros((1, 3, n_in), dtype=np.int64)})  # no spikes: no overflow
    assert quiet.outputs["out"].sum() == 0
