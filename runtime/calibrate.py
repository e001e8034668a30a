"""Calibration: per-population weight-scale gains that keep fixed spike counts closest to float.

Greedy, in population order: for each population try gains 2^(j/4), j = -4..4, on top of the
gains already chosen, and keep the one whose fixed-point spike counts on the sample input are
closest (L1 over neurons and samples) to the float engine's. Deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
from snnc.compiler.ir import SPIKING, Graph
from snnc.compiler.passes import Stage
from snnc.compiler.pipeline import CompileOptions, run_pipeline
from snnc.compiler.targets import TargetSpec
from snnc.runtime.fixed_engine import FixedEngine
from snnc.runtime.float_engine import FloatEngine

GAINS = tuple(2.0 ** (j / 4) for j in range(-4, 5))


def _counts(res_traces: dict[str, np.ndarray], pop: str) -> np.ndarray:
    return res_traces[f"s:{pop}"].sum(axis=1)


def calibrate(graph: Graph, target: TargetSpec, opts: CompileOptions,
              inputs: dict[str, np.ndarray], steps: int,
              on_try: Callable[[str, float, float], None] | None = None) -> CompileOptions:
    """Options with `gain` chosen on `inputs` ({port: (B, T, *shape)} binary spikes)."""
    ref = FloatEngine(graph).run(inputs, steps=steps, trace=True).traces
    gains: dict[str, float] = dict(opts.quantize.gain)

    def with_gains(g: dict[str, float]) -> CompileOptions:
        return replace(opts, quantize=replace(opts.quantize, gain=g))

    for pop, p in graph.populations.items():
        if p.model not in SPIKING:
            continue
        best = None
        for gval in GAINS:
            trial = with_gains({**gains, pop: gains.get(pop, 1.0) * gval})
            fixed = run_pipeline(graph, target, trial, until=Stage.FIXED).fixed
            fx = FixedEngine(fixed).run(inputs, steps=steps, trace=True).traces
            err = float(np.abs(_counts(fx, pop) - _counts(ref, pop)).sum())
            if on_try is not None:
                on_try(pop, gval, err)
            if best is None or err < best[0] - 1e-9:
                best = (err, gval)
        assert best is not None
        gains[pop] = gains.get(pop, 1.0) * best[1]
    return with_gains({k: float(v) for k, v in sorted(gains.items())})
