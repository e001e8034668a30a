"""The size budget: a declared size (a shape, a padding, a step count) is checked against the
memory snnc may use before anything of that size is allocated, so a hostile or mistaken number
is one clear error, not an exhausted machine. Default: half the machine's physical memory;
SNNC_MEMORY_BUDGET (bytes, or with a K/M/G/T suffix) raises or lowers it (docs/limits.md)."""

from __future__ import annotations

import math
import os
import re

from snnc.compiler.errors import SnncError

ENV = "SNNC_MEMORY_BUDGET"
MAX_COUNT = 2_147_483_647  # counts the engines keep in int32: steps, delays, refractory periods
MAX_STEPS = MAX_COUNT + 1
NEURON_BYTES = 96  # what one neuron costs on its way through snnc (parameters, state, spikes)
SYNAPSE_BYTES = 24  # one stored synapse: weight, delay and index in the expanded tables
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class BudgetError(SnncError):
    """A declared size needs more memory than the budget allows."""


def _physical() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: assume 8 GiB
        return 8 << 30


def budget_bytes() -> int:
    """The memory budget in bytes (SNNC_MEMORY_BUDGET, else half the physical memory)."""
    text = os.environ.get(ENV, "").strip()
    if not text:
        return _physical() // 2
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?", text, flags=re.IGNORECASE)
    if m is None or float(m.group(1)) <= 0:
        raise BudgetError(f"{ENV}={text!r}: give a size in bytes, e.g. 8G or 512M")
    return int(float(m.group(1)) * UNITS[m.group(2).upper()])


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover - the loop returns


def size_of(shape: tuple[int, ...] | list[int], where: str, bytes_each: int = 1) -> int:
    """The number of elements of a declared shape, computed exactly (never overflowing);
    BudgetError if a dimension is negative or the elements at `bytes_each` are over budget."""
    dims = tuple(int(s) for s in shape)
    if any(d < 0 for d in dims):
        raise BudgetError(f"{where}: shape {dims} has a negative dimension")
    n = math.prod(dims)
    check(n, bytes_each, where, f"shape {dims}")
    return n


def check(count: int, bytes_each: int, where: str, what: str) -> None:
    """BudgetError naming `where` and `what` if count x bytes_each is over the budget."""
    need = int(count) * int(bytes_each)
    have = budget_bytes()
    if need > have:
        raise BudgetError(f"{where}: {what} needs {human(need)} ({count:,} x {bytes_each} "
                          f"bytes), over the memory budget of {human(have)}; if the size is "
                          f"meant, raise it with {ENV}=SIZE (docs/limits.md)")


def steps(n: int, where: str = "--steps") -> int:
    """A step count the engines can count to (1 .. 2^31 - 1)."""
    if not 1 <= int(n) < MAX_STEPS:
        raise BudgetError(f"{where}: {n} steps; give 1 to {MAX_STEPS - 1}")
    return int(n)
