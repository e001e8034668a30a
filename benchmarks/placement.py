"""Placement quality: traffic-weighted hops of each placer, against the naive sequential
placement run on the same core map in the same run (ratio < 1 is better).

Networks: a conv net (cnn_sinabs from ../shared/data, N-MNIST CNN from Sinabs), a recurrent
net (benchmarks/synthetic.py recurrent_sheet, 96 x 96 local reservoir) and a random sparse
modular net of 100k neurons, all compiled for tianjic (whose small cores make placement
matter). Writes benchmarks/results/placement.json and prints a Markdown table.

    .venv/bin/python benchmarks/placement.py
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.simplefilter("ignore")

from benchmarks.synthetic import modular, recurrent_sheet  # noqa: E402
from snnc import api  # noqa: E402
from snnc.compiler.pipeline import CompileOptions  # noqa: E402

PLACERS = ("sequential", "hilbert", "anneal", "metis")


def networks() -> dict[str, object]:
    out: dict[str, object] = {}
    cnn = ROOT.parent / "shared" / "data" / "nir" / "cnn_sinabs.nir"
    if cnn.exists():
        out["conv: cnn_sinabs"] = api.load(str(cnn))
    else:
        print(f"skipping the conv net: {cnn} is absent", file=sys.stderr)
    out["recurrent: sheet 96x96"] = recurrent_sheet(side=96)
    out["random sparse: modular 100k"] = modular(n=100_000, modules=100)
    return out


def main() -> int:
    target = "tianjic"
    rows = []
    times: dict[str, float] = {}

    def keep(name: str, ir: object, sec: float, verify_sec: float) -> None:
        times[name] = sec

    for name, g in networks().items():
        res = {}
        for placer in PLACERS:
            c = api.compile(g, target, CompileOptions.of(placer=placer, seed=0), on_pass=keep)
            fixed, cm = c.fixed, c.coremap
            res[placer] = {"weighted_hops": cm.meta["weighted_hops"],
                           "routed_hops": cm.meta["routed_hops"],
                           "max_link_load": cm.meta["max_link_load"],
                           "seconds": round(times["place"], 2)}
        base = res["sequential"]["weighted_hops"]
        for r in res.values():
            r["ratio_vs_sequential"] = round(r["weighted_hops"] / base, 4) if base else 1.0
        rows.append({"network": name, "neurons": fixed.n_neurons, "synapses": fixed.n_synapses,
                     "cores": cm.n_cores, "chips": cm.meta["chips"], "placers": res})
        print(f"{name}: done", file=sys.stderr)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "placement.json").write_text(json.dumps({"target": target, "rows": rows}, indent=1))
    print(f"| network ({target}) | neurons | cores | chips | " + " | ".join(
        f"{p} hops (x seq.)" for p in PLACERS) + " |")
    print("|---|---|---|---|" + "---|" * len(PLACERS))
    for r in rows:
        print(f"| {r['network']} | {r['neurons']} | {r['cores']} | {r['chips']} | " + " | ".join(
            f"{r['placers'][p]['weighted_hops']:.0f} ({r['placers'][p]['ratio_vs_sequential']:.2f},"
            f" {r['placers'][p]['seconds']:.1f} s)" for p in PLACERS) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
