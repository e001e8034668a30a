"""Invariants of a core map (compiler/coremap.py) against its target's limits.

The pipeline runs this after every pass of the mapped stage, so a backend never writes a core
that breaks a limit, a synapse its core cannot address, or a route that misses a core. It
re-counts each core's usage from the map's own arrays (not the partition pass's bookkeeping)
and checks, as far as the map has got:

  partitioned  every neuron on exactly one soma core, partial-sum cores serving their soma's
               neurons; every synapse on a core of its target neuron's group whose axon list
               holds its source, with a delay the target holds; neurons, in_axons (+ partial-
               sum inputs), out_axons and synapse memory per core equal to the recorded usage
               and within the limits
  placed       every core on a distinct slot of the mesh, at most chip.cores per chip
  routed       every (source neuron, remote core) pair of the synapses reached by the tables

Errors are MapError, naming the core and the limit. Given the map a pass started from
(`prev`, already verified), it skips the invariants of the arrays the pass did not replace:
a CoreMap's arrays are read-only, so the same array object holds the same values. So place
is checked for placement, and route for routes, without re-counting the partition.
tests/mapping_checker.py re-derives the same from the written files independently.
"""

from __future__ import annotations

import numpy as np
from snnc.compiler.coremap import LIMITS, PARTIAL, SOMA, CoreMap
from snnc.compiler.errors import SnncError
from snnc.compiler.synapse_kernels import bits_per, first_stray, unaddressed
from snnc.compiler.targets import TargetSpec


class MapError(SnncError):
    """A core map breaks an invariant; names the core and the limit."""


def limits(t: TargetSpec) -> dict[str, int]:
    """The per-core limits of a target, keyed as LIMITS."""
    return {k: int(t[f"core.{k}"]) for k in LIMITS}


def _groups(cm: CoreMap) -> np.ndarray:
    """Home (soma) core of every neuron, after checking soma/partial structure."""
    nc, n = cm.n_cores, cm.ids.n_neurons
    counts = np.diff(cm.neuron_ptr)
    core = np.repeat(np.arange(nc), counts)
    soma_core = cm.kind[core] == SOMA
    home = np.full(n, -1, dtype=np.int64)
    ids = cm.neurons[soma_core]
    times = np.bincount(ids, minlength=n) if len(ids) else np.zeros(n, dtype=np.int64)
    if (times > 1).any():
        dup = ids[np.flatnonzero(times[ids] > 1)[0]]
        raise MapError(f"neuron {int(dup)} is on two soma cores")
    home[ids] = core[soma_core]
    if (home < 0).any():
        raise MapError(f"neuron {int(np.flatnonzero(home < 0)[0])} is on no soma core")
    bad = np.flatnonzero((cm.kind == SOMA) & (cm.soma != np.arange(nc)))
    if len(bad):
        raise MapError(f"core {int(bad[0])}: a soma core must be its own soma")
    for c in np.flatnonzero(cm.kind == PARTIAL):
        s = int(cm.soma[c])
        if not 0 <= s < nc or cm.kind[s] != SOMA or not np.array_equal(
                np.sort(cm.core_neurons(c)), np.sort(cm.core_neurons(s))):
            raise MapError(f"core {int(c)}: a partial-sum core must serve exactly the neurons "
                           f"of its soma core {s}")
    return home


def _check_synapses(cm: CoreMap, home: np.ndarray, delay_max: int) -> None:
    """Each synapse sits in its target's group, on a core whose axons hold its source, with
    a delay the target holds."""
    syn, nc = cm.syn, cm.n_cores
    if len(cm.syn_core) != syn.n or (syn.n and (cm.syn_core.min() < 0
                                               or cm.syn_core.max() >= nc)):
        raise MapError("a synapse is on no core")
    if syn.n and int(syn.delay.max()) > delay_max:
        i = int(np.argmax(syn.delay))
        raise MapError(f"core {int(cm.syn_core[i])}: a synapse has delay {int(syn.delay[i])}, "
                       f"beyond the target's format.delay_max {delay_max} (run lower_delays "
                       "first)")
    unsorted = np.flatnonzero(np.diff(cm.axons) <= 0) + 1  # positions that do not increase
    starts = set(cm.axon_ptr[:-1].tolist())
    for k in unsorted:
        if int(k) not in starts:
            c = int(np.searchsorted(cm.axon_ptr, k, side="right")) - 1
            raise MapError(f"core {c}: its axon list is not sorted and unique")
    # by position: the soma core of the neuron at each position, so that no synapse-sized
    # column of target ids is made
    i = first_stray(cm.syn_core, syn.pos, cm.soma, home[syn.at_pos])
    if i >= 0:
        d = int(syn.at_pos[syn.pos[i]])
        raise MapError(f"core {int(cm.syn_core[i])}: holds a synapse of neuron {d}, "
                       f"whose soma core is {int(home[d])}")
    # each synapse's source is on its core's axon list, and every axon carries a synapse: the
    # axon lists are exactly the cores' sources (what CoreMap.neuron_pairs, and so place and
    # route, read)
    i, e = unaddressed(cm.syn_core, syn.src, cm.axon_ptr, cm.axons)
    if i >= 0:
        raise MapError(f"core {int(cm.syn_core[i])}: holds a synapse from source "
                       f"{int(syn.src[i])}, which is not on its axon list")
    if e >= 0:
        c = int(np.searchsorted(cm.axon_ptr, e, side="right")) - 1
        raise MapError(f"core {c}: its axon for source {int(cm.axons[e])} carries no synapse")


def _usage(cm: CoreMap, t: TargetSpec, home: np.ndarray, pairs: tuple[np.ndarray, np.ndarray]
           ) -> dict[str, np.ndarray]:
    """Per-core usage of every limit, re-counted from the map's arrays."""
    nc, syn = cm.n_cores, cm.syn
    partial_in = np.bincount(cm.soma[cm.kind == PARTIAL], minlength=nc)
    src, _ = pairs
    tree = t["noc.multicast"] == "tree"
    n_dest = np.bincount(src, minlength=cm.ids.n_neurons)
    out = np.bincount(home, weights=n_dest if tree else np.minimum(n_dest, 1),
                      minlength=nc).astype(np.int64)
    part = cm.kind == PARTIAL
    out[part] += np.diff(cm.neuron_ptr)[part]
    return {"neurons": np.diff(cm.neuron_ptr),
            "in_axons": np.diff(cm.axon_ptr) + partial_in,
            "out_axons": out,
            "synapse_memory_bits": bits_per(cm.syn_core, syn.proj, syn.bits, nc)}


def _check_placement(cm: CoreMap, t: TargetSpec) -> None:
    cols, rows = (int(v) for v in t["chip.mesh"])
    nc = cm.n_cores
    if not (len(cm.chip) == len(cm.x) == len(cm.y) == nc):
        raise MapError("placement does not give every core a slot")
    off = np.flatnonzero((cm.x < 0) | (cm.x >= cols) | (cm.y < 0) | (cm.y >= rows)
                         | (cm.chip < 0))
    if len(off):
        c = int(off[0])
        raise MapError(f"core {c}: slot ({int(cm.x[c])}, {int(cm.y[c])}) is outside the "
                       f"{cols}x{rows} mesh of target {t.name}")
    slot = (cm.chip * rows + cm.y) * cols + cm.x
    if len(np.unique(slot)) != nc:
        _, first, counts = np.unique(slot, return_index=True, return_counts=True)
        c = int(first[np.argmax(counts > 1)])
        raise MapError(f"core {c}: shares its slot with another core")
    per_chip = np.bincount(cm.chip)
    if per_chip.max(initial=0) > int(t["chip.cores"]):
        raise MapError(f"chip {int(per_chip.argmax())} holds {int(per_chip.max())} cores; "
                       f"limit chip.cores = {t['chip.cores']} of target {t.name}")


def _check_routes(cm: CoreMap, t: TargetSpec, home: np.ndarray,
                  pairs: tuple[np.ndarray, np.ndarray]) -> None:
    """The routing tables reach exactly the remote (neuron, core) pairs of the synapses."""
    src, core = pairs
    remote = core != home[src]
    nc = cm.n_cores
    want = src[remote] * nc + core[remote]
    table = cm.routes["table"]
    if t["noc.multicast"] == "tree":
        if (table["core"] != home[table["neuron"]]).any():
            raise MapError("a multicast route entry is not at its neuron's core")
        got = np.unique(table["neuron"] * nc + table["to"])
    else:
        got = np.unique(_relay_reached(table, home, nc))
    if len(got) == len(want) and np.array_equal(got, np.sort(want)):
        return  # got is sorted and unique; want is unique (one per core and axon)
    missing = np.setdiff1d(want, got, assume_unique=True)
    if len(missing):
        raise MapError(f"core {int(missing[0] % nc)}: no route brings the spikes of neuron "
                       f"{int(missing[0] // nc)} that its synapses need")
    extra = np.setdiff1d(got, want, assume_unique=True)
    if len(extra):
        raise MapError(f"core {int(extra[0] % nc)}: a route brings the spikes of neuron "
                       f"{int(extra[0] // nc)}, which no synapse there needs")


def _relay_reached(table: dict[str, np.ndarray], home: np.ndarray, nc: int) -> np.ndarray:
    """(neuron * nc + core) of every core the relay chains visit, following each chain from
    the neuron's home core."""
    key = table["core"] * (len(home) + 1) + table["neuron"]
    o = np.argsort(key, kind="stable")
    key, nxt, nrn = key[o], table["to"][o], table["neuron"][o]
    if len(key) > 1 and (np.diff(key) == 0).any():
        raise MapError("a relay route entry has two next hops")
    reached = []
    who = np.unique(nrn)
    at = home[who]
    for _ in range(nc + 1):
        k = at * (len(home) + 1) + who
        i = np.minimum(np.searchsorted(key, k), max(len(key) - 1, 0))
        hit = key[i] == k if len(key) else np.zeros(len(k), dtype=bool)
        if not hit.any():
            break
        at, who = nxt[i[hit]], who[hit]
        reached.append(who * nc + at)
    return np.concatenate(reached) if reached else np.zeros(0, dtype=np.int64)


PARTITION = ("kind", "soma", "neuron_ptr", "neurons", "axon_ptr", "axons", "syn_core", "syn")
PLACEMENT = ("chip", "x", "y")


def _same(cm: CoreMap, prev: CoreMap | None, names: tuple[str, ...]) -> bool:
    return prev is not None and all(getattr(cm, n) is getattr(prev, n) for n in names)


def verify_coremap(cm: CoreMap, t: TargetSpec, prev: CoreMap | None = None) -> CoreMap:
    """Check the invariants of the module docstring; MapError names the core and the limit.
    `prev`: the verified map the pass started from (its unchanged arrays are not re-checked)."""
    home = _groups(cm)
    partitioned = _same(cm, prev, PARTITION) and prev is not None and all(
        cm.usage.get(k) is prev.usage.get(k) for k in LIMITS)
    pairs = cm.neuron_pairs() if not partitioned or cm.routes else None
    if not partitioned:
        _check_partition(cm, t, home, pairs)
    if len(cm.chip) and not _same(cm, prev, PLACEMENT):
        _check_placement(cm, t)
    if cm.routes and (prev is None or cm.routes is not prev.routes):
        _check_routes(cm, t, home, pairs)
    return cm


def _check_partition(cm: CoreMap, t: TargetSpec, home: np.ndarray,
                     pairs: tuple[np.ndarray, np.ndarray]) -> None:
    _check_synapses(cm, home, t.arith.delay_max)
    lim = limits(t)
    for k, used in _usage(cm, t, home, pairs).items():
        over = np.flatnonzero(used > lim[k])
        if len(over):
            c = int(over[0])
            raise MapError(f"core {c}: {k} {int(used[c])} exceeds the limit {lim[k]} of "
                           f"target {t.name} (core.{k})")
        if k in cm.usage and not np.array_equal(cm.usage[k], used):
            c = int(np.flatnonzero(cm.usage[k] != used)[0])
            raise MapError(f"core {c}: recorded {k} {int(cm.usage[k][c])}, but it holds "
                           f"{int(used[c])}")
