"""numba kernels of the reference simulator: event-driven spike delivery, parallel over the
samples of a batch (each sample owns its slice of the accumulators, so threads never share a
write)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def deliver(ev_ptr: np.ndarray, ev_src: np.ndarray, t: int, src_ptr: np.ndarray,
            src_entry: np.ndarray, entry_core: np.ndarray, entry_syn_ptr: np.ndarray,
            syn_slot: np.ndarray, syn_w: np.ndarray, syn_d: np.ndarray, ring: np.ndarray,
            synops: np.ndarray, core_ring: np.ndarray, timed: bool, syn_layer: np.ndarray,
            layer_synops: np.ndarray) -> None:
    """Events of sample b are ev_src[ev_ptr[b]:ev_ptr[b+1]] (sources sent at step t). Through
    every axon entry a source reaches, add each synapse's weight to its slot at step
    t + 1 + delay. Count synaptic ops per (sample, core) in synops (when sent) and, if timed,
    per (arrival step, sample, core) in core_ring and per (sample, target layer) in
    layer_synops."""
    depth = ring.shape[0]
    base = (t + 1) % depth
    for b in prange(len(ev_ptr) - 1):
        for i in range(ev_ptr[b], ev_ptr[b + 1]):
            s = ev_src[i]
            for j in range(src_ptr[s], src_ptr[s + 1]):
                e = src_entry[j]
                lo, hi = entry_syn_ptr[e], entry_syn_ptr[e + 1]
                c = entry_core[e]
                synops[b, c] += hi - lo
                if depth == 1:
                    for k in range(lo, hi):
                        ring[0, b, syn_slot[k]] += syn_w[k]
                    if timed:
                        core_ring[0, b, c] += hi - lo
                        for k in range(lo, hi):
                            layer_synops[b, syn_layer[k]] += 1
                else:
                    for k in range(lo, hi):
                        r = base + syn_d[k]
                        if r >= depth:
                            r -= depth
                        ring[r, b, syn_slot[k]] += syn_w[k]
                        if timed:
                            core_ring[r, b, c] += 1
                            layer_synops[b, syn_layer[k]] += 1
