"""IR -> spiking ONNX: one time step of the network as an ONNX graph in the `ai.snnc` domain.

ONNX graphs are acyclic, and a spiking network is not (recurrence), so the graph is one step,
like an RNN cell: its inputs are the input ports and every population's spikes of the previous
step (`<pop>.s`). Its outputs are every population's new spikes (`<pop>.s_next`) and the
output ports (standard `Identity` nodes). Projections read the previous step, as in the IR
(docs/semantics.md).

  ai.snnc::Dense | Sparse | Conv    one per projection: inputs (source, weight, delay
                                    [, indptr, indices]); attributes weight_exp,
                                    weight_bits, stride, padding, dilation, groups
  ai.snnc::LIF | CubaLIF | IF | LI | CubaLI | I    one per population: inputs (its
                                    projections' outputs..., du, dv, v_th, v_reset, bias,
                                    i_bias); attributes shape, reset, refractory, onset, n_inputs
                                    [, reset_every, reset_phase]

Every array is an initializer of its own dtype (float64 or int64), named `<node>.<field>`, and
graph meta goes in metadata_props as JSON, so IR -> ONNX -> IR (frontends/onnx_spiking.py) is
exact. ONNX names every value once; a graph whose names would collide under this scheme (an
input port called `a.s` beside a population `a`) is refused, naming both.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from snnc.compiler.errors import IRError
from snnc.compiler.ir import POP_PARAMS, Conn, Graph, NeuronModel

DOMAIN, DOMAIN_VERSION, FORMAT = "ai.snnc", 1, 1
POP_OPS = {NeuronModel.LIF: "LIF", NeuronModel.CUBA_LIF: "CubaLIF", NeuronModel.IF: "IF",
           NeuronModel.LI: "LI", NeuronModel.CUBA_LI: "CubaLI", NeuronModel.I: "I"}
PROJ_OPS = {Conn.DENSE: "Dense", Conn.SPARSE: "Sparse", Conn.CONV: "Conv"}


def _init(name: str, a: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ascontiguousarray(a), name=name)


def _vi(name: str, shape: tuple[int, ...]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.DOUBLE, list(shape))


def _unique_names(g: Graph) -> None:
    """Every ONNX value the model names must be named once (module docstring)."""
    seen: dict[str, str] = {}

    def name(value: str, what: str) -> None:
        if value in seen:
            raise IRError(value, f"spiking ONNX would name two values '{value}': {seen[value]} "
                                 f"and {what}; rename one (`snnc convert` to .snn keeps any "
                                 "names)")
        seen[value] = what

    for k in g.inputs:
        name(k, f"input port '{k}'")
    for k in g.outputs:
        name(k, f"output port '{k}'")
    for k in g.populations:
        for f in ("s", "s_next", *POP_PARAMS):
            name(f"{k}.{f}", f"population '{k}'s {f}")
    for k, p in g.projections.items():
        for f in ("out", "weight", "delay", *(("indptr", "indices") if p.kind is Conn.SPARSE
                                              else ())):
            name(f"{k}.{f}", f"projection '{k}'s {f}")


def to_onnx(g: Graph) -> onnx.ModelProto:
    """The one-step spiking ONNX model of a graph (module docstring)."""
    _unique_names(g)
    nodes, inits = [], []
    incoming: dict[str, list[str]] = {k: [] for k in g.populations}
    for name, p in g.projections.items():
        src = p.src if p.src in g.inputs else f"{p.src}.s"
        ins = [src, f"{name}.weight", f"{name}.delay"]
        inits += [_init(f"{name}.weight", p.weight), _init(f"{name}.delay", p.delay)]
        if p.kind is Conn.SPARSE:
            assert p.indptr is not None and p.indices is not None
            ins += [f"{name}.indptr", f"{name}.indices"]
            inits += [_init(f"{name}.indptr", p.indptr), _init(f"{name}.indices", p.indices)]
        attrs: dict[str, Any] = {"weight_exp": p.weight_exp, "weight_bits": p.weight_bits,
                                 "groups": p.groups, "dst": p.dst}
        for f in ("stride", "padding", "dilation"):
            if getattr(p, f):
                attrs[f] = list(getattr(p, f))
        nodes.append(helper.make_node(PROJ_OPS[p.kind], ins, [f"{name}.out"], name=name,
                                      domain=DOMAIN, **attrs))
        incoming[p.dst].append(f"{name}.out")
    for name, pop in g.populations.items():
        params = [f"{name}.{k}" for k in POP_PARAMS]
        inits += [_init(f"{name}.{k}", getattr(pop, k)) for k in POP_PARAMS]
        nodes.append(helper.make_node(
            POP_OPS[pop.model], incoming[name] + params, [f"{name}.s_next"], name=name,
            domain=DOMAIN, shape=list(pop.shape), reset=pop.reset.value,
            refractory=pop.refractory, onset=pop.onset, n_inputs=len(incoming[name]),
            **({"reset_every": pop.reset_every, "reset_phase": pop.reset_phase}
               if pop.reset_every else {})))
    for name, port in g.outputs.items():
        nodes.append(helper.make_node("Identity", [f"{port.source}.s_next"], [name],
                                      name=f"output:{name}"))
    inputs = [_vi(k, p.shape) for k, p in g.inputs.items()]
    inputs += [_vi(f"{k}.s", p.shape) for k, p in g.populations.items()]
    outputs = [_vi(f"{k}.s_next", p.shape) for k, p in g.populations.items()]
    outputs += [_vi(k, p.shape) for k, p in g.outputs.items()]
    graph = helper.make_graph(nodes, "snnc", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, producer_name="snnc", opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid(DOMAIN, DOMAIN_VERSION)])
    helper.set_model_props(model, {"snnc.format": str(FORMAT),
                                   "snnc.meta": json.dumps(dict(g.meta), sort_keys=True),
                                   "snnc.digest": g.digest()})  # the reader checks it
    return model


def write_onnx(g: Graph, path: str) -> None:
    model = to_onnx(g)
    onnx.checker.check_model(model)
    onnx.save(model, path)
