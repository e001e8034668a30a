"""Quantization fidelity: float engine vs fixed-point engine, per model and weight format.

digits: test accuracy on the 450 held-out digits (float vs loihi2 at 8/4/2 bits and ternary,
per layer and per channel, with and without calibration on 300 training digits).
braille, cnn_sinabs (../shared/data): agreement of output spike counts and argmax between
float and loihi2 8-bit fixed on random input. Writes benchmarks/results/fidelity.json and
prints a Markdown table (copied into docs/fixed_point.md).

    .venv/bin/python benchmarks/fidelity.py
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples" / "digits"))
warnings.simplefilter("ignore")

from snnc import api  # noqa: E402
from snnc.compiler.pipeline import CompileOptions  # noqa: E402
from snnc.runtime.fixed_engine import FixedEngine  # noqa: E402


def digits_accuracy(bits: str, per_channel: bool, calibrate: bool) -> tuple[float, float]:
    """(float accuracy, fixed accuracy) of the shipped digits model on its test split."""
    import train

    xtr, xte, _, yte = train.dataset()
    x_test = train.encode(xte).astype(np.int64)
    g = api.load(str(ROOT / "snnc" / "models" / "digits.nir"))
    steps = train.STEPS + 2
    cal = {"input": train.encode(xtr[:300]).astype(np.int64)} if calibrate else None
    fixed = api.compile(g, "loihi2", CompileOptions.of(weight_bits=bits, per_channel=per_channel),
                        calibrate_inputs=cal, until="fixed").fixed
    f = api.run(g, {"input": x_test}, steps=steps).outputs["output"].sum(1).argmax(-1)
    q = FixedEngine(fixed).run({"input": x_test}, steps=steps).outputs["output"]
    return float((f == yte).mean()), float((q.sum(1).argmax(-1) == yte).mean())


def agreement(path: str, batch: int, steps: int, rate: float = 0.2,
              target: str = "loihi2") -> dict[str, float]:
    """Output spike-count agreement of float vs the target at 8 bits on random binary input,
    next to what quantization alone explains: the float engine on the dequantized model (the
    same rounded weights, thresholds, biases and decays, float arithmetic)."""
    from snnc.compiler.passes.quantize import dequantize

    g = api.load(path)
    fixed = api.compile(g, target, until="fixed").fixed
    rng = np.random.default_rng(0)
    (port, p), = g.inputs.items()
    x = {port: (rng.random((batch, steps, *p.shape)) < rate).astype(np.int64)}
    n = steps + 4 + api.latency(g)

    def counts(out: np.ndarray) -> np.ndarray:
        return out.reshape(batch, n, -1).sum(1)

    fc = counts(api.run(g, x, steps=n).outputs["output"])
    dc = counts(api.run(dequantize(fixed), x, steps=n).outputs["output"])
    qc = counts(FixedEngine(fixed).run(x, steps=n).outputs["output"])
    corr = float(np.corrcoef(fc.ravel(), qc.ravel())[0, 1]) if fc.std() and qc.std() else 1.0
    return {"argmax_agreement": float((fc.argmax(1) == qc.argmax(1)).mean()),
            "exact_count_match": float((fc == qc).mean()),
            "mean_abs_count_diff": float(np.abs(fc - qc).mean()),
            "mean_float_count": float(fc.mean()), "count_correlation": round(corr, 4),
            "quantization_only_exact_count_match": float((fc == dc).mean()),
            "quantization_only_argmax_agreement": float((fc.argmax(1) == dc.argmax(1)).mean()),
            "compiled_vs_dequantized_exact_count_match": float((dc == qc).mean())}


def main() -> int:
    rows = []
    for bits in ("8", "4", "2", "ternary"):
        for pc in (False, True):
            for cal in (False, True):
                fa, qa = digits_accuracy(bits, pc, cal)
                rows.append({"weights": bits, "per_channel": pc, "calibrated": cal,
                             "float_acc": fa, "fixed_acc": qa,
                             "drop_pp": round(100 * (fa - qa), 2)})
                print(f"digits {bits:>7} per_channel={pc!s:<5} calibrated={cal!s:<5} "
                      f"float {fa:.4f} fixed {qa:.4f} drop {100 * (fa - qa):5.2f} pp")
    shared = ROOT.parent / "shared" / "data" / "nir"
    agree = {}
    for name, batch, steps in (("braille_noDelay_bias_zero", 64, 100),
                               ("braille_noDelay_noBias_subtract", 64, 100),
                               ("cnn_sinabs", 16, 30)):
        for target in ("loihi2", "tianjic"):
            if (shared / f"{name}.nir").exists():
                agree[f"{name} ({target})"] = agreement(str(shared / f"{name}.nir"), batch,
                                                        steps, target=target)
                print(name, target, agree[f"{name} ({target})"])
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "fidelity.json").write_text(json.dumps({"digits": rows, "agreement": agree},
                                                  indent=2) + "\n")
    print("\n| weights | per channel | calibrated | float acc | loihi2 fixed acc | drop (pp) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['weights']} | {r['per_channel']} | {r['calibrated']} | "
              f"{100 * r['float_acc']:.2f}% | {100 * r['fixed_acc']:.2f}% | {r['drop_pp']:.2f} |")
    print("\n| model (target) | argmax agreement | exact count match | quantization alone: "
          "argmax / exact count | compiled = dequantized float | mean abs count diff | "
          "mean float count |")
    print("|---|---|---|---|---|---|---|")
    for k, a in agree.items():
        print(f"| {k} | {100 * a['argmax_agreement']:.1f}% | {100 * a['exact_count_match']:.1f}% "
              f"| {100 * a['quantization_only_argmax_agreement']:.1f}% / "
              f"{100 * a['quantization_only_exact_count_match']:.1f}% "
              f"| {100 * a['compiled_vs_dequantized_exact_count_match']:.1f}% "
              f"| {a['mean_abs_count_diff']:.2f} | {a['mean_float_count']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
