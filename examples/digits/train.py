"""Train a small LIF network on sklearn's handwritten digits and export it to NIR.

64 pixels -> 64 LIF -> 10 LIF, deterministic rate coding over T steps, surrogate gradients in
PyTorch (torch==2.13.0, CPU). The torch forward pass is written in snnc's own semantics
(reset to zero on the step of the spike, strict threshold, no biases), so snnc's float engine
must reproduce the accuracy printed here. Writes digits.nir and RESULTS.json beside this file.

    python examples/digits/train.py [--epochs 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
STEPS = 16  # time steps per sample
DT = 1e-3  # seconds per step, written into the NIR graph
BETA = 0.9  # membrane keep factor per step: tau = DT / (1 - BETA)
HIDDEN = 64
SPLIT_SEED = 0


def encode(images: np.ndarray, steps: int = STEPS) -> np.ndarray:
    """Deterministic rate code: pixel p in [0, 1] spikes floor((t+1)p) - floor(tp) times at t.

    images: (N, 64) with values 0..16 -> (N, steps, 64) of 0/1."""
    p = np.clip(images / 16.0, 0.0, 1.0)
    t = np.arange(steps + 1)[None, :, None]
    acc = np.floor(t * p[:, None, :] + 1e-9)
    return np.diff(acc, axis=1).astype(np.float32)


def dataset() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The fixed train/test split used by training, docs and tests."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    return train_test_split(d.data, d.target, test_size=0.25, random_state=SPLIT_SEED,
                            stratify=d.target)


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    xtr, xte, ytr, yte = dataset()
    str_, ste = torch.tensor(encode(xtr)), torch.tensor(encode(xte))
    ytr_t = torch.tensor(ytr)

    class Spike(torch.autograd.Function):
        """Heaviside forward (v > threshold), fast-sigmoid surrogate backward."""

        @staticmethod
        def forward(ctx, x):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(x)
            return (x > 0).to(x.dtype)

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            (x,) = ctx.saved_tensors
            return g / (1 + 10 * x.abs()) ** 2

    w1 = torch.nn.Parameter(torch.randn(HIDDEN, 64) * 0.35)
    w2 = torch.nn.Parameter(torch.randn(10, HIDDEN) * 0.35)

    def forward(s_in: torch.Tensor) -> torch.Tensor:
        """(B, T, 64) -> output spike counts (B, 10). v = BETA v + W s; fire v > 1; v = 0."""
        b = s_in.shape[0]
        v1, v2 = torch.zeros(b, HIDDEN), torch.zeros(b, 10)
        counts = torch.zeros(b, 10)
        for t in range(s_in.shape[1]):
            v1 = BETA * v1 + s_in[:, t] @ w1.T
            s1 = Spike.apply(v1 - 1.0)
            v1 = v1 * (1 - s1)
            v2 = BETA * v2 + s1 @ w2.T
            s2 = Spike.apply(v2 - 1.0)
            v2 = v2 * (1 - s2)
            counts = counts + s2
        return counts

    opt = torch.optim.Adam([w1, w2], lr=5e-3)
    for epoch in range(args.epochs):
        perm = torch.randperm(len(str_))
        for i in range(0, len(perm), 64):
            idx = perm[i:i + 64]
            loss = torch.nn.functional.cross_entropy(forward(str_[idx]) * 0.5, ytr_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch % 10 == 9 or epoch == args.epochs - 1:
            with torch.no_grad():
                acc = (forward(ste).argmax(1).numpy() == yte).mean()
            print(f"epoch {epoch + 1}: loss {loss.item():.3f}, test accuracy {acc:.4f}")
    with torch.no_grad():
        test_acc = float((forward(ste).argmax(1).numpy() == yte).mean())
        train_acc = float((forward(str_).argmax(1).numpy() == ytr).mean())
    export(w1.detach().numpy().astype(np.float64), w2.detach().numpy().astype(np.float64))
    results = {"test_accuracy": test_acc, "train_accuracy": train_acc, "steps": STEPS,
               "dt": DT, "beta": BETA, "hidden": HIDDEN, "test_samples": len(yte),
               "split": {"test_size": 0.25, "random_state": SPLIT_SEED, "stratify": True},
               "coding": "deterministic rate code (examples/digits/train.py:encode)",
               "decoding": "argmax of output spike counts over steps + 2 (projection latency)",
               "epochs": args.epochs, "seed": args.seed, "torch": torch.__version__}
    (HERE / "RESULTS.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))


def export(w1: np.ndarray, w2: np.ndarray) -> None:
    """Write digits.nir: Input -> Linear -> LIF -> Linear -> LIF -> Output, with dt metadata."""
    import nir

    def lif(n: int) -> nir.LIF:
        tau = np.full(n, DT / (1 - BETA))
        # r = tau/dt makes the Euler input gain r*dt/tau exactly one: weights carry over as-is
        return nir.LIF(tau=tau, r=tau / DT, v_leak=np.zeros(n), v_threshold=np.ones(n),
                       v_reset=np.zeros(n))

    g = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([64])}),
               "fc1": nir.Linear(weight=w1), "lif1": lif(HIDDEN),
               "fc2": nir.Linear(weight=w2), "lif2": lif(10),
               "output": nir.Output(output_type={"output": np.array([10])})},
        edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"),
               ("lif2", "output")],
        metadata={"snnc_dt": DT})
    nir.write(str(HERE / "digits.nir"), g)
    packaged = HERE.parents[1] / "snnc" / "models" / "digits.nir"  # `snnc run digits`
    packaged.write_bytes((HERE / "digits.nir").read_bytes())


if __name__ == "__main__":
    main()
