"""The pass pipeline: named passes, one readable list per target arithmetic, one loop.

Each pass is a function (graph, target, options) -> graph. Timings and progress go through
the `on_pass` hook and never into the artifact, which must be byte-identical on re-run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from snnc.compiler.coremap import CoreMap
from snnc.compiler.ir import Graph
from snnc.compiler.passes.lower_current_bias import lower_current_bias
from snnc.compiler.passes.lower_delays import lower_delays
from snnc.compiler.passes.lower_reset import lower_reset
from snnc.compiler.passes.partition import partition
from snnc.compiler.passes.place import place
from snnc.compiler.passes.route import route
from snnc.compiler.passes.quantize import QuantizeOptions, quantize
from snnc.compiler.targets import TargetSpec
from snnc.compiler.verify import validate
from snnc.compiler.verify_fixed import validate_fixed


@dataclass(frozen=True)
class CompileOptions:
    """Everything that shapes the artifact (recorded in its manifest)."""

    weight_bits: str = "8"
    per_channel: bool = False
    gain: Mapping[str, float] = field(default_factory=dict)  # set by calibration
    placer: str = "anneal"  # anneal | hilbert | sequential | metis (compiler/passes/place.py)
    seed: int = 0  # of the annealing placer
    max_chips: int | None = None  # None: as many chips as the model needs

    def quantize(self) -> QuantizeOptions:
        return QuantizeOptions(self.weight_bits, self.per_channel, dict(self.gain))


@dataclass(frozen=True)
class Pass:
    name: str
    fn: Callable[[Graph, TargetSpec, CompileOptions], Graph]
    doc: str


PASSES: dict[str, Pass] = {p.name: p for p in (
    Pass("validate", lambda g, t, o: validate(g), "float IR invariants"),
    Pass("lower_reset", lambda g, t, o: lower_reset(g, t),
         "reset by subtraction -> integrating current + self-synapse (zero-reset targets)"),
    Pass("lower_current_bias", lambda g, t, o: lower_current_bias(g, t),
         "current bias -> input from an always-on neuron (targets without one)"),
    Pass("quantize", lambda g, t, o: quantize(g, t, o.quantize()),
         "float -> the target's integers; records SQNR and rounding error"),
    Pass("lower_delays", lambda g, t, o: lower_delays(g, t),
         "delays beyond the target's maximum -> relay-neuron chains (exact)"),
    Pass("validate_fixed", lambda g, t, o: validate_fixed(g, t),
         "every integer fits the target's format"),
)}


@dataclass(frozen=True)
class MapPass:
    name: str
    fn: Callable[..., CoreMap]
    doc: str


MAPPING: tuple[MapPass, ...] = (
    MapPass("partition", lambda g, t, o, log: partition(g, t, log),
            "cut populations into cores within every per-core limit (dendrite split)"),
    MapPass("place", lambda cm, t, o, log: place(cm, t, o.placer, o.seed, o.max_chips, log),
            "cores -> (chip, x, y) slots minimizing traffic-weighted hops"),
    MapPass("route", lambda cm, t, o, log: route(cm, t),
            "XY routes, multicast trees or relay chains, per-core tables, link loads"),
)

PIPELINES: dict[str, tuple[str, ...]] = {
    "loihi": ("validate", "lower_reset", "lower_current_bias", "quantize", "lower_delays",
              "validate_fixed"),
    "tianjic": ("validate", "quantize", "lower_delays", "validate_fixed"),
}


def run_pipeline(graph: Graph, target: TargetSpec, opts: CompileOptions,
                 on_pass: Callable[[str, float], None] | None = None) -> Graph:
    """Run the target's pipeline; on_pass(name, seconds) after each pass."""
    for name in PIPELINES[target.semantics]:
        t0 = time.perf_counter()
        graph = PASSES[name].fn(graph, target, opts)
        if on_pass is not None:
            on_pass(name, time.perf_counter() - t0)
    return graph


def run_mapping(fixed: Graph, target: TargetSpec, opts: CompileOptions,
                on_pass: Callable[[str, float], None] | None = None,
                on_progress: Callable[[str], None] | None = None) -> CoreMap:
    """partition -> place -> route: the fixed IR onto the target's cores."""
    obj: Any = fixed
    for p in MAPPING:
        t0 = time.perf_counter()
        obj = p.fn(obj, target, opts, on_progress)
        if on_pass is not None:
            on_pass(p.name, time.perf_counter() - t0)
    return obj


def pass_names(target: TargetSpec) -> list[dict[str, Any]]:
    return ([{"name": n, "doc": PASSES[n].doc} for n in PIPELINES[target.semantics]]
            + [{"name": p.name, "doc": p.doc} for p in MAPPING])
