"""ANN -> SNN conversion quality: accuracy of the converted MLP and CNN of examples/onnx_digits
against the ANN itself (onnxruntime, same run, same 450 held-out digits), by steps, input code
and engine, plus what the conversion's choices are worth (reset by subtraction vs to zero,
percentile vs max balancing, 4-bit weights) and the spikes each inference costs.

Engines: float (the converted float IR) and the fixed-point engine on the IR compiled for
loihi2 and tianjic, 8-bit weights unless stated (refsim reproduces the fixed engine bit for
bit). Writes benchmarks/results/ann_conversion.json and prints Markdown tables.

    .venv/bin/python benchmarks/ann_conversion.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.simplefilter("ignore")

import onnxruntime as ort  # noqa: E402
from examples.onnx_digits.train import data  # noqa: E402
from snnc import api  # noqa: E402
from snnc.compiler.pipeline import CompileOptions  # noqa: E402
from snnc.frontends.ann_to_snn import AnnOptions  # noqa: E402
from snnc.runtime.fixed_engine import FixedEngine  # noqa: E402

EXAMPLE = ROOT / "examples" / "onnx_digits"


def accuracy(out: np.ndarray, y: np.ndarray) -> float:
    return float((out.reshape(len(y), -1).argmax(1) == y).mean())


def evaluate(path: Path, xtr: np.ndarray, xte: np.ndarray, y: np.ndarray, opts: AnnOptions,
             engines: tuple[str, ...], weight_bits: str = "8") -> dict[str, float]:
    g = api.load(str(path), balance_data=xtr, ann=opts)
    spikes = api.encode_input(g, xte)
    x = {next(iter(g.inputs)): spikes}
    row: dict[str, float] = {}
    for eng in engines:
        t0 = time.perf_counter()
        if eng == "float":
            res = api.run(g, x, trace=True)
            row["spikes_per_inference"] = float(sum(
                v.sum() for k, v in res.traces.items() if k.startswith("s:")) / len(y))
        else:
            fixed = api.compile(g, eng, CompileOptions.of(weight_bits=weight_bits),
                                until="fixed").fixed
            res = FixedEngine(fixed).run(x)
        row[eng] = accuracy(next(iter(res.outputs.values()))[:, -1], y)
        row[f"{eng}_s"] = round(time.perf_counter() - t0, 2)
    return row


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer step counts")
    a = ap.parse_args()
    xtr, _, xte, y = data()
    steps_list = (16, 64) if a.quick else (16, 32, 48, 64, 128)
    engines = ("float", "loihi2", "tianjic")
    out: dict[str, object] = {"ann": {}, "grid": [], "variants": []}
    for name in ("mlp", "cnn"):
        path = EXAMPLE / f"{name}.onnx"
        s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        ann = accuracy(s.run(None, {s.get_inputs()[0].name: xte})[0], y)
        out["ann"][name] = ann  # type: ignore[index]
        for enc in ("direct", "rate"):
            for steps in steps_list:
                row = evaluate(path, xtr, xte, y, AnnOptions(steps=steps, encoding=enc),
                               engines)
                out["grid"].append({"model": name, "encoding": enc, "steps": steps,  # type: ignore[union-attr]
                                    "ann": ann, **row})
        base = AnnOptions()
        for label, opts, bits, eng in (
                ("reset to zero (no emulation)", replace(base, reset="zero"), "8",
                 ("loihi2", "tianjic")),
                ("balance on the max (percentile 100)", replace(base, percentile=100.0), "8",
                 ("loihi2", "tianjic")),
                ("4-bit weights", base, "4", ("loihi2", "tianjic")),
                ("LIF, leak 0.02", replace(base, leak=0.02), "8", ("loihi2", "tianjic"))):
            row = evaluate(path, xtr, xte, y, opts, eng, bits)
            out["variants"].append({"model": name, "variant": label, "steps": base.steps,  # type: ignore[union-attr]
                                    "ann": ann, **row})
    res = ROOT / "benchmarks" / "results"
    res.mkdir(parents=True, exist_ok=True)
    (res / "ann_conversion.json").write_text(json.dumps(out, indent=2) + "\n")
    pp = lambda v, ann: f"{100 * v:.2f} ({100 * (v - ann):+.2f})"  # noqa: E731
    print("| model | ANN (onnxruntime) | code | steps | float SNN | loihi2 8-bit | tianjic 8-bit "
          "| spikes / inference |")
    print("|---|---|---|---|---|---|---|---|")
    for r in out["grid"]:  # type: ignore[union-attr]
        print(f"| {r['model']} | {100 * r['ann']:.2f} | {r['encoding']} | {r['steps']} | "
              f"{pp(r['float'], r['ann'])} | {pp(r['loihi2'], r['ann'])} | "
              f"{pp(r['tianjic'], r['ann'])} | {r['spikes_per_inference']:.0f} |")
    print("\n| model | variant (64 steps, direct) | loihi2 | tianjic |")
    print("|---|---|---|---|")
    for r in out["variants"]:  # type: ignore[union-attr]
        print(f"| {r['model']} | {r['variant']} | {pp(r['loihi2'], r['ann'])} | "
              f"{pp(r['tianjic'], r['ann'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
