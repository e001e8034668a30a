"""numba kernels of the reference simulator. Work is split into tasks, (sample, part) pairs
that never share a write: each sample owns its slice of the state, and within a sample the
chip's cores may be split into parts (RefSim.parts) whose neurons and accumulator slots are
disjoint, so a batch of one runs on every thread too. Kernels: building the event list,
event-driven spike delivery, and the soma phase, which calls the scalar arithmetic of
compiler/fixed.py. Each has a `_serial` twin (the same task body on the calling thread) for a
single task, which would otherwise pay the thread pool's entry every step for no parallel
work."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from numba import njit, prange
from snnc.compiler import fixed
from snnc.runtime.prefetch import prefetch


def _drop_stale_cache() -> None:
    """numba's on-disk cache is keyed on this file only, not on compiler/fixed.py whose
    scalar arithmetic the kernels inline (nor on runtime/prefetch.py): when either
    changes, drop the cached kernels (a stale kernel would compute the old arithmetic
    without a word)."""
    cache = Path(__file__).parent / "__pycache__"
    stamp = cache / "refsim_kernels.fixed.sha256"
    digest = hashlib.sha256(b"".join(Path(f).read_bytes() for f in (
        fixed.__file__, Path(__file__).parent / "prefetch.py"))).hexdigest()
    try:
        if stamp.exists() and stamp.read_text() == digest:
            return
        for f in cache.glob("refsim_kernels.*.nb[ci]"):
            f.unlink()
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest)
    except OSError:  # a read-only install: numba cannot write its cache there either
        pass


_drop_stale_cache()

# delivery prefetches the synapse words of the source this many events ahead (benchmarks:
# 16 reads the 1M-neuron table 1.5-2.3x faster than none at 2-10 % firing; 4 and 64 less;
# RefSim turns it on for tables past a last-level cache: runtime/refsim.py)
PREFETCH_AHEAD = 16
CACHE_LINE = 64  # bytes, x86-64 and arm64


@njit(cache=True)
def _deliver_task(task: int, n_parts: int, n_layout: int, ev_ptr: np.ndarray,
                  ev_src: np.ndarray, base: int, ptr: np.ndarray, entry_core: np.ndarray,
                  entry_syn_ptr: np.ndarray, syn: np.ndarray, slot_bits: int, delay_bits: int,
                  ring: np.ndarray, synops: np.ndarray, core_ring: np.ndarray, timed: bool,
                  syn_layer: np.ndarray, entry_layer: np.ndarray, layer_synops: np.ndarray,
                  ahead: int) -> None:
    """deliver() for sample task // n_parts: the entries of layout part task % n_parts, or
    of every layout part when the sample is one task."""
    b, p = task // n_parts, task % n_parts
    q0, q1 = (p, p + 1) if n_parts > 1 else (0, n_layout)
    row = len(ptr) // n_layout  # sources + 1
    depth = ring.shape[0]
    slot_mask, delay_mask = (1 << slot_bits) - 1, (1 << delay_bits) - 1
    w_shift = slot_bits + delay_bits
    ub = np.uint64(b)
    line = max(CACHE_LINE // syn.itemsize, 1)  # synapse words a cache line
    end = ev_ptr[b + 1]
    for i in range(ev_ptr[b], end):
        if ahead and i + ahead < end:  # ask for the words of a source a few events on
            s2 = ev_src[i + ahead]
            for q in range(q0, q1):
                lo = entry_syn_ptr[ptr[q * row + s2]]
                hi = entry_syn_ptr[ptr[q * row + s2 + 1]]
                for k in range(lo, hi, line):
                    prefetch(syn, np.uint64(k))
                if hi > lo:
                    prefetch(syn, np.uint64(hi - 1))
        s = ev_src[i]
        for q in range(q0, q1):
            for e in range(ptr[q * row + s], ptr[q * row + s + 1]):
                lo, hi = entry_syn_ptr[e], entry_syn_ptr[e + 1]
                c = entry_core[e]
                synops[b, c] += hi - lo
                if timed:  # per target layer: once per entry when its synapses share one
                    if entry_layer[e] >= 0:
                        layer_synops[task, entry_layer[e]] += hi - lo
                    else:
                        for k in range(lo, hi):
                            layer_synops[task, syn_layer[k]] += 1
                if depth == 1:  # unsigned indices: numba adds no negative-index checks
                    for k in range(lo, hi):
                        word = syn[np.uint64(k)]
                        ring[0, ub, np.uint64(word & slot_mask)] += word >> w_shift
                    if timed:
                        core_ring[0, b, c] += hi - lo
                else:
                    for k in range(lo, hi):
                        word = syn[np.uint64(k)]
                        r = base + ((word >> slot_bits) & delay_mask)
                        if r >= depth:
                            r -= depth
                        ring[np.uint64(r), ub, np.uint64(word & slot_mask)] += word >> w_shift
                        if timed:
                            core_ring[r, b, c] += 1


@njit(cache=True, parallel=True)
def deliver(n_parts: int, n_layout: int, ev_ptr: np.ndarray, ev_src: np.ndarray, t: int,
            ptr: np.ndarray, entry_core: np.ndarray, entry_syn_ptr: np.ndarray,
            syn: np.ndarray, slot_bits: int, delay_bits: int, ring: np.ndarray,
            synops: np.ndarray, core_ring: np.ndarray, timed: bool, syn_layer: np.ndarray,
            entry_layer: np.ndarray, layer_synops: np.ndarray, ahead: int) -> None:
    """Events of sample b are ev_src[ev_ptr[b]:ev_ptr[b+1]] (sources sent at step t). Through
    every axon entry a source reaches (laid out by part and source: runtime/refsim_layout.py),
    add each synapse's weight to its slot at step t + 1 + delay (each synapse one word:
    runtime/refsim.py synapse_words). Count synaptic ops per (sample, core) in synops (when
    sent) and, if timed, per (arrival step, sample, core) in core_ring and per (task, target
    layer) in layer_synops (entry_layer: the one layer of an entry's synapses, or -1). The
    tasks, (sample, part) pairs, run on numba's threads: with n_parts > 1 (then n_parts ==
    n_layout) the entries of part p write only slots and cores no other part writes, so a
    batch of one runs on every thread too. With ahead > 0 the words of the source `ahead`
    events on are prefetched."""
    base = (t + 1) % ring.shape[0]
    for task in prange((len(ev_ptr) - 1) * n_parts):
        _deliver_task(task, n_parts, n_layout, ev_ptr, ev_src, base, ptr, entry_core,
                      entry_syn_ptr, syn, slot_bits, delay_bits, ring, synops, core_ring,
                      timed, syn_layer, entry_layer, layer_synops, ahead)


@njit(cache=True)
def deliver_serial(n_parts: int, n_layout: int, ev_ptr: np.ndarray, ev_src: np.ndarray,
                   t: int, ptr: np.ndarray, entry_core: np.ndarray, entry_syn_ptr: np.ndarray,
                   syn: np.ndarray, slot_bits: int, delay_bits: int, ring: np.ndarray,
                   synops: np.ndarray, core_ring: np.ndarray, timed: bool,
                   syn_layer: np.ndarray, entry_layer: np.ndarray,
                   layer_synops: np.ndarray, ahead: int) -> None:
    """deliver() on the calling thread: a single task pays no thread-pool entry."""
    base = (t + 1) % ring.shape[0]
    for task in range((len(ev_ptr) - 1) * n_parts):
        _deliver_task(task, n_parts, n_layout, ev_ptr, ev_src, base, ptr, entry_core,
                      entry_syn_ptr, syn, slot_bits, delay_bits, ring, synops, core_ring,
                      timed, syn_layer, entry_layer, layer_synops, ahead)


@njit(cache=True)
def _events_count(sent: np.ndarray, b: int) -> int:
    """How many of sent[b]'s entries are set (a loop LLVM vectorizes)."""
    row = sent[b]
    n = 0
    for i in range(len(row)):
        n += row[i]
    return n


@njit(cache=True)
def _events_row(sent: np.ndarray, b: int, out: np.ndarray) -> None:
    """Write the indices of sent[b]'s set entries into out (as long as their count). Without
    a branch: every index up to the last set one is written at the next free place, which
    only a set entry advances (a 20 % spike rate mispredicts a branch often)."""
    row = sent[b]
    last = len(row) - 1
    while last >= 0 and not row[last]:
        last -= 1
    n = 0
    for i in range(last + 1):
        out[n] = i
        n += row[i]


@njit(cache=True, parallel=True)
def events(sent: np.ndarray, out: np.ndarray) -> np.ndarray:
    """ev_ptr of a (B, sources) bool array: sample b sent out[ev_ptr[b]:ev_ptr[b+1]], in
    increasing source order (np.nonzero's, without its int64 pair of arrays, into a buffer
    the run keeps: no fresh pages each step); samples on numba's threads."""
    batch = sent.shape[0]
    ptr = np.zeros(batch + 1, dtype=np.int64)
    for b in prange(batch):
        ptr[b + 1] = _events_count(sent, b)
    for b in range(batch):
        ptr[b + 1] += ptr[b]
    for b in prange(batch):
        _events_row(sent, b, out[ptr[b]:ptr[b + 1]])
    return ptr


@njit(cache=True)
def events_serial(sent: np.ndarray, out: np.ndarray) -> np.ndarray:
    """events() on the calling thread."""
    batch = sent.shape[0]
    ptr = np.zeros(batch + 1, dtype=np.int64)
    for b in range(batch):
        ptr[b + 1] = ptr[b] + _events_count(sent, b)
        _events_row(sent, b, out[ptr[b]:ptr[b + 1]])
    return ptr


@njit(cache=True)
def _sent_row(b: int, ev_ptr: np.ndarray, ev_src: np.ndarray, n: int, packets: np.ndarray,
              hops: np.ndarray, home: np.ndarray, layer: np.ndarray, per_sample: np.ndarray,
              core_spikes: np.ndarray, layer_spikes: np.ndarray) -> None:
    """sent_counts() of sample b."""
    detailed = core_spikes.shape[1] > 0
    for i in range(ev_ptr[b], ev_ptr[b + 1]):
        s = ev_src[i]
        if s >= n:
            break  # the host's input sources come after every neuron
        per_sample[b, 0] += 1
        per_sample[b, 1] += packets[s]
        per_sample[b, 2] += hops[s]
        if detailed:
            core_spikes[b, home[s]] += 1
            layer_spikes[b, layer[s]] += 1


@njit(cache=True, parallel=True)
def sent_counts(ev_ptr: np.ndarray, ev_src: np.ndarray, n: int, packets: np.ndarray,
                hops: np.ndarray, home: np.ndarray, layer: np.ndarray, per_sample: np.ndarray,
                core_spikes: np.ndarray, layer_spikes: np.ndarray) -> None:
    """Counters of a step from its event list (sources below n are neurons): per sample b,
    per_sample[b] += (spikes, packets, hops) and, unless core_spikes and layer_spikes are
    (B, 0), core_spikes[b] and layer_spikes[b] += the spikes per home core and per layer.
    Samples on numba's threads."""
    for b in prange(len(ev_ptr) - 1):
        _sent_row(b, ev_ptr, ev_src, n, packets, hops, home, layer, per_sample, core_spikes,
                  layer_spikes)


@njit(cache=True)
def sent_counts_serial(ev_ptr: np.ndarray, ev_src: np.ndarray, n: int, packets: np.ndarray,
                       hops: np.ndarray, home: np.ndarray, layer: np.ndarray,
                       per_sample: np.ndarray, core_spikes: np.ndarray,
                       layer_spikes: np.ndarray) -> None:
    """sent_counts() on the calling thread."""
    for b in range(len(ev_ptr) - 1):
        _sent_row(b, ev_ptr, ev_src, n, packets, hops, home, layer, per_sample, core_spikes,
                  layer_spikes)


@njit(cache=True)
def _neuron(part_neurons: np.ndarray, ii: int) -> int:
    """The ii-th neuron of the parts' order (the identity when there is one part)."""
    return ii if len(part_neurons) == 0 else part_neurons[ii]


@njit(cache=True)
def _loihi_task(task: int, part_ptr: np.ndarray, part_neurons: np.ndarray, ring_t: np.ndarray,
                slot_ptr: np.ndarray, exp: np.ndarray, u: np.ndarray, v: np.ndarray,
                ref: np.ndarray, du: np.ndarray, dv: np.ndarray, bias: np.ndarray,
                vth: np.ndarray, spikes: np.ndarray, overflow: np.ndarray, layer: np.ndarray,
                events: np.ndarray, k: fixed.LoihiKernel) -> None:
    """update_loihi() for sample task // parts, the neurons of part task % parts."""
    n_parts = len(part_ptr) - 1
    b, p = task // n_parts, task % n_parts
    overflow[task] = -1
    for ii in range(part_ptr[p], part_ptr[p + 1]):
        i = _neuron(part_neurons, ii)
        a = 0
        for j in range(slot_ptr[i], slot_ptr[i + 1]):
            a += fixed.shift_sum_scalar(np.int64(ring_t[b, j]), np.int64(exp[j]))
            ring_t[b, j] = 0
        if abs(a << k.act_shift) >= k.input_limit and overflow[task] < 0:
            overflow[task] = i
        u[b, i], v[b, i], ref[b, i], spikes[b, i], wrapped, sat = fixed.loihi_neuron(
            np.int64(u[b, i]), np.int64(v[b, i]), np.int64(ref[b, i]), a, np.int64(du[i]),
            np.int64(dv[i]), np.int64(bias[i]), np.int64(vth[i]), k)
        if wrapped or sat:
            events[task, layer[i], 0] += wrapped
            events[task, layer[i], 1] += sat


@njit(cache=True, parallel=True)
def update_loihi(part_ptr: np.ndarray, part_neurons: np.ndarray, ring_t: np.ndarray,
                 slot_ptr: np.ndarray, exp: np.ndarray, u: np.ndarray, v: np.ndarray,
                 ref: np.ndarray, du: np.ndarray, dv: np.ndarray, bias: np.ndarray,
                 vth: np.ndarray, spikes: np.ndarray, overflow: np.ndarray, layer: np.ndarray,
                 events: np.ndarray, k: fixed.LoihiKernel) -> None:
    """Soma phase, Loihi: each accumulator shifted by its projection's exponent, summed per
    neuron, then compiler/fixed.py's loihi_neuron; clears the accumulators it read. Per
    task (sample, part: the neurons part_neurons[part_ptr[p]:part_ptr[p+1]], ascending, or
    all neurons in order when part_neurons is empty): overflow[task] = first neuron whose
    shifted input reaches k.input_limit (where Lava's arithmetic wraps), else -1;
    events[task, layer of the neuron] counts u wraps and v saturations. Tasks run on
    numba's threads."""
    for task in prange(ring_t.shape[0] * (len(part_ptr) - 1)):
        _loihi_task(task, part_ptr, part_neurons, ring_t, slot_ptr, exp, u, v, ref, du, dv,
                    bias, vth, spikes, overflow, layer, events, k)


@njit(cache=True)
def update_loihi_serial(part_ptr: np.ndarray, part_neurons: np.ndarray, ring_t: np.ndarray,
                        slot_ptr: np.ndarray, exp: np.ndarray, u: np.ndarray, v: np.ndarray,
                        ref: np.ndarray, du: np.ndarray, dv: np.ndarray, bias: np.ndarray,
                        vth: np.ndarray, spikes: np.ndarray, overflow: np.ndarray,
                        layer: np.ndarray, events: np.ndarray, k: fixed.LoihiKernel) -> None:
    """update_loihi() on the calling thread."""
    for task in range(ring_t.shape[0] * (len(part_ptr) - 1)):
        _loihi_task(task, part_ptr, part_neurons, ring_t, slot_ptr, exp, u, v, ref, du, dv,
                    bias, vth, spikes, overflow, layer, events, k)


@njit(cache=True)
def _chunk(task: int, n_chunks: int, n: int) -> tuple[int, int, int]:
    """(sample, first neuron, end) of a flat soma's task: sample task // n_chunks, its
    chunk task % n_chunks of the n neurons."""
    c = task % n_chunks
    return task // n_chunks, n * c // n_chunks, n * (c + 1) // n_chunks


@njit(cache=True)
def _loihi_flat_task(task: int, n_chunks: int, ring_t: np.ndarray, lshift: np.ndarray,
                     rshift: int, u: np.ndarray, v: np.ndarray, ref: np.ndarray,
                     du: np.ndarray, dv: np.ndarray, bias: np.ndarray, vth: np.ndarray,
                     spikes: np.ndarray, flags: np.ndarray, k: fixed.LoihiKernel) -> int:
    """update_loihi_flat() for sample task // n_chunks, the neurons of its chunk task %
    n_chunks (consecutive). Every array is sliced to the chunk and indexed from 0: numba
    then drops its negative-index checks and LLVM vectorizes the loop. Returns the OR of
    the chunk's flags."""
    b, lo, hi = _chunk(task, n_chunks, u.shape[1])
    acc, ub, vb, rb = ring_t[b][lo:hi], u[b][lo:hi], v[b][lo:hi], ref[b][lo:hi]
    sb, fb, ls = spikes[b][lo:hi], flags[b][lo:hi], lshift[lo:hi]
    du_, dv_, bias_, vth_ = du[lo:hi], dv[lo:hi], bias[lo:hi], vth[lo:hi]
    seen = 0
    for i in range(hi - lo):
        a = (np.int64(acc[i]) << np.int64(ls[i])) >> rshift
        acc[i] = 0
        over = abs(a << k.act_shift) >= k.input_limit
        ub[i], vb[i], rb[i], sb[i], wrapped, sat = fixed.loihi_neuron(
            np.int64(ub[i]), np.int64(vb[i]), np.int64(rb[i]), a, np.int64(du_[i]),
            np.int64(dv_[i]), np.int64(bias_[i]), np.int64(vth_[i]), k)
        f = wrapped | (sat << 1) | (np.int64(over) << 4)
        fb[i] = f
        seen |= f
    return seen


@njit(cache=True)
def _tianjic_flat_task(task: int, n_chunks: int, ring_t: np.ndarray, lshift: np.ndarray,
                       rshift: int, u: np.ndarray, v: np.ndarray, ref: np.ndarray,
                       au: np.ndarray, av: np.ndarray, ibias: np.ndarray, beta: np.ndarray,
                       vth: np.ndarray, vreset: np.ndarray, reset: np.ndarray,
                       refractory: np.ndarray, current: np.ndarray, spiking: np.ndarray,
                       spikes: np.ndarray, flags: np.ndarray, k: fixed.TianjicKernel) -> int:
    """update_tianjic_flat() for sample task // n_chunks, the neurons of its chunk task %
    n_chunks (as _loihi_flat_task)."""
    b, lo, hi = _chunk(task, n_chunks, u.shape[1])
    acc, ub, vb, rb = ring_t[b][lo:hi], u[b][lo:hi], v[b][lo:hi], ref[b][lo:hi]
    sb, fb, ls = spikes[b][lo:hi], flags[b][lo:hi], lshift[lo:hi]
    au_, av_, ib_, be_ = au[lo:hi], av[lo:hi], ibias[lo:hi], beta[lo:hi]
    vth_, vr_, rs_, rf_ = vth[lo:hi], vreset[lo:hi], reset[lo:hi], refractory[lo:hi]
    cur_, spk_ = current[lo:hi], spiking[lo:hi]
    seen = 0
    for i in range(hi - lo):
        x = np.int64(acc[i])
        sat = fixed.saturate_scalar(x, k.accumulator_bits)
        a = (sat << np.int64(ls[i])) >> rshift
        acc[i] = 0
        ub[i], vb[i], rb[i], sb[i], sats = fixed.tianjic_neuron(
            np.int64(ub[i]), np.int64(vb[i]), np.int64(rb[i]), a, np.int64(au_[i]),
            np.int64(av_[i]), np.int64(ib_[i]), np.int64(be_[i]), np.int64(vth_[i]),
            np.int64(vr_[i]), np.int64(rs_[i]), np.int64(rf_[i]), cur_[i], spk_[i], k)
        f = (sats + np.int64(sat != x)) << 1
        fb[i] = f
        seen |= f
    return seen


@njit(cache=True, parallel=True)
def update_tianjic_flat(n_chunks: int, ring_t: np.ndarray, lshift: np.ndarray, rshift: int,
                        u: np.ndarray, v: np.ndarray, ref: np.ndarray, au: np.ndarray,
                        av: np.ndarray, ibias: np.ndarray, beta: np.ndarray, vth: np.ndarray,
                        vreset: np.ndarray, reset: np.ndarray, refractory: np.ndarray,
                        current: np.ndarray, spiking: np.ndarray, spikes: np.ndarray,
                        flags: np.ndarray, k: fixed.TianjicKernel) -> int:
    """update_tianjic() where neuron i has one accumulator, slot i (as update_loihi_flat):
    flags count the saturations (accumulator, u, v) in bits 1-3; returns their OR."""
    tasks = ring_t.shape[0] * n_chunks
    seen = np.zeros(tasks, dtype=np.int64)
    for task in prange(tasks):
        seen[task] = _tianjic_flat_task(task, n_chunks, ring_t, lshift, rshift, u, v, ref,
                                        au, av, ibias, beta, vth, vreset, reset, refractory,
                                        current, spiking, spikes, flags, k)
    return _or_all(seen)


@njit(cache=True)
def update_tianjic_flat_serial(n_chunks: int, ring_t: np.ndarray, lshift: np.ndarray,
                               rshift: int, u: np.ndarray, v: np.ndarray, ref: np.ndarray,
                               au: np.ndarray, av: np.ndarray, ibias: np.ndarray,
                               beta: np.ndarray, vth: np.ndarray, vreset: np.ndarray,
                               reset: np.ndarray, refractory: np.ndarray,
                               current: np.ndarray, spiking: np.ndarray, spikes: np.ndarray,
                               flags: np.ndarray, k: fixed.TianjicKernel) -> int:
    """update_tianjic_flat() on the calling thread."""
    out = 0
    for task in range(ring_t.shape[0] * n_chunks):
        out |= _tianjic_flat_task(task, n_chunks, ring_t, lshift, rshift, u, v, ref, au, av,
                                  ibias, beta, vth, vreset, reset, refractory, current,
                                  spiking, spikes, flags, k)
    return out


@njit(cache=True, parallel=True)
def update_loihi_flat(n_chunks: int, ring_t: np.ndarray, lshift: np.ndarray, rshift: int,
                      u: np.ndarray, v: np.ndarray, ref: np.ndarray, du: np.ndarray,
                      dv: np.ndarray, bias: np.ndarray, vth: np.ndarray, spikes: np.ndarray,
                      flags: np.ndarray, k: fixed.LoihiKernel) -> int:
    """update_loihi() where neuron i has one accumulator, slot i, and each one's shift by
    its exponent is (acc << lshift) >> rshift (RefSim's flat_soma): the same arithmetic,
    without the per-neuron slot loop. Per (sample, neuron) flags: bit 0 u wrapped, bits
    1-3 saturations, bit 4 input at or past k.input_limit; returns their OR over the batch
    (nonzero: read them with flag_events). Tasks (sample, chunk of neurons) on numba's
    threads."""
    tasks = ring_t.shape[0] * n_chunks
    seen = np.zeros(tasks, dtype=np.int64)
    for task in prange(tasks):
        seen[task] = _loihi_flat_task(task, n_chunks, ring_t, lshift, rshift, u, v, ref, du,
                                      dv, bias, vth, spikes, flags, k)
    return _or_all(seen)


@njit(cache=True)
def _or_all(seen: np.ndarray) -> int:
    """The OR of the tasks' flags."""
    out = 0
    for x in seen:
        out |= x
    return out


@njit(cache=True)
def update_loihi_flat_serial(n_chunks: int, ring_t: np.ndarray, lshift: np.ndarray,
                             rshift: int, u: np.ndarray, v: np.ndarray, ref: np.ndarray,
                             du: np.ndarray, dv: np.ndarray, bias: np.ndarray,
                             vth: np.ndarray, spikes: np.ndarray, flags: np.ndarray,
                             k: fixed.LoihiKernel) -> int:
    """update_loihi_flat() on the calling thread."""
    out = 0
    for task in range(ring_t.shape[0] * n_chunks):
        out |= _loihi_flat_task(task, n_chunks, ring_t, lshift, rshift, u, v, ref, du, dv,
                                bias, vth, spikes, flags, k)
    return out


@njit(cache=True)
def flag_events(flags: np.ndarray, layer: np.ndarray, events: np.ndarray,
                first_over: np.ndarray) -> None:
    """The flat somas' flags (B, n) into the range counters events[b, layer, (wraps,
    saturations)], and first_over[b]: sample b's lowest neuron whose input reached the
    limit, else -1."""
    for b in range(flags.shape[0]):
        first_over[b] = -1
        for i in range(flags.shape[1]):
            f = flags[b, i]
            if f:
                events[b, layer[i], 0] += f & 1
                events[b, layer[i], 1] += (f >> 1) & 7
                if f & 16 and first_over[b] < 0:
                    first_over[b] = i


@njit(cache=True)
def _tianjic_task(task: int, part_ptr: np.ndarray, part_neurons: np.ndarray,
                  ring_t: np.ndarray, slot_ptr: np.ndarray, exp: np.ndarray, u: np.ndarray,
                  v: np.ndarray, ref: np.ndarray, au: np.ndarray, av: np.ndarray,
                  ibias: np.ndarray, beta: np.ndarray, vth: np.ndarray, vreset: np.ndarray,
                  reset: np.ndarray, refractory: np.ndarray, current: np.ndarray,
                  spiking: np.ndarray, spikes: np.ndarray, layer: np.ndarray,
                  events: np.ndarray, k: fixed.TianjicKernel) -> None:
    """update_tianjic() for sample task // parts, the neurons of part task % parts."""
    n_parts = len(part_ptr) - 1
    b, p = task // n_parts, task % n_parts
    for ii in range(part_ptr[p], part_ptr[p + 1]):
        i = _neuron(part_neurons, ii)
        a = 0
        sats = 0
        for j in range(slot_ptr[i], slot_ptr[i + 1]):
            x, sat = fixed.tianjic_accumulate_scalar(np.int64(ring_t[b, j]), np.int64(exp[j]),
                                                     k)
            a += x
            sats += sat
            ring_t[b, j] = 0
        u[b, i], v[b, i], ref[b, i], spikes[b, i], sat = fixed.tianjic_neuron(
            np.int64(u[b, i]), np.int64(v[b, i]), np.int64(ref[b, i]), a, np.int64(au[i]),
            np.int64(av[i]), np.int64(ibias[i]), np.int64(beta[i]), np.int64(vth[i]),
            np.int64(vreset[i]), np.int64(reset[i]), np.int64(refractory[i]), current[i],
            spiking[i], k)
        sats += sat
        if sats:
            events[task, layer[i], 1] += sats


@njit(cache=True, parallel=True)
def update_tianjic(part_ptr: np.ndarray, part_neurons: np.ndarray, ring_t: np.ndarray,
                   slot_ptr: np.ndarray, exp: np.ndarray, u: np.ndarray, v: np.ndarray,
                   ref: np.ndarray, au: np.ndarray, av: np.ndarray, ibias: np.ndarray,
                   beta: np.ndarray, vth: np.ndarray, vreset: np.ndarray, reset: np.ndarray,
                   refractory: np.ndarray, current: np.ndarray, spiking: np.ndarray,
                   spikes: np.ndarray, layer: np.ndarray, events: np.ndarray,
                   k: fixed.TianjicKernel) -> None:
    """Soma phase, Tianjic: each accumulator saturated and shifted, summed per neuron, then
    compiler/fixed.py's tianjic_neuron; clears the accumulators it read. events[task, layer
    of the neuron, 1] counts saturations (accumulators, u, v). Tasks (sample, part, as in
    update_loihi) run on numba's threads."""
    for task in prange(ring_t.shape[0] * (len(part_ptr) - 1)):
        _tianjic_task(task, part_ptr, part_neurons, ring_t, slot_ptr, exp, u, v, ref, au, av,
                      ibias, beta, vth, vreset, reset, refractory, current, spiking, spikes,
                      layer, events, k)


@njit(cache=True)
def update_tianjic_serial(part_ptr: np.ndarray, part_neurons: np.ndarray,
                          ring_t: np.ndarray, slot_ptr: np.ndarray, exp: np.ndarray,
                          u: np.ndarray, v: np.ndarray, ref: np.ndarray, au: np.ndarray,
                          av: np.ndarray, ibias: np.ndarray, beta: np.ndarray,
                          vth: np.ndarray, vreset: np.ndarray, reset: np.ndarray,
                          refractory: np.ndarray, current: np.ndarray, spiking: np.ndarray,
                          spikes: np.ndarray, layer: np.ndarray, events: np.ndarray,
                          k: fixed.TianjicKernel) -> None:
    """update_tianjic() on the calling thread."""
    for task in range(ring_t.shape[0] * (len(part_ptr) - 1)):
        _tianjic_task(task, part_ptr, part_neurons, ring_t, slot_ptr, exp, u, v, ref, au, av,
                      ibias, beta, vth, vreset, reset, refractory, current, spiking, spikes,
                      layer, events, k)


@njit(cache=True)
def parts_consistent(entry_part: np.ndarray, entry_syn_ptr: np.ndarray, syn: np.ndarray,
                     slot_bits: int, slot_neuron: np.ndarray, neuron_part: np.ndarray) -> bool:
    """Every synapse of an entry writes a slot of a neuron of the entry's part: the parts'
    writes are disjoint (checked once per program before a run uses them)."""
    for e in range(len(entry_part)):
        for k in range(entry_syn_ptr[e], entry_syn_ptr[e + 1]):
            if neuron_part[slot_neuron[syn[k] & ((1 << slot_bits) - 1)]] != entry_part[e]:
                return False
    return True


@njit(cache=True)
def largest_sum(slot: np.ndarray, weight: np.ndarray, n_slots: int) -> int:
    """The largest sum of |weight| over the synapses of one slot: what one step can add into
    an accumulator; -1 if a slot is not in [0, n_slots) (the kernels would write outside
    the accumulators)."""
    acc = np.zeros(n_slots, dtype=np.int64)
    for k in range(len(slot)):
        if slot[k] < 0 or slot[k] >= n_slots:
            return -1
        acc[slot[k]] += abs(np.int64(weight[k]))
    return acc.max() if n_slots else 0


@njit(cache=True, nogil=True)
def pack_synapses(order: np.ndarray, syn_ptr: np.ndarray, slot: np.ndarray,
                  weight: np.ndarray, delay: np.ndarray, layer: np.ndarray, slot_bits: int,
                  delay_bits: int, new_ptr: np.ndarray, out: np.ndarray,
                  out_layer: np.ndarray) -> None:
    """The synapses of entries order[0], order[1], ... (entry e's: syn_ptr[e] up to
    syn_ptr[e + 1]) one after the other into out, each as weight << (slot_bits +
    delay_bits) | delay << slot_bits | slot (the caller checked that the three fit out's
    type; an empty delay is 0), with their layers (unless `layer` is empty); new_ptr: the
    entries' new synapse ranges."""
    k = 0
    new_ptr[0] = 0
    for i in range(len(order)):
        e = order[i]
        for j in range(syn_ptr[e], syn_ptr[e + 1]):
            d = np.int64(delay[j]) if len(delay) else np.int64(0)
            out[k] = ((np.int64(weight[j]) << (slot_bits + delay_bits)) | (d << slot_bits)
                      | np.int64(slot[j]))
            if len(layer):
                out_layer[k] = layer[j]
            k += 1
        new_ptr[i + 1] = k
