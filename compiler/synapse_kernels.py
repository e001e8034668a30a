"""The linear-time loops of partition, compiled with numba: sorting synapses by a small integer
key, linking each synapse to the previous one from the same source, and the distinct sources
of a run of synapses. Each replaces a sort of the whole synapse list (n log n, and a copy) by
one pass over it.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def counting_order(key: np.ndarray, n_keys: int) -> np.ndarray:
    """The stable argsort of `key` (integers in [0, n_keys)), by counting."""
    start = np.zeros(n_keys + 1, dtype=np.int64)
    for i in range(len(key)):
        start[key[i] + 1] += 1
    for k in range(n_keys):
        start[k + 1] += start[k]
    out = np.empty(len(key), dtype=np.int64)
    for i in range(len(key)):
        k = key[i]
        out[start[k]] = i
        start[k] += 1
    return out


@njit(cache=True, nogil=True)
def previous_position(src: np.ndarray, pos: np.ndarray, n_src: int) -> np.ndarray:
    """For synapses sorted by target position: the position of the previous synapse from the
    same source (-1 for its first). A run of positions [lo, hi) needs a new axon for every
    synapse whose previous position is below lo."""
    last = np.full(n_src, -1, dtype=np.int64)
    out = np.empty(len(src), dtype=np.int64)
    for i in range(len(src)):
        s = src[i]
        out[i] = last[s]
        last[s] = pos[i]
    return out


@njit(cache=True, nogil=True)
def distinct_sources(src: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """The distinct values of `src`, sorted; `seen` is an all-False scratch array over every
    source id, left all-False again."""
    k = 0
    out = np.empty(len(src), dtype=np.int64)
    for i in range(len(src)):
        s = src[i]
        if not seen[s]:
            seen[s] = True
            out[k] = s
            k += 1
    out = np.sort(out[:k])
    for i in range(k):
        seen[out[i]] = False
    return out


@njit(cache=True, nogil=True)
def inverse_of(src: np.ndarray, values: np.ndarray, slot: np.ndarray) -> np.ndarray:
    """Index of each `src` in the sorted distinct `values`; `slot` is scratch over every
    source id (only the entries of `values` are written)."""
    for j in range(len(values)):
        slot[values[j]] = j
    out = np.empty(len(src), dtype=np.int64)
    for i in range(len(src)):
        out[i] = slot[src[i]]
    return out


@njit(cache=True, nogil=True)
def axon_entries(syn_core: np.ndarray, src: np.ndarray, axon_ptr: np.ndarray,
                 axons: np.ndarray, n_src: int) -> np.ndarray:
    """Index into `axons` (CSR per core) of each synapse's (core, source) entry, -1 where its
    core has no axon for its source."""
    nc = len(axon_ptr) - 1
    order = counting_order(syn_core, nc)
    slot = np.zeros(n_src, dtype=np.int64)
    stamp = np.full(n_src, -1, dtype=np.int64)
    out = np.empty(len(src), dtype=np.int64)
    i = 0
    for c in range(nc):
        for j in range(axon_ptr[c], axon_ptr[c + 1]):
            stamp[axons[j]] = c
            slot[axons[j]] = j
        while i < len(order) and syn_core[order[i]] == c:
            k = order[i]
            s = src[k]
            out[k] = slot[s] if stamp[s] == c else -1
            i += 1
    return out


@njit(cache=True, nogil=True)
def accumulator_slots(dst: np.ndarray, key: np.ndarray, n_neurons: int, n_keys: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One accumulator slot per distinct (neuron, key), numbered by neuron then key (key =
    projection x delays + delay): (slot of each synapse, CSR slot_ptr per neuron, key of
    each slot)."""
    order = counting_order(dst, n_neurons)
    rank = np.full(n_keys, -1, dtype=np.int64)
    buf = np.empty(n_keys, dtype=np.int64)
    slot_ptr = np.zeros(n_neurons + 1, dtype=np.int64)
    syn_slot = np.empty(len(dst), dtype=np.int64)
    slot_key = np.empty(len(dst), dtype=np.int64)
    ns, i, n = 0, 0, len(order)
    for d in range(n_neurons):
        j0 = i
        while i < n and dst[order[i]] == d:
            i += 1
        m = 0
        for j in range(j0, i):
            k = key[order[j]]
            if rank[k] < 0:
                rank[k] = 0
                buf[m] = k
                m += 1
        ks = np.sort(buf[:m])
        for r in range(m):
            rank[ks[r]] = ns + r
            slot_key[ns + r] = ks[r]
        for j in range(j0, i):
            syn_slot[order[j]] = rank[key[order[j]]]
        for r in range(m):
            rank[ks[r]] = -1
        ns += m
        slot_ptr[d + 1] = ns
    return syn_slot, slot_ptr, slot_key[:ns].copy()


@njit(cache=True, nogil=True)
def plain_run(lo: int, end: int, ip: np.ndarray, prev: np.ndarray, mem1: np.ndarray,
              fan: np.ndarray, A: int, O: int, M: int) -> int:
    """Neurons, from position `lo` (at most up to `end`), that one core holds: the longest
    run whose new input axons (synapses whose source was not seen since `lo`), synapse
    memory bits and fan-out stay within A, M and O. Linear in the run's synapses."""
    ax = 0
    mem = 0
    fo = 0
    p = lo
    while p < end:
        for s in range(ip[p], ip[p + 1]):
            if prev[s] < lo:
                ax += 1
        mem += mem1[p]
        fo += fan[p]
        if ax > A or mem > M or fo > O:
            break
        p += 1
    return p - lo


@njit(cache=True, nogil=True)
def conv_expand(nonzero: np.ndarray, op_i: np.ndarray, kp_i: np.ndarray, in_sp: np.ndarray,
                n_opos: int, n_isp: int, groups: int) -> tuple[np.ndarray, np.ndarray,
                                                               np.ndarray]:
    """(rows, cols, tap) of a convolution's synapses whose tap is non-zero, in the order
    (output channel, input channel, valid (output pixel, kernel offset) pair): `nonzero` is
    (c_out, c_in per group, kernel offsets); the pairs give each one's input pixel in_sp."""
    c_out, c_in_g, n_kpos = nonzero.shape
    c_out_g = c_out // groups
    total = 0
    for co in range(c_out):
        for ci in range(c_in_g):
            for q in range(len(op_i)):
                if nonzero[co, ci, kp_i[q]]:
                    total += 1
    rows = np.empty(total, dtype=np.int64)
    cols = np.empty(total, dtype=np.int64)
    taps = np.empty(total, dtype=np.int64)
    k = 0
    for co in range(c_out):
        g = co // c_out_g
        for ci_l in range(c_in_g):
            ci = g * c_in_g + ci_l
            for q in range(len(op_i)):
                kp = kp_i[q]
                if nonzero[co, ci_l, kp]:
                    rows[k] = co * n_opos + op_i[q]
                    cols[k] = ci * n_isp + in_sp[q]
                    taps[k] = (co * c_in_g + ci_l) * n_kpos + kp
                    k += 1
    return rows, cols, taps


@njit(cache=True, nogil=True)
def relay_chains(core: np.ndarray, neuron: np.ndarray, to: np.ndarray, home: np.ndarray,
                 n_neurons: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Relay routing: per neuron, the cores its packet passes, following its table entries
    (core, neuron) -> to from its home core. Returns (ptr, cores, -1) or, for a chain that
    breaks, (ptr, cores, that neuron)."""
    order = counting_order(neuron, n_neurons)
    ptr = np.zeros(n_neurons + 1, dtype=np.int64)
    for i in range(len(neuron)):
        ptr[neuron[i] + 1] += 1
    for s in range(n_neurons):
        ptr[s + 1] += ptr[s]
    dests = np.empty(len(neuron), dtype=np.int64)
    for s in range(n_neurons):
        lo, hi = ptr[s], ptr[s + 1]
        at = home[s]
        for i in range(lo, hi):
            nxt = -1
            for j in range(lo, hi):  # the entry of this neuron on core `at`
                e = order[j]
                if core[e] == at:
                    nxt = to[e]
                    break
            if nxt < 0:
                return ptr, dests, s
            at = nxt
            dests[i] = at
    return ptr, dests, -1
