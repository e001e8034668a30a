"""lava-dl netx HDF5 (.net) -> IR.

Follows lava-dl's own netx loader (lava/lib/dl/netx/hdf5.py): CUBA and LOIHI neurons are Lava
LIFs with du = iDecay - du_offset (Lava adds it back), dv = vDecay, vth = vThMant. A netx file
holds Loihi 2's registers, so its units are those of the built-in loihi2 target's arithmetic
(compiler/fixed.py), with U = 2^decay_bits: du = iDecay / U, dv = vDecay / U, v_th = vThMant,
bias = bias, weight = w * 2^wgtExp. Float units are Loihi's u and v divided by 2^act_shift; the
graph says so (annotation native_scale = 2^act_shift), and quantize keeps those integers.
Shapes are stored (C, H, W) in the file (Lava reverses them to W, H, C); the IR keeps (C, H, W).

NetxOptions are lava-dl's own `netx.hdf5.Network` arguments: `num_layers` keeps the first
layer entries, `skip_layers` drops the first ones (the next layer's input becomes the port
"input", shaped as their output), and `reset_interval` / `reset_offset` reset every neuron's
state periodically, layer k of the network (counting kept layers from 0) at phase
reset_offset + 1 + k, as lava-dl staggers it (IR reset_every / reset_phase).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import h5py
import numpy as np
from snnc.compiler import budget, errors
from snnc.compiler.fixed import LoihiArithmetic
from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Port, Projection, ResetMode
from snnc.compiler.linalg import conv_out_shape
from snnc.compiler.targets import load_target
from snnc.compiler.verify import validate
from snnc.frontends.projections import repair

# errors here name the netx layer (its index in the file's 'layer' group)
ModelError = partial(errors.ModelError, what="layer")
UnsupportedNode = partial(errors.UnsupportedNode, what="layer")

LOWERED = ("input", "dense", "conv", "flatten")
REFUSED = {"pool": "pooling", "average": "averaging", "concat": "concatenation",
           "convT": "transposed convolution", "unpool": "unpooling"}
NEURON_TYPES = ("CUBA", "LOIHI")
NETX_FORMAT = "loihi2"  # the target whose registers a netx file holds


@dataclass(frozen=True)
class NetxOptions:
    """lava-dl netx.hdf5.Network's arguments (module docstring); the defaults change nothing."""

    reset_interval: int | None = None
    reset_offset: int = 0
    skip_layers: int = 0
    num_layers: int | None = None

    def check(self, path: str) -> None:
        for what, val, lo in (("reset_interval", self.reset_interval, 1),
                              ("reset_offset", self.reset_offset, 0),
                              ("skip_layers", self.skip_layers, 0),
                              ("num_layers", self.num_layers, 1)):
            if val is not None and not lo <= val <= budget.MAX_COUNT:
                raise ModelError(path, None, f"--{what.replace('_', '-')} {val} is outside "
                                 f"{lo}..{budget.MAX_COUNT}")


def _loihi() -> LoihiArithmetic:
    ar = load_target(NETX_FORMAT).arith
    assert isinstance(ar, LoihiArithmetic)
    return ar


def _get(ctx: str, grp: h5py.Group, key: str, layer: str, default: Any = None) -> Any:
    if key not in grp:
        if default is not None:
            return default
        raise ModelError(ctx, layer, f"missing field '{key}'", "is this a lava-dl netx export?")
    v = _data(ctx, grp, key, layer)
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.dtype.kind == "S":
        return v.reshape(-1)[0].decode()
    return v


def _data(path: str, grp: h5py.Group, key: str, layer: str) -> Any:
    """A dataset's value, once its declared size is known to fit the budget (a compressed
    dataset can declare far more than the file holds)."""
    ds = grp[key]
    if not isinstance(ds, h5py.Dataset):
        raise ModelError(path, layer, f"'{key}' is a group, not a dataset")
    if ds.dtype.kind not in "biufS" and not h5py.check_string_dtype(ds.dtype):
        raise ModelError(path, layer, f"'{key}' has dtype {ds.dtype}; expected numbers")
    budget.check(int(ds.size), max(ds.dtype.itemsize, 8), f"{path}: layer '{layer}'",
                 f"dataset '{key}' of shape {ds.shape}")
    return ds[()]


def _neuron(path: str, lg: h5py.Group, layer: str, shape: tuple[int, ...],
            bias: np.ndarray | None) -> tuple[Population, float]:
    """Population for a layer's neuron group -> (population, weight scale 2^wgtExp)."""
    if "neuron" not in lg:
        raise ModelError(path, layer, "layer has no neuron group")
    ng = lg["neuron"]
    ntype = _get(path, ng, "type", layer)
    if ntype not in NEURON_TYPES:
        raise UnsupportedNode(path, layer, f"neuron type {ntype} cannot be lowered",
                              f"supported neuron types: {', '.join(NEURON_TYPES)} "
                              "(SDNN sigma-delta is not a LIF)")
    n = int(np.prod(shape))
    i_decay = float(_get(path, ng, "iDecay", layer))
    v_decay = float(_get(path, ng, "vDecay", layer))
    vth = float(_get(path, ng, "vThMant", layer))
    ref = int(_get(path, ng, "refDelay", layer, 1))
    wexp = int(_get(path, ng, "wgtExp", layer, 0))
    if not -32 <= wexp <= 32:
        raise ModelError(path, layer, f"wgtExp={wexp} outside -32..32",
                         "Loihi weight exponents are small integers; re-export the model")
    unity = _loihi().decay_unity
    for what, val in (("iDecay", i_decay), ("vDecay", v_decay)):
        if not 0 <= val <= unity:
            raise ModelError(path, layer, f"{what}={val:g} outside 0..{unity}")
    b = np.zeros(n)
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float64).reshape(-1)
        if bias.size == n:
            b = bias
        elif bias.size == shape[0] and n % shape[0] == 0:  # one bias per channel
            b = np.repeat(bias, n // shape[0])
        elif bias.size == 1:
            b = np.full(n, bias[0])
        else:
            raise ModelError(path, layer, f"bias of {bias.size} values does not fit {shape}")
    pop = Population.make(f"layer{layer}", shape, NeuronModel.CUBA_LIF, du=i_decay / unity,
                          dv=v_decay / unity, v_th=vth, bias=b, reset=ResetMode.ZERO,
                          refractory=max(ref - 1, 0))
    return pop, float(2.0 ** wexp)


def _delay(path: str, lg: h5py.Group, layer: str, wshape: tuple[int, ...]) -> np.ndarray:
    """Per-synapse delays: scalar (per layer), per output neuron, or per synapse."""
    if "delay" not in lg:
        return np.zeros(wshape, dtype=np.int64)
    d = np.asarray(_data(path, lg, "delay", layer), dtype=np.float64)
    if not np.isfinite(d).all() or (d < 0).any() or (d != np.round(d)).any():
        raise ModelError(path, layer, "delays must be non-negative whole steps")
    d = d.astype(np.int64)
    if d.size == 1:
        return np.full(wshape, int(d.reshape(-1)[0]), dtype=np.int64)
    if d.shape == wshape[:2] and len(wshape) == 2:
        return d
    if d.size == wshape[0]:
        return np.broadcast_to(d.reshape((-1,) + (1,) * (len(wshape) - 1)), wshape).copy()
    raise ModelError(path, layer, f"delay of shape {d.shape} fits neither the layer, its "
                     f"neurons nor its synapses {wshape}")


def _finite(path: str, layer: str, a: np.ndarray, what: str) -> np.ndarray:
    if not np.isfinite(a).all():
        raise ModelError(path, layer, f"{what} contains NaN or inf", "re-export the model")
    return a


def load_netx(path: str, opts: NetxOptions | None = None) -> Graph:
    """Read a lava-dl netx HDF5 network into a validated float IR."""
    opts = opts or NetxOptions()
    opts.check(path)
    if not os.path.exists(path):
        raise ModelError(path, None, "file not found")
    try:
        f = h5py.File(path, "r")
    except Exception as e:
        raise ModelError(path, None, f"cannot open as HDF5 ({type(e).__name__}: {e})",
                         "the file is truncated or not a netx export") from None
    with f:
        try:
            return _load(path, f, opts)
        except (KeyError, OSError, ValueError, TypeError, RuntimeError, ArithmeticError,
                AttributeError) as e:  # h5py reports corrupt objects as any of these
            raise ModelError(path, None, f"malformed netx file ({type(e).__name__}: {e})"
                             ) from None


def _input_layer(path: str, key: str, lg: h5py.Group, shape: tuple[int, ...]
                 ) -> tuple[Port, Population, Projection]:
    """lava-dl Input block: the frame x drives v through the bias, 2*w*x - w + b."""
    port = Port(name="input", shape=shape)
    w = float(np.asarray(_get(path, lg, "weight", key, np.array([64.0]))).reshape(-1)[0])
    b = float(np.asarray(_get(path, lg, "bias", key, np.array([0.0]))).reshape(-1)[0])
    if not (np.isfinite(w) and np.isfinite(b)):
        raise ModelError(path, key, "input weight or bias is NaN or inf", "re-export the model")
    n = int(np.prod(shape))
    pop, _ = _neuron(path, lg, key, shape, np.full(n, b - w))
    pop = Population.make(pop.name, shape, NeuronModel.LIF, dv=pop.dv, v_th=pop.v_th,
                          bias=pop.bias, reset=pop.reset, refractory=pop.refractory)
    proj = Projection(name=f"layer{key}.in", src="input", dst=pop.name, kind=Conn.SPARSE,
                      weight=np.full(n, 2 * w), delay=np.zeros(n, dtype=np.int64),
                      indptr=np.arange(n + 1), indices=np.arange(n))
    return port, pop, proj


def _first_input(path: str, key: str, lg: h5py.Group, ltype: str) -> Port:
    """No input layer: the user's spikes feed this (dense) layer directly."""
    in_features = int(_get(path, lg, "inFeatures", key, 0)) or None
    if ltype != "dense":
        raise ModelError(path, key, "a conv layer without an input layer has no known "
                         "input size", "add an input layer to the netx export")
    w0 = np.asarray(_data(path, lg, "weight", key))
    return Port(name="input", shape=(in_features or w0.reshape(w0.shape[0], -1).shape[1],))


def _dense(path: str, key: str, lg: h5py.Group, src: str, src_shape: tuple[int, ...],
           pop: Population, wscale: float) -> Projection:
    w = _finite(path, key, np.asarray(_data(path, lg, "weight", key), dtype=np.float64),
                "weight")
    n_in, n_out = int(np.prod(src_shape)), pop.size
    if w.ndim == 1:
        w = w.reshape(n_out, -1)
    if w.shape != (n_out, n_in):
        raise ModelError(path, key, f"dense weight {w.shape} does not map the previous "
                         f"layer's {n_in} neurons to {n_out}")
    return Projection(name=f"layer{key}.w", src=src, dst=pop.name, kind=Conn.DENSE,
                      weight=w * wscale, delay=_delay(path, lg, key, w.shape))


def _conv(path: str, key: str, lg: h5py.Group, src: str, src_shape: tuple[int, ...],
          pop: Population, wscale: float) -> Projection:
    k = _finite(path, key, np.asarray(_data(path, lg, "weight", key), dtype=np.float64),
                "weight")
    if k.ndim == 5:
        if k.shape[-1] != 1:
            raise ModelError(path, key, f"conv weight {k.shape} has a time kernel longer than 1")
        k = k[..., 0]
    if k.ndim != 4 or len(src_shape) != 3:
        raise ModelError(path, key, f"conv weight {k.shape} or input {src_shape} is not 2-D")
    geometry = [tuple(np.resize(np.atleast_1d(_get(path, lg, name, key, [default] * 2)), 2)
                      .astype(int).tolist()) for name, default in
                (("stride", 1), ("padding", 0), ("dilation", 1))]
    stride, pad, dil = geometry
    groups = int(_get(path, lg, "groups", key, 1))
    if groups < 1 or k.shape[1] * groups != src_shape[0]:
        raise ModelError(path, key, f"conv weight {k.shape} (groups={groups}) does not fit "
                         f"{src_shape[0]} input channels")
    out = conv_out_shape(src_shape, k.shape, stride, pad, dil)
    if out != pop.shape:
        raise ModelError(path, key, f"conv output {out} differs from the layer shape "
                         f"{pop.shape}", "check stride/padding in the export")
    return Projection(name=f"layer{key}.w", src=src, dst=pop.name, kind=Conn.CONV,
                      weight=k * wscale, delay=_delay(path, lg, key, k.shape), stride=stride,
                      padding=pad, dilation=dil, groups=groups)


def _layer_type(path: str, key: str, lg: h5py.Group) -> str:
    ltype = _get(path, lg, "type", key)
    if ltype in REFUSED or ltype not in LOWERED:
        what = REFUSED.get(ltype, "unknown layer type")
        raise UnsupportedNode(path, key, f"layer type '{ltype}' ({what}) cannot be lowered",
                              f"snnc lowers {', '.join(LOWERED)} layers; re-train without "
                              "it or fold it into a neighbouring conv/dense layer")
    return str(ltype)


def _layer(path: str, f: h5py.File, key: str, prev: str | None, prev_shape: tuple[int, ...],
           pops: list[Population], projs: list[Projection], inputs: list[Port]
           ) -> tuple[str | None, tuple[int, ...]]:
    """Lower one netx layer (appending to pops, projs, inputs); returns the new previous
    layer's name and shape."""
    lg = f["layer"][key]
    ltype = _layer_type(path, key, lg)
    if ltype == "flatten":
        if prev is None:
            raise ModelError(path, key, "flatten before any layer")
        return prev, prev_shape  # flat C-order indexing is the IR's layout already
    shape = tuple(int(s) for s in np.atleast_1d(_get(path, lg, "shape", key)))
    if not shape or min(shape) <= 0:
        raise ModelError(path, key, f"invalid shape {shape}")
    budget.size_of(shape, f"{path}: layer '{key}'", budget.NEURON_BYTES)
    if ltype == "input":
        if prev is not None:
            raise ModelError(path, key, "input layer after other layers")
        port, pop, proj = _input_layer(path, key, lg, shape)
        inputs.append(port)
        projs.append(proj)
    else:
        if prev is None:
            port = _first_input(path, key, lg, ltype)
            inputs.append(port)
            prev, prev_shape = port.name, port.shape
        bias = np.asarray(_data(path, lg, "bias", key)) if "bias" in lg else None
        pop, wscale = _neuron(path, lg, key, shape, bias)
        lower = _dense if ltype == "dense" else _conv
        projs.append(lower(path, key, lg, prev, prev_shape, pop, wscale))
    pops.append(pop)
    return pop.name, shape


def _skipped(path: str, f: h5py.File, keys: list[str], prev_shape: tuple[int, ...]
             ) -> tuple[int, ...]:
    """The output shape of the layers `skip_layers` drops (what the port "input" receives);
    only their shapes are read, so a layer snnc cannot lower may be skipped."""
    for key in keys:
        lg = f["layer"][key]
        if _get(path, lg, "type", key) != "flatten":
            prev_shape = tuple(int(s) for s in np.atleast_1d(_get(path, lg, "shape", key)))
    return prev_shape


def _load(path: str, f: h5py.File, opts: NetxOptions) -> Graph:
    if "layer" not in f or not len(f["layer"]):
        raise ModelError(path, None, "no 'layer' group: not a netx network or empty model")
    keys = sorted(f["layer"].keys(), key=lambda k: int(k) if k.isdigit() else 1 << 30)
    keys = keys[:opts.num_layers]
    if opts.skip_layers >= len(keys):
        raise ModelError(path, None, f"--skip-layers {opts.skip_layers} leaves none of the "
                         f"{len(keys)} layers", "skip fewer layers")
    pops: list[Population] = []
    projs: list[Projection] = []
    inputs: list[Port] = []
    prev: str | None = None
    prev_shape: tuple[int, ...] = ()
    if opts.skip_layers:
        prev_shape = _skipped(path, f, keys[:opts.skip_layers], prev_shape)
        inputs.append(Port(name="input", shape=prev_shape))
        prev = "input"
    for key in keys[opts.skip_layers:]:
        try:
            prev, prev_shape = _layer(path, f, key, prev, prev_shape, pops, projs, inputs)
        except (KeyError, OSError, ValueError, TypeError, RuntimeError, ArithmeticError,
                AttributeError, IndexError) as e:
            raise ModelError(path, key, f"malformed layer ({type(e).__name__}: {e})",
                             "is this a lava-dl netx export?") from None
    if not pops:
        raise ModelError(path, None, "no neuron layers (empty model)")
    if opts.reset_interval:  # lava-dl staggers the resets by one step per layer
        pops = [replace(p, reset_every=opts.reset_interval, reset_phase=opts.reset_offset + 1 + k)
                for k, p in enumerate(pops)]
    out = Port(name="output", shape=pops[-1].shape, source=pops[-1].name)
    if any(p.refractory for p in pops):
        repair(path, None, "refDelay > 1 kept as a refractory period; Lava's LIF has none")
    meta = {"frontend": "netx", "native_scale": float(_loihi().input_unit)}
    return validate(Graph.build(pops, projs, inputs, [out], meta=meta))
