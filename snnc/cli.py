"""`snnc` command line: inspect, convert, run. Each verb is one call into snnc.api."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from importlib import resources
from typing import Any

import numpy as np

from snnc import api
from snnc.compiler import paths
from snnc.compiler.errors import InputError, SnncError

PROGRESS_MIN_WORK = 2_000_000  # neuron-steps above which a progress bar is shown


def builtin_model(name: str) -> str:
    """Path of a model shipped inside the package ('digits')."""
    return str(resources.files("snnc") / "models" / f"{name}.nir")


def _model_path(arg: str) -> str:
    if not os.path.exists(arg) and arg == "digits":
        return builtin_model("digits")
    return arg


def _ann_options(args: argparse.Namespace) -> tuple[np.ndarray | None, Any]:
    """--balance-data and the ANN conversion options (None where an option was not given)."""
    from snnc.frontends.ann_to_snn import AnnOptions

    given = {k: getattr(args, k, None) for k in ("steps_ann", "encoding", "percentile", "leak",
                                                 "maxpool")}
    data = None
    if getattr(args, "balance_data", None):
        data = _read_values(args.balance_data)
    if data is None and all(v is None for v in given.values()):
        return None, None
    names = {"steps_ann": "steps"}
    return data, AnnOptions(**{names.get(k, k): v for k, v in given.items() if v is not None})


NETX_ARGS = ("reset_interval", "reset_offset", "skip_layers", "num_layers")


def _netx_options(args: argparse.Namespace) -> Any:
    """lava-dl netx.hdf5.Network's options (None where none was given)."""
    from snnc.frontends.netx import NetxOptions

    given = {k: getattr(args, k, None) for k in NETX_ARGS}
    if all(v is None for v in given.values()):
        return None
    return NetxOptions(**{k: v for k, v in given.items() if v is not None})


def _read_values(path: str) -> np.ndarray:
    from snnc.compiler.npyfile import read_npy

    a = read_npy(path)
    if a.dtype.kind not in "biuf":
        raise InputError(f"{path}: values of dtype {a.dtype}; expected real numbers")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise InputError(f"{path}: values contain NaN or inf; give finite numbers")
    return a


def _load_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """api.load's options from the command line."""
    data, ann = _ann_options(args)
    return dict(dt=args.dt, reset=args.reset, balance_data=data, ann=ann, timing=args.timing,
                source=args.source, netx=_netx_options(args))


def _load(args: argparse.Namespace, kwargs: dict[str, Any] | None = None) -> Any:
    return api.load(_model_path(args.model), **(kwargs or _load_kwargs(args)))


def _refuse_compile_options(args: argparse.Namespace) -> None:
    """An artifact is already compiled: --dt, --reset and the ANN options cannot apply."""
    ann = [k for k in ("balance_data", "steps_ann", "encoding", "percentile", "leak", "maxpool")
           if getattr(args, k, None) is not None]
    given = [args.dt, args.reset, args.timing, args.source,
             *(getattr(args, k, None) for k in NETX_ARGS)]
    if any(x is not None for x in given) or ann:
        raise SnncError("--dt/--reset/--timing/--source and the ANN and netx options are "
                        "compile options; this artifact is already compiled")


def cmd_encode(args: argparse.Namespace) -> int:
    paths.refuse_overwrite({"-o": args.output}, [_model_path(args.model), args.values])
    if os.path.isdir(args.model):
        _refuse_compile_options(args)
        g, _ = api.load_artifact(args.model)
    else:
        g = _load(args)
    spikes = api.encode_input(g, _read_values(args.values), args.steps, args.seed)
    with paths.replacing(args.output) as tmp, open(tmp, "wb") as f:
        np.save(f, spikes)
    ann = g.meta["ann"]
    print(f"wrote {args.output}: {spikes.shape[0]} samples x {spikes.shape[1]} steps, "
          f"{ann['encoding']} encoding, input scale {ann['input_scale']:.4g}", file=sys.stderr)
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    g = _load(args)
    if args.format == "json":
        print(json.dumps(api.summary(g), indent=2))
    else:
        from snnc.frontends.text import print_ir

        text = print_ir(g, arrays=None if args.full else {})
        print(text, end="")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    paths.refuse_overwrite({"-o": args.output, "-o (its arrays)": f"{args.output}.npz"},
                           [_model_path(args.model)])
    g = _load(args)
    api.convert(g, args.output)
    print(f"wrote {args.output} ({len(g.populations)} populations, {g.n_neurons} neurons, "
          f"{g.n_synapses} synapses)", file=sys.stderr)
    return 0


def _read_input(path: str, graph: Any, batch: bool, flat: bool = False
                ) -> dict[str, np.ndarray]:
    from snnc.compiler.npyfile import read_any

    data = read_any(path)
    arrays = data if isinstance(data, dict) else None
    if arrays is not None:
        missing = sorted(set(graph.inputs) - set(arrays))
        if missing:
            raise InputError(f"{path}: no array for input ports {missing}")
        out = {}
        for k in graph.inputs:
            sub = type(graph)(populations=graph.populations, projections=graph.projections,
                              inputs={k: graph.inputs[k]}, outputs=graph.outputs)
            out.update(api.prepare_input(sub, arrays[k], batch, flat))
        return out
    return api.prepare_input(graph, data, batch, flat)


def cmd_targets(args: argparse.Namespace) -> int:
    from snnc.compiler.targets import load_target

    if args.name:
        t = load_target(args.name)
        if args.format == "json":
            print(json.dumps(t.to_json(), indent=2))
            return 0
        print(f"{t.name}: {t.description}\narithmetic: {t.semantics}   emits: "
              f"{', '.join(t.emit)}   file: {t.path}")
        section = None
        for key, f in sorted(t.facts.items()):
            sec, name = key.split(".", 1)
            if sec != section:
                print(f"[{sec}]")
                section = sec
            borrowed = f" (from {f.borrowed_from})" if f.borrowed_from else ""
            print(f"  {name:<24} {json.dumps(f.value):<14} {f.source}{borrowed}")
        return 0
    rows = api.list_targets()
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        print(f"{r['name']:<10} {r['semantics']:<8} {r['cores']:>4} cores x "
              f"{r['neurons_per_core']:>5} neurons  {r['description']}")
    print("details: snnc targets NAME; your own target: --target FILE.toml "
          "(see compiler/targets/refsim.toml)")
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    from snnc.compiler.pipeline import CompileOptions, describe
    from snnc.compiler.targets import load_target

    target = load_target(args.target)
    if args.passes:
        _print_passes(describe(), target.name)
        return 0
    if args.model is None:
        raise SnncError("snnc compile needs a MODEL (or --passes to list the pipeline)")
    names = [p["name"] for p in describe()]
    for name in args.print_ir_after or []:
        if name not in names and name != "all":
            raise SnncError(f"--print-ir-after {name!r}: no such pass; passes: "
                            f"{', '.join(names)} (or all)")
    path = _model_path(args.model)
    load_kwargs = _load_kwargs(args)
    g = _load(args, load_kwargs)
    calib = _read_input(args.calibrate, g, True, args.flat_input) if args.calibrate else None
    opts = CompileOptions.of(weight_bits=args.weight_bits, per_channel=args.per_channel,
                             placer=args.placer, seed=args.seed, max_chips=args.max_chips,
                             allow_overflow=args.allow_overflow)
    timings: list[tuple[str, float, float]] = []
    big = g.n_synapses > 2_000_000  # long compiles say what they are doing on stderr
    show = set(args.print_ir_after or [])

    def on_pass(name: str, ir: Any, sec: float, verify_sec: float) -> None:
        timings.append((name, sec, verify_sec))
        if big:
            print(f"  {name}: {sec:.1f} s (+{verify_sec:.1f} s verify)", file=sys.stderr,
                  flush=True)
        if name in show or "all" in show:
            _print_ir(name, ir)

    def progress(msg: str) -> None:
        print(f"  {msg}", file=sys.stderr, flush=True)

    # before compiling: one that fits the budget but whose artifact would not is refused
    # now, not after minutes of mapping (the fixed IR holds at most a copy of each array)
    if args.no_artifact and args.output:
        raise SnncError("--no-artifact writes nothing; drop -o/--output")
    if not args.no_artifact:
        from snnc.artifact import check_write_budget, ir_bytes
        from snnc.compiler.budget import BudgetError

        try:
            check_write_budget(g.n_synapses, 2 * ir_bytes(g), path)
        except BudgetError as e:  # what else the user can do: map it without writing
            raise BudgetError(f"{e}; or only map it, with --no-artifact") from None
    if big:
        print(f"compiling {g.n_neurons} neurons, {g.n_synapses} synapses for {target.name}",
              file=sys.stderr, flush=True)
    compiled = api.compile(g, target, opts, calibrate_inputs=calib, on_pass=on_pass,
                           progress=progress if big else None)
    if big and not args.no_artifact:
        print(f"  writing the artifact ({compiled.coremap.n_cores} cores)", file=sys.stderr,
              flush=True)
    art = None
    if not args.no_artifact:
        stem = os.path.splitext(os.path.basename(path.rstrip("/")))[0]
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", target.name).lstrip(".") or "target"
        out = args.output or f"{stem}.{safe}"  # in the working directory, whatever it says
        art = api.write_compiled(compiled, out, path, float_graph=g,
                                 load_options=api.load_record(**load_kwargs))
    summ = api.compile_summary(compiled, art)
    if args.json:
        print(json.dumps(summ, indent=2))
    else:
        _print_compile_summary(summ)
    if args.time_passes:
        for n, sec, vsec in timings:
            print(f"pass {n:<20} {sec * 1000:9.1f} ms   verify {vsec * 1000:8.1f} ms",
                  file=sys.stderr)
    for w in summ["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    return 0


def _print_passes(rows: list[dict[str, Any]], target: str) -> None:
    """`snnc compile --passes`: the pipeline, one pass a line (stdout)."""
    print(f"pipeline for {target} (each pass is a no-op where the target's facts make it one; "
          "the verifier of its output stage runs after it):")
    for p in rows:
        extra = []
        if p["options"]:
            extra.append("options: " + ", ".join(o.replace("_", "-") for o in p["options"]))
        if p["requires"]:
            extra.append("after: " + ", ".join(p["requires"]))
        if p["reads"]:
            extra.append("reads: " + ", ".join(p["reads"]))
        print(f"  {p['name']:<20} {p['stage']:<16} {p['doc']}"
              + (f"  [{'; '.join(extra)}]" if extra else ""))


def _print_ir(name: str, ir: Any) -> None:
    """`--print-ir-after NAME`: the IR (arrays of more than 16 values referenced by key, not
    printed) or the core map summary, on stderr."""
    from snnc.compiler.coremap import CoreMap
    from snnc.frontends.text import print_ir

    print(f"// ----- IR after {name}", file=sys.stderr)
    if isinstance(ir, CoreMap):
        print(ir.describe(), file=sys.stderr, end="")
    else:
        print(print_ir(ir, arrays={}, inline_limit=16), file=sys.stderr, end="")


def _print_compile_summary(s: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(f"compiled for [bold]{s['target']}[/] ({s['semantics']} arithmetic), "
              f"{s['weight_bits']}{'' if s['weight_bits'] == 'ternary' else '-bit'} weights"
              f"{' per channel' if s['per_channel'] else ''}: "
              f"{s['populations']} populations, {s['neurons']} neurons, {s['synapses']} synapses")
    t = Table("projection", "weight_exp", "SQNR dB", "clipped", "zeroed", box=None)
    for name, p in s["projections"].items():
        sq = "exact" if p["sqnr_db"] is None else f"{p['sqnr_db']:.1f}"
        t.add_row(name, str(p["weight_exp"]), sq, str(p["clipped"]), str(p["zeroed"]))
    con.print(t)
    if "cores_used" in s:
        _print_mapping(con, s)
    con.print(f"artifact: {s['artifact']}" if s["artifact"] else
              "artifact: none written (--no-artifact)")


def _print_mapping(con: Any, s: dict[str, Any]) -> None:
    from rich.table import Table

    lb = s["lower_bounds"]
    con.print(f"[bold]{s['cores_used']}[/] cores on {s['chips']} chip(s); lower bound "
              f"{s['cores_lower_bound']} (neurons {lb['neurons']}, in_axons {lb['in_axons']}, "
              f"out_axons {lb['out_axons']}, synapse memory {lb['synapse_memory_bits']})"
              + (f"; {s['dendrite_split_cores']} partial-sum cores" if s["dendrite_split_cores"]
                 else "") + (f"; {s['relay_neurons']} delay relay neurons"
                             if s["relay_neurons"] else ""))
    t = Table("layer", "neurons", "cores", "neurons %", "in_axons %", "out_axons %",
              "memory %", box=None)
    for name, L in s["layers"].items():
        u = L["utilization"]
        t.add_row(name, str(L["neurons"]), str(L["cores"]), *(f"{100 * u[k]:.0f}" for k in (
            "neurons", "in_axons", "out_axons", "synapse_memory_bits")))
    con.print(t)
    con.print(f"placement ({s['placer']}, seed {s['seed']}): {s['weighted_hops']:.0f} "
              f"traffic-weighted hops per step; {s['routed_hops']} routed link traversals, "
              f"busiest link {s['max_link_load']} packets per step (each neuron firing once)")


def cmd_report(args: argparse.Namespace) -> int:
    from snnc.artifact import is_artifact
    from snnc.report import build_report
    from snnc.runtime import report_render

    if not is_artifact(args.artifact):
        raise SnncError(f"{args.artifact} is not a compiled artifact; make one with "
                        f"`snnc compile MODEL --target loihi2 -o DIR`")
    outs = {"--json": args.json, "--md": args.md, "--html": args.html}
    paths.refuse_overwrite(outs, [args.artifact, args.input])
    paths.refuse_source_overwrite(outs, args.artifact)
    given_outs = [p for p in outs.values() if p]
    if len({str(Path(p).resolve()) for p in given_outs}) < len(given_outs):
        raise SnncError("--json, --md and --html name the same file; give each its own")
    inputs = None
    if args.input:
        g, _ = api.load_artifact(args.artifact)
        given = _read_input(args.input, g, args.batch, args.flat_input)
        inputs = {k: v.astype(np.int64) for k, v in given.items()}
    from rich.progress import Progress

    with Progress(transient=True, console=_stderr_console(), disable=args.quiet) as prog:
        task = prog.add_task("simulating for the report", total=None)
        rep = build_report(args.artifact, inputs, args.steps,
                           on_step=lambda t: prog.update(task, completed=t + 1))
        prog.update(task, description="rendering")
        for path, fn in ((args.json, report_render.to_json),
                         (args.md, report_render.to_markdown), (args.html, report_render.to_html)):
            if path:
                paths.write_text(path, fn(rep))
    if not (args.json or args.md or args.html):
        print(report_render.to_markdown(rep))
    else:
        print(json.dumps({"energy_per_inference_joules": rep["energy"]["per_inference_joules"],
                          "cores_used": rep["resources"]["cores_used"],
                          "cycles_per_step_mean": rep["timing"]["cycles_per_step"]["mean"],
                          "written": [p for p in (args.json, args.md, args.html) if p]}))
    return 0


@contextmanager
def _counting(what: str, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """progress(done, total) for long work: a bar on a terminal, else a line at every tenth
    (logs of batch jobs), nothing with -q."""
    if quiet:
        yield lambda done, total: None
        return
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      transient=True, console=_stderr_console()) as prog:
            task = prog.add_task(what, total=None)
            yield lambda done, total: prog.update(task, completed=done, total=total)
        return
    shown = [-1]

    def line(done: int, total: int) -> None:
        tenth = 10 * done // max(total, 1)
        if tenth > shown[0]:
            shown[0] = tenth
            print(f"  {what}: {done}/{total}", file=sys.stderr, flush=True)
    yield line


def cmd_eval(args: argparse.Namespace) -> int:
    from snnc import dataset_eval as ev

    outs = {"-o": args.output, "--samples": args.samples}
    paths.refuse_overwrite(outs, [args.artifact, args.input, args.labels])
    paths.refuse_source_overwrite(outs, args.artifact)
    if args.output and args.samples and Path(args.output).resolve() == Path(
            args.samples).resolve():
        raise SnncError("-o and --samples name the same file; give each its own")
    with _counting("samples done across the cluster", args.quiet) as progress:
        res = ev.evaluate(args.artifact, args.input, args.labels, batch_size=args.batch_size,
                          steps=args.steps, flat_input=args.flat_input,
                          scheduler=args.scheduler, workers=args.workers,
                          threads=args.threads, compare_float=not args.no_float, progress=progress)
    text = ev.to_json(res)
    if args.samples:
        with paths.replacing(args.samples) as tmp, open(tmp, "wb") as f:
            np.savez(f, **res["per_sample"])
    if args.output:
        paths.write_text(args.output, text)
        acc = f"accuracy {100 * res['accuracy']:.2f} %, " if "accuracy" in res else ""
        per = res["per_inference"]
        print(f"{res['samples']} samples: {acc}{per['energy_joules']['mean']:.3e} J and "
              f"{per['latency_seconds']['mean']:.3e} s per inference; wrote {args.output}",
              file=sys.stderr)
    else:
        print(text, end="")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from snnc import design_sweep as sw
    from snnc.compiler.passes.place import PLACERS

    model = _model_path(args.model)
    paths.refuse_overwrite({"-o": args.output}, [model, args.input, args.labels])
    data, ann = _ann_options(args)
    load_kwargs = {k: v for k, v in (("dt", args.dt), ("reset", args.reset),
                                     ("timing", args.timing), ("source", args.source),
                                     ("balance_data", data), ("ann", ann),
                                     ("netx", _netx_options(args))) if v is not None}
    steps: list[int | None] = [None]
    if args.steps is not None:
        try:
            steps = [int(s) for s in sw.parse_list(args.steps, "--steps")]
        except ValueError:
            raise SnncError(f"--steps {args.steps!r}: give whole numbers separated by commas"
                            ) from None
    pc = {"no": [False], "yes": [True], "both": [False, True]}[args.per_channel]
    with _counting("samples evaluated across the cluster", args.quiet) as progress:
        res = sw.sweep(model, args.output, args.input, args.labels,
                       targets=sw.parse_list(args.targets, "--targets"),
                       weight_bits=sw.parse_list(args.weight_bits, "--weight-bits"),
                       per_channel=pc, placers=sw.parse_list(args.placers, "--placers", PLACERS),
                       steps=steps, batch_size=args.batch_size, flat_input=args.flat_input,
                       scheduler=args.scheduler, workers=args.workers, threads=args.threads,
                       load_kwargs=load_kwargs, allow_overflow=args.allow_overflow,
                       progress=progress)
    rows = res["rows"]
    ok = [r for r in rows if r["status"] == "ok"]
    for r in rows:
        if r["status"] != "ok":
            print(f"  {r['point']} ({r['steps']} steps): {r['status']}: {r['reason']}",
                  file=sys.stderr)
    print(json.dumps({"points": len(rows), "evaluated": len(ok),
                      "pareto_energy": [f"{r['point']}@{r['steps']}" for r in ok
                                        if r["pareto_energy"]],
                      "written": list(res["files"].values())}))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from snnc.artifact import is_artifact

    paths.refuse_overwrite({"-o": args.output}, [_model_path(args.model), args.input])
    if is_artifact(args.model):
        return _run_artifact(args)
    if args.engine != "float":
        raise SnncError(f"engine '{args.engine}' runs a compiled artifact; compile first: "
                        f"snnc compile {args.model} --target loihi2 -o ART; snnc run ART ...")
    g = _load(args)
    inputs = _read_input(args.input, g, args.batch, args.flat_input)
    x = next(iter(inputs.values()))
    steps = api.default_steps(g, inputs, args.steps) or x.shape[1]
    work = steps * x.shape[0] * max(g.n_neurons, 1)
    progress = None
    on_step = None
    if work >= PROGRESS_MIN_WORK and not args.quiet:
        from rich.progress import Progress

        progress = Progress(transient=True, console=_stderr_console())
        task = progress.add_task("simulating", total=steps)
        progress.start()

        def on_step(t: int) -> None:
            progress.update(task, completed=t + 1)
    try:
        res = api.run(g, inputs, steps=args.steps, trace=args.trace, on_step=on_step)
    finally:
        if progress is not None:
            progress.stop()
    return _report_run(args, g, res, x)


def _run_artifact(args: argparse.Namespace) -> int:
    _refuse_compile_options(args)
    engine = "refsim" if args.engine == "float" and not args.engine_given else args.engine
    if engine not in api.ENGINES:
        first, *rest = api.ENGINES
        raise SnncError(f"engine '{engine}' cannot run a compiled artifact; use {first} "
                        f"(default), {', '.join(rest[:-1])} or {rest[-1]}")
    if args.counters and engine != "refsim":
        raise SnncError("--counters come from the simulated chip; use --engine refsim")
    g, _ = api.load_artifact(args.model)
    inputs = _read_input(args.input, g, args.batch, args.flat_input)
    x = next(iter(inputs.values()))
    steps = api.default_steps(g, inputs, args.steps) or x.shape[1]
    progress, on_step = None, None
    total = x.shape[0] if engine == "lava" else steps
    slow = (engine == "lava" and x.shape[0] > 1) or (
        engine != "lava" and steps * x.shape[0] * max(g.n_neurons, 1) >= PROGRESS_MIN_WORK)
    if slow and not args.quiet:
        from rich.progress import Progress

        progress = Progress(transient=True, console=_stderr_console())
        task = progress.add_task(f"running ({engine})", total=total)
        progress.start()

        def on_step(i: int) -> None:
            progress.update(task, completed=i + 1)
    try:
        res = api.run_compiled(g, inputs, steps=args.steps, trace=args.trace, engine=engine,
                               artifact=args.model, on_step=on_step, counters=args.counters)
    finally:
        if progress is not None:
            progress.stop()
    extra = {}
    if args.counters:
        extra = {f"counter:{k}": v for k, v in res.counters.items()}
        _print_counters(res.counters)
    _warn_range(res)
    return _report_run(args, g, res, x, extra)


def _warn_range(res: Any) -> None:
    """One warning per population whose integers wrapped or saturated during the run."""
    c = res.counters
    if "layer_wraps" not in c:
        return
    for name, w, s in zip(res.layers, c["layer_wraps"], c["layer_saturations"], strict=True):
        if w or s:
            print(f"warning: population '{name}': u wrapped {int(w)} and states saturated "
                  f"{int(s)} times (neuron-steps, all samples): the chip's integers left the "
                  "range the float model assumes (docs/fixed_point.md, headroom)",
                  file=sys.stderr)


def _print_counters(c: dict[str, np.ndarray]) -> None:
    lat = c["latency_cycles"]
    msg = (f"per step: {c['synops'].mean():.0f} synaptic ops, {c['spikes'].mean():.1f} spikes, "
           f"{c['packets'].mean():.1f} packets, {c['hops'].mean():.1f} hops (all samples); "
           f"latency mean {lat.mean():.0f} / max {lat.max():.0f} cycles "
           f"({c['latency_seconds'].max() * 1e6:.3f} us), critical core "
           f"{int(np.bincount(c['critical_core'].ravel()).argmax())}")
    if "fits_budget" in c:
        msg += f"; {100 * c['fits_budget'].mean():.0f}% of steps fit the step budget"
    print(msg, file=sys.stderr)


def _report_run(args: argparse.Namespace, g: Any, res: Any, x: np.ndarray,
                extra: dict[str, np.ndarray] | None = None) -> int:
    arrays = {**api.result_arrays(g, res, args.batch), **(extra or {})}
    if args.output:
        with paths.replacing(args.output) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
    main_key = "output_spikes" if "output_spikes" in arrays else "output_v"
    out = arrays[main_key]
    counts = out.sum(axis=-2 if args.batch else 0).reshape(*(out.shape[:1] if args.batch
                                                             else ()), -1)
    msg = {"steps": res.steps, "batch": int(x.shape[0]), "output": main_key,
           "output_shape": list(out.shape)}
    if api.latency(g):
        msg["latency"] = api.latency(g)  # outputs lag the trained network by this many steps
    if main_key == "output_spikes":
        msg["spike_counts"] = counts.astype(int).tolist()
        msg["argmax"] = np.argmax(counts, axis=-1).tolist()
    elif g.meta.get("ann"):  # a converted ANN reads out the integrators' last v
        last = out[:, -1] if args.batch else out[-1]
        msg["argmax"] = np.argmax(last.reshape(*last.shape[:-1], -1), axis=-1).tolist()
    if args.output:
        msg["written"] = args.output
    print(json.dumps(msg))
    return 0


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _model_args(sp: argparse.ArgumentParser, required: bool = True) -> None:
    """MODEL and the options that shape how a model file is read."""
    from snnc.compiler.ir import ResetMode
    from snnc.frontends.ann_to_snn import ENCODINGS, MAXPOOL
    from snnc.frontends.conventions import SOURCES
    from snnc.frontends.timing import TIMINGS

    sp.add_argument("model", nargs=None if required else "?",
                    help="model file (.nir, .net, .snn, .onnx) or 'digits' (shipped)")
    sp.add_argument("--dt", type=float, default=None,
                    help="time step in seconds for NIR time constants (default: 1e-4 if "
                         "the graph has time constants, else 1; a warning names it)")
    sp.add_argument("--reset", choices=[m.value for m in ResetMode], default=None,
                    help="reset mode for NIR spiking nodes (NIR itself says 'zero'); for "
                         "ONNX ANNs subtract (default) or zero")
    sp.add_argument("--timing", choices=TIMINGS, default=None,
                    help="NIR: 'trained' (default) reproduces the latency-free network a "
                         "framework trained, shifted by the printed latency (biases start "
                         "with the first input, shorter paths delayed); 'hardware' gives "
                         "every projection one step and biases from step 0 (docs/timing.md)")
    sp.add_argument("--source", choices=[*SOURCES, "lava-dl"], default=None,
                    help="NIR: the framework that exported the graph, whose meaning of tau, r "
                         "and reset to follow (docs/frontends.md); lava-dl models are netx "
                         "files. Default: the graph's metadata, else plain NIR")
    netx = sp.add_argument_group("lava-dl netx (lava-dl's netx.hdf5.Network arguments)")
    netx.add_argument("--reset-interval", type=int, default=None, metavar="N",
                      help="reset every neuron's u and v every N steps, staggered by one step "
                           "per layer as lava-dl does (docs/semantics.md)")
    netx.add_argument("--reset-offset", type=int, default=None, metavar="K",
                      help="phase of that reset (default 0: layer k resets at step K+1+k)")
    netx.add_argument("--skip-layers", type=int, default=None, metavar="N",
                      help="drop the first N layer entries; the next layer reads the input")
    netx.add_argument("--num-layers", type=int, default=None, metavar="N",
                      help="keep only the first N layer entries")
    ann = sp.add_argument_group("ONNX ANN conversion (docs/onnx.md)")
    ann.add_argument("--balance-data", metavar="X.npy", default=None,
                     help="(N, *input shape) typical input values for threshold "
                          "balancing (required to convert an ANN)")
    ann.add_argument("--ann-steps", dest="steps_ann", type=int, default=None,
                     help="time steps per inference the conversion targets (default 64)")
    ann.add_argument("--encoding", choices=ENCODINGS, default=None,
                     help="input spike code: direct (deterministic, default) or rate "
                          "(Bernoulli)")
    ann.add_argument("--percentile", type=float, default=None,
                     help="robust maximum of each layer's activations (default 99.9)")
    ann.add_argument("--leak", type=float, default=None,
                     help="0: IF neurons (default); > 0: LIF with this leak per step")
    ann.add_argument("--maxpool", choices=MAXPOOL, default=None,
                     help="MaxPool: refuse (default) or approximate by average pooling")


def _add_inspect(sub: Any) -> None:
    sp = sub.add_parser("inspect", help="print the IR (text) or a JSON structure summary")
    _model_args(sp)
    sp.add_argument("--format", choices=["text", "json"], default="text")
    sp.add_argument("--full", action="store_true", help="print large arrays inline too")
    sp.set_defaults(fn=cmd_inspect)


def _add_convert(sub: Any) -> None:
    sp = sub.add_parser("convert", help="write the model as .snn text, .nir or spiking .onnx")
    _model_args(sp)
    sp.add_argument("-o", "--output", required=True, help="OUT.snn, OUT.nir or OUT.onnx")
    sp.set_defaults(fn=cmd_convert)


def _add_encode(sub: Any) -> None:
    sp = sub.add_parser("encode", help="encode input values as the spikes a converted ANN "
                        "expects")
    _model_args(sp)
    sp.add_argument("--values", required=True, metavar="X.npy",
                    help="(N, *input shape) input values, e.g. images")
    sp.add_argument("--steps", type=int, default=None,
                    help="time steps (default: the conversion's --ann-steps)")
    sp.add_argument("--seed", type=int, default=0, help="seed of the rate (Bernoulli) code")
    sp.add_argument("-o", "--output", required=True, help="OUT.npy of (N, T, *shape) spikes")
    sp.set_defaults(fn=cmd_encode)


def _add_targets(sub: Any) -> None:
    sp = sub.add_parser("targets", help="list the targets, or print one with its sources")
    sp.add_argument("name", nargs="?", help="a built-in target or a .toml file")
    sp.add_argument("--format", choices=["text", "json"], default="text")
    sp.set_defaults(fn=cmd_targets)


def _add_compile(sub: Any) -> None:
    from snnc.compiler.fixed import WEIGHT_CHOICES
    from snnc.compiler.passes.place import PLACERS

    sp = sub.add_parser("compile", help="quantize and map a model for a target; writes an "
                        "artifact directory")
    _model_args(sp, required=False)
    sp.add_argument("--target", "-t", default="loihi2",
                    help="loihi2, tianjic, refsim, or a target .toml file (default loihi2)")
    sp.add_argument("-o", "--output", default=None, help="artifact directory "
                    "(default: <model>.<target>)")
    sp.add_argument("--weight-bits", choices=WEIGHT_CHOICES, default=None,
                    help="weight precision (default: the target's stored width, 8 on loihi2 "
                         "and tianjic)")
    sp.add_argument("--per-channel", action="store_true",
                    help="one weight scale per output channel (folded into thresholds)")
    sp.add_argument("--allow-overflow", action="store_true",
                    help="keep the scale of a population whose worst-case current (every "
                         "excitatory input at once) could leave its state width and that "
                         "--calibrate does not show safe (default: refuse, naming it); run "
                         "and report count the wraps")
    sp.add_argument("--strict-range", action="store_true",
                    help="refuse such a population (the default; kept for scripts)")
    sp.add_argument("--calibrate", metavar="X.npy", default=None,
                    help="sample input spikes (B, T, *shape) to choose scales that keep spike "
                         "counts closest to the float model")
    sp.add_argument("--flat-input", action="store_true",
                    help="the input's last axis is the port's shape flattened in C order "
                         "(without it the trailing axes must equal the port's shape)")
    sp.add_argument("--placer", choices=PLACERS, default=PLACERS[0],
                    help=f"placement algorithm (default {PLACERS[0]})")
    sp.add_argument("--seed", type=int, default=0, help="seed of the annealing placer")
    sp.add_argument("--max-chips", type=int, default=None,
                    help="fail (naming the layer) if the model needs more chips")
    sp.add_argument("--json", action="store_true", help="print one JSON summary object")
    sp.add_argument("--no-artifact", action="store_true",
                    help="compile and verify every pass, print the summary (cores, chips, "
                         "quantization) and write nothing: whether and how a model maps, "
                         "also where its artifact would not fit in memory")
    sp.add_argument("--time-passes", action="store_true",
                    help="print each pass's time and its verifier's")
    sp.add_argument("--passes", action="store_true",
                    help="list the pipeline (passes, stages, options) and exit")
    sp.add_argument("--print-ir-after", action="append", metavar="PASS",
                    help="print the IR (or the core map summary) after PASS to stderr; "
                         "repeatable, or 'all'")
    sp.set_defaults(fn=cmd_compile)


def _add_report(sub: Any) -> None:
    sp = sub.add_parser("report", help="resources, activity, energy, time and fidelity of an "
                        "artifact (JSON / Markdown / HTML)")
    sp.add_argument("artifact", help="a compiled artifact directory")
    sp.add_argument("--input", default=None, help="X.npy input spikes (default: the artifact's "
                    "sample_input.npz)")
    sp.add_argument("--batch", action="store_true", help="input has a leading batch axis")
    sp.add_argument("--steps", type=int, default=None)
    sp.add_argument("--flat-input", action="store_true",
                    help="the input's last axis is the port's shape flattened in C order "
                         "(without it the trailing axes must equal the port's shape)")
    sp.add_argument("--json", default=None, metavar="OUT.json")
    sp.add_argument("--md", default=None, metavar="OUT.md")
    sp.add_argument("--html", default=None, metavar="OUT.html")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    sp.set_defaults(fn=cmd_report)


def _add_eval(sub: Any) -> None:
    sp = sub.add_parser("eval", help="run an artifact on the simulated chip over a labelled "
                        "data set, sharded over a Dask cluster (docs/eval.md)")
    sp.add_argument("artifact", help="a compiled artifact directory")
    sp.add_argument("--input", required=True, metavar="X.npy",
                    help="(N, T, *shape) input spikes, one sample per row (memory-mapped)")
    sp.add_argument("--labels", default=None, metavar="Y.npy",
                    help="(N,) integer class of each sample (for the accuracy)")
    sp.add_argument("--steps", type=int, default=None,
                    help="steps per sample (default: the input's T plus the model's latency)")
    sp.add_argument("--no-float", action="store_true",
                    help="skip the float IR's run (float-vs-fixed agreement)")
    sp.add_argument("-o", "--output", default=None, metavar="OUT.json",
                    help="write the result here (default: print it)")
    sp.add_argument("--samples", default=None, metavar="OUT.npz",
                    help="also write the per-sample arrays (prediction, spikes, energy, ...)")
    _cluster_args(sp)
    sp.set_defaults(fn=cmd_eval)


def _cluster_args(sp: argparse.ArgumentParser) -> None:
    """Where the work runs, and in what units (eval, sweep)."""
    sp.add_argument("--batch-size", type=int, default=64,
                    help="samples per shard, the unit of work of a worker (default 64)")
    sp.add_argument("--flat-input", action="store_true",
                    help="the input's last axis is the port's shape flattened in C order")
    sp.add_argument("--scheduler", default="local", metavar="local|none|ADDRESS",
                    help="local (default): a Dask LocalCluster of worker processes; ADDRESS "
                         "(tcp://host:8786): a running `dask scheduler`; none: this process")
    sp.add_argument("--workers", type=int, default=None,
                    help="worker processes of the local cluster (default: cores, at most 4)")
    sp.add_argument("--threads", type=int, default=None,
                    help="numba threads of each local worker (default: cores / workers)")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress display")


def _add_sweep(sub: Any) -> None:
    sp = sub.add_parser("sweep", help="compile a model at every design point and evaluate "
                        "each on a labelled data set (JSON, CSV, HTML with Pareto fronts)")
    _model_args(sp)
    sp.add_argument("--targets", default="loihi2", help="comma-separated targets or .toml "
                    "files (default loihi2)")
    sp.add_argument("--weight-bits", default="8", help="comma-separated widths: 8, 4, 2, "
                    "ternary (default 8)")
    sp.add_argument("--per-channel", choices=["no", "yes", "both"], default="no",
                    help="per-channel weight scales: no (default), yes, or both")
    sp.add_argument("--placers", default="anneal", help="comma-separated placers "
                    "(default anneal)")
    sp.add_argument("--allow-overflow", action="store_true",
                    help="compile every point as `snnc compile --allow-overflow` does")
    sp.add_argument("--steps", default=None, help="comma-separated steps per sample "
                    "(default: the input's T plus the model's latency)")
    sp.add_argument("--input", required=True, metavar="X.npy",
                    help="(N, T, *shape) input spikes, one sample per row")
    sp.add_argument("--labels", required=True, metavar="Y.npy",
                    help="(N,) integer class of each sample")
    sp.add_argument("-o", "--output", required=True, metavar="DIR",
                    help="a new directory: sweep.json, sweep.csv, sweep.html, points/")
    _cluster_args(sp)
    sp.set_defaults(fn=cmd_sweep)


def _add_run(sub: Any) -> None:
    sp = sub.add_parser("run", help="simulate a model file (float engine) or a compiled "
                        "artifact (refsim, fixed or lava engine)")
    _model_args(sp)
    sp.add_argument("--input", required=True, help="X.npy (T, *shape) or (B, T, *shape) with "
                    "--batch; .npz with one array per input port")
    sp.add_argument("--steps", type=int, default=None, help="steps to run (default: input T)")
    sp.add_argument("--engine", default=None, choices=["float", *api.ENGINES],
                    help="model files: float; artifacts: refsim (default: the simulated chip "
                         "runs the core map), fixed (fixed-point engine on the IR) or lava")
    sp.add_argument("--batch", action="store_true", help="input has a leading batch axis")
    sp.add_argument("--trace", action="store_true", help="also save v:/u:/s:<population>")
    sp.add_argument("--flat-input", action="store_true",
                    help="the input's last axis is the port's shape flattened in C order "
                         "(without it the trailing axes must equal the port's shape)")
    sp.add_argument("--counters", action="store_true",
                    help="refsim: save per-step counters and latency (counter:*) and print a "
                         "summary")
    sp.add_argument("-o", "--output", default=None, help="OUT.npz")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sp.set_defaults(fn=cmd_run)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one `error:` line and exit code 1, like every other
    refusal (argparse's own is a usage block and exit code 2)."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        print(f"error: {self.prog}: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(1)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="snnc", description="Compile spiking neural networks for "
                                "neuromorphic hardware.")
    p.add_argument("--debug", action="store_true", help="show tracebacks for internal errors")
    sub = p.add_subparsers(dest="cmd", required=True)
    for add in (_add_inspect, _add_convert, _add_encode, _add_targets, _add_compile,
                _add_report, _add_run, _add_eval, _add_sweep):
        add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "fn", None) is cmd_run:
        args.engine_given = args.engine is not None
        args.engine = args.engine or "float"
    failure: tuple[str, int] | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = args.fn(args)
        except SnncError as e:
            failure = (str(e), 1)
        except OSError as e:
            failure = (f"{e.filename or ''}: {e.strerror or e}", 1)
        except KeyboardInterrupt:
            failure = ("interrupted", 130)
        except Exception as e:  # a bug in snnc, not in the user's input
            if args.debug:
                traceback.print_exc()
            failure = (f"internal error ({type(e).__name__}: {e}); rerun with --debug and "
                       "report it", 70)
    seen = set()
    for w in caught:
        text = str(w.message)
        if text not in seen and not issubclass(w.category, DeprecationWarning):
            seen.add(text)
            print(f"warning: {text}", file=sys.stderr)
    if failure is not None:  # the error is the last line the user sees
        code = _fail(*failure)
    return code


def _fail(msg: str, code: int = 1) -> int:
    one_line = " ".join(msg.split())  # an array or a path in the message may hold newlines
    print(f"error: {one_line}", file=sys.stderr)
    return code


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
