"""The snnTorch-trained digits model, from snnTorch to two chips: accuracy at every stage.

snnTorch's own forward pass, snnc's float engine on snnc.from_torch(model) (trained timing:
biases start with the first input, outputs 2 steps later), and the model compiled at 8 bits
for loihi2 and tianjic, run on the simulated chip (refsim). Prints one JSON object.

    python examples/snntorch_digits/evaluate.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import train_snntorch as train  # noqa: E402


def load_model():  # type: ignore[no-untyped-def]
    import torch

    net = train.build()
    net.load_state_dict(torch.load(HERE / "model.pt", weights_only=True))
    return net.eval()


def evaluate(out: Path | None = None, targets: tuple[str, ...] = ("loihi2", "tianjic")
             ) -> dict[str, Any]:
    import snnc
    import torch

    _, xte, _, yte = train.digits.dataset()
    x = train.digits.encode(xte)
    net = load_model()
    with torch.no_grad():
        ref = train.counts(net, torch.tensor(x)).numpy()
    graph = snnc.from_torch(net, torch.zeros(64))
    res = snnc.run(graph, {"input": x})
    float_counts = next(iter(res.outputs.values())).sum(axis=1)
    report: dict[str, Any] = {
        "samples": len(yte), "latency_steps": snnc.api.latency(graph),
        "snntorch_accuracy": float((ref.argmax(1) == yte).mean()),
        "snnc_float_accuracy": float((float_counts.argmax(1) == yte).mean()),
        "float_counts_equal_snntorch": bool(np.array_equal(float_counts, ref))}
    for t in targets:
        art = None if out is None else str(out / f"digits_snntorch.{t}")
        c = snnc.compile(graph, t)
        if art is not None:
            snnc.write_compiled(c, art, "examples/snntorch_digits/digits_snntorch.nir", graph)
            r = snnc.run_compiled(c.fixed, {"input": x.astype(np.int64)}, engine="refsim",
                                  artifact=art)
        else:
            r = snnc.run_compiled(c.fixed, {"input": x.astype(np.int64)}, engine="fixed")
        cnt = next(iter(r.outputs.values())).sum(axis=1)
        report[f"{t}_accuracy"] = float((cnt.argmax(1) == yte).mean())
        report[f"{t}_argmax_agreement_with_float"] = float(
            (cnt.argmax(1) == float_counts.argmax(1)).mean())
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="write the compiled artifacts here (and run "
                    "them on refsim); default: run the fixed-point engine in memory")
    args = ap.parse_args()
    out = None if args.out is None else Path(args.out)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    print(json.dumps(evaluate(out), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
