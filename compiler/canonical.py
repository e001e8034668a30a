"""Canonical byte serialization of a Graph, used for digests (independent of the text format)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from snnc.compiler.ir import Graph


def _encode(value: Any, out: list[Any]) -> None:
    if isinstance(value, np.ndarray):
        arr = np.ascontiguousarray(value)
        out.append(f"A{arr.dtype.str}{arr.shape}".encode())
        out.append(arr.reshape(-1).view(np.uint8))  # its bytes, not copied
    elif isinstance(value, Enum):
        out.append(f"E{value.value}".encode())
    else:
        out.append(("V" + json.dumps(value, sort_keys=True)).encode())


def _parts(graph: Graph) -> list[Any]:
    """Every field of every node, in sorted order, with array dtypes and shapes."""
    out: list[Any] = [b"snnc-ir-1"]
    for group in ("populations", "projections", "inputs", "outputs"):
        out.append(group.encode())
        for name, node in getattr(graph, group).items():
            out.append(name.encode())
            for f in fields(node):
                out.append(f.name.encode())
                _encode(getattr(node, f.name), out)
    out.append(json.dumps(graph.meta, sort_keys=True).encode())
    return out


def canonical_bytes(graph: Graph) -> bytes:
    """The parts, each prefixed with its length, joined by NUL bytes."""
    return b"\0".join(len(b).to_bytes(8, "little") + bytes(b) for b in _parts(graph))


def canonical_sha256(graph: Graph) -> str:
    """sha256 of canonical_bytes, fed part by part (no copy of the graph's arrays)."""
    h = hashlib.sha256()
    for i, b in enumerate(_parts(graph)):
        h.update((b"\0" if i else b"") + len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()
