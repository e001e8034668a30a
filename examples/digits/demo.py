"""Helpers for `make demo`: encode the held-out digits, score a run's output spikes.

    python examples/digits/demo.py encode X.npy LABELS.npy
    python examples/digits/demo.py score RUN.npz LABELS.npy [ENGINE-LABEL]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4) or argv[0] not in ("encode", "score"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "encode":
        _, xte, _, yte = train.dataset()
        np.save(argv[1], train.encode(xte))
        np.save(argv[2], yte)
        print(f"  {len(yte)} samples x {train.STEPS} steps x 64 inputs -> {argv[1]}")
        return 0
    with np.load(argv[1]) as z:
        counts = z["output_spikes"].sum(axis=1)
        hidden_rate = z["s:lif1"].mean() if "s:lif1" in z.files else float("nan")
    labels = np.load(argv[2])
    acc = float((counts.argmax(1) == labels).mean())
    reported = json.loads((Path(__file__).parent / "RESULTS.json").read_text())["test_accuracy"]
    engine = argv[3] if len(argv) == 4 else "float-engine"
    rate = "" if np.isnan(hidden_rate) else f"; hidden spike rate {hidden_rate:.3f} per neuron-step"
    print(f"  {engine} test accuracy {acc:.4f} (training script reported {reported:.4f}){rate}")
    return 0 if abs(acc - reported) <= 0.005 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
