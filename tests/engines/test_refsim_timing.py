"""Cycle counts of the refsim timing model on cases small enough to count by hand.

Target: refsim with 1-cycle synaptic ops, neuron updates, spikes and hops, one packet per link
per cycle (compiler/targets/refsim.toml). Inputs spike at step 0 and arrive at step 1, so
step 1 is the step worked out in each docstring.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from snnc import api
from snnc.backends.refsim import program
from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Port, Projection
from snnc.compiler.passes import PassContext
from snnc.compiler.passes.partition import partition
from snnc.compiler.passes.place import PlaceOptions, place
from snnc.compiler.passes.route import route
from snnc.compiler.targets import load_target
from snnc.runtime.refsim import RefSim


def target(neurons: int, mesh: list[int]):  # type: ignore[no-untyped-def]
    f = {"core.neurons": neurons, "chip.mesh": mesh, "chip.cores": mesh[0] * mesh[1]}
    return load_target("refsim").with_facts(f, "test")


def graph(pops: dict[str, int], edges: list[tuple[str, str, np.ndarray]], n_in: int) -> Graph:
    ps = [Population.make(k, (n,), NeuronModel.LIF, dv=0.0, v_th=0.5) for k, n in pops.items()]
    projs = [Projection(name=f"{s}>{d}", src=s, dst=d, kind=Conn.DENSE, weight=w,
                        delay=np.zeros(w.shape, dtype=np.int64)) for s, d, w in edges]
    last = list(pops)[-1]
    return Graph.build(ps, projs, [Port(name="in", shape=(n_in,))],
                       [Port(name="out", shape=(pops[last],), source=last)])


def run(g: Graph, t, slots: dict[str, tuple[int, int]] | None = None):  # type: ignore[no-untyped-def]
    fixed = api.compile(g, "refsim", until="fixed").fixed
    ctx = PassContext(t)
    cm = place(partition(fixed, ctx), ctx, PlaceOptions("sequential"))
    if slots is not None:  # put each population's core where the test says
        home = cm.neuron_core()
        x, y = cm.x.copy(), cm.y.copy()
        for name, (cx, cy) in slots.items():
            c = home[cm.ids.offset[name]]
            x[c], y[c] = cx, cy
        cm = cm.with_(x=x, y=y)
    cm = route(cm, ctx)
    x_in = np.zeros((1, 3, g.inputs["in"].size), dtype=np.int64)
    x_in[0, 0] = 1
    res = RefSim(program(fixed, cm, t)).run({"in": x_in}, counters=True)
    return res, cm


def test_one_core_by_hand() -> None:
    """2 inputs -> 3 neurons, all-to-all, one core. Step 0: nothing arrives; 3 updates = 3.
    Step 1: 2 x 3 = 6 synaptic ops, 3 updates, all 3 fire and send: 6 + 3 + 3 = 12."""
    g = graph({"h": 3}, [("in", "h", np.ones((3, 2)))], 2)
    res, cm = run(g, target(1024, [2, 2]))
    assert cm.n_cores == 1
    np.testing.assert_array_equal(res.counters["latency_cycles"][:2, 0], [3, 12])
    assert res.counters["synops"][0] == 6  # counted when sent (step 0)
    assert res.counters["spikes"][1] == 3 and res.counters["packets"][1] == 0
    assert res.counters["layer_spikes"][1].tolist() == [3]
    assert res.counters["layer_synops"][0].tolist() == [6]
    assert res.counters["core_synops"][0].tolist() == [6]


def test_two_core_chain_by_hand() -> None:
    """in -> a -> b, one neuron per core, a at (0, 0) and b at (1, 0). Step 1: core a does
    1 synaptic op (1), updates (2), and its spike leaves at 3. It crosses one hop and arrives
    at 4. Core b only updates (1). Latency 4, and a is the critical core (done at 3)."""
    g = graph({"a": 1, "b": 1}, [("in", "a", np.ones((1, 1))), ("a", "b", np.ones((1, 1)))], 1)
    res, cm = run(g, target(1, [2, 2]), {"a": (0, 0), "b": (1, 0)})
    assert res.counters["latency_cycles"][1, 0] == 4
    assert res.counters["critical_core"][1, 0] == cm.neuron_core()[cm.ids.offset["a"]]
    assert res.counters["hops"][1] == 1 and res.counters["packets"][1] == 1
    assert res.counters["latency_seconds"][1, 0] == 4 / 1e9


def test_two_sources_contend_for_one_link_by_hand() -> None:
    """a at (0, 0) and b at (1, 0) both send to c at (1, 1). a: 1 op, update, spike leaves
    at 3, east hop arrives at (1, 0) at 4, then wants the north link at 4. b: 2 ops, update,
    spike leaves at 4 and wants the same north link at 4. a claims it first (lower core),
    arrives at 5; b waits until 5 and arrives at 6 (5 without contention). Latency 6."""
    g = graph({"a": 1, "b": 1, "c": 1},
              [("in", "a", np.array([[1.0, 0.0, 0.0]])),
               ("in", "b", np.array([[0.0, 1.0, 1.0]])),
               ("a", "c", np.ones((1, 1))), ("b", "c", np.ones((1, 1)))], 3)
    res, cm = run(g, target(1, [2, 2]), {"a": (0, 0), "b": (1, 0), "c": (1, 1)})
    assert cm.neuron_core()[cm.ids.offset["a"]] < cm.neuron_core()[cm.ids.offset["b"]]
    assert res.counters["latency_cycles"][1, 0] == 6
    north = res.counters["link_packets"][0, 1, 2]  # the link leaving (1, 0) northwards
    assert north == 2


def test_tianjic_budget_is_reported(rng) -> None:  # type: ignore[no-untyped-def]
    c = api.compile(api.load(str(api.__file__).replace("api.py", "models/digits.nir")),
                    "tianjic")
    x = (rng.random((2, 6, 64)) < 0.3).astype(np.int64)
    res = RefSim(program(c.fixed, c.coremap, c.target)).run({"input": x}, counters=True)
    assert res.counters["fits_budget"].shape == (6, 2) and res.counters["fits_budget"].all()
    assert (res.counters["latency_cycles"] > 0).all()


def test_layer_synops_of_an_entry_into_two_layers_by_hand() -> None:
    """One input channel feeds 3 neurons of `a` and 2 of `b` on one core (one axon entry
    whose synapses reach two layers, counted per synapse), the other only `a` (counted once
    per entry): step 0 sends 2 x 3 + 1 x 2 = 8 synaptic ops, 6 into a and 2 into b."""
    w_b = np.array([[1.0, 0.0], [1.0, 0.0]])  # b hears input 0 only
    g = graph({"a": 3, "b": 2}, [("in", "a", np.ones((3, 2))), ("in", "b", w_b)], 2)
    res, cm = run(g, target(1024, [2, 2]))
    assert cm.n_cores == 1
    assert res.counters["synops"][0] == 8
    assert res.counters["layer_synops"][0].tolist() == [6, 2]


@settings(max_examples=200, deadline=None)
@given(w=st.integers(1, 6), h=st.integers(1, 6), data=st.data())
def test_a_tree_to_one_destination_is_its_xy_path(w: int, h: int, data: st.DataObject) -> None:
    """step_latency sends a spike with one destination core along _walk instead of _tree:
    the same hops in the same order, so the same arrival, link times and link counts, also
    on links that are already busy."""
    from snnc.runtime.refsim_timing import _tree, _walk

    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    gx, gy = rng.integers(0, w, 3), rng.integers(0, h, 3)  # core 0 sends to core 1
    busy = rng.integers(0, 5, w * h * 4).astype(np.float64) * (rng.random(w * h * 4) < 0.5)
    lat = rng.integers(1, 4, 4).astype(np.float64)
    t0, occ = float(rng.integers(0, 4)), float(rng.integers(1, 3))
    free_t, count_t = busy.copy(), np.zeros(w * h * 4, dtype=np.int64)
    free_w, count_w = busy.copy(), np.zeros(w * h * 4, dtype=np.int64)
    tree = _tree(gx[0], gy[0], t0, np.array([1]), gx, gy, w, free_t, lat, occ, count_t,
                 np.empty(w))
    walk = _walk(gx[0], gy[0], gx[1], gy[1], t0, w, free_w, lat, occ, count_w)
    assert tree == walk
    np.testing.assert_array_equal(free_t, free_w)
    np.testing.assert_array_equal(count_t, count_w)
    assert count_w.sum() == abs(int(gx[1]) - int(gx[0])) + abs(int(gy[1]) - int(gy[0]))
