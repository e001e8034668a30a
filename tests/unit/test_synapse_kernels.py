"""The linear-time kernels of partition and the refsim program against the numpy sorts and
searches they replace, on random inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from snnc.compiler import synapse_kernels as K
from snnc.compiler.dtypes import index_type, narrow

SEEDS = st.integers(0, 2**31 - 1)


@settings(max_examples=60, deadline=None)
@given(SEEDS, st.integers(0, 400), st.integers(1, 50))
def test_counting_order_is_the_stable_argsort(seed: int, n: int, keys: int) -> None:
    key = np.random.default_rng(seed).integers(0, keys, n).astype(np.int32)
    assert np.array_equal(K.counting_order(key, keys), np.argsort(key, kind="stable"))


@settings(max_examples=80, deadline=None)
@given(SEEDS, st.integers(0, 400), st.integers(1, 40), st.integers(1, 40), st.integers(1, 9))
def test_source_gaps_link_each_source_to_its_last_synapse(seed: int, n: int, n_src: int,
                                                          n_pos: int, run_max: int) -> None:
    rng = np.random.default_rng(seed)
    pos = np.sort(rng.integers(0, n_pos, n)).astype(np.int32)
    src = rng.integers(0, n_src, n).astype(np.int32)
    # the numpy formula partition used before: a stable sort by source gives each synapse's
    # previous position from the same source (-1 for none)
    order2 = np.argsort(src, kind="stable")
    prev = np.full(n, -1, dtype=np.int64)
    same = src[order2[1:]] == src[order2[:-1]]
    prev[order2[1:][same]] = pos[order2[:-1][same]]
    want = np.where(prev < 0, run_max, np.minimum(pos - prev, run_max))
    gap = K.source_gaps(src, pos, n_src, run_max)
    assert gap.dtype == np.uint16
    assert np.array_equal(gap, want)
    # what partition reads off them: the new axons of any run of at most run_max positions
    # are its distinct sources, although gaps past run_max were capped
    for lo in range(n_pos):
        for hi in range(lo + 1, min(n_pos, lo + run_max) + 1):
            run = (pos >= lo) & (pos < hi)
            assert int((gap[run] > pos[run] - lo).sum()) == len(np.unique(src[run]))
    assert np.array_equal(K.new_inputs(pos, gap, n_pos),
                          np.bincount(pos[prev != pos], minlength=n_pos))
    assert K.source_gaps(src, pos, n_src, 1 << 16).dtype == np.uint32


@settings(max_examples=60, deadline=None)
@given(SEEDS, st.integers(0, 300), st.integers(1, 60))
def test_distinct_sources_and_inverse(seed: int, n: int, n_src: int) -> None:
    src = np.random.default_rng(seed).integers(0, n_src, n).astype(np.int32)
    seen = np.zeros(n_src, dtype=np.bool_)
    got = K.distinct_sources(src, seen)
    values, inv = np.unique(src, return_inverse=True)
    assert np.array_equal(got, values)
    assert not seen.any()  # the scratch is left clean for the next core
    counts = np.arange(n_src, dtype=np.int64)
    K.add_distinct(src, seen, counts)
    assert np.array_equal(counts - np.arange(n_src), np.isin(np.arange(n_src), values))
    assert not seen.any()
    assert np.array_equal(K.inverse_of(src, got, np.zeros(n_src, dtype=np.int64)), inv)


@settings(max_examples=60, deadline=None)
@given(SEEDS, st.integers(1, 12), st.integers(1, 30), st.integers(0, 300), st.booleans())
def test_axon_entries_find_each_synapse_on_its_core(seed: int, nc: int, n_src: int,
                                                    n: int, by_core: bool) -> None:
    """Synapses in random core order (the binary search) or grouped by core as a partition
    leaves them (the lookup run by run)."""
    rng = np.random.default_rng(seed)
    core = rng.integers(0, nc, n).astype(np.int32)
    if by_core:
        core = np.sort(core)
    src = rng.integers(0, n_src, n).astype(np.int32)
    drop = rng.random(n) < 0.1  # some sources missing from their core's table
    axons = [np.unique(src[(core == c) & ~drop]) for c in range(nc)]
    ptr = np.concatenate([[0], np.cumsum([len(a) for a in axons])]).astype(np.int64)
    flat = np.concatenate(axons).astype(np.int64)
    got = K.axon_entries(core, src, ptr, flat, n_src)
    if by_core:
        assert K._run_cost(core, ptr) <= n + len(flat)  # the linear lookup ran
    ekey = np.repeat(np.arange(nc), np.diff(ptr)) * (n_src + 1) + flat
    skey = core.astype(np.int64) * (n_src + 1) + src
    at = np.searchsorted(ekey, skey)
    found = (at < len(ekey)) & (ekey[np.minimum(at, max(len(ekey) - 1, 0))] == skey) \
        if len(ekey) else np.zeros(n, dtype=bool)
    assert np.array_equal(got, np.where(found, at, -1))
    i, e = K.unaddressed(core, src, ptr, flat)
    first_missing = int(np.flatnonzero(~found)[0]) if (~found).any() else -1
    assert i == first_missing
    if i < 0:  # every entry came from a synapse, so none is idle; an extra one would be
        assert e == -1


@settings(max_examples=60, deadline=None)
@given(SEEDS, st.integers(0, 300), st.integers(1, 30), st.integers(1, 4), st.integers(1, 5))
def test_accumulator_slots_number_distinct_neuron_keys(seed: int, n: int, n_neurons: int,
                                                      n_proj: int, depth: int) -> None:
    rng = np.random.default_rng(seed)
    dst = rng.integers(0, n_neurons, n).astype(np.int32)
    key = rng.integers(0, n_proj * depth, n).astype(np.int64)
    syn_slot, slot_ptr, slot_key = K.accumulator_slots(dst, key, n_neurons, n_proj * depth)
    full = dst.astype(np.int64) * (n_proj * depth) + key
    uk, inv = np.unique(full, return_inverse=True)
    assert np.array_equal(syn_slot, inv)
    assert np.array_equal(slot_key, uk % (n_proj * depth))
    assert np.array_equal(slot_ptr, np.searchsorted(uk // (n_proj * depth),
                                                    np.arange(n_neurons + 1)))


@settings(max_examples=60, deadline=None)
@given(SEEDS, st.integers(1, 30), st.integers(2, 8))
def test_relay_chains_follow_the_table(seed: int, n_neurons: int, nc: int) -> None:
    rng = np.random.default_rng(seed)
    home = rng.integers(0, nc, n_neurons).astype(np.int64)
    core, neuron, to, want = [], [], [], []
    for s in range(n_neurons):
        at, chain = int(home[s]), []
        others = np.delete(np.arange(nc), at)  # a chain visits a core once
        for nxt in rng.permutation(others)[:rng.integers(0, nc)]:
            core.append(at), neuron.append(s), to.append(int(nxt))
            chain.append(int(nxt))
            at = int(nxt)
        want.append(chain)
    o = rng.permutation(len(core))  # table rows in any order
    arr = [np.array(x, dtype=np.int64)[o] for x in (core, neuron, to)]
    ptr, dests, broken = K.relay_chains(*arr, home, n_neurons)
    assert broken == -1
    assert [dests[ptr[s]:ptr[s + 1]].tolist() for s in range(n_neurons)] == want
    long = [s for s in range(n_neurons) if len(want[s]) >= 2]
    if long:  # drop the first hop of a chain of two or more: that chain is reported broken
        s = long[0]
        i = int(np.flatnonzero((arr[1] == s) & (arr[0] == home[s]))[0])
        keep = np.arange(len(core)) != i
        _, _, broken = K.relay_chains(*(a[keep] for a in arr), home, n_neurons)
        assert broken == s


@pytest.mark.parametrize(("values", "dtype"), [
    ([0, 127, -128], np.int8), ([128], np.int16), ([-129], np.int16), ([2**15], np.int32),
    ([-(2**31)], np.int32), ([2**31], np.int64), ([], np.int8)])
def test_narrow_takes_the_smallest_signed_type(values: list[int], dtype: type) -> None:
    a = narrow(np.array(values, dtype=np.int64))
    assert a.dtype == dtype and a.tolist() == values


def test_index_type() -> None:
    assert index_type(2**31 - 1) is np.int32 and index_type(2**31) is np.int64


def test_unaddressed_names_an_idle_axon_and_a_missing_one() -> None:
    core = np.array([0, 0, 1], dtype=np.int32)
    src = np.array([3, 5, 2], dtype=np.int32)
    ptr = np.array([0, 3, 4], dtype=np.int64)
    assert K.unaddressed(core, src, ptr, np.array([3, 4, 5, 2])) == (-1, 1)  # 4 carries none
    assert K.unaddressed(core, src, ptr, np.array([3, 5, 6, 2])) == (-1, 2)
    assert K.unaddressed(core, src, np.array([0, 2, 3]), np.array([3, 5, 7])) == (2, -1)


@settings(max_examples=60, deadline=None)
@given(SEEDS, st.integers(1, 3000), st.integers(1, 8), st.integers(0, 3))
def test_unaddressed_finds_the_first_over_every_chunk(seed: int, n: int, nc: int,
                                                      holes: int) -> None:
    """The threaded search reports the lowest bad synapse however the chunks run, and an
    idle axon only when every synapse is addressed (a loop in synapse order is the truth)."""
    rng = np.random.default_rng(seed)
    core = rng.integers(0, nc, n).astype(np.int32)
    src = rng.integers(0, 40, n).astype(np.int32)
    lists = [np.unique(src[core == c]) for c in range(nc)]
    for _ in range(holes):  # drop an axon, or add one no synapse uses
        c = int(rng.integers(0, nc))
        if len(lists[c]) and rng.random() < 0.5:
            lists[c] = np.delete(lists[c], rng.integers(0, len(lists[c])))
        else:
            lists[c] = np.union1d(lists[c], [40 + int(rng.integers(0, 5))])
    ptr = np.concatenate([[0], np.cumsum([len(a) for a in lists])]).astype(np.int64)
    axons = np.concatenate(lists).astype(np.int32)
    bad = [i for i in range(n) if src[i] not in set(lists[core[i]].tolist())]
    used = {(int(core[i]), int(src[i])) for i in range(n)}
    idle = [e for e in range(len(axons))
            if (int(np.searchsorted(ptr, e, side="right")) - 1, int(axons[e])) not in used]
    want = (bad[0], -1) if bad else (-1, idle[0] if idle else -1)
    assert K.unaddressed(core, src, ptr, axons) == want


@settings(max_examples=40, deadline=None)
@given(SEEDS, st.integers(0, 500), st.integers(1, 60))
def test_count_per_and_present_are_bincount_and_its_mask(seed: int, n: int, m: int) -> None:
    index = np.random.default_rng(seed).integers(0, m, n).astype(np.int32)
    counts = np.bincount(index, minlength=m)
    assert np.array_equal(K.count_per(index, m), counts)
    assert np.array_equal(K.present(index, m), counts > 0)


def test_crossbar_cells_by_hand() -> None:
    """Two cores: core 0 (axons 5, 7; neurons 1, 0) gets two synapses into one cell, summed;
    core 1 (axon 7; neuron 2) one ternary synapse. Past the range, the first core out of it
    is named, also when the cores run on two threads and both are out."""
    order = np.array([0, 1, 2, 3])
    bounds = np.array([0, 3, 4])
    entry = np.array([0, 0, 1, 2])  # axon entries: core 0 -> 0, 1; core 1 -> 2
    axon_ptr, neuron_ptr = np.array([0, 2, 3]), np.array([0, 2, 3])
    neurons = np.array([1, 0, 2])
    pos, at_pos = np.array([2, 2, 0, 1]), np.array([1, 2, 0])  # targets 0, 0, 1, 2
    weight = np.array([3, 4, -2, 1], dtype=np.int8)
    proj = np.array([0, 0, 0, 1], dtype=np.int8)
    proj_ternary = np.array([False, True])
    base = np.array([0, 4, 5])
    out, tern = np.zeros(5, dtype=np.int8), np.zeros(2, dtype=np.bool_)
    args = (order, bounds, entry, axon_ptr, neuron_ptr, neurons, pos, at_pos)
    assert K.crossbar_cells(*args, weight, proj, proj_ternary, base, -128, 127, 3, out,
                            tern) == -1
    # core 0, row-major (axon, column): neuron 0 is column 1; neuron 1 column 0
    assert out.tolist() == [0, 7, -2, 0, 1]
    assert tern.tolist() == [False, True]
    assert K.crossbar_cells(*args, weight, proj, proj_ternary, base, -8, 6, 3, out,
                            tern) == 0
    weight[3] = 9  # now core 1 is out of -2..8 (core 0 is not), and both of -8..6
    assert K.crossbar_cells(*args, weight, proj, proj_ternary, base, -2, 8, 3, out,
                            tern) == 1
    assert K.crossbar_cells(*args, weight, proj, proj_ternary, base, -8, 6, 3, out,
                            tern) == 0


def test_is_binary_by_hand() -> None:
    from snnc.compiler.dtypes import is_binary

    yes = [np.array([True, False]), np.array([0, 1, 1], dtype=np.uint8),
           np.array([0.0, 1.0]), np.zeros(0), np.array([[1, 0]], dtype=np.int64)]
    no = [np.array([0, 2], dtype=np.int8), np.array([-1, 0]), np.array([0.5]),
          np.array([np.nan, 1.0]), np.array([1, 1, 255], dtype=np.uint8)]
    assert all(is_binary(x) for x in yes) and not any(is_binary(x) for x in no)


def test_is_csr_ptr_by_hand() -> None:
    from snnc.compiler.dtypes import is_csr_ptr

    assert is_csr_ptr(np.array([0, 2, 2, 5]), 3, 5)
    assert is_csr_ptr(np.array([0]), 0, 0)
    assert not is_csr_ptr(np.array([0, 2, 5]), 3, 5)  # too short
    assert not is_csr_ptr(np.array([1, 2, 2, 5]), 3, 5)  # not from 0
    assert not is_csr_ptr(np.array([0, 2, 2, 4]), 3, 5)  # not to the total
    assert not is_csr_ptr(np.array([0, 3, 2, 5]), 3, 5)  # goes back
    assert not is_csr_ptr(np.zeros(0, dtype=np.int64), 0, 0)
