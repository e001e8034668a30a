"""The reference simulator's program: the core map as flat integer tables (refsim/program.npz).

What each core holds and how spikes reach it, with nothing left to re-derive from the IR:

    per neuron      du, dv, bias, i_bias, v_th, v_reset, reset code, refractory, bias onset,
                    flags,
                    home core, hops and packets of one spike (from the routing pass)
    axon entries    (core, source) pairs: every axon of every core, in core order
    deliveries      source -> the axon entries it reaches: its home core's own axon, plus the
                    cores its routing-table entries name (checked to be exactly the cores
                    whose axon tables list it); input channels are written by the host
    synapses        per axon entry: accumulator slot, integer weight, delay
    slots           one accumulator per (neuron, projection, delay): the target shifts (and
                    for Tianjic saturates) each such sum on its own (docs/semantics.md)
    index           JSON: the arithmetic the IR was quantized for (compiler/fixed.py), the
                    timing facts, populations, ports

The core map must have passed compiler/verify_mapped.py (the pipeline runs it after every
mapping pass): routes reach exactly the cores whose axon tables list a neuron.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from snnc.compiler.coremap import CoreMap
from snnc.compiler.dtypes import index_type, narrow
from snnc.compiler.errors import SnncError
from snnc.compiler.fixed import arithmetic_of, neuron_params
from snnc.compiler.ir import HAS_CURRENT, SPIKING, Graph
from snnc.compiler.synapse_kernels import (accumulator_slots, axon_entries, count_per,
                                            counting_order, relay_chains)
from snnc.compiler.targets import TargetSpec

PROGRAM_VERSION = 2  # 2: the index carries the arithmetic; timing facts have no defaults


class ProgramError(SnncError):
    """The core map is inconsistent: a route and an axon table disagree."""


def _neuron_arrays(g: Graph, cm: CoreMap) -> dict[str, np.ndarray]:
    """Per global neuron id, the integer parameters the soma reads (fixed.neuron_params)."""
    n = cm.ids.n_neurons
    keys = ("du", "dv", "bias", "i_bias", "v_th", "v_reset", "reset", "refractory")
    out = {k: np.zeros(n, dtype=np.int64) for k in (*keys, "spiking", "current", "onset")}
    for name in cm.ids.order:
        prm = neuron_params(g.populations[name])
        sl = slice(cm.ids.offset[name], cm.ids.offset[name] + g.populations[name].size)
        for k in keys:
            out[k][sl] = getattr(prm, k)
        out["spiking"][sl] = prm.spiking
        out["onset"][sl] = g.populations[name].onset
        out["current"][sl] = prm.current
    return {f"neuron.{k}": v for k, v in out.items()}


def _reset_schedule(p: Any) -> dict[str, int]:
    """A population's periodic state reset, where it has one (IR reset_every/reset_phase)."""
    return {"reset_every": p.reset_every, "reset_phase": p.reset_phase} if p.reset_every else {}


def timing_facts(t: TargetSpec) -> dict[str, Any]:
    """The cycle costs runtime/refsim_timing.py needs, from the target's facts (all required
    by the target loader; the per-step budget is optional)."""
    ew, ns = float(t["noc.hop_latency_cycles_ew"]), float(t["noc.hop_latency_cycles_ns"])
    budget = t.get("timing.cycles_per_step")
    return {"clock_hz": float(t["timing.clock_hz"]),
            "cycles_per_synop": float(t["timing.cycles_per_synop"]),
            "cycles_per_neuron_update": float(t["timing.cycles_per_neuron_update"]),
            "cycles_per_spike": float(t["timing.cycles_per_spike"]),
            "hop_latency_cycles": [ew, ew, ns, ns],  # east, west, north, south
            "link_occupancy_cycles": float(t["noc.link_occupancy_cycles"]),
            "cycles_per_step": None if budget is None else float(budget)}


def _destinations(cm: CoreMap, home: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per neuron, the cores its packets reach: tree, any order; relay, in chain order."""
    table = cm.routes["table"]
    n = cm.ids.n_neurons
    if cm.meta.get("routing") != "relay":
        o = np.lexsort((table["to"], table["neuron"]))
        ptr = np.searchsorted(table["neuron"][o], np.arange(n + 1))
        return ptr.astype(np.int64), table["to"][o].astype(np.int64)
    # relay: follow each chain from the home core; entries are (core, neuron) -> next
    ptr, dests, broken = relay_chains(table["core"], table["neuron"], table["to"], home, n)
    if broken >= 0:
        raise ProgramError(f"the relay chain of neuron {broken} is broken")
    return ptr, dests


def program(g: Graph, cm: CoreMap, t: TargetSpec) -> dict[str, np.ndarray]:
    """Flat tables of the module docstring, from a fixed IR and its routed core map."""
    return dict(program_items(g, cm, t))


def program_items(g: Graph, cm: CoreMap, t: TargetSpec) -> Iterator[tuple[str, np.ndarray]]:
    """program(), as (name, array) pairs: each synapse-sized table is built when it is
    asked for and dropped by the time the next is built, so a writer (artifact.save_npz)
    holds at most three synapse-sized arrays at once, not the whole program."""
    syn, ids, nc = cm.syn, cm.ids, cm.n_cores
    ns = ids.n_sources
    # accumulator slots: one per (neuron, projection, delay)
    d1 = int(syn.delay.max(initial=0)) + 1
    n_keys = len(syn.proj_names) * d1
    key = syn.proj.astype(index_type(n_keys))  # projection x delays + delay, in place
    key *= d1
    key += syn.delay
    syn_slot, slot_ptr, slot_key = accumulator_slots(syn.dst, key, ids.n_neurons, n_keys)
    del key
    slot_proj = slot_key // d1
    exps = np.array([g.projections[p].weight_exp for p in syn.proj_names], dtype=np.int64)
    # axon entries, in core order; the entry of each synapse's (core, source)
    entry_core = np.repeat(np.arange(nc), np.diff(cm.axon_ptr))
    entry_src = cm.axons
    syn_entry = axon_entries(cm.syn_core, syn.src, cm.axon_ptr, cm.axons, ns)
    if (syn_entry < 0).any():
        raise ProgramError("a synapse's source is not on its core's axon table")
    so = counting_order(syn_entry, len(entry_src))  # synapses in entry order
    entry_syn_ptr = np.concatenate([[0], np.cumsum(count_per(syn_entry, len(entry_src)))])
    del syn_entry
    yield "syn.slot", narrow(syn_slot[so])
    del syn_slot
    yield "syn.weight", narrow(syn.weight[so])
    yield "syn.delay", narrow(syn.delay[so])
    # every synapse of a projection reaches its one target population
    names = ids.names()
    proj_layer = narrow(np.array([names.index(g.projections[p].dst) for p in syn.proj_names],
                                 dtype=np.int64))
    yield "syn.layer", proj_layer[syn.proj[so]]
    del so
    # deliveries: a source reaches every axon entry that lists it (the routes reach exactly
    # those cores, checked by compiler/verify_mapped.py); the host writes input channels
    home = cm.neuron_core()
    table = cm.routes["table"]
    o = counting_order(entry_src, ns)
    src_entry_ptr = np.searchsorted(entry_src[o], np.arange(ns + 1))
    gx, gy = cm.global_xy()
    remote = np.bincount(table["neuron"], minlength=ids.n_neurons)
    dest_ptr, dests = _destinations(cm, home)
    yield from _neuron_arrays(g, cm).items()
    yield from {
        "neuron.home": home, "neuron.spike_hops": cm.routes["spike_hops"],
        "neuron.spike_packets": remote.astype(np.int64),
        "entry.core": narrow(entry_core), "entry.src": narrow(entry_src),
        "src.entry_ptr": narrow(src_entry_ptr), "src.entry": narrow(o),
        "entry.syn_ptr": narrow(entry_syn_ptr),
        "slot.ptr": slot_ptr.astype(np.int64), "slot.exp": exps[slot_proj],
        "core.kind": cm.kind.astype(np.int64), "core.soma": cm.soma,
        "core.neurons": np.diff(cm.neuron_ptr), "core.gx": gx, "core.gy": gy,
        "core.chip": cm.chip, "neuron.dest_ptr": dest_ptr, "neuron.dests": dests,
    }.items()
    ar = arithmetic_of(g)
    index = {
        "version": PROGRAM_VERSION, "target": cm.target, "semantics": ar.semantics,
        "arithmetic": ar.to_json(),
        "n_neurons": ids.n_neurons, "n_sources": ns, "n_cores": nc,
        "routing": cm.meta.get("routing"), "timing": timing_facts(t),
        "grid": [int(gx.max(initial=0)) + 1, int(gy.max(initial=0)) + 1],
        "populations": [{"name": k, "offset": ids.offset[k], "size": ids.size[k],
                         "spiking": g.populations[k].model in SPIKING,
                         "current": g.populations[k].model in HAS_CURRENT,
                         **_reset_schedule(g.populations[k])}
                        for k in ids.order],
        "inputs": [{"name": k, "offset": ids.offset[k], "size": ids.size[k],
                    "shape": list(p.shape)} for k, p in g.inputs.items()],
        "outputs": [{"name": k, "source": p.source, "shape": list(p.shape)}
                    for k, p in g.outputs.items()],
    }
    yield "index", np.array(json.dumps(index, sort_keys=True))


def load_index(arrays: dict[str, Any]) -> dict[str, Any]:
    idx = json.loads(str(arrays["index"]))
    if idx.get("version") != PROGRAM_VERSION:
        raise ProgramError(f"refsim program version {idx.get('version')!r}; this snnc reads "
                           f"{PROGRAM_VERSION}; recompile the model")
    return idx


class RefsimBackend:
    """Emits refsim/program.npz: the core map as the reference simulator runs it."""

    name = "refsim"
    owns = ("refsim",)

    def check(self, t: TargetSpec) -> None:
        """Every arithmetic and core map runs on the simulator."""

    def emit(self, root: Path, fixed: Graph, coremap: CoreMap, t: TargetSpec, save_npz: Any
             ) -> list[str]:
        (root / "refsim").mkdir(exist_ok=True)
        save_npz(root / "refsim" / "program.npz", program_items(fixed, coremap, t))
        return ["refsim/program.npz"]
