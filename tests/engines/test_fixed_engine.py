"""The fixed-point engine against a deliberately naive per-neuron, per-synapse Python-int loop
written from docs/semantics.md (tests/naive_fixed.py), on random networks."""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snnc import api
from snnc.compiler.errors import InputError, SnncError
from snnc.runtime.fixed_engine import FixedEngine

from tests.fixed_strategies import loihi_networks, spike_inputs, tianjic_from
from tests.naive_fixed import naive


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
    want = naive(g, x, steps + 2)
    for k in sorted(got):
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


def test_engine_is_vectorized_over_the_batch(rng) -> None:  # type: ignore[no-untyped-def]
    """A batch of 5 gives what 5 single runs give."""
    fixed = api.compile(api.load("snnc/models/digits.nir"), "loihi2", until="fixed").fixed
    x = (rng.random((5, 10, 64)) < 0.3).astype(np.int64)
    both = FixedEngine(fixed).run({"input": x}, steps=12).outputs["output"]
    for b in range(5):
        one = FixedEngine(fixed).run({"input": x[b:b + 1]}, steps=12).outputs["output"]
        np.testing.assert_array_equal(both[b], one[0])


def test_fixed_engine_refuses_float_graphs_and_graded_input() -> None:
    g = api.load("snnc/models/digits.nir")
    with pytest.raises(SnncError, match="compile the model first"):
        FixedEngine(g)
    fixed = api.compile(g, "loihi2", until="fixed").fixed
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
