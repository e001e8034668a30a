"""Imports point one way: frontends -> compiler <- backends; runtime uses compiler and backends;
snnc/ (API, CLI, artifact and report I/O) wires them. Every import form counts: `import a.b`,
`from a import b`, relative imports, and importlib.import_module / __import__ of a constant."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# folder -> the snnc packages its modules may import (snnc/ itself may import anything)
ALLOWED = {
    "compiler": ("snnc.compiler",),
    "frontends": ("snnc.compiler", "snnc.frontends"),
    "backends": ("snnc.compiler", "snnc.backends"),
    "runtime": ("snnc.compiler", "snnc.backends", "snnc.runtime"),
}


def module_name(path: Path) -> str:
    """The importable name of a file under one of the folders (pyproject package-dir)."""
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["snnc", *parts])


def imported_names(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, fully qualified module) of every import in `source`."""
    out: list[tuple[int, str]] = []
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from snnc import api` imports the module snnc.api
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
            out.append((node.lineno, mod))
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id == "__import__"))):
            out.append((node.lineno, node.args[0].value))
    return out


def violations(folder: str, path: Path, source: str) -> list[str]:
    """Every import of `source` (a file of `folder`) that its folder may not make."""
    allowed = ALLOWED[folder]
    mod = module_name(path)
    bad = []
    for line, name in imported_names(source, mod, path.name == "__init__.py"):
        if name != "snnc" and not name.startswith("snnc."):
            continue
        if not any(name == a or name.startswith(a + ".") for a in allowed):
            bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}: {folder}/ may import "
                       f"only {', '.join(allowed)}")
    return bad


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_import_direction(folder: str) -> None:
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files
    bad = [v for p in files for v in violations(folder, p, p.read_text())]
    assert not bad, "\n".join(bad)


PLANTED = [
    "from snnc import api",
    "import snnc.api",
    "import snnc.artifact as art",
    "from snnc.api import load",
    "import snnc",
    "from snnc.frontends.text import print_ir",
    "import importlib\nimportlib.import_module('snnc.cli')",
    "__import__('snnc.api')",
]


@pytest.mark.parametrize("planted", PLANTED)
def test_a_planted_import_of_the_top_package_in_runtime_is_caught(planted: str) -> None:
    """The checker itself: every import form of a forbidden module is found, and a relative
    import is resolved against the file's package."""
    path = ROOT / "runtime" / "refsim.py"
    source = path.read_text() + "\n" + planted + "\n"
    assert violations("runtime", path, source), planted
    assert not violations("runtime", path, path.read_text())


def test_relative_imports_are_resolved() -> None:
    path = ROOT / "backends" / "lava.py"
    assert violations("backends", path, "from ..runtime import refsim\n")  # snnc.runtime
    assert violations("backends", path, "from .. import api\n")  # snnc.api
    assert not violations("backends", path, "from . import lava_network\n")
    assert not violations("backends", path, "from ..compiler import fixed\n")
