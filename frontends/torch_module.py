"""PyTorch / snnTorch modules -> NIR, the way snnc reads them (snnc.from_torch, snnc.to_nir).

snnTorch 1.0.0's own `export_to_nir` fails under nir 1.0.8, so snnc traces the module itself
with nirtorch's `torch_to_nir` (torch.fx) and its own map from each layer to NIR. Layer sizes
come from one forward pass of the sample. The conventions (docs/frontends.md):

* dt = 1e-4 written in the graph; Leaky(beta) -> LIF(tau = dt / (1 - beta), r = tau / dt), so
  the discretized decay is exactly 1 - beta and the input gain exactly 1; beta = 1 -> IF.
  Synaptic(alpha, beta) -> CubaLIF with w_in = tau_syn / dt, r = tau_mem / dt.
* RLeaky / RSynaptic -> a subgraph whose recurrent Linear / Conv2d / one-to-one V feeds the
  neuron back (the frontend gives that loop its one step; docs/timing.md).
* resets, per snnTorch's forward: subtract with reset_delay=True (the default) ->
  delayed_subtract; subtract with reset_delay=False -> subtract_snntorch (no target has it;
  compile refuses it); zero -> zero, plus a one-step
  refractory period for RLeaky, Synaptic and RSynaptic with reset_delay=True (their whole
  membrane is zeroed the step after a spike); none -> none.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import nir
import numpy as np
from snnc.compiler.errors import ModelError

DT = 1e-4  # the time step snnTorch's own exporter assumes


class TorchImportError(ModelError):
    """A module or layer snnc cannot take from PyTorch (names the layer and the remedy)."""

    def __init__(self, layer: str | None, message: str, hint: str = ""):
        super().__init__("<torch module>", layer, message, hint)


def _np(x: Any, n: int | None = None) -> np.ndarray:
    import torch

    a = x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(
        x, dtype=np.float64)
    return np.broadcast_to(a.reshape(-1) if n is not None and a.size == n else a,
                           (n,) if n is not None else a.shape).astype(np.float64).copy()


def _shapes(module: Any, sample: Any) -> dict[int, tuple[tuple[int, ...], tuple[int, ...]]]:
    """id(leaf module) -> (input shape, output shape) without the batch axis, from one step."""
    import torch

    seen: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}

    def hook(m: Any, args: Any, out: Any) -> None:
        first = out[0] if isinstance(out, tuple) else out
        seen[id(m)] = (tuple(args[0].shape[1:]), tuple(first.shape[1:]))

    handles = [m.register_forward_hook(hook) for m in module.modules()]
    try:
        with torch.no_grad():
            _reset(module)
            module(sample[None])
    finally:
        for h in handles:
            h.remove()
        _reset(module)
    return seen


def _reset(module: Any) -> None:
    """Fresh hidden state in every snnTorch neuron (init_hidden=True keeps it between calls)."""
    for m in module.modules():
        if hasattr(m, "reset_hidden") and getattr(m, "init_hidden", False):
            m.reset_hidden()


def _reset_meta(m: Any, name: str, recurrent_or_synaptic: bool) -> dict[str, Any]:
    mech = getattr(m, "reset_mechanism", "subtract")
    delay = bool(getattr(m, "reset_delay", True))
    if mech == "subtract":
        return {"snnc_reset": "delayed_subtract" if delay else "subtract_snntorch"}
    if mech == "zero":
        meta: dict[str, Any] = {"snnc_reset": "zero"}
        if delay and recurrent_or_synaptic:
            meta["snnc_refractory"] = 1
        return meta
    if mech == "none":
        return {"snnc_reset": "none"}
    raise TorchImportError(name, f"unknown reset_mechanism {mech!r}")


def _check_neuron(m: Any, name: str) -> None:
    import torch

    if getattr(m, "inhibition", False):
        raise TorchImportError(name, "inhibition=True (winner-take-all) has no NIR form",
                               "train without inhibition")
    if getattr(m, "state_quant", False):
        raise TorchImportError(name, "state_quant is not supported; snnc quantizes for the "
                               "target itself", "train without state_quant")
    gsf = getattr(m, "graded_spikes_factor", 1.0)
    if not torch.all(torch.as_tensor(gsf) == 1):
        raise TorchImportError(name, "graded spikes (graded_spikes_factor != 1) are not binary",
                               "train with graded_spikes_factor=1")
    if not getattr(m, "init_hidden", False):
        raise TorchImportError(name, "the neuron keeps its state outside the module "
                               "(init_hidden=False), which a trace cannot follow",
                               "build the layer with init_hidden=True")


def _lif(m: Any, n: int, meta: dict[str, Any], beta: Any) -> nir.NIRNode:
    b = np.clip(_np(beta, n), 0.0, 1.0)
    thr = _np(m.threshold, n)
    if (b == 1.0).all():
        return nir.IF(r=np.full(n, 1.0 / DT), v_threshold=thr, v_reset=np.zeros(n),
                      metadata=meta)
    if (b == 1.0).any():
        raise TorchImportError(None, "beta is 1 for some neurons and below 1 for others")
    tau = DT / (1.0 - b)
    return nir.LIF(tau=tau, r=tau / DT, v_leak=np.zeros(n), v_threshold=thr,
                   v_reset=np.zeros(n), metadata=meta)


def _cuba(m: Any, n: int, meta: dict[str, Any]) -> nir.NIRNode:
    a = np.clip(_np(m.alpha, n), 0.0, 1.0)
    b = np.clip(_np(m.beta, n), 0.0, 1.0)
    if (a == 1.0).any() or (b == 1.0).any():
        raise TorchImportError(None, "alpha or beta of 1 (no decay) cannot be written as a "
                               "NIR CubaLIF time constant", "use alpha, beta < 1")
    ts, tm = DT / (1.0 - a), DT / (1.0 - b)
    return nir.CubaLIF(tau_syn=ts, tau_mem=tm, r=tm / DT, v_leak=np.zeros(n),
                       v_threshold=_np(m.threshold, n), v_reset=np.zeros(n), w_in=ts / DT,
                       metadata=meta)


def _recurrent(m: Any, shape: tuple[int, ...], neuron: nir.NIRNode) -> nir.NIRGraph:
    """RLeaky / RSynaptic: input -> neuron -> output, and neuron -> recurrent -> neuron."""
    import torch

    rec = m.recurrent
    n = int(np.prod(shape))
    if isinstance(rec, torch.nn.Linear):
        w = _np(rec.weight)
        node: nir.NIRNode = (nir.Affine(weight=w, bias=_np(rec.bias)) if rec.bias is not None
                             else nir.Linear(weight=w))
    elif isinstance(rec, torch.nn.Conv2d):
        node = _conv(rec, shape)
    else:  # RecurrentOneToOne(V)
        node = nir.Scale(scale=_np(rec.V, n).reshape(shape))
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array(shape)}), "neuron": neuron,
               "recurrent": node, "output": nir.Output(output_type={"output": np.array(shape)})},
        edges=[("input", "neuron"), ("neuron", "recurrent"), ("recurrent", "neuron"),
               ("neuron", "output")], type_check=False)


def _conv(m: Any, in_shape: tuple[int, ...]) -> nir.Conv2d:
    if isinstance(m.padding, str):
        raise TorchImportError(None, f"padding={m.padding!r}; give the padding as numbers")
    if getattr(m, "padding_mode", "zeros") != "zeros":
        raise TorchImportError(None, f"padding_mode {m.padding_mode!r}; only zero padding")
    bias = _np(m.bias) if m.bias is not None else np.zeros(m.out_channels)
    return nir.Conv2d(input_shape=tuple(in_shape[-2:]), weight=_np(m.weight),
                      stride=tuple(m.stride), padding=tuple(m.padding),
                      dilation=tuple(m.dilation), groups=m.groups, bias=bias)


def _mappers(shapes: dict[int, tuple[tuple[int, ...], tuple[int, ...]]],
             names: dict[int, str]) -> dict[type, Callable[[Any], Any]]:
    import snntorch as snn
    import torch

    def shape_of(m: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
        if id(m) not in shapes:
            raise TorchImportError(names.get(id(m)), "this layer did not run on the sample")
        return shapes[id(m)]

    def neuron(m: Any) -> Any:
        name = names.get(id(m))
        _check_neuron(m, name)
        out = shape_of(m)[1]
        n = int(np.prod(out))
        synaptic = isinstance(m, (snn.Synaptic, snn.RSynaptic))
        recurrent = isinstance(m, (snn.RLeaky, snn.RSynaptic))
        meta = _reset_meta(m, name, synaptic or recurrent)
        node = _cuba(m, n, meta) if synaptic else _lif(m, n, meta, m.beta)
        for f in ("tau", "r", "v_leak", "v_threshold", "v_reset", "tau_syn", "tau_mem",
                  "w_in"):
            if hasattr(node, f) and getattr(node, f) is not None:
                setattr(node, f, np.asarray(getattr(node, f)).reshape(out))
        return _recurrent(m, out, node) if recurrent else node

    def linear(m: Any) -> Any:
        w = _np(m.weight)
        return nir.Affine(weight=w, bias=_np(m.bias)) if m.bias is not None else nir.Linear(
            weight=w)

    def conv(m: Any) -> Any:
        return _conv(m, shape_of(m)[0])

    def flatten(m: Any) -> Any:
        ins = shape_of(m)[0]
        if m.start_dim != 1 or m.end_dim != -1:
            raise TorchImportError(names.get(id(m)), "only Flatten(start_dim=1, end_dim=-1)")
        return nir.Flatten(input_type={"input": np.array(ins)}, start_dim=0, end_dim=-1)

    def avgpool(m: Any) -> Any:
        k = m.kernel_size if isinstance(m.kernel_size, tuple) else (m.kernel_size,) * 2
        s = m.stride if isinstance(m.stride, tuple) else (m.stride,) * 2
        p = m.padding if isinstance(m.padding, tuple) else (m.padding,) * 2
        if p != (0, 0) and m.count_include_pad is False:
            raise TorchImportError(names.get(id(m)), "count_include_pad=False")
        return nir.AvgPool2d(kernel_size=np.array(k), stride=np.array(s), padding=np.array(p))

    def identity(m: Any) -> Any:
        return nir.Scale(scale=np.ones(shape_of(m)[0]))

    def refuse(m: Any) -> Any:
        raise TorchImportError(names.get(id(m)), f"{type(m).__name__} has no exact spiking "
                               "form on snnc's targets", "use AvgPool2d or a strided Conv2d")

    return {**{c: neuron for c in (snn.Leaky, snn.RLeaky, snn.Synaptic, snn.RSynaptic)},
            torch.nn.Linear: linear, torch.nn.Conv2d: conv, torch.nn.Flatten: flatten,
            torch.nn.AvgPool2d: avgpool, torch.nn.Identity: identity,
            torch.nn.Dropout: identity, torch.nn.MaxPool2d: refuse}


def _out_shape(node: nir.NIRNode, shapes: Any) -> np.ndarray:
    """The output shape of the node that feeds a graph Output."""
    if isinstance(node, nir.NIRGraph):
        (o,) = [v for v in node.nodes.values() if isinstance(v, nir.Output)]
        return np.asarray(o.output_type["output"])
    for f in ("v_threshold", "tau", "r"):
        if getattr(node, f, None) is not None:
            return np.array(np.shape(getattr(node, f)))
    raise TorchImportError(None, f"the module must end with a spiking layer, not "
                           f"{type(node).__name__}", "end forward() with an snnTorch neuron")


def to_nir(module: Any, sample: Any) -> nir.NIRGraph:
    """Trace a PyTorch / snnTorch module (one time step; `sample` without the batch axis) into
    a NIR graph that nir.read and snnc both accept."""
    try:
        import nirtorch
        import snntorch as snn
        import torch
    except ImportError as e:
        raise TorchImportError(None, f"{e.name} is not installed",
                               "pip install 'snnc[torch]' (torch==2.13.0, snntorch, "
                               "nirtorch)") from None

    if not isinstance(module, torch.nn.Module):
        raise TorchImportError(None, f"expected a torch.nn.Module, got {type(module).__name__}")
    module = copy.deepcopy(module).eval()  # the user's module and its state stay as they were
    dtype = next((p.dtype for p in module.parameters()), torch.float32)
    sample = torch.as_tensor(sample, dtype=dtype)
    names = {id(m): k or type(m).__name__ for k, m in module.named_modules()}
    try:
        shapes = _shapes(module, sample)
    except (RuntimeError, ValueError, TypeError, IndexError) as e:
        raise TorchImportError(None, f"the module does not run one step on a sample of shape "
                               f"{tuple(sample.shape)} ({type(e).__name__}: {e})",
                               "give one step's input without batch or time axes") from None
    stateful = {snn.Leaky, snn.RLeaky, snn.Synaptic, snn.RSynaptic}
    try:
        g = nirtorch.torch_to_nir(module, _mappers(shapes, names), type_check=False,
                                  stateful_modules=stateful)
    except KeyError as e:
        if not isinstance(e.args[0], type):
            raise
        raise TorchImportError(None, f"layer type {e.args[0].__name__} is not supported",
                               "supported: snnTorch Leaky, RLeaky, Synaptic, RSynaptic; "
                               "Linear, Conv2d, AvgPool2d, Flatten, Dropout, Identity") from None
    except (ValueError, TypeError, NotImplementedError) as e:
        raise TorchImportError(None, f"cannot trace the module ({e})",
                               "write forward() as a sequence of layers (additions are "
                               "allowed)") from None
    t = {"input": np.array(tuple(sample.shape))}
    ins = [k for k, v in g.nodes.items() if isinstance(v, nir.Input)]
    rename = {ins[0]: "input"} if len(ins) == 1 and "input" not in g.nodes else {}
    nodes = {rename.get(k, k): (nir.Input(input_type=t) if k in ins else v)
             for k, v in g.nodes.items()}
    edges = [(rename.get(a, a), rename.get(b, b)) for a, b in g.edges]
    g = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    for k, node in g.nodes.items():
        if isinstance(node, nir.Output):
            (src,) = [a for a, b in g.edges if b == k]
            g.nodes[k] = nir.Output(output_type={"output": _out_shape(g.nodes[src], shapes)})
    return nir.NIRGraph(nodes=g.nodes, edges=g.edges, type_check=False,
                        metadata={"snnc_dt": DT, "snnc_timing": "trained",
                                  "snnc_source": "snntorch"})
