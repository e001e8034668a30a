"""partition: slice a fixed IR into cores that respect every per-core limit at once.

Neurons are laid out in one global order (populations topologically, spatial-major inside a
(C, H, W) population so a core holds all channels of a patch and shares its axons), then cut
greedily: each core takes the longest run of neurons whose distinct input axons, synapse
memory (weight bits x stored synapses), fan-out and neuron count all fit. Small layers share
cores. A neuron whose own fan-in does not fit one core starts a dendrite-split group: its
sources are cut into chunks, one partial-sum core per chunk, and the soma core adds the
forwarded integer sums (exact: integer addition is associative and no partial sum of
<= 2^16 int8 products can saturate a 32-bit accumulator).

Fan-out depends on where the targets land, so the cut is repeated with the fan-out found by
the previous cut until every core fits (it only grows, so this ends).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import networkx as nx
import numpy as np
from snnc.compiler.coremap import LIMITS, PARTIAL, SOMA, CoreMap, Ids, Synapses
from snnc.compiler.errors import SnncError
from snnc.compiler.memory import give_back
from snnc.compiler.ir import Graph
from snnc.compiler.passes import PassContext, Stage, register_pass
from snnc.compiler.dtypes import index_type
from snnc.compiler.synapse_kernels import (add_distinct, bits_per, count_per, distinct_sources,
                                            inverse_of, new_inputs, plain_run, position_starts,
                                            present, source_gaps)
from snnc.compiler.targets import TargetSpec


SYN_CORE_START = np.int16  # type of each synapse's core, widened once past 32767 cores


class PartitionError(SnncError):
    """A neuron or synapse cannot be placed on any core of the target."""


def population_order(g: Graph) -> list[str]:
    """Populations in topological order of the projection graph (cycles condensed), ties by
    name, so that layers that talk to each other get neighbouring neuron ids."""
    dg = nx.DiGraph()
    dg.add_nodes_from(g.populations)
    dg.add_edges_from((p.src, p.dst) for p in g.projections.values()
                      if p.src in g.populations and p.src != p.dst)
    cond = nx.condensation(dg)
    order: list[str] = []
    for c in nx.lexicographical_topological_sort(
            cond, key=lambda c: min(cond.nodes[c]["members"])):
        order.extend(sorted(cond.nodes[c]["members"]))
    return order


def morton(coords: np.ndarray) -> np.ndarray:
    """Z-order code of integer points (d, n): interleaved bits, so runs of the order are
    compact 2-D (or 3-D) tiles."""
    d = coords.shape[0]
    code = np.zeros(coords.shape[1], dtype=np.int64)
    for b in range(max(1, int(coords.max(initial=0)).bit_length())):
        for k in range(d):
            code |= ((coords[k] >> b) & 1) << (b * d + k)
    return code


def neuron_positions(g: Graph, ids: Ids) -> np.ndarray:
    """Position of every global neuron id in the cut order: for (C, *spatial) populations,
    pixels in Z-order and all channels of a pixel together, so a core holds compact patches
    whose receptive fields overlap (fewer distinct input axons)."""
    perm = []
    for name in ids.order:
        shape = g.populations[name].shape
        local = np.arange(g.populations[name].size, dtype=np.int64)
        if len(shape) >= 3:
            pix = np.indices(shape[1:]).reshape(len(shape) - 1, -1)
            zorder = np.argsort(morton(pix), kind="stable")  # pixels, Z-order
            grid = local.reshape(shape[0], -1)  # (C, pixels)
            local = grid[:, zorder].T.reshape(-1)
        perm.append(local + ids.offset[name])
    order = np.concatenate(perm) if perm else np.zeros(0, dtype=np.int64)
    pos = np.empty(ids.n_neurons, dtype=np.int64)
    pos[order] = np.arange(ids.n_neurons)
    return pos


class _Limits:
    def __init__(self, t: TargetSpec):
        self.N = int(t["core.neurons"])
        self.A = int(t["core.in_axons"])
        self.O = int(t["core.out_axons"])
        self.M = int(t["core.synapse_memory_bits"])
        self.tree = t["noc.multicast"] == "tree"


class _Cut:
    """The result of one greedy cut, core by core."""

    def __init__(self) -> None:
        self.kind: list[int] = []
        self.soma: list[int] = []
        self.neurons: list[tuple[int, int]] = []  # position range
        self.axons: list[np.ndarray] = []
        self.partial_inputs: list[int] = []


class _Scratch:
    """Per-source scratch arrays the distinct-source kernels reuse, and per-position prefix
    sums of a neuron's own synapse bits (a group's memory without touching its synapses)."""

    def __init__(self, n_src: int, mem1: np.ndarray) -> None:
        self.seen = np.zeros(n_src, dtype=np.bool_)
        self.slot = np.zeros(n_src, dtype=np.int64)
        self.cum_mem = np.concatenate([[0], np.cumsum(mem1)])


def _chunks(mem_per_src: np.ndarray, first_cap: int, A: int, M: int, where: str
            ) -> list[int]:
    """Boundaries of consecutive source chunks: <= cap axons and <= M bits each."""
    cm = np.concatenate([[0], np.cumsum(mem_per_src)])
    bounds, i, cap = [0], 0, first_cap
    while i < len(mem_per_src):
        j = min(len(mem_per_src), i + cap,
                int(np.searchsorted(cm, cm[i] + M, side="right")) - 1)
        if j <= i:
            raise PartitionError(f"{where}: one input axon carries {int(mem_per_src[i])} bits of "
                                 f"synapses, more than a core's {M}; split the layer")
        bounds.append(j)
        i, cap = j, A
    return bounds


def _cut(syn: Synapses, n: int, ip: np.ndarray, gap: np.ndarray,
         fan: np.ndarray, lim: _Limits, name_of: Callable[[int], str], fanin: np.ndarray,
         mem1: np.ndarray, scratch: _Scratch) -> tuple[_Cut, np.ndarray]:
    """One greedy cut; returns the cores and the core of every synapse.

    At each step it compares a plain core (the longest run that fits) with a dendrite-split
    group (up to a core's worth of neurons over several cores) and takes the one that places
    more neurons per core.
    """
    N, A, O, M = lim.N, lim.A, lim.O, lim.M
    alone = (fanin <= A) & (mem1 <= M) & (fan <= O)
    cut = _Cut()
    # narrow until the cores outgrow it (2 bytes a synapse, not 4, through the compile)
    syn_core = np.empty(syn.n, dtype=SYN_CORE_START)
    lo = 0
    while lo < n:
        cnt = plain_run(lo, min(n, lo + N), ip, gap, mem1, fan, A, O, M) if alone[lo] else 0
        if cnt < min(N, n - lo) and _group_may_win(syn, n, fan, lim, lo, cnt, scratch):
            plan = _plan_group(syn, n, ip, fan, lim, lo, name_of, required=cnt == 0,
                               scratch=scratch)
            if plan is not None and plan[0] > cnt * plan[3]:
                syn_core = _room(syn_core, len(cut.kind) + plan[3])
                lo = _emit_group(plan, lo, cut, syn_core)
                continue
        s0, s1 = ip[lo], ip[lo + cnt]
        c = len(cut.kind)
        syn_core = _room(syn_core, c + 1)
        cut.kind.append(SOMA)
        cut.soma.append(c)
        cut.neurons.append((lo, lo + cnt))
        cut.axons.append(distinct_sources(syn.src[s0:s1], scratch.seen))
        cut.partial_inputs.append(0)
        syn_core[s0:s1] = c
        lo += cnt
    return cut, syn_core


def _room(syn_core: np.ndarray, n_cores: int) -> np.ndarray:
    """syn_core, widened (once, a copy) when core ids below `n_cores` do not fit its type."""
    if n_cores - 1 <= np.iinfo(syn_core.dtype).max:
        return syn_core
    return syn_core.astype(index_type(n_cores))


def _group_size(syn: Synapses, n: int, fan: np.ndarray, lim: _Limits, lo: int) -> int:
    """Neurons of a dendrite-split group at `lo`: a core's worth, as far as its out-axons and
    one synapse each of the widest weights allow. A partial-sum core sends one sum a neuron
    of the group, so a group has at most a core's out-axons of neurons (a group of neurons
    that send nowhere, an output layer, is otherwise only capped by the neurons of a core)."""
    g = min(lim.N, lim.O, n - lo, max(1, lim.M // int(syn.bits.max(initial=1))))
    fo = np.cumsum(fan[lo:lo + g])
    return max(1, int(np.searchsorted(fo, lim.O, side="right")))


def _group_may_win(syn: Synapses, n: int, fan: np.ndarray, lim: _Limits, lo: int, cnt: int,
                   scratch: _Scratch) -> bool:
    """Whether a group could place more neurons per core than the plain core's `cnt`: a
    group of g neurons needs at least its synapse memory / M cores, so if g <= cnt x that
    bound, planning it (a pass over its synapses) is skipped."""
    if cnt == 0:
        return True
    g = _group_size(syn, n, fan, lim, lo)
    need = max(1, math.ceil((scratch.cum_mem[lo + g] - scratch.cum_mem[lo]) / lim.M))
    return g > cnt * need


def _plan_group(syn: Synapses, n: int, ip: np.ndarray, fan: np.ndarray,
                lim: _Limits, lo: int, name_of: Callable[[int], str], required: bool,
                scratch: _Scratch
                ) -> tuple[int, np.ndarray, np.ndarray, int, list[int], int, int] | None:
    """A dendrite-split group of up to N neurons at `lo`: (g, sources, source index of each
    synapse, cores, chunk bounds, first synapse, end synapse); None if it cannot be made and
    is not required."""
    A, O, M = lim.A, lim.O, lim.M
    g = _group_size(syn, n, fan, lim, lo)
    where = f"neuron {name_of(lo)}"
    if fan[lo] > O:
        raise PartitionError(f"{where} sends to {int(fan[lo])} cores; a core has {O} output "
                             "axons")
    s0, s1 = ip[lo], ip[lo + g]
    src = distinct_sources(syn.src[s0:s1], scratch.seen)
    inv = inverse_of(syn.src[s0:s1], src, scratch.slot)
    mem_src = np.bincount(inv, weights=syn.bits[syn.proj[s0:s1]], minlength=len(src))
    reserve = 0
    try:
        while True:
            if reserve >= A:
                raise PartitionError(f"{where} needs more partial-sum cores than a core has "
                                     f"axons ({A}) to receive them")
            bounds = _chunks(mem_src, A - reserve, A, M, where)
            k = len(bounds) - 1
            if k - 1 <= reserve:
                break
            reserve = k - 1
    except PartitionError:
        if required:
            raise
        return None
    return g, src, inv, k, bounds, int(s0), int(s1)


def _emit_group(plan: tuple[int, np.ndarray, np.ndarray, int, list[int], int, int], lo: int,
                cut: _Cut, syn_core: np.ndarray) -> int:
    """Append a planned group's soma and partial-sum cores; returns the next position."""
    g, src, inv, k, bounds, s0, s1 = plan
    base = len(cut.kind)
    for i in range(k):
        cut.kind.append(SOMA if i == 0 else PARTIAL)
        cut.soma.append(base)
        cut.neurons.append((lo, lo + g))
        cut.axons.append(src[bounds[i]:bounds[i + 1]])
        cut.partial_inputs.append(k - 1 if i == 0 else 0)
    chunk_of_src = np.searchsorted(np.array(bounds), np.arange(len(src)), side="right") - 1
    syn_core[s0:s1] = base + chunk_of_src[inv]
    return lo + g


def _fanout(cut: _Cut, n_src: int, tree: bool) -> np.ndarray:
    """Per source id: distinct cores it sends to (tree) or 1 if it sends at all (relay). A
    core's axons are exactly the distinct sources of its synapses, so this counts axons."""
    counts = np.bincount(np.concatenate(cut.axons), minlength=n_src) if cut.axons else \
        np.zeros(n_src, dtype=np.int64)
    return counts if tree else np.minimum(counts, 1)


@register_pass(stage_in=Stage.FIXED, stage_out=Stage.MAPPED, requires=("quantize",))
def partition(g: Graph, ctx: PassContext, opts: None = None) -> CoreMap:
    """cut populations into cores within every per-core limit (dendrite split)"""
    t = ctx.target
    lim = _Limits(t)
    order = population_order(g)
    ids = Ids.of(g, order)
    position = neuron_positions(g, ids)
    syn = Synapses.of(g, ids, position)
    give_back()  # the expansion blocks of its layers
    n = ids.n_neurons
    at = np.empty(n, dtype=np.int64)  # global id at each position
    at[position] = np.arange(n)
    names = ids.names()

    def name_of(p: int) -> str:
        gid = int(at[p])
        o = int(ids.owner(np.array([gid]))[0])
        return f"{names[o]}[{gid - ids.offset[names[o]]}]"

    ip = position_starts(syn.pos, n)  # each position's first synapse (pos is sorted)
    gap = source_gaps(syn.src, syn.pos, ids.n_sources, lim.N)  # a plain run is <= N long
    # per position: distinct inputs and synapse bits of the neuron alone (fan-out independent)
    fanin = new_inputs(syn.pos, gap, n)
    mem1 = bits_per(syn.pos, syn.proj, syn.bits, n)
    scratch = _Scratch(ids.n_sources, mem1)

    # first estimate of fan-out: one per (source neuron, target population); a population's
    # neurons hold one run of positions, so its synapses are one run of the list
    fan_src = np.zeros(ids.n_sources, dtype=np.int64)
    for name in order:
        s0, s1 = ip[ids.offset[name]], ip[ids.offset[name] + ids.size[name]]
        add_distinct(syn.src[s0:s1], scratch.seen, fan_src)
    if not lim.tree:
        fan_src = np.minimum(fan_src, 1)
    for attempt in range(12):
        fan = fan_src[at].astype(np.int64)
        cut = syn_core = None  # type: ignore[assignment]  # the last cut's, freed first
        cut, syn_core = _cut(syn, n, ip, gap, fan, lim, name_of, fanin, mem1,
                             scratch)
        actual = _fanout(cut, ids.n_sources, lim.tree)
        out_use = _out_usage(cut, actual[at])
        if (out_use <= lim.O).all():
            break
        ctx.say(f"partition: fan-out over {lim.O} on {(out_use > lim.O).sum()} cores; "
                f"re-cutting ({attempt + 1})")
        fan_src = np.maximum(fan_src, actual)
        if attempt >= 3:  # still over after re-cuts: inflate the neurons of the cores over
            for c in np.flatnonzero(out_use > lim.O):
                lo, hi = cut.neurons[c]
                gid = at[lo:hi]
                fan_src[gid] = np.ceil(actual[gid] * out_use[c] / lim.O).astype(np.int64)
    else:
        raise PartitionError(f"could not meet the {lim.O} output axons per core of {t.name}")
    # one neuron's own fan-in needs at least ceil(distinct inputs / axons) cores
    fanin_cores = int(math.ceil(fanin.max(initial=0) / lim.A))
    return _coremap(g, t, ids, syn, at, cut, syn_core, out_use, fanin_cores, lim)


def _out_usage(cut: _Cut, fan_at: np.ndarray) -> np.ndarray:
    cum = np.concatenate([[0], np.cumsum(fan_at)])
    out = np.empty(len(cut.kind), dtype=np.int64)
    for c, (lo, hi) in enumerate(cut.neurons):
        out[c] = cum[hi] - cum[lo] if cut.kind[c] == SOMA else hi - lo
    return out


def _coremap(g: Graph, t: TargetSpec, ids: Ids, syn: Synapses, at: np.ndarray, cut: _Cut,
             syn_core: np.ndarray, out_use: np.ndarray, fanin_cores: int, lim: _Limits
             ) -> CoreMap:
    nc = len(cut.kind)
    sizes = np.array([hi - lo for lo, hi in cut.neurons], dtype=np.int64)
    neuron_ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    neurons = (np.concatenate([at[lo:hi] for lo, hi in cut.neurons]) if nc
               else np.zeros(0, dtype=np.int64))
    ax_sizes = np.array([len(a) for a in cut.axons], dtype=np.int64)
    axon_ptr = np.concatenate([[0], np.cumsum(ax_sizes)]).astype(np.int64)
    axons = np.concatenate(cut.axons).astype(np.int64) if nc else np.zeros(0, dtype=np.int64)
    synapses = count_per(syn_core, nc)
    memory = bits_per(syn_core, syn.proj, syn.bits, nc)
    partial = np.array(cut.partial_inputs, dtype=np.int64)
    usage = {"neurons": sizes, "in_axons": ax_sizes + partial, "out_axons": out_use,
             "synapse_memory_bits": memory, "synapses": synapses, "partial_inputs": partial}
    cap = {"neurons": lim.N, "in_axons": lim.A, "out_axons": lim.O,
           "synapse_memory_bits": lim.M}
    sending = present(syn.src, ids.n_sources)
    n_sending = int(sending[:ids.n_neurons].sum())
    used_sources = int(sending.sum())
    bounds = {
        "neurons": math.ceil(ids.n_neurons / lim.N),
        "in_axons": max(math.ceil(used_sources / lim.A), fanin_cores),
        "out_axons": math.ceil(n_sending / lim.O),
        "synapse_memory_bits": math.ceil(int(memory.sum()) / lim.M),
    }
    bounds["cores"] = max(bounds[k] for k in LIMITS)
    meta = {"limits": cap, "dendrite_split_cores": int((np.array(cut.kind) == PARTIAL).sum())}
    return CoreMap(target=t.name, ids=ids, kind=np.array(cut.kind, dtype=np.int8),
                   soma=np.array(cut.soma, dtype=np.int64), neuron_ptr=neuron_ptr,
                   neurons=neurons, axon_ptr=axon_ptr, axons=axons, usage=usage,
                   syn_core=syn_core, syn=syn, bounds=bounds, meta=meta)
