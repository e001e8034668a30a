"""Helpers for `make demo`: write the digits as .npy for the ONNX CNN, score a run's argmax.

    python examples/onnx_digits/demo.py data X_TRAIN.npy X_TEST.npy LABELS.npy
    python examples/onnx_digits/demo.py score RUN.json LABELS.npy
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
from examples.onnx_digits.train import data  # noqa: E402


def main(argv: list[str]) -> int:
    if argv[:1] == ["data"] and len(argv) == 4:
        xtr, _, xte, yte = data()
        for path, arr in zip(argv[1:], (xtr, xte, yte), strict=True):
            np.save(path, arr)
        print(f"  {len(xtr)} balance images, {len(xte)} test images (1 x 8 x 8, in [0, 1])")
        return 0
    if argv[:1] == ["score"] and len(argv) == 3:
        pred = np.array(json.loads(Path(argv[1]).read_text())["argmax"])
        labels = np.load(argv[2])
        acc = float((pred == labels).mean())
        ann = json.loads((HERE / "RESULTS.json").read_text())["test_accuracy"]["cnn"]
        print(f"  converted CNN on the simulated chip: {acc:.4f} (the ANN: {ann:.4f})")
        return 0 if abs(acc - ann) <= 0.01 else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
