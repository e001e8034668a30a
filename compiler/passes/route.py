"""route: dimension-order (X then Y) routes for every spike and partial sum, per-core routing
tables and the expected load on every mesh link.

Delivery follows the target's `noc.multicast` fact:
  tree   (Loihi) a spike leaves its core once per destination core; the XY paths from one
         source share their first links, so a neuron's packets form a tree: along its row to
         the farthest column on each side, then up/down each destination column.
  relay  (Tianjic) a neuron sends one packet with a relative (dx, dy) address; each core on
         its list forwards it to the next (destinations visited in serpentine order).
Partial-sum cores send one stream to their soma core. Loads count packets per step if every
neuron fires once; multiply by firing rates for a real run. Host input is written into the
cores' axons directly and is not routed.
"""

from __future__ import annotations

import numpy as np
from snnc.compiler.coremap import PARTIAL, CoreMap
from snnc.compiler.passes import PassContext, Stage, register_pass

DIRS = ("east", "west", "north", "south")


class _Links:
    """Difference arrays of link loads on the global grid, one per direction."""

    def __init__(self, h: int, w: int):
        self.d = {k: np.zeros((h + 1, w + 1), dtype=np.int64) for k in DIRS}

    def row(self, y: np.ndarray, x0: np.ndarray, x1: np.ndarray, n: np.ndarray) -> None:
        """Packets along row y from column x0 to x1 (either direction)."""
        e = x1 > x0
        np.add.at(self.d["east"], (y[e], x0[e]), n[e])  # links x -> x+1 for x in [x0, x1)
        np.add.at(self.d["east"], (y[e], x1[e]), -n[e])
        wv = x1 < x0
        np.add.at(self.d["west"], (y[wv], x1[wv] + 1), n[wv])  # links x -> x-1, x in (x1, x0]
        np.add.at(self.d["west"], (y[wv], x0[wv] + 1), -n[wv])

    def col(self, x: np.ndarray, y0: np.ndarray, y1: np.ndarray, n: np.ndarray) -> None:
        nn = y1 > y0
        np.add.at(self.d["north"], (y0[nn], x[nn]), n[nn])
        np.add.at(self.d["north"], (y1[nn], x[nn]), -n[nn])
        s = y1 < y0
        np.add.at(self.d["south"], (y1[s] + 1, x[s]), n[s])
        np.add.at(self.d["south"], (y0[s] + 1, x[s]), -n[s])

    def loads(self) -> dict[str, np.ndarray]:
        """load[dir][y, x]: packets per step on the link leaving (x, y) in that direction."""
        out = {}
        for k in ("east", "west"):
            out[k] = np.cumsum(self.d[k], axis=1)[:-1, :-1]
        for k in ("north", "south"):
            out[k] = np.cumsum(self.d[k], axis=0)[:-1, :-1]
        return out


def _tree(src: np.ndarray, dst: np.ndarray, sx: np.ndarray, sy: np.ndarray, dx: np.ndarray,
          dy: np.ndarray, links: _Links, per_src: np.ndarray) -> int:
    """Multicast trees, one per source neuron; returns the links used in total and adds each
    tree's link count to per_src[source]."""
    n = len(src)
    if n == 0:
        return 0
    first = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])
    xmax = np.maximum.reduceat(dx, first)
    xmin = np.minimum.reduceat(dx, first)
    one = np.ones(len(first), dtype=np.int64)
    x0, y0 = sx[first], sy[first]
    links.row(y0, x0, np.maximum(xmax, x0), one)
    links.row(y0, x0, np.minimum(xmin, x0), one)
    xh = np.maximum(xmax - x0, 0) + np.maximum(x0 - xmin, 0)
    np.add.at(per_src, src[first], xh)
    hops = int(xh.sum())
    # per (source, destination column): the farthest row each way
    o = np.lexsort((dx, src))
    s2, x2, y2 = src[o], dx[o], dy[o]
    f2 = np.flatnonzero(np.r_[True, (s2[1:] != s2[:-1]) | (x2[1:] != x2[:-1])])
    ymax = np.maximum.reduceat(y2, f2)
    ymin = np.minimum.reduceat(y2, f2)
    ys = sy[o][f2]
    col = x2[f2]
    one = np.ones(len(f2), dtype=np.int64)
    links.col(col, ys, np.maximum(ymax, ys), one)
    links.col(col, ys, np.minimum(ymin, ys), one)
    yh = np.maximum(ymax - ys, 0) + np.maximum(ys - ymin, 0)
    np.add.at(per_src, s2[f2], yh)
    return hops + int(yh.sum())


def _unicast(x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, n: np.ndarray,
             links: _Links) -> int:
    links.row(y0, x0, x1, n)
    links.col(x1, y0, y1, n)
    return int(((np.abs(x1 - x0) + np.abs(y1 - y0)) * n).sum())


@register_pass(stage_in=Stage.MAPPED, requires=("place",))
def route(cm: CoreMap, ctx: PassContext, opts: None = None) -> CoreMap:
    """XY routes, multicast trees or relay chains, per-core tables, link loads"""
    t = ctx.target
    gx, gy = cm.global_xy()
    h, w = int(gy.max(initial=0)) + 1, int(gx.max(initial=0)) + 1
    cols, rows = (int(v) for v in t["chip.mesh"])
    h, w = -(-h // rows) * rows, -(-w // cols) * cols
    links = _Links(h, w)
    home = cm.neuron_core()
    src, dst = cm.neuron_pairs()
    scode = home[src]
    local = dst == scode
    tree = t["noc.multicast"] == "tree"
    spike_hops = np.zeros(cm.ids.n_neurons, dtype=np.int64)  # links one spike crosses
    if tree:
        rs, rd = src[~local], dst[~local]
        hops = _tree(rs, rd, gx[home[rs]], gy[home[rs]], gx[rd], gy[rd], links, spike_hops)
        # table at the source core: one entry per (neuron, destination core)
        t_core, t_src, t_to = home[rs], rs, rd
    else:
        # relay chain: destinations in serpentine order (row by row, alternating direction)
        snake = gy[dst] * w + np.where(gy[dst] % 2 == 0, gx[dst], w - 1 - gx[dst])
        o = np.lexsort((snake, src))
        s, d = src[o], dst[o]
        keep = d != home[s]
        s, d = s[keep], d[keep]
        first = np.r_[True, s[1:] != s[:-1]] if len(s) else np.zeros(0, dtype=bool)
        prev = np.where(first, home[s], np.r_[0, d[:-1]] if len(d) else d)
        one = np.ones(len(s), dtype=np.int64)
        hops = _unicast(gx[prev], gy[prev], gx[d], gy[d], one, links)
        np.add.at(spike_hops, s, np.abs(gx[d] - gx[prev]) + np.abs(gy[d] - gy[prev]))
        # table at each core on the chain: (neuron) -> next hop
        t_core, t_src, t_to = prev, s, d
    part = np.flatnonzero(cm.kind == PARTIAL)
    n_part = np.diff(cm.neuron_ptr)[part]
    hops += _unicast(gx[part], gy[part], gx[cm.soma[part]], gy[cm.soma[part]], n_part, links)
    loads = links.loads()
    o = np.lexsort((t_to, t_src, t_core))
    table = {"core": t_core[o], "neuron": t_src[o], "to": t_to[o],
             "dx": (gx[t_to] - gx[t_core])[o], "dy": (gy[t_to] - gy[t_core])[o]}
    entries = np.bincount(t_core, minlength=cm.n_cores) + np.isin(
        np.arange(cm.n_cores), part).astype(np.int64)
    usage = dict(cm.usage, routing_entries=entries)
    link_all = np.concatenate([v.ravel() for v in loads.values()])
    meta = dict(cm.meta, routed_hops=int(hops), max_link_load=int(link_all.max(initial=0)),
                links_used=int((link_all > 0).sum()), routing=t["noc.multicast"])
    return cm.with_(routes={"table": table, "links": loads, "spike_hops": spike_hops},
                    usage=usage, meta=meta)
