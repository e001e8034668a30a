"""The reference simulator runs the emitted core map bit-exactly: every traced u, v and spike
equals the fixed-point engine's on the original (un-mapped, un-lowered) fixed IR."""

from __future__ import annotations

from dataclasses import replace

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snnc import api
from snnc.backends.refsim import program
from snnc.compiler.coremap import PARTIAL, SOMA
from snnc.compiler.passes import PassContext
from snnc.compiler.passes.lower_delays import lower_delays
from snnc.compiler.passes.partition import partition
from snnc.compiler.passes.place import PlaceOptions, place
from snnc.compiler.passes.route import route
from snnc.compiler.targets import TargetSpec, load_target
from snnc.compiler.verify_fixed import validate_fixed
from snnc.compiler.verify_mapped import verify_coremap
from snnc.runtime.fixed_engine import FixedEngine
from snnc.runtime.refsim import RefSim

from tests.conftest import NETX_FILES, NIR_FILES, assert_same_traces, shared_file
from tests.fixed_strategies import loihi_networks, spike_inputs, tianjic_from

N_RANDOM = 60  # per arithmetic: 120 random networks per run


def tiny_target(base: str, delay_max: int) -> TargetSpec:
    """Cores of 3 neurons, 8 axons and 32 8-bit synapses; chips of 2 cores: random networks
    of a few neurons split into cores, dendrites and chips."""
    small = {"core.neurons": 3, "core.in_axons": 8, "core.out_axons": 64,
             "core.synapse_memory_bits": 256, "chip.cores": 2, "chip.mesh": [2, 1],
             "format.delay_max": delay_max, "format.weight_exp_min": -8,
             "format.weight_exp_max": 7}
    return load_target(base).with_facts(small, "test")


TINY_LOIHI, TINY_TIANJIC = tiny_target("loihi2", 2), tiny_target("tianjic", 0)


def map_and_compare(g, t: TargetSpec, x: dict[str, np.ndarray], steps: int,  # type: ignore[no-untyped-def]
                    placer: str = "anneal"):
    ctx = PassContext(t)
    low = validate_fixed(lower_delays(g, ctx), t)
    cm = partition(low, ctx)
    for p in (lambda m: place(m, ctx, PlaceOptions(placer, seed=1)), lambda m: route(m, ctx)):
        cm = verify_coremap(p(cm), t)
    sim = RefSim(program(low, cm, t))
    got = sim.run(x, steps=steps, trace=True, counters=True)
    want = FixedEngine(g).run(x, steps=steps, trace=True)
    assert_counts_match_traces(sim, got)
    relays = {k for k in got.traces if k.split(":", 1)[1] not in g.populations}
    assert all(".delay" in k for k in relays)  # only the relay populations are extra
    assert_same_traces(want.traces, {k: v for k, v in got.traces.items() if k not in relays},
                       "refsim")
    for k in want.outputs:
        np.testing.assert_array_equal(want.outputs[k], got.outputs[k])
    layer = {k: i for i, k in enumerate(got.layers)}  # refsim's layers include the relays
    for key in ("layer_wraps", "layer_saturations"):  # the same range events, per population
        mine = got.counters[key][[layer[k] for k in want.layers]]
        np.testing.assert_array_equal(want.counters[key], mine, err_msg=key)
    if sim.flat is not None:  # the vectorized Loihi soma ran: the general one agrees
        plain = RefSim(program(low, cm, t))
        plain.flat = None
        again = plain.run(x, steps=steps, trace=True, counters=True)
        for k, v in again.traces.items():
            np.testing.assert_array_equal(got.traces[k], v, err_msg=f"flat soma {k}")
        for k, v in again.counters.items():
            np.testing.assert_array_equal(got.counters[k], v, err_msg=f"flat soma {k}")
    if next(iter(x.values())).shape[0] == 1:  # batch 1 ran the serial kernels: the pooled
        two = {k: np.concatenate([v, v[:, ::-1]]) for k, v in x.items()}  # ones agree
        pooled = RefSim(program(low, cm, t))
        pooled.prefetch_min = 0  # (and delivery prefetching, as on a large table)
        both = pooled.run(two, steps=steps, trace=True)
        for k, v in got.traces.items():
            np.testing.assert_array_equal(both.traces[k][:1], v, err_msg=f"pooled {k}")
        split = RefSim(program(low, cm, t))  # and so does a sample split over the threads
        split.min_split = split.prefetch_min = 0
        parted = split.run(x, steps=steps, trace=True, counters=True)
        for k, v in got.traces.items():
            np.testing.assert_array_equal(parted.traces[k], v, err_msg=f"parts {k}")
        for k, v in got.counters.items():
            np.testing.assert_array_equal(parted.counters[k], v, err_msg=f"parts {k}")
        if (cm.kind == SOMA).sum() >= 2 and numba.get_num_threads() == 2:  # it did split
            assert split.parts(1).n == split.layout.n == 2
        # a whole sample per task over entries laid out for the split: each reads every part
        for k, v in split.run(two, steps=steps, trace=True).traces.items():
            np.testing.assert_array_equal(both.traces[k], v, err_msg=f"split layout {k}")
        wide = RefSim(program(low, cm, t))  # the same words and state in int64
        assert wide.layout.syn.dtype == wide.state_type == np.int32
        wide.layout = replace(wide.layout, syn=wide.layout.syn.astype(np.int64))
        wide.state_type = np.int64
        for k, v in wide.run(x, steps=steps, trace=True).traces.items():
            np.testing.assert_array_equal(got.traces[k], v, err_msg=f"int64 words {k}")
    return cm, low


def assert_counts_match_traces(sim: RefSim, got) -> None:  # type: ignore[no-untyped-def]
    """The spike counters (counted from each step's event list) equal a recount of the
    traced spikes: per sample and step, per home core and per layer."""
    batch, steps = got.counters["latency_cycles"].shape[::-1]
    s = np.zeros((batch, steps, sim.n), dtype=np.int64)
    for name, sl in sim.slices.items():
        if f"s:{name}" in got.traces:
            s[..., sl] = got.traces[f"s:{name}"]
    a = sim.a
    np.testing.assert_array_equal(got.counters["spikes"], s.sum(axis=(0, 2)))
    np.testing.assert_array_equal(got.counters["sample_spikes"], s.sum(axis=(1, 2)))
    for key, per in (("packets", "neuron.spike_packets"), ("hops", "neuron.spike_hops")):
        np.testing.assert_array_equal(got.counters[f"sample_{key}"], s.sum(axis=1) @ a[per])
        np.testing.assert_array_equal(got.counters[key], s.sum(axis=0) @ a[per])
    per_neuron = s.sum(axis=0)  # (steps, n)
    for key, of, m in (("core_spikes", a["neuron.home"], sim.nc),
                       ("layer_spikes", sim.layer_of, len(sim.pops))):
        want = np.stack([np.bincount(of, weights=r, minlength=m) for r in per_neuron])
        np.testing.assert_array_equal(got.counters[key], want, err_msg=key)


@settings(max_examples=N_RANDOM, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_loihi_networks_split_and_lowered(data: st.DataObject) -> None:
    g = data.draw(loihi_networks(max_pops=3, max_n=8, max_delay=6, target=TINY_LOIHI))
    steps = data.draw(st.integers(1, 14))
    x = data.draw(spike_inputs(g, steps))
    cm, low = map_and_compare(g, TINY_LOIHI, x, steps + 10,
                              data.draw(st.sampled_from(["anneal", "sequential", "metis"])))
    if low.n_neurons > 6:
        assert cm.meta["chips"] >= 2


@settings(max_examples=N_RANDOM, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_tianjic_networks_split_and_lowered(data: st.DataObject) -> None:
    g = tianjic_from(data.draw(loihi_networks(max_pops=3, max_n=8, max_delay=6)), data,
                     TINY_TIANJIC)
    steps = data.draw(st.integers(1, 14))
    x = data.draw(spike_inputs(g, steps))
    map_and_compare(g, TINY_TIANJIC, x, steps + 10)


def test_the_random_cases_do_force_every_kind_of_split(rng) -> None:  # type: ignore[no-untyped-def]
    """One fixed network: partial-sum cores, relay neurons and two chips at once."""
    from hypothesis import find

    def forces(g) -> bool:  # type: ignore[no-untyped-def]
        ctx = PassContext(TINY_LOIHI)
        low = lower_delays(g, ctx)
        cm = partition(low, ctx)
        return (bool((cm.kind == PARTIAL).any()) and "lower_delays" in low.meta
                and cm.n_cores > 2)

    g = find(loihi_networks(max_pops=3, max_n=8, max_delay=6, target=TINY_LOIHI), forces,
             settings=settings(database=None, max_examples=500))
    x = {"in": (rng.random((2, 10, g.inputs["in"].size)) < 0.5).astype(np.int64)}
    map_and_compare(g, TINY_LOIHI, x, 20)


@pytest.mark.parametrize("target", ["loihi2", "tianjic"])
@pytest.mark.parametrize("model", [*NIR_FILES, *NETX_FILES])
def test_real_models_bit_exact(model: str, target: str, rng) -> None:  # type: ignore[no-untyped-def]
    path = shared_file(f"nir/{model}.nir" if model in NIR_FILES else f"netx/{model}.net")
    c = api.compile(api.load(str(path)), target)
    fixed = c.fixed
    x = {k: (rng.random((2, 12, p.size)) < 0.3).astype(np.int64)
         for k, p in fixed.inputs.items()}
    got = RefSim(program(fixed, c.coremap, c.target)).run(x, steps=16, trace=True,
                                                          counters=True)
    want = FixedEngine(fixed).run(x, steps=16, trace=True)
    assert_same_traces(want.traces, got.traces, "refsim")
    assert got.counters["spikes"].sum() > 0


def test_input_beyond_int32_stops_with_the_population_named() -> None:
    """As the fixed engine: the input << 6 leaves int32, where Lava would wrap."""
    from snnc.runtime.refsim import RefSimError

    from tests.fixed_strategies import int32_overflow_graph

    g, t = int32_overflow_graph(), load_target("loihi2")
    ctx = PassContext(t)
    sim = RefSim(program(g, route(place(partition(g, ctx), ctx, PlaceOptions()), ctx), t))
    n_in = g.inputs["in"].size
    with pytest.raises(RefSimError, match="population 'big'.*int32"):
        sim.run({"in": np.ones((1, 3, n_in), dtype=np.int64)})
    assert sim.run({"in": np.zeros((1, 3, n_in), dtype=np.int64)}).outputs["out"].sum() == 0


def test_accumulators_are_int32_only_where_no_step_can_leave_it() -> None:
    """A slot whose synapses can sum to 2^31 in one step gets int64 accumulators."""
    from snnc.runtime.refsim import accumulator_type

    w = np.full(70000, 32767, dtype=np.int16)  # 70000 * 32767 >= 2^31
    assert accumulator_type(np.zeros(70000, dtype=np.int32), w, 2) is np.int64
    assert accumulator_type(np.arange(70000, dtype=np.int32) % 2, w, 2) is np.int32
    assert accumulator_type(np.zeros(70000, dtype=np.int32), -w, 2) is np.int64
    assert accumulator_type(np.zeros(0, dtype=np.int32), w[:0], 0) is np.int32


def test_neuron_state_is_int32_only_where_the_formats_keep_it_there() -> None:
    """u, v and the refractory counter are int32 where state_bits, spike_v and
    refractory_max stay inside it, else int64."""
    from snnc.runtime.refsim import state_type

    loihi = load_target("loihi2").arith
    assert state_type(loihi) is np.int32
    for facts in ({"format.state_bits": 32, "format.compute_bits": 40},
                  {"format.state_bits": 40, "format.compute_bits": 48}):
        assert state_type(load_target("loihi2").with_facts(facts, "test").arith) is np.int64
    assert state_type(load_target("loihi2").with_facts({"format.state_bits": 31}, "test")
                      .arith) is np.int32
    assert state_type(load_target("tianjic").arith) is np.int32


def test_synapse_words_by_hand() -> None:
    """weight << (slot_bits + delay_bits) | delay << slot_bits | slot, in int32 where the
    three fit and int64 where not; refused past 64 bits."""
    from snnc.runtime.refsim import RefSimError, synapse_words

    slot = np.array([0, 5, 3], dtype=np.int32)
    weight = np.array([-3, 7, -128], dtype=np.int16)
    delay = np.array([0, 2, 1], dtype=np.int8)
    words, sb, db = synapse_words(slot, weight, delay, 6, 3)
    assert (words.dtype, sb, db) == (np.int32, 3, 2)  # 8 + 2 + 3 bits
    assert words.tolist() == [-3 * 32 + 0 + 0, 7 * 32 + 2 * 8 + 5, -128 * 32 + 1 * 8 + 3]
    words, sb, db = synapse_words(slot, weight, delay, 6, 1)  # one step: no delay bits
    assert (sb, db) == (3, 0) and words.tolist() == [-3 * 8, 7 * 8 + 5, -128 * 8 + 3]
    big = np.array([-(1 << 15), (1 << 15) - 1, 0], dtype=np.int32)  # 16 + 30 bits: int64
    words, sb, db = synapse_words(slot, big, delay, 1 << 30, 3)
    assert (words.dtype, sb, db) == (np.int64, 30, 2)
    assert (words >> 32).tolist() == big.tolist()
    assert ((words >> 30) & 3).tolist() == delay.tolist()
    assert (words & ((1 << 30) - 1)).tolist() == slot.tolist()
    with pytest.raises(RefSimError, match="do not fit a 64-bit synapse word"):
        synapse_words(slot, big.astype(np.int64) << 20, delay, 1 << 30, 3)
    with pytest.raises(RefSimError, match="differ in length"):
        synapse_words(slot, weight[:2], delay, 6, 3)
    with pytest.raises(RefSimError, match="negative"):
        synapse_words(slot, weight, -delay, 6, 3)


@pytest.mark.parametrize("slot", [-1, "n_slots"])
def test_a_program_whose_synapse_slot_is_no_accumulator_is_refused(slot: object) -> None:
    """The kernels index the accumulators by syn.slot without a bounds check: a slot outside
    them is refused by name when the program is loaded, not written out of bounds."""
    from snnc.runtime.refsim import RefSimError

    from tests.fixed_strategies import int32_overflow_graph

    g, t = int32_overflow_graph(), load_target("loihi2")
    ctx = PassContext(t)
    prog = dict(program(g, route(place(partition(g, ctx), ctx, PlaceOptions()), ctx), t))
    bad = prog["syn.slot"].astype(np.int64).copy()
    bad[-1] = len(prog["slot.exp"]) if slot == "n_slots" else -1
    prog["syn.slot"] = bad
    with pytest.raises(RefSimError, match="syn.slot is outside"):
        RefSim(prog)


@pytest.mark.parametrize("bad", ["ptr_short", "ptr_past", "ptr_decreasing", "exp_low",
                                 "exp_high"])
def test_a_program_whose_accumulator_table_is_wrong_is_refused(bad: str) -> None:
    """The soma kernels read slot.ptr's accumulators without a bounds check and shift by
    slot.exp: a table that does not index them, or an exponent outside the arithmetic's
    (a shift past 63 bits), is refused by name when the program is loaded."""
    from snnc.runtime.refsim import RefSimError

    from benchmarks.synthetic import layered

    c = api.compile(layered(40, fanin=5), "loihi2")
    prog = dict(program(c.fixed, c.coremap, c.target))
    RefSim(dict(prog))  # as written, it loads
    ptr = prog["slot.ptr"].astype(np.int64).copy()
    exp = prog["slot.exp"].astype(np.int64).copy()
    if bad == "ptr_short":
        ptr = ptr[:-1]
    elif bad == "ptr_past":
        ptr[-1] += 1
    elif bad == "ptr_decreasing":
        ptr[1], ptr[2] = ptr[2], ptr[1] - 1
    elif bad == "exp_low":
        exp[0] = c.target.arith.weight_exp_min - 1
    else:
        exp[0] = 100
    prog["slot.ptr"], prog["slot.exp"] = ptr, exp
    with pytest.raises(RefSimError, match="slot.ptr does not index|slot.exp is outside"):
        RefSim(prog)


@pytest.mark.parametrize("bad", ["decreasing", "short", "source", "entries", "core"])
def test_a_program_whose_entries_do_not_index_its_synapses_is_refused(bad: str) -> None:
    """entry.syn_ptr must run from 0 to the synapse count without going back, and every
    entry needs a source and a core among the program's; otherwise the program is refused
    by name, not read out of bounds."""
    from snnc.runtime.refsim import RefSimError

    from tests.fixed_strategies import int32_overflow_graph

    g, t = int32_overflow_graph(), load_target("loihi2")
    ctx = PassContext(t)
    prog = dict(program(g, route(place(partition(g, ctx), ctx, PlaceOptions()), ctx), t))
    ptr = prog["entry.syn_ptr"].astype(np.int64).copy()
    assert len(ptr) >= 2 and ptr[-1] > 0
    if bad == "core":
        core = prog["entry.core"].astype(np.int64).copy()
        core[0] = len(prog["core.kind"])
        prog["entry.core"] = core
        with pytest.raises(RefSimError, match="entry.src, entry.core and entry.syn_ptr"):
            RefSim(prog)
        return
    if bad in ("source", "entries"):
        src = prog["entry.src"].astype(np.int64).copy()
        src[0] = -1 if bad == "source" else src[0]
        prog["entry.src"] = src if bad == "source" else src[1:]
        with pytest.raises(RefSimError, match="entry.src, entry.core and entry.syn_ptr"):
            RefSim(prog)
        return
    if bad == "decreasing":
        ptr[1] = ptr[-1] + 1
    else:
        ptr[-1] -= 1
    prog["entry.syn_ptr"] = ptr
    with pytest.raises(RefSimError, match="entry.syn_ptr"):
        RefSim(prog)


def test_a_batch_whose_state_is_over_the_memory_budget_is_refused(monkeypatch, tmp_path,
                                                                   capsys) -> None:  # type: ignore[no-untyped-def]
    """The chip state of a batch (state, spikes, sent flags, event list, accumulators of every
    delay) is checked against the memory budget before it is allocated: one error naming the
    batch, not an allocation the machine cannot hold."""
    from snnc.cli import main
    from snnc.compiler.budget import BudgetError

    c = api.compile(api.load("snnc/models/digits.nir"), "loihi2")
    art = tmp_path / "art"  # written under the default budget (writing is checked too)
    api.write_compiled(c, str(art), "digits.nir")
    sim = RefSim(program(c.fixed, c.coremap, c.target))
    per = sim.state_bytes()
    assert per >= 3 * sim.n * 4 + sim.n_slots * 4 and sim.state_bytes(True) > per
    monkeypatch.setenv("SNNC_MEMORY_BUDGET", str(10 * per))
    assert sim.start(10).u.shape == (10, sim.n)
    with pytest.raises(BudgetError, match=r"refsim: 11 sample\(s\) of chip state"):
        sim.start(11)
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((4000, 1, 64), dtype=np.uint8))
    monkeypatch.setenv("SNNC_MEMORY_BUDGET", str(4000 * per - 1))  # inputs fit, the state not
    assert main(["run", str(art), "--input", str(x), "--batch", "--steps", "1",
                 "-o", str(tmp_path / "o.npz")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "refsim: 4000 sample(s) of chip state" in err[0], err
    assert not (tmp_path / "o.npz").exists()


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.int8])
def test_the_prefetch_hint_compiles_here_and_changes_nothing(dtype: type) -> None:
    """Delivery asks for synapse words ahead with llvm.prefetch (runtime/prefetch.py),
    whose name depends on the LLVM numba brings; it compiles on this one, and a kernel
    that prefetches every element, and past the end, reads the same sum."""
    from numba import njit
    from snnc.runtime.prefetch import prefetch

    @njit
    def summed(a):  # type: ignore[no-untyped-def]
        t = 0
        for i in range(len(a) + 64):
            prefetch(a, np.uint64(i))  # a hint: no fault past the end
            if i < len(a):
                t += a[i]
        return t

    a = np.arange(1000, dtype=dtype) % 100
    before = a.copy()
    assert summed(a) == int(a.astype(np.int64).sum())
    np.testing.assert_array_equal(a, before)
