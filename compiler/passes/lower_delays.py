"""Lower synaptic delays the target cannot hold into chains of relay neurons (exact).

A synapse of delay d > dmax from source neuron i is re-sent through m = d - dmax relay
neurons: i fires at t, relay level 0 at t+1, ..., level m-1 at t+m, and the synapse leaves
level m-1 with delay dmax, so it still lands at t + 1 + d. Each (projection, delay) group
keeps its own projection, so its per-step sum and shift are the same integers as before.
Relays of one source share one population `<src>.delay` of shape (levels, n_src).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Projection, ResetMode
from snnc.compiler.linalg import projection_coo
from snnc.compiler.targets import TargetSpec


def relay_population(name: str, levels: int, n: int, semantics: str) -> Population:
    """Neurons that fire exactly one step after any input and forget it at once."""
    if semantics == "loihi":  # du=dv=4095: u, v keep nothing; v = a<<6 > vth<<6 = 0
        decay, unity = 4095.0, 4095.0
    else:  # tianjic: alpha = 0 retention, v = a > 0
        decay, unity = 0.0, 0.0
    return Population.make(name, (levels, n), NeuronModel.LIF, du=decay, dv=unity, v_th=0.0,
                           reset=ResetMode.ZERO)


def relay_weight(semantics: str) -> tuple[float, int]:
    """(weight, weight_bits) of a relay synapse: the smallest weight on the target's grid."""
    return (2.0, 8) if semantics == "loihi" else (1.0, 2)


def _sparse(name: str, src: str, dst: str, n_dst: int, rows: np.ndarray, cols: np.ndarray,
            w: np.ndarray, d: np.ndarray, like: Projection | None = None,
            bits: int = 8) -> Projection:
    order = np.lexsort((cols, rows))
    rows, cols, w, d = rows[order], cols[order], w[order], d[order]
    indptr = np.searchsorted(rows, np.arange(n_dst + 1))
    kw: dict[str, Any] = {"weight_exp": like.weight_exp, "weight_bits": like.weight_bits} \
        if like is not None else {"weight_exp": 0, "weight_bits": bits}
    return Projection(name=name, src=src, dst=dst, kind=Conn.SPARSE, weight=w, delay=d,
                      indptr=indptr, indices=cols, **kw)


def lower_delays(g: Graph, t: TargetSpec) -> Graph:
    """Replace every delay above the target's maximum by relay chains; records the cost."""
    dmax = int(t["format.delay_max"])
    if all(p.max_delay <= dmax for p in g.projections.values()):
        return g
    semantics = str(g.meta["semantics"])
    wr, bits = relay_weight(semantics)
    projs = dict(g.projections)
    pops = dict(g.populations)
    levels: dict[str, int] = {}
    for p in g.projections.values():
        if p.max_delay > dmax:
            levels[p.src] = max(levels.get(p.src, 0), p.max_delay - dmax)
    for name, p in g.projections.items():
        if p.max_delay <= dmax:
            continue
        n_src, n_dst = g.node_size(p.src), g.node_size(p.dst)
        r, c, w, d = projection_coo(p, g.node_shape(p.src))
        keep = d <= dmax
        del projs[name]
        if keep.any():
            projs[name] = _sparse(name, p.src, p.dst, n_dst, r[keep], c[keep], w[keep],
                                  d[keep], like=p)
        relay = f"{p.src}.delay"
        for dv in np.unique(d[~keep]):
            m = d == dv
            lvl = int(dv) - dmax - 1  # the chain level the synapse leaves from
            projs[f"{name}.d{int(dv)}"] = _sparse(
                f"{name}.d{int(dv)}", relay, p.dst, n_dst, r[m], lvl * n_src + c[m], w[m],
                np.full(int(m.sum()), dmax, dtype=np.int64), like=p)
    added = 0
    for src, m in sorted(levels.items()):
        n = g.node_size(src)
        relay = f"{src}.delay"
        pops[relay] = relay_population(relay, m, n, semantics)
        added += m * n
        idx = np.arange(n)
        projs[f"{relay}.in"] = _sparse(f"{relay}.in", src, relay, m * n, idx, idx,
                                       np.full(n, wr), np.zeros(n, dtype=np.int64), bits=bits)
        if m > 1:
            chain = np.arange(n, m * n)
            projs[f"{relay}.chain"] = _sparse(f"{relay}.chain", relay, relay, m * n, chain,
                                              chain - n, np.full(len(chain), wr),
                                              np.zeros(len(chain), dtype=np.int64), bits=bits)
    log = {"relay_neurons": added, "chains": {s: m for s, m in sorted(levels.items())},
           "delay_max": dmax}
    return replace(g, populations=pops, projections=projs).with_meta(lower_delays=log)
