"""Worst-case synaptic input and current of every population of a fixed IR: how far its states
can go, against the width its target's arithmetic gives them (docs/fixed_point.md, headroom).

A neuron's input in one step is largest when every source with a positive weight into it
fires together and none with a negative one (and the reverse for the most negative input);
delays only shift when a spike lands, so the bound over all of them is the same sum. The
current then accumulates under its decay: |u| <= A / (1 - r) with r the retained fraction
per step (truncation toward zero only lowers it); a current that never decays has no bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from snnc.compiler.fixed import Arithmetic
from snnc.compiler.ir import Conn, Graph, Population, Projection


@dataclass(frozen=True)
class Headroom:
    """One population's worst case, in the arithmetic's units."""

    input_pos: float  # largest summed input of one step (after each projection's shift)
    input_neg: float  # most negative, as a magnitude
    current: float  # bound on |u| (inf: a current that never decays)
    limit: int  # where u leaves its width (Loihi wraps above it, Tianjic saturates)

    @property
    def bits(self) -> float:
        """log2(limit / current): > 0 means the state can never leave its width."""
        if self.current == 0:
            return math.inf
        return math.log2(self.limit / self.current) if math.isfinite(self.current) else -math.inf

    def to_json(self) -> dict[str, float | int | None]:
        fin = math.isfinite(self.current)
        return {"current_bound": float(self.current) if fin else None,
                "limit": self.limit,
                "headroom_bits": round(self.bits, 3) if math.isfinite(self.bits) else None}


def row_sums(p: Projection, n_dst: int) -> tuple[np.ndarray, np.ndarray]:
    """Per destination neuron: the sum of its positive and of its negative stored weights
    (magnitude). Conv: per output channel, every tap of the kernel (exact away from borders,
    an upper bound at them)."""
    w = np.asarray(p.weight)
    if p.kind is Conn.DENSE:
        return np.maximum(w, 0).sum(axis=1), np.maximum(-w, 0).sum(axis=1)
    if p.kind is Conn.SPARSE:  # one numba pass, in np.add.at's order of additions
        from snnc.compiler.synapse_kernels import csr_sign_sums

        pos, neg = np.zeros(n_dst), np.zeros(n_dst)
        csr_sign_sums(p.indptr, w.astype(np.float64, copy=False), pos, neg)
        return pos, neg
    per_ch = w.reshape(w.shape[0], -1)
    reps = n_dst // w.shape[0]
    return (np.repeat(np.maximum(per_ch, 0).sum(axis=1), reps),
            np.repeat(np.maximum(-per_ch, 0).sum(axis=1), reps))


def distinct_delays(delay: np.ndarray) -> int:
    """How many different delays a projection has (np.unique's count, without sorting a
    synapse-sized array: delays are small non-negative integers)."""
    if delay.size == 0:
        return 0
    lo, hi = int(delay.min()), int(delay.max())
    if lo == hi:
        return 1
    if lo < 0 or hi >= delay.size:  # bincount would allocate more than the array
        return len(np.unique(delay))
    return int(np.count_nonzero(np.bincount(delay.ravel())))


def headroom(g: Graph, name: str) -> Headroom:
    """The worst case of population `name` of a fixed IR (module docstring)."""
    from snnc.compiler.fixed import arithmetic_of

    return population_headroom(g.populations[name], g.incoming(name), arithmetic_of(g))


def population_headroom(pop: Population, incoming: list[Projection], ar: Arithmetic
                        ) -> Headroom:
    """The worst case of one fixed population fed by `incoming` (quantized projections)."""
    pos, neg = np.zeros(pop.size), np.zeros(pop.size)
    for p in incoming:
        a, b = row_sums(p, pop.size)
        slots = distinct_delays(p.delay)
        pos += a * 2.0**p.weight_exp
        neg += b * 2.0**p.weight_exp + (slots if p.weight_exp < 0 else 0)  # floor shifts
    scale = ar.input_unit  # stored input -> u units (Loihi: << act_shift)
    amax = np.maximum(pos * scale + np.maximum(pop.i_bias, 0),
                      neg * scale + np.maximum(-pop.i_bias, 0))
    keep = 1 - ar.current_decay(pop.du)  # fraction of u kept per step (0: u is this input)
    with np.errstate(divide="ignore", invalid="ignore"):
        cur = np.where(keep < 1, amax / (1 - np.minimum(keep, 1)),
                       np.where(amax > 0, np.inf, 0.0))
    return Headroom(float(pos.max(initial=0) * scale), float(neg.max(initial=0) * scale),
                    float(cur.max(initial=0)), int(ar.state_max))
