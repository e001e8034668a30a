"""Linear maps between neuron layers, kept structured (dense, conv) while composition allows.

Frontends compose the linear nodes on a path between two neuron layers (pool then conv, flatten
then affine, scale, ...) into one map. Structure is kept where it is exact; otherwise the
composition falls back to a sparse matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from snnc.compiler.linalg import conv_coo

DENSE_FILL = 0.25  # a composed sparse map denser than this is stored dense
DENSE_MAX_ENTRIES = 1 << 24  # larger maps stay sparse whatever their fill (memory)


@dataclass(frozen=True, eq=False)
class Lin:
    """y = M x for x of n_in elements. kind: ident | scale | dense | conv | sparse."""

    kind: str
    n_in: int
    n_out: int
    data: np.ndarray | sp.csr_matrix | None = None  # scale vec | dense W | kernel | csr
    in_shape: tuple[int, ...] = ()  # conv only
    stride: tuple[int, ...] = ()
    padding: tuple[int, ...] = ()
    dilation: tuple[int, ...] = ()
    groups: int = 1

    def csr(self) -> sp.csr_matrix:
        """The map as an (n_out, n_in) CSR matrix."""
        if self.kind == "ident":
            return sp.identity(self.n_in, format="csr", dtype=np.float64)
        if self.kind == "scale":
            return sp.diags(np.asarray(self.data), format="csr")
        if self.kind == "dense":
            return sp.csr_matrix(np.asarray(self.data))
        if self.kind == "conv":
            k = np.asarray(self.data)
            r, c, t, _ = conv_coo(k, self.in_shape, self.stride, self.padding, self.dilation,
                                  self.groups)
            return sp.csr_matrix((k.ravel()[t], (r, c)), shape=(self.n_out, self.n_in))
        assert isinstance(self.data, sp.csr_matrix)
        return self.data

    def apply(self, x: np.ndarray) -> np.ndarray:
        """M @ x for a constant vector x (used to push biases through the path)."""
        if self.kind == "ident":
            return x
        if self.kind == "scale":
            return np.asarray(self.data) * x
        if self.kind == "dense":
            return np.asarray(self.data) @ x
        return np.asarray(self.csr() @ x)


def ident(n: int) -> Lin:
    return Lin("ident", n, n)


def scale(s: np.ndarray) -> Lin:
    s = np.asarray(s, dtype=np.float64).reshape(-1)
    return Lin("scale", s.size, s.size, s)


def dense(w: np.ndarray) -> Lin:
    w = np.asarray(w, dtype=np.float64)
    return Lin("dense", w.shape[1], w.shape[0], w)


def conv(kernel: np.ndarray, in_shape: tuple[int, ...], out_shape: tuple[int, ...],
         stride: tuple[int, ...], padding: tuple[int, ...], dilation: tuple[int, ...],
         groups: int) -> Lin:
    return Lin("conv", int(np.prod(in_shape)), int(np.prod(out_shape)),
               np.asarray(kernel, dtype=np.float64), tuple(in_shape), tuple(stride),
               tuple(padding), tuple(dilation), int(groups))


def _sparse_or_dense(m: sp.csr_matrix) -> Lin:
    m = m.tocsr()
    m.eliminate_zeros()
    m.sort_indices()
    n_out, n_in = m.shape
    if m.nnz > DENSE_FILL * n_out * n_in and n_out * n_in <= DENSE_MAX_ENTRIES:
        return dense(m.toarray())
    return Lin("sparse", n_in, n_out, m)


def canonical(m: Lin) -> Lin:
    """Dense or sparse by density alone, so the stored kind depends only on the matrix."""
    return _sparse_or_dense(m.csr())


def _per_channel(s: np.ndarray, channels: int) -> np.ndarray | None:
    """s as one value per channel if it is constant over each channel's positions."""
    per = s.reshape(channels, -1)
    return per[:, 0] if (per == per[:, :1]).all() else None


def compose(outer: Lin, inner: Lin) -> Lin:
    """outer ∘ inner, keeping dense/conv structure where exact."""
    if outer.n_in != inner.n_out:
        raise ValueError(f"cannot compose maps of sizes {outer.n_in} and {inner.n_out}")
    if outer.kind == "ident":
        return inner
    if inner.kind == "ident":
        return outer
    if outer.kind == "scale" and inner.kind == "scale":
        return scale(np.asarray(outer.data) * np.asarray(inner.data))
    if outer.kind == "scale" and inner.kind == "dense":
        return dense(np.asarray(outer.data)[:, None] * np.asarray(inner.data))
    if outer.kind == "dense" and inner.kind == "scale":
        return dense(np.asarray(outer.data) * np.asarray(inner.data)[None, :])
    if outer.kind == "dense" and inner.kind == "dense":
        return dense(np.asarray(outer.data) @ np.asarray(inner.data))
    if outer.kind == "scale" and inner.kind == "conv":
        k = np.asarray(inner.data)
        per = _per_channel(np.asarray(outer.data), k.shape[0])
        if per is not None:
            kern = k * per.reshape((-1,) + (1,) * (k.ndim - 1))
            return Lin("conv", inner.n_in, inner.n_out, kern, inner.in_shape, inner.stride,
                       inner.padding, inner.dilation, inner.groups)
    if outer.kind == "conv" and inner.kind == "scale":
        k = np.asarray(outer.data)
        per = _per_channel(np.asarray(inner.data), outer.in_shape[0])
        if per is not None:
            c_in_g, c_out_g = k.shape[1], k.shape[0] // outer.groups
            ch = (np.arange(k.shape[0])[:, None] // c_out_g) * c_in_g + np.arange(c_in_g)[None]
            kern = k * per[ch].reshape(k.shape[:2] + (1,) * (k.ndim - 2))
            return Lin("conv", outer.n_in, outer.n_out, kern, outer.in_shape, outer.stride,
                       outer.padding, outer.dilation, outer.groups)
    return _sparse_or_dense(outer.csr() @ inner.csr())


def add(a: Lin, b: Lin) -> Lin:
    """a + b (both maps from the same source to the same target)."""
    if a.kind == "dense" and b.kind == "dense":
        return dense(np.asarray(a.data) + np.asarray(b.data))
    if a.kind == "scale" and b.kind == "scale":
        return scale(np.asarray(a.data) + np.asarray(b.data))
    return _sparse_or_dense(a.csr() + b.csr())
