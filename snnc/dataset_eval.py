"""`snnc eval`: an artifact on the simulated chip over a whole labelled data set, in shards.

A shard is a contiguous range of samples. `eval_shard` runs one on refsim (with counters) in
whatever process it lands in, a Dask worker or this one, and returns per-sample arrays; the
artifact is loaded once per process. `summarize` turns the gathered per-sample arrays into
the result. Every sample is simulated on its own (refsim's samples share nothing), and every
figure is computed from the gathered arrays in sample order, so the result is the same,
byte for byte, whatever the shard size or the number of workers (docs/eval.md).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import Any

import numpy as np

from snnc.compiler.errors import InputError, SnncError
from snnc.compiler.ir import SPIKING, Graph

PERCENTILES = (50, 90, 99)
LOADS: dict[str, int] = {}  # artifact -> times it was loaded in this process (tests read it)


@dataclass
class Loaded:
    """An artifact as one process keeps it between shards."""

    graph: Graph
    manifest: dict[str, Any]
    sim: Any  # RefSim
    float_graph: Graph | None


_CACHE: dict[tuple[str, int], Loaded] = {}


def load(artifact: str) -> Loaded:
    """The artifact's IR, its refsim program and its float IR, read once per process (keyed by
    path and the manifest's modification time, so a recompiled artifact is read again)."""
    from snnc import api
    from snnc.artifact import read_backend_file, read_float
    from snnc.runtime.refsim import RefSim

    root = os.path.realpath(artifact)
    try:
        key = (root, os.stat(os.path.join(root, "manifest.json")).st_mtime_ns)
    except OSError:
        raise InputError(f"{artifact}: no artifact here (this process cannot read its "
                         "manifest.json; Dask workers need the artifact at the same path)"
                         ) from None
    if key not in _CACHE:
        for k in [k for k in _CACHE if k[0] == root]:
            del _CACHE[k]
        g, manifest = api.load_artifact(artifact)
        program = read_backend_file(artifact, "refsim", "refsim/program.npz")
        try:
            sim = RefSim(program)
        except (KeyError, ValueError, IndexError, TypeError) as e:
            raise InputError(f"{artifact}: refsim/program.npz is not what snnc writes "
                             f"({type(e).__name__}: {e}); recompile the model") from None
        _CACHE[key] = Loaded(g, manifest, sim, read_float(artifact, manifest))
        LOADS[root] = LOADS.get(root, 0) + 1
    return _CACHE[key]


def open_inputs(path: str) -> np.ndarray:
    """The input spikes (N, T, *shape) memory-mapped: a shard reads only its own samples."""
    try:
        x = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise InputError(f"{path}: not a readable .npy array ({e}); save the inputs with "
                         "numpy.save as one (N, T, *shape) array") from None
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "biuf":
        raise InputError(f"{path}: expected one numeric .npy array of (N, T, *shape) spikes")
    return x


def output_spiking(graph: Graph) -> bool:
    o = graph.outputs[next(iter(graph.outputs))]
    return graph.populations[o.source or ""].model in SPIKING


def predictions(graph: Graph, out: np.ndarray) -> np.ndarray:
    """argmax of each sample's output spike counts, or, for a converted ANN's readout, of its
    last v (the first output port; ties go to the lowest index)."""
    flat = out.reshape(out.shape[0], out.shape[1], -1)
    score = flat.sum(axis=1) if output_spiking(graph) else flat[:, -1]
    return np.argmax(score, axis=1)


def eval_shard(artifact: str, inputs: str, start: int, stop: int, steps: int,
               flat: bool = False, compare_float: bool = True) -> dict[str, np.ndarray]:
    """Samples start..stop-1 of `inputs` on the simulated chip: per-sample arrays (predicted
    class, output spike count, spikes, synaptic ops, energy, latency; the float IR's
    prediction where the artifact carries it and `compare_float`)."""
    from snnc import api
    from snnc.runtime.float_engine import FloatEngine
    from snnc.runtime.report import sample_energy

    from snnc.cluster import use_worker_threads

    use_worker_threads()
    art = load(artifact)
    g = art.graph
    where = f"{inputs}: samples {start}..{stop - 1}"
    x = np.asarray(open_inputs(inputs)[start:stop])
    try:
        given = api.prepare_input(g, x, batch=True, flat=flat)
        res = art.sim.run(given, steps=steps, counters=True)
    except SnncError as e:
        raise InputError(f"{where}: {e}") from None
    res = api.readouts_in_float_units(g, res)
    c = res.counters
    out = res.outputs[next(iter(g.outputs))]
    spiking = output_spiking(g)
    shard = {"prediction": predictions(g, out),
             "output_spikes": (out.reshape(len(x), steps, -1).sum(axis=(1, 2)) if spiking
                               else np.zeros(len(x), dtype=np.int64)),
             "spikes": c["sample_spikes"], "synaptic_ops": c["sample_synops"],
             "energy_joules": sample_energy(art.manifest["target"], c),
             "latency_seconds": _per_sample_sum(c["latency_seconds"]),
             "latency_cycles": _per_sample_sum(c["latency_cycles"]),
             "wraps": c["sample_wraps"], "saturations": c["sample_saturations"]}
    if compare_float and art.float_graph is not None:
        fl = art.float_graph
        fx = api.prepare_input(fl, x, batch=True, flat=flat)
        fr = FloatEngine(fl).run({k: v.astype(np.float64) for k, v in fx.items()}, steps=steps)
        fo = fr.outputs[next(iter(fl.outputs))]
        shard["float_prediction"] = predictions(fl, fo)
        if spiking:  # a readout's v has no counts to compare
            a = out.reshape(len(x), steps, -1).sum(axis=1)
            b = fo.reshape(len(x), steps, -1).sum(axis=1)
            shard["float_exact_counts"] = (a == b).all(axis=1)
    return shard


def _per_sample_sum(a: np.ndarray) -> np.ndarray:
    """(steps, B) -> (B,) exactly rounded sums: the same whatever else is in the batch (numpy's
    own sum order depends on the array's layout)."""
    return np.array([math.fsum(col) for col in a.T], dtype=np.float64)


def plan_shards(n: int, batch_size: int) -> list[tuple[int, int]]:
    return [(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def check(artifact: str, inputs: str, labels: str | None, steps: int | None, flat: bool,
          batch_size: int) -> tuple[int, int, np.ndarray | None]:
    """Refuse, in this process and before any work, what would fail in every shard: (number
    of samples, steps per sample, labels)."""
    from snnc import api
    from snnc.artifact import is_artifact
    from snnc.compiler import budget

    if not is_artifact(artifact):
        raise InputError(f"{artifact} is not a compiled artifact; make one with `snnc compile "
                         "MODEL --target loihi2 -o DIR`")
    g, _ = api.load_artifact(artifact)
    if len(g.inputs) != 1:
        raise InputError(f"{artifact}: the model has {len(g.inputs)} input ports "
                         f"{sorted(g.inputs)}; snnc eval runs models with one")
    if batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {batch_size}")
    x = open_inputs(inputs)
    if x.ndim < 3 or x.shape[0] < 1:
        raise InputError(f"{inputs}: shape {x.shape}; expected (N, T, *shape) spikes with "
                         "N >= 1 samples")
    try:  # the first sample names a layout mismatch
        api.prepare_input(g, np.asarray(x[:1]), batch=True, flat=flat)
    except InputError as e:
        raise InputError(f"{inputs} (shape {x.shape}), its first sample: {e}") from None
    n = int(x.shape[0])
    steps = budget.steps(int(steps if steps is not None else x.shape[1] + api.latency(g)),
                         "--steps")
    api.check_run_budget(g, {next(iter(g.inputs)): np.asarray(x[:min(n, batch_size)])}, steps,
                         False)
    y = None
    if labels is not None:
        from snnc.compiler.npyfile import read_npy

        y = read_npy(labels)
        if y.ndim != 1 or len(y) != n or y.dtype.kind not in "iub":
            raise InputError(f"{labels}: labels of shape {y.shape} and dtype {y.dtype}; "
                             f"expected {n} integer class indices, one per sample of {inputs}")
        classes = graph_classes(g)
        if len(y) and (y.min() < 0 or y.max() >= classes):
            raise InputError(f"{labels}: labels span {int(y.min())}..{int(y.max())}; the "
                             f"model's output has {classes} classes (0..{classes - 1})")
        y = y.astype(np.int64)
    return n, steps, y


def graph_classes(g: Graph) -> int:
    return g.outputs[next(iter(g.outputs))].size


def summarize(per: dict[str, np.ndarray], labels: np.ndarray | None, steps: int,
              meta: dict[str, Any]) -> dict[str, Any]:
    """The result of an evaluation, from per-sample arrays in sample order."""
    n = len(per["prediction"])

    def dist(a: np.ndarray) -> dict[str, float]:
        a = np.asarray(a, dtype=np.float64)
        return {"mean": float(a.mean()), **{f"p{q}": float(np.percentile(a, q))
                                            for q in PERCENTILES}, "max": float(a.max())}

    out: dict[str, Any] = {**meta, "samples": n, "steps": steps}
    if labels is not None:
        correct = int((per["prediction"] == labels).sum())
        out["accuracy"] = correct / n
        out["correct"] = correct
    out["per_inference"] = {
        "spikes": dist(per["spikes"]), "output_spikes": dist(per["output_spikes"]),
        "synaptic_ops": dist(per["synaptic_ops"]),
        "energy_joules": dist(per["energy_joules"]),
        "latency_seconds": dist(per["latency_seconds"]),
        "latency_cycles": dist(per["latency_cycles"])}
    out["range"] = {"wraps": int(per["wraps"].sum()), "saturations":
                    int(per["saturations"].sum()), "samples_with_wraps":
                    int((per["wraps"] > 0).sum()), "samples_with_saturations":
                    int((per["saturations"] > 0).sum())}
    if "float_prediction" in per:
        fv: dict[str, Any] = {
            "argmax_agreement": float((per["float_prediction"] == per["prediction"]).mean()),
            "exact_count_match": (float(per["float_exact_counts"].mean())
                                  if "float_exact_counts" in per else None)}
        if labels is not None:
            fv["float_accuracy"] = float((per["float_prediction"] == labels).mean())
        out["float_vs_fixed"] = fv
    else:
        out["float_vs_fixed"] = None
    return out


def to_json(result: dict[str, Any]) -> str:
    """The result as JSON (without its per-sample arrays), sorted keys: byte-identical for the
    same artifact and inputs."""
    return json.dumps({k: v for k, v in result.items() if k != "per_sample"}, indent=1,
                      sort_keys=True) + "\n"


def meta_of(artifact: str, inputs: str) -> dict[str, Any]:
    """What the result says it is of: the artifact's target and digest, the input file."""
    from snnc.artifact import read_manifest

    _, m = read_manifest(artifact, only=())
    return {"artifact": {"path": os.path.basename(os.path.normpath(artifact)),
                         "ir_digest": m.get("ir_digest"), "target": m["target"]["name"],
                         "semantics": m["target"]["semantics"]},
            "inputs": Path(inputs).name, "engine": "refsim"}


def evaluate(artifact: str, inputs: str, labels: str | None = None, *, batch_size: int = 64,
             steps: int | None = None, flat_input: bool = False, scheduler: str | None = "local",
             workers: int | None = None, threads: int | None = None, compare_float: bool = True,
             progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run `artifact` on the simulated chip over every sample of `inputs` ((N, T, *shape)
    spikes, .npy), sharded by `batch_size` samples over a Dask cluster (`scheduler`: "local"
    starts `workers` processes, an address joins a running scheduler, "none" runs here).

    Returns the result (accuracy against `labels`, per-inference distributions, float-vs-
    fixed agreement) with its per-sample arrays under "per_sample". progress(done, total) is
    called as samples finish, across the cluster."""
    from snnc.cluster import client_for, run_tasks

    n, steps, y = check(artifact, inputs, labels, steps, flat_input, batch_size)
    shards = plan_shards(n, batch_size)
    parts: list[dict[str, np.ndarray] | None] = [None] * len(shards)
    done = 0
    art, src = os.path.abspath(artifact), os.path.abspath(inputs)

    def finished(i: int, res: dict[str, np.ndarray]) -> None:
        nonlocal done
        parts[i] = res
        done += shards[i][1] - shards[i][0]
        if progress is not None:
            progress(done, n)

    tasks = [(i, eval_shard, (art, src, a, b, steps, flat_input, compare_float))
             for i, (a, b) in enumerate(shards)]
    with client_for(scheduler, workers, threads) as client:
        run_tasks(client, tasks, finished, what="shard")
    per = gather(parts)
    return {**summarize(per, y, steps, meta_of(artifact, inputs)), "per_sample": per}


def gather(parts: list[dict[str, np.ndarray] | None]) -> dict[str, np.ndarray]:
    """The shards' per-sample arrays joined in sample order."""
    if not parts or any(p is None for p in parts):  # run_tasks raises first: never partial
        raise SnncError("internal error: a shard's result is missing")
    return {k: np.concatenate([p[k] for p in parts if p is not None]) for k in parts[0] or {}}
