"""The linear-time loops of partition, compiled with numba: sorting synapses by a small integer
key, linking each synapse to the previous one from the same source (by its distance), and the
distinct sources of a run of synapses. Each replaces a sort of the whole synapse list (n log n,
and a copy) by one pass over it.
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange
from snnc.compiler.dtypes import index_type


@njit(cache=True, nogil=True)
def _order_into(key: np.ndarray, n_keys: int, out: np.ndarray) -> None:
    start = np.zeros(n_keys + 1, dtype=np.int64)
    for i in range(len(key)):
        start[key[i] + 1] += 1
    for k in range(n_keys):
        start[k + 1] += start[k]
    for i in range(len(key)):
        k = key[i]
        out[start[k]] = i
        start[k] += 1


def counting_order(key: np.ndarray, n_keys: int) -> np.ndarray:
    """The stable argsort of `key` (integers in [0, n_keys)), by counting; int32 indices
    unless there are 2^31 keys or more."""
    out = np.empty(len(key), dtype=index_type(len(key)))
    _order_into(key, n_keys, out)
    return out


def source_gaps(src: np.ndarray, pos: np.ndarray, n_src: int, run_max: int) -> np.ndarray:
    """For synapses sorted by target position: how many positions back the previous synapse
    from the same source is, capped at `run_max` (also for a source's first synapse). A run
    of at most `run_max` positions [lo, hi) needs a new axon for each synapse at p whose gap
    exceeds p - lo, which the cap keeps exact; the cap lets the gaps be uint16 (2 bytes a
    synapse, not a position's 4) wherever a core holds fewer than 2^16 neurons."""
    out = np.empty(len(src), dtype=np.uint16 if run_max < 1 << 16 else np.uint32)
    _gaps_into(src, pos, n_src, run_max, out)
    return out


@njit(cache=True, nogil=True)
def _gaps_into(src: np.ndarray, pos: np.ndarray, n_src: int, run_max: int, out: np.ndarray
               ) -> None:
    last = np.full(n_src, -run_max - 1, dtype=np.int64)
    for i in range(len(src)):
        s = src[i]
        p = np.int64(pos[i])
        out[i] = min(p - last[s], run_max)
        last[s] = p


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
def add_distinct(src: np.ndarray, seen: np.ndarray, counts: np.ndarray) -> None:
    """counts[s] += 1 for each distinct s of `src` (distinct_sources without the
    synapse-sized list: a population's synapses can be an eighth of 1G); `seen` as there."""
    for i in range(len(src)):
        s = src[i]
        if not seen[s]:
            seen[s] = True
            counts[s] += 1
    for i in range(len(src)):
        seen[src[i]] = False


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
def _find(axons: np.ndarray, lo: int, hi: int, s: int) -> int:
    """Index of s in the sorted axons[lo:hi] (binary search), or -1."""
    end = hi
    while lo < hi:
        mid = (lo + hi) // 2
        if axons[mid] < s:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < end and axons[lo] == s else -1


def axon_entries(syn_core: np.ndarray, src: np.ndarray, axon_ptr: np.ndarray,
                 axons: np.ndarray, n_src: int, by_core: np.ndarray | None = None
                 ) -> np.ndarray:
    """Index into `axons` (CSR per core, sorted per core) of each synapse's (core, source)
    entry, -1 where its core has no axon for its source: each core looks its synapses'
    sources up in a table of its axons, run by run where a core's synapses come in few runs
    (a partition cuts positions into runs), else after grouping them by core (`by_core`: the
    caller's counting_order(syn_core), when it has one). Linear."""
    it = index_type(len(axons) + 1)
    out = np.empty(len(src), dtype=it)
    table = np.full(n_src, -1, dtype=it)
    if _run_cost(syn_core, axon_ptr) <= len(src) + len(axons):
        _entries_grouped(np.zeros(0, dtype=np.int64), syn_core, src, axon_ptr, axons, table,
                         out)
    else:  # synapses of a core scattered (partial-sum cores): group them by core first
        if by_core is None:
            by_core = counting_order(syn_core, len(axon_ptr) - 1)
        _entries_grouped(by_core, syn_core, src, axon_ptr, axons, table, out)
    return out


@njit(cache=True, nogil=True)
def _run_cost(syn_core: np.ndarray, axon_ptr: np.ndarray) -> int:
    """Axons the run-by-run lookup would load: each run of one core loads all of its."""
    cost = 0
    for i in range(len(syn_core)):
        if i == 0 or syn_core[i] != syn_core[i - 1]:
            c = syn_core[i]
            cost += axon_ptr[c + 1] - axon_ptr[c]
    return cost


@njit(cache=True, nogil=True)
def _mark_axons(table: np.ndarray, axons: np.ndarray, lo: int, hi: int, on: bool) -> None:
    """table[source] = its entry for the axons[lo:hi] of one core (on), or -1 again."""
    for a in range(lo, hi):
        table[axons[a]] = a if on else -1


@njit(cache=True, nogil=True)
def _entries_grouped(order: np.ndarray, syn_core: np.ndarray, src: np.ndarray,
                     axon_ptr: np.ndarray, axons: np.ndarray, table: np.ndarray,
                     out: np.ndarray) -> None:
    """axon_entries() over the synapses in `order` (grouped by core; an empty order: the
    synapses as they are, in runs of one core); `table` is -1 over every source id, left
    so."""
    n = len(order) if len(order) else len(src)
    i = 0
    while i < n:
        c = syn_core[order[i] if len(order) else i]
        j = i
        while j < n and syn_core[order[j] if len(order) else j] == c:
            j += 1
        _mark_axons(table, axons, axon_ptr[c], axon_ptr[c + 1], True)
        for q in range(i, j):
            k = order[q] if len(order) else q
            out[k] = table[src[k]]
        _mark_axons(table, axons, axon_ptr[c], axon_ptr[c + 1], False)
        i = j


def accumulator_slots(dst: np.ndarray, key: np.ndarray, n_neurons: int, n_keys: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One accumulator slot per distinct (neuron, key), numbered by neuron then key (key =
    projection x delays + delay): (slot of each synapse, CSR slot_ptr per neuron, key of
    each slot)."""
    syn_slot = np.empty(len(dst), dtype=index_type(len(dst) + 1))
    slot_ptr, slot_key = _slots_into(dst, key, n_neurons, n_keys,
                                     counting_order(dst, n_neurons), syn_slot)
    return syn_slot, slot_ptr, slot_key


@njit(cache=True, nogil=True)
def _slots_into(dst: np.ndarray, key: np.ndarray, n_neurons: int, n_keys: int,
                order: np.ndarray, syn_slot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rank = np.full(n_keys, -1, dtype=np.int64)
    buf = np.empty(n_keys, dtype=np.int64)
    slot_ptr = np.zeros(n_neurons + 1, dtype=np.int64)
    slot_key = np.empty(min(len(dst), n_neurons * n_keys), dtype=np.int64)
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
    return slot_ptr, slot_key[:ns].copy()


@njit(cache=True, nogil=True)
def plain_run(lo: int, end: int, ip: np.ndarray, gap: np.ndarray, mem1: np.ndarray,
              fan: np.ndarray, A: int, O: int, M: int) -> int:
    """Neurons, from position `lo` (at most up to `end`, end - lo at most source_gaps'
    run_max), that one core holds: the longest run whose new input axons (synapses whose
    source was not seen since `lo`), synapse memory bits and fan-out stay within A, M and O.
    Linear in the run's synapses."""
    ax = 0
    mem = 0
    fo = 0
    p = lo
    while p < end:
        for s in range(ip[p], ip[p + 1]):
            if gap[s] > p - lo:
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
    order = np.empty(len(neuron), dtype=np.int64)
    _order_into(neuron, n_neurons, order)
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


@njit(cache=True, nogil=True)
def sparse_positions(indptr: np.ndarray, weight: np.ndarray, dst_off: int,
                     position: np.ndarray, at: int, out_pos: np.ndarray) -> int:
    """Target positions of the non-zero synapses of a CSR projection (rows = targets), in
    row order, written from index `at`; returns the next free index."""
    k = at
    for r in range(len(indptr) - 1):
        p = position[r + dst_off]
        for j in range(indptr[r], indptr[r + 1]):
            if weight[j] != 0:
                out_pos[k] = p
                k += 1
    return k


@njit(cache=True, nogil=True)
def position_starts(pos: np.ndarray, n: int) -> np.ndarray:
    """Where each position's synapses start in the table sorted by position."""
    start = np.zeros(n + 1, dtype=np.int64)
    for i in range(len(pos)):
        start[pos[i] + 1] += 1
    for k in range(n):
        start[k + 1] += start[k]
    return start


@njit(cache=True, nogil=True)
def sparse_scatter(indptr: np.ndarray, indices: np.ndarray, weight: np.ndarray,
                   delay: np.ndarray, src_off: int, dst_off: int, position: np.ndarray,
                   k: int, start: np.ndarray, out_pos: np.ndarray, out_src: np.ndarray,
                   out_w: np.ndarray, out_d: np.ndarray, out_proj: np.ndarray) -> None:
    """Place the non-zero synapses of a CSR projection (index k) at their slots of the
    table sorted by position (`start` advances), in the order sparse_positions saw them."""
    for r in range(len(indptr) - 1):
        p = position[r + dst_off]
        for j in range(indptr[r], indptr[r + 1]):
            if weight[j] != 0:
                i = start[p]
                start[p] += 1
                out_pos[i] = p
                out_src[i] = indices[j] + src_off
                out_w[i] = weight[j]
                out_d[i] = delay[j]
                out_proj[i] = k


@njit(cache=True, nogil=True)
def coo_scatter(pos: np.ndarray, src: np.ndarray, weight: np.ndarray, delay: np.ndarray,
                k: int, start: np.ndarray, out_pos: np.ndarray, out_src: np.ndarray,
                out_w: np.ndarray, out_d: np.ndarray, out_proj: np.ndarray) -> None:
    """sparse_scatter for synapses given as arrays (dense and conv projections)."""
    for j in range(len(pos)):
        p = pos[j]
        i = start[p]
        start[p] += 1
        out_pos[i] = p
        out_src[i] = src[j]
        out_w[i] = weight[j]
        out_d[i] = delay[j]
        out_proj[i] = k


@njit(cache=True, parallel=True)
def unaddressed(syn_core: np.ndarray, src: np.ndarray, axon_ptr: np.ndarray,
                axons: np.ndarray) -> tuple[int, int]:
    """(first synapse whose source is not on its core's axon list, first axon entry that
    carries no synapse); -1 for none. Axon lists must be sorted per core (binary search: no
    per-synapse array is allocated). Chunks of synapses run on numba's threads; `used` is
    only ever set to True, so their writes to it commute."""
    used = np.zeros(len(axons), dtype=np.bool_)
    n, chunks = len(src), 64
    step = (n + chunks - 1) // chunks
    first = np.full(chunks, -1, dtype=np.int64)
    for t in prange(chunks):
        for i in range(t * step, min(n, (t + 1) * step)):
            c = syn_core[i]
            e = _find(axons, axon_ptr[c], axon_ptr[c + 1], src[i])
            if e < 0:
                first[t] = i
                break
            used[e] = True
    for t in range(chunks):
        if first[t] >= 0:
            return first[t], -1
    for e in range(len(axons)):
        if not used[e]:
            return -1, e
    return -1, -1


@njit(cache=True, nogil=True)
def first_stray(syn_core: np.ndarray, dst: np.ndarray, soma: np.ndarray, home: np.ndarray
                ) -> int:
    """The first synapse whose core serves another soma than its target's (`home[dst]`: the
    target's soma core, dst a neuron id or a position with home by position), or -1."""
    for i in range(len(dst)):
        if soma[syn_core[i]] != home[dst[i]]:
            return i
    return -1


@njit(cache=True, nogil=True)
def bits_per(index: np.ndarray, proj: np.ndarray, bits: np.ndarray, n: int) -> np.ndarray:
    """Synapse memory bits per index value (a position or a core): the sum of bits[proj] of
    its synapses. np.bincount with weights, without the float array of weights."""
    out = np.zeros(n, dtype=np.int64)
    for i in range(len(index)):
        out[index[i]] += bits[proj[i]]
    return out


@njit(cache=True, nogil=True)
def new_inputs(pos: np.ndarray, gap: np.ndarray, n: int) -> np.ndarray:
    """Per position: its synapses whose previous synapse from the same source is at another
    position (the distinct inputs of that neuron alone)."""
    out = np.zeros(n, dtype=np.int64)
    for i in range(len(pos)):
        if gap[i] != 0:
            out[pos[i]] += 1
    return out


def crossbar_cells(order: np.ndarray, bounds: np.ndarray, entry: np.ndarray,
                   axon_ptr: np.ndarray, neuron_ptr: np.ndarray, neurons: np.ndarray,
                   pos: np.ndarray, at_pos: np.ndarray, weight: np.ndarray, proj: np.ndarray,
                   proj_ternary: np.ndarray, base: np.ndarray, lo: int, hi: int,
                   n_neurons: int, out: np.ndarray, ternary: np.ndarray) -> int:
    """Every core's dense (axons x neurons) crossbar into out[base[c]:], row-major: the
    weights of its synapses (order[bounds[c]:bounds[c+1]]; entry: each synapse's axon
    entry; its target neuron at_pos[pos]) summed per cell. ternary[c]: the core has
    synapses, all of ternary projections, and every cell in -1..1. Returns the first core
    with a cell outside lo..hi (then out is incomplete), else -1. One pass over the synapses
    and the cells; runs of cores with about equal synapses on numba's threads (each core's
    cells are its own)."""
    return _crossbar_cells(order, bounds, entry, axon_ptr, neuron_ptr, neurons, pos, at_pos,
                           weight, proj, proj_ternary, base, lo, hi, n_neurons, out, ternary,
                           get_num_threads())


@njit(cache=True, nogil=True, parallel=True)
def _crossbar_cells(order: np.ndarray, bounds: np.ndarray, entry: np.ndarray,
                    axon_ptr: np.ndarray, neuron_ptr: np.ndarray, neurons: np.ndarray,
                    pos: np.ndarray, at_pos: np.ndarray, weight: np.ndarray, proj: np.ndarray,
                    proj_ternary: np.ndarray, base: np.ndarray, lo: int, hi: int,
                    n_neurons: int, out: np.ndarray, ternary: np.ndarray, threads: int
                    ) -> int:
    nc = len(bounds) - 1
    width = 0
    for c in range(nc):
        na, nn = axon_ptr[c + 1] - axon_ptr[c], neuron_ptr[c + 1] - neuron_ptr[c]
        width = max(width, na * nn)
    parts = max(1, min(nc, threads))
    cut = np.zeros(parts + 1, dtype=np.int64)
    for t in range(1, parts):
        cut[t] = np.searchsorted(bounds, bounds[nc] * t // parts)
    cut[parts] = nc
    bad = np.full(parts, -1, dtype=np.int64)
    for t in prange(parts):
        col = np.zeros(n_neurons, dtype=np.int32)  # a neuron's column on the core at hand
        cell = np.zeros(width, dtype=np.int64)
        for c in range(cut[t], cut[t + 1]):
            a0, n0 = axon_ptr[c], neuron_ptr[c]
            nn = neuron_ptr[c + 1] - n0
            for j in range(nn):
                col[neurons[n0 + j]] = j
            tern = bounds[c + 1] > bounds[c]
            for i in range(bounds[c], bounds[c + 1]):
                k = order[i]
                cell[(entry[k] - a0) * nn + col[at_pos[pos[k]]]] += weight[k]
                if not proj_ternary[proj[k]]:
                    tern = False
            for q in range((axon_ptr[c + 1] - a0) * nn):
                v = cell[q]
                if v < lo or v > hi:
                    bad[t] = c
                    break
                if v < -1 or v > 1:
                    tern = False
                out[base[c] + q] = v
                cell[q] = 0
            if bad[t] >= 0:
                break
            ternary[c] = tern
    for t in range(parts):  # the runs are in core order: the first bad run has the first
        if bad[t] >= 0:
            return bad[t]
    return -1


@njit(cache=True, nogil=True)
def csr_sign_sums(indptr: np.ndarray, w: np.ndarray, pos: np.ndarray, neg: np.ndarray
                  ) -> None:
    """Per CSR row r: pos[r] = the sum of its positive weights, neg[r] = that of the
    magnitudes of its negative ones, each added in index order (as np.add.at would), in one
    pass without synapse-sized temporaries."""
    for r in range(len(indptr) - 1):
        a, b = 0.0, 0.0
        for k in range(indptr[r], indptr[r + 1]):
            x = w[k]
            a += max(x, 0.0)  # branch-free: the signs are random
            b += max(-x, 0.0)
        pos[r], neg[r] = a, b


@njit(cache=True, nogil=True)
def count_per(index: np.ndarray, n: int) -> np.ndarray:
    """np.bincount(index, minlength=n) without its int64 copy of a synapse-sized index."""
    out = np.zeros(n, dtype=np.int64)
    for i in range(len(index)):
        out[index[i]] += 1
    return out


@njit(cache=True, nogil=True)
def present(index: np.ndarray, n: int) -> np.ndarray:
    """Which of 0..n-1 occur in `index`, as a mask, without an int64 copy of it."""
    out = np.zeros(n, dtype=np.bool_)
    for i in range(len(index)):
        out[index[i]] = True
    return out
