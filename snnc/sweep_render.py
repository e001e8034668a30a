"""The HTML page of `snnc sweep`: accuracy against energy per inference, latency and cores,
one plot each with its Pareto front, and the table of every design point (the plotting
style of `snnc report`: matplotlib PNGs embedded in one self-contained file)."""

from __future__ import annotations

from typing import Any

from snnc.runtime.report_render import page, png

AXES = (("energy", "energy_per_inference_joules", "energy per inference (J)", True),
        ("latency", "latency_per_inference_seconds", "latency per inference (s)", True),
        ("cores", "cores", "cores", False))


def plots(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if r["status"] == "ok"]
    targets = sorted({r["target"] for r in ok})
    out = []
    for name, key, label, log in AXES:
        fig, ax = plt.subplots(figsize=(6.5, 4))
        for i, t in enumerate(targets):
            pts = [r for r in ok if r["target"] == t]
            ax.scatter([r[key] for r in pts], [100 * r["accuracy"] for r in pts],
                       label=t, color=f"C{i}", alpha=0.8)
        front = sorted((r for r in ok if r[f"pareto_{name}"]), key=lambda r: r[key])
        if front:
            ax.step([r[key] for r in front], [100 * r["accuracy"] for r in front],
                    where="post", color="black", linewidth=1, label="Pareto front")
            for r in front:
                ax.annotate(r["point"] + f" ({r['steps']} steps)", (r[key], 100 * r["accuracy"]),
                            fontsize=7, xytext=(4, -10), textcoords="offset points")
        if log and ok and min(r[key] for r in ok) > 0:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(label)
        ax.set_ylabel("accuracy (%)")
        if ok:
            ax.legend(fontsize=8)
        out.append((f"Accuracy against {label}: every evaluated design point, Pareto front "
                    "in black (higher accuracy and lower cost)", png(fig)))
    return out


def _cell(v: Any, kind: str = "") -> str:
    if v is None:
        return ""
    if kind == "pct":
        return f"{100 * v:.2f}%"
    if kind == "sci":
        return f"{v:.3e}"
    return str(v)


def to_html(doc: dict[str, Any]) -> str:
    rows = doc["rows"]
    ok = [r for r in rows if r["status"] == "ok"]
    head = (f"{len(rows)} design points of {doc['model']} ({len(doc['points'])} compiled "
            f"configurations x {len(doc['steps'])} step counts) on {doc['samples']} samples of "
            f"{doc['inputs']}: {len(ok)} evaluated, {len(rows) - len(ok)} refused or failed")
    table = ["point", "steps", "status", "accuracy", "float accuracy", "J / inference",
             "s / inference", "cores", "chips", "fronts", "reason"]
    body = [[r["point"], str(r["steps"]), r["status"], _cell(r["accuracy"], "pct"),
             _cell(r["float_accuracy"], "pct"), _cell(r["energy_per_inference_joules"], "sci"),
             _cell(r["latency_per_inference_seconds"], "sci"), _cell(r["cores"]),
             _cell(r["chips"]),
             ", ".join(n for n in ("energy", "latency", "cores") if r[f"pareto_{n}"]),
             r["reason"] or ""] for r in rows]
    return page(f"snnc sweep: {doc['model']}", head, plots(rows),
                [("Design points", table, body)])
