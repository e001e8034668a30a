"""Throughput of `snnc eval` on a Dask LocalCluster of 1 and 2 worker processes against a plain
loop of `snnc run` commands (one per sample, as a shell loop would) and against one `snnc run
--batch` over all samples, on the same machine in the same run, same artifact and inputs.

In this process, `snnc.evaluate` runs on a LocalCluster of 1 worker x 1 numba thread, 2
workers x 1 thread and 1 worker x 2 threads, each timed on a new cluster (its start and the
workers' loading of the artifact included) and again on its warm workers; the scaling
efficiency is the throughput of 2 workers over twice that of 1 (one thread each). The
commands (`snnc eval` with its defaults, `snnc run`) are timed as a user runs them.

Network: benchmarks/synthetic.py `layered`, about 120k LIF neurons in 4 layers, fan-in 50
(6M synapses), compiled for loihi2; inputs: Bernoulli(0.2) spikes, 16 steps. Every command
counts what eval counts (the run loop passes --counters); samples/s and synaptic events/s are
over the whole data set. The loop runs on the first LOOP_SAMPLES samples only and is
extrapolated per sample (it is the slow baseline).

Writes benchmarks/results/eval_scale.json and prints a Markdown table.

    .venv/bin/python benchmarks/eval_scale.py [--neurons 120000] [--samples 96]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SNNC = str(Path(sys.executable).parent / "snnc")
OUT = ROOT / "benchmarks" / "results" / "eval_scale"
STEPS = 16
LOOP_SAMPLES = 8


def build(n: int) -> tuple[str, int]:
    """Compile the network once (kept between runs of the benchmark)."""
    from benchmarks.synthetic import layered
    from snnc import api

    art = OUT / f"layered{n}.loihi2"
    g = layered(n, fanin=50, layers=4)
    if not (art / "manifest.json").exists():
        c = api.compile(g, "loihi2")
        api.write_compiled(c, str(art), "layered.snn", float_graph=g)
    return str(art), int(next(iter(g.inputs.values())).size)


def wall(cmd: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} ... failed: {r.stderr[-1500:]}")
    return time.perf_counter() - t, r.stdout


def on_cluster(art: str, workers: int, threads: int) -> tuple[float, float, str]:
    """(seconds of an evaluation on a new LocalCluster, cluster start and artifact loading
    included; seconds of the same evaluation again on its warm workers; the result JSON)."""
    from snnc import dataset_eval as ev
    from snnc.cluster import client_for

    t = time.perf_counter()
    with client_for("local", workers, threads) as client:
        client.wait_for_workers(workers)
        first = ev.evaluate(art, str(OUT / "x.npy"), str(OUT / "y.npy"), batch_size=8,
                            scheduler=client.scheduler.address, compare_float=False)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        again = ev.evaluate(art, str(OUT / "x.npy"), str(OUT / "y.npy"), batch_size=8,
                            scheduler=client.scheduler.address, compare_float=False)
        warm = time.perf_counter() - t
    assert ev.to_json(first) == ev.to_json(again)
    return cold, warm, ev.to_json(first)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--neurons", type=int, default=120_000)
    ap.add_argument("--samples", type=int, default=96)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    art, width = build(args.neurons)
    rng = np.random.default_rng(0)
    x = (rng.random((args.samples, STEPS, width)) < 0.2).astype(np.uint8)
    y = rng.integers(0, 2, args.samples)
    np.save(OUT / "x.npy", x)
    np.save(OUT / "y.npy", y)
    rows = {}
    results = {}
    for workers, threads in ((1, 1), (2, 1), (1, 2)):
        cold, warm, text = on_cluster(art, workers, threads)
        results[workers, threads] = text
        rows[f"snnc.evaluate, {workers} worker(s) x {threads} thread(s), new cluster"] = cold
        rows[f"snnc.evaluate, {workers} worker(s) x {threads} thread(s), warm workers"] = warm
    out = OUT / "eval_cli.json"
    out.unlink(missing_ok=True)
    sec, _ = wall([SNNC, "eval", art, "--input", str(OUT / "x.npy"), "--labels",
                   str(OUT / "y.npy"), "--batch-size", "8", "--no-float", "-q", "-o", str(out)])
    rows["`snnc eval` command (defaults: 2 workers x 1 thread here)"] = sec
    results["cli"] = out.read_text()
    assert len(set(results.values())) == 1, "eval differs between cluster shapes"
    res = json.loads(results["cli"])
    synops = res["per_inference"]["synaptic_ops"]["mean"] * args.samples
    batch_out = OUT / "batch.npz"
    batch_out.unlink(missing_ok=True)
    sec, _ = wall([SNNC, "run", art, "--input", str(OUT / "x.npy"), "--batch", "--counters",
                   "-q", "-o", str(batch_out)])
    rows["one `snnc run --batch --counters` (one process)"] = sec
    loop = 0.0
    for i in range(LOOP_SAMPLES):
        np.save(OUT / "one.npy", x[i])
        one_out = OUT / "one.npz"
        one_out.unlink(missing_ok=True)
        s, _ = wall([SNNC, "run", art, "--input", str(OUT / "one.npy"), "--counters", "-q",
                     "-o", str(one_out)])
        loop += s
    rows["loop of `snnc run --counters`, one sample each"] = loop / LOOP_SAMPLES * args.samples
    base = rows["loop of `snnc run --counters`, one sample each"]
    one = rows["snnc.evaluate, 1 worker(s) x 1 thread(s), warm workers"]
    one_cold = rows["snnc.evaluate, 1 worker(s) x 1 thread(s), new cluster"]
    table = {k: {"seconds": round(v, 2), "samples_per_s": round(args.samples / v, 2),
                 "synaptic_events_per_s": round(synops / v),
                 "speedup_vs_loop": round(base / v, 2)} for k, v in rows.items()}
    eff = one / (2 * rows["snnc.evaluate, 2 worker(s) x 1 thread(s), warm workers"])
    eff_cold = one_cold / (2 * rows["snnc.evaluate, 2 worker(s) x 1 thread(s), new cluster"])
    summary = {"date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count(),
               "neurons": args.neurons, "samples": args.samples, "steps": STEPS,
               "synaptic_events_per_sample": res["per_inference"]["synaptic_ops"]["mean"],
               "rows": table, "scaling_efficiency_2_workers_warm": round(eff, 3),
               "scaling_efficiency_2_workers_new_cluster": round(eff_cold, 3)}
    (ROOT / "benchmarks" / "results" / "eval_scale.json").write_text(
        json.dumps(summary, indent=1) + "\n")
    print(f"{args.neurons} neurons, {args.samples} samples x {STEPS} steps, "
          f"{summary['synaptic_events_per_sample']:.0f} synaptic events per sample\n")
    print("| command | wall s | samples/s | synaptic events/s | vs loop |\n|---|---|---|---|---|")
    for k, v in table.items():
        print(f"| {k} | {v['seconds']} | {v['samples_per_s']} | "
              f"{v['synaptic_events_per_s']:.3g} | {v['speedup_vs_loop']}x |")
    print(f"\nscaling efficiency, 2 workers against 1 (one thread each): {eff:.2f} on warm "
          f"workers, {eff_cold:.2f} including the cluster's start and the artifact's load")
    return 0


if __name__ == "__main__":
    sys.exit(main())
