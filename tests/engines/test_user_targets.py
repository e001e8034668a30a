"""The target file decides the arithmetic, not code constants.

Three user targets change format facts (a 16-bit Loihi state with act_shift 4; 4-bit Tianjic
weights with a 24-bit accumulator; the refsim target with delay_max 15). Random float networks
are compiled for each through the whole pipeline, and then

* the quantizer's integers are inside each format, checked against the facts read straight
  from the target file (not through compiler/fixed.py);
* the fixed-point engine, the reference simulator running the emitted core map, and a naive
  Python-int loop that reads the facts (tests/naive_fixed.py) agree on every u, v and spike.

And changing one fact changes what every engine computes, each still equal to the naive loop.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snnc import api
from snnc.backends.refsim import program
from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Port, Projection, ResetMode
from snnc.compiler.passes import PassContext
from snnc.compiler.pipeline import CompileOptions
from snnc.compiler.passes.partition import partition
from snnc.compiler.passes.place import PlaceOptions, place
from snnc.compiler.passes.route import route
from snnc.compiler.targets import TargetSpec, load_target
from snnc.compiler.verify_fixed import validate_fixed
from snnc.runtime.fixed_engine import FixedEngine
from snnc.runtime.refsim import RefSim

from tests.conftest import assert_same_traces
from tests.fixed_strategies import fixed_meta, spike_inputs
from tests.naive_fixed import naive

N_RANDOM = 40  # random networks per user target

USER_TARGETS = {
    "loihi_state16": '''name = "loihi_state16"
extends = "loihi2"
emit = ["refsim"]   # Lava computes with 24 bits; this chip does not
[format]
state_bits = { value = 16, source = "test: a narrower state" }
act_shift = { value = 4, source = "test: a smaller input shift" }
''',
    "tianjic_w4_acc24": '''name = "tianjic_w4_acc24"
extends = "tianjic"
[format]
weight_bits = { value = 4, source = "test: 4-bit synapses" }
weight_min = { value = -8, source = "test: int4" }
weight_max = { value = 7, source = "test: int4" }
accumulator_bits = { value = 24, source = "test: a 24-bit dendrite accumulator" }
''',
    "refsim_delay15": '''name = "refsim_delay15"
extends = "refsim"
[format]
delay_max = { value = 15, source = "test: a 4-bit delay field" }
[core]
neurons = { value = 4, source = "test: tiny cores force splitting" }
in_axons = { value = 8, source = "test: tiny cores force dendrite splits" }
''',
}


@pytest.fixture(scope="module")
def user_targets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TargetSpec]:
    d = tmp_path_factory.mktemp("targets")
    out = {}
    for name, text in USER_TARGETS.items():
        (d / f"{name}.toml").write_text(text)
        out[name] = load_target(str(d / f"{name}.toml"))
    return out


@st.composite
def float_networks(draw, t: TargetSpec) -> Graph:  # type: ignore[no-untyped-def]
    """A random float network the target can hold after lowering: LIF, CUBA-LIF, IF and a
    non-spiking readout sometimes; biases, recurrence, delays up to 20 (beyond 15 on purpose)."""
    ar = t.arith
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_in = draw(st.integers(1, 6))
    n_pops = draw(st.integers(1, 3))
    models = [NeuronModel.LIF, NeuronModel.CUBA_LIF, NeuronModel.IF]
    resets = [ResetMode(r) for r in ar.resets] + [ResetMode.SUBTRACT,
                                                  ResetMode.DELAYED_SUBTRACT]
    pops = []
    for i in range(n_pops):
        n = draw(st.integers(1, 6))
        model = draw(st.sampled_from(models))
        if i == n_pops - 1 and draw(st.booleans()):
            model = NeuronModel.LI
        kw: dict[str, object] = {}
        if model is not NeuronModel.IF:
            kw["dv"] = draw(st.sampled_from([0.0, 0.05, 0.3, 1.0]))
        if model is NeuronModel.CUBA_LIF:
            kw["du"] = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
            kw["i_bias"] = rng.uniform(-0.3, 0.3, n) * draw(st.booleans())
        if model is not NeuronModel.LI:
            # reset by subtraction: native, or lowered on zero-reset targets (IF/LIF only)
            ok = [r for r in resets if r.value in ar.resets or model is not NeuronModel.CUBA_LIF]
            reset = draw(st.sampled_from(ok))
            kw["v_th"] = rng.uniform(0.3, 2.0, n)
            kw["reset"] = reset
            if reset is ResetMode.ZERO and ar.param_ranges()["v_reset"] != (0, 0):
                kw["v_reset"] = rng.uniform(-0.5, 0.3, n)
            if reset is not ResetMode.DELAYED_SUBTRACT:
                kw["refractory"] = draw(st.integers(0, min(3, ar.refractory_max)))
        kw["bias"] = rng.uniform(-0.2, 0.4, n) * draw(st.booleans())
        kw["onset"] = draw(st.integers(0, 3))
        pops.append(Population.make(f"p{i}", (n,), model, **kw))
    srcs = ["in"] + [p.name for p in pops]
    sizes = {"in": n_in, **{p.name: p.size for p in pops}}
    projs = []
    for i, p in enumerate(pops):
        choices = [srcs[i]] + draw(st.lists(st.sampled_from(srcs), max_size=2, unique=True))
        for j, s in enumerate(dict.fromkeys(choices)):
            w = rng.uniform(-1.0, 1.0, (p.size, sizes[s])) * (rng.random((p.size, sizes[s]))
                                                               < 0.8)
            d = (rng.integers(0, 21, w.shape) if draw(st.booleans())
                 else np.zeros(w.shape, dtype=np.int64))
            projs.append(Projection(name=f"{s}>{p.name}.{j}", src=s, dst=p.name,
                                    kind=Conn.DENSE, weight=w, delay=d))
    out = Port(name="out", shape=(pops[-1].size,), source=pops[-1].name)
    return Graph.build(pops, projs, [Port(name="in", shape=(n_in,))], [out])


def assert_inside_format(g: Graph, t: TargetSpec) -> None:
    """Every integer of the fixed IR within the widths the target file states."""
    f = {k.split(".", 1)[1]: v.value for k, v in t.facts.items() if k.startswith("format.")}
    loihi = t.semantics == "loihi"
    for name, p in g.projections.items():
        w = p.weight
        assert np.all(w == np.round(w)), name
        assert f["weight_min"] <= w.min(initial=0) and w.max(initial=0) <= f["weight_max"], name
        assert f["weight_exp_min"] <= p.weight_exp <= f["weight_exp_max"], name
        assert 1 <= p.weight_bits <= f["weight_bits"], name
        if loihi:  # mixed-sign grid: multiples of 2^(weight_bits - bits + 1)
            assert np.all(w % 2 ** (f["weight_bits"] - p.weight_bits + 1) == 0), name
        assert p.max_delay <= f["delay_max"], name
    half = 2 ** (f["state_bits"] - 1)
    for name, p in g.populations.items():
        if loihi:
            assert ((0 <= p.du) & (p.du < 2 ** f["decay_bits"])).all(), name
            assert ((0 <= p.dv) & (p.dv < 2 ** f["decay_bits"])).all(), name
            assert ((0 <= p.v_th) & (p.v_th < 2 ** f["vth_bits"])).all(), name
            mant_max = 2 ** (f["bias_mant_bits"] - 1) - 1
            ok = [any(b % 2**e == 0 and abs(b) // 2**e <= mant_max
                      for e in range(2 ** f["bias_exp_bits"])) for b in p.bias.astype(int)]
            assert all(ok), name
            assert not p.i_bias.any() and not p.v_reset.any() and p.refractory == 0
        else:
            assert ((0 <= p.du) & (p.du <= 2 ** f["decay_bits"])).all(), name
            assert ((0 <= p.dv) & (p.dv <= 2 ** f["decay_bits"])).all(), name
            for what in ("v_th", "bias", "i_bias", "v_reset"):
                a = getattr(p, what)
                assert ((-half <= a) & (a < half)).all(), (name, what)
            assert p.refractory <= f["refractory_max"]


def run_three(g: Graph, c, x: dict[str, np.ndarray], steps: int) -> int:  # type: ignore[no-untyped-def]
    """fixed engine == naive loop == refsim on the emitted core map, every trace; returns the
    number of spikes."""
    fixed = FixedEngine(g).run(x, steps=steps, trace=True)
    want = naive(g, x, steps)
    got = {k: v for k, v in fixed.traces.items()}
    for k in got:
        np.testing.assert_array_equal(got[k], want[k], err_msg=f"fixed engine vs naive: {k}")
    sim = RefSim(program(g, c.coremap, c.target)).run(x, steps=steps, trace=True)
    assert_same_traces(fixed.traces, sim.traces, "refsim")
    return int(sum(v.sum() for k, v in fixed.traces.items() if k.startswith("s:")))


@pytest.mark.parametrize("name", sorted(USER_TARGETS))
def test_random_networks_compile_inside_the_format_and_run_bit_exactly(
        name: str, user_targets: dict[str, TargetSpec]) -> None:
    t = user_targets[name]
    seen = {"examples": 0, "spikes": 0, "relays": 0, "split": 0}

    @settings(max_examples=N_RANDOM, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        g = data.draw(float_networks(t))
        # format and engines are under test here, not range: random weights often have a
        # worst case beyond the state (refused by default; tests/passes/test_headroom.py)
        c = api.compile(g, t, CompileOptions.of(allow_overflow=True))
        assert c.fixed.meta["arithmetic"] == t.arith.to_json()
        assert_inside_format(c.fixed, t)
        steps = data.draw(st.integers(1, 12))
        x = data.draw(spike_inputs(c.fixed, steps))
        spikes = run_three(c.fixed, c, x, steps + 24)
        seen["examples"] += 1
        seen["spikes"] += spikes
        seen["relays"] += "lower_delays" in c.fixed.meta
        seen["split"] += c.coremap.n_cores > 1

    check()
    # the random cases did exercise the format: spikes, and (delay target) relays and splits
    assert seen["examples"] >= N_RANDOM // 2 and seen["spikes"] > 0, seen
    if name == "refsim_delay15":
        assert seen["relays"] > 0 and seen["split"] > 0, seen


def test_the_delay_target_lowers_only_delays_beyond_15(user_targets: dict[str, TargetSpec]
                                                       ) -> None:
    """delay_max 15 (not Lava's 62) decides which delays become relay chains."""
    t = user_targets["refsim_delay15"]
    p = Population.make("h", (2,), NeuronModel.LIF, dv=0.1, v_th=1.0)
    w = Projection(name="w", src="in", dst="h", kind=Conn.DENSE, weight=np.ones((2, 3)),
                   delay=np.array([[0, 15, 16], [3, 20, 1]]))
    g = Graph.build([p], [w], [Port(name="in", shape=(3,))],
                    [Port(name="out", shape=(2,), source="h")])
    low = api.compile(g, t).fixed
    assert low.meta["lower_delays"]["delay_max"] == 15
    assert low.meta["lower_delays"]["chains"] == {"in": 20 - 15}
    assert max(p.max_delay for p in low.projections.values()) == 15
    loihi2 = api.compile(g, "loihi2").fixed
    assert "lower_delays" not in loihi2.meta  # 20 <= 62: nothing to lower on loihi2


# --- one fact changed, everything changes with it


def _one_neuron(weight: float, n_in: int, du: float, dv: float, vth: float, model: NeuronModel
                ) -> Graph:
    pop = Population.make("h", (1,), model, du=du, dv=dv, v_th=vth)
    proj = Projection(name="w", src="in", dst="h", kind=Conn.DENSE,
                      weight=np.full((1, n_in), weight), delay=np.zeros((1, n_in), dtype=np.int64),
                      weight_exp=0, weight_bits=8)
    return Graph.build([pop], [proj], [Port(name="in", shape=(n_in,))],
                       [Port(name="out", shape=(1,), source="h")])


def _variant(base: str, facts: dict[str, object], tmp: Path) -> TargetSpec:
    body = "\n".join(f'{k.split(".")[1]} = {{ value = {v}, source = "test" }}'
                     for k, v in facts.items())
    path = tmp / f"{base}_{abs(hash(tuple(facts.items())))}.toml"
    path.write_text(f'extends = "{base}"\nemit = ["refsim"]\n[format]\n{body}\n')
    return load_target(str(path))


@pytest.mark.parametrize("base,facts,integers", [
    # u wraps at 2^15 instead of 2^23: 40 inputs of 254 << 6 = 650240 > 2^15
    ("loihi2", {"format.state_bits": 16}, (254.0, 40, 4095.0, 0.0, 1000.0, "cuba_lif")),
    # input << 4 instead of << 6
    ("loihi2", {"format.act_shift": 4}, (254.0, 3, 4095.0, 100.0, 1000.0, "lif")),
    # decay registers of 8 bits: dv = 100 decays by 100/256, not 100/4096
    ("loihi2", {"format.decay_bits": 8}, (2.0, 3, 200.0, 100.0, 1000.0, "cuba_lif")),
    # a 12-bit accumulator saturates 600 x 7 = 4200 at 2047
    ("tianjic", {"format.accumulator_bits": 12}, (7.0, 600, 0.0, 200.0, 10**6, "lif")),
    # alpha in 0..2^4: 200 is out of range there, so use 12 of 16
    ("tianjic", {"format.decay_bits": 4}, (7.0, 20, 0.0, 12.0, 10**6, "lif")),
])
def test_a_changed_fact_changes_every_engine(base: str, facts: dict[str, object],
                                             integers: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    w, n_in, du, dv, vth, model = integers
    g = _one_neuron(w, n_in, du, dv, vth, NeuronModel(model))
    x = {"in": np.ones((1, 6, n_in), dtype=np.int64)}
    results = []
    for t in (load_target(base), _variant(base, facts, tmp_path)):
        fixed = validate_fixed(g.with_meta(**fixed_meta(t)), t)
        ctx = PassContext(t)
        cm = route(place(partition(fixed, ctx), ctx, PlaceOptions()), ctx)
        engine = FixedEngine(fixed).run(x, steps=6, trace=True).traces
        chip = RefSim(program(fixed, cm, t)).run(x, steps=6, trace=True).traces
        want = naive(fixed, x, 6)
        for k in engine:
            np.testing.assert_array_equal(engine[k], want[k], err_msg=f"{t.name} engine {k}")
            np.testing.assert_array_equal(chip[k], want[k], err_msg=f"{t.name} refsim {k}")
        results.append(engine)
    assert any(not np.array_equal(results[0][k], results[1][k]) for k in results[0]), (
        f"changing {facts} changed nothing")
