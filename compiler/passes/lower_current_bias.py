"""lower_current_bias: a bias on the current u becomes input from an always-on neuron.

Loihi's LIF has a bias on v only. A constant current bias i_b is the same as a synapse of
weight i_b from a neuron that fires every step (from step 0), through a synapse of delay
onset - 1: it arrives from the population's onset step on, exactly. A population with onset 0
(hardware timing) sees it from step 1 instead of 0 (recorded in meta).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Projection
from snnc.compiler.passes import PassContext, Stage, register_pass

ALWAYS_ON = "_always_on"


@register_pass(stage_in=Stage.FLOAT)
def lower_current_bias(graph: Graph, ctx: PassContext, opts: None = None) -> Graph:
    """current bias -> input from an always-on neuron (targets without one)"""
    if ctx.arith.current_bias:
        return graph
    biased = [p for p in graph.populations.values() if p.i_bias.any()]
    if not biased:
        return graph
    name = ALWAYS_ON
    while name in graph.populations or name in graph.inputs:
        name = "_" + name
    # v = 1 > 0.5 every step from step 0: fires every step (reset to 0, then bias again)
    on = Population.make(name, (1,), NeuronModel.LIF, v_th=0.5, bias=1.0)
    pops = dict(graph.populations)
    projs = dict(graph.projections)
    pops[name] = on
    lowered = []
    for p in biased:
        pname = f"{p.name}.i_bias"
        while pname in projs:
            pname = "_" + pname
        projs[pname] = Projection(name=pname, src=name, dst=p.name, kind=Conn.DENSE,
                                  weight=p.i_bias.reshape(-1, 1),
                                  delay=np.full((p.size, 1), max(p.onset - 1, 0), dtype=np.int64))
        pops[p.name] = replace(p, i_bias=np.zeros(p.size))
        lowered.append(p.name)
    late = [p.name for p in biased if p.onset == 0]
    note = {"always_on": name, "populations": lowered, "late_from_step_0": late,
            "note": "current bias through a synapse of delay onset - 1; populations with onset "
                    "0 see it from step 1 (one step of synaptic latency)"}
    return Graph(populations=pops, projections=projs, inputs=graph.inputs,
                 outputs=graph.outputs, meta={**graph.meta, "lower_current_bias": note})
