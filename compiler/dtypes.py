"""The narrowest integer type for a table, so that synapse-sized arrays in memory and on disk
cost what their values need (an int8 weight is 1 byte, not 8)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

SIGNED = (np.int8, np.int16, np.int32, np.int64)


def narrow(a: np.ndarray) -> np.ndarray:
    """`a` as the smallest signed integer type holding all its values (signed only: mixing
    unsigned and signed integers in numba or numpy can promote to float)."""
    a = np.asarray(a)
    if a.size == 0:
        return a.astype(np.int8)
    lo, hi = int(a.min()), int(a.max())
    for t in SIGNED:
        info = np.iinfo(t)
        if info.min <= lo and hi <= info.max:
            return a.astype(t, copy=False)
    raise OverflowError(f"integers {lo}..{hi} do not fit 64 bits")


def is_binary(x: np.ndarray) -> bool:
    """Every value 0 or 1 (spikes), without a temporary wider than x (np.isin sorts a copy
    in int64)."""
    if x.dtype == np.bool_ or x.size == 0:
        return True
    if x.dtype.kind in "iu":
        return bool(x.min() >= 0 and x.max() <= 1)
    return bool(np.logical_or(x == 0, x == 1).all())


def is_csr_ptr(ptr: np.ndarray, rows: int, total: int) -> bool:
    """ptr has rows + 1 entries running from 0 to total without going back: it indexes
    `total` items row by row (kernels that read ptr[i]:ptr[i + 1] unchecked rely on it)."""
    return (len(ptr) == rows + 1 and int(ptr[0]) == 0 and int(ptr[-1]) == total
            and not (np.diff(ptr) < 0).any())


def index_type(n: int) -> type[np.signedinteger]:
    """The type of ids below `n`: int32 (half the memory of int64) unless they do not fit."""
    return np.int32 if n <= np.iinfo(np.int32).max else np.int64


@njit(cache=True, nogil=True)
def integral_range(a: np.ndarray) -> tuple[bool, float, float]:
    """(every value finite, integral and not -0.0; min; max) of a float array, in one pass
    (a 100M-synapse weight array would otherwise need several array-sized temporaries)."""
    lo, hi = math.inf, -math.inf
    for x in a:
        if not math.isfinite(x) or x != math.floor(x) or (x == 0 and math.copysign(1.0, x) < 0):
            return False, 0.0, 0.0
        lo = min(lo, x)
        hi = max(hi, x)
    return True, lo, hi
