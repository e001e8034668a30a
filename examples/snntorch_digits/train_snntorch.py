"""Train a snnTorch network on sklearn's digits and hand it to snnc the way a user would.

64 pixels -> Linear (with bias) -> Leaky -> Linear (with bias) -> Leaky, snnTorch's defaults
throughout (reset by subtraction applied one step later, reset_delay=True; ATan surrogate),
trained with BPTT on spike counts. The input is the deterministic rate code of
examples/digits (16 steps). Writes beside this file:

    model.pt              the state_dict (load with torch.load(..., weights_only=True))
    digits_snntorch.nir   snnc.to_nir(model, sample): what `snnc compile` takes
    RESULTS.json          snnTorch's own test accuracy

    python examples/snntorch_digits/train_snntorch.py [--epochs 30] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "digits"))
import train as digits  # noqa: E402  (the shared split and rate code)

HIDDEN = 64
BETA = 0.9


def build():  # type: ignore[no-untyped-def]
    """The network, snnTorch defaults (biases, subtract reset with reset_delay=True)."""
    import snntorch as snn
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(64, HIDDEN), snn.Leaky(beta=BETA, init_hidden=True),
        torch.nn.Linear(HIDDEN, 10), snn.Leaky(beta=BETA, init_hidden=True, output=True))


def counts(net, x):  # type: ignore[no-untyped-def]
    """snnTorch's forward pass over the steps of x (B, T, 64): output spike counts (B, 10)."""
    import torch
    from snntorch import utils

    utils.reset(net)
    total = torch.zeros(x.shape[0], 10)
    for t in range(x.shape[1]):
        spk, _ = net(x[:, t])
        total = total + spk
    utils.reset(net)
    return total


def main() -> None:
    import snnc
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    xtr, xte, ytr, yte = digits.dataset()
    str_, ste = torch.tensor(digits.encode(xtr)), torch.tensor(digits.encode(xte))
    ytr_t = torch.tensor(ytr)
    net = build()
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    for epoch in range(args.epochs):
        perm = torch.randperm(len(str_))
        for i in range(0, len(perm), 64):
            idx = perm[i:i + 64]
            loss = torch.nn.functional.cross_entropy(counts(net, str_[idx]) * 0.5, ytr_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch % 10 == 9 or epoch == args.epochs - 1:
            with torch.no_grad():
                acc = float((counts(net, ste).argmax(1).numpy() == yte).mean())
            print(f"epoch {epoch + 1}: loss {loss.item():.3f}, test accuracy {acc:.4f}")
    with torch.no_grad():
        test_acc = float((counts(net, ste).argmax(1).numpy() == yte).mean())
    torch.save(net.state_dict(), HERE / "model.pt")
    snnc.to_nir(net, torch.zeros(64), str(HERE / "digits_snntorch.nir"))
    results = {"snntorch_test_accuracy": test_acc, "steps": digits.STEPS, "beta": BETA,
               "hidden": HIDDEN, "test_samples": len(yte), "epochs": args.epochs,
               "seed": args.seed, "torch": torch.__version__,
               "coding": "deterministic rate code (examples/digits/train.py:encode)",
               "decoding": "argmax of output spike counts"}
    (HERE / "RESULTS.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
