"""The core map: where every neuron, synapse and route of a fixed IR lives on the chips.

Neurons get global ids: populations in `order`, each a contiguous id range. Sources (what an
axon carries) are the neurons followed by the input ports' channels. A core is a list of
neuron ids (CSR `neuron_ptr`/`neurons`) and a list of source ids, its axons (`axon_ptr`/
`axons`). A "soma" core updates and fires its neurons; a "partial" core only accumulates the
weighted sum of its axons for the neurons of its soma core and forwards that integer sum
(dendrite splitting, for neurons whose fan-in exceeds one core's axons).

Arrays are numpy, indexed by core, so a map of millions of neurons stays compact. They are
read-only once in a CoreMap: a pass makes new arrays for what it changes, so an array a pass
did not replace is known to be unchanged (the core-map verifier relies on that).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
from snnc.compiler.ir import Graph
from snnc.compiler.linalg import projection_coo

SOMA, PARTIAL = 0, 1
LIMITS = ("neurons", "in_axons", "out_axons", "synapse_memory_bits")


@dataclass(frozen=True)
class Ids:
    """Global neuron and source numbering of a graph."""

    order: tuple[str, ...]  # populations, in neuron-id order
    offset: dict[str, int]  # first global source id of each population and input port
    size: dict[str, int]
    n_neurons: int
    n_sources: int

    @staticmethod
    def of(g: Graph, order: list[str]) -> Ids:
        offset, size, k = {}, {}, 0
        for name in order:
            offset[name], size[name] = k, g.populations[name].size
            k += size[name]
        n = k
        for name, port in g.inputs.items():
            offset[name], size[name] = k, port.size
            k += port.size
        return Ids(tuple(order), offset, size, n, k)

    def owner(self, gid: np.ndarray) -> np.ndarray:
        """Index into order + inputs of each global id."""
        names = list(self.order) + [n for n in self.offset if n not in self.order]
        starts = np.array([self.offset[n] for n in names])
        return np.searchsorted(starts, gid, side="right") - 1

    def names(self) -> list[str]:
        return list(self.order) + [n for n in self.offset if n not in self.order]


def _freeze(obj: Any) -> None:
    """Make every array of a dataclass (and of its dict fields, one level down) read-only."""
    for f in fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, np.ndarray):
            v.setflags(write=False)
        elif isinstance(v, dict):
            for w in v.values():
                if isinstance(w, np.ndarray):
                    w.setflags(write=False)
                elif isinstance(w, dict):
                    for a in w.values():
                        if isinstance(a, np.ndarray):
                            a.setflags(write=False)


@dataclass(frozen=True)
class Synapses:
    """Every stored synapse, sorted by the position of its target neuron."""

    src: np.ndarray  # int64 global source id
    dst: np.ndarray  # int64 global neuron id
    pos: np.ndarray  # int64 position of dst in partition order (the sort key)
    weight: np.ndarray  # int64
    delay: np.ndarray  # int64 steps
    proj: np.ndarray  # int32 index into proj_names
    proj_names: tuple[str, ...]
    bits: np.ndarray  # weight bits per projection (index = proj)

    @staticmethod
    def of(g: Graph, ids: Ids, position: np.ndarray) -> Synapses:
        srcs, dsts, ws, ds, ps = [], [], [], [], []
        names = tuple(g.projections)
        for k, p in enumerate(g.projections.values()):
            r, c, w, d = projection_coo(p, g.node_shape(p.src))
            srcs.append(np.asarray(c, dtype=np.int64) + ids.offset[p.src])
            dsts.append(np.asarray(r, dtype=np.int64) + ids.offset[p.dst])
            ws.append(np.asarray(w).astype(np.int64))
            ds.append(np.asarray(d).astype(np.int64))
            ps.append(np.full(len(r), k, dtype=np.int32))
        cat = (lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dtype=dt))
        src, dst = cat(srcs, np.int64), cat(dsts, np.int64)
        pos = position[dst]
        o = np.argsort(pos, kind="stable")
        bits = np.array([max(p.weight_bits, 1) for p in g.projections.values()], dtype=np.int64)
        return Synapses(src[o], dst[o], pos[o], cat(ws, np.int64)[o], cat(ds, np.int64)[o],
                        cat(ps, np.int32)[o], names, bits)

    def __post_init__(self) -> None:
        _freeze(self)

    @property
    def n(self) -> int:
        return len(self.src)


@dataclass(frozen=True, eq=False)
class CoreMap:
    """Cores, their contents, placement and routes (module docstring)."""

    target: str
    ids: Ids
    kind: np.ndarray  # int8 per core: SOMA or PARTIAL
    soma: np.ndarray  # int64 per core: the core that fires its neurons (itself for SOMA)
    neuron_ptr: np.ndarray
    neurons: np.ndarray  # global neuron ids, per core
    axon_ptr: np.ndarray
    axons: np.ndarray  # global source ids, per core, sorted
    usage: dict[str, np.ndarray]  # per limit (LIMITS) and "synapses", "partial_inputs"
    syn_core: np.ndarray  # core holding each synapse of `syn`
    syn: Synapses
    bounds: dict[str, int]  # lower bound on cores implied by each limit
    chip: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    x: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    y: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    routes: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _freeze(self)

    @property
    def n_cores(self) -> int:
        return len(self.kind)

    def core_neurons(self, c: int) -> np.ndarray:
        return self.neurons[self.neuron_ptr[c]:self.neuron_ptr[c + 1]]

    def core_axons(self, c: int) -> np.ndarray:
        return self.axons[self.axon_ptr[c]:self.axon_ptr[c + 1]]

    def neuron_core(self) -> np.ndarray:
        """The soma core of every global neuron id."""
        out = np.full(self.ids.n_neurons, -1, dtype=np.int64)
        counts = np.diff(self.neuron_ptr)
        core = np.repeat(np.arange(self.n_cores), counts)
        somas = self.kind[core] == SOMA
        out[self.neurons[somas]] = core[somas]
        return out

    def global_xy(self) -> tuple[np.ndarray, np.ndarray]:
        """Grid coordinates of every core across the tiled chips (after place)."""
        cols, rows = self.meta["mesh"]
        cc = int(self.meta["chip_grid"][0])
        return self.x + (self.chip % cc) * cols, self.y + (self.chip // cc) * rows

    def neuron_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (source neuron, destination core) pairs of the synapses, sorted: what the
        routes carry (host input channels are not routed)."""
        nc = self.n_cores
        is_neuron = self.syn.src < self.ids.n_neurons
        key = np.unique(self.syn.src[is_neuron] * nc + self.syn_core[is_neuron])
        return key // nc, key % nc

    def with_(self, **kv: Any) -> CoreMap:
        return replace(self, **kv)

    def describe(self) -> str:
        """A few lines for people: cores per kind and layer, then placement and routes as
        far as the map has got (`snnc compile --print-ir-after`)."""
        part = int((self.kind == PARTIAL).sum())
        lines = [f"core map for {self.target}: {self.n_cores} cores ({part} partial-sum), "
                 f"{self.ids.n_neurons} neurons, {self.syn.n} synapses; lower bound "
                 f"{self.bounds.get('cores')} cores"]
        limits = self.meta.get("limits", {})
        for name, cores in self.layer_cores().items():
            use = ", ".join(f"{k} {int(self.usage[k][cores].max())}/{limits[k]}"
                            for k in LIMITS if k in limits)
            lines.append(f"  {name}: {len(cores)} cores (busiest: {use})")
        if len(self.chip):
            lines.append(f"  placed ({self.meta.get('placer')}, seed {self.meta.get('seed')}) "
                         f"on {self.meta.get('chips')} chip(s): "
                         f"{self.meta.get('weighted_hops', 0):.0f} traffic-weighted hops")
        if self.routes:
            lines.append(f"  routed ({self.meta.get('routing')}): "
                         f"{len(self.routes['table']['core'])} table entries, "
                         f"{self.meta.get('routed_hops')} link traversals, busiest link "
                         f"{self.meta.get('max_link_load')} packets per step")
        return "\n".join(lines) + "\n"

    def layer_cores(self) -> dict[str, list[int]]:
        """Soma and partial cores holding neurons of each population."""
        owner = self.ids.owner(self.neurons)
        core = np.repeat(np.arange(self.n_cores), np.diff(self.neuron_ptr))
        out: dict[str, list[int]] = {}
        pairs = np.unique(np.stack([owner, core]), axis=1) if len(core) else np.zeros((2, 0))
        for o, c in pairs.T:
            out.setdefault(self.ids.order[int(o)], []).append(int(c))
        return out
