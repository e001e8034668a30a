"""`snnc sweep`: compile a model at every design point (target x weight width x per-channel x
placer) and evaluate each on a labelled data set at every step count, as Dask tasks; then a
table (JSON, CSV) and an HTML page with the Pareto fronts of accuracy against energy per
inference, latency and cores (docs/eval.md).

A design point is compiled once, as one task that writes its artifact under OUT/points/; its
shards are evaluated as soon as it is (snnc/evaluate.py). A point that does not compile or
run (too many cores, a weight width the target refuses, ...) is a row saying why.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from snnc.compiler.errors import InputError, SnncError
from snnc.dataset_eval import gather, summarize

FRONTS = {"energy": "energy_per_inference_joules", "latency": "latency_per_inference_seconds",
          "cores": "cores"}
COLUMNS = ("point", "target", "weight_bits", "per_channel", "placer", "steps", "status",
           "accuracy", "float_accuracy", "argmax_agreement", "energy_per_inference_joules",
           "latency_per_inference_seconds", "synaptic_ops_per_inference",
           "spikes_per_inference", "cores", "cores_lower_bound", "chips", "synapses",
           "pareto_energy", "pareto_latency", "pareto_cores", "artifact", "reason")


@dataclass(frozen=True)
class Point:
    """One compile configuration."""

    target: str
    weight_bits: str
    per_channel: bool
    placer: str

    @property
    def name(self) -> str:
        t = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(self.target).stem
                   if self.target.endswith(".toml") else self.target)
        return f"{t}-w{self.weight_bits}{'-pc' if self.per_channel else ''}-{self.placer}"


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def compile_point(model: str, load_kwargs: dict[str, Any], point: Point, out: str,
                  allow_overflow: bool = False) -> dict[str, Any]:
    """Compile and write one design point's artifact; a refusal is returned as its reason."""
    from snnc import api
    from snnc.cluster import use_worker_threads
    from snnc.compiler.pipeline import CompileOptions

    use_worker_threads()
    try:
        g = api.load(model, **load_kwargs)
        opts = CompileOptions.of(weight_bits=point.weight_bits, per_channel=point.per_channel,
                                 placer=point.placer, allow_overflow=allow_overflow)
        compiled = api.compile(g, point.target, opts)
        if "refsim" not in compiled.target.emit:
            return {"ok": False, "reason": f"target {compiled.target.name!r} does not emit "
                    "the refsim program that evaluation runs; add refsim to its emit list"}
        api.write_compiled(compiled, out, model, float_graph=g,
                           load_options=api.load_record(**load_kwargs))
        s = api.compile_summary(compiled, out)
    except SnncError as e:
        return {"ok": False, "reason": _one_line(e)}
    return {"ok": True, "artifact": out, "cores": s.get("cores_used"),
            "cores_lower_bound": s.get("cores_lower_bound"), "chips": s.get("chips"),
            "synapses": s["synapses"]}


def eval_point_shard(*args: Any) -> dict[str, Any]:
    """evaluate.eval_shard, with a refusal (e.g. the chip's arithmetic overflowing) returned
    as its reason so that it becomes the point's row, not the sweep's end."""
    from snnc.dataset_eval import eval_shard

    try:
        return {"ok": True, "arrays": eval_shard(*args)}
    except SnncError as e:
        return {"ok": False, "reason": _one_line(e)}


def pareto(rows: list[dict[str, Any]], cost: str) -> list[bool]:
    """For each row: no other evaluated row has accuracy >= and cost <=, one of them strict."""
    ok = [r for r in rows if r["status"] == "ok" and r.get("accuracy") is not None
          and r.get(cost) is not None]
    out = []
    for r in rows:
        if r not in ok:
            out.append(False)
            continue
        out.append(not any(o["accuracy"] >= r["accuracy"] and o[cost] <= r[cost] and (
            o["accuracy"] > r["accuracy"] or o[cost] < r[cost]) for o in ok))
    return out


def parse_list(text: str, flag: str, choices: Sequence[str] | None = None) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise InputError(f"{flag} is empty; give one value or several separated by commas")
    if len(set(items)) < len(items):
        raise InputError(f"{flag} {text!r} repeats a value")
    for t in items:
        if choices is not None and t not in choices:
            raise InputError(f"{flag}: {t!r} is not one of {', '.join(choices)}")
    return items


def sweep(model: str, out: str, inputs: str, labels: str, *, targets: Sequence[str] = ("loihi2",),
          weight_bits: Sequence[str] = ("8",), per_channel: Sequence[bool] = (False,),
          placers: Sequence[str] = ("anneal",), steps: Sequence[int | None] = (None,),
          batch_size: int = 64, flat_input: bool = False, scheduler: str | None = "local",
          workers: int | None = None, threads: int | None = None,
          load_kwargs: dict[str, Any] | None = None, allow_overflow: bool = False,
          progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Compile `model` at every design point into OUT/points/ and evaluate each at every step
    count on (`inputs`, `labels`); write OUT/sweep.json, sweep.csv and sweep.html. Returns
    {"rows": [...], "files": {...}}; progress(done, total) counts samples evaluated."""
    from snnc import api
    from snnc.cluster import client_for, run_tasks
    from snnc.compiler.fixed import WEIGHT_CHOICES
    from snnc.compiler.passes.place import PLACERS
    from snnc.dataset_eval import open_inputs, plan_shards

    load_kwargs = dict(load_kwargs or {})
    root = Path(out)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise InputError(f"{out} exists and is not an empty directory; a sweep writes a new "
                         "one (choose another -o or remove it)")
    from snnc.compiler.targets import load_target

    for t in targets:
        load_target(t)  # an unknown target or a broken file ends the sweep here, once
    for b in weight_bits:
        if b not in WEIGHT_CHOICES:
            raise InputError(f"--weight-bits: {b!r} is not one of {', '.join(WEIGHT_CHOICES)}")
    for p in placers:
        if p not in PLACERS:
            raise InputError(f"--placers: {p!r} is not one of {', '.join(PLACERS)}")
    if batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {batch_size}")
    g = api.load(model, **load_kwargs)  # a model error ends the sweep here, once
    x = open_inputs(inputs)
    if x.ndim < 3 or x.shape[0] < 1:
        raise InputError(f"{inputs}: shape {x.shape}; expected (N, T, *shape) spikes")
    try:
        api.prepare_input(g, np.asarray(x[:1]), batch=True, flat=flat_input)
    except InputError as e:
        raise InputError(f"{inputs} (shape {x.shape}), its first sample: {e}") from None
    n = int(x.shape[0])
    from snnc.compiler.npyfile import read_npy

    y = read_npy(labels)
    if y.ndim != 1 or len(y) != n or y.dtype.kind not in "iub":
        raise InputError(f"{labels}: labels of shape {y.shape} and dtype {y.dtype}; expected "
                         f"{n} integer class indices, one per sample of {inputs}")
    y = y.astype(np.int64)
    run_steps = []
    for s in steps:
        if s is not None and s < 1:
            raise InputError(f"--steps must be at least 1, got {s}")
        run_steps.append(int(s) if s is not None else int(x.shape[1]) + api.latency(g))
    points = [Point(*c) for c in itertools.product(targets, weight_bits, per_channel, placers)]
    root.mkdir(parents=True, exist_ok=True)
    shards = plan_shards(n, batch_size)
    compiled: dict[int, dict[str, Any]] = {}
    parts: dict[tuple[int, int], list[Any]] = {}
    total, done = len(points) * len(run_steps) * n, 0
    src, inp = os.path.abspath(model), os.path.abspath(inputs)

    def finished(key: tuple[Any, ...], res: dict[str, Any]) -> list[Any]:
        nonlocal done
        if key[0] == "compile":
            i = key[1]
            compiled[i] = res
            if not res["ok"]:
                done += len(run_steps) * n
                _tick()
                return []
            return [(("eval", i, j, k), eval_point_shard,
                     (res["artifact"], inp, a, b, st, flat_input, True))
                    for j, st in enumerate(run_steps) for k, (a, b) in enumerate(shards)]
        _, i, j, k = key
        parts.setdefault((i, j), [None] * len(shards))[k] = res
        done += shards[k][1] - shards[k][0]
        _tick()
        return []

    def _tick() -> None:
        if progress is not None:
            progress(done, total)

    tasks = [(("compile", i), compile_point,
              (src, load_kwargs, p, str((root / "points" / p.name).resolve()), allow_overflow))
             for i, p in enumerate(points)]
    with client_for(scheduler, workers, threads) as client:
        run_tasks(client, tasks, finished, what="design point")
    rows = []
    for i, p in enumerate(points):
        for j, st in enumerate(run_steps):
            rows.append(_row(p, st, compiled[i], parts.get((i, j)), y, root))
    for name, cost in FRONTS.items():
        for r, on in zip(rows, pareto(rows, cost), strict=True):
            r[f"pareto_{name}"] = on
    files = _write(root, rows, {"model": os.path.basename(model), "inputs": Path(inputs).name,
                                "labels": Path(labels).name, "samples": n,
                                "points": [asdict(p) for p in points], "steps": run_steps})
    return {"rows": rows, "files": files}


def _row(p: Point, steps: int, comp: dict[str, Any], shard_results: list[Any] | None,
         y: np.ndarray, root: Path) -> dict[str, Any]:
    row: dict[str, Any] = {"point": p.name, "target": p.target, "weight_bits": p.weight_bits,
                           "per_channel": p.per_channel, "placer": p.placer, "steps": steps}
    if not comp["ok"]:
        return {**row, "status": "refused", "reason": comp["reason"]}
    row.update({k: comp[k] for k in ("cores", "cores_lower_bound", "chips", "synapses")})
    row["artifact"] = os.path.relpath(comp["artifact"], root.resolve())
    failed = [r for r in shard_results or [] if r is None or not r["ok"]]
    if shard_results is None or failed:
        reason = failed[0]["reason"] if failed and failed[0] else "not evaluated"
        return {**row, "status": "failed", "reason": reason}
    res = summarize(gather([r["arrays"] for r in shard_results]), y, steps, {})
    per = res["per_inference"]
    fv = res["float_vs_fixed"] or {}
    return {**row, "status": "ok", "accuracy": res["accuracy"],
            "float_accuracy": fv.get("float_accuracy"),
            "argmax_agreement": fv.get("argmax_agreement"),
            "energy_per_inference_joules": per["energy_joules"]["mean"],
            "latency_per_inference_seconds": per["latency_seconds"]["mean"],
            "synaptic_ops_per_inference": per["synaptic_ops"]["mean"],
            "spikes_per_inference": per["spikes"]["mean"]}


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if r.get(k) is None else r.get(k) for k in COLUMNS})
    return buf.getvalue()


def _write(root: Path, rows: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, str]:
    from snnc.compiler import paths
    from snnc.sweep_render import to_html

    doc = {**meta, "rows": [{k: r.get(k) for k in COLUMNS} for r in rows]}
    files = {"json": root / "sweep.json", "csv": root / "sweep.csv",
             "html": root / "sweep.html"}
    paths.write_text(files["json"], json.dumps(doc, indent=1, sort_keys=True) + "\n")
    paths.write_text(files["csv"], to_csv(rows))
    paths.write_text(files["html"], to_html(doc))
    return {k: str(v) for k, v in files.items()}
