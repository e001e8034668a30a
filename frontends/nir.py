"""NIR (nir 1.0.8) -> IR.

Neuron nodes become populations; every chain of linear nodes between two neuron layers (or from
an input) is composed into one projection; nested NIRGraphs are flattened with dotted names.
Continuous-time parameters are discretized with forward Euler and step `dt`
(compiler/discretize.py). Shapes are inferred here, not trusted from the file: every repair is
reported as a RepairWarning.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import nir
import numpy as np
from snnc.compiler import budget
from snnc.compiler import discretize as dz
from snnc.compiler.errors import ModelError, UnsupportedNode
from snnc.compiler.ir import Graph, NeuronModel, Population, Port, Projection, ResetMode
from snnc.compiler.linalg import conv_out_shape
from snnc.frontends import linop
from snnc.frontends.conventions import CONVENTIONS, SOURCES, Convention, rockpool_dt
from snnc.frontends.linop import Lin
from snnc.frontends.projections import delayed_projections, repair

NEURONS = (nir.LIF, nir.CubaLIF, nir.IF, nir.LI, nir.CubaLI, nir.I, nir.Threshold)
LINEAR = (nir.Affine, nir.Linear, nir.Scale, nir.Conv1d, nir.Conv2d, nir.Flatten,
          nir.SumPool2d, nir.AvgPool2d, nir.Delay)
MAX_DEPTH = 32  # nested subgraphs
TIMED = (nir.LIF, nir.CubaLIF, nir.LI, nir.CubaLI, nir.Delay)


class _Pass:
    """Identity node left where a subgraph's Input/Output port was flattened away."""

    def __init__(self) -> None:
        self.metadata: dict[str, Any] = {}


@dataclass
class _Ctx:
    path: str
    dt: float
    reset: ResetMode | None
    nodes: dict[str, Any]
    preds: dict[str, list[str]]
    conv: Convention = CONVENTIONS["nir"]
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    busy: set[str] = field(default_factory=set)  # nodes whose shape is being inferred
    values: dict[str, tuple[dict[str, dict[int, Lin]], np.ndarray | None]] = field(
        default_factory=dict)

    def err(self, node: str | None, msg: str, hint: str = "") -> ModelError:
        return ModelError(self.path, node, msg, hint)


# --- reading and flattening ---------------------------------------------------------------

def _known_types() -> set[str]:
    return {t.__name__ for t in (*NEURONS, *LINEAR, nir.Input, nir.Output, nir.NIRGraph)}


def _prescan(path: str) -> None:
    """Name unknown node types before nir.read fails on them with a bare assertion."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except Exception:
        return  # nir.read reports unreadable files below
    bad: list[str] = []
    total = 0

    def visit(name: str, obj: object) -> None:
        nonlocal total
        if isinstance(obj, h5py.Dataset):  # declared sizes, before nir.read reads them
            if obj.dtype.kind not in "biufcS" and not h5py.check_string_dtype(obj.dtype):
                raise ModelError(path, name, f"dataset of dtype {obj.dtype}; NIR holds "
                                 "numbers and strings")
            total += int(obj.size) * max(obj.dtype.itemsize, 1)
            budget.check(total, 1, f"{path}: '{name}'", "the datasets read so far")
        if name.count("/nodes/") > MAX_DEPTH:
            raise ModelError(path, None, f"subgraphs nested more than {MAX_DEPTH} deep "
                             f"(at {name[:80]}...)", "flatten the graph before exporting")
        if name.endswith("/type") and isinstance(obj, h5py.Dataset) and "/nodes/" in name:
            v = obj[()]
            t = v.decode() if isinstance(v, bytes) else str(v)
            if t not in _known_types():
                node = name[:-5].split("/nodes/")[-1].replace("/nodes/", ".")
                bad.append(f"'{node}' ({t})")
    try:
        with f:
            f.visititems(visit)
    except (RuntimeError, KeyError, OSError, ValueError, TypeError) as e:  # corrupt objects
        raise ModelError(path, None, f"cannot read NIR file: {type(e).__name__}: {e}",
                         "is it a complete NIR HDF5 file written by nir.write?") from None
    if bad:
        raise UnsupportedNode(path, None, f"unknown NIR node types: {', '.join(sorted(bad))}",
                              "supported: " + ", ".join(t.__name__ for t in NEURONS + LINEAR))


def _read(path: str) -> nir.NIRGraph:
    if not os.path.exists(path):
        raise ModelError(path, None, "file not found")
    _prescan(path)
    try:
        g = nir.read(path, type_check=False)
    except KeyError as e:
        raise UnsupportedNode(path, None, f"unknown NIR node type or missing field {e}",
                              f"supported: {', '.join(t.__name__ for t in NEURONS + LINEAR)}"
                              ) from None
    except Exception as e:  # h5py/nir raise many kinds on corrupt files
        raise ModelError(path, None, f"cannot read NIR file: {type(e).__name__}: {e}",
                         "is it a complete NIR HDF5 file written by nir.write?") from None
    if not isinstance(g, nir.NIRGraph):
        raise ModelError(path, None, f"top level is a {type(g).__name__}, not a NIRGraph")
    return g


def _flatten(path: str, g: nir.NIRGraph, prefix: str = "", top: bool = True
             ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Nested NIRGraphs -> one flat node dict with dotted names; sub-ports become _Pass."""
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    subs: dict[str, nir.NIRGraph] = {}
    for name, node in g.nodes.items():
        full = prefix + str(name)
        if isinstance(node, nir.NIRGraph):
            subs[str(name)] = node
            n2, e2 = _flatten(path, node, full + ".", top=False)
            nodes.update(n2)
            edges.extend(e2)
        elif not top and isinstance(node, (nir.Input, nir.Output)):
            nodes[full] = _Pass()
        else:
            nodes[full] = node

    def port(name: str, kind: type) -> str:
        if name in subs:
            ports = [k for k, v in subs[name].nodes.items() if isinstance(v, kind)]
            if len(ports) != 1:
                raise ModelError(path, prefix + name, f"edge to subgraph with {len(ports)} "
                                 f"{kind.__name__} nodes is ambiguous",
                                 "name the port in the edge, e.g. 'sub.input'")
            return prefix + name + "." + str(ports[0])
        return prefix + name

    for src, dst in g.edges:
        edges.append((port(str(src), nir.Output), port(str(dst), nir.Input)))
    return nodes, edges


# --- shapes -------------------------------------------------------------------------------

def _arr(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _neuron_param_shape(node: Any) -> tuple[int, ...] | None:
    """Shape of a neuron node from its parameter arrays (None if all are scalars)."""
    shapes = {np.shape(v) for k, v in vars(node).items()
              if k not in ("input_type", "output_type", "metadata") and np.ndim(v) > 0}
    if not shapes:
        return None
    return max(shapes, key=lambda s: int(np.prod(s)))


def _pair(v: Any, n: int) -> tuple[int, ...]:
    a = np.atleast_1d(np.asarray(v)).astype(np.int64).reshape(-1)
    return tuple(int(x) for x in (np.repeat(a, n) if a.size == 1 else a))


def _declared(node: Any, key: str, port: str) -> tuple[int, ...] | None:
    t = getattr(node, key, None) or {}
    v = t.get(port)
    if v is None:
        return None
    shape = tuple(int(x) for x in np.atleast_1d(np.asarray(v)).reshape(-1))
    return shape if shape and all(s > 0 for s in shape) else None


def _in_shape(ctx: _Ctx, name: str) -> tuple[int, ...]:
    preds = ctx.preds.get(name, [])
    if not preds:
        raise ctx.err(name, "has no incoming edge", "connect it or remove it")
    shapes = [_out_shape(ctx, p) for p in preds]
    sizes = {int(np.prod(s)) for s in shapes}
    if len(sizes) > 1:
        met = dict(zip(preds, shapes, strict=True))
        raise ctx.err(name, f"inputs of different sizes meet here: {met}",
                      "every input of a node must match")
    shape = max(shapes, key=len)
    decl = _declared(ctx.nodes[name], "input_type", "input")
    if decl is not None and decl != shape and not isinstance(ctx.nodes[name], _Pass):
        repair(ctx.path, name, f"input_type {decl} does not match the inferred input {shape}; "
                               "using the inferred shape")
    return shape


def _out_shape(ctx: _Ctx, name: str) -> tuple[int, ...]:
    """Output shape of a node, inferred from its parameters and its inputs."""
    if name in ctx.shapes:
        return ctx.shapes[name]
    if name in ctx.busy:
        raise ctx.err(name, "is on a cycle of linear nodes without a neuron",
                      "every recurrent loop must pass through a neuron layer")
    ctx.busy.add(name)
    try:
        shape = _infer(ctx, name, ctx.nodes[name])
    finally:
        ctx.busy.discard(name)
    if any(s <= 0 for s in shape):
        raise ctx.err(name, f"inferred output shape {shape} is empty",
                      "check kernel, stride and padding against the input size")
    where = f"{ctx.path}: node '{name}'"
    budget.size_of(shape, where, budget.NEURON_BYTES)
    ctx.shapes[name] = shape
    return shape


def _infer(ctx: _Ctx, name: str, node: Any) -> tuple[int, ...]:
    if isinstance(node, nir.Input):
        shape = _declared(node, "input_type", "input") or _declared(node, "output_type", "output")
        if shape is None:
            raise ctx.err(name, "input node has no usable input_type shape",
                          "give the Input node input_type={'input': np.array(shape)}")
        return shape
    if isinstance(node, NEURONS):
        shape = _neuron_param_shape(node)
        if shape is None or (int(np.prod(shape)) == 1 and ctx.preds.get(name)):
            if shape is None:
                ins = _in_shape(ctx, name)
            else:  # one value per parameter: broadcast if the input says so, else keep 1
                try:
                    ins = _in_shape(ctx, name)
                except ModelError:  # e.g. its own recurrent loop: keep (1,)
                    ins = shape
            if shape is None or int(np.prod(ins)) != 1:
                repair(ctx.path, name, f"parameters hold one value each; broadcast to the "
                                       f"input shape {ins}")
                shape = ins
        return shape
    if isinstance(node, nir.Output):
        return _in_shape(ctx, name)
    ins = _in_shape(ctx, name)
    if isinstance(node, (_Pass, nir.Delay)):
        return ins
    if isinstance(node, nir.Scale):
        return ins
    if isinstance(node, (nir.Affine, nir.Linear)):
        w = np.asarray(node.weight)
        if w.ndim != 2:
            raise ctx.err(name, f"weight has shape {w.shape}; expected (out, in)")
        if int(np.prod(ins)) != w.shape[1]:
            raise ctx.err(name, f"weight expects {w.shape[1]} inputs but receives {ins} = "
                          f"{int(np.prod(ins))}", "check the preceding layer or Flatten")
        if len(ins) > 1:
            repair(ctx.path, name, f"input of shape {ins} flattened (C order) for the "
                                   f"{type(node).__name__} weight")
        return (w.shape[0],)
    if isinstance(node, nir.Flatten):
        start, end = int(node.start_dim), int(node.end_dim)
        nd = len(ins)
        s, e = (start % nd if start < nd else start), end % nd
        if s > e or s >= nd:
            raise ctx.err(name, f"cannot flatten dims {start}..{end} of shape {ins}")
        return (*ins[:s], int(np.prod(ins[s:e + 1])), *ins[e + 1:])
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        return _conv_geom(ctx, name, node, ins)[-1]
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        return _pool_geom(ctx, name, node, ins)[-1]
    raise ctx.err(name, f"internal: no shape rule for {type(node).__name__}")


def _conv_geom(ctx: _Ctx, name: str, node: Any, ins: tuple[int, ...]) -> tuple[Any, ...]:
    nd = 1 if isinstance(node, nir.Conv1d) else 2
    k = np.asarray(node.weight, dtype=np.float64)
    if k.ndim != nd + 2:
        raise ctx.err(name, f"kernel has shape {k.shape}; expected {nd + 2} dims")
    if len(ins) != nd + 1:
        spatial = tuple(int(x) for x in np.atleast_1d(np.asarray(node.input_shape)))
        if len(spatial) == nd and int(np.prod(ins)) == k.shape[1] * int(node.groups) * int(
                np.prod(spatial)):
            repair(ctx.path, name, f"flat input {ins} reshaped to (C, *{spatial}) from "
                                   "input_shape")
            ins = (k.shape[1] * int(node.groups), *spatial)
        else:
            raise ctx.err(name, f"input of shape {ins} is not (C, *{nd} spatial dims)")
    stride, dil = _pair(node.stride, nd), _pair(node.dilation, nd)
    if isinstance(node.padding, str):
        pad = _pair(0, nd) if node.padding == "valid" else tuple(
            d * (ks - 1) // 2 for d, ks in zip(dil, k.shape[2:], strict=True))
    else:
        pad = _pair(node.padding, nd)
    groups = int(node.groups)
    if groups < 1 or ins[0] != k.shape[1] * groups or k.shape[0] % groups:
        raise ctx.err(name, f"kernel {k.shape} with groups={groups} does not fit {ins[0]} "
                      "input channels")
    if min(stride) < 1 or min(dil) < 1 or min(pad) < 0:
        raise ctx.err(name, f"invalid stride {stride}, dilation {dil} or padding {pad}")
    out = conv_out_shape(ins, k.shape, stride, pad, dil)
    return k, ins, stride, pad, dil, groups, out


def _pool_geom(ctx: _Ctx, name: str, node: Any, ins: tuple[int, ...]) -> tuple[Any, ...]:
    if len(ins) != 3:
        raise ctx.err(name, f"2-D pooling needs a (C, H, W) input, got {ins}")
    ks, st, pad = _pair(node.kernel_size, 2), _pair(node.stride, 2), _pair(node.padding, 2)
    if min(ks) < 1 or min(st) < 1 or min(pad) < 0 or len(ks) != 2 or len(st) != 2 or len(
            pad) != 2:
        raise ctx.err(name, f"invalid kernel {ks}, stride {st} or padding {pad}")
    budget.check(ins[0] * ks[0] * ks[1], 8, f"{ctx.path}: node '{name}'", f"a {ks} kernel")
    c = ins[0]
    val = 1.0 if isinstance(node, nir.SumPool2d) else 1.0 / (ks[0] * ks[1])
    k = np.full((c, 1, *ks), val)
    out = conv_out_shape(ins, k.shape, st, pad, (1, 1))
    return k, ins, st, pad, (1, 1), c, out


# --- linear paths -------------------------------------------------------------------------

Terms = dict[str, dict[int, Lin]]  # source -> delay -> map


def _add_terms(acc: Terms, more: Terms) -> None:
    for src, by_d in more.items():
        slot = acc.setdefault(src, {})
        for d, m in by_d.items():
            slot[d] = linop.add(slot[d], m) if d in slot else m


def _gather(ctx: _Ctx, name: str) -> tuple[Terms, np.ndarray | None]:
    """Sum of what reaches `name` from its predecessors, as maps from sources plus a constant."""
    terms: Terms = {}
    const = None
    for p in ctx.preds.get(name, []):
        t, c = _value(ctx, p)
        _add_terms(terms, t)
        if c is not None:
            const = c if const is None else const + c
    return terms, const


def _value(ctx: _Ctx, name: str) -> tuple[Terms, np.ndarray | None]:
    """Output of a node as maps from source nodes (inputs, neurons) plus a constant vector."""
    if name in ctx.values:
        return ctx.values[name]
    node = ctx.nodes[name]
    n = int(np.prod(_out_shape(ctx, name)))
    if isinstance(node, (nir.Input, *NEURONS)):
        out: tuple[Terms, np.ndarray | None] = ({name: {0: linop.ident(n)}}, None)
    elif isinstance(node, nir.Output):
        raise ctx.err(name, "an Output node cannot feed other nodes")
    else:
        terms, const = _gather(ctx, name)
        out = _apply(ctx, name, node, terms, const)
    ctx.values[name] = out
    return out


def _apply(ctx: _Ctx, name: str, node: Any, terms: Terms, const: np.ndarray | None
           ) -> tuple[Terms, np.ndarray | None]:
    ins = _in_shape(ctx, name)
    outs = _out_shape(ctx, name)
    n_in, n_out = int(np.prod(ins)), int(np.prod(outs))
    bias = None
    if isinstance(node, (_Pass, nir.Flatten)):
        return terms, const
    if isinstance(node, nir.Delay):
        return _apply_delay(ctx, name, node, terms, n_in), const
    if isinstance(node, (nir.Affine, nir.Linear)):
        w = _arr(node.weight)
        op = linop.dense(w)
        if isinstance(node, nir.Affine):
            bias = _arr(node.bias).reshape(-1) if np.size(node.bias) == n_out else np.broadcast_to(
                _arr(node.bias), (n_out,)).copy()
    elif isinstance(node, nir.Scale):
        s = np.broadcast_to(_arr(node.scale), ins).reshape(-1)
        op = linop.scale(s)
    elif isinstance(node, (nir.Conv1d, nir.Conv2d)):
        k, cins, st, pad, dil, groups, out = _conv_geom(ctx, name, node, ins)
        op = linop.conv(k, cins, out, st, pad, dil, groups)
        b = np.atleast_1d(_arr(node.bias)).reshape(-1)
        if b.size and np.any(b):
            spatial = int(np.prod(out[1:]))
            bias = np.repeat(np.broadcast_to(b, (out[0],)), spatial)
    else:
        k, cins, st, pad, dil, groups, out = _pool_geom(ctx, name, node, ins)
        op = linop.conv(k, cins, out, st, pad, dil, groups)
    if not np.isfinite(np.asarray(op.data)).all() or (
            bias is not None and not np.isfinite(bias).all()):
        raise ctx.err(name, "weights or bias contain NaN or inf", "re-export the trained model")
    new = {s: {d: linop.compose(op, m) for d, m in by_d.items()} for s, by_d in terms.items()}
    c = op.apply(const) if const is not None else None
    if bias is not None and np.any(bias):
        c = bias if c is None else c + bias
    return new, c


def _apply_delay(ctx: _Ctx, name: str, node: Any, terms: Terms, n: int) -> Terms:
    steps = np.broadcast_to(_arr(node.delay), (n,)) / ctx.dt
    if not np.isfinite(steps).all() or (steps < -1e-9).any():
        raise ctx.err(name, "delays must be finite and non-negative")
    rounded = np.round(steps)
    if (np.abs(steps - rounded) > 1e-6 * np.maximum(1, steps)).any():
        repair(ctx.path, name, f"delays are not whole multiples of dt={ctx.dt:g}; rounded to "
                               "the nearest step")
    ds = rounded.astype(np.int64)
    out: Terms = {}
    for src, by_d in terms.items():
        for d, m in by_d.items():
            for v in np.unique(ds):
                part = m if (ds == v).all() else linop.compose(
                    linop.scale((ds == v).astype(np.float64)), m)
                _add_terms(out, {src: {int(d + v): part}})
    return out


# --- neurons ------------------------------------------------------------------------------

def _p(ctx: _Ctx, name: str, node: Any, attr: str, n: int, default: float | None = None
       ) -> np.ndarray:
    v = getattr(node, attr, None)
    if v is None:
        if default is None:
            raise ctx.err(name, f"missing parameter {attr}")
        return np.full(n, default)
    a = _arr(v)
    if a.size == 1 and n != 1:
        if np.ndim(v) != 0:
            repair(ctx.path, name, f"parameter {attr} has 1 value for {n} neurons; broadcast")
        return np.full(n, float(a.reshape(-1)[0]))
    if a.size != n:
        raise ctx.err(name, f"parameter {attr} has {a.size} values for {n} neurons")
    if not np.isfinite(a).all():
        raise ctx.err(name, f"parameter {attr} contains NaN or inf")
    return a.reshape(-1)


def _decay(ctx: _Ctx, name: str, tau: np.ndarray, what: str) -> np.ndarray:
    if (tau <= 0).any():
        raise ctx.err(name, f"{what} must be positive, got {tau.min():g}")
    d = ctx.conv.decay(ctx.dt, tau)
    if (d > 1).any():
        raise ctx.err(name, f"dt={ctx.dt:g} is larger than {what}={tau.min():g}, so the "
                      "discretized decay would overshoot",
                      "pass --dt smaller than every time constant (the NIR paper used 1e-4)")
    return d


def _leak_bias(ctx: _Ctx, v_leak: np.ndarray, tau: np.ndarray, d: np.ndarray) -> np.ndarray:
    """The constant drive towards v_leak: v_leak times the decay per step."""
    return v_leak * d if ctx.conv.exact else dz.leak_bias(v_leak, tau, ctx.dt)


def _lower_neuron(ctx: _Ctx, name: str, node: Any) -> tuple[Population, np.ndarray, bool]:
    """-> (population, input gain per neuron, whether constants go to u instead of v)."""
    pop, gain, to_u = _neuron_of(ctx, name, node)
    _check_time_scale(ctx, name, node, pop, gain)
    meta = getattr(node, "metadata", None) or {}
    kept = {k: int(meta.get(f"snnc_{k}", 0)) for k in ("onset", "reset_every", "reset_phase")}
    return (replace(pop, **kept) if any(kept.values()) else pop), gain, to_u


def _neuron_of(ctx: _Ctx, name: str, node: Any) -> tuple[Population, np.ndarray, bool]:
    shape = _out_shape(ctx, name)
    n = int(np.prod(shape))
    P: Callable[..., np.ndarray] = lambda a, d=None: _p(ctx, name, node, a, n, d)
    meta = getattr(node, "metadata", None) or {}
    reset = ResetMode(str(meta["snnc_reset"])) if "snnc_reset" in meta else (
        ctx.reset or ctx.conv.reset or ResetMode.ZERO)
    refr = int(meta.get("snnc_refractory", 0))
    spk = {"reset": reset, "refractory": refr}
    if isinstance(node, (nir.LIF, nir.LI)):
        tau = P("tau")
        dv = _decay(ctx, name, tau, "tau")
        gain = ctx.conv.leaky_gain(P("r"), tau, ctx.dt)
        params = dict(dv=dv, bias=_leak_bias(ctx, P("v_leak", 0.0), tau, dv))
        if isinstance(node, nir.LIF):
            pop = Population.make(name, shape, NeuronModel.LIF, v_th=P("v_threshold"),
                                  v_reset=P("v_reset", 0.0), **params, **spk)
        else:
            pop = Population.make(name, shape, NeuronModel.LI, **params)
        return pop, gain, False
    if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
        tau_syn, tau_mem = P("tau_syn"), P("tau_mem")
        du = _decay(ctx, name, tau_syn, "tau_syn")
        dv = _decay(ctx, name, tau_mem, "tau_mem")
        gain = ctx.conv.cuba_gain(P("w_in", 1.0), tau_syn, P("r"), tau_mem, ctx.dt)
        params = dict(du=du, dv=dv, bias=_leak_bias(ctx, P("v_leak", 0.0), tau_mem, dv))
        if isinstance(node, nir.CubaLIF):
            pop = Population.make(name, shape, NeuronModel.CUBA_LIF, v_th=P("v_threshold"),
                                  v_reset=P("v_reset", 0.0), **params, **spk)
        else:
            pop = Population.make(name, shape, NeuronModel.CUBA_LI, **params)
        return pop, gain, True
    if isinstance(node, nir.IF):
        pop = Population.make(name, shape, NeuronModel.IF, v_th=P("v_threshold"),
                              v_reset=P("v_reset", 0.0), **spk)
        return pop, dz.integrator_gain(P("r"), ctx.dt), False
    if isinstance(node, nir.I):
        return (Population.make(name, shape, NeuronModel.I),
                dz.integrator_gain(P("r"), ctx.dt), False)
    # Threshold: a memoryless neuron, v[t] = input[t]; spike = v > threshold
    pop = Population.make(name, shape, NeuronModel.LIF, dv=np.ones(n), v_th=P("threshold"),
                          reset=ResetMode.NONE)
    return pop, np.ones(n), False


def _check_time_scale(ctx: _Ctx, name: str, node: Any, pop: Population,
                      gain: np.ndarray) -> None:
    """A layer that, with this dt, barely decays or barely feels its input is almost always a
    unit mistake (tau in steps read as seconds): say so by name."""
    tau = getattr(node, "tau", getattr(node, "tau_mem", None))
    if tau is None:
        return
    leaky = pop.dv.size and float(pop.dv.max()) < 1e-3
    deaf = gain.size and float(np.abs(gain).max()) < 1e-3
    if leaky or deaf:
        repair(ctx.path, name, f"with dt={ctx.dt:g} and tau={float(np.min(tau)):g} this layer "
               f"decays by {float(pop.dv.max()):.2g} per step and scales its input by "
               f"{float(np.abs(gain).max()):.2g}, so it can hardly decay or spike; if tau is "
               "in steps (Sinabs) pass --source sinabs or --dt 1, and give --dt in the "
               "exporter's units otherwise")


# --- driver -------------------------------------------------------------------------------

def _choose_dt(path: str, g: nir.NIRGraph, nodes: dict[str, Any], dt: float | None,
               conv: Convention) -> float:
    if dt is not None:
        if not (dt > 0 and np.isfinite(dt)):
            raise ModelError(path, None, f"--dt must be a positive number, got {dt}")
        return float(dt)
    stored = (g.metadata or {}).get("snnc_dt")
    if stored is not None:
        return float(stored)
    if conv.name == "rockpool":
        return _rockpool_dt(path, nodes)
    if conv.dt is not None:
        return conv.dt
    timed = any(isinstance(n, TIMED) for n in nodes.values())
    chosen = dz.DEFAULT_DT if timed else dz.DISCRETE_DT
    why = ("the graph has time constants; NIR paper default" if timed else
           "the graph has no time constant, so its IF/I nodes are read per step")
    repair(path, None, f"no --dt given; using dt={chosen:g} ({why}). Pass --dt to choose")
    return chosen


def load_nir(path: str, dt: float | None = None, reset: ResetMode | None = None,
             timing: str | None = None, source: str | None = None) -> Graph:
    """Read a .nir file into a validated float IR. timing "trained" (the default for graphs
    snnc did not write) reproduces the latency-free network NIR describes, shifted by a lag
    per output (frontends/timing.py); "hardware" keeps one step per projection."""
    return load_nir_graph(_read(path), path, dt, reset, timing, source)


def _rockpool_dt(path: str, nodes: dict[str, Any]) -> float:
    """The one dt Rockpool wrote into every neuron's r."""
    found = {}
    for k, n in nodes.items():
        tau = getattr(n, "tau_mem", getattr(n, "tau", None))
        if tau is not None and getattr(n, "r", None) is not None:
            try:
                found[k] = rockpool_dt(tau, n.r)
            except ValueError as e:
                raise ModelError(path, k, str(e), "is this a Rockpool export? pass --dt") from None
    if not found:
        return dz.DISCRETE_DT
    # r is stored in float32: dt comes back to about 7 digits; 6 significant digits it is
    vals = sorted(float(f"{v:.6g}") for v in found.values())
    if vals[-1] != vals[0]:
        raise ModelError(path, None, f"Rockpool's r gives different dt per layer ({vals[0]:g} "
                         f"to {vals[-1]:g})", "pass --dt")
    return vals[0]


def _source_of(path: str, g: nir.NIRGraph, source: str | None) -> Convention:
    """--source, else what the graph's metadata names, else plain NIR."""
    name = source or str((g.metadata or {}).get("snnc_source", "nir"))
    if source is None and name == "nir" and any(
            str(k).endswith(("_LIFTorch", "_LinearTorch", "_LIFNeuronTorch")) for k in g.nodes):
        repair(path, None, "node names say Rockpool exported this graph; reading it with "
                           "Rockpool's conventions (pass --source to choose)")
        name = "rockpool"
    if name == "lava-dl":
        raise ModelError(path, None, "lava-dl models are read from their netx file (.net), "
                         "not NIR", "snnc compile model.net")
    if name not in CONVENTIONS:
        raise ModelError(path, None, f"unknown source {name!r}",
                         f"choose one of {', '.join(SOURCES)}")
    return CONVENTIONS[name]


def load_nir_graph(g: nir.NIRGraph, path: str, dt: float | None = None,
                   reset: ResetMode | None = None, timing: str | None = None,
                   source: str | None = None) -> Graph:
    """A NIR graph in memory (`path` names it in messages) into a validated float IR.
    `source` names the exporting framework whose conventions to read it by
    (frontends/conventions.py)."""
    conv = _source_of(path, g, source)
    nodes, edges = _flatten(path, g)
    if not nodes:
        raise ModelError(path, None, "the graph has no nodes (empty model)")
    bad = sorted(f"'{k}' ({type(v).__name__})" for k, v in nodes.items()
                 if not isinstance(v, (nir.Input, nir.Output, _Pass, *NEURONS, *LINEAR)))
    if bad:
        raise UnsupportedNode(path, None, f"unsupported node types: {', '.join(bad)}",
                              "supported: " + ", ".join(t.__name__ for t in NEURONS + LINEAR))
    for node in nodes.values():
        if isinstance(node, nir.Conv2d):
            _conv2d_output(node)
    _check_values(path, nodes)
    preds: dict[str, list[str]] = {}
    for s, d in edges:
        for end in (s, d):
            if end not in nodes:
                raise ModelError(path, end, f"edge ({s} -> {d}) names a node that does not "
                                 "exist")
        if isinstance(nodes[d], nir.Input):
            raise ModelError(path, d, f"edge ({s} -> {d}) leads into an Input node",
                             "an Input node only feeds the graph; connect the edge to a layer")
        if isinstance(nodes[s], nir.Output):
            raise ModelError(path, s, f"edge ({s} -> {d}) leaves an Output node",
                             "an Output node ends the graph; take the edge from its source")
        preds.setdefault(d, []).append(s)
    preds = {k: sorted(v) for k, v in preds.items()}
    ctx = _Ctx(path=path, dt=_choose_dt(path, g, nodes, dt, conv), reset=reset, nodes=nodes,
               preds=preds, conv=conv)
    top_in = sorted(k for k, v in nodes.items() if isinstance(v, nir.Input))
    top_out = sorted(k for k, v in nodes.items() if isinstance(v, nir.Output))
    if not top_in or not top_out:
        raise ModelError(path, None, "the graph needs at least one Input and one Output node")
    pops, gains, to_u = {}, {}, {}
    for k in sorted(nodes):
        if isinstance(nodes[k], NEURONS):
            with _node_errors(path, k):
                pops[k], gains[k], to_u[k] = _lower_neuron(ctx, k, nodes[k])
    inputs = []
    for k in top_in:
        with _node_errors(path, k):
            inputs.append(Port(name=k, shape=_out_shape(ctx, k)))
    projections: list[Projection] = []
    for k in sorted(pops):
        with _node_errors(path, k):
            pops[k] = _lower_incoming(ctx, k, pops[k], gains[k], to_u[k], projections)
    outputs = []
    for k in top_out:
        with _node_errors(path, k):
            outputs.append(_lower_output(ctx, k, pops))
    for k in sorted(nodes):
        if not isinstance(nodes[k], nir.Output) and not any(k in v for v in preds.values()):
            if not isinstance(nodes[k], nir.Input):
                repair(path, k, "output of this node is never used")
    graph = Graph.build(list(pops.values()), projections, inputs, outputs,
                        meta={"frontend": "nir", "dt": ctx.dt, "source": conv.name})
    from snnc.compiler.verify import validate
    from snnc.frontends.timing import align

    return validate(align(validate(graph), timing or _timing_of(g), path))


@contextlib.contextmanager
def _node_errors(path: str, node: str) -> Iterator[None]:
    """What numpy or nir raise on a node whose values do not fit together (shapes that do
    not broadcast, a zero stride, ...) becomes one error naming the node."""
    try:
        yield
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, ArithmeticError,
            RecursionError) as e:
        raise ModelError(path, node, f"malformed node ({type(e).__name__}: {e})",
                         "its parameters do not fit together or its neighbours") from None


def _conv2d_output(node: nir.Conv2d) -> None:
    """nir 1.0 infers a Conv2d's output shape from the kernel's height in both dimensions
    (weight.shape[2]), so a non-square dilated kernel gets a wrong, even negative, width:
    infer it per dimension as the convolution computes it. A node with malformed fields is
    left as it is, to the frontend's own checks and shape inference."""
    if node.input_shape is None or isinstance(node.padding, str) and node.padding != "valid":
        return
    try:
        spatial = tuple(int(x) for x in np.asarray(node.input_shape).reshape(-1))
        w = np.shape(node.weight)
        pad = (0, 0) if isinstance(node.padding, str) else node.padding
        geo = [tuple(int(x) for x in np.broadcast_to(np.asarray(v).reshape(-1), (2,)))
               for v in (node.stride, pad, node.dilation)]
    except (TypeError, ValueError, OverflowError):  # NaN, inf, text: left to the frontend
        return
    if len(spatial) == 2 and len(w) == 4:
        node.output_type = {"output": np.array(conv_out_shape((w[1], *spatial), w, *geo))}


def _check_values(path: str, nodes: dict[str, Any]) -> None:
    """Every parameter of every node is real numbers (or a string where NIR has one, such as
    a padding mode): complex, object or text arrays are refused by name, never cast."""
    for name, node in nodes.items():
        for attr, v in vars(node).items():
            if attr in ("metadata", "input_type", "output_type") or v is None:
                continue
            if isinstance(v, str) and attr == "padding" and v in ("same", "valid"):
                continue  # NIR's padding modes
            try:
                a = np.asarray(v)
            except (ValueError, TypeError):
                raise ModelError(path, name, f"parameter {attr} is not an array of numbers"
                                 ) from None
            if a.dtype.kind not in "biuf":
                raise ModelError(path, name, f"parameter {attr} has dtype {a.dtype}; "
                                 "expected real numbers", "re-export the model")
        for key in ("input_type", "output_type"):
            types = getattr(node, key, None) or {}
            for port, v in (types.items() if isinstance(types, dict) else [("?", types)]):
                if v is None:
                    continue
                a = np.asarray(v) if not isinstance(v, str) else np.array([v])
                if a.dtype.kind not in "iuf" or a.ndim > 1 or not np.isfinite(a).all() or (
                        a < 0).any() or (a != np.round(a)).any():
                    raise ModelError(path, name, f"{key}[{port!r}] = {v!r} is not a shape",
                                     "give a 1-D array of non-negative integers")


def _timing_of(g: nir.NIRGraph) -> str:
    """What the graph says (snnc_timing); a graph an older snnc wrote (snnc_dt only) holds
    chip timing; any other NIR graph is latency-free."""
    md = g.metadata or {}
    if md.get("snnc_timing") in ("trained", "hardware"):
        return str(md["snnc_timing"])
    return "hardware" if "snnc_dt" in md else "trained"


def _lower_incoming(ctx: _Ctx, name: str, pop: Population, gain: np.ndarray, to_u: bool,
                    projections: list[Projection]) -> Population:
    """Projections into a population, with its input gain folded into the weights."""
    if not ctx.preds.get(name):
        repair(ctx.path, name, "neuron layer has no input; it is driven by its bias only")
        return pop
    _in_shape(ctx, name)  # reports input_type repairs
    g = linop.scale(gain)
    by_via: dict[str, Terms] = {}
    const = None
    for p in ctx.preds[name]:
        t, c = _value(ctx, p)
        tagged = (getattr(ctx.nodes[p], "metadata", None) or {}).get("snnc_projection")
        via = str(tagged) if tagged else (
            p if not isinstance(ctx.nodes[p], (nir.Input, *NEURONS)) else f"{p}->{name}")
        for src, by_d in t.items():
            _add_terms(by_via.setdefault(src, {}), {via: by_d})
        if c is not None:
            const = c if const is None else const + c
    srcs_of: dict[str, list[str]] = {}
    for src in by_via:
        for v in by_via[src]:
            srcs_of.setdefault(v, []).append(src)
    for src in sorted(by_via):
        for via in sorted(by_via[src]):
            pname = via if len(srcs_of[via]) == 1 else f"{via}[{src}]"
            projections.extend(delayed_projections(
                pname, src, name, {d: linop.compose(g, m) for d, m in by_via[src][via].items()}))
    if const is not None and np.any(const):
        c = gain * const
        if to_u:
            return replace(pop, i_bias=pop.i_bias + c)
        return replace(pop, bias=pop.bias + c)
    return pop


def _lower_output(ctx: _Ctx, name: str, pops: dict[str, Population]) -> Port:
    preds = ctx.preds.get(name, [])
    # a nested graph's Output (a pass-through) that comes from one neuron layer is that layer
    while len(preds) == 1 and isinstance(ctx.nodes.get(preds[0]), _Pass):
        preds = ctx.preds.get(preds[0], [])
    if len(preds) != 1 or preds[0] not in pops:
        raise ctx.err(name, f"output is fed by {preds or 'nothing'}; snnc reads outputs from "
                      "one neuron layer", "end the graph with a neuron node (e.g. LI or IF)")
    src = preds[0]
    decl = _declared(ctx.nodes[name], "output_type", "output")
    shape = pops[src].shape
    if decl is not None and decl != shape:
        repair(ctx.path, name, f"output_type {decl} does not match the neuron layer '{src}' "
                               f"{shape}; using {shape}")
    return Port(name=name, shape=shape, source=src)
