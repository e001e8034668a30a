"""Public Python API: load a model, inspect, convert and run it."""

from __future__ import annotations

import os
from pathlib import Path
from collections.abc import Callable
from typing import Any

import numpy as np

from snnc.compiler import budget
from snnc.compiler.budget import BudgetError
from snnc.compiler.errors import InputError, ModelError
from snnc.compiler.ir import SPIKING, Graph, ResetMode
from snnc.runtime.float_engine import FloatEngine, RunResult

FORMATS = {".nir": "nir", ".net": "netx", ".h5": "netx", ".hdf5": "netx", ".snn": "text",
           ".onnx": "onnx"}


def load(path: str, dt: float | None = None, reset: str | None = None,
         balance_data: np.ndarray | None = None, ann: Any = None,
         timing: str | None = None, source: str | None = None, netx: Any = None) -> Graph:
    """Read a model file (.nir, .net netx HDF5, .snn text, .onnx) into a validated float IR.

    An ONNX ANN (no ai.snnc operators) is converted to an SNN: `balance_data` (N, *input
    shape) are typical inputs for threshold balancing, `ann` an AnnOptions (defaults
    otherwise; `reset` overrides its reset). `timing` (NIR only): "trained" reproduces the
    latency-free network a framework trained (default for NIR files snnc did not write),
    "hardware" gives every projection one step and biases from step 0 (docs/timing.md).
    `source` (NIR only): the exporting framework, whose conventions for tau, r and resets
    apply (snntorch, sinabs, rockpool, norse; default: the graph's metadata, else plain NIR).
    `netx` (netx only): a frontends.netx.NetxOptions (lava-dl's reset_interval, reset_offset,
    skip_layers, num_layers).
    """
    try:
        return _load(path, dt, reset, balance_data, ann, timing, source, netx)
    except BudgetError as e:  # raised by the IR verifier, which knows no file names
        if str(e).startswith(path):
            raise
        raise ModelError(path, None, str(e)) from None


def load_record(dt: float | None = None, reset: str | None = None,
                balance_data: np.ndarray | None = None, ann: Any = None,
                timing: str | None = None, source: str | None = None, netx: Any = None
                ) -> dict[str, Any]:
    """The options given to load() (those not None), as an artifact's manifest records them
    under "load": how the model file was read into the IR. Balance data is recorded by its
    shape and the sha256 of its float64 values."""
    import dataclasses
    import hashlib

    out: dict[str, Any] = {k: v for k, v in (("dt", dt), ("reset", reset), ("timing", timing),
                                             ("source", source)) if v is not None}
    for name, opts in (("ann", ann), ("netx", netx)):
        if opts is not None:
            out[name] = {k: v for k, v in dataclasses.asdict(opts).items() if v is not None}
    if balance_data is not None:
        x = np.ascontiguousarray(balance_data, dtype=np.float64)
        out["balance_data"] = {"shape": list(x.shape),
                               "sha256": hashlib.sha256(x.tobytes()).hexdigest()}
    return out


def _load(path: str, dt: float | None, reset: str | None, balance_data: np.ndarray | None,
          ann: Any, timing: str | None, source: str | None, netx: Any = None) -> Graph:
    ext = os.path.splitext(path)[1].lower()
    fmt = FORMATS.get(ext)
    if fmt is None:
        raise ModelError(path, None, f"unknown model extension '{ext}'",
                         f"supported: {', '.join(sorted(FORMATS))}")
    if netx is not None and fmt != "netx":
        raise ModelError(path, None, "--reset-interval/--reset-offset/--skip-layers/"
                         "--num-layers apply to lava-dl netx files only")
    if fmt == "onnx":
        from snnc.compiler.verify import validate

        return validate(_load_onnx(path, dt, reset, balance_data, ann))
    if balance_data is not None or ann is not None:
        raise ModelError(path, None, "ANN conversion options apply to ONNX ANNs only")
    if fmt == "nir":
        from snnc.frontends.nir import load_nir

        return load_nir(path, dt=dt, reset=ResetMode(reset) if reset else None, timing=timing,
                        source=source)
    if fmt == "netx" and source == "lava-dl":
        source = None  # what a netx file is anyway
    if dt is not None or reset is not None or timing is not None or source is not None:
        raise ModelError(path, None, f"--dt/--reset/--timing/--source apply to NIR graphs only; "
                         f"a {fmt} model is already discrete-time with one step per projection")
    if fmt == "netx":
        from snnc.frontends.netx import load_netx

        return load_netx(path, netx)
    from snnc.frontends.text import load_text

    return load_text(path)


def to_nir(module: Any, sample: Any, path: str | None = None) -> Any:
    """A PyTorch / snnTorch module (one time step; `sample`: one input without batch or time
    axis) as a NIR graph, written to `path` if given (frontends/torch_module.py)."""
    from snnc.frontends.torch_module import to_nir as trace

    g = trace(module, sample)
    if path is not None:
        import nir

        nir.write(path, g)
    return g


def from_nir(graph: Any, source: str | None = None, dt: float | None = None,
             reset: str | None = None, timing: str | None = None) -> Graph:
    """A NIR graph in memory (as an exporter returns it, e.g. sinabs.to_nir) into a validated
    float IR; the options are those of `load`."""
    from snnc.frontends.nir import load_nir_graph

    return load_nir_graph(graph, "<NIR graph>", dt=dt, reset=ResetMode(reset) if reset else None,
                          timing=timing, source=source)


def from_torch(module: Any, sample: Any, timing: str | None = None) -> Graph:
    """A PyTorch / snnTorch module straight into a validated float IR (through NIR, with the
    trained timing unless `timing="hardware"`)."""
    from snnc.frontends.nir import load_nir_graph

    return load_nir_graph(to_nir(module, sample), "<torch module>", timing=timing)


def _load_onnx(path: str, dt: float | None, reset: str | None,
               balance_data: np.ndarray | None, ann: Any) -> Graph:
    import onnx

    from snnc.frontends.ann_to_snn import AnnOptions, ann_from_onnx
    from snnc.frontends.onnx_spiking import from_onnx, is_spiking

    if dt is not None:
        raise ModelError(path, None, "--dt applies to NIR graphs only; ONNX models are "
                         "discrete-time")
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as e:  # noqa: BLE001 - protobuf raises many kinds
        raise ModelError(path, None, f"not a readable ONNX file ({e})") from None
    _load_external_data(model, path)
    if is_spiking(model):
        if reset is not None or balance_data is not None or ann is not None:
            raise ModelError(path, None, "this is a spiking ONNX graph (ai.snnc); --reset and "
                             "the ANN conversion options do not apply")
        return from_onnx(model, path)
    from dataclasses import replace

    opts = ann or AnnOptions()
    if reset is not None:
        opts = replace(opts, reset=reset)
    return _with_reach(ann_from_onnx(model, path, balance_data, opts), balance_data)


REACH_SAMPLES = 64  # balance samples whose currents a converted ANN records (current_reach)


def _with_reach(g: Graph, balance_data: np.ndarray) -> Graph:
    """A converted ANN with the largest current each population reaches on (the first
    REACH_SAMPLES of) its balance data, encoded as the model encodes: the quantizer keeps a
    scale whose worst case would not fit where these real currents do (docs/fixed_point.md)."""
    from dataclasses import replace

    (name,) = g.inputs
    spikes = encode_input(g, np.asarray(balance_data)[:REACH_SAMPLES])
    steps = spikes.shape[1] + len(g.populations) + 1
    reach = FloatEngine(g).current_peaks({name: spikes}, steps)
    return replace(g, meta={**g.meta, "current_reach": {k: float(v) for k, v in reach.items()}})


def _load_external_data(model: Any, path: str) -> None:
    """Tensors an ONNX file keeps in files beside it: each location must be a plain relative
    path inside the model's directory (never '..', an absolute path or a symlink out)."""
    from onnx import external_data_helper as ext

    tensors = [t for t in ext._get_all_tensors(model) if ext.uses_external_data(t)]
    if not tensors:
        return
    base = Path(path).resolve().parent
    for t in tensors:
        loc = next((e.value for e in t.external_data if e.key == "location"), "")
        full = (base / loc).resolve()
        if not loc or Path(loc).is_absolute() or ".." in Path(loc).parts or not (
                full.is_relative_to(base) and full.is_file()):
            raise ModelError(path, t.name, f"external data location {loc!r} is not a file "
                             "beside the model", "keep external data files in the model's "
                             "directory", what="tensor")
    try:
        ext.load_external_data_for_model(model, str(base))
    except Exception as e:  # noqa: BLE001 - onnx raises many kinds
        raise ModelError(path, None, f"cannot read its external data ({e})") from None


def encode_input(graph: Graph, x: np.ndarray, steps: int | None = None, seed: int = 0
                 ) -> np.ndarray:
    """(B, *input shape) values -> (B, T, *shape) spikes, the way a converted ANN expects
    (its encoding, input scale and steps from graph.meta['ann'])."""
    from snnc.frontends.ann_to_snn import encode

    ann = graph.meta.get("ann")
    if not ann:
        raise InputError("this model was not converted from an ANN; encode its input spikes "
                         "yourself")
    if steps is not None and steps < 1:
        raise InputError(f"--steps must be at least 1, got {steps}")
    if not 0 <= seed < 2**63:
        raise InputError(f"--seed must lie in 0..2^63-1, got {seed}")
    (name, port), = graph.inputs.items()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2 or int(np.prod(x.shape[1:])) != port.size:
        raise InputError(f"values have shape {x.shape}; expected (N, "
                         f"{', '.join(map(str, port.shape))}) for input '{name}'")
    if not np.isfinite(x).all():
        raise InputError("values contain NaN or inf; give finite values")
    t = budget.steps(int(steps or ann["steps"]), "--steps")
    budget.check(x.shape[0] * t * port.size, 1, "encode", f"{x.shape[0]} samples x {t} steps "
                 "of spikes")
    return encode(x.reshape(x.shape[0], *port.shape), int(steps or ann["steps"]),
                  str(ann["encoding"]), float(ann["input_scale"]), seed)


def convert(graph: Graph, out: str) -> str:
    """Write the IR as .snn text (plus .npz for large arrays), .nir, or spiking .onnx."""
    ext = os.path.splitext(out)[1].lower()
    if ext == ".snn":
        from snnc.frontends.text import write_text

        write_text(graph, out)
    elif ext == ".nir":
        from snnc.backends.nir_export import write_nir
        from snnc.compiler.paths import replacing

        with replacing(out) as tmp:
            write_nir(graph, str(tmp))
    elif ext == ".onnx":
        from snnc.backends.onnx_spiking import write_onnx
        from snnc.compiler.paths import replacing

        with replacing(out) as tmp:
            write_onnx(graph, str(tmp))
    else:
        raise ModelError(out, None, f"cannot write '{ext}' files", "use .snn, .nir or .onnx")
    return out


def summary(graph: Graph) -> dict[str, Any]:
    """JSON-able structure summary: populations, projections, ports."""
    pops = [{"name": p.name, "model": p.model.value, "shape": list(p.shape), "size": p.size,
             "reset": p.reset.value, "spiking": p.model in SPIKING,
             "has_bias": bool(p.bias.any() or p.i_bias.any()), "onset": p.onset}
            for p in graph.populations.values()]
    projs = []
    for p in graph.projections.values():
        d = p.delay
        projs.append({"name": p.name, "src": p.src, "dst": p.dst, "kind": p.kind.value,
                      "synapses": graph.synapses_of(p.name), "recurrent": p.src == p.dst,
                      "weight_shape": list(p.weight.shape),
                      "delays": {"min": int(d.min()) if d.size else 0,
                                 "max": int(d.max()) if d.size else 0,
                                 "distinct": int(np.unique(d).size)}})
    return {"inputs": [{"name": k, "shape": list(v.shape)} for k, v in graph.inputs.items()],
            "outputs": [{"name": k, "shape": list(v.shape), "source": v.source}
                        for k, v in graph.outputs.items()],
            "populations": pops, "projections": projs,
            "neurons": graph.n_neurons, "synapses": graph.n_synapses,
            "dt": graph.meta.get("dt"), "latency": latency(graph),
            "timing": (graph.meta.get("timing") or {}).get("mode", "hardware"),
            "digest": graph.digest()}


def prepare_input(graph: Graph, x: np.ndarray, batch: bool, flat: bool = False
                  ) -> dict[str, np.ndarray]:
    """(T, *shape) or, with batch, (B, T, *shape) -> {port: (B, T, *shape)}. The trailing
    axes must be the port's shape exactly; with `flat`, one axis holding the port flattened
    in C order is taken instead (a layout mismatch of the same size is an error, never a
    silent reshape)."""
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
    if min(x.shape[:lead]) < 1:
        raise InputError(f"input has shape {x.shape}: no "
                         + ("samples" if batch and x.shape[0] < 1 else "time steps")
                         + "; give at least one")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise InputError(f"input '{name}' contains NaN or inf; give finite spike counts or "
                         "values")
    tail = tuple(x.shape[lead:])
    if tail != port.shape and not (flat and tail == (port.size,)):
        how = ("pass --flat-input if the last axis is the port flattened in C order"
               if tail == (port.size,) else
               "reorder the axes to the port's layout (e.g. channels last -> first: "
               "np.moveaxis(x, -1, -3))")
        raise InputError(f"input '{name}' has trailing shape {tail}; the port's shape is "
                         f"{port.shape}; the same number of values in another layout would "
                         f"give other spikes: {how}")
    if not batch:
        x = x[None]
    return {name: x.reshape(x.shape[0], x.shape[1], *port.shape)}


def latency(graph: Graph) -> int:
    """Steps by which the outputs lag the trained (latency-free) network: the largest output
    lag of a graph read with trained timing, else 0 (docs/timing.md)."""
    lat = (graph.meta.get("timing") or {}).get("latency") or {}
    return max(lat.values(), default=0)


def default_steps(graph: Graph, inputs: dict[str, np.ndarray], steps: int | None) -> int | None:
    """`steps`, or the input's length plus the latency, so that every trained step's output
    is seen."""
    if steps is not None:
        if steps < 1:
            raise InputError(f"--steps must be at least 1, got {steps}")
        return budget.steps(steps)
    lag = latency(graph)
    if not lag or not inputs:
        return None
    return int(np.asarray(next(iter(inputs.values()))).shape[1]) + lag


def check_run_budget(graph: Graph, inputs: dict[str, np.ndarray], steps: int | None,
                     trace: bool) -> None:
    """A run records (B, steps) of every output (and, traced, three values per neuron) and
    holds its inputs padded to `steps`: refuse before simulating if that is over budget."""
    if not inputs:
        return
    x = np.asarray(next(iter(inputs.values())))
    if x.ndim < 2:
        return  # the engine names the shape problem
    t = budget.steps(steps or x.shape[1], "the run's step count")
    per_step = sum(p.size for p in graph.outputs.values()) + sum(
        graph.node_size(k) for k in inputs if k in graph.inputs)
    if trace:
        per_step += 3 * graph.n_neurons
    budget.check(int(x.shape[0]) * t * per_step, 8, "the run",
                 f"{x.shape[0]} sample(s) x {t} steps of inputs and recorded outputs"
                 + (" and traces" if trace else "") + "; run fewer steps or samples at a time")


def run(graph: Graph, inputs: dict[str, np.ndarray], steps: int | None = None,
        trace: bool = False, on_step: Callable[[int], None] | None = None) -> RunResult:
    """Run the float engine; inputs are {port: (B, T, *shape)}; by default for T steps plus
    the graph's latency."""
    steps = default_steps(graph, inputs, steps)
    check_run_budget(graph, inputs, steps, trace)
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


# --- compile and run compiled artifacts


def list_targets() -> list[dict[str, Any]]:
    """The built-in targets: name, arithmetic, backends, description."""
    from snnc.compiler.targets import builtin_names, load_target

    return [{"name": t.name, "semantics": t.semantics, "emit": list(t.emit),
             "description": t.description, "cores": t["chip.cores"],
             "neurons_per_core": t["core.neurons"]}
            for t in map(load_target, builtin_names())]


def compile(graph: Graph, target: Any, options: Any = None, *,  # noqa: A001 - snnc.compile
            calibrate_inputs: dict[str, np.ndarray] | None = None, until: str = "mapped",
            on_pass: Callable[[str, Any, float, float], None] | None = None,
            progress: Callable[[str], None] | None = None) -> Any:
    """Float IR -> a Compiled (fixed IR and core map) for `target` (a name, a .toml path or a
    loaded TargetSpec, loaded once). `options` is a CompileOptions (default: the target's full
    weight width, annealing placer); `until` "fixed" stops before mapping.

    The target's backends are checked first, so a target whose artifact cannot be written is
    refused before any work. With calibrate_inputs ({port: (B, T, *shape)} spikes), per-
    population gains are chosen first so that fixed spike counts stay closest to the float
    engine's, and the largest current each population reaches on them is measured, so that a
    population whose worst case does not fit its state width keeps its scale where real
    inputs stay inside (docs/fixed_point.md, headroom); a converted ONNX ANN carries that
    measurement from its balance data. A population whose worst case fits neither way raises
    QuantizeError unless `CompileOptions.of(allow_overflow=True)`. on_pass(name, ir,
    pass_seconds, verify_seconds) follows every pass.
    """
    from snnc.backends.registry import backends_of
    from snnc.compiler.passes import Stage
    from snnc.compiler.pipeline import CompileOptions, run_pipeline
    from snnc.compiler.targets import TargetSpec, load_target

    spec = target if isinstance(target, TargetSpec) else load_target(str(target))
    backends_of(spec)
    opts = options or CompileOptions()
    if until not in {s.value for s in Stage} - {"float"}:
        raise InputError(f"until must be 'fixed' or 'mapped', got {until!r}")
    stage = Stage(until)
    if calibrate_inputs is not None:
        from dataclasses import replace

        from snnc.runtime.calibrate import calibrate

        steps = next(iter(calibrate_inputs.values())).shape[1] + len(graph.populations) + 1
        reach = FloatEngine(graph).current_peaks(
            {k: np.asarray(v, dtype=np.float64) for k, v in calibrate_inputs.items()}, steps)
        opts = replace(opts, quantize=replace(opts.quantize, reach=reach))
        opts = calibrate(graph, spec, opts, calibrate_inputs, steps)
    return run_pipeline(graph, spec, opts, until=stage, on_pass=on_pass, progress=progress)


def mapping_summary(coremap: Any) -> dict[str, Any]:
    from snnc.backends.coremap_files import summary as _summary

    return _summary(coremap)


def compile_summary(compiled: Any, artifact: str | None, digest: bool = True
                    ) -> dict[str, Any]:
    """The JSON summary `snnc compile --json` prints (without the IR's digest if not
    `digest`: the artifact writer computes it while the backends write)."""
    fixed, opts = compiled.fixed, compiled.options
    q = fixed.meta.get("quantize", {})
    mapping: dict[str, Any] = {}
    if compiled.coremap is not None:
        m = mapping_summary(compiled.coremap)
        mapping = {k: m[k] for k in ("cores_used", "cores_lower_bound", "lower_bounds", "chips",
                                     "weighted_hops", "routed_hops", "max_link_load",
                                     "placer", "seed", "max_utilization", "layers",
                                     "dendrite_split_cores")}
    return {**mapping, "artifact": artifact, "target": compiled.target.name,
            "semantics": compiled.target.semantics, "emit": list(compiled.target.emit),
            "populations": len(fixed.populations), "neurons": fixed.n_neurons,
            "synapses": fixed.n_synapses, "weight_bits": q.get("weight_bits"),
            "per_channel": opts.quantize.per_channel, "gain": dict(opts.quantize.gain),
            "projections": q.get("projections", {}), "population_errors": q.get("populations", {}),
            "warnings": q.get("warnings", []), **({"digest": fixed.digest()} if digest else {}),
            "relay_neurons": fixed.meta.get("lower_delays", {}).get("relay_neurons", 0)}


def write_compiled(compiled: Any, out: str, source: str, float_graph: Graph | None = None,
                   load_options: dict[str, Any] | None = None) -> str:
    """Write the artifact directory of a compiled model (byte-identical on re-run);
    `load_options`: how the model file was read (load_record), kept in the manifest."""
    from snnc.artifact import write_artifact
    from snnc.compiler.pipeline import describe

    src = {"file": os.path.basename(source)}
    if os.path.isfile(source):
        import hashlib

        with open(source, "rb") as f:
            src["sha256"] = hashlib.sha256(f.read()).hexdigest()
    summ = compile_summary(compiled, None, digest=False)
    manifest = {"source": src, "load": dict(load_options or {}),
                "options": compiled.options.to_json(),
                "passes": [{"name": p["name"], "doc": p["doc"]} for p in describe()],
                "summary": {k: summ[k] for k in ("populations", "neurons", "synapses",
                                                  "weight_bits", "cores_used",
                                                  "cores_lower_bound", "chips",
                                                  "weighted_hops") if k in summ},
                "quantize": compiled.fixed.meta.get("quantize", {})}
    return str(write_artifact(out, compiled, manifest, float_graph))


def load_artifact(path: str) -> tuple[Graph, dict[str, Any]]:
    from snnc.artifact import read_artifact

    return read_artifact(path)


def run_compiled(graph: Graph, inputs: dict[str, np.ndarray], steps: int | None = None,
                 trace: bool = False, engine: str = "refsim", artifact: str | None = None,
                 on_step: Callable[[int], None] | None = None, counters: bool = False) -> Any:
    """Run a compiled model: `refsim` (the core map on the simulated chip; needs the artifact
    directory), `fixed` (the fixed IR, fixed-point engine) or `lava` (Lava 0.10.0; Loihi
    targets). By default for T steps plus the graph's latency. Outputs read from a
    non-spiking population (a readout) come back as v in the float model's units (the
    integer v divided by its quantization scale, per neuron with --per-channel); traces stay
    the chip's integers."""
    res = _run_compiled(graph, inputs, steps, trace, engine, artifact, on_step, counters)
    return readouts_in_float_units(graph, res)


def readouts_in_float_units(graph: Graph, res: Any) -> Any:
    """A run's outputs read from non-spiking populations, in the float model's units."""
    log = (graph.meta.get("quantize") or {}).get("populations", {})
    for k, o in graph.outputs.items():
        scale = (log.get(o.source or "") or {}).get("v_scale")
        if scale is not None and k in res.outputs:
            v = np.asarray(res.outputs[k], dtype=np.float64)
            res.outputs[k] = v / np.asarray(scale, dtype=np.float64).reshape(
                (1, 1, *o.shape) if np.ndim(scale) else ())
    return res


def _run_compiled(graph: Graph, inputs: dict[str, np.ndarray], steps: int | None,
                  trace: bool, engine: str, artifact: str | None,
                  on_step: Callable[[int], None] | None, counters: bool) -> Any:
    steps = default_steps(graph, inputs, steps)
    check_run_budget(graph, inputs, steps, trace)
    if engine not in ENGINES:
        raise InputError(f"engine {engine!r} cannot run a compiled artifact; use "
                         f"{', '.join(ENGINES)}")
    if engine == "refsim":
        from snnc.artifact import read_backend_file
        from snnc.runtime.refsim import RefSim

        if artifact is None:
            raise InputError("the refsim engine runs an artifact directory; compile first")
        program = read_backend_file(artifact, "refsim", "refsim/program.npz")
        try:
            sim = RefSim(program)
        except (KeyError, ValueError, IndexError, TypeError) as e:  # checksummed, but forged
            raise InputError(f"{artifact}: refsim/program.npz is not what snnc writes "
                             f"({type(e).__name__}: {e}); recompile the model") from None
        return sim.run(inputs, steps=steps, trace=trace, counters=counters,
                                   on_step=on_step)
    from snnc.runtime.fixed_engine import FixedEngine

    if engine == "fixed":
        return FixedEngine(graph).run(inputs, steps=steps, trace=trace, on_step=on_step)
    return _run_lava(graph, inputs, steps, trace, artifact, on_step)


ENGINES = ("refsim", "fixed", "lava")  # what `snnc run ART --engine` accepts


def _run_lava(graph: Graph, inputs: dict[str, np.ndarray], steps: int | None, trace: bool,
              artifact: str | None, on_step: Callable[[int], None] | None) -> RunResult:
    from snnc.backends import lava
    from snnc.runtime.fixed_engine import FixedEngine

    eng = FixedEngine(graph)  # checks the inputs exactly as the fixed engine does
    batch, t_in = eng.check_inputs(inputs)
    xs = {k: eng.as_input(x) for k, x in inputs.items()}
    steps = steps or t_in
    if artifact is not None:
        from snnc.artifact import read_backend_file

        desc = read_backend_file(artifact, "lava", "lava/weights.npz")
    else:
        desc = lava.describe(graph)
    tr = lava.run_lava(desc, xs, steps, on_sample=on_step)
    outs = {}
    for k, o in graph.outputs.items():
        src = graph.populations[o.source or ""]
        key = ("s:" if src.model in SPIKING else "v:") + src.name
        outs[k] = tr[key].reshape(batch, steps, *o.shape)
    return RunResult(outputs=outs, traces=tr if trace else {}, steps=steps)


__all__ = ["load", "convert", "summary", "run", "prepare_input", "result_arrays",
           "list_targets", "compile", "mapping_summary", "compile_summary", "write_compiled",
           "load_artifact", "run_compiled", "ENGINES"]
