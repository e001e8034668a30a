"""numba kernels of the reference simulator, parallel over the samples of a batch (each
sample owns its slice of the state, so threads never share a write): event-driven spike
delivery, and the soma phase, which calls the scalar arithmetic of compiler/fixed.py. Each
kernel has a `_serial` twin (the same per-sample body on the calling thread) for a batch of
one, which would otherwise pay the thread pool's entry every step for no parallel work."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from numba import njit, prange
from snnc.compiler import fixed


def _drop_stale_cache() -> None:
    """numba's on-disk cache is keyed on this file only, not on compiler/fixed.py whose
    scalar arithmetic the kernels inline: when fixed.py changes, drop the cached kernels
    (a stale kernel would compute the old arithmetic without a word)."""
    cache = Path(__file__).parent / "__pycache__"
    stamp = cache / "refsim_kernels.fixed.sha256"
    digest = hashlib.sha256(Path(fixed.__file__).read_bytes()).hexdigest()
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


@njit(cache=True)
def _deliver_sample(b: int, ev_ptr: np.ndarray, ev_src: np.ndarray, base: int,
                    src_ptr: np.ndarray, src_entry: np.ndarray, entry_core: np.ndarray,
                    entry_syn_ptr: np.ndarray, syn_slot: np.ndarray, syn_w: np.ndarray,
                    syn_d: np.ndarray, ring: np.ndarray, synops: np.ndarray,
                    core_ring: np.ndarray, timed: bool, syn_layer: np.ndarray,
                    entry_layer: np.ndarray, layer_synops: np.ndarray) -> None:
    """deliver() for sample b."""
    depth = ring.shape[0]
    for i in range(ev_ptr[b], ev_ptr[b + 1]):
        s = ev_src[i]
        for j in range(src_ptr[s], src_ptr[s + 1]):
            e = src_entry[j]
            lo, hi = entry_syn_ptr[e], entry_syn_ptr[e + 1]
            c = entry_core[e]
            synops[b, c] += hi - lo
            if timed:  # per target layer: once per entry when all its synapses share one
                if entry_layer[e] >= 0:
                    layer_synops[b, entry_layer[e]] += hi - lo
                else:
                    for k in range(lo, hi):
                        layer_synops[b, syn_layer[k]] += 1
            if depth == 1:
                for k in range(lo, hi):
                    ring[0, b, syn_slot[k]] += syn_w[k]
                if timed:
                    core_ring[0, b, c] += hi - lo
            else:
                for k in range(lo, hi):
                    r = base + syn_d[k]
                    if r >= depth:
                        r -= depth
                    ring[r, b, syn_slot[k]] += syn_w[k]
                    if timed:
                        core_ring[r, b, c] += 1


@njit(cache=True, parallel=True)
def deliver(ev_ptr: np.ndarray, ev_src: np.ndarray, t: int, src_ptr: np.ndarray,
            src_entry: np.ndarray, entry_core: np.ndarray, entry_syn_ptr: np.ndarray,
            syn_slot: np.ndarray, syn_w: np.ndarray, syn_d: np.ndarray, ring: np.ndarray,
            synops: np.ndarray, core_ring: np.ndarray, timed: bool, syn_layer: np.ndarray,
            entry_layer: np.ndarray, layer_synops: np.ndarray) -> None:
    """Events of sample b are ev_src[ev_ptr[b]:ev_ptr[b+1]] (sources sent at step t). Through
    every axon entry a source reaches, add each synapse's weight to its slot at step
    t + 1 + delay. Count synaptic ops per (sample, core) in synops (when sent) and, if timed,
    per (arrival step, sample, core) in core_ring and per (sample, target layer) in
    layer_synops (entry_layer: the one layer of an entry's synapses, or -1). Samples run on
    numba's threads."""
    base = (t + 1) % ring.shape[0]
    for b in prange(len(ev_ptr) - 1):
        _deliver_sample(b, ev_ptr, ev_src, base, src_ptr, src_entry, entry_core,
                        entry_syn_ptr, syn_slot, syn_w, syn_d, ring, synops, core_ring, timed,
                        syn_layer, entry_layer, layer_synops)


@njit(cache=True)
def deliver_serial(ev_ptr: np.ndarray, ev_src: np.ndarray, t: int, src_ptr: np.ndarray,
                   src_entry: np.ndarray, entry_core: np.ndarray, entry_syn_ptr: np.ndarray,
                   syn_slot: np.ndarray, syn_w: np.ndarray, syn_d: np.ndarray,
                   ring: np.ndarray, synops: np.ndarray, core_ring: np.ndarray, timed: bool,
                   syn_layer: np.ndarray, entry_layer: np.ndarray,
                   layer_synops: np.ndarray) -> None:
    """deliver() on the calling thread: a batch of one pays no thread-pool entry."""
    base = (t + 1) % ring.shape[0]
    for b in range(len(ev_ptr) - 1):
        _deliver_sample(b, ev_ptr, ev_src, base, src_ptr, src_entry, entry_core,
                        entry_syn_ptr, syn_slot, syn_w, syn_d, ring, synops, core_ring, timed,
                        syn_layer, entry_layer, layer_synops)


@njit(cache=True)
def _loihi_sample(b: int, ring_t: np.ndarray, slot_ptr: np.ndarray, exp: np.ndarray,
                  u: np.ndarray, v: np.ndarray, ref: np.ndarray, du: np.ndarray, dv: np.ndarray,
                  bias: np.ndarray, vth: np.ndarray, spikes: np.ndarray,
                  overflow: np.ndarray, layer: np.ndarray, events: np.ndarray,
                  k: fixed.LoihiKernel) -> None:
    """update_loihi() for sample b."""
    overflow[b] = -1
    for i in range(len(slot_ptr) - 1):
        a = 0
        for j in range(slot_ptr[i], slot_ptr[i + 1]):
            a += fixed.shift_sum_scalar(ring_t[b, j], exp[j])
            ring_t[b, j] = 0
        if abs(a << k.act_shift) >= k.input_limit and overflow[b] < 0:
            overflow[b] = i
        u[b, i], v[b, i], ref[b, i], spikes[b, i], wrapped, sat = fixed.loihi_neuron(
            u[b, i], v[b, i], ref[b, i], a, du[i], dv[i], bias[i], vth[i], k)
        if wrapped or sat:
            events[b, layer[i], 0] += wrapped
            events[b, layer[i], 1] += sat


@njit(cache=True, parallel=True)
def update_loihi(ring_t: np.ndarray, slot_ptr: np.ndarray, exp: np.ndarray, u: np.ndarray,
                 v: np.ndarray, ref: np.ndarray, du: np.ndarray, dv: np.ndarray, bias: np.ndarray,
                 vth: np.ndarray, spikes: np.ndarray, overflow: np.ndarray,
                 layer: np.ndarray, events: np.ndarray, k: fixed.LoihiKernel) -> None:
    """Soma phase, Loihi: each accumulator shifted by its projection's exponent, summed per
    neuron, then compiler/fixed.py's loihi_neuron; clears the accumulators it read.
    overflow[b] = first neuron whose shifted input reaches k.input_limit (where Lava's
    arithmetic wraps), else -1. events[b, layer of the neuron] counts u wraps and v
    saturations. Samples run on numba's threads."""
    for b in prange(ring_t.shape[0]):
        _loihi_sample(b, ring_t, slot_ptr, exp, u, v, ref, du, dv, bias, vth, spikes,
                      overflow, layer, events, k)


@njit(cache=True)
def update_loihi_serial(ring_t: np.ndarray, slot_ptr: np.ndarray, exp: np.ndarray,
                        u: np.ndarray, v: np.ndarray, ref: np.ndarray, du: np.ndarray,
                        dv: np.ndarray, bias: np.ndarray, vth: np.ndarray, spikes: np.ndarray,
                        overflow: np.ndarray, layer: np.ndarray, events: np.ndarray,
                        k: fixed.LoihiKernel) -> None:
    """update_loihi() on the calling thread."""
    for b in range(ring_t.shape[0]):
        _loihi_sample(b, ring_t, slot_ptr, exp, u, v, ref, du, dv, bias, vth, spikes,
                      overflow, layer, events, k)


@njit(cache=True)
def _tianjic_sample(b: int, ring_t: np.ndarray, slot_ptr: np.ndarray, exp: np.ndarray,
                    u: np.ndarray, v: np.ndarray, ref: np.ndarray, au: np.ndarray,
                    av: np.ndarray, ibias: np.ndarray, beta: np.ndarray, vth: np.ndarray,
                    vreset: np.ndarray, reset: np.ndarray, refractory: np.ndarray,
                    current: np.ndarray, spiking: np.ndarray, spikes: np.ndarray,
                    layer: np.ndarray, events: np.ndarray, k: fixed.TianjicKernel) -> None:
    """update_tianjic() for sample b."""
    for i in range(len(slot_ptr) - 1):
        a = 0
        sats = 0
        for j in range(slot_ptr[i], slot_ptr[i + 1]):
            x, sat = fixed.tianjic_accumulate_scalar(ring_t[b, j], exp[j], k)
            a += x
            sats += sat
            ring_t[b, j] = 0
        u[b, i], v[b, i], ref[b, i], spikes[b, i], sat = fixed.tianjic_neuron(
            u[b, i], v[b, i], ref[b, i], a, au[i], av[i], ibias[i], beta[i], vth[i],
            vreset[i], reset[i], refractory[i], current[i], spiking[i], k)
        sats += sat
        if sats:
            events[b, layer[i], 1] += sats


@njit(cache=True, parallel=True)
def update_tianjic(ring_t: np.ndarray, slot_ptr: np.ndarray, exp: np.ndarray, u: np.ndarray,
                   v: np.ndarray, ref: np.ndarray, au: np.ndarray, av: np.ndarray,
                   ibias: np.ndarray, beta: np.ndarray, vth: np.ndarray, vreset: np.ndarray,
                   reset: np.ndarray, refractory: np.ndarray, current: np.ndarray,
                   spiking: np.ndarray, spikes: np.ndarray, layer: np.ndarray,
                   events: np.ndarray, k: fixed.TianjicKernel) -> None:
    """Soma phase, Tianjic: each accumulator saturated and shifted, summed per neuron, then
    compiler/fixed.py's tianjic_neuron; clears the accumulators it read. events[b, layer of
    the neuron, 1] counts saturations (accumulators, u, v). Samples run on numba's
    threads."""
    for b in prange(ring_t.shape[0]):
        _tianjic_sample(b, ring_t, slot_ptr, exp, u, v, ref, au, av, ibias, beta, vth, vreset,
                        reset, refractory, current, spiking, spikes, layer, events, k)


@njit(cache=True)
def update_tianjic_serial(ring_t: np.ndarray, slot_ptr: np.ndarray, exp: np.ndarray,
                          u: np.ndarray, v: np.ndarray, ref: np.ndarray, au: np.ndarray,
                          av: np.ndarray, ibias: np.ndarray, beta: np.ndarray,
                          vth: np.ndarray, vreset: np.ndarray, reset: np.ndarray,
                          refractory: np.ndarray, current: np.ndarray, spiking: np.ndarray,
                          spikes: np.ndarray, layer: np.ndarray, events: np.ndarray,
                          k: fixed.TianjicKernel) -> None:
    """update_tianjic() on the calling thread."""
    for b in range(ring_t.shape[0]):
        _tianjic_sample(b, ring_t, slot_ptr, exp, u, v, ref, au, av, ibias, beta, vth, vreset,
                        reset, refractory, current, spiking, spikes, layer, events, k)
