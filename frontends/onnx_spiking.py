"""Spiking ONNX (the `ai.snnc` domain written by backends/onnx_spiking.py) -> IR, exactly."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import onnx
from onnx import helper
from snnc.compiler.errors import IRError, ModelError
from snnc.compiler.ir import POP_PARAMS, Conn, Graph, NeuronModel, Population, Port
from snnc.compiler.ir import Projection, ResetMode
from snnc.compiler.verify import check_structure
from snnc.frontends.onnx_tensors import initializers

DOMAIN = "ai.snnc"
POP_KINDS = {"LIF": NeuronModel.LIF, "CubaLIF": NeuronModel.CUBA_LIF, "IF": NeuronModel.IF,
             "LI": NeuronModel.LI, "CubaLI": NeuronModel.CUBA_LI, "I": NeuronModel.I}
HINT = "write spiking ONNX with `snnc convert MODEL -o OUT.onnx`"
PROJ_KINDS = {"Dense": Conn.DENSE, "Sparse": Conn.SPARSE, "Conv": Conn.CONV}


def is_spiking(model: onnx.ModelProto) -> bool:
    return any(o.domain == DOMAIN for o in model.opset_import)


def _node(node: onnx.NodeProto, inits: dict[str, Any], pops: list[Population],
          projs: list[Projection], outs: list[tuple[str, str]], path: str) -> None:
    """Lower one node of a spiking ONNX graph."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs.items()}
    if node.domain == DOMAIN and node.op_type in PROJ_KINDS:
        src = node.input[0]  # "<pop>.s" or an input port; resolved once pops are known
        extra: dict[str, Any] = {}
        if PROJ_KINDS[node.op_type] is Conn.SPARSE:
            extra = {"indptr": inits[node.input[3]], "indices": inits[node.input[4]]}
        projs.append(Projection(
            name=node.name, src=src, dst=str(attrs["dst"]), kind=PROJ_KINDS[node.op_type],
            weight=inits[node.input[1]], delay=inits[node.input[2]],
            stride=tuple(attrs.get("stride", ())), padding=tuple(attrs.get("padding", ())),
            dilation=tuple(attrs.get("dilation", ())), groups=int(attrs["groups"]),
            weight_exp=int(attrs["weight_exp"]), weight_bits=int(attrs["weight_bits"]),
            **extra))
    elif node.domain == DOMAIN and node.op_type in POP_KINDS:
        k = int(attrs["n_inputs"])
        params = {p: inits[n] for p, n in zip(POP_PARAMS, node.input[k:], strict=True)}
        pops.append(Population(name=node.name, shape=tuple(attrs["shape"]),
                               model=POP_KINDS[node.op_type],
                               reset=ResetMode(attrs["reset"]),
                               refractory=int(attrs["refractory"]),
                               onset=int(attrs.get("onset", 0)),
                               reset_every=int(attrs.get("reset_every", 0)),
                               reset_phase=int(attrs.get("reset_phase", 0)), **params))
    elif node.domain in ("", "ai.onnx") and node.op_type == "Identity":
        outs.append((node.output[0], node.input[0][: -len(".s_next")]))
    else:
        raise ModelError(path, node.name, f"operator {node.domain or 'ai.onnx'}::"
                         f"{node.op_type} is not part of spiking ONNX ({DOMAIN})")


def from_onnx(model: onnx.ModelProto, path: str = "<onnx>") -> Graph:
    """The IR of a spiking ONNX model (one step; see backends/onnx_spiking.py)."""
    inits = initializers(model, path, finite=False)  # v_th of a readout is inf
    pops: list[Population] = []
    projs: list[Projection] = []
    outs: list[tuple[str, str]] = []
    for node in model.graph.node:
        try:
            _node(node, inits, pops, projs, outs, path)
        except (KeyError, IndexError, ValueError, TypeError, OverflowError) as e:
            raise ModelError(path, node.name, f"malformed {node.domain}::{node.op_type} node "
                             f"({type(e).__name__}: {e})",
                             HINT) from None
    shapes = {v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
              for v in list(model.graph.input) + list(model.graph.output)}
    for name in [n for n, _ in outs]:
        if name not in shapes:
            raise ModelError(path, name, "output without a declared shape", HINT, what="output")
    pop_names = {p.name for p in pops}
    projs = [replace(p, src=p.src[:-2]) if p.src.endswith(".s") and p.src[:-2] in pop_names
             else p for p in projs]
    inputs = [Port(name=v.name, shape=shapes[v.name]) for v in model.graph.input
              if not (v.name.endswith(".s") and v.name[:-2] in pop_names)]
    outputs = [Port(name=n, shape=shapes[n], source=src) for n, src in outs]
    props = {p.key: p.value for p in model.metadata_props}
    try:
        meta = json.loads(props.get("snnc.meta", "{}"))
    except (ValueError, RecursionError):
        raise ModelError(path, None, "metadata 'snnc.meta' is not valid JSON") from None
    if not isinstance(meta, dict):
        raise ModelError(path, None, "metadata 'snnc.meta' is not a JSON object", HINT)
    try:
        g = Graph.build(pops, projs, inputs, outputs, meta=meta)
        check_structure(g)
    except IRError as e:  # a node whose inputs do not fit its operator
        raise ModelError(path, e.node, e.message, "the node's operator and its inputs "
                         "disagree: was the file edited? " + HINT) from None
    want = props.get("snnc.digest")
    if want is not None and g.digest() != want:
        raise ModelError(path, None, "the graph is not the one snnc wrote (its digest differs: "
                         "an operator, a parameter or a connection was edited)",
                         "re-export it with `snnc convert`, or, if the edit is meant, delete "
                         "the metadata entry snnc.digest")
    return g
