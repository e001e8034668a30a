"""Tianjic-style core map files: what each functional core is programmed with.

    tianjic/cores.jsonl            one JSON line per core, line c for core c: mesh slot, role
                                   (soma or partial-sum), its neurons and axons as named index
                                   ranges, where its crossbar and neuron parameters sit in
                                   cores.npz, and its routing table (neuron range -> relative
                                   (dx, dy) next hop); one file, not one per core (a 1347-core
                                   map wrote 1347 files)
    tianjic/cores.npz              crossbars (axons x neurons; int8, or 2-bit ternary codes
                                   packed four per byte: 0 -> 0, 1 -> +1, 3 -> -1) and neuron
                                   parameters (alpha_u, alpha_v, beta, i_bias, v_th, v_reset),
                                   all flat with per-core offsets
    tianjic/routes.json            routing mode, hop totals and the load on every link
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from snnc.compiler.coremap import PARTIAL, CoreMap
from snnc.compiler.errors import SnncError
from snnc.compiler.fixed import Arithmetic, TianjicArithmetic
from snnc.compiler.ir import Graph
from snnc.compiler.synapse_kernels import (axon_entries, count_per, counting_order,
                                            crossbar_cells)
from snnc.compiler.targets import TargetSpec

CROSSBAR_DTYPE = np.int8  # the file format's crossbar cells (ternary ones are packed 2-bit)
PARAMS = {"alpha_u": "du", "alpha_v": "dv", "beta": "bias", "i_bias": "i_bias",
          "v_th": "v_th", "v_reset": "v_reset"}


class BackendError(SnncError):
    """The core map cannot be written in the target's format."""


def _runs(ptr: np.ndarray, ids: np.ndarray, names: list[str], offsets: dict[str, int]
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Runs of consecutive ids of one population within each core of a CSR id list:
    (core, population index, start, stop) per run, in order."""
    starts = np.array([offsets[n] for n in names])
    owner = np.searchsorted(starts, ids, side="right") - 1
    core = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
    brk = np.flatnonzero((np.diff(ids) != 1) | (np.diff(owner) != 0)
                         | (np.diff(core) != 0)) + 1
    first, last = np.r_[0, brk], np.r_[brk, len(ids)] - 1
    o = owner[first]
    return core[first], o, ids[first] - starts[o], ids[last] - starts[o] + 1


def _json_lists(core: np.ndarray, items: list[str], nc: int) -> list[str]:
    """Per core, the JSON text of the list of its items (JSON texts, ordered by core): a
    core map's hundreds of thousands of ranges are formatted once, not built as lists and
    encoded (this is what json.dumps gives for the same lists)."""
    bounds = np.searchsorted(core, np.arange(nc + 1)).tolist()
    return ["[" + ", ".join(items[bounds[c]:bounds[c + 1]]) + "]" for c in range(nc)]


def _ranges_json(ptr: np.ndarray, ids: np.ndarray, names: list[str],
                 offsets: dict[str, int]) -> tuple[list[str], list[list[str]]]:
    """Per core: its ids as a JSON list of [name, start, stop) runs, and the names."""
    nc = len(ptr) - 1
    if len(ids) == 0:
        return ["[]"] * nc, [[] for _ in range(nc)]
    core, o, lo, hi = _runs(ptr, ids, names, offsets)
    q = [json.dumps(n) for n in names]
    items = [f"[{q[k]}, {a}, {b}]" for k, a, b in zip(o.tolist(), lo.tolist(), hi.tolist(),
                                                       strict=True)]
    used: list[list[str]] = [[] for _ in range(nc)]
    key = np.unique(core.astype(np.int64) * len(names) + o)
    for c, k in zip((key // len(names)).tolist(), (key % len(names)).tolist(), strict=True):
        used[c].append(names[k])
    return _json_lists(core, items, nc), [sorted(u) for u in used]


def pack_ternary(w: np.ndarray) -> np.ndarray:
    """{-1, 0, +1} -> 2-bit codes (0, 1, 3), four per byte, little end first."""
    code = np.where(w < 0, 3, w).astype(np.uint8).ravel()
    code = np.concatenate([code, np.zeros(-len(code) % 4, dtype=np.uint8)])
    q = code.reshape(-1, 4)
    return (q[:, 0] | (q[:, 1] << 2) | (q[:, 2] << 4) | (q[:, 3] << 6)).astype(np.uint8)


def unpack_ternary(b: np.ndarray, n: int) -> np.ndarray:
    codes = np.stack([(b >> s) & 3 for s in (0, 2, 4, 6)], axis=1).ravel()[:n]
    return np.where(codes == 3, -1, codes).astype(np.int8)


def crossbars(cm: CoreMap, ar: Arithmetic) -> tuple[list[np.ndarray], list[bool], np.ndarray]:
    """Per core: the dense (axons x neurons) weight matrix and whether it is ternary; and
    all of them, row-major, one after the other (the matrices are views into it)."""
    syn = cm.syn
    o = counting_order(cm.syn_core, cm.n_cores)  # synapses grouped by core
    bounds = np.concatenate([[0], np.cumsum(count_per(cm.syn_core, cm.n_cores))])
    entry = axon_entries(cm.syn_core, syn.src, cm.axon_ptr, cm.axons, cm.ids.n_sources, o)
    shapes = np.stack([np.diff(cm.axon_ptr), np.diff(cm.neuron_ptr)], axis=1).astype(np.int64)
    base = np.concatenate([[0], np.cumsum(shapes[:, 0] * shapes[:, 1])]).astype(np.int64)
    flat = np.empty(int(base[-1]), dtype=CROSSBAR_DTYPE)
    tern = np.zeros(cm.n_cores, dtype=np.bool_)
    bad = crossbar_cells(o, bounds, entry, cm.axon_ptr, cm.neuron_ptr, cm.neurons, syn.pos,
                         syn.at_pos, syn.weight, syn.proj, syn.bits <= 2, base,
                         ar.weight_min, ar.weight_max, cm.ids.n_neurons, flat, tern)
    if bad >= 0:
        raise BackendError(f"core {bad}: two projections connect the same pair of neurons "
                           "and their summed weight leaves the stored range "
                           f"{ar.weight_min}..{ar.weight_max}")
    bars = [flat[base[c]:base[c + 1]].reshape(shapes[c]) for c in range(cm.n_cores)]
    return bars, tern.tolist(), flat


def _core_arrays(g: Graph, cm: CoreMap, ar: Arithmetic) -> tuple[dict[str, np.ndarray],
                                                                   list[np.ndarray], list[bool]]:
    """cores.npz: crossbars (int8 or packed ternary) and neuron parameters, flat with
    per-core offsets; also the crossbars and their formats, for the core files."""
    bars, tern, cells = crossbars(cm, ar)
    if any(tern):  # ternary cores are packed: the cores' bytes one by one
        flat, ptr = [], [0]
        for m, t in zip(bars, tern, strict=True):
            data = pack_ternary(m) if t else m.view(np.uint8).ravel()
            flat.append(data)
            ptr.append(ptr[-1] + len(data))
        crossbar = np.concatenate(flat) if flat else np.zeros(0, dtype=np.uint8)
    else:  # every core int8: the cells as they are (no copy of some bytes a synapse)
        crossbar = cells.view(np.uint8)
        ptr = np.concatenate([[0], np.cumsum([m.size for m in bars])]).tolist()
    arrays: dict[str, np.ndarray] = {"crossbar": crossbar,
                                     "crossbar_ptr": np.array(ptr, dtype=np.int64)}
    owner = cm.ids.owner(cm.neurons)
    for key, field in PARAMS.items():
        vals = np.zeros(len(cm.neurons), dtype=np.int64)
        for i, name in enumerate(cm.ids.order):
            sel = owner == i
            vals[sel] = getattr(g.populations[name], field)[
                cm.neurons[sel] - cm.ids.offset[name]].astype(np.int64)
        arrays[f"param.{key}"] = vals
    return arrays, bars, tern


def _routing(cm: CoreMap) -> list[str]:
    """Every core's routing table as JSON text: runs of consecutive neurons (of one
    population) that share a relative (dx, dy) next hop, ordered by (dx, dy) then neuron;
    one sort for all cores."""
    table = cm.routes.get("table", {})
    if not len(table.get("core", [])):
        return ["[]"] * cm.n_cores
    core, src, dx, dy = (np.asarray(table[k]) for k in ("core", "neuron", "dx", "dy"))
    o = np.lexsort((src, dy, dx, core))
    core, src, dx, dy = core[o], src[o], dx[o], dy[o]
    names = cm.ids.names()
    starts = np.array([cm.ids.offset[n] for n in names])
    owner = np.searchsorted(starts, src, side="right") - 1
    brk = np.flatnonzero((np.diff(core) != 0) | (np.diff(dx) != 0) | (np.diff(dy) != 0)
                         | (np.diff(src) != 1) | (np.diff(owner) != 0)) + 1
    first, last = np.r_[0, brk], np.r_[brk, len(src)] - 1
    ow = owner[first]
    q = [json.dumps(n) for n in names]
    items = [f'{{"dx": {x}, "dy": {y}, "neurons": [{q[k]}, {a}, {b}]}}'
             for k, a, b, x, y in zip(ow.tolist(), (src[first] - starts[ow]).tolist(),
                                      (src[last] - starts[ow] + 1).tolist(),
                                      dx[first].tolist(), dy[first].tolist(), strict=True)]
    return _json_lists(core[first], items, cm.n_cores)


# the three long lists of a core document are formatted apart and put in its JSON text
# where these stand; a key with its quoted value cannot occur inside an encoded string
_HOLES = {"neurons": '"neurons": "@"', "axons": '"axons": "@"', "routing": '"routing": "@"'}


def _core_line(doc: dict[str, Any], texts: dict[str, str]) -> str:
    """json.dumps(doc, sort_keys=True) with the pre-formatted lists in their places."""
    line = json.dumps({**doc, **{k: "@" for k in texts}}, sort_keys=True)
    for k, text in texts.items():
        line = line.replace(_HOLES[k], f'"{k}": {text}', 1)
    return line


def _core_doc(cm: CoreMap, c: int, bar: np.ndarray, ternary: bool, ptr: np.ndarray,
              gx: np.ndarray, gy: np.ndarray, neuron_models: list[str],
              partial_inputs: list[int]) -> dict[str, Any]:
    """What core c is programmed with (line c of tianjic/cores.jsonl), but for its
    neurons, axons and routing lists (_core_line puts them in)."""
    partial = cm.kind[c] == PARTIAL
    return {
        "core": c, "chip": int(cm.chip[c]), "x": int(cm.x[c]), "y": int(cm.y[c]),
        "role": "partial" if partial else "soma", "soma_core": int(cm.soma[c]),
        "neuron_models": neuron_models,
        "partial_inputs": partial_inputs,
        "crossbar": {"format": "ternary2" if ternary else "int8", "shape": list(bar.shape),
                     "offset": int(ptr[c]), "bytes": int(ptr[c + 1] - ptr[c])},
        "params": {"offset": int(cm.neuron_ptr[c]),
                   "count": int(cm.neuron_ptr[c + 1] - cm.neuron_ptr[c])},
        "partial_sums_to": ({"core": int(cm.soma[c]), "dx": int(gx[cm.soma[c]] - gx[c]),
                             "dy": int(gy[cm.soma[c]] - gy[c])} if partial else None),
        "usage": {k: int(v[c]) for k, v in sorted(cm.usage.items())},
    }


def _routes_doc(g: Graph, cm: CoreMap) -> dict[str, Any]:
    """tianjic/routes.json: routing mode, hop totals and the load on every link."""
    links = cm.routes.get("links", {})
    return {"routing": cm.meta.get("routing"), "routed_hops": cm.meta.get("routed_hops"),
            "max_link_load": cm.meta.get("max_link_load"),
            "routing_entries": int(len(cm.routes.get("table", {}).get("core", []))),
            "populations": {n: {"model": p.model.value, "reset": p.reset.value,
                                "refractory": p.refractory, "bias_onset_step": p.onset,
                                **({"state_reset_every": p.reset_every,
                                    "state_reset_phase": p.reset_phase}
                                   if p.reset_every else {})}
                            for n, p in g.populations.items()},
            "link_load": {k: v.tolist() for k, v in sorted(links.items())}}


def write_tianjic(root: Path, g: Graph, cm: CoreMap, ar: Arithmetic, save_npz: Any
                  ) -> list[str]:
    """Write the files of the module docstring; returns their relative paths."""
    (root / "tianjic").mkdir(parents=True, exist_ok=True)
    arrays, bars, tern = _core_arrays(g, cm, ar)
    save_npz(root / "tianjic" / "cores.npz", arrays)
    routing = _routing(cm)
    gx, gy = cm.global_xy()
    files = ["tianjic/cores.npz", "tianjic/cores.jsonl"]
    names = cm.ids.names()
    neurons, models = _ranges_json(cm.neuron_ptr, cm.neurons, names, cm.ids.offset)
    axons, _ = _ranges_json(cm.axon_ptr, cm.axons, names, cm.ids.offset)
    partial_inputs: list[list[int]] = [[] for _ in range(cm.n_cores)]
    for p in np.flatnonzero(cm.kind == PARTIAL).tolist():
        partial_inputs[int(cm.soma[p])].append(p)
    with open(root / "tianjic" / "cores.jsonl", "w") as f:
        for c in range(cm.n_cores):
            doc = _core_doc(cm, c, bars[c], tern[c], arrays["crossbar_ptr"], gx, gy,
                            models[c], partial_inputs[c])
            texts = {"neurons": neurons[c], "axons": axons[c], "routing": routing[c]}
            f.write(_core_line(doc, texts) + "\n")
    (root / "tianjic" / "routes.json").write_text(
        json.dumps(_routes_doc(g, cm), sort_keys=True) + "\n")
    files.append("tianjic/routes.json")
    return files


class TianjicBackend:
    """Emits the per-core Tianjic files of the module docstring."""

    name = "tianjic"
    owns = ("tianjic",)

    def check(self, t: TargetSpec) -> None:
        if not isinstance(t.arith, TianjicArithmetic):
            raise BackendError(f"target {t.name} ({t.path}) emits Tianjic core files, which "
                               f"hold the tianjic arithmetic; this target's is {t.semantics}")
        info = np.iinfo(CROSSBAR_DTYPE)
        if t.arith.weight_min < info.min or t.arith.weight_max > info.max:
            raise BackendError(f"target {t.name} ({t.path}): Tianjic core files store "
                               f"{info.dtype} crossbars, and its weights reach "
                               f"{t.arith.weight_min}..{t.arith.weight_max}")

    def emit(self, root: Path, fixed: Graph, coremap: CoreMap, t: TargetSpec, save_npz: Any
             ) -> list[str]:
        return write_tianjic(root, fixed, coremap, t.arith, save_npz)
