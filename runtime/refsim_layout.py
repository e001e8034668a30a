"""The order in which the reference simulator's delivery reads axon entries and synapses.

A program lists its axon entries core by core (the chip's axon tables). Delivery, though,
starts from a source that fired and needs every entry that lists it. Going through an index
from sources to entries costs a dependent random read per event. So refsim lays the entries
out by source when it loads a program: the entries of a source are consecutive, and so are
their synapses. When a batch of one is split over the threads (runtime/refsim.py Parts), the
entries are first grouped by part and then by source. Each thread then reads only its own
entries instead of skipping the other parts' ones. The layout changes which order the
integer sums are added in, and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from snnc.compiler.dtypes import narrow


@dataclass(frozen=True)
class Layout:
    """Entries grouped into n parts, by source within a part. The entries of source s in
    part p are ptr[p * (sources + 1) + s] up to ptr[p * (sources + 1) + s + 1]. Entry e's
    synapses are syn[entry_syn_ptr[e]:entry_syn_ptr[e + 1]], one word each
    (runtime/refsim.py synapse_words), with their target layers in syn_layer."""

    n: int
    ptr: np.ndarray
    entry_src: np.ndarray
    entry_core: np.ndarray
    entry_syn_ptr: np.ndarray
    entry_layer: np.ndarray  # the one target layer of an entry's synapses, or -1
    syn: np.ndarray
    syn_layer: np.ndarray


def entry_order(entry_src: np.ndarray, entry_part: np.ndarray | None, n: int, n_src: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """(order, ptr): the entries grouped by entry_part (0..n-1; None: one part), then by
    source, stable (order[i]: the entry at new position i), and Layout.ptr of that order."""
    key = entry_src.astype(np.int64)
    if entry_part is not None:
        key += entry_part.astype(np.int64) * n_src
    order = np.argsort(key, kind="stable")
    starts = np.zeros(n * n_src + 1, dtype=np.int64)
    np.cumsum(np.bincount(key, minlength=n * n_src), out=starts[1:])
    rows = np.arange(n, dtype=np.int64)[:, None] * n_src + np.arange(n_src + 1)[None, :]
    return order, narrow(starts[rows.ravel()])


def relayout(lay: Layout, entry_part: np.ndarray | None, n: int, n_src: int) -> Layout:
    """`lay`'s entries and synapses grouped by entry_part (an entry's part, 0..n-1, in lay's
    entry order; None: one part), then by source."""
    order, ptr = entry_order(lay.entry_src, entry_part, n, n_src)
    syn_ptr = np.empty(len(order) + 1, dtype=np.int64)
    syn, syn_layer = np.empty_like(lay.syn), np.empty_like(lay.syn_layer)
    _gather(order, lay.entry_syn_ptr, lay.syn, lay.syn_layer, syn_ptr, syn, syn_layer)
    return Layout(n, ptr, lay.entry_src[order], lay.entry_core[order], narrow(syn_ptr),
                  lay.entry_layer[order], syn, syn_layer)


@njit(cache=True, nogil=True)
def _gather(order: np.ndarray, syn_ptr: np.ndarray, syn: np.ndarray, syn_layer: np.ndarray,
            new_ptr: np.ndarray, new_syn: np.ndarray, new_layer: np.ndarray) -> None:
    """The synapses of entries order[0], order[1], ... one after the other."""
    k = 0
    new_ptr[0] = 0
    for i in range(len(order)):
        e = order[i]
        for j in range(syn_ptr[e], syn_ptr[e + 1]):
            new_syn[k] = syn[j]
            new_layer[k] = syn_layer[j]
            k += 1
        new_ptr[i + 1] = k
