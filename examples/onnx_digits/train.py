"""Train an MLP and a small CNN on sklearn's handwritten digits and export both to ONNX.

Plain ANNs (ReLU, BatchNorm, average pooling, dropout) in PyTorch (torch==2.13.0, CPU), the
kind snnc converts to SNNs (docs/onnx.md). Inputs are the 8x8 images scaled to [0, 1]; the
split is examples/digits' (1347 train / 450 test). The MLP is exported with torch's dynamo
exporter (torch.onnx.export(..., dynamo=True), needs onnxscript), the CNN with the TorchScript
one (dynamo=False), so both exporters are covered. Writes mlp.onnx, cnn.onnx and RESULTS.json
beside this file.

    python examples/onnx_digits/train.py [--epochs 60] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE.parents[1]) not in sys.path:  # run as a script: make `examples.*` importable
    sys.path.insert(0, str(HERE.parents[1]))
from examples.digits.train import dataset  # noqa: E402  (the split shared with examples/digits)


def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test); x as (N, 1, 8, 8) float32 in [0, 1]."""
    xtr, xte, ytr, yte = dataset()
    img = lambda x: (x / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)  # noqa: E731
    return img(xtr), ytr, img(xte), yte


def models() -> dict[str, object]:
    import torch.nn as nn

    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 96), nn.BatchNorm1d(96), nn.ReLU(),
                        nn.Dropout(0.1), nn.Linear(96, 48), nn.ReLU(), nn.Linear(48, 10))
    cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.AvgPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16),
                        nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(64, 10))
    return {"mlp": mlp, "cnn": cnn}


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(2)
    xtr, ytr, xte, yte = data()
    results = {"torch": torch.__version__, "epochs": args.epochs, "seed": args.seed,
               "split": "examples/digits/train.py dataset()", "test_accuracy": {}}
    for name, net in models().items():
        torch.manual_seed(args.seed)
        for m in net.modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
        opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
        xt, yt = torch.tensor(xtr), torch.tensor(ytr)
        for _ in range(args.epochs):
            net.train()
            perm = torch.randperm(len(xt))
            for i in range(0, len(xt), 64):
                idx = perm[i:i + 64]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx]).backward()
                opt.step()
        net.eval()
        with torch.no_grad():
            acc = float((net(torch.tensor(xte)).argmax(1).numpy() == yte).mean())
        results["test_accuracy"][name] = acc
        example = (torch.zeros(1, 1, 8, 8),)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if name == "mlp":
                torch.onnx.export(net, example, str(HERE / f"{name}.onnx"), dynamo=True,
                                  input_names=["image"], output_names=["logits"],
                                  dynamic_shapes=({0: torch.export.Dim("batch")},),
                                  external_data=False, verbose=False)
            else:
                torch.onnx.export(net, example, str(HERE / f"{name}.onnx"), dynamo=False,
                                  input_names=["image"], output_names=["logits"],
                                  dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
        print(f"{name}: test accuracy {acc:.4f} -> {HERE / (name + '.onnx')}")
    (HERE / "RESULTS.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
