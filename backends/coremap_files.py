"""The target-independent part of a mapped artifact: partition, placement, routes, summary.

    mapping/map.npz       per-core arrays (CSR neuron and axon lists, usage per limit,
                          chip/x/y), the routing table and the link loads
    mapping/summary.json  numbering of neurons and sources, limits, lower bounds, per-layer
                          cores, placement and routing figures (what reports read)
    cores.md              the same for people
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from snnc.compiler.coremap import LIMITS, CoreMap

MAP_FILES = ("mapping/map.npz", "mapping/summary.json", "cores.md")


def map_arrays(cm: CoreMap) -> dict[str, np.ndarray]:
    out = {"kind": cm.kind, "soma": cm.soma, "neuron_ptr": cm.neuron_ptr, "neurons": cm.neurons,
           "axon_ptr": cm.axon_ptr, "axons": cm.axons, "chip": cm.chip, "x": cm.x, "y": cm.y}
    out.update({f"usage.{k}": v for k, v in cm.usage.items()})
    out.update({f"route.{k}": v for k, v in cm.routes.get("table", {}).items()})
    out.update({f"link.{k}": v for k, v in cm.routes.get("links", {}).items()})
    if "spike_hops" in cm.routes:
        out["route.spike_hops"] = cm.routes["spike_hops"]
    return out


def layer_summary(cm: CoreMap) -> dict[str, dict[str, Any]]:
    """Per population: cores holding it and the mean utilization of each limit there."""
    out = {}
    for name, cores in cm.layer_cores().items():
        c = np.array(cores)
        out[name] = {"cores": len(cores), "neurons": cm.ids.size[name],
                     "utilization": {k: round(float(np.mean(cm.usage[k][c]
                                                            / cm.meta["limits"][k])), 4)
                                     for k in LIMITS}}
    return out


def summary(cm: CoreMap) -> dict[str, Any]:
    """Everything a report needs about the mapping, JSON-ready and deterministic."""
    lim = cm.meta["limits"]
    return {
        "target": cm.target, "cores_used": cm.n_cores, "cores_lower_bound": cm.bounds["cores"],
        "lower_bounds": cm.bounds, "limits": lim, "chips": cm.meta.get("chips"),
        "chip_grid": cm.meta.get("chip_grid"), "placer": cm.meta.get("placer"),
        "seed": cm.meta.get("seed"), "weighted_hops": cm.meta.get("weighted_hops"),
        "routed_hops": cm.meta.get("routed_hops"), "max_link_load": cm.meta.get("max_link_load"),
        "routing": cm.meta.get("routing"), "dendrite_split_cores": cm.meta["dendrite_split_cores"],
        "max_utilization": {k: round(float((cm.usage[k] / lim[k]).max(initial=0)), 4)
                            for k in LIMITS},
        "totals": {k: int(v.sum()) for k, v in sorted(cm.usage.items())},
        "layers": layer_summary(cm),
        "numbering": {"order": list(cm.ids.order), "offset": cm.ids.offset,
                      "size": cm.ids.size, "n_neurons": cm.ids.n_neurons,
                      "n_sources": cm.ids.n_sources},
    }


def cores_md(cm: CoreMap, s: dict[str, Any]) -> str:
    lim = s["limits"]
    by_limit = ", ".join(f"{k} {v}" for k, v in s["lower_bounds"].items() if k != "cores")
    lines = [f"# Core map for {s['target']}", "",
             f"{s['cores_used']} cores on {s['chips']} chip(s) "
             f"(lower bound {s['cores_lower_bound']}; by limit: {by_limit}).",
             f"Placer {s['placer']} (seed {s['seed']}): {s['weighted_hops']:.0f} traffic-weighted "
             f"hops per step; routed ({s['routing']}): {s['routed_hops']} link traversals, "
             f"busiest link {s['max_link_load']} packets per step (every neuron firing once).",
             "", "## Layers", "", "| layer | neurons | cores | " +
             " | ".join(f"{k} use" for k in LIMITS) + " |",
             "|---|---|---|" + "---|" * len(LIMITS)]
    for name, L in s["layers"].items():
        lines.append(f"| {name} | {L['neurons']} | {L['cores']} | " + " | ".join(
            f"{100 * L['utilization'][k]:.0f}%" for k in LIMITS) + " |")
    lines += ["", "## Cores", "", "| core | chip | x | y | kind | " + " | ".join(
        f"{k} (of {lim[k]})" for k in LIMITS) + " | routing entries |",
        "|---|---|---|---|---|" + "---|" * (len(LIMITS) + 1)]
    kinds = ("soma", "partial")
    entries = cm.usage.get("routing_entries", np.zeros(cm.n_cores, dtype=np.int64))
    for c in range(min(cm.n_cores, 2000)):
        lines.append(f"| {c} | {cm.chip[c]} | {cm.x[c]} | {cm.y[c]} | {kinds[cm.kind[c]]}"
                     + (f" -> {cm.soma[c]}" if cm.kind[c] else "") + " | "
                     + " | ".join(str(int(cm.usage[k][c])) for k in LIMITS)
                     + f" | {int(entries[c])} |")
    if cm.n_cores > 2000:
        lines.append(f"| ... {cm.n_cores - 2000} more in mapping/map.npz | | | | | | | | | |")
    return "\n".join(lines) + "\n"


def write_mapping(root: Path, cm: CoreMap, save_npz: Any) -> list[str]:
    """Write MAP_FILES under `root`; returns their relative paths."""
    (root / "mapping").mkdir(exist_ok=True)
    save_npz(root / "mapping" / "map.npz", map_arrays(cm))
    s = summary(cm)
    (root / "mapping" / "summary.json").write_text(json.dumps(s, indent=1, sort_keys=True) + "\n")
    (root / "cores.md").write_text(cores_md(cm, s))
    return list(MAP_FILES)
