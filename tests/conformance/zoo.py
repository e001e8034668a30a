"""Framework models with random weights, each with the framework's own forward pass and the
route a user takes into snnc. Used by tests/conformance and benchmarks/conformance.py.

A case gives (graph, inputs, expected output spikes): the framework's forward pass over T
steps of random input spikes, batch-first (B, T, *out). snnc's float engine runs T + latency
steps and is compared after the latency shift (docs/timing.md).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

T, B = 24, 3


@dataclass(frozen=True)
class Case:
    name: str
    framework: str
    construct: str  # the row of docs/frontends.md's table
    build: Callable[[], tuple[Any, np.ndarray, np.ndarray]]  # -> (graph, x (B,T,...), want)


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _spikes(seed: int, shape: tuple[int, ...], rate: float = 0.4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((B, T, *shape)) < rate).astype(np.float32)


# --- snnTorch ----------------------------------------------------------------------------

def _snntorch_neuron(kind: str, n: int | None, reset: str, delay: bool, conv: tuple | None,
                     seed: int) -> Any:
    import snntorch as snn
    import torch

    g = torch.Generator().manual_seed(seed)
    beta = float(0.6 + 0.35 * torch.rand(1, generator=g))
    kw = dict(reset_mechanism=reset, reset_delay=delay, init_hidden=True,
              threshold=float(0.5 + torch.rand(1, generator=g)))
    if kind == "Leaky":
        return snn.Leaky(beta=beta, **kw)
    if kind == "Synaptic":
        return snn.Synaptic(alpha=float(0.5 + 0.4 * torch.rand(1, generator=g)), beta=beta, **kw)
    rec = (dict(conv2d_channels=conv[0], kernel_size=3) if conv is not None
           else dict(linear_features=n))
    if kind == "RLeaky":
        return snn.RLeaky(beta=beta, **rec, **kw)
    if kind == "RLeaky1to1":
        return snn.RLeaky(beta=beta, all_to_all=False, V=0.5, **kw)
    return snn.RSynaptic(alpha=float(0.5 + 0.4 * torch.rand(1, generator=g)), beta=beta,
                         **rec, **kw)


def _scale(net: Any, gain: float, bias: bool) -> None:
    import torch

    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                m.weight.mul_(gain)
                if m.bias is not None:
                    if bias:
                        m.bias.mul_(gain)
                    else:
                        m.bias.zero_()


def snntorch_mlp(kind: str, reset: str, delay: bool, bias: bool, seed: int) -> Case:
    name = (f"snntorch-{kind}-{reset}{'-delayed' if delay else ''}"
            f"{'-bias' if bias else ''}-mlp")

    def build() -> tuple[Any, np.ndarray, np.ndarray]:
        import torch

        torch.manual_seed(seed)
        net = torch.nn.Sequential(
            torch.nn.Linear(12, 10, bias=bias),
            _snntorch_neuron(kind, 10, reset, delay, None, seed),
            torch.nn.Linear(10, 5, bias=bias),
            _snntorch_neuron(kind if kind != "RLeaky1to1" else "Leaky", 5, reset, delay, None,
                             seed + 1))
        _scale(net, 2.5, bias)
        return _snntorch_case(net, _spikes(seed, (12,)))

    return Case(name, "snnTorch", f"{kind}, reset {reset}, reset_delay={delay}"
                f"{', biases' if bias else ''}", build)


def snntorch_conv(kind: str, reset: str, delay: bool, bias: bool, seed: int) -> Case:
    name = f"snntorch-{kind}-{reset}{'-delayed' if delay else ''}{'-bias' if bias else ''}-conv"

    def build() -> tuple[Any, np.ndarray, np.ndarray]:
        import torch

        torch.manual_seed(seed)
        net = torch.nn.Sequential(
            torch.nn.Conv2d(2, 4, 3, padding=1, bias=bias),
            _snntorch_neuron(kind, None, reset, delay, (4,), seed),
            torch.nn.AvgPool2d(2),
            torch.nn.Flatten(),
            torch.nn.Linear(4 * 4 * 4, 6, bias=bias),
            _snntorch_neuron("Leaky", 6, reset, delay, None, seed + 1))
        _scale(net, 2.0, bias)
        return _snntorch_case(net, _spikes(seed, (2, 8, 8), 0.3))

    return Case(name, "snnTorch", f"Conv2d + AvgPool2d + {kind}, reset {reset}, "
                f"reset_delay={delay}{', biases' if bias else ''}", build)


def _snntorch_case(net: Any, x: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray]:
    import snnc
    import torch
    from snntorch import utils

    graph = snnc.from_torch(net, torch.zeros(x.shape[2:]))
    utils.reset(net)
    out = []
    with torch.no_grad():
        for t in range(x.shape[1]):
            y = net(torch.from_numpy(x[:, t]))
            out.append((y[0] if isinstance(y, tuple) else y).numpy())
    utils.reset(net)
    return graph, x, np.stack(out, axis=1)


def snntorch_skip(kind: str, seed: int) -> Case:
    """A module with its own forward(): a skip path from the input added to the second
    layer's input (nirtorch traces the addition); trained timing delays the skip by one step."""
    def build() -> tuple[Any, np.ndarray, np.ndarray]:
        import torch

        class Skip(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.fc1 = torch.nn.Linear(12, 10)
                self.lif1 = _snntorch_neuron(kind, 10, "subtract", True, None, seed)
                self.fc2 = torch.nn.Linear(10, 5)
                self.skip = torch.nn.Linear(12, 5, bias=False)
                self.lif2 = _snntorch_neuron(kind, 5, "subtract", True, None, seed + 1)

            def forward(self, x):  # type: ignore[no-untyped-def]
                return self.lif2(self.fc2(self.lif1(self.fc1(x))) + self.skip(x))

        torch.manual_seed(seed)
        net = Skip()
        _scale(net, 2.5, True)
        return _snntorch_case(net, _spikes(seed, (12,)))

    return Case(f"snntorch-{kind}-skip", "snnTorch", f"custom forward(): {kind} with a skip "
                "connection added to the second layer, biases (path balancing)", build)


def snntorch_cases() -> list[Case]:
    resets = [("subtract", True), ("subtract", False), ("zero", True), ("zero", False),
              ("none", True)]
    cases = []
    seed = 100
    for kind in ("Leaky", "RLeaky", "RLeaky1to1", "Synaptic", "RSynaptic"):
        for reset, delay in resets:
            if kind == "RSynaptic" and not delay and reset != "none":
                continue  # snnTorch 1.0.0 bug: rsynaptic.py:369 reads an undefined `spk`
            for bias in (False, True):
                seed += 1
                cases.append(snntorch_mlp(kind, reset, delay, bias, seed))
    for kind in ("Leaky", "Synaptic", "RLeaky"):
        for reset, delay in (("subtract", True), ("zero", True)):
            seed += 1
            cases.append(snntorch_conv(kind, reset, delay, True, seed))
    cases += [snntorch_skip("Leaky", 200), snntorch_skip("Synaptic", 201)]
    return cases


# --- Sinabs ------------------------------------------------------------------------------

def sinabs_case(kind: str, bias: bool, seed: int) -> Case:
    """IAF / LIF MLPs (B, T, n) and an IAFSqueeze CNN, binary spikes (SingleSpike), the
    default subtractive reset, exported with sinabs.to_nir and read with --source sinabs."""
    def build() -> tuple[Any, np.ndarray, np.ndarray]:
        import sinabs
        import sinabs.layers as sl
        import snnc
        import torch

        torch.manual_seed(seed)
        ss = sinabs.activation.SingleSpike
        if kind == "IAFSqueeze-cnn":
            net = torch.nn.Sequential(
                torch.nn.Conv2d(2, 4, 3, padding=1, bias=bias), sl.IAFSqueeze(batch_size=B,
                                                                              spike_fn=ss),
                sl.SumPool2d(2), torch.nn.Flatten(), torch.nn.Linear(64, 6, bias=bias),
                sl.IAFSqueeze(batch_size=B, spike_fn=ss))
            x = _spikes(seed, (2, 8, 8), 0.3)
            sample = torch.zeros(B, 2, 8, 8)
        else:
            neuron = (lambda: sl.IAF(spike_fn=ss)) if kind == "IAF-mlp" else (
                lambda: sl.LIF(tau_mem=float(4 + 12 * torch.rand(1)), norm_input=False,
                               spike_fn=ss))
            net = torch.nn.Sequential(torch.nn.Linear(12, 10, bias=bias), neuron(),
                                      torch.nn.Linear(10, 5, bias=bias), neuron())
            x = _spikes(seed, (12,))
            sample = torch.zeros(1, 1, 12)
        _scale(net, 2.0, bias)
        # in memory: nir.write cannot store what sinabs.to_nir leaves None or scalar
        graph = snnc.from_nir(sinabs.to_nir(net, sample), source="sinabs")
        _sinabs_reset(net)
        with torch.no_grad():
            if kind == "IAFSqueeze-cnn":
                y = net(torch.from_numpy(x.reshape(B * T, *x.shape[2:]))).numpy()
                want = y.reshape(B, T, -1)
            else:
                want = net(torch.from_numpy(x)).numpy()
        return graph, x, want

    return Case(f"sinabs-{kind}{'-bias' if bias else ''}", "Sinabs",
                f"{kind.split('-')[0]}{' (CNN: Conv2d, SumPool2d)' if 'cnn' in kind else ''}, "
                f"SingleSpike, subtract reset{', biases' if bias else ''}", build)


def _sinabs_reset(net: Any) -> None:
    for m in net.modules():
        if hasattr(m, "reset_states"):
            m.reset_states()


def _tmp_nir(g: Any) -> str:
    import tempfile

    import nir

    fd, path = tempfile.mkstemp(suffix=".nir")
    import os

    os.close(fd)
    nir.write(path, g)
    return path


def _load(path: str, source: str | None) -> Any:
    import os

    import snnc

    try:
        return snnc.load(path, source=source)
    finally:
        os.unlink(path)


# --- Rockpool ----------------------------------------------------------------------------

def rockpool_case(bias: bool, seed: int) -> Case:
    """LinearTorch + LIFTorch (binary: max_spikes_per_dt=1), exported with Rockpool's
    to_nir; its exporter drops LIFTorch's own bias, so the bias here is LinearTorch's."""
    def build() -> tuple[Any, np.ndarray, np.ndarray]:
        import torch
        from rockpool.nn.combinators import Sequential
        from rockpool.nn.modules import LIFTorch, LinearTorch
        from rockpool.nn.modules.torch.nir import to_nir

        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed)

        def lif(n: int) -> Any:
            tm, ts = (float(0.005 + 0.03 * torch.rand(1, generator=g)) for _ in range(2))
            return LIFTorch(n, tau_mem=tm, tau_syn=ts, threshold=1.0, dt=1e-3,
                            max_spikes_per_dt=1)

        net = Sequential(LinearTorch((12, 10), has_bias=bias), lif(10),
                         LinearTorch((10, 5), has_bias=bias), lif(5))
        with torch.no_grad():
            for m in (net[0], net[2]):
                m.weight.mul_(4.0)
        graph = _load(_tmp_nir(to_nir(net, torch.zeros(1, 1, 12))), None)  # detected
        x = _spikes(seed, (12,))
        net.reset_state()
        with torch.no_grad():
            want = net(torch.from_numpy(x))[0].numpy()
        return graph, x, want

    return Case(f"rockpool-LIFTorch{'-bias' if bias else ''}-seed{seed}", "Rockpool",
                f"LinearTorch + LIFTorch (CubaLIF){', Linear biases' if bias else ''}", build)


def all_cases() -> list[Case]:
    cases = snntorch_cases()
    if have("sinabs"):
        cases += [sinabs_case(k, b, 300 + i) for i, (k, b) in enumerate(
            (k, b) for k in ("IAF-mlp", "LIF-mlp", "IAFSqueeze-cnn") for b in (False, True))]
    if have("rockpool"):
        cases += [rockpool_case(b, 400 + i) for i, b in enumerate((False, True, False, True))]
    return cases


def shift(got: np.ndarray, latency: int, steps: int) -> np.ndarray:
    """The float engine's outputs at the trained steps: drop the first `latency` steps."""
    return got[:, latency:latency + steps]
