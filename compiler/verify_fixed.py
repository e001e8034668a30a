"""Invariants of a fixed IR: every integer fits the target's format (DESIGN.md §4, §7 STYLE).

Runs after quantize in every pipeline, so a backend never sees a value its chip would reject.
"""

from __future__ import annotations

import numpy as np
from snnc.compiler.errors import IRError
from snnc.compiler.ir import Graph
from snnc.compiler.targets import TargetSpec


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
    if g.meta.get("stage") != "fixed" or g.meta.get("semantics") != t.semantics:
        raise IRError("<graph>", f"not a fixed IR for {t.semantics} arithmetic")
    loihi = t.semantics == "loihi"
    emin, emax = int(t["format.weight_exp_min"]), int(t["format.weight_exp_max"])
    for name, p in g.projections.items():
        if not 1 <= p.weight_bits <= int(t["format.weight_bits"]):
            raise IRError(name, f"weight_bits {p.weight_bits} outside 1..{t['format.weight_bits']}")
        if not emin <= p.weight_exp <= emax:
            raise IRError(name, f"weight_exp {p.weight_exp} outside {emin}..{emax}")
        _range(name, "weights", p.weight, t["format.weight_min"], t["format.weight_max"])
        if loihi and np.any(p.weight % 2 ** (8 - p.weight_bits + 1)):
            raise IRError(name, f"weights are not on Lava's {p.weight_bits}-bit grid")
        if p.max_delay > int(t["format.delay_max"]):
            raise IRError(name, f"delay {p.max_delay} beyond the target's {t['format.delay_max']}")
    state = 2 ** (int(t["format.state_bits"]) - 1) - 1
    for name, p in g.populations.items():
        if loihi:
            _range(name, "du", p.du, 0, 4095)
            _range(name, "dv", p.dv, 0, 4095)
            _range(name, "vth", p.v_th, 0, 2 ** int(t["format.vth_bits"]) - 1)
            _range(name, "bias", p.bias, -4095 * 2**7, 4095 * 2**7)
            if p.i_bias.any() or p.v_reset.any() or p.refractory:
                raise IRError(name, "Lava's LIF has no current bias, reset value or refractory")
        else:
            _range(name, "alpha_u", p.du, 0, 256)
            _range(name, "alpha_v", p.dv, 0, 256)
            for what in ("v_th", "bias", "i_bias", "v_reset"):
                _range(name, what, getattr(p, what), -state - 1, state)
    return g
