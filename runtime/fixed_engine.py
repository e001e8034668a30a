"""Fixed-point engine: runs a fixed IR with its target's integer arithmetic, on a batch.

The arithmetic is compiler/fixed.py (DESIGN.md §4); the step structure (deliver, then update)
is the float engine's, so both engines share one loop. Loihi semantics are bit-exact to Lava
0.10.0 `Loihi2SimCfg(select_tag="fixed_pt")` (tests/integration/test_lava_bitexact.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from snnc.compiler import fixed
from snnc.compiler.errors import InputError, SnncError
from snnc.compiler.ir import HAS_CURRENT, SPIKING, Graph, Population, Projection, ResetMode
from snnc.runtime.float_engine import FloatEngine


class FixedRunError(SnncError):
    """The network left the range where the target's arithmetic is defined."""


class _Synapse:
    """Integer weights of one (projection, delay); the sum is shifted per step (Lava)."""

    def __init__(self, proj: Projection, delay: int, matrix: Any, semantics: str):
        self.src, self.dst, self.delay, self.name = proj.src, proj.dst, delay, proj.name
        self.exp = proj.weight_exp
        self.tianjic = semantics == "tianjic"
        if sp.issparse(matrix):
            self.matrix: Any = sp.csr_matrix(matrix).astype(np.int64)
        else:
            self.matrix = np.asarray(matrix).astype(np.int64)

    def deliver(self, sent: np.ndarray) -> np.ndarray:
        if isinstance(self.matrix, np.ndarray):
            acc = sent @ self.matrix.T
        else:
            acc = np.asarray((self.matrix @ sent.T).T)
        if self.tianjic:
            return fixed.tianjic_accumulate(acc, self.exp)
        return fixed.shift_sum(acc, self.exp)


def _ints(a: np.ndarray) -> np.ndarray:
    return np.asarray(a).astype(np.int64)


class _State:
    """u, v and last spikes of one population, as int64 (B, n)."""

    def __init__(self, pop: Population, batch: int):
        self.pop = pop
        self.u = np.zeros((batch, pop.size), dtype=np.int64)
        self.v = np.zeros((batch, pop.size), dtype=np.int64)
        self.s = np.zeros((batch, pop.size), dtype=np.int64)
        self.spiking = pop.model in SPIKING


class _LoihiNeurons(_State):
    """A population on Lava's LIF (PyLifModelBitAcc)."""

    traces_u = True

    def __init__(self, pop: Population, batch: int, check_overflow: bool):
        super().__init__(pop, batch)
        self.du, self.dv = _ints(pop.du), _ints(pop.dv)
        self.bias, self.vth = _ints(pop.bias), _ints(pop.v_th)
        self.check_overflow = check_overflow

    def update(self, a: np.ndarray) -> np.ndarray:
        try:
            self.u, v, s = fixed.loihi_update(self.u, self.v, a, self.du, self.dv, self.bias,
                                              self.vth, self.check_overflow)
        except fixed.FixedOverflow as e:
            raise FixedRunError(f"population '{self.pop.name}': {e}") from None
        self.v = v
        self.s = s.astype(np.int64)
        return self.s


class _TianjicNeurons(_State):
    """A population on the Tianjic-style soma (docs/fixed_point.md)."""

    def __init__(self, pop: Population, batch: int):
        super().__init__(pop, batch)
        self.ref = np.zeros((batch, pop.size), dtype=np.int64)
        self.current = pop.model in HAS_CURRENT
        self.traces_u = self.current
        self.au, self.av = _ints(pop.du), _ints(pop.dv)
        self.bias, self.ibias = _ints(pop.bias), _ints(pop.i_bias)
        self.vth, self.vreset = _ints(pop.v_th), _ints(pop.v_reset)

    def update(self, a: np.ndarray) -> np.ndarray:
        p, bits = self.pop, fixed.T_STATE_BITS
        if self.current:
            self.u = fixed.saturate(fixed.tianjic_decay(self.u, self.au) + a + self.ibias, bits)
        else:
            self.u = a
        v = fixed.saturate(fixed.tianjic_decay(self.v, self.av) + self.u + self.bias, bits)
        if not self.spiking:
            self.v = v
            return self.s
        held = self.ref > 0
        if p.refractory:
            v = np.where(held, self.vreset, v)
            self.ref = np.maximum(self.ref - 1, 0)
        spiked = (v > self.vth) & ~held
        if p.refractory:
            self.ref = np.where(spiked, p.refractory, self.ref)
        if p.reset is ResetMode.ZERO:
            v = np.where(spiked, self.vreset, v)
        elif p.reset is ResetMode.SUBTRACT:
            v = fixed.saturate(v - spiked * self.vth, bits)
        self.v = v
        self.s = spiked.astype(np.int64)
        return self.s


class FixedEngine(FloatEngine):
    """Runs a fixed IR (meta stage 'fixed') in its target's integer arithmetic."""

    dtype = np.int64

    def __init__(self, graph: Graph):
        if graph.meta.get("stage") != "fixed":
            raise SnncError("the fixed-point engine runs compiled (quantized) models; "
                            "compile the model first (`snnc compile MODEL --target loihi2`)")
        self.semantics = str(graph.meta.get("semantics"))
        if self.semantics not in ("loihi", "tianjic"):
            raise SnncError(f"unknown fixed-point semantics {self.semantics!r}")
        super().__init__(graph)
        # Populations whose input could ever leave int32 after << 6 are checked every step;
        # for the rest (every quantized model) the bound proves the check unnecessary.
        bound = {k: np.zeros(p.size) for k, p in graph.populations.items()}
        for syn in self.synapses:
            rows = abs(syn.matrix).sum(axis=1)
            bound[syn.dst] += np.asarray(rows).reshape(-1) * 2.0 ** max(syn.exp, 0) + 1
        self.unsafe = {k for k, b in bound.items()
                       if b.size and b.max() * 2**fixed.ACT_SHIFT >= fixed.INT32}

    def _synapse(self, proj: Projection, delay: int, matrix: Any) -> Any:
        return _Synapse(proj, delay, matrix, self.semantics)

    def _neurons(self, pop: Population, batch: int) -> Any:
        if self.semantics == "loihi":
            return _LoihiNeurons(pop, batch, check_overflow=pop.name in self.unsafe)
        return _TianjicNeurons(pop, batch)

    def as_input(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if not np.isin(x, (0, 1)).all():
            raise InputError("fixed-point targets take binary spikes (0/1) as input; "
                             "encode graded values as spikes first")
        return x.astype(np.int64)
