"""Projections as linear operators: conv geometry, expansion to CSR, application to spikes.

Convolutions follow PyTorch's cross-correlation on C-order (C, H, W) or (C, L) arrays.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
from snnc.compiler.ir import Conn, Projection
from snnc.compiler.synapse_kernels import conv_expand


def conv_out_shape(in_shape: tuple[int, ...], kernel_shape: tuple[int, ...],
                   stride: tuple[int, ...], padding: tuple[int, ...],
                   dilation: tuple[int, ...]) -> tuple[int, ...]:
    """(C_out, *spatial) of a convolution; spatial entries may be <= 0 for bad geometry."""
    spatial = []
    for i, n in enumerate(in_shape[1:]):
        k = kernel_shape[2 + i]
        spatial.append((n + 2 * padding[i] - dilation[i] * (k - 1) - 1) // stride[i] + 1)
    return (kernel_shape[0], *spatial)


def conv_coo(kernel: np.ndarray, in_shape: tuple[int, ...], stride: tuple[int, ...],
             padding: tuple[int, ...], dilation: tuple[int, ...], groups: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    """(rows, cols, tap) of every synapse of a conv whose weight is non-zero; tap indexes
    kernel.ravel(). Ordered by output channel, input channel, output pixel, kernel offset."""
    nd = len(in_shape) - 1
    ksp = kernel.shape[2:]
    out_shape = conv_out_shape(in_shape, kernel.shape, stride, padding, dilation)
    osp = out_shape[1:]
    # Index grids: output position o (per dim), kernel position k (per dim)
    o_idx = np.indices(osp).reshape(nd, -1)  # (nd, n_opos)
    k_idx = np.indices(ksp).reshape(nd, -1)  # (nd, n_kpos)
    pos = (o_idx[:, :, None] * np.array(stride)[:, None, None]
           - np.array(padding)[:, None, None]
           + k_idx[:, None, :] * np.array(dilation)[:, None, None])  # (nd, n_opos, n_kpos)
    valid = np.ones(pos.shape[1:], dtype=bool)
    for d in range(nd):
        valid &= (pos[d] >= 0) & (pos[d] < in_shape[1 + d])
    op_i, kp_i = np.nonzero(valid)
    in_flat_sp = np.ravel_multi_index(tuple(pos[:, op_i, kp_i]), in_shape[1:]) if nd else op_i
    n_opos, n_kpos = o_idx.shape[1], k_idx.shape[1]
    n_isp = int(np.prod(in_shape[1:], dtype=np.int64))
    nonzero = (kernel != 0).reshape(kernel.shape[0], kernel.shape[1], n_kpos)
    rows, cols, taps = conv_expand(nonzero, op_i.astype(np.int64), kp_i.astype(np.int64),
                                   np.asarray(in_flat_sp, dtype=np.int64), n_opos, n_isp,
                                   groups)
    return rows, cols, taps, out_shape


def projection_coo(p: Projection, src_shape: tuple[int, ...]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every stored synapse as (dst row, src col, weight, delay) arrays. A synapse of weight
    zero is not stored, whatever the projection's kind: it changes no state, and on a chip it
    would cost memory, an axon and synaptic operations."""
    if p.kind is Conn.DENSE:
        r, c = np.nonzero(p.weight)
        return r, c, p.weight[r, c], p.delay[r, c]
    if p.kind is Conn.SPARSE:
        assert p.indptr is not None and p.indices is not None
        r = np.repeat(np.arange(len(p.indptr) - 1, dtype=p.indptr.dtype), np.diff(p.indptr))
        if p.weight.all():  # nothing to drop: no copies of the (read-only) arrays
            return r, p.indices, p.weight, p.delay
        keep = p.weight != 0
        return r[keep], p.indices[keep], p.weight[keep], p.delay[keep]
    r, c, t, _ = conv_coo(p.weight, src_shape, p.stride, p.padding, p.dilation, p.groups)
    return r, c, p.weight.ravel()[t], p.delay.ravel()[t]


def coo_blocks(p: Projection, src_shape: tuple[int, ...], max_synapses: int
               ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """projection_coo of a dense or conv projection in consecutive blocks of whole output
    rows (dense) or output channels (conv; whole groups when grouped) of about
    `max_synapses` each, in projection_coo's order: a layer of 100M+ synapses is never
    expanded at once (its int64 rows, columns and taps alone are 24 bytes a synapse)."""
    if p.kind is Conn.SPARSE:
        yield projection_coo(p, src_shape)
        return
    n_out = p.weight.shape[0]
    if p.kind is Conn.DENSE:
        per_unit, unit = max(1, p.weight.shape[1]), 1
    else:
        per_unit = max(1, conv_synapses(p, src_shape) // max(1, n_out))  # per out channel
        unit = n_out // p.groups if p.groups > 1 else 1  # whole groups
    step = max(unit, max_synapses // per_unit // unit * unit)
    if step >= n_out:
        yield projection_coo(p, src_shape)
        return
    n_pix = int(np.prod(conv_out_shape(src_shape, p.weight.shape, p.stride, p.padding,
                                       p.dilation)[1:], dtype=np.int64)) \
        if p.kind is Conn.CONV else 1
    c_in_g = p.weight.shape[1] if p.kind is Conn.CONV else 0
    n_isp = int(np.prod(src_shape[1:], dtype=np.int64)) if p.kind is Conn.CONV else 0
    for o0 in range(0, n_out, step):
        o1 = min(n_out, o0 + step)
        if p.kind is Conn.DENSE:
            r, c = np.nonzero(p.weight[o0:o1])
            yield r + o0, c, p.weight[o0:o1][r, c], p.delay[o0:o1][r, c]
            continue
        g0, g1 = (o0 // unit, o1 // unit) if p.groups > 1 else (0, 1)
        sub_shape = (c_in_g * (g1 - g0) if p.groups > 1 else src_shape[0], *src_shape[1:])
        r, c, t, _ = conv_coo(p.weight[o0:o1], sub_shape, p.stride, p.padding, p.dilation,
                              g1 - g0 if p.groups > 1 else 1)
        r += o0 * n_pix
        if p.groups > 1:
            c += g0 * c_in_g * n_isp
        yield r, c, p.weight[o0:o1].ravel()[t], p.delay[o0:o1].ravel()[t]


def conv_synapses(p: Projection, src_shape: tuple[int, ...]) -> int:
    """Stored synapses of a convolution (non-zero taps over the output positions each reaches
    inside the input), counted without expanding it."""
    nd = len(src_shape) - 1
    out = conv_out_shape(src_shape, p.weight.shape, p.stride, p.padding, p.dilation)
    # per dimension and kernel offset k: output positions o with 0 <= o*s - pad + k*dil < n
    reach = []
    for d in range(nd):
        o = np.arange(max(out[1 + d], 0))[:, None] * p.stride[d] - p.padding[d]
        pos = o + np.arange(p.weight.shape[2 + d])[None, :] * p.dilation[d]
        reach.append(((pos >= 0) & (pos < src_shape[1 + d])).sum(axis=0))
    per_tap = np.ones(p.weight.shape[2:], dtype=np.int64)
    for d, r in enumerate(reach):
        per_tap = per_tap * r.reshape((1,) * d + (-1,) + (1,) * (nd - d - 1))
    return int(((p.weight != 0) * per_tap).sum())


def projection_matrices(p: Projection, src_shape: tuple[int, ...], n_dst: int
                        ) -> dict[int, sp.csr_matrix | np.ndarray]:
    """One (n_dst, n_src) matrix per distinct delay; dense arrays for dense projections."""
    n_src = int(np.prod(src_shape, dtype=np.int64))
    if p.kind is Conn.DENSE:
        delays = np.unique(p.delay)
        if len(delays) == 1:
            return {int(delays[0]): np.asarray(p.weight)}
        return {int(d): np.where(p.delay == d, p.weight, 0.0) for d in delays}
    if p.kind is Conn.SPARSE and p.weight.all() and (p.delay.size == 0 or (
            p.delay.min() == p.delay.max())):
        # one delay, nothing to drop: the projection's own CSR arrays (not copied; scipy
        # reads them, and the caller copies before anything would write)
        assert p.indptr is not None and p.indices is not None
        d0 = int(p.delay[0]) if p.delay.size else 0
        return {d0: sp.csr_matrix((p.weight, p.indices, p.indptr), shape=(n_dst, n_src),
                                  copy=False)}
    r, c, w, d = projection_coo(p, src_shape)
    if p.delay.size and p.delay.min() == p.delay.max():  # one delay: no per-synapse masks
        return {int(p.delay.flat[0]): sp.csr_matrix((w, (r, c)), shape=(n_dst, n_src))}
    out: dict[int, sp.csr_matrix | np.ndarray] = {}
    for dv in np.unique(d) if d.size else np.zeros(1, dtype=np.int64):
        m = d == dv
        out[int(dv)] = sp.csr_matrix((w[m], (r[m], c[m])), shape=(n_dst, n_src))
    return out
