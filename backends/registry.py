"""The backends a target may list in its `emit`: each a small class with a `name`, a `check`
of the target (run before anything is compiled) and one `emit` that writes its files under the
artifact root and returns their relative paths. Output depends only on the input: files are
written in sorted order, with no timestamps or absolute paths.

The core map itself (mapping/, cores.md; backends/coremap_files.py) is in every artifact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from snnc.backends.lava import LavaBackend
from snnc.backends.refsim import RefsimBackend
from snnc.backends.tianjic import TianjicBackend
from snnc.compiler.coremap import CoreMap
from snnc.compiler.errors import SnncError
from snnc.compiler.ir import Graph
from snnc.compiler.targets import TargetSpec


class Backend(Protocol):
    name: str
    owns: tuple[str, ...]  # files and directories it writes under the artifact root

    def check(self, t: TargetSpec) -> None: ...

    def emit(self, root: Path, fixed: Graph, coremap: CoreMap, t: TargetSpec, save_npz: Any
             ) -> list[str]: ...


BACKENDS: dict[str, Backend] = {b.name: b for b in (RefsimBackend(), LavaBackend(),
                                                     TianjicBackend())}


def backends_of(t: TargetSpec) -> list[Backend]:
    """The backends a target's `emit` lists, each checked against the target."""
    out = []
    for name in t.emit:
        if name not in BACKENDS:
            raise SnncError(f"{t.path}: emit lists {name!r}; backends: "
                            f"{', '.join(BACKENDS)}")
        BACKENDS[name].check(t)
        out.append(BACKENDS[name])
    return out
