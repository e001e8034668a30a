"""Imports point one way: frontends -> compiler <- backends; compiler imports neither."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

RULES = {"compiler": ("snnc.frontends", "snnc.backends", "snnc.runtime", "snnc.api",
                      "snnc.cli"),
         "frontends": ("snnc.backends", "snnc.runtime", "snnc.cli"),
         "backends": ("snnc.frontends", "snnc.cli"),
         "runtime": ("snnc.frontends", "snnc.cli")}


@pytest.mark.parametrize("folder", sorted(RULES))
def test_import_direction(folder):
    for path in sorted((ROOT / folder).rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for n in names:
                assert not n.startswith(RULES[folder]), (
                    f"{path.relative_to(ROOT)} imports {n}: {folder}/ must not depend on it")
