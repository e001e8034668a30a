"""What a target fact may hold: one checker of value kinds for the target loader
(compiler/targets) and the arithmetic's `[format]` facts (compiler/fixed.py)."""

from __future__ import annotations

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


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# kind -> (test, what the value must be)
KINDS: dict[str, tuple[Any, str]] = {
    "bool": (lambda v: isinstance(v, bool), "must be true or false"),
    "int": (_int, "must be an integer"),
    "pos_int": (lambda v: _int(v) and v > 0, "must be a positive integer"),
    "nonneg_int": (lambda v: _int(v) and v >= 0, "must be a non-negative integer"),
    "number": (lambda v: _number(v) and v >= 0, "must be a non-negative number"),
    "pos_number": (lambda v: _number(v) and v > 0, "must be a positive number"),
    "mesh": (lambda v: isinstance(v, list) and len(v) == 2 and all(_int(x) and x > 0 for x in v),
             "must be [columns, rows] of positive integers"),
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
