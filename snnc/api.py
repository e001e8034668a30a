"""Public Python API: load a model, inspect, convert and run it."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from snnc.compiler.errors import InputError, ModelError
from snnc.compiler.ir import SPIKING, Graph, ResetMode
from snnc.runtime.float_engine import FloatEngine, RunResult

FORMATS = {".nir": "nir", ".net": "netx", ".h5": "netx", ".hdf5": "netx", ".snn": "text"}


def load(path: str, dt: float | None = None, reset: str | None = None) -> Graph:
    """Read a model file (.nir, .net netx HDF5, .snn text) into a validated float IR."""
    ext = os.path.splitext(path)[1].lower()
    fmt = FORMATS.get(ext)
    if fmt is None:
        raise ModelError(path, None, f"unknown model extension '{ext}'",
                         f"supported: {', '.join(sorted(FORMATS))}")
    if fmt == "nir":
        from snnc.frontends.nir import load_nir

        return load_nir(path, dt=dt, reset=ResetMode(reset) if reset else None)
    if dt is not None or reset is not None:
        raise ModelError(path, None, f"--dt/--reset apply to NIR graphs only; a {fmt} model is "
                         "already discrete-time")
    if fmt == "netx":
        from snnc.frontends.netx import load_netx

        return load_netx(path)
    from snnc.frontends.text import load_text

    return load_text(path)


def convert(graph: Graph, out: str) -> str:
    """Write the IR as .snn text (plus .npz for large arrays) or as .nir."""
    ext = os.path.splitext(out)[1].lower()
    if ext == ".snn":
        from snnc.frontends.text import write_text

        write_text(graph, out)
    elif ext == ".nir":
        from snnc.backends.nir_export import write_nir

        write_nir(graph, out)
    else:
        raise ModelError(out, None, f"cannot write '{ext}' files", "use .snn or .nir")
    return out


def summary(graph: Graph) -> dict[str, Any]:
    """JSON-able structure summary: populations, projections, ports."""
    pops = [{"name": p.name, "model": p.model.value, "shape": list(p.shape), "size": p.size,
             "reset": p.reset.value, "spiking": p.model in SPIKING,
             "has_bias": bool(p.bias.any() or p.i_bias.any())}
            for p in graph.populations.values()]
    projs = []
    for p in graph.projections.values():
        d = p.delay
        projs.append({"name": p.name, "src": p.src, "dst": p.dst, "kind": p.kind.value,
                      "synapses": p.n_synapses, "recurrent": p.src == p.dst,
                      "weight_shape": list(p.weight.shape),
                      "delays": {"min": int(d.min()) if d.size else 0,
                                 "max": int(d.max()) if d.size else 0,
                                 "distinct": int(np.unique(d).size)}})
    return {"inputs": [{"name": k, "shape": list(v.shape)} for k, v in graph.inputs.items()],
            "outputs": [{"name": k, "shape": list(v.shape), "source": v.source}
                        for k, v in graph.outputs.items()],
            "populations": pops, "projections": projs,
            "neurons": graph.n_neurons, "synapses": graph.n_synapses,
            "dt": graph.meta.get("dt"), "digest": graph.digest()}


def prepare_input(graph: Graph, x: np.ndarray, batch: bool) -> dict[str, np.ndarray]:
    """(T, *shape) or, with batch, (B, T, *shape) -> {port: (B, T, *shape)}."""
    if len(graph.inputs) != 1:
        raise InputError(f"the model has {len(graph.inputs)} input ports; pass an .npz with "
                         f"one array per port: {sorted(graph.inputs)}")
    (name, port), = graph.inputs.items()
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise InputError(f"input array has dtype {x.dtype}; expected numbers")
    lead = 2 if batch else 1
    if x.ndim < lead + 1 or int(np.prod(x.shape[lead:])) != port.size:
        want = "(B, T, " if batch else "(T, "
        raise InputError(f"input has shape {x.shape}; expected {want}"
                         f"{', '.join(map(str, port.shape))}) for input '{name}'"
                         + ("" if batch else " (use --batch for a leading batch axis)"))
    if not batch:
        x = x[None]
    return {name: x.reshape(x.shape[0], x.shape[1], *port.shape)}


def run(graph: Graph, inputs: dict[str, np.ndarray], steps: int | None = None,
        trace: bool = False, on_step: Callable[[int], None] | None = None) -> RunResult:
    """Run the float engine; inputs are {port: (B, T, *shape)}."""
    if steps is not None and steps < 1:
        raise InputError(f"--steps must be at least 1, got {steps}")
    return FloatEngine(graph).run(inputs, steps=steps, trace=trace, on_step=on_step)


def result_arrays(graph: Graph, res: RunResult, batch: bool) -> dict[str, np.ndarray]:
    """Arrays for OUT.npz: output_spikes (first output), output:<port>, traces."""
    def strip(a: np.ndarray) -> np.ndarray:
        return a if batch else a[0]

    out: dict[str, np.ndarray] = {}
    first = next(iter(graph.outputs))
    src = graph.populations[graph.outputs[first].source or ""]
    key = "output_spikes" if src.model in SPIKING else "output_v"
    out[key] = strip(res.outputs[first]).astype(np.uint8 if src.model in SPIKING else
                                                np.float64)
    for k, v in res.outputs.items():
        out[f"output:{k}"] = strip(v)
    for k, v in res.traces.items():
        out[k] = strip(v)
    return out


__all__ = ["load", "convert", "summary", "run", "prepare_input", "result_arrays"]
