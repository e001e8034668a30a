"""lower_delays: relay chains replace delays the target cannot hold, without changing a single
integer of any original population's trace (differential, on random networks)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snnc import api
from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Port, Projection
from snnc.compiler.passes import PassContext
from snnc.compiler.passes.lower_delays import lower_delays
from snnc.compiler.targets import load_target
from snnc.compiler.verify_fixed import validate_fixed
from snnc.frontends.text import parse_ir, print_ir
from snnc.runtime.fixed_engine import FixedEngine

from tests.fixed_strategies import TIANJIC as TIANJIC_WIDE
from tests.fixed_strategies import loihi_networks, spike_inputs, tianjic_from

TIANJIC = load_target("tianjic")


def with_delay_max(name: str, dmax: int) -> PassContext:
    return PassContext(load_target(name).with_facts({"format.delay_max": dmax}, "test"))


def same_traces(g: Graph, lowered: Graph, steps: int, x: dict[str, np.ndarray]) -> None:
    a = FixedEngine(g).run(x, steps=steps, trace=True).traces
    b = FixedEngine(lowered).run(x, steps=steps, trace=True).traces
    for k in sorted(a):
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_loihi_delays_beyond_the_maximum_become_relays(data: st.DataObject) -> None:
    g = data.draw(loihi_networks(max_n=6, max_delay=9))
    dmax = data.draw(st.sampled_from([0, 2, 5]))
    low = lower_delays(g, with_delay_max("loihi2", dmax))
    assert all(p.max_delay <= dmax for p in low.projections.values())
    steps = data.draw(st.integers(1, 15))
    same_traces(g, low, steps + 12, data.draw(spike_inputs(g, steps)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_tianjic_delays_become_relays(data: st.DataObject) -> None:
    g = tianjic_from(data.draw(loihi_networks(max_n=6, max_delay=9)), data)
    low = lower_delays(g, PassContext(TIANJIC_WIDE))
    assert all(p.max_delay == 0 for p in low.projections.values())
    steps = data.draw(st.integers(1, 15))
    same_traces(g, low, steps + 12, data.draw(spike_inputs(g, steps)))


def test_relay_chain_by_hand() -> None:
    """in -> h with delays 0 and 2: one chain of 2 levels x 2 inputs, the delayed synapse
    leaves level 1 with delay 0; the delay-0 synapse stays where it was."""
    p = Population.make("h", (1,), NeuronModel.LIF, dv=0.0, v_th=1000.0)
    w = Projection(name="w", src="in", dst="h", kind=Conn.DENSE, weight=np.array([[3.0, 5.0]]),
                   delay=np.array([[0, 2]]))
    g = Graph.build([p], [w], [Port(name="in", shape=(2,))],
                    [Port(name="out", shape=(1,), source="h")])
    fixed = api.compile(g, "tianjic", until="fixed").fixed
    assert set(fixed.populations) == {"h", "in.delay"}
    assert fixed.populations["in.delay"].shape == (2, 2)
    assert fixed.meta["lower_delays"]["relay_neurons"] == 4
    d2 = fixed.projections["w.d2"]
    assert d2.src == "in.delay" and list(d2.indices) == [2 + 1] and list(d2.delay) == [0]
    assert list(fixed.projections["w"].indices) == [0]
    chain = fixed.projections["in.delay.chain"]
    assert list(chain.indices) == [0, 1] and list(np.diff(chain.indptr)) == [0, 0, 1, 1]
    validate_fixed(fixed, TIANJIC)
    assert parse_ir(print_ir(fixed)) == fixed  # the lowered IR prints and parses losslessly
    # the spike at step 0 on input 1 reaches h's potential at step 3 = 0 + 1 + 2
    x = {"in": np.zeros((1, 6, 2), dtype=np.int64)}
    x["in"][0, 0, 1] = 1
    v = FixedEngine(fixed).run(x, steps=6, trace=True).traces["v:h"][0, :, 0]
    assert (v[:3] == 0).all() and v[3] == fixed.projections["w.d2"].weight[0]
