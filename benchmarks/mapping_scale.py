"""Compile time and peak memory from 1k to 1M neurons (100M synapses), tianjic and loihi2.

Each size runs in a fresh process (so its peak RSS is its own): build the synthetic layered
network (benchmarks/synthetic.py, 100 synapses per neuron drawn from a window of 400), then
quantize, partition, place, route (the pipeline verifies the IR or core map after every
pass; that time is reported apart), and check every core against every limit. With --check it
also writes the artifact and runs the independent checker of the tests
(tests/mapping_checker.py) on it. The baseline is the 1k-neuron compile of the same target in
the same run; the table gives each size's time as a ratio of it and the growth exponent (slope
of log time over log synapses).

    .venv/bin/python benchmarks/mapping_scale.py [--max 1000000] [--check]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = (1_000, 10_000, 100_000, 1_000_000)
FANIN = 113  # about 100 distinct synapses per neuron after de-duplicating the draws


def one(n: int, target: str, check: bool) -> dict[str, object]:
    """Compile one size (in this process) and return its figures."""
    sys.path.insert(0, str(ROOT))
    warnings.simplefilter("ignore")
    from benchmarks.synthetic import layered
    from snnc import api

    t0 = time.perf_counter()
    g = layered(n, fanin=FANIN)
    t_build = time.perf_counter() - t0
    times: dict[str, float] = {}
    verify: dict[str, float] = {}

    def on_pass(name: str, ir: object, sec: float, verify_sec: float) -> None:
        times[name], verify[name] = sec, verify_sec

    t0 = time.perf_counter()
    compiled = api.compile(g, target, on_pass=on_pass)
    del g
    fixed, cm = compiled.fixed, compiled.coremap
    total = time.perf_counter() - t0
    lim = cm.meta["limits"]
    over = {k: int((cm.usage[k] > lim[k]).sum()) for k in lim}
    assert not any(over.values()), over
    extra: dict[str, object] = {}
    if check:
        import shutil
        import tempfile

        from snnc.compiler.targets import load_target
        from tests.mapping_checker import check_artifact

        d = Path(tempfile.mkdtemp(prefix="snnc_scale_"))
        try:
            t1 = time.perf_counter()
            api.write_compiled(compiled, str(d / "art"), "layered")
            t2 = time.perf_counter()
            check_artifact(d / "art", fixed, load_target(target))
            extra = {"write_s": round(t2 - t1, 2), "check_s": round(time.perf_counter() - t2, 2),
                     "independent_check": "passed"}
        finally:
            shutil.rmtree(d)
    return {**extra, "neurons": fixed.n_neurons, "synapses": fixed.n_synapses, "target": target,
            "build_s": round(t_build, 2), "compile_s": round(total, 2),
            "passes_s": {k: round(v, 2) for k, v in times.items()},
            "verify_s": round(sum(verify.values()), 2),
            "cores": cm.n_cores, "bound": cm.bounds["cores"], "chips": cm.meta["chips"],
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}


def table(rows: list[dict]) -> None:  # type: ignore[type-arg]
    """The Markdown table and growth exponents of benchmarks/README.md."""
    print("| target | neurons | synapses | compile s (x 1k) | partition / place / route s | "
          "verifiers s | peak RSS GB | cores | bound | chips | write s | independent check |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        base = next(b for b in rows if b["target"] == r["target"])
        p = r["passes_s"]
        print(f"| {r['target']} | {r['neurons']} | {r['synapses']} | {r['compile_s']} "
              f"({r['compile_s'] / base['compile_s']:.0f}x) | {p['partition']} / {p['place']} / "
              f"{p['route']} | {r['verify_s']} | {r['peak_rss_gb']} | {r['cores']} | "
              f"{r['bound']} | {r['chips']} | {r.get('write_s', '-')} | "
              f"{r.get('independent_check', '-')}"
              + (f" ({r['check_s']} s)" if "check_s" in r else "") + " |")
    for target in ("tianjic", "loihi2"):
        rs = [r for r in rows if r["target"] == target and r["synapses"] >= 1e6]
        if len(rs) >= 2:
            k = math.log(rs[-1]["compile_s"] / rs[0]["compile_s"]) / math.log(
                rs[-1]["synapses"] / rs[0]["synapses"])
            print(f"{target}: compile time grows as synapses^{k:.2f} from "
                  f"{rs[0]['synapses']:.2g} to {rs[-1]['synapses']:.2g} synapses")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int, default=SIZES[-1])
    ap.add_argument("--check", action="store_true",
                    help="also write each artifact and run tests/mapping_checker.py on it")
    ap.add_argument("--one", nargs=2, metavar=("N", "TARGET"), help=argparse.SUPPRESS)
    ap.add_argument("--table", action="store_true",
                    help="print the table of the last run (results/mapping_scale.json)")
    a = ap.parse_args()
    if a.table:
        table(json.loads((ROOT / "benchmarks" / "results" / "mapping_scale.json").read_text()))
        return 0
    if a.one:
        print(json.dumps(one(int(a.one[0]), a.one[1], a.check)))
        return 0
    rows = []
    for target in ("tianjic", "loihi2"):
        for n in (s for s in SIZES if s <= a.max):
            print(f"{target} {n} neurons ...", file=sys.stderr, flush=True)
            cmd = [sys.executable, __file__, "--one", str(n), target]
            out = subprocess.run(cmd + (["--check"] if a.check else []), check=True,
                                 capture_output=True, text=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    res = ROOT / "benchmarks" / "results"
    res.mkdir(parents=True, exist_ok=True)
    (res / "mapping_scale.json").write_text(json.dumps(rows, indent=1))
    table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
