"""The snnc IR text format (.snn): prints and parses the whole IR without loss.

Floats print as Python's shortest round-trip repr, so parse(print(g)) == g bit for bit.
Arrays print inline, or, with an `arrays` dict, as @"key" references to an .npz beside the text.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
from snnc.compiler.dtypes import integral_range, narrow
from snnc.compiler.errors import ModelError
from snnc.compiler.ir import (
    FORMAT_VERSION,
    POP_PARAMS,
    Conn,
    Graph,
)

INLINE_LIMIT = 4096  # arrays larger than this go to the .npz when writing files
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
_KEYWORDS = {"input", "output", "population", "projection", "meta", "fill", "snnc", "f64", "i64"}



def _name(n: str) -> str:
    return n if _BARE.match(n) and n not in _KEYWORDS else json.dumps(n)


def _num(x: float) -> str:
    if np.isnan(x):
        return "nan"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(float(x)) if isinstance(x, (float, np.floating)) else str(int(x))


def _shape(s: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(int(x)) for x in s) + ")"


def _array(a: np.ndarray, arrays: dict[str, np.ndarray] | None, limit: int) -> str:
    dt = "f64" if a.dtype == np.float64 else "i64"
    head = f"{dt} {_shape(a.shape)}"
    flat = a.reshape(-1)
    if flat.size and (flat == flat[0]).all() or (flat.size and np.isnan(flat).all()):
        return f"{head} fill {_num(flat[0].item())}"
    if arrays is not None and flat.size > limit:
        key = f"a{len(arrays)}"  # zip member names cannot hold every node name; print order
        arrays[key] = _compact(a)  # makes the counter deterministic
        return f"{head} @{json.dumps(key)}"
    if dt == "f64":
        body = ", ".join(_num(v) for v in flat.tolist())
    else:
        body = ", ".join(str(v) for v in flat.tolist())
    return f"{head} [{body}]"


def _compact(a: np.ndarray) -> np.ndarray:
    """An array for the .npz in the narrowest integer type that reads back (astype to its
    declared f64 or i64) to the same bytes: integer arrays always, float arrays whose values
    are all integers (no -0.0). Quantized weights take 1 byte a value instead of 8."""
    if a.dtype.kind in "iu":
        return narrow(a)
    if a.dtype.kind == "f" and a.size:
        ok, lo, hi = integral_range(a.reshape(-1))  # one pass, no array-sized temporaries
        if ok and max(-lo, hi) < np.iinfo(np.int64).max // 2:
            return a.astype(narrow(np.array([lo, hi], dtype=np.int64)).dtype)
    return a


def print_ir(g: Graph, arrays: dict[str, np.ndarray] | None = None,
             inline_limit: int = INLINE_LIMIT) -> str:
    """IR -> text. With `arrays`, arrays of more than `inline_limit` values are stored there
    and referenced by key."""
    out = [f"snnc-ir {FORMAT_VERSION}"]
    for p in g.inputs.values():
        out.append(f"input {_name(p.name)} : {_shape(p.shape)}")
    for p in g.populations.values():
        out.append(f"population {_name(p.name)} : {p.model.value} {_shape(p.shape)} "
                   f"reset={p.reset.value} refractory={p.refractory}"
                   + (f" onset={p.onset}" if p.onset else "")
                   + (f" reset_every={p.reset_every} reset_phase={p.reset_phase}"
                      if p.reset_every else "") + " {")
        for f in POP_PARAMS:
            out.append(f"  {f} = {_array(getattr(p, f), arrays, inline_limit)}")
        out.append("}")
    for p in g.projections.values():
        attrs = ""
        if p.kind is Conn.CONV:
            attrs = (f" stride={_shape(p.stride)} padding={_shape(p.padding)} "
                     f"dilation={_shape(p.dilation)} groups={p.groups}")
        if p.weight_bits:
            attrs += f" weight_exp={p.weight_exp} weight_bits={p.weight_bits}"
        out.append(f"projection {_name(p.name)} : {_name(p.src)} -> {_name(p.dst)} "
                   f"{p.kind.value}{attrs} {{")
        for f in ("weight", "delay", "indptr", "indices"):
            a = getattr(p, f)
            if a is not None:
                out.append(f"  {f} = {_array(a, arrays, inline_limit)}")
        out.append("}")
    for p in g.outputs.values():
        out.append(f"output {_name(p.name)} : {_shape(p.shape)} <- {_name(p.source or '')}")
    if g.meta:
        out.append("meta " + json.dumps(json.dumps(g.meta, sort_keys=True)))
    return "\n".join(out) + "\n"


def parse_ir(text: str, arrays: dict[str, np.ndarray] | None = None,
             path: str = "<text>") -> Graph:
    """Text -> IR (not validated; call compiler.verify.validate). The parser lives in
    text_parse.py, imported on first use: printing (every artifact write) never loads lark."""
    from snnc.frontends.text_parse import parse_ir as parse

    return parse(text, arrays, path)


def npz_path(path: str) -> str:
    return path + ".npz"


def write_text(g: Graph, path: str) -> None:
    """Write .snn text, with large arrays in <path>.npz beside it (each file replaced in one
    step). Without large arrays no .npz is written and none is touched: the text then refers
    to none, and load_text reads a .npz only for a text that does."""
    from snnc.compiler.paths import replacing, write_text as write_whole

    arrays: dict[str, np.ndarray] = {}
    text = print_ir(g, arrays)
    if arrays:
        with replacing(npz_path(path)) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
    write_whole(path, text)


def load_text(path: str) -> Graph:
    """Read .snn text (and its .npz, if any) into a validated IR."""
    from snnc.compiler.verify import validate

    if not os.path.exists(path):
        raise ModelError(path, None, "file not found")
    try:
        text = Path(path).read_text()
    except UnicodeDecodeError:
        raise ModelError(path, None, "not a text file", "is it a .nir or .net file?") from None
    arrays = None
    if '@"' in text and os.path.exists(npz_path(path)):
        try:
            with np.load(npz_path(path)) as z:
                arrays = {k: z[k] for k in z.files}
        except Exception as e:
            raise ModelError(npz_path(path), None, f"cannot read arrays: {e}") from None
    from snnc.compiler.errors import IRError

    try:
        return validate(parse_ir(text, arrays, path))
    except IRError as e:
        raise ModelError(path, e.node, e.message) from None
