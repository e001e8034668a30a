"""The pass registry: every pass is `fn(ir, ctx, opts) -> ir`, registered with its stages,
options type and prerequisites; compiler/pipeline.py runs them in one loop.

Stages: FLOAT (float IR, compiler/ir.py) -> FIXED (the target's integers) -> MAPPED (a core
map, compiler/coremap.py). A pass never mutates its input, and what it changed goes into the
IR's meta (graphs) or the core map's meta.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from snnc.compiler.fixed import Arithmetic
from snnc.compiler.targets import TargetSpec


class Stage(Enum):
    """What the state between passes is: a float IR, a fixed IR, or a core map."""

    FLOAT = "float"
    FIXED = "fixed"
    MAPPED = "mapped"


@dataclass(frozen=True)
class PassContext:
    """What every pass is given besides the IR and its options: the target (facts and
    arithmetic) and a progress callback for long work (stderr lines in the CLI)."""

    target: TargetSpec
    progress: Callable[[str], None] | None = None

    @property
    def arith(self) -> Arithmetic:
        return self.target.arith

    def say(self, msg: str) -> None:
        if self.progress is not None:
            self.progress(msg)


@dataclass(frozen=True)
class PassInfo:
    name: str
    fn: Callable[[Any, PassContext, Any], Any]
    stage_in: Stage
    stage_out: Stage
    options: type | None  # a frozen dataclass, or None for passes without options
    requires: tuple[str, ...]  # passes that must have run before
    reads: tuple[str, ...]  # graph annotations (compiler/ir.py ANNOTATIONS) the pass reads
    doc: str


PASSES: dict[str, PassInfo] = {}


def register_pass(*, stage_in: Stage, stage_out: Stage | None = None, options: type | None = None,
                  requires: tuple[str, ...] = (), reads: tuple[str, ...] = ()
                  ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn` under its own name (so grep finds it), with its first docstring line."""
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        PASSES[fn.__name__] = PassInfo(fn.__name__, fn, stage_in, stage_out or stage_in,
                                       options, tuple(requires), tuple(reads), doc)
        return fn
    return deco
