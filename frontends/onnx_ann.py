"""ONNX ANN graph -> an ANN of rectified layers joined by composed linear maps.

Every tensor of the ONNX graph becomes either a constant or a `Tensor`: a sum of linear maps
(frontends/linop.py) applied to earlier *layers* plus a bias. A layer is the graph input or the
output of a rectifier (Relu, Clip(0, m)); those are the only places an SNN needs neurons, so
Gemm, MatMul, Conv, pooling, BatchNormalization, Add, Concat, Flatten and Reshape between two
rectifiers compose into one projection per source. `AnnModel.forward` evaluates that form in
numpy: it is what threshold balancing calibrates on and what the operator tests hold equal to
onnxruntime.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
import scipy.sparse as sp
from onnx import helper, numpy_helper
from snnc.compiler import budget
from snnc.compiler.errors import ModelError, UnsupportedNode
from snnc.compiler.linalg import conv_coo, conv_out_shape
from snnc.frontends import linop
from snnc.frontends.linop import Lin
from snnc.frontends.onnx_tensors import initializers

LINEAR_OPS = ("Gemm", "MatMul", "Conv", "AveragePool", "GlobalAveragePool",
              "BatchNormalization", "Add", "Concat", "Flatten", "Reshape")
RECTIFIERS = ("Relu", "Clip")
PASS_OPS = ("Identity", "Dropout", "Constant")
OUTPUT_ONLY = ("Softmax", "LogSoftmax")  # monotone: dropped at a graph output (argmax kept)
SUPPORTED = LINEAR_OPS + RECTIFIERS + PASS_OPS + OUTPUT_ONLY + ("MaxPool",)
_POOL = {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides"}
# the attributes each operator may carry (ONNX operator specs, every opset); any other one
# changes the meaning (e.g. Relu's alpha makes a leaky ReLU) and is refused, never ignored
ATTRIBUTES: dict[str, set[str]] = {
    "Gemm": {"alpha", "beta", "transA", "transB"}, "MatMul": set(),
    "Conv": {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"},
    "AveragePool": _POOL | {"count_include_pad"}, "MaxPool": _POOL | {"storage_order"},
    "GlobalAveragePool": set(),
    "BatchNormalization": {"epsilon", "momentum", "spatial", "training_mode", "is_test"},
    "Add": {"axis", "broadcast"}, "Concat": {"axis"}, "Flatten": {"axis"},
    "Reshape": {"allowzero"}, "Relu": set(), "Clip": {"min", "max"}, "Identity": set(),
    "Dropout": {"ratio", "seed", "is_test"}, "Constant": {"value"},
    "Softmax": {"axis"}, "LogSoftmax": {"axis"}}


@dataclass(eq=False)
class Tensor:
    """sum over sources s of maps[s] @ x_s + bias, with x_s a layer's flat output."""

    shape: tuple[int, ...]  # without the batch axis
    maps: dict[str, Lin]
    bias: np.ndarray

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def source(self) -> str | None:
        """The layer this tensor is, unchanged (identity map, no bias), else None."""
        if len(self.maps) == 1 and not self.bias.any():
            (src, m), = self.maps.items()
            if m.kind == "ident":
                return src
        return None


@dataclass(eq=False)
class Layer:
    """A graph input (pre is None) or a rectifier: out = clip(pre, 0, ceiling)."""

    name: str
    shape: tuple[int, ...]
    pre: Tensor | None = None
    ceiling: float = np.inf
    onnx_node: str = ""


@dataclass(eq=False)
class AnnModel:
    """Layers in topological order, and the graph outputs as tensors over them."""

    path: str
    layers: dict[str, Layer]
    outputs: dict[str, Tensor]
    notes: list[str] = field(default_factory=list)
    _csr: dict[int, Any] = field(default_factory=dict)

    @property
    def input(self) -> Layer:
        return next(iter(self.layers.values()))

    def _apply(self, t: Tensor, acts: dict[str, np.ndarray]) -> np.ndarray:
        out = np.broadcast_to(t.bias, (next(iter(acts.values())).shape[0], t.size)).copy()
        for src, m in t.maps.items():
            x = acts[src]
            if m.kind == "ident":
                out += x
            elif m.kind == "scale":
                out += x * np.asarray(m.data)
            elif m.kind == "dense":
                out += x @ np.asarray(m.data).T
            else:
                c = self._csr.setdefault(id(m), m.csr())
                out += np.asarray((c @ x.T).T)
        return out

    def forward(self, x: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Layer activations and outputs, each (B, n), for input x of shape (B, *shape)."""
        x = np.asarray(x, dtype=np.float64)
        acts = {self.input.name: x.reshape(x.shape[0], -1)}
        for name, layer in self.layers.items():
            if layer.pre is not None:
                acts[name] = np.clip(self._apply(layer.pre, acts), 0.0, layer.ceiling)
        return acts, {k: self._apply(t, acts) for k, t in self.outputs.items()}


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def clean_name(name: str) -> str:
    """An ONNX node name as an IR name: torch's '/fc1/Relu' -> 'fc1.Relu'."""
    return re.sub(r"[^A-Za-z0-9_.]+", "_", name.strip("/").replace("/", ".")).strip("_.") or "x"


def scaled(m: Lin, c: np.ndarray | float) -> Lin:
    """The map followed by a per-output (or scalar) factor c."""
    c = np.asarray(c, dtype=np.float64)
    if m.kind == "ident":
        return linop.scale(np.broadcast_to(c, (m.n_out,)))
    if c.ndim == 0 and m.kind in ("dense", "conv", "scale"):
        return Lin(m.kind, m.n_in, m.n_out, np.asarray(m.data) * float(c), m.in_shape,
                   m.stride, m.padding, m.dilation, m.groups)
    return linop.compose(linop.scale(np.broadcast_to(c, (m.n_out,))), m)


class _Lowering:
    """Walks the ONNX nodes in order; `env` maps tensor names to Tensor or np.ndarray."""

    def __init__(self, path: str, model: onnx.ModelProto, maxpool: str):
        self.path, self.maxpool = path, maxpool
        self.env: dict[str, Tensor | np.ndarray] = {
            k: a.astype(np.float64) for k, a in initializers(model, path).items()}
        self.layers: dict[str, Layer] = {}
        self.notes: list[str] = []
        self.node = ""

    def fail(self, msg: str, hint: str = "") -> ModelError:
        return ModelError(self.path, self.node, msg, hint)

    # --- helpers

    def tensor(self, name: str) -> Tensor:
        v = self.env.get(name)
        if not isinstance(v, Tensor):
            raise self.fail(f"input '{name}' must be computed from the graph input; snnc does "
                            "not evaluate constant-only subgraphs here")
        return v

    def const(self, name: str, what: str) -> np.ndarray:
        v = self.env.get(name)
        if not isinstance(v, np.ndarray):
            raise self.fail(f"{what} ('{name}') must be a constant (initializer)",
                            "weights computed at run time cannot be compiled")
        return v

    def apply(self, x: Tensor, m: Lin, out_shape: tuple[int, ...], bias: Any = 0.0) -> Tensor:
        """m applied to x, plus a constant bias (broadcast to out_shape)."""
        maps = {s: linop.compose(m, lm) for s, lm in x.maps.items()}
        b = m.apply(x.bias) if x.bias.any() else np.zeros(m.n_out)
        return Tensor(out_shape, maps, b + np.broadcast_to(bias, out_shape).reshape(-1))

    def layer(self, name: str, shape: tuple[int, ...], pre: Tensor | None,
              ceiling: float = np.inf, onnx_node: str = "") -> Tensor:
        name = clean_name(name)
        base, i = name, 1
        while name in self.layers:
            i += 1
            name = f"{base}_{i}"
        self.layers[name] = Layer(name, shape, pre, ceiling, onnx_node)
        n = int(np.prod(shape, dtype=np.int64))
        return Tensor(shape, {name: linop.ident(n)}, np.zeros(n))

    # --- operators

    def Constant(self, n: onnx.NodeProto, a: dict[str, Any]) -> np.ndarray:
        if "value" not in a:
            raise self.fail("only Constant nodes with a tensor 'value' are supported")
        return numpy_helper.to_array(a["value"]).astype(np.float64)

    def Identity(self, n: onnx.NodeProto, a: dict[str, Any]) -> Any:
        return self.env[n.input[0]]

    Dropout = Identity  # inference: identity

    def Relu(self, n: onnx.NodeProto, a: dict[str, Any]) -> Tensor:
        x = self.tensor(n.input[0])
        src = x.source()
        if src is not None and self.layers[src].pre is not None:
            return x  # a rectified layer is already non-negative
        return self.layer(n.name or n.output[0], x.shape, x, onnx_node=n.name)

    def Clip(self, n: onnx.NodeProto, a: dict[str, Any]) -> Tensor:
        x = self.tensor(n.input[0])
        lo, hi = a.get("min", -np.inf), a.get("max", np.inf)  # opset < 11: attributes
        if len(n.input) > 1 and n.input[1]:
            lo = float(self.const(n.input[1], "Clip min"))
        if len(n.input) > 2 and n.input[2]:
            hi = float(self.const(n.input[2], "Clip max"))
        if lo != 0 or not hi > 0:
            raise self.fail(f"Clip({lo:g}, {hi:g}) is not a rectifier; spiking neurons "
                            "represent clip(x, 0, m) with m > 0 only")
        return self.layer(n.name or n.output[0], x.shape, x, float(hi), n.name)

    def Gemm(self, n: onnx.NodeProto, a: dict[str, Any]) -> Tensor:
        x = self.tensor(n.input[0])
        if a.get("transA", 0):
            raise self.fail("Gemm with transA=1 transposes the batch axis; not a layer")
        b = self.const(n.input[1], "Gemm B")
        w = (b if a.get("transB", 0) else b.T) * float(a.get("alpha", 1.0))
        if x.size != w.shape[1] or len(x.shape) != 1:
            raise self.fail(f"Gemm expects a flat input of {w.shape[1]} features, got shape "
                            f"{x.shape}", "insert a Flatten before it")
        bias = 0.0
        if len(n.input) > 2 and n.input[2]:
            bias = self.const(n.input[2], "Gemm C").reshape(-1) * float(a.get("beta", 1.0))
        return self.apply(x, linop.dense(w), (w.shape[0],), bias)

    def MatMul(self, n: onnx.NodeProto, a: dict[str, Any]) -> Tensor:
        x = self.tensor(n.input[0])
        w = self.const(n.input[1], "MatMul B")
        if w.ndim != 2 or len(x.shape) != 1 or x.size != w.shape[0]:
            raise self.fail(f"MatMul of an input of shape {x.shape} by a constant of shape "
                            f"{w.shape}: only (batch, K) @ (K, N) is a layer")
        return self.apply(x, linop.dense(w.T), (w.shape[1],))

    def Add(self, n: onnx.NodeProto, a: dict[str, Any]) -> Any:
        u, v = self.env.get(n.input[0]), self.env.get(n.input[1])
        if isinstance(u, np.ndarray) and isinstance(v, np.ndarray):
            return u + v
        if not isinstance(u, Tensor):
            u, v = v, u
        assert isinstance(u, Tensor)
        if isinstance(v, np.ndarray):
            c = v.reshape(v.shape[1:]) if v.ndim == len(u.shape) + 1 and v.shape[0] == 1 else v
            try:
                b = np.broadcast_to(c, u.shape).reshape(-1)
            except ValueError:
                raise self.fail(f"cannot add a constant of shape {v.shape} to a tensor of "
                                f"shape {u.shape}") from None
            return Tensor(u.shape, dict(u.maps), u.bias + b)
        if not isinstance(v, Tensor) or v.shape != u.shape:
            raise self.fail("Add needs two tensors of the same shape (no broadcasting)")
        maps = dict(u.maps)
        for s, m in v.maps.items():
            maps[s] = linop.add(maps[s], m) if s in maps else m
        return Tensor(u.shape, maps, u.bias + v.bias)

    def BatchNormalization(self, n: onnx.NodeProto, a: dict[str, Any]) -> Tensor:
        x = self.tensor(n.input[0])
        if a.get("training_mode", 0):
            raise self.fail("BatchNormalization in training mode", "export the model in eval()")
        g, beta, mean, var = (self.const(n.input[i], f"BatchNormalization input {i}")
                              for i in range(1, 5))
        s = g / np.sqrt(var + float(a.get("epsilon", 1e-5)))
        per = int(np.prod(x.shape[1:], dtype=np.int64))
        sv, tv = np.repeat(s, per), np.repeat(beta - mean * s, per)
        return Tensor(x.shape, {k: linop.compose(linop.scale(sv), m) for k, m in x.maps.items()},
                      sv * x.bias + tv)

    def _fits(self, out: tuple[int, ...], taps: int) -> None:
        """A layer of shape `out` with `taps` synapses per neuron fits the memory budget."""
        where = f"{self.path}: node '{self.node}'"
        n = budget.size_of(out, where)
        budget.check(n * max(taps, 1), budget.SYNAPSE_BYTES, where,
                     f"output {out} with {taps} synapses each")

    def _geometry(self, a: dict[str, Any], x: Tensor, k: tuple[int, ...]
                  ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        nd = len(k)
        if len(x.shape) != nd + 1:
            raise self.fail(f"expects a (C, {'H, W' if nd == 2 else 'L'}) input, got {x.shape}")
        stride = tuple(int(v) for v in a.get("strides", [1] * nd))
        dil = tuple(int(v) for v in a.get("dilations", [1] * nd))
        pads = [int(v) for v in a.get("pads", [0] * 2 * nd)]
        if (len(stride) != nd or len(dil) != nd or len(pads) != 2 * nd or min(k) < 1
                or min(stride) < 1 or min(dil) < 1 or min(pads) < 0):
            raise self.fail(f"kernel {k}, strides {stride}, dilations {dil} or pads {pads} "
                            f"are not {nd}-D geometry (kernel, strides and dilations >= 1, "
                            "pads >= 0)")
        auto = a.get("auto_pad", "NOTSET")
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            begin, end = [], []
            for i in range(nd):
                out = -(-x.shape[1 + i] // stride[i])
                tot = max((out - 1) * stride[i] + dil[i] * (k[i] - 1) + 1 - x.shape[1 + i], 0)
                begin.append(tot // 2 if auto == "SAME_UPPER" else tot - tot // 2)
                end.append(tot - begin[-1])
            pads = begin + end
        elif auto == "VALID":
            pads = [0] * 2 * nd
        if pads[:nd] != pads[nd:]:
            raise self.fail(f"asymmetric padding {pads} is not supported",
                            "use symmetric padding (PyTorch's padding=k//2 exports that way)")
        if a.get("ceil_mode", 0):
            raise self.fail("ceil_mode=1 is not supported", "use ceil_mode=False")
        return stride, tuple(pads[:nd]), dil

    def Conv(self, n: onnx.NodeProto, a: dict[str, Any]) -> Tensor:
        x = self.tensor(n.input[0])
        w = self.const(n.input[1], "Conv weight")
        stride, pad, dil = self._geometry(a, x, tuple(w.shape[2:]))
        groups = int(a.get("group", 1))
        if x.shape[0] != w.shape[1] * groups:
            raise self.fail(f"Conv weight {w.shape} with group={groups} does not match "
                            f"{x.shape[0]} input channels")
        out = conv_out_shape(x.shape, w.shape, stride, pad, dil)
        self._fits(out, int(np.prod(w.shape[1:])))
        if min(out[1:]) < 1:
            raise self.fail(f"Conv output shape {out} is empty")
        m = linop.conv(w, x.shape, out, stride, pad, dil, groups)
        bias = 0.0
        if len(n.input) > 2 and n.input[2]:
            bias = self.const(n.input[2], "Conv bias").reshape((-1,) + (1,) * (len(out) - 1))
        return self.apply(x, m, out, bias)

    def AveragePool(self, n: onnx.NodeProto, a: dict[str, Any]) -> Tensor:
        x = self.tensor(n.input[0])
        k = tuple(a["kernel_shape"])
        stride, pad, dil = self._geometry(a, x, k)
        c = x.shape[0]
        ones = np.ones((c, 1, *k))
        out = conv_out_shape(x.shape, ones.shape, stride, pad, dil)
        if min(out[1:]) < 1:
            raise self.fail(f"AveragePool output shape {out} is empty")
        self._fits(out, int(np.prod(k)))
        if not any(pad) or a.get("count_include_pad", 0):
            m = linop.conv(ones / np.prod(k), x.shape, out, stride, pad, dil, c)
        else:  # the border divides by the taps that fall inside the input
            r, col, _, _ = conv_coo(ones, x.shape, stride, pad, dil, c)
            cnt = np.bincount(r, minlength=int(np.prod(out)))
            m = Lin("sparse", x.size, int(np.prod(out)),
                    sp.csr_matrix((1.0 / cnt[r], (r, col)), shape=(int(np.prod(out)), x.size)))
        return self.apply(x, m, out)

    def MaxPool(self, n: onnx.NodeProto, a: dict[str, Any]) -> Tensor:
        if self.maxpool != "avg":
            raise UnsupportedNode(self.path, self.node, "MaxPool has no exact spiking "
                                  "equivalent", "pass --maxpool avg to approximate it by "
                                  "average pooling (docs/onnx.md), or retrain with AvgPool")
        self.notes.append(f"MaxPool '{n.name}' approximated by average pooling (--maxpool avg)")
        return self.AveragePool(n, {**a, "count_include_pad": 0})

    def GlobalAveragePool(self, n: onnx.NodeProto, a: dict[str, Any]) -> Tensor:
        x = self.tensor(n.input[0])
        per = int(np.prod(x.shape[1:], dtype=np.int64))
        rows = np.repeat(np.arange(x.shape[0]), per)
        m = Lin("sparse", x.size, x.shape[0], sp.csr_matrix(
            (np.full(x.size, 1.0 / per), (rows, np.arange(x.size))), shape=(x.shape[0], x.size)))
        return self.apply(x, m, (x.shape[0],) + (1,) * (len(x.shape) - 1))

    def Flatten(self, n: onnx.NodeProto, a: dict[str, Any]) -> Tensor:
        x = self.tensor(n.input[0])
        if int(a.get("axis", 1)) != 1:
            raise self.fail("Flatten must keep the batch axis (axis=1)")
        return Tensor((x.size,), x.maps, x.bias)

    def Reshape(self, n: onnx.NodeProto, a: dict[str, Any]) -> Tensor:
        x = self.tensor(n.input[0])
        shape = [int(s) for s in self.const(n.input[1], "Reshape shape")]
        full = [1, *x.shape]
        new = [full[i] if s == 0 else s for i, s in enumerate(shape)]
        if -1 in new[1:]:
            rest = int(np.prod([s for s in new[1:] if s != -1]))
            new = [new[0]] + [x.size // max(rest, 1) if s == -1 else s for s in new[1:]]
        if new[0] not in (1, -1) or int(np.prod(new[1:])) != x.size:
            raise self.fail(f"Reshape to {shape} must keep the batch axis first and the "
                            f"{x.size} features")
        return Tensor(tuple(new[1:]), x.maps, x.bias)

    def Concat(self, n: onnx.NodeProto, a: dict[str, Any]) -> Tensor:
        xs = [self.tensor(i) for i in n.input]
        if int(a["axis"]) not in (1, -len(xs[0].shape) - 1) or any(
                x.shape[1:] != xs[0].shape[1:] for x in xs):
            raise self.fail("Concat is supported along the channel axis (axis=1) only")
        shape = (sum(x.shape[0] for x in xs), *xs[0].shape[1:])
        total = int(np.prod(shape))
        maps: dict[str, Lin] = {}
        off = 0
        for x in xs:
            emb = Lin("sparse", x.size, total, sp.csr_matrix(
                (np.ones(x.size), (off + np.arange(x.size), np.arange(x.size))),
                shape=(total, x.size)))
            for s, m in x.maps.items():
                t = linop.compose(emb, m)
                maps[s] = linop.add(maps[s], t) if s in maps else t
            off += x.size
        return Tensor(shape, maps, np.concatenate([x.bias for x in xs]))

    def Softmax(self, n: onnx.NodeProto, a: dict[str, Any]) -> Tensor:
        self.notes.append(f"{n.op_type} '{n.name}' at the output dropped: it keeps the argmax")
        return self.tensor(n.input[0])

    LogSoftmax = Softmax


def _input_shape(path: str, model: onnx.ModelProto) -> tuple[str, tuple[int, ...]]:
    inits = {t.name for t in model.graph.initializer}
    ins = [v for v in model.graph.input if v.name not in inits]
    if len(ins) != 1:
        raise ModelError(path, None, f"an ANN needs exactly one graph input, found {len(ins)}")
    dims = ins[0].type.tensor_type.shape.dim
    shape = tuple(d.dim_value for d in dims[1:])
    if shape and min(shape) >= 1:
        budget.size_of(shape, f"{path}: input '{ins[0].name}'", budget.NEURON_BYTES)
    if not dims or not shape or min(shape) < 1:
        raise ModelError(path, None, f"input '{ins[0].name}' needs a static shape (batch, ...)"
                         f"; got {[d.dim_value or d.dim_param for d in dims]}",
                         "export with a fixed example input shape")
    return ins[0].name, shape


def unsupported(model: onnx.ModelProto) -> list[str]:
    """Every node the converter cannot lower, as "OpType (node 'name')"."""
    return [f"{n.op_type} (node '{n.name or n.output[0]}')" for n in model.graph.node
            if n.domain not in ("", "ai.onnx") or n.op_type not in SUPPORTED]


def lower_ann(model: onnx.ModelProto, path: str = "<onnx>", maxpool: str = "error"
              ) -> AnnModel:
    """The rectified-layer form of an ONNX ANN; one error lists every unsupported operator."""
    bad = unsupported(model)
    if bad:
        raise UnsupportedNode(path, None, f"{len(bad)} unsupported operator(s): "
                              + ", ".join(bad), "supported: " + ", ".join(SUPPORTED))
    in_name, in_shape = _input_shape(path, model)
    lo = _Lowering(path, model, maxpool)
    lo.env[in_name] = lo.layer(in_name, in_shape, None)
    outputs = {o.name for o in model.graph.output}
    for node in model.graph.node:
        lo.node = node.name or node.output[0]
        if node.op_type in OUTPUT_ONLY and not set(node.output) <= outputs:
            raise lo.fail(f"{node.op_type} is only supported as the last operator before an "
                          "output (where it does not change the argmax)")
        missing = [i for i in node.input if i and i not in lo.env]
        if missing:
            raise lo.fail(f"input(s) {missing} are not produced before this node")
        odd = sorted(set(a.name for a in node.attribute) - ATTRIBUTES[node.op_type])
        if odd:
            raise lo.fail(f"{node.op_type} has the attribute(s) {odd}, which snnc does not "
                          "lower" + (" (alpha makes it a leaky ReLU, which has no spiking "
                                     "equivalent)" if node.op_type == "Relu" else ""),
                          "export the model without them, or use a supported operator")
        try:
            val = getattr(lo, node.op_type)(node, _attrs(node))
        except (KeyError, IndexError, ValueError, TypeError, ArithmeticError) as e:
            raise lo.fail(f"malformed {node.op_type} node ({type(e).__name__}: {e})") from None
        lo.env[node.output[0]] = val
    outs: dict[str, Tensor] = {}
    for o in model.graph.output:
        v = lo.env.get(o.name)
        if not isinstance(v, Tensor):
            raise ModelError(path, o.name, "graph output is not computed from the input",
                             what="output")
        outs[clean_name(o.name)] = v
    return AnnModel(path, lo.layers, outs, lo.notes)
