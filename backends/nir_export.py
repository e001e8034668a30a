"""IR -> NIR (nir 1.0.8). Parameters are inverted exactly, so NIR -> IR -> NIR -> IR is a fixed
point. What NIR cannot say (reset mode, refractory period, dt, projection names) travels in the
nodes' metadata under `snnc_*` keys, which the NIR frontend reads back."""

from __future__ import annotations

import nir
import numpy as np
from snnc.compiler import discretize as dz
from snnc.compiler.errors import IRError
from snnc.compiler.ir import HAS_CURRENT, Conn, Graph, NeuronModel, Population, ResetMode
from snnc.compiler.linalg import conv_out_shape, projection_matrices


def _neuron(p: Population, dt: float) -> nir.NIRNode:
    n = p.size
    shape = p.shape
    meta: dict[str, object] = {}
    if p.reset not in (ResetMode.ZERO, ResetMode.NONE) or (
            p.reset is ResetMode.NONE and p.model in (NeuronModel.LIF, NeuronModel.CUBA_LIF,
                                                      NeuronModel.IF)):
        meta["snnc_reset"] = p.reset.value
    if p.refractory:
        meta["snnc_refractory"] = int(p.refractory)
    if p.onset:
        meta["snnc_onset"] = int(p.onset)
    if p.reset_every:
        meta["snnc_reset_every"] = int(p.reset_every)
        meta["snnc_reset_phase"] = int(p.reset_phase)

    def r(a: np.ndarray) -> np.ndarray:
        return a.reshape(shape)

    def inv_decay(d: np.ndarray, what: str) -> np.ndarray:
        if (d <= 0).any():
            raise IRError(p.name, f"{what} = 0 (no leak) cannot be written as a NIR time "
                                  "constant; use model if/i")
        return dz.solve_exact(d, lambda t: dz.decay(dt, t), dt / d)

    if p.model is NeuronModel.LIF and (p.dv == 1).all() and p.reset is ResetMode.NONE and \
            not p.v_reset.any() and not p.refractory and not p.onset and not p.reset_every:
        return nir.Threshold(threshold=r(p.v_th))
    if p.model in (NeuronModel.LIF, NeuronModel.LI):
        tau = inv_decay(p.dv, "dv")
        rr = tau / dt  # r / (tau/dt) == 1 exactly
        if p.model is NeuronModel.LI:
            return nir.LI(tau=r(tau), r=r(rr), v_leak=r(np.zeros(n)), metadata=meta)
        return nir.LIF(tau=r(tau), r=r(rr), v_leak=r(np.zeros(n)), v_threshold=r(p.v_th),
                       v_reset=r(p.v_reset), metadata=meta)
    if p.model in HAS_CURRENT:
        tau_syn, tau_mem = inv_decay(p.du, "du"), inv_decay(p.dv, "dv")
        w_in, rr = tau_syn / dt, tau_mem / dt  # each factor of cuba_gain is exactly 1
        v_leak = dz.solve_exact(p.bias, lambda x: dz.leak_bias(x, tau_mem, dt),
                                p.bias * (tau_mem / dt))
        if p.model is NeuronModel.CUBA_LI:
            return nir.CubaLI(tau_syn=r(tau_syn), tau_mem=r(tau_mem), r=r(rr),
                              v_leak=r(v_leak), w_in=r(w_in), metadata=meta)
        return nir.CubaLIF(tau_syn=r(tau_syn), tau_mem=r(tau_mem), r=r(rr), v_leak=r(v_leak),
                           v_threshold=r(p.v_th), v_reset=r(p.v_reset), w_in=r(w_in),
                           metadata=meta)
    rr = np.full(n, 1.0 / dt)  # r / (1/dt) == 1 exactly
    if p.model is NeuronModel.I:
        return nir.I(r=r(rr), metadata=meta)
    return nir.IF(r=r(rr), v_threshold=r(p.v_th), v_reset=r(p.v_reset), metadata=meta)


def _const_bias(p: Population) -> np.ndarray:
    """The constant that must reach p through an Affine bias (v-bias or i-bias)."""
    return p.i_bias if p.model in HAS_CURRENT else p.bias


def _bias_carriers(g: Graph) -> dict[str, str]:
    """Population -> the incoming projection whose Affine node carries its bias (non-conv
    first, so convolutions stay convolutions)."""
    out: dict[str, str] = {}
    for k, pop in g.populations.items():
        b = _const_bias(pop)
        if b.any():
            inc = sorted(g.incoming(k), key=lambda p: (p.kind is Conn.CONV, p.name))
            ok = [p for p in inc if p.kind is not Conn.CONV or (
                _per_channel(b, p) is not None and len(projection_matrices(
                    p, g.node_shape(p.src), pop.size)) == 1)]
            if ok:  # else a zero-weight Affine from an input carries it (see export_nir)
                out[k] = ok[0].name
    return out


def export_nir(g: Graph) -> nir.NIRGraph:
    """IR -> NIRGraph. Sparse projections are written as dense Linear (NIR has no sparse)."""
    dt = float(g.meta.get("dt", dz.DISCRETE_DT))
    nodes: dict[str, nir.NIRNode] = {}
    edges: list[tuple[str, str]] = []

    def add(name: str, node: nir.NIRNode) -> None:
        if name in nodes:
            raise IRError(name, "name collides with another node when written as NIR")
        nodes[name] = node

    for k, port in g.inputs.items():
        add(k, nir.Input(input_type={"input": np.array(port.shape)}))
    for k, pop in g.populations.items():
        add(k, _neuron(pop, dt))
    carriers = _bias_carriers(g)
    for k, proj in g.projections.items():
        pop = g.populations[proj.dst]
        bias = _const_bias(pop)
        carry = carriers.get(proj.dst) == k
        mats = projection_matrices(proj, g.node_shape(proj.src), pop.size)
        tag = {"snnc_projection": k}
        single = len(mats) == 1
        for i, (d, m) in enumerate(sorted(mats.items())):
            lin = k if single else f"{k}.d{d}"
            b = bias if (carry and i == 0) else None
            per_ch = None if b is None else _per_channel(b, proj)
            if proj.kind is Conn.CONV and single and (b is None or per_ch is not None):
                node = _conv_node(proj, g.node_shape(proj.src), tag, per_ch)
            else:
                w = m if isinstance(m, np.ndarray) else m.toarray()
                meta = tag if d == 0 else {}
                node = (nir.Affine(weight=w, bias=b, metadata=meta) if b is not None
                        else nir.Linear(weight=w, metadata=meta))
            add(lin, node)
            src_shape = g.node_shape(proj.src)
            if not isinstance(node, (nir.Conv1d, nir.Conv2d)) and len(src_shape) > 1:
                add(f"{lin}.flatten", nir.Flatten(input_type={"input": np.array(src_shape)}))
                edges += [(proj.src, f"{lin}.flatten"), (f"{lin}.flatten", lin)]
            else:
                edges.append((proj.src, lin))
            if d:
                add(f"{lin}.delay", nir.Delay(delay=np.full(pop.size, d * dt), metadata=tag))
                edges += [(lin, f"{lin}.delay"), (f"{lin}.delay", proj.dst)]
            else:
                edges.append((lin, proj.dst))
    for k, pop in g.populations.items():
        if _const_bias(pop).any() and k not in carriers:
            # NIR carries constants only on Affine nodes: use a zero-weight Affine from an input
            if not g.inputs:
                raise IRError(k, "has a bias but the graph has no input to hang the NIR "
                                 "Affine node that must carry it on")
            src = next(iter(g.inputs))
            add(f"{k}.bias", nir.Affine(weight=np.zeros((pop.size, g.inputs[src].size)),
                                        bias=_const_bias(pop).copy()))
            edges += [(src, f"{k}.bias"), (f"{k}.bias", k)]
    for k, port in g.outputs.items():
        add(k, nir.Output(output_type={"output": np.array(port.shape)}))
        edges.append((port.source or "", k))
    # A dense/sparse map into a multi-dim layer has no NIR unflatten; NIR's own type check
    # would reject that edge, so the graph is built unchecked (snnc reads it back exactly).
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False,
                        metadata={"snnc_dt": dt, "snnc_timing": "hardware"})


def _per_channel(b: np.ndarray, proj) -> np.ndarray | None:  # type: ignore[no-untyped-def]
    """A conv bias (one value per output channel) equal to b, or None if b varies inside one."""
    if proj.kind is not Conn.CONV:
        return None
    per = b.reshape(proj.weight.shape[0], -1)
    return per[:, 0].copy() if (per == per[:, :1]).all() else None


def _conv_node(proj, src_shape, meta, bias) -> nir.NIRNode:  # type: ignore[no-untyped-def]
    k = proj.weight
    cls = nir.Conv1d if k.ndim == 3 else nir.Conv2d
    spatial = np.array(src_shape[1:])
    args = dict(input_shape=spatial if k.ndim == 4 else int(spatial[0]), weight=k,
                stride=proj.stride if k.ndim == 4 else proj.stride[0],
                padding=proj.padding if k.ndim == 4 else proj.padding[0],
                dilation=proj.dilation if k.ndim == 4 else proj.dilation[0],
                groups=proj.groups, bias=np.zeros(k.shape[0]) if bias is None else bias)
    node = cls(**args)
    # nir 1.0's Conv2d infers its output from the kernel's height alone (weight.shape[2] for
    # both dimensions): a non-square dilated kernel would declare a wrong, even negative,
    # width; declare the shape the convolution has
    node.output_type = {"output": np.array(conv_out_shape(
        tuple(src_shape), k.shape, proj.stride, proj.padding, proj.dilation))}
    node.metadata = dict(meta)
    return node


def write_nir(g: Graph, path: str) -> None:
    nir.write(path, export_nir(g))
