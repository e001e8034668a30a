"""The reference hardware simulator: runs a compiled core map (refsim/program.npz), not the IR.

`step` advances the chip one step, in hardware order:
  1. deliver: every core has summed the weights of the axon events that arrive now (sent at
     t - 1 - delay) into one accumulator per (neuron, projection, delay); partial-sum cores
     add into the accumulators their soma reads (integer sums: where they are added does not
     matter);
  2. soma: each accumulator goes through the arithmetic's accumulate (shift; Tianjic first
     saturates), and every neuron updates in the target's fixed-point arithmetic (the numba
     kernels of runtime/refsim_kernels.py, calling compiler/fixed.py's scalar twins);
  3. send: each neuron that fires is sent along its routing-table entries to the axons of the
     cores that listed it, and the host writes input spikes into axons; their weights land in
     the accumulators of step t + 1 + delay (event-driven, numba).
State is global arrays indexed by neuron and accumulator slot, over a batch of inputs. What a
run keeps is up to recorders: outputs and traces (runtime/recorders.py, shared with the
engines) and counters (runtime/refsim_counters.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from snnc.backends.refsim import load_index
from snnc.compiler import budget
from snnc.compiler.coremap import PARTIAL
from snnc.compiler.dtypes import is_binary, is_csr_ptr, narrow
from snnc.compiler.errors import InputError, SnncError
from snnc.compiler.facts import FactError
from snnc.compiler.fixed import Arithmetic, LoihiArithmetic
from snnc.runtime.recorders import (OutputRecorder, PopInfo, RunResult, TraceRecorder, View,
                                    range_counters)
from snnc.runtime.refsim_counters import CounterRecorder
from snnc.runtime.refsim_layout import Layout, entry_order, relayout

SimResult = RunResult  # what `run` returns: outputs, traces, counters, layers


class RefSimError(SnncError):
    """The simulated chip left the range its arithmetic defines."""


def _entry_layers(ptr: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """Per axon entry: the target layer all its synapses share, or -1 (mixed or none), so a
    counted run adds an entry's synaptic ops to its layer once instead of per synapse."""
    if len(ptr) == 0 or not is_csr_ptr(ptr, len(ptr) - 1, len(layer)):
        raise RefSimError("the simulator's program: entry.syn_ptr does not index its "
                          "synapses; recompile the model")
    out = np.full(len(ptr) - 1, -1, dtype=np.int64)
    full = np.flatnonzero(np.diff(ptr) > 0)
    if len(full) and len(layer):
        # reduceat runs from each non-empty entry's start to the next one's: its own range
        lo = np.minimum.reduceat(layer, ptr[full])
        hi = np.maximum.reduceat(layer, ptr[full])
        out[full[lo == hi]] = lo[lo == hi]
    return out


def _by_source(a: dict[str, np.ndarray], n_slots: int, depth: int, n_src: int, n_cores: int
               ) -> tuple[Layout, int, int]:
    """The program's entries (core by core) laid out by source, as delivery reads them, and
    their synapses packed into words on the way (one pass, one new synapse-sized array); the
    program's entry and synapse tables are taken out of `a`. (layout, slot_bits,
    delay_bits). RefSimError for tables that do not index each other."""
    from snnc.runtime import refsim_kernels as kn

    src, core = a.pop("entry.src"), a.pop("entry.core")
    ptr, layer = a.pop("entry.syn_ptr"), a.pop("syn.layer")
    slot, weight, delay = a.pop("syn.slot"), a.pop("syn.weight"), a.pop("syn.delay")
    a.pop("src.entry", None), a.pop("src.entry_ptr", None)  # the index this layout replaces
    if not len(src) == len(core) == len(ptr) - 1 or (len(src) and (
            src.min() < 0 or src.max() >= n_src or core.min() < 0 or core.max() >= n_cores)):
        raise RefSimError("the simulator's program: entry.src, entry.core and entry.syn_ptr "
                          f"do not describe the same entries of {n_src} sources on {n_cores} "
                          "cores; recompile the model")
    _same_lengths(slot, weight, delay)
    if len(layer) != len(slot):
        raise RefSimError("the simulator's program: syn.layer and syn.slot differ in length; "
                          "recompile the model")
    entry_layer = _entry_layers(ptr, layer)  # checks that ptr indexes the synapses
    dtype, slot_bits, delay_bits = word_format(weight, delay, n_slots, depth)
    order, src_ptr = entry_order(src, None, 1, n_src)
    syn_ptr = np.empty(len(order) + 1, dtype=np.int64)
    words, syn_layer = np.empty(len(slot), dtype=dtype), np.empty_like(layer)
    kn.pack_synapses(order, ptr, slot, weight, delay if depth > 1 else delay[:0], layer,
                     slot_bits, delay_bits, syn_ptr, words, syn_layer)
    return (Layout(1, src_ptr, src[order], core[order], narrow(syn_ptr), entry_layer[order],
                   words, syn_layer), slot_bits, delay_bits)


NARROWED = {f"neuron.{k}" for k in ("du", "dv", "bias", "i_bias", "v_th", "v_reset", "reset",
                                    "refractory")} | {"slot.ptr", "slot.exp"}
# a batch smaller than numba's threads splits each sample's cores into parts from this many
# synapses on: below it a step is too short to pay the thread pool's entry
PARTS_MIN_SYNAPSES = 1 << 19
# delivery prefetches synapse words (refsim_kernels.PREFETCH_AHEAD) from a table this large
# on: one read from a last-level cache gains nothing and pays the extra loads (the DVS-sized
# CNN's 11 MB table: 18 % slower with it; 39 MB at 100k neurons: faster)
PREFETCH_MIN_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Parts:
    """The chip's cores in n groups whose writes are disjoint (runtime/refsim_kernels.py):
    entry_part per axon entry of the layout it was computed on (empty for one part);
    neurons part_neurons[part_ptr[p]:part_ptr[p+1]], ascending (empty for one part: all
    neurons in order)."""

    n: int
    entry_part: np.ndarray
    part_ptr: np.ndarray
    part_neurons: np.ndarray


def split_cores(a: Mapping[str, np.ndarray], lay: Layout, slot_bits: int, n_parts: int
                ) -> Parts | None:
    """Cores in n_parts consecutive groups of about equal work (neurons plus the synapses
    their accumulators receive); a partial-sum core goes with the soma core it adds into.
    lay: the entries and synapse words as delivery reads them. None when the split would
    leave a part empty or a write shared (checked)."""
    from snnc.runtime import refsim_kernels as kn

    kind, soma, home = a["core.kind"], a["core.soma"].astype(np.int64), a["neuron.home"]
    nc, n = len(kind), len(home)
    owner = np.where(kind == PARTIAL, soma, np.arange(nc))  # the core whose neurons it writes
    ecore = lay.entry_core.astype(np.int64)
    work = np.bincount(home, minlength=nc) + np.bincount(
        owner[ecore], weights=np.diff(lay.entry_syn_ptr), minlength=nc)
    cum = np.cumsum(work)
    core_part = np.minimum((cum - work / 2) * n_parts // max(cum[-1], 1), n_parts - 1)
    core_part = core_part.astype(np.int32)  # any thread count
    if nc < n_parts or len(np.unique(core_part)) < n_parts:
        return None
    neuron_part = core_part[home]
    entry_part = core_part[owner[ecore]]
    slot_neuron = np.repeat(np.arange(n, dtype=np.int32), np.diff(a["slot.ptr"]))
    if not kn.parts_consistent(entry_part, lay.entry_syn_ptr, lay.syn, slot_bits,
                               slot_neuron, neuron_part):
        return None
    order = np.argsort(neuron_part, kind="stable").astype(np.int32)
    ptr = np.searchsorted(neuron_part[order], np.arange(n_parts + 1)).astype(np.int64)
    return Parts(n_parts, entry_part, ptr, order)


def accumulator_type(slot: np.ndarray, weight: np.ndarray, n_slots: int) -> type:
    """int32 accumulators (half the memory traffic of delivery) when no slot can sum beyond
    int32 in one step (the sum of |weight| over its synapses), else int64. RefSimError for a
    synapse whose slot is not an accumulator's."""
    from snnc.runtime import refsim_kernels as kn

    if len(slot) != len(weight):
        raise RefSimError("the simulator's program: syn.slot and syn.weight differ in length; "
                          "recompile the model")
    bound = kn.largest_sum(slot, weight, n_slots)
    if bound < 0:
        raise RefSimError(f"the simulator's program: a synapse's syn.slot is outside the "
                          f"{n_slots} accumulators; recompile the model")
    return np.int32 if bound <= np.iinfo(np.int32).max else np.int64


def state_type(arith: Arithmetic) -> type:
    """int32 neuron state (u, v and the refractory counter) where the target's formats keep
    every value inside it (state_bits, spike_v, refractory_max), else int64: the soma
    streams every neuron's state each step, and half the bytes is a faster soma."""
    top = max(1 << (arith.state_bits - 1), abs(int(getattr(arith, "spike_v", 0))),
              arith.refractory_max + 1)
    return np.int32 if top < np.iinfo(np.int32).max else np.int64


def _check_slots(ptr: np.ndarray, exp: np.ndarray, n: int, arith: Arithmetic) -> None:
    """The soma kernels read accumulators slot.ptr[i]:slot.ptr[i + 1] of neuron i without a
    bounds check and shift each by its slot.exp: a table that does not index the
    accumulators, or an exponent outside the arithmetic's, is refused by name."""
    if not is_csr_ptr(ptr, n, len(exp)):
        raise RefSimError(f"the simulator's program: slot.ptr does not index the {len(exp)} "
                          f"accumulators of its {n} neurons; recompile the model")
    lo, hi = arith.weight_exp_min, arith.weight_exp_max
    if len(exp) and (int(exp.min()) < lo or int(exp.max()) > hi):
        raise RefSimError(f"the simulator's program: an accumulator's slot.exp is outside the "
                          f"arithmetic's weight exponents {lo}..{hi}; recompile the model")


def flat_soma(arith: Arithmetic, slot_ptr: np.ndarray, exp: np.ndarray, acc_type: type
              ) -> tuple[np.ndarray, int] | None:
    """(lshift, rshift) for the vectorized soma kernels (update_loihi_flat,
    update_tianjic_flat) when neuron i's one accumulator is slot i, else None: an
    accumulator shifted by its exponent e is (acc << (e + rshift)) >> rshift with rshift =
    max(0, -min e), exact in int64 while the accumulator (Loihi: int32; Tianjic: saturated to
    accumulator_bits first) shifted left stays below 2^62."""
    n = len(slot_ptr) - 1
    if not np.array_equal(slot_ptr, np.arange(n + 1)):
        return None
    if isinstance(arith, LoihiArithmetic):
        if acc_type is not np.int32:
            return None
        acc_bits = np.iinfo(np.int32).bits - 1
    else:
        acc_bits = arith.accumulator_bits - 1
    rshift = max(0, -int(exp.min(initial=0)))
    lshift = exp.astype(np.int64) + rshift
    if acc_bits + lshift.max(initial=0) > np.iinfo(np.int64).bits - 2:
        return None
    return lshift.astype(np.int8), rshift


def word_format(weight: np.ndarray, delay: np.ndarray, n_slots: int, depth: int
                ) -> tuple[type, int, int]:
    """(dtype, slot_bits, delay_bits) of the synapse words (synapse_words): int32 where
    weight, delay and slot fit in 32 bits, else int64; RefSimError past 64 bits or for a
    negative delay."""
    if len(delay) and delay.min() < 0:
        raise RefSimError("the simulator's program: a synapse's syn.delay is negative; "
                          "recompile the model")
    slot_bits = max(int(n_slots - 1).bit_length(), 1)
    delay_bits = int(depth - 1).bit_length()
    lo, hi = (int(weight.min()), int(weight.max())) if len(weight) else (0, 0)
    weight_bits = max(hi.bit_length(), (-lo - 1).bit_length() if lo < 0 else 0) + 1
    bits = slot_bits + delay_bits + weight_bits
    wide = np.iinfo(np.int64).bits
    if bits > wide:
        raise RefSimError(f"the simulator's program: {weight_bits}-bit weights, {slot_bits}-bit "
                          f"accumulator numbers and {delay_bits}-bit delays do not fit a "
                          f"{wide}-bit synapse word; recompile the model")
    return (np.int32 if bits <= np.iinfo(np.int32).bits else np.int64), slot_bits, delay_bits


def synapse_words(slot: np.ndarray, weight: np.ndarray, delay: np.ndarray, n_slots: int,
                  depth: int) -> tuple[np.ndarray, int, int]:
    """Each synapse as one word, weight << (slot_bits + delay_bits) | delay << slot_bits |
    slot (word_format). Delivery at scale is bound by reading the synapse table at random
    places; one array of 4 bytes a synapse reads faster than three of 4 + 2 + 1.
    (words, slot_bits, delay_bits), in the synapses' order. RefSim packs them while laying
    them out (_by_source), in one pass."""
    from snnc.runtime import refsim_kernels as kn

    _same_lengths(slot, weight, delay)
    dtype, slot_bits, delay_bits = word_format(weight, delay, n_slots, depth)
    words = np.empty(len(slot), dtype=dtype)
    none = np.zeros(0, dtype=np.int8)
    kn.pack_synapses(np.zeros(1, dtype=np.int64), np.array([0, len(slot)]), slot, weight,
                     delay if depth > 1 else delay[:0], none, slot_bits, delay_bits,
                     np.empty(2, dtype=np.int64), words, none)
    return words, slot_bits, delay_bits


def _same_lengths(slot: np.ndarray, weight: np.ndarray, delay: np.ndarray) -> None:
    if not len(slot) == len(weight) == len(delay):
        raise RefSimError("the simulator's program: syn.slot, syn.weight and syn.delay differ "
                          "in length; recompile the model")


@dataclass
class ChipState:
    """Everything that changes while the chip runs, for a batch. The per-step buffers (spikes
    and its spare, sent, the event list) are allocated once per run and reused: at a million
    neurons fresh arrays each step cost more in page faults than the soma does. A caller
    that keeps `spikes` past the next step copies it."""

    u: np.ndarray  # (B, n) int32 or int64 (state_type)
    v: np.ndarray
    ref: np.ndarray  # refractory counters
    spikes: np.ndarray  # (B, n) bool, of the last step
    ring: np.ndarray  # (depth, B, slots): accumulators of the next depth steps (int32 or 64)
    core_ring: np.ndarray  # (depth, B, cores): synaptic ops arriving per core (timed runs)
    timed: bool
    events: np.ndarray  # (B, layers, 2): u wraps and state saturations, counted by the soma
    spare: np.ndarray  # (B, n) bool: the soma writes the next step's spikes here, then swaps
    sent: np.ndarray  # (B, sources) bool: neurons' spikes, then the host's input spikes
    ev_buf: np.ndarray  # (B * sources,) int32: the step's event list (StepEvents.ev_src)
    flags: np.ndarray  # (B, n) uint8 range flags of the flat soma ((B, 0) without it)
    t: int = 0


@dataclass
class StepEvents:
    """What one step did, for counters."""

    spikes: np.ndarray  # (B, n) bool
    synops: np.ndarray  # (B, cores): synaptic ops of the events sent this step
    ev_ptr: np.ndarray  # (B + 1,): sample b sent ev_src[ev_ptr[b]:ev_ptr[b + 1]]
    ev_src: np.ndarray  # sources sent, ascending per sample; neurons are those below n
    arriving: np.ndarray | None  # (B, cores): synaptic ops that arrived this step (timed)
    layer_synops: np.ndarray | None  # (B, layers): synaptic ops sent, by target layer (timed)


class RefSim:
    """Load a program once; `run` (or `start` + `step`) many times."""

    def __init__(self, arrays: Mapping[str, np.ndarray]):
        # the soma streams every per-neuron and per-slot table each step: narrowest types
        self.a = {k: narrow(np.asarray(v)) if k in NARROWED else np.asarray(v)
                  for k, v in arrays.items() if k != "index"}
        self.idx = load_index(dict(arrays))
        try:
            self.arith = Arithmetic.from_json(self.idx.get("arithmetic") or {})
        except FactError as e:
            raise RefSimError(f"the simulator's program: {e}; recompile the model") from None
        self.kernel = self.arith.kernel_params()
        self.n = int(self.idx["n_neurons"])
        self.nc = int(self.idx["n_cores"])
        a = self.a
        self.n_slots = len(a["slot.exp"])
        _check_slots(a["slot.ptr"], a["slot.exp"], self.n, self.arith)
        self.depth = int(a["syn.delay"].max(initial=0)) + 1
        self.last_onset = int(a["neuron.onset"].max(initial=0)) if "neuron.onset" in a else 0
        self.pops = {p["name"]: p for p in self.idx["populations"]}
        self.inputs = {p["name"]: p for p in self.idx["inputs"]}
        self.slices = {k: slice(p["offset"], p["offset"] + p["size"])
                       for k, p in self.pops.items()}
        self.resets = [(self.slices[k], int(p["reset_every"]), int(p.get("reset_phase", 0)))
                       for k, p in self.pops.items() if p.get("reset_every")]
        self.layer_of = narrow(np.repeat(np.arange(len(self.pops), dtype=np.int64),
                                         [p["size"] for p in self.idx["populations"]]))
        self.one_part = Parts(1, np.zeros(0, dtype=np.int32), np.array([0, self.n]),
                              np.zeros(0, dtype=np.int32))
        self._split: Parts | None = None
        # accumulators: int32 (half the memory traffic of delivery) when no slot can sum
        # beyond it in one step, else int64
        self.acc_type = accumulator_type(a["syn.slot"], a["syn.weight"], self.n_slots)
        # one accumulator a neuron, its own (a layered network): the vectorized soma
        self.flat = flat_soma(self.arith, a["slot.ptr"], a["slot.exp"], self.acc_type)
        self.state_type = state_type(self.arith)
        self.n_src = self.n + sum(p["size"] for p in self.inputs.values())
        # delivery reads one word a synapse, laid out by source; the program's entry and
        # synapse tables are dropped
        self.layout, self.slot_bits, self.delay_bits = _by_source(
            a, self.n_slots, self.depth, self.n_src, self.nc)
        self._tianjic_flags = tuple(a[k].astype(np.bool_) for k in (
            "neuron.current", "neuron.spiking") if k in a)  # the Tianjic soma's, once
        self.min_split = PARTS_MIN_SYNAPSES
        self.prefetch_min = PREFETCH_MIN_BYTES

    def parts(self, batch: int) -> Parts:
        """How a batch's samples are split (Parts): a batch smaller than numba's threads on a
        large enough network splits each sample's cores over the threads."""
        import numba

        threads = numba.get_num_threads()
        if batch >= threads or len(self.layout.syn) < self.min_split:
            return self.one_part
        if self._split is None or self._split.n not in (1, threads):
            split = split_cores(self.a, self.layout, self.slot_bits, threads)
            if split is not None:  # each thread's entries together (runtime/refsim_layout.py)
                self.layout = relayout(self.layout, split.entry_part, split.n, self.n_src)
            self._split = split or self.one_part
        return self._split

    # --- inputs
    def _inputs(self, inputs: Mapping[str, np.ndarray]) -> tuple[int, int, dict[str, np.ndarray]]:
        missing = sorted(set(self.inputs) - set(inputs))
        extra = sorted(set(inputs) - set(self.inputs))
        if missing or extra:
            raise InputError(f"model inputs are {sorted(self.inputs)}; missing {missing}, "
                             f"unknown {extra}")
        batch = steps = None
        out = {}
        for k, x in inputs.items():
            x = np.asarray(x)
            size = self.inputs[k]["size"]
            shape = tuple(self.inputs[k]["shape"])
            if x.ndim < 2 or tuple(x.shape[2:]) not in (shape, (size,)):
                raise InputError(f"input '{k}' has shape {x.shape}; expected (batch, steps, "
                                 f"*{shape}) or (batch, steps, {size}) flattened in C order")
            if batch is not None and (x.shape[0], x.shape[1]) != (batch, steps):
                raise InputError("all inputs need the same batch size and number of steps")
            batch, steps = x.shape[0], x.shape[1]
            if not is_binary(x):
                raise InputError("the simulated chip takes binary spikes (0/1) as input; "
                                 "encode graded values as spikes first")
            out[k] = x.reshape(batch, steps, size).astype(bool)
        if batch is None:
            raise InputError("the model has no input port; nothing to run")
        return batch, steps, out

    def pop_info(self) -> dict[str, PopInfo]:
        return {k: PopInfo(p["size"], p["spiking"], self.arith.traces_u(p["current"]))
                for k, p in self.pops.items()}

    # --- one step, in hardware order
    def state_bytes(self, timed: bool = False) -> int:
        """Bytes of one sample's chip state (ChipState): u, v, refractory counter, the spikes
        and their spare, the sent flags, the event list, the accumulators of every delay, the
        flat soma's range flags and, timed, the per-core arrivals."""
        per = (3 * self.n * np.dtype(self.state_type).itemsize + 2 * self.n + self.n_src
               + self.n_src * np.dtype(np.int32).itemsize
               + self.depth * self.n_slots * np.dtype(self.acc_type).itemsize
               + (self.n if self.flat else 0))
        return per + (self.depth * self.nc * 8 if timed else 0)

    def start(self, batch: int, timed: bool = False) -> ChipState:
        """The chip at rest: zero state, empty accumulators. A batch whose state is over the
        memory budget (compiler/budget.py) is refused before anything is allocated."""
        budget.check(batch, self.state_bytes(timed), "refsim",
                     f"{batch} sample(s) of chip state ({self.n} neurons, {self.n_slots} "
                     f"accumulators x {self.depth} delay slot(s)); run fewer samples at a time "
                     "(snnc eval streams a data set in batches)")
        z = [np.zeros((batch, self.n), dtype=self.state_type) for _ in range(3)]
        n_src = self.n_src
        return ChipState(u=z[0], v=z[1], ref=z[2], spikes=np.zeros((batch, self.n), dtype=bool),
                         spare=np.zeros((batch, self.n), dtype=bool),
                         sent=np.zeros((batch, n_src), dtype=bool),
                         ev_buf=np.empty(batch * n_src, dtype=np.int32),
                         ring=np.zeros((self.depth, batch, self.n_slots),
                                       dtype=self.acc_type),
                         core_ring=np.zeros((self.depth if timed else 1, batch,
                                             self.nc if timed else 1), dtype=np.int64),
                         timed=timed,
                         flags=np.zeros((batch, self.n if self.flat else 0), dtype=np.uint8),
                         events=np.zeros((batch, len(self.pops), 2), dtype=np.int64))

    def step(self, st: ChipState, host: Mapping[str, np.ndarray]) -> StepEvents:
        """Advance one step; host: port -> (B, size) bool input spikes written this step."""
        slot = st.t % self.depth
        arriving = None
        if st.timed:  # 1. deliver (the weights arrived in ring[slot]; timed runs count them)
            arriving = st.core_ring[slot].copy()
            st.core_ring[slot] = 0
        for sl, every, phase in self.resets:  # periodic state resets due this step
            if self.arith.reset_due(every, phase, st.t):
                st.u[:, sl], st.v[:, sl], st.ref[:, sl] = 0, 0, 0
        st.spikes, st.spare = self._soma(st, st.ring[slot], self._biases(st.t)), st.spikes
        synops, layer_synops, ev_ptr = self._send(st, host)  # 3. send (2. soma cleared it)
        st.t += 1
        return StepEvents(st.spikes, synops, ev_ptr, st.ev_buf[:ev_ptr[-1]], arriving,
                          layer_synops)

    def _biases(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(bias, i_bias) the soma adds at step t: each neuron's from its onset step on (the
        host writes a population's bias registers when its first input can arrive)."""
        a = self.a
        onset = a.get("neuron.onset")
        if onset is None or t >= self.last_onset:
            return a["neuron.bias"], a["neuron.i_bias"]
        on = t >= onset
        return np.where(on, a["neuron.bias"], 0), np.where(on, a["neuron.i_bias"], 0)

    def _soma(self, st: ChipState, ring_t: np.ndarray, biases: tuple[np.ndarray, np.ndarray]
              ) -> np.ndarray:
        from snnc.runtime import refsim_kernels as kn

        a = self.a
        bias, i_bias = biases
        batch = st.u.shape[0]
        pt = self.parts(batch)
        tasks = batch * pt.n
        spikes = st.spare  # every neuron's entry is written
        if self.flat is not None:
            self._soma_flat(st, ring_t, biases, spikes, pt.n)
            return spikes
        # per-task range counts when parts share a sample's layers, else the state's own
        events = st.events if pt.n == 1 else np.zeros((tasks, *st.events.shape[1:]),
                                                       dtype=np.int64)
        one = tasks == 1  # a single task runs on this thread (no pool entry)
        update_loihi = kn.update_loihi_serial if one else kn.update_loihi
        update_tianjic = kn.update_tianjic_serial if one else kn.update_tianjic
        if isinstance(self.arith, LoihiArithmetic):
            over = np.empty(tasks, dtype=np.int64)
            update_loihi(pt.part_ptr, pt.part_neurons, ring_t, a["slot.ptr"], a["slot.exp"],
                         st.u, st.v, st.ref, a["neuron.du"], a["neuron.dv"], bias,
                         a["neuron.v_th"], spikes, over, self.layer_of, events, self.kernel)
            if (over >= 0).any():
                over = over.reshape(batch, pt.n)
                first = np.where(over >= 0, over, self.n).min(axis=1)  # lowest id per sample
                self._input_overflow(int(first[first < self.n][0]))
        else:
            update_tianjic(pt.part_ptr, pt.part_neurons, ring_t, a["slot.ptr"], a["slot.exp"],
                           st.u, st.v, st.ref, a["neuron.du"], a["neuron.dv"], i_bias, bias,
                           a["neuron.v_th"], a["neuron.v_reset"],
                           a["neuron.reset"], a["neuron.refractory"],
                           *self._tianjic_flags, spikes, self.layer_of,
                           events, self.kernel)
        if pt.n > 1:
            st.events += events.reshape(batch, pt.n, *events.shape[1:]).sum(axis=1)
        return spikes

    def _soma_flat(self, st: ChipState, ring_t: np.ndarray,
                   biases: tuple[np.ndarray, np.ndarray], spikes: np.ndarray,
                   n_chunks: int) -> None:
        """The soma by update_loihi_flat or update_tianjic_flat, each sample in n_chunks
        chunks of neurons; their flags, when any is set, go to the range counters and the
        input-limit check."""
        from snnc.runtime import refsim_kernels as kn

        a, batch = self.a, st.u.shape[0]
        bias, i_bias = biases
        lshift, rshift = self.flat
        serial = batch * n_chunks == 1
        if isinstance(self.arith, LoihiArithmetic):
            fn = kn.update_loihi_flat_serial if serial else kn.update_loihi_flat
            seen = fn(n_chunks, ring_t, lshift, rshift, st.u, st.v, st.ref, a["neuron.du"],
                      a["neuron.dv"], bias, a["neuron.v_th"], spikes, st.flags, self.kernel)
        else:
            fn = kn.update_tianjic_flat_serial if serial else kn.update_tianjic_flat
            seen = fn(n_chunks, ring_t, lshift, rshift, st.u, st.v, st.ref, a["neuron.du"],
                      a["neuron.dv"], i_bias, bias, a["neuron.v_th"], a["neuron.v_reset"],
                      a["neuron.reset"], a["neuron.refractory"], *self._tianjic_flags,
                      spikes, st.flags, self.kernel)
        if seen:
            first = np.empty(batch, dtype=np.int64)
            kn.flag_events(st.flags, self.layer_of, st.events, first)
            if (first >= 0).any():
                self._input_overflow(int(first[first >= 0][0]))

    def _input_overflow(self, neuron: int) -> None:
        ar = self.arith
        raise RefSimError(f"population '{self._pop_of(neuron)}': synaptic input << "
                          f"{ar.act_shift} exceeds int{ar.compute_bits}, where Lava's "
                          "arithmetic wraps; lower the weights or weight_exp of the "
                          "projections into it")

    def _send(self, st: ChipState, host: Mapping[str, np.ndarray]
              ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        from snnc.runtime import refsim_kernels as kn

        batch = st.u.shape[0]
        pt = self.parts(batch)  # (may lay the entries out anew: read the layout after it)
        lay = self.layout
        serial = batch * pt.n == 1
        sent, at = st.sent, self.n
        sent[:, :at] = st.spikes
        for k in self.inputs:
            x = host[k]
            sent[:, at:at + x.shape[1]] = x
            at += x.shape[1]
        ev_ptr = (kn.events_serial if batch == 1 else kn.events)(sent, st.ev_buf)
        ev_src = st.ev_buf[:ev_ptr[-1]]
        synops = np.zeros((batch, self.nc), dtype=np.int64)
        lsyn = np.zeros((batch * pt.n, len(self.pops) if st.timed else 1), dtype=np.int64)
        (kn.deliver_serial if serial else kn.deliver)(
            pt.n, lay.n, ev_ptr, ev_src, st.t, lay.ptr, lay.entry_core, lay.entry_syn_ptr,
            lay.syn, self.slot_bits, self.delay_bits, st.ring, synops, st.core_ring, st.timed,
            lay.syn_layer, lay.entry_layer, lsyn,
            kn.PREFETCH_AHEAD if lay.syn.nbytes >= self.prefetch_min else 0)
        if pt.n > 1:
            lsyn = lsyn.reshape(batch, pt.n, -1).sum(axis=1)
        return synops, (lsyn if st.timed else None), ev_ptr

    def _pop_of(self, neuron: int) -> str:
        for name, sl in self.slices.items():
            if sl.start <= neuron < sl.stop:
                return name
        return "?"

    def views(self, st: ChipState) -> dict[str, View]:
        """Every population's state after the step, as slices of the global arrays."""
        return {k: View(st.u[:, sl], st.v[:, sl], st.spikes[:, sl])
                for k, sl in self.slices.items()}

    # --- a run
    def run(self, inputs: Mapping[str, np.ndarray], steps: int | None = None,
            trace: bool = False, counters: bool = False,
            on_step: Callable[[int], None] | None = None) -> RunResult:
        """inputs: port -> (B, T_in, *shape) spikes. Steps beyond T_in receive no input."""
        batch, t_in, xs = self._inputs(inputs)
        steps = t_in if steps is None else int(steps)
        if steps < 1:
            raise InputError(f"--steps must be at least 1, got {steps}")
        info = self.pop_info()
        outputs = {o["name"]: (o["source"], tuple(o["shape"])) for o in self.idx["outputs"]}
        out = OutputRecorder(outputs, info, batch, steps, np.int64)
        tr = TraceRecorder(info, batch, steps, np.int64) if trace else None
        cnt = CounterRecorder(self, batch, steps, detailed=counters)
        st = self.start(batch, timed=counters)
        silent = {k: np.zeros((batch, p["size"]), dtype=bool) for k, p in self.inputs.items()}
        for t in range(steps):
            ev = self.step(st, {k: xs[k][:, t] if t < t_in else silent[k] for k in self.inputs})
            pops = self.views(st)
            out.record(t, pops)
            if tr is not None:
                tr.record(t, pops)
            cnt.record(t, ev)
            if on_step is not None:
                on_step(t)
        return RunResult(outputs=out.result(), traces=tr.result() if tr else {}, steps=steps,
                         counters={**cnt.result(steps), **range_counters(st.events)},
                         layers=list(self.pops))
