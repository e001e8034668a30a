"""Trained timing: make the IR reproduce a latency-free network, shifted by a fixed lag.

Training frameworks (snnTorch, Sinabs, Rockpool, nirtorch, NIR's own reference) run every
feed-forward layer in the same step as its input; only a recurrent edge (one that closes a
loop, in execution order) carries the previous step's spikes. On a chip every projection
costs one step. `align` gives each population a lag L (its chip step = trained step + L):

    L(input port) = 0;  L(p) = max over forward projections q -> p of L(q) + 1  (0 if none)

and then, for every projection src -> dst with trained delay d (0 forward, +1 recurrent):

    chip delay = d + L(dst) - L(src) - 1      (balances shorter paths with synaptic delays)
    onset(dst) = L(dst)                       (its bias starts when its first input arrives)

A recurrent projection whose chip delay would be negative (feedback across layers faster than
the chip can carry it) cannot be reproduced: it keeps delay 0, runs late, and is named in
meta["timing"]["late"] and in a warning. docs/timing.md states the rules.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from snnc.compiler.errors import ModelError
from snnc.compiler.ir import Graph, Projection
from snnc.frontends.projections import repair

TIMINGS = ("trained", "hardware")


def back_edges(g: Graph) -> set[str]:
    """Projections that close a loop: depth-first from the input ports, then from the
    remaining populations, in name order; an edge into a node on the current path is one."""
    out: dict[str, list[Projection]] = {}
    for p in g.projections.values():
        out.setdefault(p.src, []).append(p)
    for v in out.values():
        v.sort(key=lambda p: (p.dst, p.name))
    back: set[str] = set()
    state: dict[str, int] = {}  # 1 on the path, 2 done
    for root in [*g.inputs, *g.populations]:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(out.get(root, [])))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                continue
            seen = state.get(nxt.dst)
            if seen == 1:
                back.add(nxt.name)
            elif seen is None:
                state[nxt.dst] = 1
                stack.append((nxt.dst, iter(out.get(nxt.dst, []))))
    return back


def lags(g: Graph, back: set[str]) -> dict[str, int]:
    """Longest path from the inputs over forward projections, in projections."""
    fwd = [p for p in g.projections.values() if p.name not in back]
    indeg = {k: 0 for k in g.populations}
    for p in fwd:
        indeg[p.dst] += 1
    lag = {k: 0 for k in [*g.inputs, *g.populations]}
    ready = sorted([*g.inputs, *(k for k, d in indeg.items() if d == 0)])
    by_src: dict[str, list[Projection]] = {}
    for p in fwd:
        by_src.setdefault(p.src, []).append(p)
    while ready:
        node = ready.pop()
        for p in by_src.get(node, []):
            lag[p.dst] = max(lag[p.dst], lag[node] + 1)
            indeg[p.dst] -= 1
            if indeg[p.dst] == 0:
                ready.append(p.dst)
    return lag


def align(g: Graph, timing: str = "trained", path: str = "") -> Graph:
    """The graph with trained timing (delays, onsets, meta["timing"]), or unchanged but
    labelled for timing "hardware" (every projection one step, biases from step 0)."""
    if timing not in TIMINGS:
        raise ModelError(path or None, None, f"timing must be one of {', '.join(TIMINGS)}, "
                         f"got {timing!r}")
    if timing == "hardware":
        return g.with_meta(timing={"mode": "hardware"})
    back = back_edges(g)
    lag = lags(g, back)
    projs, late = {}, []
    for k, p in g.projections.items():
        shift = lag[p.dst] - lag[p.src] - 1 + (1 if k in back else 0)
        d = p.delay + shift
        if d.size and d.min() < 0:
            late.append({"projection": k, "steps_late": int(-d.min())})
            repair(path, k, f"feedback from '{p.src}' (lag {lag[p.src]}) to '{p.dst}' (lag "
                            f"{lag[p.dst]}) arrives {int(-d.min())} step(s) later on the chip "
                            "than in training; its spikes will differ (use --timing hardware "
                            "if the model was designed for one step per projection)")
            d = np.maximum(d, 0)
        projs[k] = p if shift == 0 else replace(p, delay=d)
    pops = {k: replace(p, onset=lag[k]) if (p.bias.any() or p.i_bias.any()) else p
            for k, p in g.populations.items()}
    meta = {"mode": "trained", "latency": {k: lag[o.source] for k, o in g.outputs.items()
                                           if o.source is not None},
            "balanced": sorted(k for k in projs if projs[k] is not g.projections[k]),
            "late": late}
    return Graph(populations=pops, projections=projs, inputs=g.inputs, outputs=g.outputs,
                 meta={**g.meta, "timing": meta})
