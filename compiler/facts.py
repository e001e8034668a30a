"""What a target fact may hold: one checker of value kinds for the target loader
(compiler/targets) and the arithmetic's `[format]` facts (compiler/fixed.py)."""

from __future__ import annotations

import math
from typing import Any

from snnc.compiler.errors import SnncError

RESET_MODES = ("zero", "subtract", "none", "delayed_subtract")  # reset codes 0..3 in kernels
MULTICAST = ("tree", "relay")


class FactError(SnncError, ValueError):
    """A fact is missing, of the wrong kind, or outside what the semantics allows (the target
    loader adds the file; anywhere else it is still one clear error line)."""

    def __init__(self, key: str, message: str):
        self.key, self.message = key, message
        super().__init__(f"{key}: {message}")


MAX_INT = 2_147_483_647  # counts and sizes on a chip; larger values are typos or attacks
MAX_NUMBER = 1e30  # costs, latencies and clocks: finite and far from overflow


def _number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and abs(value) <= MAX_NUMBER)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INT


# kind -> (test, what the value must be)
KINDS: dict[str, tuple[Any, str]] = {
    "bool": (lambda v: isinstance(v, bool), "must be true or false"),
    "int": (_int, f"must be an integer within +-{MAX_INT}"),
    "pos_int": (lambda v: _int(v) and v > 0, f"must be an integer in 1..{MAX_INT}"),
    "nonneg_int": (lambda v: _int(v) and v >= 0, f"must be an integer in 0..{MAX_INT}"),
    "number": (lambda v: _number(v) and v >= 0,
               f"must be a finite non-negative number (at most {MAX_NUMBER:g})"),
    "pos_number": (lambda v: _number(v) and v > 0,
                   f"must be a finite positive number (at most {MAX_NUMBER:g})"),
    "mesh": (lambda v: isinstance(v, list) and len(v) == 2
             and all(_int(x) and 0 < x < 65536 for x in v),
             "must be [columns, rows] of integers in 1..65535"),
    "multicast": (lambda v: v in MULTICAST, f"must be one of {list(MULTICAST)}"),
    "resets": (lambda v: isinstance(v, (list, tuple)) and bool(v)
               and all(x in RESET_MODES for x in v),
               f"must be a list drawn from {list(RESET_MODES)}"),
}


def checked(key: str, value: Any, kind: str) -> Any:
    """`value` if it is of `kind` (resets as a tuple); FactError naming the fact otherwise."""
    if value is None:
        raise FactError(key, "missing")
    ok, what = KINDS[kind]
    if not ok(value):
        raise FactError(key, what)
    return tuple(value) if kind == "resets" else value
