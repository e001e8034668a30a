#!/usr/bin/env python3
"""A compiled snnc network as Lava 0.10.0 processes, and a script that runs it.

This file is copied verbatim into every loihi2 artifact as `lava/network.py`; the network
itself is the data in `lava/weights.npz` beside it. snnc's in-process Lava engine imports the
same code, so the script and `snnc run --engine lava` cannot drift apart. It needs only numpy,
scipy and lava-nc:

    python network.py --input X.npy --steps T -o out.npz

X.npy holds binary spikes (T_in, *input_shape) or (B, T_in, *input_shape); out.npz gets, per
output port, spikes (B, T, n) and per population the traces u:<pop>, v:<pop>, s:<pop>.
Processes: one RingBuffer per input port; one LIF (fixed_pt) per group of neurons that share
du, dv and vth; one Dense / Sparse / DelayDense / DelaySparse per projection and group pair;
Monitors on u, v and s_out of every LIF.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

# --- lava-nc 0.10.0 on Python 3.11: three dataclass fields of lava.magma.compiler.var_model
# default to a ByteEncoder() instance, which 3.11 rejects as a mutable default. While that one
# module is imported, those defaults become field(default_factory=ByteEncoder).
_VAR_MODEL = "lava.magma.compiler.var_model"
_OLD = ": ByteEncoder = ByteEncoder()"
_NEW = ": ByteEncoder = __import__('dataclasses').field(default_factory=ByteEncoder)"


class _PatchedLoader(importlib.machinery.SourceFileLoader):
    def get_data(self, path):
        data = super().get_data(path)
        return data.decode("utf-8").replace(_OLD, _NEW).encode("utf-8") if path.endswith(
            ".py") else data

    def get_code(self, fullname):  # compile the patched source, never a cached .pyc
        path = self.get_filename(fullname)
        return compile(self.get_data(path), path, "exec", dont_inherit=True)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != _VAR_MODEL:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.origin:
            spec.loader = _PatchedLoader(fullname, spec.origin)
        return spec


def have_lava() -> bool:
    return importlib.util.find_spec("lava") is not None


def ensure_lava() -> None:
    """Make lava-nc importable on this interpreter (RuntimeError if it is not installed)."""
    if not have_lava():
        raise RuntimeError("lava-nc is not installed")
    if sys.version_info >= (3, 11) and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
    # Lava calls multiprocessing.set_start_method('fork') when imported, which raises if
    # anything (numba's threading layer, for one) already fixed the start method. Let that
    # one call through with force=True; 'fork' is the Linux default it already had.
    mod = "lava.magma.runtime.message_infrastructure.multiprocessing"
    import multiprocessing as mp

    if mod not in sys.modules and mp.get_start_method(allow_none=True) is not None:
        original = mp.set_start_method
        mp.set_start_method = lambda method, force=False: original(method, force=True)
        try:
            importlib.import_module(mod)
        finally:
            mp.set_start_method = original


# --- the network description (weights.npz)


def load_description(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _matrix(desc: dict[str, np.ndarray], key: str):
    """A weight or delay matrix as int64 (stored in its narrowest integer type)."""
    if f"{key}.data" in desc:
        return sp.csr_matrix(tuple(desc[f"{key}.{k}"].astype(np.int64)
                                   for k in ("data", "indices", "indptr")),
                             shape=tuple(desc[f"{key}.shape"]))
    return desc[key].astype(np.int64)


def run(desc: dict[str, np.ndarray], inputs: dict[str, np.ndarray], steps: int
        ) -> dict[str, np.ndarray]:
    """Run one sample for `steps` steps. inputs: port -> (T_in, n) binary spikes.

    Returns per population u:<pop>, v:<pop>, s:<pop> of shape (steps, size) as int64.
    """
    ensure_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF, LIFReset
    from lava.proc.monitor.process import Monitor
    from lava.proc.sparse.process import DelaySparse, Sparse
    from lava.utils.weightutils import SignMode

    index = json.loads(str(desc["index"]))
    sources = {}
    for port in index["inputs"]:
        x = np.zeros((port["size"], steps), dtype=np.int64)
        given = np.asarray(inputs[port["name"]]).reshape(-1, port["size"])[:steps]
        x[:, : given.shape[0]] = given.T
        sources[port["name"]] = RingBuffer(data=x)
    lifs = []
    for i, g in enumerate(index["lifs"]):
        mant = desc[f"lif{i}.bias_mant"]
        kw = dict(shape=(g["size"],), du=g["du"], dv=g["dv"], vth=g["vth"],
                  bias_mant=mant if g.get("onset", 0) == 0 else np.zeros_like(mant),
                  bias_exp=desc[f"lif{i}.bias_exp"], name=f"{g['pop']}#{i}")
        if g.get("reset_every"):  # netx's periodic state reset
            lifs.append(LIFReset(reset_interval=g["reset_every"],
                                 reset_offset=g["reset_phase"], **kw))
        else:
            lifs.append(LIF(**kw))
    for j, c in enumerate(index["conns"]):
        w = _matrix(desc, f"c{j}.w")
        kw = dict(weights=w, weight_exp=c["weight_exp"], num_weight_bits=c["num_weight_bits"],
                  sign_mode=SignMode.MIXED)
        if c["delayed"]:
            cls = DelaySparse if sp.issparse(w) else DelayDense
            conn = cls(delays=_matrix(desc, f"c{j}.d"), **kw)
        else:
            conn = (Sparse if sp.issparse(w) else Dense)(**kw)
        src = sources[c["src"]] if c["src_kind"] == "input" else lifs[c["src"]]
        src.s_out.connect(conn.s_in)
        conn.a_out.connect(lifs[c["dst"]].a_in)
    monitors = []
    for lif in lifs:
        ms = {}
        for var in ("u", "v", "s_out"):
            m = Monitor()
            m.probe(getattr(lif, var), steps)
            ms[var] = m
        monitors.append(ms)
    anchor = lifs[0]
    # A population's bias is written when its first input can arrive (its onset step): run
    # up to each onset, then set those biases (Lava's LIF rescales bias_mant every step).
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    onsets = sorted({g.get("onset", 0) for g in index["lifs"]} - {0})
    done = 0
    for when in [*(o for o in onsets if o < steps), steps]:
        if when > done:
            anchor.run(condition=RunSteps(num_steps=when - done), run_cfg=cfg)
            done = when
        for i, g in enumerate(index["lifs"]):
            if g.get("onset", 0) == when and when < steps:
                lifs[i].bias_mant.set(desc[f"lif{i}.bias_mant"])
    try:
        out: dict[str, np.ndarray] = {}
        for pop in index["populations"]:
            for v in ("u", "v", "s"):
                out[f"{v}:{pop['name']}"] = np.zeros((steps, pop["size"]), dtype=np.int64)
        for i, (g, lif) in enumerate(zip(index["lifs"], lifs, strict=True)):
            idx = desc[f"lif{i}.neurons"]
            for var, ms in monitors[i].items():
                data = ms.get_data()[lif.name][var]  # (steps, size)
                out[f"{var[0]}:{g['pop']}"][:, idx] = np.rint(data).astype(np.int64)
    finally:
        anchor.stop()
    return out


def outputs_of(desc: dict[str, np.ndarray], traces: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Output ports from traces: spikes of spiking sources, v of the others."""
    index = json.loads(str(desc["index"]))
    spiking = {p["name"]: p["spiking"] for p in index["populations"]}
    return {o["name"]: traces[("s:" if spiking[o["source"]] else "v:") + o["source"]]
            for o in index["outputs"]}


def check_artifact(weights: Path) -> None:
    """Run as a script inside an artifact: this file and the weights must be the ones the
    artifact's manifest lists (a script or weights swapped from elsewhere is refused)."""
    import hashlib

    here = Path(__file__).resolve()
    manifest = here.parent.parent / "manifest.json"
    if not manifest.is_file():
        return  # a copy outside an artifact: nothing to check against
    try:
        files = json.loads(manifest.read_text())["files"]
        for f in (here, weights.resolve()):
            rel = f.relative_to(manifest.parent.resolve()).as_posix()
            if hashlib.sha256(f.read_bytes()).hexdigest() != files[rel]:
                sys.exit(f"error: {f} does not match its checksum in {manifest}; recompile")
    except (ValueError, KeyError, TypeError, OSError, RecursionError) as e:
        sys.exit(f"error: {manifest} does not list {weights} ({type(e).__name__}: {e}); "
                 "run the script of the artifact that made the weights")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True, help=".npy (one input port) or .npz (port -> array)")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("-o", "--output", required=True, help="output .npz")
    ap.add_argument("--weights", default=str(Path(__file__).with_name("weights.npz")))
    a = ap.parse_args(argv)
    check_artifact(Path(a.weights))
    desc = load_description(a.weights)
    index = json.loads(str(desc["index"]))
    ports = index["inputs"]
    if a.input.endswith(".npz"):
        with np.load(a.input) as z:
            xs = {p["name"]: z[p["name"]] for p in ports}
    else:
        if len(ports) != 1:
            sys.exit(f"the network has {len(ports)} input ports; give an .npz keyed by port")
        xs = {ports[0]["name"]: np.load(a.input)}
    batched = {p["name"]: (xs[p["name"]][None] if xs[p["name"]].ndim == 1 + len(p["shape"])
                           else xs[p["name"]]) for p in ports}
    batch = next(iter(batched.values())).shape[0]
    results: dict[str, list[np.ndarray]] = {}
    for b in range(batch):
        traces = run(desc, {k: x[b].reshape(x.shape[1], -1) for k, x in batched.items()}, a.steps)
        for k, v in {**outputs_of(desc, traces), **traces}.items():
            results.setdefault(k, []).append(v)
    np.savez(a.output, **{k: np.stack(v) for k, v in results.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
