"""Canonical byte serialization of a Graph, used for digests (independent of the text format)."""

from __future__ import annotations

import json
from dataclasses import fields
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from snnc.compiler.ir import Graph


def _encode(value: Any, out: list[bytes]) -> None:
    if isinstance(value, np.ndarray):
        arr = np.ascontiguousarray(value)
        out.append(f"A{arr.dtype.str}{arr.shape}".encode())
        out.append(arr.tobytes())
    elif isinstance(value, Enum):
        out.append(f"E{value.value}".encode())
    else:
        out.append(("V" + json.dumps(value, sort_keys=True)).encode())


def canonical_bytes(graph: Graph) -> bytes:
    """Every field of every node, in sorted order, with array dtypes and shapes."""
    out: list[bytes] = [b"snnc-ir-1"]
    for group in ("populations", "projections", "inputs", "outputs"):
        out.append(group.encode())
        for name, node in getattr(graph, group).items():
            out.append(name.encode())
            for f in fields(node):
                out.append(f.name.encode())
                _encode(getattr(node, f.name), out)
    out.append(json.dumps(graph.meta, sort_keys=True).encode())
    return b"\0".join(len(b).to_bytes(8, "little") + b for b in out)
