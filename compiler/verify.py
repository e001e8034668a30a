"""Invariants of a well-formed IR. `validate` raises IRError naming the first broken node."""

from __future__ import annotations

import numpy as np
from snnc.compiler import budget
from snnc.compiler.dtypes import is_csr_ptr
from snnc.compiler.errors import IRError
from snnc.compiler.ir import (
    HAS_CURRENT,
    NO_LEAK,
    SPIKING,
    Conn,
    Graph,
    Population,
    Projection,
    ResetMode,
)
from snnc.compiler.linalg import conv_out_shape


MAX_COUNT = budget.MAX_COUNT  # refractory periods, onsets, delays, geometry


def _check_shape(name: str, shape: tuple[int, ...]) -> None:
    if len(shape) == 0 or any(s <= 0 for s in shape):
        raise IRError(name, f"shape {shape} must be non-empty with positive sizes")
    budget.size_of(shape, f"IR node '{name}'")  # a number no machine holds (the whole
    # model is counted at what it costs in _check_budget)


def _check_count(name: str, what: str, value: int) -> None:
    if not 0 <= value <= MAX_COUNT:
        raise IRError(name, f"{what} {value} is outside 0..{MAX_COUNT}")


def _check_real(name: str, what: str, a: np.ndarray) -> None:
    if a.dtype.kind not in "biuf":
        raise IRError(name, f"{what} has dtype {a.dtype}; expected real numbers")


def _check_budget(g: Graph) -> None:
    """What the graph declares fits the memory budget (compiler/budget.py) once expanded:
    every neuron's state, every input axon and every stored synapse, convolutions counted
    tap by tap (an upper bound: taps outside the input are counted too)."""
    neurons = sum(p.size for p in g.populations.values())
    axons = sum(p.size for p in g.inputs.values())
    taps = 0
    for p in g.projections.values():
        if p.kind is Conn.CONV:
            taps += g.node_size(p.dst) * int(np.prod(p.weight.shape[1:]))
        else:
            taps += p.weight.size
    need = neurons * budget.NEURON_BYTES + (axons + taps) * budget.SYNAPSE_BYTES
    budget.check(need, 1, "the model", f"{neurons:,} neurons, {axons:,} input axons and "
                 f"{taps:,} synapses (convolutions expanded)")


def _check_population(p: Population) -> None:
    _check_shape(p.name, p.shape)
    n = p.size
    for f in ("du", "dv", "v_th", "v_reset", "bias", "i_bias"):
        a = getattr(p, f)
        if a.shape != (n,):
            raise IRError(p.name, f"parameter {f} has {a.size} values, expected {n}")
        if np.isnan(a).any():
            raise IRError(p.name, f"parameter {f} contains NaN")
        if f != "v_th" and not np.isfinite(a).all():
            raise IRError(p.name, f"parameter {f} contains inf")
    if ((p.du < 0) | (p.du > 1)).any() or ((p.dv < 0) | (p.dv > 1)).any():
        raise IRError(p.name, "decays du and dv must lie in [0, 1] (1 - decay is the kept "
                              "fraction per step); check dt against the time constants")
    if p.model not in HAS_CURRENT and (p.du.any() or p.i_bias.any()):
        raise IRError(p.name, f"model {p.model.value} has no current state: du and i_bias "
                              "must be 0")
    if p.model in NO_LEAK and p.dv.any():
        raise IRError(p.name, f"model {p.model.value} has no leak: dv must be 0")
    if p.model in SPIKING:
        if not np.isfinite(p.v_th).all():
            raise IRError(p.name, "a spiking population needs a finite threshold v_th")
    else:
        if not np.isposinf(p.v_th).all() or p.reset is not ResetMode.NONE:
            raise IRError(p.name, f"model {p.model.value} never spikes: v_th must be inf and "
                                  "reset none")
    _check_count(p.name, "refractory period", p.refractory)
    _check_count(p.name, "bias onset", p.onset)
    _check_count(p.name, "state reset interval", p.reset_every)
    _check_count(p.name, "state reset phase", p.reset_phase)
    if p.reset is ResetMode.DELAYED_SUBTRACT and p.refractory:
        raise IRError(p.name, "a delayed subtraction and a refractory period cannot be combined")


def _check_projection(g: Graph, p: Projection) -> None:
    if p.src not in g.populations and p.src not in g.inputs:
        raise IRError(p.name, f"source '{p.src}' is neither a population nor an input port")
    if p.dst not in g.populations:
        raise IRError(p.name, f"target '{p.dst}' is not a population")
    n_src, n_dst = g.node_size(p.src), g.node_size(p.dst)
    w = p.weight
    _check_real(p.name, "weight", w)
    _check_real(p.name, "delay", p.delay)
    for what, v in (("stride", p.stride), ("padding", p.padding), ("dilation", p.dilation),
                    ("groups", (p.groups,))):
        for x in v:
            _check_count(p.name, what, int(x))
    if not -64 <= p.weight_exp <= 64 or not 0 <= p.weight_bits <= 64:
        raise IRError(p.name, f"weight_exp {p.weight_exp} or weight_bits {p.weight_bits} is "
                              "outside -64..64 / 0..64")
    if not np.isfinite(w).all():
        raise IRError(p.name, "weights contain NaN or inf")
    if p.delay.shape != w.shape:
        raise IRError(p.name, f"delay shape {p.delay.shape} differs from weight shape {w.shape}")
    if (p.delay < 0).any():
        raise IRError(p.name, f"negative synaptic delay {int(p.delay.min())}")
    if p.delay.size and p.delay.max() > MAX_COUNT:
        raise IRError(p.name, f"synaptic delay {p.delay.max()} is over {MAX_COUNT} steps")
    if p.kind is Conn.DENSE:
        if w.shape != (n_dst, n_src):
            raise IRError(p.name, f"dense weight shape {w.shape} does not match "
                                  f"({n_dst}, {n_src}) = ({p.dst}, {p.src}) sizes")
    elif p.kind is Conn.SPARSE:
        ip, ix = p.indptr, p.indices
        if ip is None or ix is None or w.ndim != 1:
            raise IRError(p.name, "sparse projection needs indptr, indices and 1-D weights")
        if ip.ndim != 1 or not is_csr_ptr(ip, n_dst, w.size):
            raise IRError(p.name, f"sparse indptr must have {n_dst + 1} non-decreasing entries "
                                  f"from 0 to nnz={w.size}")
        if ix.shape != w.shape or (ix.size and (ix.min() < 0 or ix.max() >= n_src)):
            raise IRError(p.name, f"sparse indices must be {w.size} values in [0, {n_src})")
    else:
        _check_conv(g, p)


def _check_conv(g: Graph, p: Projection) -> None:
    src_shape, dst_shape = g.node_shape(p.src), g.node_shape(p.dst)
    nd = len(src_shape) - 1
    k = p.weight
    if nd < 1 or k.ndim != nd + 2:
        raise IRError(p.name, f"conv kernel of shape {k.shape} does not fit source shape "
                              f"{src_shape} (expected (C_out, C_in/groups, *{nd} kernel dims))")
    if not (len(p.stride) == len(p.padding) == len(p.dilation) == nd):
        raise IRError(p.name, f"conv stride/padding/dilation need {nd} entries each")
    if min(p.stride) < 1 or min(p.dilation) < 1 or min(p.padding) < 0 or p.groups < 1:
        raise IRError(p.name, "conv stride, dilation and groups must be >= 1, padding >= 0")
    if src_shape[0] % p.groups or k.shape[0] % p.groups or k.shape[1] * p.groups != src_shape[0]:
        raise IRError(p.name, f"conv with {p.groups} groups: kernel {k.shape} does not match "
                              f"{src_shape[0]} input channels")
    out = conv_out_shape(src_shape, k.shape, p.stride, p.padding, p.dilation)
    if min(out) <= 0 or int(np.prod(out)) != int(np.prod(dst_shape)):
        raise IRError(p.name, f"conv output shape {out} does not match target '{p.dst}' "
                              f"shape {dst_shape}")


def _check_annotations(g: Graph) -> None:
    """The declared annotations (compiler/ir.py ANNOTATIONS) have the documented types."""
    ns = g.meta.get("native_scale")
    if ns is not None and not (isinstance(ns, (int, float)) and not isinstance(ns, bool)
                               and ns > 0):
        raise IRError("<graph>", f"annotation native_scale = {ns!r} must be a positive number")
    for key in ("v_bound", "current_reach"):
        vb = g.meta.get(key)
        if vb is not None and not (isinstance(vb, dict) and all(
                k in g.populations and isinstance(v, (int, float)) and not isinstance(v, bool)
                and v >= 0 for k, v in vb.items())):
            raise IRError("<graph>", f"annotation {key} must map populations to non-negative "
                          "numbers")


def check_structure(g: Graph) -> None:
    """The invariants every stage shares: names, shapes, projection geometry, ports."""
    if not g.populations:
        raise IRError("<graph>", "the graph has no populations (empty model)")
    if not g.outputs:
        raise IRError("<graph>", "the graph has no output port")
    seen: dict[str, str] = {}
    for kind, names in (("population", g.populations), ("input", g.inputs),
                        ("output", g.outputs)):
        for n in names:
            if n in seen:
                raise IRError(n, f"name used by both a {seen[n]} and a {kind}")
            seen[n] = kind
    for port in g.inputs.values():
        _check_shape(port.name, port.shape)
    for pop in g.populations.values():
        _check_shape(pop.name, pop.shape)
        for f in ("du", "dv", "v_th", "v_reset", "bias", "i_bias"):
            _check_real(pop.name, f"parameter {f}", getattr(pop, f))
            if getattr(pop, f).shape != (pop.size,):
                raise IRError(pop.name, f"parameter {f} has {getattr(pop, f).size} values, "
                              f"expected {pop.size}")
    for proj in g.projections.values():
        _check_projection(g, proj)
    _check_budget(g)
    for port in g.outputs.values():
        if port.source not in g.populations:
            raise IRError(port.name, f"output reads '{port.source}', which is not a population")
        if port.size != g.populations[port.source].size:
            raise IRError(port.name, f"output shape {port.shape} does not match population "
                                     f"'{port.source}' of {g.populations[port.source].size} "
                                     "neurons")


def validate(g: Graph) -> Graph:
    """Check every invariant of a float IR; return the graph unchanged or raise IRError."""
    check_structure(g)
    for pop in g.populations.values():
        _check_population(pop)
    _check_annotations(g)
    return g
