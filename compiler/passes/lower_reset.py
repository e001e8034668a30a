"""lower_reset: reset by subtraction on a target whose neurons only reset to zero (Loihi/Lava).

An IF/LIF neuron v = (1-d) v + a + b that subtracts its threshold on a spike becomes a CUBA
neuron whose current u does the integrating (du = d, i_bias = b) and whose voltage only
compares (dv = 1: v = u), plus a self-synapse of weight -(1-d) * v_th into u. That synapse
lands one step after the spike, exactly where the subtraction would have acted, so u equals
the original pre-reset v and every spike is unchanged (tests/passes/test_lower_reset.py). The
reset to zero of the comparator v is then harmless. Costs one synapse per neuron; recorded in
meta['lower_reset'].
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from snnc.compiler.ir import Conn, Graph, NeuronModel, Projection, ResetMode
from snnc.compiler.passes import PassContext, Stage, register_pass


@register_pass(stage_in=Stage.FLOAT)
def lower_reset(graph: Graph, ctx: PassContext, opts: None = None) -> Graph:
    """reset by subtraction -> integrating current + self-synapse (zero-reset targets)"""
    if "subtract" in ctx.arith.resets:
        return graph
    todo = [p for p in graph.populations.values()
            if p.reset is ResetMode.SUBTRACT and p.model in (NeuronModel.IF, NeuronModel.LIF)
            and p.refractory == 0]
    if not todo:
        return graph
    pops, projs = dict(graph.populations), dict(graph.projections)
    for p in todo:
        name = f"{p.name}.reset"
        while name in projs:
            name = "_" + name
        n = p.size
        projs[name] = Projection(
            name=name, src=p.name, dst=p.name, kind=Conn.SPARSE,
            weight=-(1.0 - p.dv) * p.v_th, delay=np.zeros(n, dtype=np.int64),
            indptr=np.arange(n + 1, dtype=np.int64), indices=np.arange(n, dtype=np.int64))
        pops[p.name] = replace(p, model=NeuronModel.CUBA_LIF, du=p.dv, dv=np.ones(n),
                               i_bias=p.bias, bias=np.zeros(n), reset=ResetMode.ZERO)
    note = {"populations": [p.name for p in todo],
            "note": "reset by subtraction emulated: the current integrates, a self-synapse "
                    "subtracts the threshold one step after each spike"}
    return Graph(populations=pops, projections=projs, inputs=graph.inputs,
                 outputs=graph.outputs, meta={**graph.meta, "lower_reset": note})
