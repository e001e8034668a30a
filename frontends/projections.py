"""Turn composed linear maps (one per delay) into IR projections, shared by the frontends."""

from __future__ import annotations

import warnings

import numpy as np
from snnc.compiler.ir import Conn, Projection
from snnc.frontends.linop import Lin, canonical


class RepairWarning(UserWarning):
    """A frontend repaired or assumed something about the input model; says what and where."""


def repair(path: str, node: str | None, message: str) -> None:
    """Report a repair as a warning naming the file and node."""
    where = f"{path}: node '{node}'" if node else path
    warnings.warn(f"{where}: {message}", RepairWarning, stacklevel=3)


def lin_projection(name: str, src: str, dst: str, m: Lin, delay: int) -> Projection:
    """One projection with a uniform delay from a composed map (dense/sparse by density)."""
    if m.kind != "conv":
        m = canonical(m)
    if m.kind == "dense":
        w = np.asarray(m.data)
        return Projection(name=name, src=src, dst=dst, kind=Conn.DENSE, weight=w,
                          delay=np.full(w.shape, delay, dtype=np.int64))
    if m.kind == "conv":
        k = np.asarray(m.data)
        return Projection(name=name, src=src, dst=dst, kind=Conn.CONV, weight=k,
                          delay=np.full(k.shape, delay, dtype=np.int64), stride=m.stride,
                          padding=m.padding, dilation=m.dilation, groups=m.groups)
    c = m.csr().tocsr()
    c.sort_indices()
    return Projection(name=name, src=src, dst=dst, kind=Conn.SPARSE, weight=c.data,
                      delay=np.full(c.data.shape, delay, dtype=np.int64), indptr=c.indptr,
                      indices=c.indices)


def delayed_projections(name: str, src: str, dst: str, terms: dict[int, Lin]) -> list[Projection]:
    """Projections for maps at several delays: one with per-synapse delays when the maps touch
    disjoint synapses, else one projection per delay (named name.d<delay>)."""
    # a map without a single non-zero weight delivers nothing: drop it (exact)
    terms = {d: m for d, m in terms.items()
             if (np.any(np.asarray(m.data)) if m.kind == "conv" else m.csr().count_nonzero())}
    if not terms:
        return []
    if len(terms) == 1:
        (d, m), = terms.items()
        return [lin_projection(name, src, dst, m, d)]
    mats = {d: m.csr().tocoo() for d, m in sorted(terms.items())}
    rows = np.concatenate([c.row for c in mats.values()])
    cols = np.concatenate([c.col for c in mats.values()])
    n_out, n_in = next(iter(mats.values())).shape
    key = rows.astype(np.int64) * n_in + cols
    if np.unique(key).size == key.size:
        vals = np.concatenate([c.data for c in mats.values()])
        dels = np.concatenate([np.full(c.nnz, d, dtype=np.int64) for d, c in mats.items()])
        order = np.lexsort((cols, rows))
        rows, cols, vals, dels = rows[order], cols[order], vals[order], dels[order]
        indptr = np.zeros(n_out + 1, dtype=np.int64)
        np.add.at(indptr, rows + 1, 1)
        return [Projection(name=name, src=src, dst=dst, kind=Conn.SPARSE, weight=vals,
                           delay=dels, indptr=np.cumsum(indptr), indices=cols)]
    return [lin_projection(f"{name}.d{d}", src, dst, m, d) for d, m in sorted(terms.items())]
