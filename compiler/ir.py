"""The snnc IR: populations of neurons, projections between them, input and output ports.

Time is discrete. Every engine honours these per-step equations (docs/semantics.md), for each
population at step t:

    a[t] = sum over incoming projections of W @ s_src[t - 1 - d]   (s[k] = 0 for k < 0)
    u[t] = (1 - du) * u[t-1] + a[t] + i_bias         (CUBA models; others: u[t] = a[t])
    v[t] = (1 - dv) * v[t-1] + u[t] + bias [- v_th * s[t-1] for DELAYED_SUBTRACT]
    s[t] = v[t] > v_th   (SUBTRACT_SNNTORCH: v[t] > v_th * (1 + [v[t-1] > v_th]))
    reset where s[t]: ZERO -> v = v_reset, SUBTRACT(_SNNTORCH) -> v -= v_th, NONE and
                      DELAYED_SUBTRACT -> unchanged (DELAYED_SUBTRACT subtracts the next step)
    refractory r > 0: for r steps after a spike, v is held at v_reset and no spike is emitted.
    onset o: bias and i_bias count from step o on (0 before): a population o projections deep
             starts integrating its bias when its first input can arrive (docs/timing.md).
    state reset every N, phase k (N > 0): u = v = 0 (refractory cleared) before step t when
             (t + 1) % N == k % N (lava-dl netx's reset_interval / reset_offset; a target's
             arithmetic may stretch the period, docs/semantics.md).

Float IR: every parameter is float64 in "source units". Weights carry all input gains (R,
w_in, dt/tau), so a population adds its inputs with gain one. Delays and sparse indices are
int32, or int64 where a value needs it.

Fixed IR (after the quantize pass; meta["stage"] == "fixed"): the same nodes hold integers
(still float64 arrays, exact below 2**53) in the units of the target's arithmetic, which the
IR records in meta["arithmetic"] (compiler/fixed.py spells out every arithmetic). Projections
then carry `weight_exp` and `weight_bits`.

Graph meta holds what passes recorded (for reports) and a few declared annotations that a
frontend sets and passes read (ANNOTATIONS; each pass lists the ones it reads, and the float
verifier checks their types).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from typing import Any

import numpy as np

FORMAT_VERSION = 1

ANNOTATIONS = {
    "native_scale": "float units times this are the integers of the format the model was "
                    "exported in (lava-dl netx: 2^act_shift of loihi2); quantize keeps such a "
                    "model exactly where its integers fit the target",
    "v_bound": "{population: largest |v| it can reach}, for non-spiking readouts (ONNX "
               "conversion); quantize keeps k * bound within half the state range",
    "current_reach": "{population: largest |u| on the frontend's own typical inputs (ONNX "
                     "conversion: its balance data)}; quantize uses it where --calibrate "
                     "measured nothing",
}


class NeuronModel(Enum):
    """Neuron kinds. The equations are in the module docstring."""

    LIF = "lif"  # leaky, input straight into v
    CUBA_LIF = "cuba_lif"  # current-based: input into u, u into v
    IF = "if"  # no leak (dv = 0)
    LI = "li"  # leaky integrator, never spikes
    CUBA_LI = "cuba_li"  # current-based leaky integrator, never spikes
    I = "i"


SPIKING = frozenset({NeuronModel.LIF, NeuronModel.CUBA_LIF, NeuronModel.IF})
HAS_CURRENT = frozenset({NeuronModel.CUBA_LIF, NeuronModel.CUBA_LI})
NO_LEAK = frozenset({NeuronModel.IF, NeuronModel.I})


class ResetMode(Enum):
    """What a spike does to v."""

    ZERO = "zero"  # v = v_reset (v_reset is 0 unless the source said otherwise)
    SUBTRACT = "subtract"  # v -= v_th
    NONE = "none"  # v unchanged
    DELAYED_SUBTRACT = "delayed_subtract"  # v -= v_th one step later, after the leak (snnTorch)
    # snnTorch's immediate subtraction (reset_delay=False): as SUBTRACT, but while the stored
    # v is still above v_th the next spike needs v > 2 v_th. Float engine only: no target has it.
    SUBTRACT_SNNTORCH = "subtract_snntorch"


class Conn(Enum):
    """Connectivity kinds of a projection."""

    DENSE = "dense"  # weight (n_dst, n_src)
    SPARSE = "sparse"  # CSR over dst rows: indptr (n_dst+1), indices (nnz), weight (nnz)
    CONV = "conv"  # weight = kernel (C_out, C_in/groups, *k); geometry in the fields


def _frozen(a: Any, dtype: Any) -> np.ndarray:
    """A read-only array of `dtype`: `a` itself when it already is one that nothing can
    write (a pass replacing one field of a node then shares the others instead of copying
    them: at 100M synapses each copy is gigabytes), else a read-only copy."""
    if isinstance(a, np.ndarray) and a.dtype == dtype and _immutable(a):
        return a
    arr = np.array(a, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr


_INT32 = np.iinfo(np.int32)


def _frozen_ints(a: Any) -> np.ndarray:
    """A read-only integer array: int32 when every value fits (half the memory of int64 for
    the indices and delays of 100M synapses), else int64. The type follows from the values
    alone, so equal graphs have equal types."""
    arr = np.asarray(a)
    if arr.dtype != np.int32:
        if arr.dtype.kind not in "iub":
            arr = arr.astype(np.int64)  # what np.array(a, dtype=np.int64) gave before
        if arr.size and (arr.min() < _INT32.min or arr.max() > _INT32.max):
            return _frozen(arr, np.int64)
    return _frozen(arr, np.int32)


def _immutable(a: np.ndarray) -> bool:
    """No array in a's chain of bases is writeable, and the chain ends in an array that owns
    its memory (not a buffer some other object could write)."""
    b: Any = a
    while isinstance(b, np.ndarray):
        if b.flags.writeable:
            return False
        if b.base is None:
            return b.flags.owndata
        b = b.base
    return False


POP_PARAMS = ("du", "dv", "v_th", "v_reset", "bias", "i_bias")


@dataclass(frozen=True, kw_only=True, eq=False)
class Population:
    """n neurons of one model; per-neuron parameter arrays of length n = prod(shape).

    u = (1-du)*u + a + i_bias;  v = (1-dv)*v + u + bias;  spike = v > v_th.
    """

    name: str
    shape: tuple[int, ...]
    model: NeuronModel
    du: np.ndarray  # current decay per step, [0, 1]; 0 for models without current
    dv: np.ndarray  # voltage decay per step, [0, 1]; 0 for IF and I
    v_th: np.ndarray  # threshold (source units); +inf for non-spiking models
    v_reset: np.ndarray  # value v takes on a ZERO reset
    bias: np.ndarray  # constant added to v every step
    i_bias: np.ndarray  # constant added to u every step (CUBA models only)
    reset: ResetMode = ResetMode.ZERO
    refractory: int = 0  # steps v is held at v_reset after a spike
    onset: int = 0  # first step at which bias and i_bias are added
    reset_every: int = 0  # periodic state reset: every N steps (0: never) ...
    reset_phase: int = 0  # ... before the steps t with (t + 1) % N == reset_phase % N

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        for p in POP_PARAMS:
            object.__setattr__(self, p, _frozen(getattr(self, p), np.float64).reshape(-1))
        for f in ("refractory", "onset", "reset_every", "reset_phase"):
            object.__setattr__(self, f, int(getattr(self, f)))
        if not self.reset_every:  # a phase without a period means nothing: one spelling
            object.__setattr__(self, "reset_phase", 0)

    @property
    def size(self) -> int:
        return math.prod(int(s) for s in self.shape)  # exact: a declared shape may be huge

    @staticmethod
    def make(name: str, shape: tuple[int, ...], model: NeuronModel, **params: Any) -> Population:
        """Build a population, broadcasting scalar parameters and filling model defaults."""
        n = int(np.prod(shape, dtype=np.int64))
        spiking = model in SPIKING
        defaults = {"du": 0.0, "dv": 0.0, "v_th": 1.0 if spiking else np.inf, "v_reset": 0.0,
                    "bias": 0.0, "i_bias": 0.0}
        arrays = {}
        for p in POP_PARAMS:
            val = np.asarray(params.pop(p, defaults[p]), dtype=np.float64)
            arrays[p] = np.broadcast_to(val.reshape(-1) if val.size == n else val, (n,))
        reset = params.pop("reset", ResetMode.ZERO if spiking else ResetMode.NONE)
        return Population(name=name, shape=tuple(shape), model=model, reset=reset,
                          **arrays, **params)


@dataclass(frozen=True, kw_only=True, eq=False)
class Projection:
    """Synapses from `src` (population or input port) to `dst` (population).

    Spikes sent at step t on a synapse of delay d arrive at step t + 1 + d.
    `delay` has the shape of `weight` (one integer delay per stored synapse or kernel tap).
    """

    name: str
    src: str
    dst: str
    kind: Conn
    weight: np.ndarray  # float64; layout depends on kind (see Conn)
    delay: np.ndarray  # int32 (int64 if a value needs it), same shape as weight, >= 0, steps
    indptr: np.ndarray | None = None  # SPARSE only; int32 (int64 if a value needs it)
    indices: np.ndarray | None = None  # SPARSE only; int32 (int64 if a value needs it)
    stride: tuple[int, ...] = ()  # CONV only, one entry per spatial dim
    padding: tuple[int, ...] = ()
    dilation: tuple[int, ...] = ()
    groups: int = 1
    weight_exp: int = 0  # fixed IR: the per-step sum is shifted by 2**weight_exp
    weight_bits: int = 0  # fixed IR: precision of the stored weights; 0 = float weights

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", _frozen(self.weight, np.float64))
        object.__setattr__(self, "delay", _frozen_ints(self.delay))
        for f in ("indptr", "indices"):
            if getattr(self, f) is not None:
                object.__setattr__(self, f, _frozen_ints(getattr(self, f)))
        for f in ("stride", "padding", "dilation"):
            object.__setattr__(self, f, tuple(int(x) for x in getattr(self, f)))
        for f in ("groups", "weight_exp", "weight_bits"):
            object.__setattr__(self, f, int(getattr(self, f)))

    @property
    def n_synapses(self) -> int:
        """Non-zero kernel entries for CONV (Graph.n_synapses expands them); non-zero
        weights otherwise."""
        return int(np.count_nonzero(self.weight))

    @property
    def max_delay(self) -> int:
        return int(self.delay.max()) if self.delay.size else 0


@dataclass(frozen=True, kw_only=True, eq=False)
class Port:
    """A graph input (fed by the user) or output (reads a population)."""

    name: str
    shape: tuple[int, ...]
    source: str | None = None  # outputs: the population read; inputs: None

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))

    @property
    def size(self) -> int:
        return math.prod(int(s) for s in self.shape)  # exact: a declared shape may be huge


@dataclass(frozen=True, eq=False)
class Graph:
    """A whole network. Nodes are linked by name; dicts are kept sorted by name."""

    populations: Mapping[str, Population]
    projections: Mapping[str, Projection]
    inputs: Mapping[str, Port]
    outputs: Mapping[str, Port]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for f in ("populations", "projections", "inputs", "outputs"):
            d = getattr(self, f)
            object.__setattr__(self, f, {k: d[k] for k in sorted(d)})
        object.__setattr__(self, "meta", json.loads(json.dumps(dict(self.meta), sort_keys=True)))

    @staticmethod
    def build(populations: list[Population], projections: list[Projection],
              inputs: list[Port], outputs: list[Port], meta: Mapping[str, Any] | None = None
              ) -> Graph:
        """Make a graph from lists of nodes (names must be unique per kind)."""
        return Graph(populations={p.name: p for p in populations},
                     projections={p.name: p for p in projections},
                     inputs={p.name: p for p in inputs}, outputs={p.name: p for p in outputs},
                     meta=dict(meta or {}))

    def node_shape(self, name: str) -> tuple[int, ...]:
        """Shape of a projection endpoint: a population or an input port."""
        if name in self.populations:
            return self.populations[name].shape
        return self.inputs[name].shape

    def node_size(self, name: str) -> int:
        return math.prod(int(s) for s in self.node_shape(name))

    def incoming(self, pop: str) -> list[Projection]:
        return [p for p in self.projections.values() if p.dst == pop]

    def with_meta(self, **kv: Any) -> Graph:
        return replace(self, meta={**self.meta, **kv})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Graph) and graph_equal(self, other)

    __hash__ = None  # type: ignore[assignment]

    def digest(self) -> str:
        """sha256 of the canonical text form; equal graphs have equal digests. Kept after the
        first call (a second costs a second at 100M synapses): a Graph is never changed in
        place (passes make new ones, arrays are read-only)."""
        from snnc.compiler.canonical import canonical_sha256

        d = self.__dict__.get("_digest")
        if d is None:
            d = canonical_sha256(self)
            object.__setattr__(self, "_digest", d)
        return d

    @property
    def n_neurons(self) -> int:
        return sum(p.size for p in self.populations.values())

    @property
    def n_synapses(self) -> int:
        """Stored synapses: every non-zero weight, convolutions expanded over the output
        positions each tap reaches (what a chip stores; compiler/linalg.projection_coo)."""
        return sum(self.synapses_of(k) for k in self.projections)

    def synapses_of(self, name: str) -> int:
        """Stored synapses of one projection (see n_synapses)."""
        p = self.projections[name]
        if p.kind is Conn.CONV:
            from snnc.compiler.linalg import conv_synapses

            return conv_synapses(p, self.node_shape(p.src))
        return p.n_synapses


def _value_equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        return a.dtype == b.dtype and a.shape == b.shape and bool(
            np.array_equal(a, b, equal_nan=True))
    return type(a) is type(b) and a == b


def node_equal(a: Any, b: Any) -> bool:
    """Field-by-field equality of two IR nodes (arrays compared exactly, dtype included)."""
    return type(a) is type(b) and all(
        _value_equal(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))


def graph_equal(a: Graph, b: Graph) -> bool:
    """Exact structural equality of two graphs, including meta."""
    for f in ("populations", "projections", "inputs", "outputs"):
        da, db = getattr(a, f), getattr(b, f)
        if list(da) != list(db) or not all(node_equal(da[k], db[k]) for k in da):
            return False
    return a.meta == b.meta


def graph_diff(a: Graph, b: Graph) -> list[str]:
    """Human-readable list of differences (for test failure messages)."""
    out = []
    for f in ("populations", "projections", "inputs", "outputs"):
        da, db = getattr(a, f), getattr(b, f)
        if set(da) != set(db):
            out.append(f"{f}: {sorted(da)} != {sorted(db)}")
            continue
        for k in da:
            for fl in fields(da[k]):
                va, vb = getattr(da[k], fl.name), getattr(db[k], fl.name)
                if not _value_equal(va, vb):
                    out.append(f"{f}[{k}].{fl.name}: {_brief(va, vb)}")
    if a.meta != b.meta:
        out.append(f"meta: {a.meta} != {b.meta}")
    return out


def _brief(a: Any, b: Any) -> str:
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        if a.shape != b.shape or a.dtype != b.dtype:
            return f"{a.dtype}{a.shape} != {b.dtype}{b.shape}"
        i = int(np.argmax(a.reshape(-1) != b.reshape(-1)))
        return (f"{int((a != b).sum())} values differ, first at flat index {i}: "
                f"{a.reshape(-1)[i]!r} != {b.reshape(-1)[i]!r}")
    return f"{a!r} != {b!r}"


def reset_due(every: Any, phase: Any, t: int, extra: int = 0) -> Any:
    """Periodic state reset before step t: (t + 1) % P == phase % P with P = every + extra,
    where every > 0 (lava-dl's LIFReset counts steps from 1)."""
    if isinstance(every, int) and every == 0:
        return False
    every, phase = np.asarray(every), np.asarray(phase)
    period = np.where(every > 0, every + extra, 1)
    due = (every > 0) & ((t + 1) % period == phase % period)
    return bool(due) if due.ndim == 0 else due
