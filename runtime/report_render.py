"""Render a report (runtime/report.py) as JSON, Markdown, or one self-contained HTML file with
its plots embedded as PNG data URIs (matplotlib, Agg backend: no screen needed)."""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Any

import numpy as np

LIMITS = ("neurons", "in_axons", "out_axons", "synapse_memory_bits")


def to_json(rep: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in rep.items() if not k.startswith("_")}, indent=1,
                      sort_keys=True) + "\n"


def _tables(rep: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table, shared by Markdown and HTML."""
    r, a, e, t, f = (rep[k] for k in ("resources", "activity", "energy", "timing", "fidelity"))
    lim = r["limits"]
    out = []
    out.append(("Resources by layer", ["layer", "neurons", "cores", *(f"{k} use" for k in LIMITS)],
                [[k, str(v["neurons"]), str(v["cores"]),
                  *(f"{100 * v['utilization'][x]:.0f}%" for x in LIMITS)]
                 for k, v in r["layers"].items()]))
    cores = r["cores"][:64]
    out.append((f"Cores (first {len(cores)} of {len(r['cores'])}; limits: " + ", ".join(
        f"{k} {v}" for k, v in lim.items()) + ")",
        ["core", "chip", "x", "y", "kind", *LIMITS, "synapses", "routing entries"],
        [[str(c["core"]), str(c["chip"]), str(c["x"]), str(c["y"]), c["kind"],
          *(str(c[k]) for k in LIMITS), str(c["synapses"]), str(c.get("routing_entries", 0))]
         for c in cores]))
    out.append(("Activity by layer (per inference)",
                ["layer", "neurons", "spikes", "spike rate", "synaptic ops into it"],
                [[k, str(v["neurons"]), f"{v['spikes_per_inference']:.1f}",
                  f"{v['spike_rate']:.4f}", f"{v['synops_per_inference']:.0f}"]
                 for k, v in a["layers"].items()]))
    out.append(("Energy per inference by event type",
                ["event", "events", "pJ each", "joules", "source"],
                [[k, f"{v['events_per_inference']:.1f}", f"{v['pj']['value']}",
                  f"{v['joules_per_inference']:.3e}",
                  v["pj"]["source"] + (f" (from {v['pj']['borrowed_from']})"
                                       if "borrowed_from" in v["pj"] else "")]
                 for k, v in e["by_event"].items()]))
    nb = a["neurobench"]
    ann = nb["ann_equivalent"]
    out.append(("NeuroBench-style metrics", ["metric", "value"], [
        ["effective ACs per inference", f"{nb['effective_acs_per_inference']:.0f}"],
        ["effective MACs per inference", f"{nb['effective_macs_per_inference']:.0f}"],
        ["activation sparsity", f"{nb['activation_sparsity']:.4f}"],
        ["connection sparsity", f"{nb['connection_sparsity']:.4f}"],
        ["footprint: synapses / neuron state (bytes)",
         f"{nb['footprint_bytes']['synapses']} / {nb['footprint_bytes']['neuron_state']}"],
        ["ANN-equivalent dense MACs x 4.6 pJ", f"{ann['joules_per_inference']:.3e} J"],
        ["SNN ACs x 0.9 pJ (same 45 nm node)", f"{ann['snn_acs_joules_per_inference']:.3e} J"],
        ["source", ann["source"]]]))
    cy = t["cycles_per_step"]
    rows = [["cycles per step (mean / max)", f"{cy['mean']:.1f} / {cy['max']:.1f}"],
            ["critical core (most often)", str(t["critical_core"])],
            ["latency per inference", f"{t['latency_per_inference_seconds']:.3e} s"]]
    if t.get("clock_hz"):
        rows.append(["clock", f"{t['clock_hz']['value']} Hz ({t['clock_hz']['source']})"])
    if "steps_within_budget" in t:
        rows.append(["steps within the budget",
                     f"{100 * t['steps_within_budget']:.1f}% of {t['budget_cycles']['value']} "
                     f"cycles ({t['budget_cycles']['source']})"])
    out.append(("Time", ["", ""], rows))
    fv = f["float_vs_fixed"]
    out.append(("Quantization", ["projection", "weight_exp", "SQNR dB", "clipped", "zeroed"],
                [[k, str(v["weight_exp"]),
                  "exact" if v["sqnr_db"] is None else f"{v['sqnr_db']:.1f}",
                  str(v["clipped"]), str(v["zeroed"])] for k, v in f["projections"].items()]))
    if f.get("range"):
        out.append(("Integer range on this input (wraps of u, saturations of any state, in "
                    "neuron-steps; worst-case headroom from the quantizer)",
                    ["population", "wraps", "saturations", "headroom bits"],
                    [[k, str(v["wraps"]), str(v["saturations"]),
                      "n/a" if v.get("headroom_bits") is None else f"{v['headroom_bits']:.1f}"]
                     for k, v in f["range"].items()]))
    if fv is not None:
        corr = "n/a" if fv["count_correlation"] is None else f"{fv['count_correlation']:.4f}"
        out.append(("Float vs fixed on this input", ["samples", "argmax agreement",
                                                     "exact count match", "count correlation"],
                    [[str(fv["samples"]), f"{100 * fv['argmax_agreement']:.1f}%",
                      f"{100 * fv['exact_count_match']:.1f}%", corr]]))
    return out


SEMANTICS = {"loihi": "Lava 0.10.0's fixed-point model of Loihi",
             "loihi2_silicon": "Loihi 2 silicon as recorded (docs/silicon.md)",
             "tianjic": "snnc's Tianjic-style soma model"}


def _headline(rep: dict[str, Any]) -> str:
    r, e, t = rep["resources"], rep["energy"], rep["timing"]
    sem = rep["target"].get("semantics", "")
    return (f"Spikes and states follow {SEMANTICS.get(sem, sem)} (semantics {sem}). "
            f"{r['cores_used']} cores on {r['chips']} chip(s) (lower bound "
            f"{r['cores_lower_bound']}); {e['per_inference_joules']:.3e} J per inference; "
            f"{t['cycles_per_step']['mean']:.0f} cycles per step on average "
            f"({rep['inputs']['steps']} steps, {rep['inputs']['batch']} sample(s), input: "
            f"{rep['inputs']['source']})")


def to_markdown(rep: dict[str, Any]) -> str:
    lines = [f"# snnc report: {rep['target']['name']}", "", _headline(rep), ""]
    for title, head, rows in _tables(rep):
        lines += [f"## {title}", "", "| " + " | ".join(head) + " |",
                  "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(x.replace("|", "/") for x in row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def png(fig: Any) -> str:
    """A matplotlib figure as a PNG data URI (the figure is closed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def plots(rep: dict[str, Any]) -> list[tuple[str, str]]:
    """(caption, PNG data URI) of every plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p, r = rep["_plots"], rep["resources"]
    m = p["map"]
    out = []
    util = np.array(r["core_utilization"])
    chips = int(m["chip"].max(initial=0)) + 1
    show = min(chips, 4)
    w, h = (int(v) for v in r["mesh"])
    fig, axes = plt.subplots(1, show, figsize=(3.2 * show + 1, 3.2), squeeze=False)
    for ci in range(show):
        grid = np.full((h, w), np.nan)
        sel = m["chip"] == ci
        grid[m["y"][sel], m["x"][sel]] = util[sel]
        im = axes[0, ci].imshow(grid, vmin=0, vmax=1, cmap="viridis", origin="lower")
        axes[0, ci].set_title(f"chip {ci}")
    fig.colorbar(im, ax=axes[0, -1], label="max utilization of any limit")
    out.append((f"Core utilization on the mesh (chips 0..{show - 1} of {chips}; empty slots "
                "blank)", png(fig)))
    links = p["link_packets"]
    fig, ax = plt.subplots(figsize=(5, 4))
    im = ax.imshow(links.sum(axis=2), cmap="magma", origin="lower")
    fig.colorbar(im, ax=ax, label="packets leaving each router per inference")
    ax.set_xlabel("x (all chips)")
    ax.set_ylabel("y (all chips)")
    out.append(("NoC link load (measured, all directions)", png(fig)))
    ev = rep["energy"]["by_event"]
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.barh(list(ev), [v["joules_per_inference"] for v in ev.values()], color="tab:orange")
    ax.set_xlabel("joules per inference")
    out.append(("Energy per inference by event type", png(fig)))
    layers = rep["activity"]["layers"]
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar(list(layers), [v["spike_rate"] for v in layers.values()])
    ax.set_ylabel("spikes per neuron per step")
    ax.tick_params(axis="x", rotation=45)
    out.append(("Spike rate per layer", png(fig)))
    lat = p["latency"]
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(lat.mean(axis=1), label="mean over samples")
    ax.plot(lat.max(axis=1), label="max", linestyle="--")
    budget = rep["timing"].get("budget_cycles")
    if budget:
        ax.axhline(budget["value"], color="red", label="budget")
    ax.set_xlabel("step")
    ax.set_ylabel("cycles")
    ax.legend()
    out.append(("Cycles per step", png(fig)))
    return out


def to_html(rep: dict[str, Any]) -> str:
    title = f"snnc report: {rep['target']['name']}"
    return page(title, _headline(rep), plots(rep), _tables(rep))


def page(title: str, headline: str, figures: list[tuple[str, str]],
         tables: list[tuple[str, list[str], list[list[str]]]]) -> str:
    """One self-contained HTML page: headline, figures (caption, data URI), tables; when
    loaded it marks how many of its images decoded (`data-images="k/n"` on the body)."""
    esc = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
             "<style>body{font-family:sans-serif;"
             "max-width:1100px;margin:2em auto}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}"
             "img{max-width:100%}</style></head><body>",
             f"<h1>{esc(title)}</h1><p>{esc(headline)}</p>"]
    for caption, uri in figures:
        parts.append(f"<figure><img alt='{esc(caption)}' src='{uri}'>"
                     f"<figcaption>{esc(caption)}</figcaption></figure>")
    for name, head, rows in tables:
        parts.append(f"<h2>{esc(name)}</h2><table><tr>"
                     + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"
                     + "".join("<tr>" + "".join(f"<td>{esc(x)}</td>" for x in row) + "</tr>"
                               for row in rows) + "</table>")
    parts.append("<script>window.addEventListener('load',function(){var im=document."
                 "images,ok=0;for(var i=0;i<im.length;i++){if(im[i].naturalWidth>0&&"
                 "im[i].width>0)ok++;}document.body.setAttribute('data-images',ok+'/'+"
                 "im.length);});</script></body></html>")
    return "\n".join(parts) + "\n"
