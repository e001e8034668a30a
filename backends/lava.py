"""Lava backend: a Loihi fixed IR -> the process description run by backends/lava_network.py.

Lava's LIF holds one du, dv and vth per process, so a population becomes one LIF per group
of neurons sharing them; a projection becomes one Dense (dense weights) or Sparse (sparse and
convolution weights, expanded) per pair of groups, Delay* when it has delays. What Lava cannot
express is refused here with the construct named.

Lava 0.10.0 computes with the format of the built-in loihi2 target (its facts are Lava's
constants, with sources): a target whose format leaves it is refused before anything is
compiled, because its Lava network would compute something else than the simulated chip.
"""

from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp
from snnc.backends import lava_network
from snnc.compiler.dtypes import narrow
from snnc.compiler.errors import SnncError
from snnc.compiler.fixed import LoihiArithmetic, arithmetic_of
from snnc.compiler.ir import SPIKING, Conn, Graph, Projection
from snnc.compiler.linalg import projection_matrices
from snnc.compiler.targets import TargetSpec, load_target

LAVA_FORMAT = "loihi2"  # the built-in target whose [format] facts are Lava 0.10.0's


class LavaError(SnncError):
    """The fixed IR holds something Lava 0.10.0 cannot express."""


def _groups(du: np.ndarray, dv: np.ndarray, vth: np.ndarray) -> list[np.ndarray]:
    """Neuron indices per distinct (du, dv, vth), in order of first appearance."""
    keys = np.stack([du, dv, vth], axis=1)
    _, first, inv = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)
    return [np.flatnonzero(inv.reshape(-1) == u) for u in order]


def _put_matrix(arrays: dict[str, np.ndarray], key: str, m: Any) -> None:
    """A weight or delay matrix in its narrowest integer types (network.py reads it back as
    int64, what Lava was given before)."""
    if sp.issparse(m):
        m = sp.csr_matrix(m)
        if not m.has_sorted_indices:  # m may share the IR's read-only arrays: sort a copy
            m = m.copy()
            m.sort_indices()
        arrays[f"{key}.data"] = narrow(m.data)  # integers (a fixed IR's), in float64
        arrays[f"{key}.indices"] = narrow(m.indices)
        arrays[f"{key}.indptr"] = narrow(m.indptr)
        arrays[f"{key}.shape"] = np.array(m.shape, dtype=np.int64)
    else:
        arrays[key] = narrow(np.asarray(m).astype(np.int64))


def _block(m: Any, rows: np.ndarray, cols: np.ndarray) -> Any:
    """m[rows][:, cols]; m itself when they are all its rows and columns in order (a large
    projection between two single-process populations is not copied twice)."""
    whole = (len(rows) == m.shape[0] and len(cols) == m.shape[1]
             and np.array_equal(rows, np.arange(m.shape[0]))
             and np.array_equal(cols, np.arange(m.shape[1])))
    return m if whole else m[rows][:, cols]


def _weights_and_delays(g: Graph, p: Projection) -> list[tuple[Any, Any]]:
    """[(W, D)] for a projection: one pair, or one per delay where synapses share (dst, src)."""
    mats = projection_matrices(p, g.node_shape(p.src), g.node_size(p.dst))
    dense = p.kind is Conn.DENSE
    by_delay = {d: (np.asarray(m) if dense else sp.csr_matrix(m)) for d, m in mats.items()}
    if len(by_delay) <= 1:
        return [(m, None if d == 0 else _delay_like(m, d)) for d, m in by_delay.items()]
    support = sum((abs(m) != 0).astype(np.int64) for m in by_delay.values())
    if np.max(support) <= 1:  # every (dst, src) pair has one delay: one Delay* process
        w = sum(by_delay.values())
        dl = sum(_delay_like(m, d) for d, m in by_delay.items())
        return [(w, dl)]
    return [(m, _delay_like(m, d)) for d, m in sorted(by_delay.items())]


def _delay_like(m: Any, d: int) -> Any:
    if sp.issparse(m):
        out = sp.csr_matrix(m, dtype=np.int64, copy=True)
        out.data = np.full(out.data.shape, d, dtype=np.int64) * (out.data != 0)
        out.eliminate_zeros()
        return out
    return np.where(np.asarray(m) != 0, d, 0).astype(np.int64)


def check_lava_format(ar: Any, where: str) -> LoihiArithmetic:
    """The arithmetic, if Lava 0.10.0 computes exactly it; LavaError naming what differs."""
    if not isinstance(ar, LoihiArithmetic):
        raise LavaError(f"{where}: Lava runs the loihi arithmetic; this is {ar.semantics}")
    diff = ar.lava_differences(load_target(LAVA_FORMAT).arith)  # type: ignore[arg-type]
    if diff:
        raise LavaError(f"{where}: Lava 0.10.0 computes with {LAVA_FORMAT}'s format, and this "
                        f"one differs in {', '.join(diff)}; its Lava network would not compute "
                        "what the simulated chip does. Remove \"lava\" from the target's emit "
                        "list (the simulator follows the target's facts)")
    return ar


def _lifs(g: Graph, ar: LoihiArithmetic, arrays: dict[str, np.ndarray]
          ) -> tuple[list[dict[str, Any]], dict[str, list[tuple[int, np.ndarray]]]]:
    """One LIF process per group of neurons sharing (du, dv, vth); biases split into
    bias_mant << bias_exp, written at the population's onset step (network.py). Returns the
    processes and, per population, (lif, neurons)."""
    lifs: list[dict[str, Any]] = []
    pop_groups: dict[str, list[tuple[int, np.ndarray]]] = {}
    for name, p in g.populations.items():
        pop_groups[name] = []
        for idx in _groups(p.du, p.dv, p.v_th):
            i = len(lifs)
            mant, exp = ar.split_bias(p.bias[idx])
            arrays[f"lif{i}.bias_mant"], arrays[f"lif{i}.bias_exp"] = mant, exp
            arrays[f"lif{i}.neurons"] = idx.astype(np.int64)
            lifs.append({"pop": name, "size": int(idx.size), "du": int(p.du[idx[0]]),
                         "dv": int(p.dv[idx[0]]), "vth": int(p.v_th[idx[0]]),
                         "onset": int(p.onset),
                         **({"reset_every": p.reset_every, "reset_phase": p.reset_phase}
                            if p.reset_every else {})})
            pop_groups[name].append((i, idx))
    return lifs, pop_groups


def _connections(g: Graph, name: str, p: Projection, ar: LoihiArithmetic,
                 pop_groups: dict[str, list[tuple[int, np.ndarray]]],
                 arrays: dict[str, np.ndarray], conns: list[dict[str, Any]]) -> None:
    """One Dense/Sparse (Delay*) process per (weights, delays) pair and pair of groups."""
    if p.max_delay > ar.delay_max:
        raise LavaError(f"projection '{name}': delay {p.max_delay} exceeds Lava's "
                        f"DelayDense/DelaySparse limit of {ar.delay_max}")
    src_parts: list[tuple[Any, np.ndarray]] = (
        [(p.src, np.arange(g.node_size(p.src)))] if p.src in g.inputs else pop_groups[p.src])
    if len(src_parts) > 1 and p.weight_exp < 0:
        raise LavaError(
            f"projection '{name}': its source '{p.src}' needs {len(src_parts)} Lava LIF "
            "processes (neurons differ in du, dv or vth) and its weight_exp "
            f"{p.weight_exp} < 0 rounds each process's sum separately; compile without "
            "--per-channel")
    for w_full, d_full in _weights_and_delays(g, p):
        for di, didx in pop_groups[p.dst]:
            for src, sidx in src_parts:
                w = _block(w_full, didx, sidx)
                if (w.count_nonzero() if sp.issparse(w) else np.count_nonzero(w)) == 0:
                    continue  # (counted without an abs() copy of a 25M-synapse matrix)
                wi = w.data if sp.issparse(w) else w  # never densify a sparse matrix
                if wi.size and (wi.min() < ar.weight_min or wi.max() > ar.weight_max):
                    raise LavaError(f"projection '{name}': synapses sharing a (target, "
                                    "source) pair sum beyond Lava's stored weight range "
                                    f"{ar.weight_min}..{ar.weight_max}")
                j = len(conns)
                _put_matrix(arrays, f"c{j}.w", w)
                if d_full is not None:
                    _put_matrix(arrays, f"c{j}.d", _block(d_full, didx, sidx))
                conns.append({"projection": name, "src_kind": "input" if isinstance(src, str)
                              else "lif", "src": src, "dst": di, "delayed": d_full is not None,
                              "weight_exp": p.weight_exp, "num_weight_bits": p.weight_bits})


def describe(g: Graph) -> dict[str, np.ndarray]:
    """Fixed IR (loihi semantics) -> arrays of lava/weights.npz (with a JSON 'index')."""
    return dict(describe_items(g))


def _drain(arrays: dict[str, np.ndarray]) -> Iterator[tuple[str, np.ndarray]]:
    while arrays:
        k = next(iter(arrays))
        yield k, arrays.pop(k)


def describe_items(g: Graph) -> Iterator[tuple[str, np.ndarray]]:
    """describe(), as (name, array) pairs produced projection by projection, so that a
    writer holds one projection's tables at a time, not the network's."""
    try:
        ar = check_lava_format(arithmetic_of(g), "the model")
    except (LavaError, ValueError) as e:
        raise LavaError(f"the Lava backend takes a model compiled for a Loihi target ({e})"
                        ) from None
    arrays: dict[str, np.ndarray] = {}
    lifs, pop_groups = _lifs(g, ar, arrays)
    yield from _drain(arrays)
    conns: list[dict[str, Any]] = []
    for name, p in g.projections.items():
        _connections(g, name, p, ar, pop_groups, arrays, conns)
        yield from _drain(arrays)
    # Lava runs the processes connected to the one it is started from: tie stray LIFs to it
    if lifs:
        linked = _connected(len(lifs), conns)
        for i in range(len(lifs)):
            if i not in linked:
                j = len(conns)
                arrays[f"c{j}.w"] = np.zeros((lifs[i]["size"], lifs[0]["size"]), dtype=np.int64)
                conns.append({"projection": None, "src_kind": "lif", "src": 0, "dst": i,
                              "delayed": False, "weight_exp": 0,
                              "num_weight_bits": ar.weight_bits})
    index = {
        "inputs": [{"name": k, "size": v.size, "shape": list(v.shape)}
                   for k, v in g.inputs.items()],
        "lifs": lifs, "conns": conns,
        "populations": [{"name": k, "size": v.size, "spiking": v.model in SPIKING}
                        for k, v in g.populations.items()],
        "outputs": [{"name": k, "source": v.source} for k, v in g.outputs.items()],
    }
    arrays["index"] = np.array(json.dumps(index, sort_keys=True))
    yield from _drain(arrays)


def _connected(n: int, conns: list[dict[str, Any]]) -> set[int]:
    """LIF indices connected (ignoring direction, through LIFs only or shared inputs) to 0."""
    parent = list(range(n))
    ports: dict[str, int] = {}

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for c in conns:
        if c["src_kind"] == "lif":
            parent[find(c["src"])] = find(c["dst"])
        elif c["src"] in ports:
            parent[find(ports[c["src"]])] = find(c["dst"])
        else:
            ports[c["src"]] = c["dst"]
    root = find(0)
    return {i for i in range(n) if find(i) == root}


def run_lava(desc: dict[str, np.ndarray], inputs: dict[str, np.ndarray], steps: int,
             on_sample: Any = None) -> dict[str, np.ndarray]:
    """Batch run in Lava: inputs port -> (B, T_in, *shape); returns traces (B, steps, n)."""
    if not lava_network.have_lava():
        raise LavaError("lava-nc is not installed; `make setup` installs it (see README), or "
                        "use --engine fixed, which is bit-exact to it")
    batch = next(iter(inputs.values())).shape[0]
    out: dict[str, list[np.ndarray]] = {}
    for b in range(batch):
        tr = lava_network.run(desc, {k: x[b].reshape(x.shape[1], -1) for k, x in inputs.items()},
                              steps)
        for k, v in tr.items():
            out.setdefault(k, []).append(v)
        if on_sample is not None:
            on_sample(b)
    return {k: np.stack(v) for k, v in out.items()}


class LavaBackend:
    """Emits lava/network.py (a verbatim copy of backends/lava_network.py) and
    lava/weights.npz (the process description it builds)."""

    name = "lava"
    owns = ("lava/network.py", "lava/weights.npz")  # what it writes under the artifact root

    def check(self, t: TargetSpec) -> None:
        check_lava_format(t.arith, f"target {t.name} ({t.path})")

    def emit(self, root: Path, fixed: Graph, coremap: Any, t: TargetSpec, save_npz: Any
             ) -> list[str]:
        (root / "lava").mkdir(exist_ok=True)
        save_npz(root / "lava" / "weights.npz", describe_items(fixed))
        (root / "lava" / "network.py").write_text(Path(lava_network.__file__).read_text())
        return ["lava/network.py", "lava/weights.npz"]
