"""The sections of `snnc report` (resources, activity, energy, timing, fidelity), each computed
from a run's counters, the mapping summary and the target's facts; snnc/report.py reads the
artifact, runs the simulated chip and assembles them (rendered by runtime/report_render.py).

Energy = sum over event types of (events x the target's energy per event); every constant is
given with the source its target file gives. The ANN comparison uses Horowitz (ISSCC 2014,
45 nm): E_MAC = 4.6 pJ, E_AC = 0.9 pJ (32-bit float).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from snnc.compiler.errors import SnncError
from snnc.compiler.ir import SPIKING, Graph

E_MAC_PJ, E_AC_PJ = 4.6, 0.9
HOROWITZ = "Horowitz, ISSCC 2014: 45 nm, 32-bit float MAC 4.6 pJ, add 0.9 pJ"
LIMITS = ("neurons", "in_axons", "out_axons", "synapse_memory_bits")


def fact(target: dict[str, Any], key: str) -> dict[str, Any] | None:
    """A fact of a manifest's target as {value, source[, borrowed_from]} (None if absent)."""
    f = target["facts"].get(key)
    return None if f is None else {"value": f["value"], "source": f["source"],
                                   **({"borrowed_from": f["borrowed_from"]}
                                      if "borrowed_from" in f else {})}


def resources(m: dict[str, np.ndarray], summ: dict[str, Any]) -> dict[str, Any]:
    lim = summ["limits"]
    n = len(m["kind"])
    cores = [{"core": c, "chip": int(m["chip"][c]), "x": int(m["x"][c]), "y": int(m["y"][c]),
              "kind": "partial" if m["kind"][c] else "soma",
              **{k: int(m[f"usage.{k}"][c]) for k in (*LIMITS, "synapses", "routing_entries")
                 if f"usage.{k}" in m}} for c in range(n)]
    util = np.max(np.stack([m[f"usage.{k}"] / lim[k] for k in LIMITS]), axis=0)
    return {"cores_used": summ["cores_used"], "cores_lower_bound": summ["cores_lower_bound"],
            "chip_grid": summ["chip_grid"],
            "lower_bounds": summ["lower_bounds"], "chips": summ["chips"], "limits": lim,
            "max_utilization": summ["max_utilization"], "totals": summ["totals"],
            "layers": summ["layers"], "cores": cores,
            "core_utilization": [round(float(u), 4) for u in util],
            "placement": {"placer": summ["placer"], "seed": summ["seed"],
                          "weighted_hops": summ["weighted_hops"],
                          "routed_hops": summ["routed_hops"],
                          "max_link_load": summ["max_link_load"]}}


def activity(g: Graph, c: dict[str, np.ndarray], names: list[str], batch: int, steps: int
             ) -> dict[str, Any]:
    per_inf = {k: float(c[k].sum()) / batch for k in
               ("synops", "neuron_updates", "spikes", "packets", "hops")}
    layers = {}
    for i, (name, p) in enumerate((k, g.populations[k]) for k in names):
        spk = float(c["layer_spikes"][:, i].sum())
        layers[name] = {"neurons": p.size, "spikes_per_inference": spk / batch,
                        "spike_rate": spk / (p.size * steps * batch) if p.size else 0.0,
                        "synops_per_inference": float(c["layer_synops"][:, i].sum()) / batch}
    return {"per_inference": per_inf, "layers": layers}


ENERGY_FACTS = {"synaptic_ops": "energy_pj.synop",
                "neuron_updates_active": "energy_pj.neuron_update_active",
                "neuron_updates_inactive": "energy_pj.neuron_update_inactive",
                "spikes": "energy_pj.spike_in_tile",
                "hops_east_west": "noc.hop_energy_pj_ew",
                "hops_north_south": "noc.hop_energy_pj_ns"}


def sample_events(c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per sample (B,), the events of each energy row, from a counted run's sample_* counters.
    A neuron update that fires counts as active."""
    spikes, updates = c["sample_spikes"], c["sample_neuron_updates"]
    active = np.minimum(spikes, updates)
    return {"synaptic_ops": c["sample_synops"], "neuron_updates_active": active,
            "neuron_updates_inactive": updates - active, "spikes": spikes,
            "hops_east_west": c["sample_link_ew"], "hops_north_south": c["sample_link_ns"]}


def _pj(target: dict[str, Any], key: str) -> dict[str, Any]:
    f = fact(target, key)
    if f is None:  # the target loader requires every energy fact
        raise SnncError(f"the artifact's target lacks the fact {key}; recompile it")
    return f


def sample_energy(target: dict[str, Any], c: dict[str, np.ndarray]) -> np.ndarray:
    """Joules of each sample's inference (B,), the same sum as `energy`, sample by sample."""
    total = np.zeros(len(c["sample_spikes"]))
    for k, ev in sample_events(c).items():
        total += ev * float(_pj(target, ENERGY_FACTS[k])["value"])
    return total * 1e-12


def energy(target: dict[str, Any], c: dict[str, np.ndarray], batch: int) -> dict[str, Any]:
    """Energy per inference by event type, each with its constant and source."""
    rows: dict[str, dict[str, Any]] = {
        k: {"events": float(ev.sum()), "pj": _pj(target, ENERGY_FACTS[k])}
        for k, ev in sample_events(c).items()}
    total_pj = 0.0
    for r in rows.values():
        r["events_per_inference"] = r["events"] / batch
        r["joules_per_inference"] = r["events_per_inference"] * float(r["pj"]["value"]) * 1e-12
        total_pj += r["events_per_inference"] * float(r["pj"]["value"])
    return {"per_inference_joules": total_pj * 1e-12, "by_event": rows}


def neurobench(g: Graph, c: dict[str, np.ndarray], batch: int, steps: int,
               mem_bits: int, state_bits: int) -> dict[str, Any]:
    """NeuroBench-style static and workload metrics (Yik et al., NeuroBench, 2023/2025)."""
    synapses = g.n_synapses  # stored synapses, convolutions expanded
    dense = sum(g.node_size(p.src) * g.node_size(p.dst) for p in g.projections.values())
    spiking = sum(p.size for p in g.populations.values() if p.model in SPIKING)
    acs = float(c["synops"].sum()) / batch
    return {
        "effective_acs_per_inference": acs,
        "effective_macs_per_inference": 0.0,  # every synaptic op is spike-driven (an AC)
        "activation_sparsity": 1.0 - float(c["spikes"].sum()) / max(1, spiking * steps * batch),
        "connection_sparsity": 1.0 - synapses / max(1, dense),
        "footprint_bytes": {"synapses": mem_bits // 8,
                            "neuron_state": g.n_neurons * 2 * state_bits // 8},
        "ann_equivalent": {"macs_per_inference": synapses, "e_mac_pj": E_MAC_PJ,
                           "joules_per_inference": synapses * E_MAC_PJ * 1e-12,
                           "snn_acs_joules_per_inference": acs * E_AC_PJ * 1e-12,
                           "e_ac_pj": E_AC_PJ, "source": HOROWITZ},
    }


def timing(c: dict[str, np.ndarray], target: dict[str, Any]) -> dict[str, Any]:
    lat = c["latency_cycles"]
    sec = c["latency_seconds"]
    crit = np.bincount(c["critical_core"].ravel()).argmax() if lat.size else 0
    out = {"cycles_per_step": {"mean": float(lat.mean()), "max": float(lat.max()),
                               "per_step_mean": [round(float(v), 3) for v in lat.mean(axis=1)]},
           "critical_core": int(crit),
           "latency_per_inference_seconds": float(sec.sum(axis=0).mean()),
           "clock_hz": fact(target, "timing.clock_hz"),
           "budget_cycles": fact(target, "timing.cycles_per_step")}
    if "fits_budget" in c:
        out["steps_within_budget"] = float(c["fits_budget"].mean())
    return out


def fidelity(manifest: dict[str, Any], fixed_out: np.ndarray | None,
             float_out: np.ndarray | None, c: dict[str, np.ndarray] | None = None,
             layers: list[str] | None = None) -> dict[str, Any]:
    q = manifest.get("quantize", {})
    out: dict[str, Any] = {"weight_bits": q.get("weight_bits"),
                           "projections": q.get("projections", {}),
                           "warnings": q.get("warnings", [])}
    if c is not None and layers is not None and "layer_wraps" in c:
        out["range"] = {name: {"wraps": int(w), "saturations": int(s),
                               **(q.get("populations", {}).get(name, {}).get("headroom") or {})}
                        for name, w, s in zip(layers, c["layer_wraps"], c["layer_saturations"],
                                              strict=True)}
    if fixed_out is not None and float_out is not None:
        a = fixed_out.reshape(fixed_out.shape[0], fixed_out.shape[1], -1).sum(axis=1)
        b = float_out.reshape(float_out.shape[0], float_out.shape[1], -1).sum(axis=1)
        corr = (float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
                if a.std() > 0 and b.std() > 0 else None)
        out["float_vs_fixed"] = {
            "samples": int(a.shape[0]),
            "argmax_agreement": float((a.argmax(axis=1) == b.argmax(axis=1)).mean()),
            "exact_count_match": float((a == b).all(axis=1).mean()),
            "count_correlation": corr}
    else:
        out["float_vs_fixed"] = None
    return out
