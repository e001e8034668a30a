"""Wrap and saturation counters on hand-built networks whose counts are worked out by hand,
equal in the fixed-point engine and on the simulated chip (refsim), and in the CLI."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from snnc.backends.refsim import program
from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Port, Projection
from snnc.compiler.passes import PassContext
from snnc.compiler.passes.partition import partition
from snnc.compiler.passes.place import PlaceOptions, place
from snnc.compiler.passes.route import route
from snnc.compiler.targets import TargetSpec, load_target
from snnc.runtime.fixed_engine import FixedEngine
from snnc.runtime.refsim import RefSim

from tests.fixed_strategies import fixed_meta

STEPS = 5
INPUT_STEPS = 3  # every input fires at steps 0, 1, 2; its weights land at steps 1, 2, 3


def loihi_net() -> tuple[Graph, TargetSpec]:
    """Nine inputs of weight 254 at weight_exp 6 into one neuron that keeps no current
    (du = 4095 + offset 1 = U) and loses no voltage (dv = 0), threshold out of reach:

      a = 9 x 254 x 2^6 = 146,304;  a << 6 = 9,363,456 > 2^23 = 8,388,608: u wraps to
      9,363,456 - 2^24 = -7,413,760 at steps 1, 2, 3                       -> 3 wraps
      v: step 1 -7,413,760 (inside); step 2 -14,827,520 and step 3 -15,802,367 clip to
      -(2^23 - 1)                                                          -> 2 saturations
      step 4: u = 0, v stays at -(2^23 - 1), which is no saturation.
    A second neuron fed by one input never leaves its range: 0 and 0."""
    t = load_target("loihi2")
    pop = replace(Population.make("n", (2,), NeuronModel.LIF, v_th=100.0),
                  du=np.full(2, 4095.0), dv=np.zeros(2), v_th=np.full(2, 100_000.0))
    w = np.zeros((2, 10))
    w[0, :9] = 254.0
    w[1, 9] = 254.0
    proj = Projection(name="w", src="in", dst="n", kind=Conn.DENSE, weight=w,
                      delay=np.zeros(w.shape, dtype=np.int64), weight_exp=6, weight_bits=8)
    g = Graph.build([pop], [proj], [Port(name="in", shape=(10,))],
                    [Port(name="out", shape=(2,), source="n")], meta=fixed_meta(t))
    return g, t


def tianjic_net() -> tuple[Graph, TargetSpec]:
    """Tianjic with a 12-bit dendrite accumulator (limit 2047): 17 inputs of weight 127 sum to
    2,159 and saturate to 2,047 at steps 1, 2, 3 -> 3 saturations; v = 3 x 2,047 stays far
    inside 28 bits and below the threshold."""
    t = load_target("tianjic").with_facts({"format.accumulator_bits": 12}, "test: narrow")
    pop = replace(Population.make("n", (1,), NeuronModel.LIF, v_th=100.0),
                  du=np.zeros(1), dv=np.full(1, 4096.0), v_th=np.full(1, 1e6))
    proj = Projection(name="w", src="in", dst="n", kind=Conn.DENSE,
                      weight=np.full((1, 17), 127.0), delay=np.zeros((1, 17), dtype=np.int64),
                      weight_exp=0, weight_bits=8)
    g = Graph.build([pop], [proj], [Port(name="in", shape=(17,))],
                    [Port(name="out", shape=(1,), source="n")], meta=fixed_meta(t))
    return g, t


def run_both(g: Graph, t: TargetSpec, batch: int) -> list[dict[str, np.ndarray]]:
    n_in = g.inputs["in"].size
    x = np.zeros((batch, STEPS, n_in), dtype=np.int64)
    x[0, :INPUT_STEPS] = 1  # sample 0 gets the inputs; any other sample stays silent
    ctx = PassContext(t)
    sim = RefSim(program(g, route(place(partition(g, ctx), ctx, PlaceOptions()), ctx), t))
    return [FixedEngine(g).run({"in": x}, steps=STEPS).counters,
            sim.run({"in": x}, steps=STEPS).counters]


@pytest.mark.parametrize("batch", [1, 3])
def test_loihi_wraps_and_saturations_counted_by_hand(batch: int) -> None:
    g, t = loihi_net()
    for c in run_both(g, t, batch):
        assert c["layer_wraps"].tolist() == [3] and c["layer_saturations"].tolist() == [2]
        assert c["sample_wraps"].tolist() == [3] + [0] * (batch - 1)
        assert c["sample_saturations"].tolist() == [2] + [0] * (batch - 1)


@pytest.mark.parametrize("batch", [1, 3])
def test_tianjic_accumulator_saturations_counted_by_hand(batch: int) -> None:
    g, t = tianjic_net()
    for c in run_both(g, t, batch):
        assert c["layer_wraps"].tolist() == [0] and c["layer_saturations"].tolist() == [3]
        assert c["sample_saturations"].tolist() == [3] + [0] * (batch - 1)


def test_the_loihi_neuron_really_wrapped() -> None:
    """The traces the counts describe: u negative where the float model's would be
    positive, v pinned at the bottom of its range."""
    g, _ = loihi_net()
    x = np.zeros((1, STEPS, 10), dtype=np.int64)
    x[0, :INPUT_STEPS] = 1
    tr = FixedEngine(g).run({"in": x}, steps=STEPS, trace=True).traces
    assert tr["u:n"][0, 1:4, 0].tolist() == [-7_413_760] * 3
    assert tr["v:n"][0, 1:, 0].tolist() == [-7_413_760] + [-(2**23 - 1)] * 3
