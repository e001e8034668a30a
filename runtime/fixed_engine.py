"""Fixed-point engine: runs a fixed IR with its target's integer arithmetic, on a batch.

The arithmetic is the one the IR was quantized for (meta["arithmetic"], compiler/fixed.py);
the step structure (deliver, soma, send) is the float engine's, so both engines share one
loop. With loihi2's facts it is bit-exact to Lava 0.10.0 `Loihi2SimCfg(select_tag="fixed_pt")`
(tests/integration/test_lava_bitexact.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from snnc.compiler import fixed
from snnc.compiler.dtypes import is_binary
from snnc.compiler.errors import InputError, SnncError
from snnc.compiler.facts import FactError
from snnc.compiler.ir import HAS_CURRENT, Graph, Population, Projection
from snnc.runtime.float_engine import FloatEngine
from snnc.runtime.recorders import range_counters


class FixedRunError(SnncError):
    """The network left the range where the target's arithmetic is defined."""


class _Synapse:
    """Integer weights of one (projection, delay); the arithmetic turns the sum into input."""

    def __init__(self, proj: Projection, delay: int, matrix: Any, ar: fixed.Arithmetic):
        self.src, self.dst, self.delay, self.name = proj.src, proj.dst, delay, proj.name
        self.exp, self.ar = proj.weight_exp, ar
        if sp.issparse(matrix):
            self.matrix: Any = sp.csr_matrix(matrix).astype(np.int64)
        else:
            self.matrix = np.asarray(matrix).astype(np.int64)

    def deliver(self, sent: np.ndarray, dst: Any = None) -> np.ndarray:
        """dst: the _Neurons it feeds, whose range counters a saturating accumulator adds
        to."""
        if isinstance(self.matrix, np.ndarray):
            acc = sent @ self.matrix.T
        else:
            acc = np.asarray((self.matrix @ sent.T).T)
        return self.ar.accumulate(acc, self.exp, None if dst is None else dst.events)


class _Neurons:
    """u, v, refractory counters and last spikes of one population, int64 (B, n); the soma
    is the arithmetic's `update`."""

    def __init__(self, pop: Population, batch: int, ar: fixed.Arithmetic, check: bool):
        self.pop, self.ar, self.check = pop, ar, check
        self.params = fixed.neuron_params(pop)
        self.before_onset = fixed.without_bias(self.params)
        self.u, self.v, self.ref, self.s = (np.zeros((batch, pop.size), dtype=np.int64)
                                            for _ in range(4))
        self.events = np.zeros((batch, 2), dtype=np.int64)  # u wraps, saturations per sample

    def update(self, a: np.ndarray, t: int) -> np.ndarray:
        prm = self.params if t >= self.pop.onset else self.before_onset
        if self.ar.reset_due(self.pop.reset_every, self.pop.reset_phase, t):
            self.u, self.v, self.ref = (np.zeros_like(x) for x in (self.u, self.v, self.ref))
        try:
            self.u, self.v, self.ref, s = self.ar.update(self.u, self.v, self.ref, a, prm,
                                                         self.check, self.events)
        except fixed.FixedOverflow as e:
            raise FixedRunError(f"population '{self.pop.name}': {e}") from None
        self.s = s.astype(np.int64)
        return self.s


class FixedEngine(FloatEngine):
    """Runs a fixed IR (meta stage 'fixed') in its target's integer arithmetic."""

    dtype = np.int64

    def __init__(self, graph: Graph):
        try:
            self.arith = fixed.arithmetic_of(graph)
        except FactError as e:
            raise SnncError(f"the fixed-point engine runs compiled (quantized) models: "
                            f"{e.message}") from None
        super().__init__(graph)
        # Populations whose input could ever leave the arithmetic's defined range are checked
        # every step; for the rest (every quantized model) the bound proves it unnecessary.
        bound = {k: np.zeros(p.size) for k, p in graph.populations.items()}
        for syn in self.synapses:
            rows = abs(syn.matrix).sum(axis=1)
            bound[syn.dst] += np.asarray(rows).reshape(-1) * 2.0 ** max(syn.exp, 0) + 1
        self.unsafe = {k for k, b in bound.items()
                       if b.size and not self.arith.input_bound_ok(float(b.max()))}

    def _synapse(self, proj: Projection, delay: int, matrix: Any) -> Any:
        return _Synapse(proj, delay, matrix, self.arith)

    def _counted(self, st: Any) -> dict[str, Any]:
        """Range counters, as refsim reports them (runtime/recorders.py)."""
        names = list(self.graph.populations)
        events = np.stack([st.neurons[k].events for k in names], axis=1)
        return {"counters": range_counters(events), "layers": names}

    def _neurons(self, pop: Population, batch: int) -> Any:
        return _Neurons(pop, batch, self.arith, check=pop.name in self.unsafe)

    def _traces_u(self, pop: Population) -> bool:
        return self.arith.traces_u(pop.model in HAS_CURRENT)

    def as_input(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if not is_binary(x):
            raise InputError("fixed-point targets take binary spikes (0/1) as input; "
                             "encode graded values as spikes first")
        return x.astype(np.int64)
