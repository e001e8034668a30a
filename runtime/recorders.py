"""What a run keeps, as small recorder objects every engine shares (float, fixed, refsim).

An engine calls `record(t, pops)` once per step with the state of every population after the
step: `pops[name]` has `u`, `v` and `s`, each (B, n). Recorders allocate their arrays up
front, so a run's memory is known when it starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


class PopState(Protocol):
    u: np.ndarray
    v: np.ndarray
    s: np.ndarray


@dataclass
class View:
    """A population's state as slices of an engine's global arrays (refsim)."""

    u: np.ndarray
    v: np.ndarray
    s: np.ndarray


@dataclass(frozen=True)
class PopInfo:
    """What a recorder needs to know of a population."""

    size: int
    spiking: bool
    traces_u: bool  # the soma keeps u as a state of its own


@dataclass
class RunResult:
    """Outputs of a run: per output port (B, T, *shape); optional traces (B, T, n); refsim
    adds counters (runtime/refsim_counters.py) and the population order of its layer_*
    counters."""

    outputs: dict[str, np.ndarray]
    traces: dict[str, np.ndarray] = field(default_factory=dict)  # "v:pop", "u:pop", "s:pop"
    steps: int = 0
    counters: dict[str, np.ndarray] = field(default_factory=dict)
    layers: list[str] = field(default_factory=list)


class OutputRecorder:
    """Per output port: spikes of a spiking source population (uint8, as the traces keep
    them: a large run's output is a byte a neuron and step), else its v (`dtype`)."""

    def __init__(self, outputs: Mapping[str, tuple[str, tuple[int, ...]]],
                 pops: Mapping[str, PopInfo], batch: int, steps: int, dtype: Any):
        self.ports = {k: (src, shape, pops[src].spiking) for k, (src, shape) in outputs.items()}
        self.batch, self.steps = batch, steps
        self.data = {k: np.zeros((batch, steps, pops[src].size),
                                 dtype=np.uint8 if pops[src].spiking else dtype)
                     for k, (src, _) in outputs.items()}

    def record(self, t: int, pops: Mapping[str, PopState]) -> None:
        for k, (src, _, spiking) in self.ports.items():
            p = pops[src]
            self.data[k][:, t] = p.s if spiking else p.v

    def result(self) -> dict[str, np.ndarray]:
        return {k: v.reshape(self.batch, self.steps, *self.ports[k][1])
                for k, v in self.data.items()}


class TraceRecorder:
    """v:<pop> for every population, u:<pop> where the soma keeps u, s:<pop> where it spikes."""

    def __init__(self, pops: Mapping[str, PopInfo], batch: int, steps: int, dtype: Any):
        self.data: dict[str, np.ndarray] = {}
        self.keys: list[tuple[str, str, str]] = []
        for name, p in pops.items():
            want = ["v"] + (["u"] if p.traces_u else []) + (["s"] if p.spiking else [])
            for var in want:
                key = f"{var}:{name}"
                self.data[key] = np.zeros((batch, steps, p.size),
                                          dtype=np.uint8 if var == "s" else dtype)
                self.keys.append((key, name, var))

    def record(self, t: int, pops: Mapping[str, PopState]) -> None:
        for key, name, var in self.keys:
            self.data[key][:, t] = getattr(pops[name], var)

    def result(self) -> dict[str, np.ndarray]:
        return self.data


def range_counters(events: np.ndarray) -> dict[str, np.ndarray]:
    """(B, layers, 2) wraps and saturations -> counters per layer and per sample, summed over
    the run (refsim and the fixed engine): how often the chip's arithmetic left what the float
    model computes."""
    return {"layer_wraps": events[..., 0].sum(axis=0), "layer_saturations":
            events[..., 1].sum(axis=0), "sample_wraps": events[..., 0].sum(axis=1),
            "sample_saturations": events[..., 1].sum(axis=1)}
