"""lower_reset: reset by subtraction on a target whose neurons only reset to zero (Loihi/Lava).

An IF/LIF neuron v = (1-d) v + a + b that subtracts its threshold on a spike becomes a CUBA
neuron whose current u does the integrating (du = d, i_bias = b) and whose voltage only
compares (dv = 1: v = u), plus a self-synapse of weight -(1-d) * v_th into u. That synapse
lands one step after the spike, exactly where the subtraction would have acted, so u equals
the original pre-reset v and every spike is unchanged (tests/passes/test_lower_reset.py). The
reset to zero of the comparator v is then harmless. Costs one synapse per neuron; recorded in
meta['lower_reset'].

The delayed subtraction (snnTorch's default: v -= v_th one step after the spike, after the
leak) is the same construction with a self-synapse of weight -v_th: it lands after u decayed.
No reset at all is the construction without the self-synapse.
CUBA neurons keep two states, so neither subtraction can be emulated for them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from snnc.compiler.ir import SPIKING, Conn, Graph, NeuronModel, Projection, ResetMode
from snnc.compiler.passes import PassContext, Stage, register_pass


@register_pass(stage_in=Stage.FLOAT)
def lower_reset(graph: Graph, ctx: PassContext, opts: None = None) -> Graph:
    """reset by (delayed) subtraction -> integrating current + self-synapse (zero-reset
    targets)"""
    graph = _memoryless_to_zero(graph, ctx)
    lowered = {m for m in (ResetMode.SUBTRACT, ResetMode.DELAYED_SUBTRACT, ResetMode.NONE)
               if m.value not in ctx.arith.resets}
    todo = [p for p in graph.populations.values()
            if p.reset in lowered and p.model in (NeuronModel.IF, NeuronModel.LIF)
            and p.refractory == 0]
    if not todo:
        return graph
    pops, projs = dict(graph.populations), dict(graph.projections)
    for p in todo:
        n = p.size
        pops[p.name] = replace(p, model=NeuronModel.CUBA_LIF, du=p.dv, dv=np.ones(n),
                               i_bias=p.bias, bias=np.zeros(n), reset=ResetMode.ZERO)
        if p.reset is ResetMode.NONE:
            continue  # u integrates and is never reset: nothing to subtract
        name = f"{p.name}.reset"
        while name in projs:
            name = "_" + name
        projs[name] = Projection(
            name=name, src=p.name, dst=p.name, kind=Conn.SPARSE,
            weight=-(1.0 - p.dv) * p.v_th if p.reset is ResetMode.SUBTRACT else -p.v_th,
            delay=np.zeros(n, dtype=np.int64),
            indptr=np.arange(n + 1, dtype=np.int64), indices=np.arange(n, dtype=np.int64))
    note = {"populations": [p.name for p in todo],
            "resets": {p.name: p.reset.value for p in todo},
            "note": "reset emulated: the current integrates; for a subtraction a self-synapse "
                    "subtracts the threshold one step after each spike"}
    return Graph(populations=pops, projections=projs, inputs=graph.inputs,
                 outputs=graph.outputs, meta={**graph.meta, "lower_reset": note})


def _memoryless_to_zero(graph: Graph, ctx: PassContext) -> Graph:
    """A neuron whose v forgets everything each step (dv = 1, e.g. NIR's Threshold) computes
    the same spikes whatever a spike does to v: give it the zero reset the target has."""
    same = [p for p in graph.populations.values()
            if p.model in SPIKING and p.refractory == 0 and (p.dv == 1).all()
            and p.reset in (ResetMode.NONE, ResetMode.SUBTRACT)
            and p.reset.value not in ctx.arith.resets and "zero" in ctx.arith.resets]
    if not same:
        return graph
    pops = {**graph.populations, **{p.name: replace(p, reset=ResetMode.ZERO, v_reset=np.zeros(
        p.size)) for p in same}}
    return replace(graph, populations=pops, meta={**graph.meta, "memoryless_reset": sorted(
        p.name for p in same)})
