"""Give freed heap memory back to the operating system between the large steps of a compile.

numpy takes arrays of up to 32 MB from the C heap (glibc raises its mmap threshold to that
after the first large free), so the blocks a layer is expanded in stay resident after they
are freed, unless the heap is trimmed: at 1G synapses that is gigabytes the next pass cannot
use. Dask's workers do the same for their unmanaged memory. A no-op where the C library has
no malloc_trim (macOS, musl).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache


@cache
def _trim() -> object | None:
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


def give_back() -> None:
    """Return the heap's free pages to the OS (glibc malloc_trim(0))."""
    f = _trim()
    if f is not None:
        f(0)  # type: ignore[operator]
