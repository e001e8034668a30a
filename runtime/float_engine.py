"""Float reference engine: runs any float IR for T steps on a batch, per compiler/ir.py.

Each step has the phases of the hardware (`step`): (1) every projection delivers what its
sources sent 1 + d steps ago; (2) every population updates u, v, fires and resets; (3) what
the populations and the inputs send is kept for later steps. Because every projection has at
least one step of latency, the order of populations within a step does not matter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from snnc.compiler import budget
from snnc.compiler.errors import InputError
from snnc.compiler.ir import (HAS_CURRENT, SPIKING, Graph, Population, Projection, ResetMode,
                              reset_due)
from snnc.compiler.linalg import projection_matrices
from snnc.runtime.recorders import OutputRecorder, PopInfo, RunResult, TraceRecorder

# values a neuron holds per sample beyond what it sent: u, v, the refractory count, the
# step's input and the update's temporaries (an estimate for the budget, not a layout)
STATE_VALUES = 6

__all__ = ["FloatEngine", "RunResult"]


@dataclass
class _Synapse:
    src: str
    dst: str
    delay: int
    matrix: np.ndarray | sp.csr_matrix  # (n_dst, n_src)

    def deliver(self, sent: np.ndarray, dst: Any = None) -> np.ndarray:
        """(B, n_src) values sent -> (B, n_dst) summed weighted input."""
        if isinstance(self.matrix, np.ndarray):
            return sent @ self.matrix.T
        return np.asarray((self.matrix @ sent.T).T)


class _Neurons:
    """State of one population: u, v, refractory counters, last spikes."""

    def __init__(self, pop: Population, batch: int):
        self.pop = pop
        n = pop.size
        self.u = np.zeros((batch, n))
        self.v = np.zeros((batch, n))
        self.ref = np.zeros((batch, n), dtype=np.int64)
        self.s = np.zeros((batch, n))
        self.keep_u = 1.0 - pop.du
        self.keep_v = 1.0 - pop.dv
        self.spiking = pop.model in SPIKING
        self.current = pop.model in HAS_CURRENT
        self.peak = 0.0  # largest |u| so far (current_peaks)
        self.track = False

    def update(self, a: np.ndarray, t: int) -> np.ndarray:
        """Advance step t with summed input a; return spikes (B, n) as 0/1 floats."""
        p = self.pop
        on = t >= p.onset  # biases count from the population's onset step
        if reset_due(p.reset_every, p.reset_phase, t):  # the IR's periodic state reset:
            self.u, self.v = np.zeros_like(self.u), np.zeros_like(self.v)  # a pending
            self.ref, self.s = np.zeros_like(self.ref), np.zeros_like(self.s)  # subtraction too
        if self.current:
            self.u = self.keep_u * self.u + a + (p.i_bias if on else 0.0)
            drive = self.u
        else:
            self.u = a
            drive = a
        if self.track and self.u.size:
            self.peak = max(self.peak, float(np.abs(self.u).max()))
        v = self.keep_v * self.v + drive + (p.bias if on else 0.0)
        if p.reset is ResetMode.DELAYED_SUBTRACT:
            v = v - self.s * p.v_th
        if not self.spiking:
            self.v = v
            return self.s
        if p.refractory:
            held = self.ref > 0
            v = np.where(held, p.v_reset, v)
            self.ref = np.maximum(self.ref - 1, 0)
        if p.reset is ResetMode.SUBTRACT_SNNTORCH:
            spiked = v > p.v_th * (1.0 + (self.v > p.v_th))
        else:
            spiked = v > p.v_th
        if p.refractory:
            spiked &= ~held
            self.ref = np.where(spiked, p.refractory, self.ref)
        if p.reset is ResetMode.ZERO:
            v = np.where(spiked, p.v_reset, v)
        elif p.reset in (ResetMode.SUBTRACT, ResetMode.SUBTRACT_SNNTORCH):
            v = v - spiked * p.v_th
        self.v = v
        self.s = spiked.astype(np.float64)
        return self.s


@dataclass
class _RunState:
    """One run: the neurons, the last 1 + max delay steps of what every node sent, the step."""

    neurons: dict[str, Any]
    sent: dict[str, np.ndarray]  # node -> (depth, B, n) ring of what it sent
    t: int = 0


class FloatEngine:
    """Runs a validated float IR. Matrices are built once; `run` may be called many times."""

    dtype: type = np.float64  # state, input and spike arrays

    def __init__(self, graph: Graph):
        self.graph = graph
        self.synapses: list[Any] = []
        for p in graph.projections.values():
            mats = projection_matrices(p, graph.node_shape(p.src), graph.node_size(p.dst))
            for d, m in sorted(mats.items()):
                self.synapses.append(self._synapse(p, d, m))
        self.depth = max((s.delay for s in self.synapses), default=0) + 1

    def _synapse(self, proj: Projection, delay: int, matrix: Any) -> Any:
        return _Synapse(proj.src, proj.dst, delay, matrix)

    def _neurons(self, pop: Population, batch: int) -> Any:
        return _Neurons(pop, batch)

    def pop_info(self) -> dict[str, PopInfo]:
        """What recorders need of every population."""
        return {k: PopInfo(p.size, p.model in SPIKING, self._traces_u(p))
                for k, p in self.graph.populations.items()}

    def _traces_u(self, pop: Population) -> bool:
        return pop.model in HAS_CURRENT

    def check_inputs(self, inputs: Mapping[str, np.ndarray]) -> tuple[int, int]:
        g = self.graph
        missing = sorted(set(g.inputs) - set(inputs))
        extra = sorted(set(inputs) - set(g.inputs))
        if missing or extra:
            raise InputError(f"model inputs are {sorted(g.inputs)}; missing {missing}, "
                             f"unknown {extra}")
        batch, steps = None, None
        for name, x in inputs.items():
            shape = g.inputs[name].shape
            if x.ndim < 2 or tuple(x.shape[2:]) not in (tuple(shape), (int(np.prod(shape)),)):
                raise InputError(f"input '{name}' has shape {x.shape}; expected "
                                 f"(batch, steps, *{shape}) or (batch, steps, "
                                 f"{int(np.prod(shape))}) flattened in C order")
            if batch is not None and (x.shape[0] != batch or x.shape[1] != steps):
                raise InputError("all inputs need the same batch size and number of steps")
            batch, steps = x.shape[0], x.shape[1]
            if not np.isfinite(x).all():
                raise InputError(f"input '{name}' contains NaN or inf")
        if batch is None:
            raise InputError("the model has no input port; nothing to run")
        return batch, steps

    def as_input(self, x: np.ndarray) -> np.ndarray:
        """One input array in the engine's dtype (the fixed engine also checks it is binary)."""
        return np.asarray(x, dtype=np.float64)

    def start(self, batch: int) -> _RunState:
        """Fresh state for a batch: every population at rest, nothing sent yet. A batch whose
        state would be over the memory budget (compiler/budget.py) is refused first."""
        g = self.graph
        n_sent = sum(g.node_size(k) for k in [*g.inputs, *g.populations])
        budget.check(batch, np.dtype(self.dtype).itemsize * (
            self.depth * n_sent + STATE_VALUES * g.n_neurons), "the engine",
            f"{batch} sample(s) of state ({g.n_neurons} neurons, what they sent over "
            f"{self.depth} step(s) of delay); run fewer samples at a time")
        return _RunState(
            neurons={k: self._neurons(p, batch) for k, p in g.populations.items()},
            sent={k: np.zeros((self.depth, batch, g.node_size(k)), dtype=self.dtype)
                  for k in [*g.inputs, *g.populations]})

    def step(self, st: _RunState, host: Mapping[str, np.ndarray]) -> None:
        """Advance one step; host: port -> (B, n) input sent this step."""
        t, depth = st.t, self.depth
        # --- 1. deliver: what was sent at t-1-d (ring slot (t-1-d) mod depth)
        acc = {k: np.zeros((nr.v.shape[0], nr.pop.size), dtype=self.dtype)
               for k, nr in st.neurons.items()}
        for syn in self.synapses:
            sent_at = t - 1 - syn.delay
            if sent_at >= 0:
                acc[syn.dst] += syn.deliver(st.sent[syn.src][sent_at % depth],
                                            st.neurons[syn.dst])
        # --- 2. soma: update, fire, reset; 3. send: keep what leaves at t
        slot = t % depth
        for k, nr in st.neurons.items():
            st.sent[k][slot] = nr.update(acc[k], t)
        for k, x in host.items():
            st.sent[k][slot] = x
        st.t += 1

    def run(self, inputs: Mapping[str, np.ndarray], steps: int | None = None,
            trace: bool = False, on_step: Callable[[int], None] | None = None) -> RunResult:
        """inputs: port -> (B, T_in, *shape). Steps beyond T_in receive no input."""
        g = self.graph
        batch, t_in = self.check_inputs(inputs)
        steps = t_in if steps is None else int(steps)
        flat_in = {k: self.as_input(x).reshape(batch, t_in, -1) for k, x in inputs.items()}
        info = self.pop_info()
        outputs = {k: (o.source or "", o.shape) for k, o in g.outputs.items()}
        recorders: list[Any] = [OutputRecorder(outputs, info, batch, steps, self.dtype)]
        if trace:
            recorders.append(TraceRecorder(info, batch, steps, self.dtype))
        st = self.start(batch)
        for t in range(steps):
            self.step(st, {k: x[:, t] if t < t_in else np.zeros_like(x[:, 0])
                           for k, x in flat_in.items()})
            for r in recorders:
                r.record(t, st.neurons)
            if on_step is not None:
                on_step(t)
        return RunResult(outputs=recorders[0].result(),
                         traces=recorders[1].result() if trace else {}, steps=steps,
                         **self._counted(st))

    def current_peaks(self, inputs: Mapping[str, np.ndarray], steps: int) -> dict[str, float]:
        """The largest |u| (the synaptic current, or the input of a neuron without one) each
        population reaches on `inputs`: how far real inputs take what the quantizer bounds."""
        g = self.graph
        batch, t_in = self.check_inputs(inputs)
        flat = {k: self.as_input(x).reshape(batch, t_in, -1) for k, x in inputs.items()}
        st = self.start(batch)
        for nr in st.neurons.values():
            nr.track = True
        for t in range(steps):
            self.step(st, {k: x[:, t] if t < t_in else np.zeros_like(x[:, 0])
                           for k, x in flat.items()})
        return {k: st.neurons[k].peak for k in g.populations}

    def _counted(self, st: _RunState) -> dict[str, Any]:
        """What a run counted besides its outputs (the fixed engine: range counters)."""
        return {}
