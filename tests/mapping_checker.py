"""An independent checker of emitted core maps: it re-derives every core's usage from the
artifact files and the fixed IR, without the partition pass's own bookkeeping.

For every synapse of the IR (expanded here with scipy, not the compiler's synapse table) it
finds the one core that must hold it: the target neuron's soma core if the source is on that
core's axon list, else the partial-sum core of that soma whose axon list has the source. Then
it counts, per core, neurons, axons (+ partial-sum streams), stored synapses x weight bits,
and output axons (distinct destination cores per neuron for tree routing, one per sending
neuron for relay routing), and compares each with the target's limit. For Tianjic it decodes
the crossbars and checks they hold exactly the IR's weights. It also follows every route.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from snnc.compiler.ir import Conn, Graph
from snnc.compiler.targets import TargetSpec


def _coo(g: Graph, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dst, src, weight) of one projection, expanded independently of compiler/linalg."""
    p = g.projections[name]
    if p.kind is Conn.DENSE:
        m = sp.coo_matrix(p.weight)
        return m.row.astype(np.int64), m.col.astype(np.int64), m.data.astype(np.int64)
    if p.kind is Conn.SPARSE:
        assert p.indptr is not None and p.indices is not None
        # an explicit zero is not stored: it changes nothing (compiler/linalg.projection_coo)
        rows = np.repeat(np.arange(len(p.indptr) - 1), np.diff(p.indptr))
        keep = p.weight != 0
        return rows[keep], p.indices[keep].astype(np.int64), p.weight[keep].astype(np.int64)
    # CONV: brute force over output positions (tests only run this on small models)
    c_out, c_in_g = p.weight.shape[:2]
    ksp = p.weight.shape[2:]
    in_shape = g.node_shape(p.src)
    out_shape = g.node_shape(p.dst)
    rows, cols, ws = [], [], []
    out_idx = np.indices(out_shape).reshape(len(out_shape), -1).T
    for flat, (co, *opos) in enumerate(out_idx):
        grp = co // (c_out // p.groups)
        for ci_l in range(c_in_g):
            ci = grp * c_in_g + ci_l
            for kpos in np.ndindex(*ksp):
                ipos = [o * s - pd + k * dl for o, s, pd, k, dl in
                        zip(opos, p.stride, p.padding, kpos, p.dilation, strict=True)]
                if all(0 <= q < n for q, n in zip(ipos, in_shape[1:], strict=True)) and (
                        p.weight[(co, ci_l, *kpos)] != 0):
                    rows.append(flat)
                    cols.append(int(np.ravel_multi_index((ci, *ipos), in_shape)))
                    ws.append(int(p.weight[(co, ci_l, *kpos)]))
    return np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), np.array(ws)


def check_artifact(art: Path, g: Graph, t: TargetSpec) -> dict[str, Any]:
    """Raise AssertionError on any broken limit or mismatch; return what was counted."""
    summ = json.loads((art / "mapping" / "summary.json").read_text())
    with np.load(art / "mapping" / "map.npz") as z:
        m = {k: z[k] for k in z.files}
    num = summ["numbering"]
    off, n_neurons = num["offset"], num["n_neurons"]
    nc = len(m["kind"])
    cores_of = [m["neurons"][m["neuron_ptr"][c]:m["neuron_ptr"][c + 1]] for c in range(nc)]
    axons_of = [m["axons"][m["axon_ptr"][c]:m["axon_ptr"][c + 1]] for c in range(nc)]
    # every neuron on exactly one soma core; a partial core serves its soma's neurons
    home = np.full(n_neurons, -1)
    for c in range(nc):
        if m["kind"][c] == 0:
            assert (home[cores_of[c]] == -1).all(), f"core {c}: neuron on two soma cores"
            home[cores_of[c]] = c
        else:
            s = m["soma"][c]
            assert m["kind"][s] == 0 and np.array_equal(np.sort(cores_of[c]),
                                                        np.sort(cores_of[s]))
    assert (home >= 0).all(), "a neuron is on no core"
    partials: dict[int, list[int]] = {}
    for c in np.flatnonzero(m["kind"] == 1):
        partials.setdefault(int(m["soma"][c]), []).append(int(c))
    # (group soma, source) -> the one core of the group whose axon list has the source
    group = np.where(m["kind"] == 0, np.arange(nc), m["soma"])
    owner_core = np.repeat(np.arange(nc), np.diff(m["axon_ptr"]))
    keys = group[owner_core] * (num["n_sources"] + 1) + m["axons"]
    o = np.argsort(keys, kind="stable")
    keys, owner_core = keys[o], owner_core[o]
    assert (np.diff(keys) != 0).all(), "a source is on two axon lists of one soma group"
    dsts, srcs, ws, bits = [], [], [], []
    for name, p in g.projections.items():
        r, cidx, w = _coo(g, name)
        dsts.append(r + off[p.dst])
        srcs.append(cidx + off[p.src])
        ws.append(w)
        bits.append(np.full(len(r), max(p.weight_bits, 1)))
    dst, src = np.concatenate(dsts), np.concatenate(srcs)
    w, bit = np.concatenate(ws), np.concatenate(bits)
    want = home[dst] * (num["n_sources"] + 1) + src
    i = np.searchsorted(keys, want)
    found = (i < len(keys)) & (keys[np.minimum(i, len(keys) - 1)] == want)
    assert found.all(), f"{int((~found).sum())} synapses have their source on no axon list"
    core = owner_core[i]
    syn_count = np.bincount(core, minlength=nc)
    mem = np.bincount(core, weights=bit, minlength=nc).astype(np.int64)
    partials: dict[int, list[int]] = {}
    for c in np.flatnonzero(m["kind"] == 1):
        partials.setdefault(int(m["soma"][c]), []).append(int(c))
    is_n = src < n_neurons
    pk = np.unique(src[is_n] * nc + core[is_n])
    pairs_src, pairs_core = pk // nc, pk % nc
    lim = {"neurons": int(t["core.neurons"]), "in_axons": int(t["core.in_axons"]),
           "out_axons": int(t["core.out_axons"]),
           "synapse_memory_bits": int(t["core.synapse_memory_bits"])}
    tree = t["noc.multicast"] == "tree"
    out = np.zeros(nc, dtype=np.int64)
    n_dest = np.bincount(pairs_src, minlength=n_neurons)
    np.add.at(out, home, n_dest if tree else np.minimum(n_dest, 1))
    n_partial_in = np.zeros(nc, dtype=np.int64)
    for soma, ps in partials.items():
        n_partial_in[soma] = len(ps)
        for c in ps:
            out[c] += len(cores_of[c])
    usage = {"neurons": np.array([len(x) for x in cores_of]),
             "in_axons": np.array([len(a) for a in axons_of]) + n_partial_in,
             "out_axons": out, "synapse_memory_bits": mem}
    for k, cap in lim.items():
        worst = int(usage[k].max(initial=0))
        assert worst <= cap, f"{k}: a core uses {worst} > {cap}"
        np.testing.assert_array_equal(usage[k], m[f"usage.{k}"], err_msg=f"reported {k}")
    np.testing.assert_array_equal(syn_count, m["usage.synapses"])
    _check_placement(m, summ, t)
    _check_routes(m, pairs_src, pairs_core, home, tree)
    if t.semantics == "tianjic":
        _check_crossbars(art, core, src, dst, w, cores_of, axons_of)
    return {"cores": nc, "usage": usage, "bound": summ["cores_lower_bound"]}


def _check_placement(m: dict[str, np.ndarray], summ: dict[str, Any], t: TargetSpec) -> None:
    cols, rows = t["chip.mesh"]
    assert (m["x"] >= 0).all() and (m["x"] < cols).all() and (m["y"] >= 0).all()
    assert (m["y"] < rows).all() and (m["chip"] < summ["chips"]).all()
    slots = set(zip(m["chip"].tolist(), m["x"].tolist(), m["y"].tolist(), strict=True))
    assert len(slots) == len(m["kind"]), "two cores share a slot"
    per_chip = np.bincount(m["chip"], minlength=summ["chips"])
    assert per_chip.max(initial=0) <= int(t["chip.cores"])


def _check_routes(m: dict[str, np.ndarray], pairs_src: np.ndarray, pairs_core: np.ndarray,
                  home: np.ndarray, tree: bool) -> None:
    """Every (neuron, remote destination core) is reached by the routing tables."""
    remote = pairs_core != home[pairs_src]
    want = set(zip(pairs_src[remote].tolist(), pairs_core[remote].tolist(), strict=True))
    rc, rs, rt = m["route.core"], m["route.neuron"], m["route.to"]
    if tree:  # each destination core is listed at the neuron's home core
        assert (rc == home[rs]).all(), "a tree route entry is not at the neuron's core"
        got = set(zip(rs.tolist(), rt.tolist(), strict=True))
        assert got == want, f"routes differ from the synapses' destinations: {len(got ^ want)}"
        return
    nxt: dict[tuple[int, int], int] = {}
    for c, s, to in zip(rc.tolist(), rs.tolist(), rt.tolist(), strict=True):
        assert (c, s) not in nxt, "a relay entry has two next hops"
        nxt[(c, s)] = to
    reached = set()
    for s in set(pairs_src[remote].tolist()):
        at = int(home[s])
        for _ in range(len(nxt) + 1):
            if (at, s) not in nxt:
                break
            at = nxt[(at, s)]
            reached.add((s, at))
    assert reached == want, f"relay chains miss {len(want - reached)} destinations"


def _check_crossbars(art: Path, core: np.ndarray, src: np.ndarray, dst: np.ndarray,
                     w: np.ndarray, cores_of: list, axons_of: list) -> None:
    from snnc.backends.tianjic import unpack_ternary

    with np.load(art / "tianjic" / "cores.npz") as z:
        flat, ptr = z["crossbar"], z["crossbar_ptr"]
    o = np.argsort(core, kind="stable")
    bounds = np.searchsorted(core[o], np.arange(len(cores_of) + 1))
    lines = (art / "tianjic" / "cores.jsonl").read_text().splitlines()
    assert len(lines) == len(cores_of), "one line per core in tianjic/cores.jsonl"
    for c in range(len(cores_of)):
        doc = json.loads(lines[c])
        shape = tuple(doc["crossbar"]["shape"])
        assert shape == (len(axons_of[c]), len(cores_of[c]))
        raw = flat[ptr[c]:ptr[c + 1]]
        n = shape[0] * shape[1]
        got = (unpack_ternary(raw, n) if doc["crossbar"]["format"] == "ternary2"
               else raw.view(np.int8)[:n]).reshape(shape).astype(np.int64)
        sel = o[bounds[c]:bounds[c + 1]]
        want = np.zeros(shape, dtype=np.int64)
        col_order = np.argsort(cores_of[c])
        cols = col_order[np.searchsorted(cores_of[c][col_order], dst[sel])]
        np.add.at(want, (np.searchsorted(axons_of[c], src[sel]), cols), w[sel])
        np.testing.assert_array_equal(got, want, err_msg=f"crossbar of core {c}")
