"""`snnc report`: resources, activity, energy, time and fidelity of a compiled artifact, as one
JSON-ready dict (sections computed by runtime/report.py, rendered by runtime/report_render.py).

Activity comes from a run of the simulated chip (runtime/refsim.py) on the given input, or on
the artifact's sample input; the float IR the artifact carries is run on the same input for
the fidelity section. Stable top-level keys: target, inputs, resources, activity, energy,
timing, fidelity.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from snnc import api
from snnc.artifact import ArtifactError, read_float, read_npz
from snnc.compiler.fixed import arithmetic_of
from snnc.runtime.float_engine import FloatEngine
from snnc.runtime.report import activity, energy, fidelity, neurobench, resources, timing


def build_report(art: str, inputs: dict[str, np.ndarray] | None = None,
                 steps: int | None = None, on_step: Callable[[int], None] | None = None
                 ) -> dict[str, Any]:
    """The whole report of an artifact directory (module docstring)."""
    g, manifest = api.load_artifact(art)
    root = Path(art)
    try:
        summ = json.loads((root / "mapping" / "summary.json").read_text())
        if not isinstance(summ, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise ArtifactError(f"{root / 'mapping' / 'summary.json'}: not what snnc writes "
                            f"({type(e).__name__}: {str(e)[:80]}); recompile the model"
                            ) from None
    m = read_npz(root / "mapping" / "map.npz")
    source = "given"
    if inputs is None:
        inputs = {k: v.astype(np.int64) for k, v in read_npz(root / "sample_input.npz").items()}
        source = "artifact sample_input.npz (deterministic Bernoulli 0.2 spikes)"
    x = next(iter(inputs.values()))
    batch, steps = x.shape[0], steps or x.shape[1]
    res = api.run_compiled(g, inputs, steps=steps, engine="refsim", artifact=art,
                           counters=True, on_step=on_step)
    c = dict(res.counters)
    fl = read_float(art, manifest)
    float_out = None
    if fl is not None:
        fr = FloatEngine(fl).run({k: v.astype(np.float64) for k, v in inputs.items()},
                                 steps=steps)
        float_out = fr.outputs[next(iter(fl.outputs))]
    target = manifest["target"]
    try:  # the two mapping files are checksummed; only a forgery makes them disagree
        mem = int(summ["totals"]["synapse_memory_bits"])
        res_section = {**resources(m, summ), "mesh": target["facts"]["chip.mesh"]["value"]}
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise ArtifactError(f"{root}: mapping/summary.json and mapping/map.npz do not fit "
                            f"together ({type(e).__name__}: {e}); recompile the model"
                            ) from None
    return {
        "target": {"name": target["name"], "semantics": target["semantics"]},
        "inputs": {"source": source, "batch": int(batch), "steps": int(steps)},
        "resources": res_section,
        "activity": {**activity(g, c, res.layers, batch, steps),
                     "neurobench": neurobench(g, c, batch, steps, mem,
                                              arithmetic_of(g).state_bits)},
        "energy": energy(target, c, batch),
        "timing": timing(c, target),
        "fidelity": fidelity(manifest, res.outputs[next(iter(g.outputs))], float_out, c,
                             res.layers),
        "_plots": {"map": m, "link_packets": c["link_packets"] / batch,
                   "latency": c["latency_cycles"]},
    }
