"""Invariants of a fixed IR: every integer fits the target's format (compiler/fixed.py).

The pipeline runs this after every pass that produces a fixed IR, so a backend never sees a
value its chip would reject. Errors name the node and the broken limit. Delays beyond the
target's maximum are allowed here (lower_delays turns them into relay chains); the core-map
verifier (compiler/verify_mapped.py) refuses any that are left.
"""

from __future__ import annotations

import numpy as np
from snnc.compiler.errors import IRError
from snnc.compiler.facts import FactError
from snnc.compiler.fixed import LoihiArithmetic, arithmetic_of
from snnc.compiler.ir import SPIKING, Graph
from snnc.compiler.targets import TargetSpec
from snnc.compiler.verify import check_structure


def _ints(name: str, what: str, a: np.ndarray) -> None:
    if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
        raise IRError(name, f"{what} must be integers after quantize")


def _range(name: str, what: str, a: np.ndarray, lo: float, hi: float) -> None:
    _ints(name, what, a)
    if a.size and (a.min() < lo or a.max() > hi):
        raise IRError(name, f"{what} outside {lo}..{hi} after quantize "
                            f"(found {a.min():.0f}..{a.max():.0f})")


def validate_fixed(g: Graph, t: TargetSpec) -> Graph:
    """Raise IRError naming the node whose integers do not fit target `t`."""
    try:
        ar = arithmetic_of(g)
    except FactError as e:
        raise IRError("<graph>", e.message) from None
    check_structure(g)
    if ar != t.arith:
        raise IRError("<graph>", f"quantized for another format than target {t.name}'s; "
                      "compile the float model for this target")
    for name, p in g.projections.items():
        if not 1 <= p.weight_bits <= ar.weight_bits:
            raise IRError(name, f"weight_bits {p.weight_bits} outside 1..{ar.weight_bits}")
        if not ar.weight_exp_min <= p.weight_exp <= ar.weight_exp_max:
            raise IRError(name, f"weight_exp {p.weight_exp} outside "
                          f"{ar.weight_exp_min}..{ar.weight_exp_max}")
        _range(name, "weights", p.weight, ar.weight_min, ar.weight_max)
        if isinstance(ar, LoihiArithmetic) and np.any(p.weight % ar.grid_step(p.weight_bits)):
            raise IRError(name, f"weights are not on the {p.weight_bits}-bit grid (multiples "
                          f"of {ar.grid_step(p.weight_bits)})")
    ranges = ar.param_ranges()
    for name, p in g.populations.items():
        for what, (lo, hi) in ranges.items():
            _range(name, what, getattr(p, what), lo, hi)
        if p.refractory > ar.refractory_max:
            raise IRError(name, f"refractory {p.refractory} beyond the target's "
                          f"{ar.refractory_max}")
        if p.model in SPIKING and p.reset.value not in ar.resets:
            raise IRError(name, f"reset {p.reset.value!r}; the target supports "
                          f"{list(ar.resets)}")
    if isinstance(ar, LoihiArithmetic):
        _loihi_biases(g, ar)
    return g


def _loihi_biases(g: Graph, ar: LoihiArithmetic) -> None:
    """Every bias is bias_mant << bias_exp exactly."""
    for name, p in g.populations.items():
        mant, exp = ar.split_bias(p.bias)
        if not np.array_equal(mant * 2.0**exp, p.bias):
            raise IRError(name, "a bias is not representable as bias_mant << bias_exp")
