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
from snnc.compiler.ir import Conn, Graph
from snnc.compiler.dtypes import index_type, narrow
from snnc.compiler.linalg import coo_blocks
from snnc.compiler.synapse_kernels import (coo_scatter, position_starts, sparse_positions,
                                            sparse_scatter)

SOMA, PARTIAL = 0, 1
KEEP_EXPANDED_BYTES = 512 << 20  # dense/conv expansions kept between the two passes of
                                 # Synapses.of (above this they are expanded twice)
EXPAND_BLOCK = 8_000_000  # synapses of a dense/conv projection expanded at once (about 64
                          # bytes each while expanded: 512 MB, whatever the layer's size)
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
        """Index into order + inputs of each global id (a table lookup for many ids, a
        search for few)."""
        names = self.names()
        gid = np.asarray(gid)
        if gid.size > self.n_sources // 4 and self.n_sources:
            table = np.repeat(np.arange(len(names), dtype=np.int32),
                              [self.size[n] for n in names])
            return table[gid]  # int32: a synapse-sized result stays small
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


def _range_type(arrays: Any) -> np.dtype:
    """The narrowest signed type holding every integer value of some arrays."""
    lo = hi = 0
    for a in arrays:
        if np.size(a):
            lo, hi = min(lo, int(np.min(a))), max(hi, int(np.max(a)))
    return narrow(np.array([lo, hi])).dtype


@dataclass(frozen=True)
class Synapses:
    """Every stored synapse, sorted by the position of its target neuron."""

    src: np.ndarray  # global source id (int32, or int64 past 2^31 sources)
    pos: np.ndarray  # position of the target neuron in partition order, the sort key (same
                     # type); its global id is `dst`, computed when asked for
    weight: np.ndarray  # integer weight, narrowest signed type (compiler/dtypes.py)
    delay: np.ndarray  # steps, narrowest signed type
    proj: np.ndarray  # index into proj_names, narrowest signed type
    proj_names: tuple[str, ...]
    bits: np.ndarray  # weight bits per projection (index = proj)
    at_pos: np.ndarray  # global neuron id at each position (per neuron, not per synapse)

    @staticmethod
    def of(g: Graph, ids: Ids, position: np.ndarray) -> Synapses:
        """Every stored synapse in the narrowest integer arrays, ordered by target position
        with a counting sort: one pass counts positions, a second places each synapse in its
        slot (no unsorted copy of the table, no permutation: memory is the table itself)."""
        names = tuple(g.projections)
        projs = list(g.projections.values())
        n = g.n_synapses
        it = index_type(ids.n_sources)
        # pass 1: the target position of every synapse, projection by projection
        unsorted = np.empty(n, dtype=it)
        wt = _range_type(p.weight for p in projs)
        dt = _range_type(p.delay for p in projs)
        kept: dict[int, list[tuple[np.ndarray, ...]]] = {}  # expanded dense/conv blocks
        kept_bytes, at = 0, 0
        for k, p in enumerate(projs):
            if p.kind is Conn.SPARSE:
                if p.n_synapses > n - at:
                    raise AssertionError("Graph.n_synapses counts fewer synapses than stored")
                at = sparse_positions(p.indptr, p.weight, ids.offset[p.dst], position, at,
                                      unsorted)
                continue
            blocks: list[tuple[np.ndarray, ...]] | None = []
            for r, c, w, d in coo_blocks(p, g.node_shape(p.src), EXPAND_BLOCK):
                if at + len(r) > n:
                    raise AssertionError("Graph.n_synapses counts fewer synapses than it "
                                         "stores")
                pr = position[r + ids.offset[p.dst]].astype(it)
                unsorted[at:at + len(r)] = pr
                at += len(r)
                if blocks is not None and kept_bytes + len(r) * 10 <= KEEP_EXPANDED_BYTES:
                    blocks.append((pr, (c + ids.offset[p.src]).astype(it), w.astype(wt),
                                   d.astype(dt)))
                    kept_bytes += len(r) * 10
                else:  # expanded again in pass 2
                    kept_bytes -= sum(len(b[0]) * 10 for b in blocks or ())
                    blocks = None
            if blocks is not None:
                kept[k] = blocks
        if at != n:
            raise AssertionError("Graph.n_synapses counts more synapses than it stores")
        start = position_starts(unsorted, len(position))
        del unsorted
        # pass 2: each synapse straight to its slot of the table sorted by position (the
        # same order as pass 1, so the sort is stable)
        pos, src = np.empty(n, dtype=it), np.empty(n, dtype=it)
        weight, delay = np.empty(n, dtype=wt), np.empty(n, dtype=dt)
        proj = np.empty(n, dtype=narrow(np.array([len(projs)])).dtype)
        out = (pos, src, weight, delay, proj)
        for k, p in enumerate(projs):
            if p.kind is Conn.SPARSE:
                sparse_scatter(p.indptr, p.indices, p.weight, p.delay, ids.offset[p.src],
                               ids.offset[p.dst], position, k, start, *out)
                continue
            if k in kept:
                for b in kept.pop(k):
                    coo_scatter(*b, k, start, *out)
                continue
            for r, c, w, d in coo_blocks(p, g.node_shape(p.src), EXPAND_BLOCK):
                coo_scatter(position[r + ids.offset[p.dst]], c + ids.offset[p.src], w, d, k,
                            start, *out)
        at_pos = np.empty(len(position), dtype=it)  # global id at each position
        at_pos[position] = np.arange(len(position), dtype=it)
        bits = np.array([max(p.weight_bits, 1) for p in g.projections.values()], dtype=np.int64)
        return Synapses(src, pos, weight, delay, proj, names, bits, at_pos)

    def __post_init__(self) -> None:
        _freeze(self)

    @property
    def dst(self) -> np.ndarray:
        """Global target neuron id of every synapse. Not stored: it is the neuron at the
        synapse's position, and a column of it would be 4 bytes a synapse for the whole
        compile (1G synapses: 4 GB) where its few readers need it for a moment."""
        return self.at_pos[self.pos]

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
        routes carry (host input channels are not routed). A core's axons are exactly the
        distinct sources of its synapses (compiler/verify_mapped.py checks both ways), so
        the pairs are read off the axon tables."""
        nc = self.n_cores
        core = np.repeat(np.arange(nc, dtype=np.int64), np.diff(self.axon_ptr))
        is_neuron = self.axons < self.ids.n_neurons
        key = np.sort(self.axons[is_neuron].astype(np.int64) * nc + core[is_neuron])
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
        key = np.unique(owner.astype(np.int64) * max(self.n_cores, 1) + core)
        for o, c in zip((key // max(self.n_cores, 1)).tolist(),
                        (key % max(self.n_cores, 1)).tolist(), strict=True):
            out.setdefault(self.ids.order[o], []).append(c)
        return out
