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
from snnc.compiler.fixed import Relay
from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Projection, ResetMode
from snnc.compiler.linalg import projection_coo
from snnc.compiler.passes import PassContext, Stage, register_pass


def relay_population(name: str, levels: int, n: int, relay: Relay) -> Population:
    """Neurons that fire exactly one step after any input and forget it at once (their
    registers come from the target's arithmetic, compiler/fixed.py `relay`)."""
    return Population.make(name, (levels, n), NeuronModel.LIF, du=float(relay.du),
                           dv=float(relay.dv), v_th=float(relay.v_th), reset=ResetMode.ZERO)


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


@register_pass(stage_in=Stage.FIXED, requires=("quantize",))
def lower_delays(g: Graph, ctx: PassContext, opts: None = None) -> Graph:
    """delays beyond the target's maximum -> relay-neuron chains (exact)"""
    dmax = ctx.arith.delay_max
    if all(p.max_delay <= dmax for p in g.projections.values()):
        return g
    relay = ctx.arith.relay()
    wr, bits = float(relay.weight), relay.weight_bits
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
        chain_pop = f"{p.src}.delay"
        for dv in np.unique(d[~keep]):
            m = d == dv
            lvl = int(dv) - dmax - 1  # the chain level the synapse leaves from
            projs[f"{name}.d{int(dv)}"] = _sparse(
                f"{name}.d{int(dv)}", chain_pop, p.dst, n_dst, r[m], lvl * n_src + c[m], w[m],
                np.full(int(m.sum()), dmax, dtype=np.int64), like=p)
    added = 0
    for src, m in sorted(levels.items()):
        n = g.node_size(src)
        name = f"{src}.delay"
        pops[name] = relay_population(name, m, n, relay)
        added += m * n
        idx = np.arange(n)
        projs[f"{name}.in"] = _sparse(f"{name}.in", src, name, m * n, idx, idx,
                                      np.full(n, wr), np.zeros(n, dtype=np.int64), bits=bits)
        if m > 1:
            chain = np.arange(n, m * n)
            projs[f"{name}.chain"] = _sparse(f"{name}.chain", name, name, m * n, chain,
                                             chain - n, np.full(len(chain), wr),
                                             np.zeros(len(chain), dtype=np.int64), bits=bits)
    log = {"relay_neurons": added, "chains": {s: m for s, m in sorted(levels.items())},
           "delay_max": dmax}
    return replace(g, populations=pops, projections=projs).with_meta(lower_delays=log)
