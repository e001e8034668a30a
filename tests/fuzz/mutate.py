"""Mutations of the seed files, as JSON-ready specs drawn by hypothesis strategies and applied
by plain functions (so a failing case can be written down and replayed): byte mutators for
every file, and structural ones per format (HDF5 datasets, ONNX protobuf, IR text, manifest
JSON, target TOML, .npy/.npz arrays)."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from hypothesis import strategies as st

# --- hostile values -------------------------------------------------------------------------

HUGE = [2**31, 2**40, 10**9, 10**18, 2**63 - 1, 10**30]
INTS = st.one_of(st.sampled_from([0, -1, 1, 2, -(2**31), *HUGE]), st.integers(-1000, 1000))
FLOATS = st.one_of(st.sampled_from(["nan", "inf", "-inf", 0.0, -0.0, 1e308, -1e308, 1e-320,
                                    0.5, -2.5]), st.floats(-1e6, 1e6))
SHAPES = st.lists(st.sampled_from([0, 1, 2, 3, 4, 7, 100000, 2**31, 10**9]), max_size=4)


def _shape_ok(shape: list[int]) -> bool:
    """What the mutator itself can allocate: few elements, and a shape numpy can express."""
    return math.prod(shape) <= 4096 and math.prod(max(d, 1) for d in shape) < 2**62


VALUES = st.one_of(
    st.builds(lambda v: {"kind": "int", "v": v}, INTS),
    st.builds(lambda v: {"kind": "float", "v": v}, FLOATS),
    st.builds(lambda v: {"kind": "str", "v": v}, st.sampled_from(
        ["", "abc", "../../outside/x", "/etc/passwd", "nan", "1e9", "x" * 300, "\u00e9", "\x00"])),
    st.builds(lambda s, f, d: {"kind": "array", "shape": s, "fill": f, "dtype": d},
              SHAPES.filter(_shape_ok), FLOATS,
              st.sampled_from(["f8", "f4", "i8", "u1", "c16", "b1"])),
    st.builds(lambda d: {"kind": "nested", "depth": d}, st.sampled_from([2, 50, 500])),
    st.just({"kind": "none"}), st.just({"kind": "bool"}),
    st.builds(lambda v: {"kind": "list", "v": v}, st.lists(INTS, max_size=5)))


def _float(v: Any) -> float:
    return float(v) if not isinstance(v, str) else float(v)


def realize(spec: dict[str, Any]) -> Any:
    """A value spec -> the Python / numpy value it describes."""
    k = spec["kind"]
    if k == "int":
        return int(spec["v"])
    if k == "float":
        return _float(spec["v"])
    if k == "str":
        return spec["v"]
    if k == "array":
        dt = np.dtype(spec["dtype"])
        fill = _float(spec["fill"])
        with np.errstate(all="ignore"):
            if dt.kind in "iub":
                fill = 0 if not math.isfinite(fill) else int(max(min(fill, 2**31), -(2**31)))
            return np.full(spec["shape"], fill).astype(dt)
    if k == "nested":
        v: Any = []
        for _ in range(spec["depth"]):
            v = [v]
        return v
    if k == "none":
        return None
    if k == "bool":
        return True
    return list(spec["v"])


# --- bytes ----------------------------------------------------------------------------------

BYTE_OPS = st.lists(st.tuples(
    st.sampled_from(["flip", "set", "insert", "delete", "truncate", "dup", "zero"]),
    st.floats(0, 1), st.integers(0, 255), st.integers(1, 64)), min_size=1, max_size=6)


def bytes_mutate(data: bytes, ops: list[Any]) -> bytes:
    b = bytearray(data)
    for op, where, val, n in ops:
        i = min(int(where * len(b)), max(len(b) - 1, 0))
        if op == "flip" and b:
            b[i] ^= 1 << (val % 8)
        elif op == "set" and b:
            b[i] = val
        elif op == "insert":
            b[i:i] = bytes([val]) * n
        elif op == "delete":
            del b[i:i + n]
        elif op == "truncate":
            del b[i:]
        elif op == "dup":
            b[i:i] = b[i:i + n * 8]
        elif op == "zero":
            b[i:i + n * 8] = bytes(len(b[i:i + n * 8]))
    return bytes(b)


def mutate_file_bytes(path: Path, ops: list[Any]) -> None:
    path.write_bytes(bytes_mutate(path.read_bytes(), ops))


# --- HDF5 (NIR, netx) -----------------------------------------------------------------------

H5_OPS = st.lists(st.one_of(
    st.tuples(st.just("set"), st.integers(0, 10**6), VALUES),
    st.tuples(st.just("del"), st.integers(0, 10**6), st.just(None)),
    st.tuples(st.just("add"), st.integers(0, 10**6), st.tuples(st.sampled_from(
        ["alpha", "weight", "bias", "delay", "type", "padding", "stride", "shape", "groups",
         "wgtExp", "refDelay", "tau", "extra"]), VALUES)),
    st.tuples(st.just("retype"), st.integers(0, 10**6), st.sampled_from(
        ["LIF", "IF", "CubaLIF", "Linear", "Affine", "Conv2d", "Input", "Output", "NIRGraph",
         "Flatten", "SumPool2d", "Delay", "Threshold", "dense", "conv", "input", "pool",
         "CUBA", "SDNN", "Frobnicate"]))), min_size=1, max_size=4)


def _store(v: Any) -> Any:
    """A value as h5py can store it (nested lists become a string)."""
    if v is None:
        return np.zeros(0)
    if isinstance(v, list):
        return np.asarray(v) if all(isinstance(x, int) for x in v) else json.dumps(v)[:1000]
    return v


def mutate_h5(path: Path, ops: list[Any]) -> None:
    with h5py.File(path, "r+") as f:
        for op, idx, arg in ops:
            items: list[str] = []
            f.visit(items.append)
            dsets = [p for p in items if isinstance(f[p], h5py.Dataset)]
            groups = [""] + [p for p in items if isinstance(f[p], h5py.Group)]
            try:
                if op == "set" and dsets:
                    p = dsets[idx % len(dsets)]
                    del f[p]
                    f[p] = _store(realize(arg))
                elif op == "del" and items:
                    p = items[idx % len(items)]
                    if p in f:
                        del f[p]
                elif op == "add":
                    g = groups[idx % len(groups)]
                    name = f"{g}/{arg[0]}" if g else arg[0]
                    if name in f:
                        del f[name]
                    f[name] = _store(realize(arg[1]))
                elif op == "retype":
                    types = [p for p in dsets if p.endswith("type")]
                    if types:
                        p = types[idx % len(types)]
                        del f[p]
                        f[p] = np.bytes_(arg)
            except (TypeError, ValueError, OSError, KeyError, RuntimeError):
                pass  # h5py cannot store that value there: the mutation is skipped


# --- ONNX -----------------------------------------------------------------------------------

ONNX_OPS = st.lists(st.one_of(
    st.tuples(st.just("attr"), st.integers(0, 100), st.tuples(st.sampled_from(
        ["alpha", "beta", "strides", "pads", "kernel_shape", "group", "axis", "transB",
         "dilations", "ceil_mode", "auto_pad", "n_inputs", "shape", "reset", "refractory",
         "dst", "groups", "weight_exp", "weight_bits", "onset", "stride", "padding"]), VALUES)),
    st.tuples(st.just("op"), st.integers(0, 100), st.sampled_from(
        ["Relu", "LeakyRelu", "Gemm", "Conv", "AveragePool", "MaxPool", "Flatten", "Identity",
         "LIF", "IF", "CubaLIF", "LI", "Dense", "Sparse", "Conv", "Softmax", "Add", "Foo"])),
    st.tuples(st.just("init"), st.integers(0, 100), st.sampled_from(
        ["string", "truncate", "dims", "nan", "complex", "drop"])),
    st.tuples(st.just("dim"), st.integers(0, 100), st.sampled_from(
        [0, -1, 1, 3, 100000, 2**31, 10**12])),
    st.tuples(st.just("rmnode"), st.integers(0, 100), st.just(None)),
    st.tuples(st.just("meta"), st.sampled_from(["snnc.meta", "snnc.digest", "snnc.format"]),
              st.sampled_from(["", "{", "[]", "\"x\"", "[" * 3000 + "]" * 3000,
                               "{\"dt\": \"x\"}", "0" * 64]))), min_size=1, max_size=3)


def mutate_onnx(path: Path, ops: list[Any]) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load(str(path))
    g = m.graph
    for op, idx, arg in ops:
        try:
            if op == "attr" and g.node:
                n = g.node[idx % len(g.node)]
                name, spec = arg
                keep = [a for a in n.attribute if a.name != name]
                del n.attribute[:]
                n.attribute.extend(keep)
                v = realize(spec)
                if isinstance(v, np.ndarray):
                    v = v.reshape(-1).tolist()[:16]
                if v is not None and not isinstance(v, (list, bool)) or (
                        isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v)):
                    n.attribute.append(helper.make_attribute(name, v))
            elif op == "op" and g.node:
                g.node[idx % len(g.node)].op_type = arg
            elif op == "init" and g.initializer:
                t = g.initializer[idx % len(g.initializer)]
                a = numpy_helper.to_array(t)
                if arg == "string":
                    t.CopyFrom(helper.make_tensor(t.name, TensorProto.STRING, [1], [b"abc"]))
                elif arg == "truncate" and t.raw_data:
                    t.raw_data = t.raw_data[: len(t.raw_data) // 2]
                elif arg == "dims" and len(t.dims):
                    t.dims[0] = t.dims[0] * 7 + 1
                elif arg == "nan" and a.size and a.dtype.kind == "f":
                    b = a.copy().reshape(-1)
                    b[0] = np.nan
                    t.CopyFrom(numpy_helper.from_array(b.reshape(a.shape), t.name))
                elif arg == "complex" and a.size:
                    t.CopyFrom(numpy_helper.from_array(a.astype(np.complex64), t.name))
                elif arg == "drop":
                    g.initializer.remove(t)
            elif op == "dim":
                vis = list(g.input) + list(g.output)
                if vis:
                    dims = vis[idx % len(vis)].type.tensor_type.shape.dim
                    if dims:
                        dims[(idx // 7) % len(dims)].dim_value = arg
            elif op == "rmnode" and g.node:
                g.node.remove(g.node[idx % len(g.node)])
            elif op == "meta":
                props = {p.key: p.value for p in m.metadata_props}
                props[idx] = arg
                del m.metadata_props[:]
                helper.set_model_props(m, props)
        except (ValueError, TypeError, IndexError, OverflowError):
            pass
    path.write_bytes(m.SerializeToString())


# --- IR text --------------------------------------------------------------------------------

TEXT_OPS = st.lists(st.one_of(
    st.tuples(st.just("num"), st.integers(0, 10**6), st.sampled_from(
        ["0", "-1", "nan", "inf", "-inf", "99999999999999999999", "1e309", "2147483648",
         "100000", "0.5", "-0.0", "1e-400", "18446744073709551616"])),
    st.tuples(st.just("word"), st.integers(0, 10**6), st.sampled_from(
        ["lif", "if", "cuba_lif", "li", "dense", "conv", "sparse", "zero", "subtract",
         "delayed_subtract", "bogus", "input", "output", "p", "x", "f64", "i64", "fill"])),
    st.tuples(st.just("line_del"), st.integers(0, 10**6), st.just(None)),
    st.tuples(st.just("line_dup"), st.integers(0, 10**6), st.just(None)),
    st.tuples(st.just("line_swap"), st.integers(0, 10**6), st.integers(0, 10**6))),
    min_size=1, max_size=4)

_NUM = re.compile(r"(?<![A-Za-z_])-?\d+(?:\.\d+)?(?:e-?\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def mutate_text(path: Path, ops: list[Any]) -> None:
    text = path.read_text()
    for op, i, arg in ops:
        lines = text.split("\n")
        if op in ("num", "word"):
            hits = list((_NUM if op == "num" else _WORD).finditer(text))
            if hits:
                h = hits[i % len(hits)]
                text = text[:h.start()] + arg + text[h.end():]
        elif op == "line_del" and lines:
            del lines[i % len(lines)]
            text = "\n".join(lines)
        elif op == "line_dup" and lines:
            k = i % len(lines)
            lines.insert(k, lines[k])
            text = "\n".join(lines)
        elif op == "line_swap" and lines:
            a, b = i % len(lines), arg % len(lines)
            lines[a], lines[b] = lines[b], lines[a]
            text = "\n".join(lines)
    path.write_text(text)


# --- JSON (manifest) ------------------------------------------------------------------------

JSON_OPS = st.lists(st.one_of(
    st.tuples(st.just("reseal"), st.just(0), st.just(None)),
    st.tuples(st.just("set"), st.integers(0, 10**6), VALUES),
    st.tuples(st.just("del"), st.integers(0, 10**6), st.just(None)),
    st.tuples(st.just("file"), st.integers(0, 10**6), st.sampled_from(
        ["/etc/passwd", "../outside/secret.txt", "../../x", "", ".", "mapping/../ir.snn",
         "sample_input.npz/x", "lava", "a\\b", "ir.snn\x00"]))), min_size=1, max_size=4)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for k, v in enumerate(doc[:8]):
            out += _paths(v, prefix + (k,))
    return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return [x if isinstance(x, (int, bool)) else str(x) for x in v.reshape(-1).tolist()[:8]]
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def mutate_json(path: Path, ops: list[Any]) -> None:
    from snnc.artifact import SEAL, seal

    doc = json.loads(path.read_text())
    reseal = False
    for op, i, arg in ops:
        if op == "reseal":
            reseal = True
            continue
        ps = _paths(doc)
        p = ps[i % len(ps)]
        if op == "file" and isinstance(doc, dict) and isinstance(doc.get("files"), dict):
            doc["files"][arg] = "0" * 64
            continue
        if not p:
            if op == "set":
                doc = _jsonable(realize(arg))
            continue
        parent = doc
        for k in p[:-1]:
            parent = parent[k]
        if op == "set":
            parent[p[-1]] = _jsonable(realize(arg))
        elif op == "del":
            del parent[p[-1]]
    if reseal and isinstance(doc, dict):
        try:
            doc[SEAL] = seal(doc)
        except (TypeError, ValueError, RecursionError):
            pass
    path.write_text(json.dumps(doc))


# --- artifact files -------------------------------------------------------------------------

FILE_OPS = st.lists(st.one_of(
    st.tuples(st.just("bytes"), st.integers(0, 10**6), st.tuples(BYTE_OPS, st.booleans())),
    st.tuples(st.just("symlink"), st.integers(0, 10**6), st.booleans()),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.just(None)),
    st.tuples(st.just("swap"), st.integers(0, 10**6), st.integers(0, 10**6))),
    min_size=1, max_size=3)


def _relist(art: Path, rel: str) -> None:
    """Record a file's new checksum and reseal the manifest: an edit made consistently."""
    import hashlib

    from snnc.artifact import SEAL, seal

    doc = json.loads((art / "manifest.json").read_text())
    if isinstance(doc, dict) and isinstance(doc.get("files"), dict):
        doc["files"][rel] = hashlib.sha256((art / rel).read_bytes()).hexdigest()
        doc[SEAL] = seal(doc)
    (art / "manifest.json").write_text(json.dumps(doc))


def mutate_artifact(art: Path, ops: list[Any], outside: Path) -> None:
    files = sorted(str(p.relative_to(art)) for p in art.rglob("*") if p.is_file()
                   and p.name != "manifest.json")
    for op, i, arg in ops:
        rel = files[i % len(files)]
        p = art / rel
        if not p.is_file() or p.is_symlink():
            continue
        if op == "bytes":
            mutate_file_bytes(p, arg[0])
            if arg[1]:
                _relist(art, rel)
        elif op == "symlink":
            target = outside / "secret.txt"
            if arg:  # a copy outside, so its checksum still matches
                target = outside / f"copy_{p.name}"
                target.write_bytes(p.read_bytes())
            p.unlink()
            p.symlink_to(target)
        elif op == "delete":
            p.unlink()
        elif op == "swap":
            q = art / files[arg % len(files)]
            if q.is_file() and not q.is_symlink() and q != p:
                a, b = p.read_bytes(), q.read_bytes()
                p.write_bytes(b)
                q.write_bytes(a)


# --- TOML (targets) -------------------------------------------------------------------------

FACT_KEYS = ["chip.cores", "chip.mesh", "core.neurons", "core.in_axons", "core.out_axons",
             "core.synapse_memory_bits", "noc.multicast", "noc.hop_latency_cycles_ew",
             "noc.link_occupancy_cycles", "energy_pj.synop", "timing.clock_hz",
             "timing.cycles_per_synop", "timing.cycles_per_step", "format.weight_bits",
             "format.weight_min", "format.weight_max", "format.state_bits",
             "format.decay_bits", "format.max_delay", "format.resets", "format.refractory",
             "format.threshold_exp", "bogus.fact"]
TOML_VALUES = st.sampled_from(
    ["0", "-1", "1", "2", "7", "nan", "inf", "-inf", "1e308", "0.5", "99999999999999999",
     "9223372036854775807", "true", "\"x\"", "[]", "[1]", "[0, 0]", "[100000, 100000]",
     "[\"zero\"]", "[\"bogus\"]", "{}", "[[1]]"])
TOML_OPS = st.lists(st.one_of(
    st.tuples(st.just("fact"), st.sampled_from(FACT_KEYS), TOML_VALUES),
    st.tuples(st.just("nosource"), st.sampled_from(FACT_KEYS), TOML_VALUES),
    st.tuples(st.just("top"), st.sampled_from(["extends", "name", "semantics", "emit",
                                                "description"]),
              st.sampled_from(["\"loihi2\"", "\"/etc/passwd\"", "\"../outside/t.toml\"",
                               "\"mine.toml\"", "\"nope\"", "\"../../x\"", "1", "[]",
                               "[\"refsim\", \"lava\"]", "[\"bogus\"]", "\"tianjic\"",
                               "\"loihi\"", "\"../evil\"", "\"a/b\"", "\"\""]))),
    min_size=1, max_size=4)


def mutate_toml(path: Path, ops: list[Any]) -> None:
    top: dict[str, str] = {}
    facts: dict[str, str] = {}
    for op, key, val in ops:
        if op == "top":
            top[key] = val
        elif op == "fact":
            facts[key] = f"{{ value = {val}, source = \"fuzz\" }}"
        else:
            facts[key] = f"{{ value = {val} }}"
    lines = [f"{k} = {v}" for k, v in top.items()]
    body = path.read_text()
    kept = [ln for ln in body.split("\n") if ln.split("=")[0].strip() not in top]
    sections: dict[str, list[str]] = {}
    for key, v in facts.items():
        sec, name = key.split(".", 1)
        sections.setdefault(sec, []).append(f"{name} = {v}")
    text = "\n".join(lines + [ln for ln in kept if not ln.startswith("[")
                              and "value" not in ln])
    for sec, entries in sections.items():
        text += f"\n[{sec}]\n" + "\n".join(entries)
    path.write_text(text + "\n")


# --- input arrays ---------------------------------------------------------------------------

ARRAY_OPS = st.one_of(
    st.tuples(st.just("array"), SHAPES.filter(_shape_ok), VALUES),
    st.tuples(st.just("header"), st.lists(st.sampled_from(
        [0, 1, 4, 6, 10**5, 10**6, 2**31, 10**12]), min_size=1, max_size=4), st.sampled_from(
        ["<f8", "<u1", "|O", "<c16", "<U3", "|V8"])),
    st.tuples(st.just("npz"), st.sampled_from(["input", "x", "input.npy", "../input"]),
              SHAPES.filter(_shape_ok)),
    st.tuples(st.just("bytes"), BYTE_OPS, st.just(None)),
    st.tuples(st.just("object"), st.just(None), st.just(None)))


def write_input(path: Path, op: Any, seed: Path) -> None:
    """Replace `path` (.npy or .npz) by a hostile array file."""
    kind, a, b = op
    if kind == "array":
        v = realize(b)
        arr = v if isinstance(v, np.ndarray) else np.full(a, 0.0)
        with np.errstate(all="ignore"):
            arr = np.resize(arr, a) if arr.size else np.zeros(a, dtype=arr.dtype)
        np.save(path, arr) if path.suffix == ".npy" else np.savez(path, input=arr)
    elif kind == "header":  # a header that declares more than the file holds
        hdr = {"descr": b, "fortran_order": False, "shape": tuple(a)}
        with open(path, "wb") as f:
            np.lib.format.write_array_header_1_0(f, hdr)
            f.write(os.urandom(64))
    elif kind == "npz":
        np.savez(path.with_suffix(".npz"), **{a: np.zeros(b)})
        if path.suffix == ".npy":
            os.replace(path.with_suffix(".npz"), path)
    elif kind == "bytes":
        path.write_bytes(bytes_mutate(seed.read_bytes(), a))
    elif kind == "object":
        np.save(path, np.array([{"x": 1}], dtype=object), allow_pickle=True)
