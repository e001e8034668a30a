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

With --real it compiles real networks instead: lava-dl's PilotNet LIF (netx, from
../shared/data/silicon where present), the Sinabs N-MNIST CNN (NIR, ../shared/data/nir) and the
fully connected 784-4096-4096-10 with half its weights zero (built here), for loihi2 and
tianjic. Each is `snnc compile` run as a command (wall time and peak RSS of that process,
after one warm-up run that fills numba's cache), plus a child process that times load,
compile and artifact write apart. The baseline is the previous snnc, checked out by git at
--baseline (default 7f53cdd, the main before issue 16's compile work) and run the same way in
the same run; the figures are ratios against it. Networks whose file is absent are reported
as skipped, with the path.

    .venv/bin/python benchmarks/mapping_scale.py --real [--baseline REV|none]

With --chips N it compiles and writes the layered network sized for N loihi2 chips; with
--giga it runs `snnc compile --no-artifact` (SNNC_MEMORY_BUDGET=24G) on an 8-layer conv
stack of 8.1M neurons / 1G synapses, after the same stack at 1/8 the synapses as the
baseline of the same run (wall time and peak RSS of each process).

    .venv/bin/python benchmarks/mapping_scale.py --giga
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
REAL = {"pilotnet": DATA / "silicon" / "pilotnet_lif" / "network.net",
        "cnn_sinabs": DATA / "nir" / "cnn_sinabs.nir",
        "fc_784_4096_4096_10": None}  # built by benchmarks/synthetic.py
SIZES = (1_000, 10_000, 100_000, 1_000_000)
FANIN = 113  # about 100 distinct synapses per neuron after de-duplicating the draws


def one(n: int, target: str, check: bool, write: bool = False) -> dict[str, object]:
    """Compile one size (in this process) and return its figures; with `write` (implied by
    `check`) also write the artifact, with `check` also run the independent checker."""
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
    if check or write:
        import shutil
        import tempfile

        from snnc.compiler.targets import load_target
        from tests.mapping_checker import check_artifact

        d = Path(tempfile.mkdtemp(prefix="snnc_scale_", dir=ROOT.parent))
        try:
            t1 = time.perf_counter()
            api.write_compiled(compiled, str(d / "art"), "layered")
            t2 = time.perf_counter()
            rss_write = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
            extra = {"write_s": round(t2 - t1, 2),
                     "artifact_gb": round(sum(f.stat().st_size for f in (d / "art").rglob("*")
                                              if f.is_file()) / 2**30, 2),
                     "peak_rss_compile_write_gb": round(rss_write, 2)}
            if check:
                check_artifact(d / "art", fixed, load_target(target))
                extra.update(check_s=round(time.perf_counter() - t2, 2),
                             independent_check="passed")
        finally:
            shutil.rmtree(d)
    return {**extra, "neurons": fixed.n_neurons, "synapses": fixed.n_synapses, "target": target,
            "build_s": round(t_build, 2), "compile_s": round(total, 2),
            "passes_s": {k: round(v, 2) for k, v in times.items()},
            "verify_s": round(sum(verify.values()), 2),
            "cores": cm.n_cores, "bound": cm.bounds["cores"], "chips": cm.meta["chips"],
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}


def real_one(name: str, target: str, out: str) -> dict[str, object]:
    """Load, compile and write one real network in this process, each timed apart."""
    sys.path.append(str(ROOT))  # after any PYTHONPATH: a baseline's snnc comes first
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    from snnc import api

    t1 = time.perf_counter()
    if REAL[name] is None:
        from benchmarks.synthetic import fully_connected

        g = fully_connected()
    else:
        g = api.load(str(REAL[name]))
    t2 = time.perf_counter()
    compiled = api.compile(g, target)
    t3 = time.perf_counter()
    api.write_compiled(compiled, out, name)
    t4 = time.perf_counter()
    cm = compiled.coremap
    return {"net": name, "target": target, "neurons": compiled.fixed.n_neurons,
            "synapses": int(cm.syn.n), "import_s": round(t1 - t0, 2),
            "load_s": round(t2 - t1, 2), "compile_s": round(t3 - t2, 2),
            "write_s": round(t4 - t3, 2), "cores": cm.n_cores, "bound": cm.bounds["cores"],
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}


def _child(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """Run a command in `cwd` (not the checkout: `python -m` puts the working directory
    first on sys.path, which would shadow a baseline's snnc); (wall seconds, peak RSS GB of
    that process, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                         text=True, cwd=cwd)
    out = p.stdout.read() if p.stdout else ""
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if p.returncode:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}")
    return wall, usage.ru_maxrss / 2**20, out


def _shim(rev: str, work: Path) -> Path:
    """A directory whose `snnc` package is snnc at git revision `rev` (its package-dir map
    rebuilt with symlinks), for PYTHONPATH."""
    tree = work / "tree"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev],
                   check=True, capture_output=True)
    pkg = work / "shim" / "snnc"
    pkg.mkdir(parents=True)
    for f in (tree / "snnc").iterdir():
        (pkg / f.name).symlink_to(f)
    for sub in ("compiler", "frontends", "backends", "runtime"):
        (pkg / sub).symlink_to(tree / sub)
    return work / "shim"


def measure_real(tree: str, env: dict[str, str], work: Path, nets: list[str]
                 ) -> list[dict[str, object]]:
    """Every real network and target with one snnc (`tree` names it in the rows)."""
    rows = []
    for name, path in ((k, REAL[k]) for k in nets):
        if path is not None and not path.exists():
            rows.append({"net": name, "tree": tree, "skipped": f"{path} is absent"})
            continue
        for target in ("loihi2", "tianjic"):
            print(f"{tree}: {name} for {target} ...", file=sys.stderr, flush=True)
            art = str(work / f"{tree}_{name}_{target}")
            one = [sys.executable, __file__, "--real-one", name, target, art]
            _child(one, env, work)  # warm-up: numba's cache, the page cache
            _, _, out = _child(one, env, work)
            row = {**json.loads(out.strip().splitlines()[-1]), "tree": tree}
            if path is not None:
                cli = [sys.executable, "-m", "snnc.cli", "compile", str(path), "--target",
                       target, "-o", art + "_cli"]
                wall, rss, _ = _child(cli, env, work)
                row.update(cli_wall_s=round(wall, 2), cli_peak_rss_gb=round(rss, 2))
            rows.append(row)
    return rows


def real(baseline: str, nets: list[str]) -> list[dict[str, object]]:
    """This snnc and the baseline revision on the real networks, in one run."""
    work = Path(tempfile.mkdtemp(prefix="snnc_real_"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    try:
        rows = measure_real("this", env, work, nets)
        if baseline != "none":
            shim = _shim(baseline, work)
            rows += measure_real(baseline, {**env, "PYTHONPATH": str(shim)}, work, nets)
    finally:
        if baseline != "none":
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(work / "tree")], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return rows


def real_table(rows: list[dict[str, object]]) -> None:
    """The Markdown table of benchmarks/README.md: this snnc, and its ratio to the baseline."""
    print("| network | target | neurons | synapses | `snnc compile` wall s (baseline, ratio) | "
          "compile / write s | peak RSS GB (baseline) | cores (baseline) | bound |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r["tree"] != "this":
            continue
        if "skipped" in r:
            print(f"| {r['net']} | - | skipped: {r['skipped']} | | | | | | |")
            continue
        b = next((x for x in rows if x["tree"] != "this" and x.get("net") == r["net"]
                  and x.get("target") == r["target"]), None)
        wall = r.get("cli_wall_s", round(r["compile_s"] + r["write_s"] + r["load_s"], 2))
        bwall = b and b.get("cli_wall_s", b["compile_s"] + b["write_s"] + b["load_s"])
        ratio = f", {bwall / wall:.1f}x faster" if b else ""
        bwall = round(bwall, 2) if b else None
        print(f"| {r['net']} | {r['target']} | {r['neurons']} | {r['synapses']} | {wall} "
              f"({bwall if b else '-'}{ratio}) | {r['compile_s']} / {r['write_s']} | "
              f"{r.get('cli_peak_rss_gb', r['peak_rss_gb'])} "
              f"({b.get('cli_peak_rss_gb', b['peak_rss_gb']) if b else '-'}) | {r['cores']} "
              f"({b['cores'] if b else '-'}) | {r['bound']} |")


def table(rows: list[dict]) -> None:  # type: ignore[type-arg]
    """The Markdown table and growth exponents of benchmarks/README.md."""
    print("| target | neurons | synapses | compile s (x 1k) | partition / place / route s | "
          "verifiers s | peak RSS GB (compile + write) | cores | bound | chips | write s | "
          "independent check |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        base = next(b for b in rows if b["target"] == r["target"])
        p = r["passes_s"]
        print(f"| {r['target']} | {r['neurons']} | {r['synapses']} | {r['compile_s']} "
              f"({r['compile_s'] / base['compile_s']:.0f}x) | {p['partition']} / {p['place']} / "
              f"{p['route']} | {r['verify_s']} | {r['peak_rss_gb']}"
              + (f" ({r['peak_rss_compile_write_gb']})" if "peak_rss_compile_write_gb" in r
                 else "") + f" | {r['cores']} | "
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


NEURONS_PER_CHIP = 168_750  # loihi2 at FANIN: 751 cores of 128 a chip at 1M neurons


def chips(n_chips: int) -> int:
    """A multi-chip loihi2 network: compile and write in a child process, its figures, and
    the memory 8M neurons / 1G synapses would take at the same bytes a synapse."""
    n = n_chips * NEURONS_PER_CHIP
    out = subprocess.run([sys.executable, __file__, "--one", str(n), "loihi2", "--write"],
                         check=True, capture_output=True, text=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    per_syn = r["peak_rss_compile_write_gb"] * 2**30 / r["synapses"]
    r["peak_bytes_per_synapse"] = round(per_syn, 1)
    r["projected_1g_synapses_gb"] = round(per_syn * 1e9 / 2**30, 1)
    res = ROOT / "benchmarks" / "results"
    res.mkdir(parents=True, exist_ok=True)
    (res / f"mapping_chips{n_chips}.json").write_text(json.dumps(r, indent=1))
    print(f"| {r['neurons']} | {r['synapses']} | {r['cores']} | {r['chips']} | "
          f"{r['compile_s']} | {r['write_s']} | {r['peak_rss_gb']} | {r['artifact_gb']} | "
          f"{r['peak_bytes_per_synapse']} | {r['projected_1g_synapses_gb']} |")
    return 0


GIGA_SIDES = (95, 269)  # the baseline (1/8 the synapses), then 8.1M neurons / 1.007G synapses
GIGA_BUDGET = "24G"  # the model's declared size is over the default budget (half the RAM)


def _giga_one(model: Path, env: dict[str, str], cwd: Path) -> dict[str, object]:
    """`snnc compile MODEL --no-artifact --json --time-passes` for loihi2 as a user runs it:
    wall time and peak RSS of that process, its summary and pass times."""
    snnc = str(Path(sys.executable).with_name("snnc"))
    cmd = [snnc, "compile", str(model), "--target", "loihi2", "--no-artifact", "--json",
           "--time-passes"]
    err = cwd / "stderr.txt"
    t0 = time.perf_counter()
    with open(err, "w") as e:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=e, env=env, text=True,
                             cwd=cwd)
        out = p.stdout.read() if p.stdout else ""
        _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{' '.join(cmd)} failed: {err.read_text()[-2000:]}")
    s = json.loads(out)
    passes = {m.group(1): round(float(m.group(2)) / 1000, 2) for m in re.finditer(
        r"^pass (\S+)\s+([0-9.]+) ms", err.read_text(), flags=re.M)}
    return {"neurons": s["neurons"], "synapses": s["synapses"], "cores": s["cores_used"],
            "bound": s["cores_lower_bound"], "chips": s["chips"], "wall_s": round(wall, 2),
            "passes_s": passes, "peak_rss_gb": round(usage.ru_maxrss / 2**20, 2)}


def giga() -> int:
    """8M neurons / 1G synapses on loihi2 (issue 16): the conv stack written as a .snn model
    and compiled by `snnc compile --no-artifact` in a child process, after the same stack at
    1/8 the synapses as the baseline of the same run."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.synthetic import conv_stack
    from snnc.frontends.text import write_text

    env = {**os.environ, "SNNC_MEMORY_BUDGET": GIGA_BUDGET}
    rows = []
    with tempfile.TemporaryDirectory(prefix="snnc_giga_", dir=ROOT.parent) as tmp:
        for side in GIGA_SIDES:
            print(f"conv stack, side {side} ...", file=sys.stderr, flush=True)
            model = Path(tmp) / f"conv_stack_{side}.snn"
            write_text(conv_stack(side=side), str(model))
            r = _giga_one(model, env, Path(tmp))
            r["side"] = side
            r["peak_bytes_per_synapse"] = round(r["peak_rss_gb"] * 2**30 / r["synapses"], 1)
            r["ns_per_synapse"] = round(r["wall_s"] * 1e9 / r["synapses"], 1)
            rows.append(r)
    base, big = rows
    big["time_per_synapse_x_baseline"] = round(big["ns_per_synapse"] / base["ns_per_synapse"], 2)
    big["bytes_per_synapse_x_baseline"] = round(big["peak_bytes_per_synapse"]
                                                / base["peak_bytes_per_synapse"], 2)
    res = ROOT / "benchmarks" / "results"
    res.mkdir(parents=True, exist_ok=True)
    (res / "mapping_giga.json").write_text(json.dumps(rows, indent=1))
    print("| neurons | stored synapses | cores (bound) | chips | `snnc compile` wall s | "
          "partition s | peak RSS GB | bytes a synapse | ns a synapse |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['neurons']} | {r['synapses']} | {r['cores']} ({r['bound']}) | "
              f"{r['chips']} | {r['wall_s']} | {r['passes_s'].get('partition')} | "
              f"{r['peak_rss_gb']} | {r['peak_bytes_per_synapse']} | {r['ns_per_synapse']} |")
    print(f"1G against 1/8: {big['time_per_synapse_x_baseline']}x the time a synapse, "
          f"{big['bytes_per_synapse_x_baseline']}x the bytes a synapse")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int, default=SIZES[-1])
    ap.add_argument("--check", action="store_true",
                    help="also write each artifact and run tests/mapping_checker.py on it")
    ap.add_argument("--one", nargs=2, metavar=("N", "TARGET"), help=argparse.SUPPRESS)
    ap.add_argument("--write", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--real", action="store_true",
                    help="PilotNet, cnn_sinabs and FC 784-4096-4096-10 against --baseline")
    ap.add_argument("--baseline", default="7f53cdd",
                    help="git revision measured as the baseline of --real ('none': skip)")
    ap.add_argument("--nets", default=",".join(REAL),
                    help="comma-separated networks of --real (default: all)")
    ap.add_argument("--real-one", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--chips", type=int, metavar="N",
                    help="compile and write the layered network sized for N loihi2 chips "
                         "(about 169k neurons a chip at this fan-in), report time, peak RSS "
                         "and bytes a synapse, and what 8M neurons / 1G synapses would need")
    ap.add_argument("--giga", action="store_true",
                    help="snnc compile --no-artifact of 8M neurons / 1G synapses for loihi2 "
                         "(an 8-layer 3x3 conv stack, 14 x 269 x 269 a layer; "
                         "SNNC_MEMORY_BUDGET=24G), after the same stack at 1/8 the synapses "
                         "as baseline: wall time and peak RSS")
    ap.add_argument("--table", action="store_true",
                    help="print the table of the last run (results/mapping_scale.json)")
    a = ap.parse_args()
    if a.table:
        table(json.loads((ROOT / "benchmarks" / "results" / "mapping_scale.json").read_text()))
        return 0
    if a.one:
        print(json.dumps(one(int(a.one[0]), a.one[1], a.check, write=a.write)))
        return 0
    if a.giga:
        return giga()
    if a.chips is not None:
        if a.chips < 1:
            ap.error(f"--chips must be at least 1, got {a.chips}")
        return chips(a.chips)
    if a.real_one:
        print(json.dumps(real_one(*a.real_one)))
        return 0
    if a.real:
        nets = a.nets.split(",")
        if unknown := sorted(set(nets) - set(REAL)):
            ap.error(f"--nets: unknown {', '.join(unknown)}; choose from {', '.join(REAL)}")
        rows = real(a.baseline, nets)
        res = ROOT / "benchmarks" / "results"
        res.mkdir(parents=True, exist_ok=True)
        (res / "mapping_real.json").write_text(json.dumps(rows, indent=1))
        real_table(rows)
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
