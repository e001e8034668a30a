"""Timing model of the reference simulator: per step, per sample, in target cycles.

Each core first does its synaptic operations (the events arriving this step), waits for the
partial sums of its dendrite cores, updates its neurons and then emits its spikes one after
another:

    ready(c)  = synops(c) * c_synop                              (partial-sum cores end here)
    start(c)  = max(ready(c), arrival of every partial sum it needs)
    done(c)   = start(c) + neurons(c) * c_update + spikes(c) * c_spike
    spike k of core c leaves at start(c) + neurons(c) * c_update + (k + 1) * c_spike

Packets move hop by hop along the XY route (the multicast tree or the relay chain of their
neuron). A link carries one packet at a time for `occupancy` cycles, and a hop takes
`hop_latency` cycles. Packets claim links in the order they leave (greedy first come, first
served). The step ends at a barrier: when the last core is done and the last packet has
arrived. Per step the model reports that latency, the critical core, and whether it fits
the target's budget.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

EAST, WEST, NORTH, SOUTH = 0, 1, 2, 3


@njit(cache=True)
def _hop(x: int, y: int, d: int, t: float, w: int, link_free: np.ndarray, lat: np.ndarray,
         occ: float, count: np.ndarray) -> float:
    """Claim the link leaving (x, y) in direction d at time t; return arrival time."""
    k = (y * w + x) * 4 + d
    dep = max(t, link_free[k])
    link_free[k] = dep + occ
    count[k] += 1
    return dep + lat[d]


@njit(cache=True)
def _walk(x0: int, y0: int, x1: int, y1: int, t: float, w: int, link_free: np.ndarray,
          lat: np.ndarray, occ: float, count: np.ndarray) -> float:
    """A unicast XY path; returns the arrival time at (x1, y1)."""
    x, y = x0, y0
    while x != x1:
        d = EAST if x1 > x else WEST
        t = _hop(x, y, d, t, w, link_free, lat, occ, count)
        x += 1 if d == EAST else -1
    while y != y1:
        d = NORTH if y1 > y else SOUTH
        t = _hop(x, y, d, t, w, link_free, lat, occ, count)
        y += 1 if d == NORTH else -1
    return t


@njit(cache=True)
def _tree(sx: int, sy: int, t0: float, dests: np.ndarray, gx: np.ndarray, gy: np.ndarray,
          w: int, link_free: np.ndarray, lat: np.ndarray, occ: float, count: np.ndarray,
          row_t: np.ndarray) -> float:
    """A multicast tree: along the source row, then up/down each destination column.
    Returns the last arrival time. row_t: scratch of w floats (the caller's, reused)."""
    last = t0
    row_t[sx] = t0
    xmax, xmin = sx, sx
    for d in dests:
        xmax = max(xmax, gx[d])
        xmin = min(xmin, gx[d])
    t = t0
    for x in range(sx, xmax):
        t = _hop(x, sy, EAST, t, w, link_free, lat, occ, count)
        row_t[x + 1] = t
    t = t0
    for x in range(sx, xmin, -1):
        t = _hop(x, sy, WEST, t, w, link_free, lat, occ, count)
        row_t[x - 1] = t
    for x in range(xmin, xmax + 1):
        ymax, ymin, hit = sy, sy, False
        for d in dests:
            if gx[d] == x:
                hit = True
                ymax = max(ymax, gy[d])
                ymin = min(ymin, gy[d])
        if not hit:
            continue
        last = max(last, row_t[x])
        t = row_t[x]
        for y in range(sy, ymax):
            t = _hop(x, y, NORTH, t, w, link_free, lat, occ, count)
            last = max(last, t)
        t = row_t[x]
        for y in range(sy, ymin, -1):
            t = _hop(x, y, SOUTH, t, w, link_free, lat, occ, count)
            last = max(last, t)
    return last


@njit(cache=True)
def step_latency(synops: np.ndarray, spikes_core: np.ndarray, fired: np.ndarray,
                 home: np.ndarray, core_neurons: np.ndarray, kind: np.ndarray,
                 soma: np.ndarray, gx: np.ndarray, gy: np.ndarray, w: int, h: int,
                 dest_ptr: np.ndarray, dests: np.ndarray, relay: bool, c_syn: float,
                 c_upd: float, c_spk: float, lat: np.ndarray, occ: float,
                 link_count: np.ndarray) -> tuple[float, int, float]:
    """(step latency, critical core, last packet arrival) of one sample's step.

    synops/spikes_core: per core; fired: neurons that spiked, sorted by home core then id;
    dest_ptr/dests: per neuron, its destination cores (relay: in chain order)."""
    nc = len(synops)
    link_free = np.zeros(w * h * 4)
    ready = synops * c_syn
    start = ready.copy()
    # partial sums: one value per neuron, sent when the partial core is ready
    for c in range(nc):
        if kind[c] == 1:
            s = soma[c]
            t = ready[c]
            for _ in range(core_neurons[c]):
                t_arr = _walk(gx[c], gy[c], gx[s], gy[s], t, w, link_free, lat, occ,
                              link_count)
                start[s] = max(start[s], t_arr)
    done = np.empty(nc)
    for c in range(nc):
        if kind[c] == 1:
            done[c] = ready[c]
        else:
            done[c] = start[c] + core_neurons[c] * c_upd + spikes_core[c] * c_spk
    last = 0.0
    k_in_core = np.zeros(nc, dtype=np.int64)
    row_t = np.empty(w)
    for i in range(len(fired)):
        n = fired[i]
        c = home[n]
        k_in_core[c] += 1
        t0 = start[c] + core_neurons[c] * c_upd + k_in_core[c] * c_spk
        lo, hi = dest_ptr[n], dest_ptr[n + 1]
        if hi == lo:
            continue
        if relay:
            t = t0
            x, y = gx[c], gy[c]
            for j in range(lo, hi):
                d = dests[j]
                t = _walk(x, y, gx[d], gy[d], t, w, link_free, lat, occ, link_count)
                x, y = gx[d], gy[d]
            last = max(last, t)
        elif hi - lo == 1:  # one destination: its tree is the XY path, hop for hop
            d = dests[lo]
            last = max(last, _walk(gx[c], gy[c], gx[d], gy[d], t0, w, link_free, lat, occ,
                                   link_count))
        else:
            last = max(last, _tree(gx[c], gy[c], t0, dests[lo:hi], gx, gy, w, link_free,
                                   lat, occ, link_count, row_t))
    crit = 0
    for c in range(nc):
        if done[c] > done[crit]:
            crit = c
    return max(done[crit], last), crit, last


@njit(cache=True, parallel=True)
def batch_latency(arriving: np.ndarray, ev_ptr: np.ndarray, ev_src: np.ndarray, n: int,
                  home: np.ndarray, core_neurons: np.ndarray, kind: np.ndarray,
                  soma: np.ndarray, gx: np.ndarray, gy: np.ndarray, w: int, h: int,
                  dest_ptr: np.ndarray, dests: np.ndarray, relay: bool, c_syn: float,
                  c_upd: float, c_spk: float, lat: np.ndarray, occ: float,
                  links: np.ndarray, latency: np.ndarray, critical: np.ndarray) -> None:
    """step_latency() of every sample of a step, samples on numba's threads: arriving
    (B, cores) synaptic ops; sample b's events are ev_src[ev_ptr[b]:ev_ptr[b+1]] (ascending,
    neurons below n); its packets are counted into links[b] (one row of links a sample);
    latency[b] and critical[b] are set."""
    nc = len(core_neurons)
    for b in prange(len(ev_ptr) - 1):
        lo, m = ev_ptr[b], ev_ptr[b]
        while m < ev_ptr[b + 1] and ev_src[m] < n:
            m += 1
        per_core = np.zeros(nc)
        at = np.zeros(nc + 1, dtype=np.int64)
        for j in range(lo, m):
            at[home[ev_src[j]] + 1] += 1
        for c in range(nc):
            per_core[c] = at[c + 1]
            at[c + 1] += at[c]
        fired = np.empty(m - lo, dtype=ev_src.dtype)  # by home core, then id: counting sort
        for j in range(lo, m):
            c = home[ev_src[j]]
            fired[at[c]] = ev_src[j]
            at[c] += 1
        latency[b], critical[b], _ = step_latency(
            arriving[b].astype(np.float64), per_core, fired, home, core_neurons, kind, soma,
            gx, gy, w, h, dest_ptr, dests, relay, c_syn, c_upd, c_spk, lat, occ, links[b])
