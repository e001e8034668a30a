"""Target descriptions: one TOML data file per chip, every number with its source.

A fact is `key = { value = ..., source = "...", borrowed_from = "..." }` inside a section.
A user file may say `extends = "loihi2"` and override only what differs. The loader rejects a
fact without a source, and a file without the facts its arithmetic (`semantics`) needs.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snnc.compiler.errors import SnncError

BUILTIN_DIR = Path(__file__).parent
SEMANTICS = ("loihi", "tianjic")
REQUIRED = (
    "chip.cores", "chip.mesh", "core.neurons", "core.in_axons", "core.out_axons",
    "core.synapse_memory_bits", "format.weight_bits", "format.weight_min", "format.weight_max",
    "format.weight_exp_min", "format.weight_exp_max", "format.decay_bits", "format.state_bits",
    "format.delay_max", "format.current_bias", "format.resets", "format.refractory_max",
    "energy_pj.synop", "noc.multicast",
)
REQUIRED_BY_SEMANTICS = {
    "loihi": ("format.vth_bits", "format.vth_shift", "format.act_shift", "format.bias_mant_bits",
              "format.bias_exp_bits"),
    "tianjic": ("format.accumulator_bits",),
}


_BOOL = ("format.current_bias",)
_RESETS = ("zero", "subtract", "none")


def _check_type(key: str, value: Any) -> str | None:
    """Why a required fact's value has the wrong type, or None."""
    if key in _BOOL:
        return None if isinstance(value, bool) else "must be true or false"
    if key == "chip.mesh":
        ok = (isinstance(value, list) and len(value) == 2
              and all(isinstance(v, int) and v > 0 for v in value))
        return None if ok else "must be [columns, rows] of positive integers"
    if key == "noc.multicast":
        return None if value in ("tree", "relay") else 'must be "tree" or "relay"'
    if key == "format.resets":
        ok = isinstance(value, list) and value and all(v in _RESETS for v in value)
        return None if ok else f"must be a list drawn from {list(_RESETS)}"
    if key.startswith("energy_pj."):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
        return None if ok else "must be a non-negative number"
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be an integer"
    return None


class TargetError(SnncError):
    """A target file is missing, malformed, or lacks a fact or a source."""


@dataclass(frozen=True)
class Fact:
    value: Any
    source: str
    borrowed_from: str | None = None


@dataclass(frozen=True)
class TargetSpec:
    """A loaded target: name, arithmetic, and its facts keyed "section.key"."""

    name: str
    description: str
    semantics: str
    facts: dict[str, Fact]
    path: str

    def __getitem__(self, key: str) -> Any:
        if key not in self.facts:
            raise TargetError(f"target {self.name!r} ({self.path}) has no fact {key!r}")
        return self.facts[key].value

    def get(self, key: str, default: Any = None) -> Any:
        return self.facts[key].value if key in self.facts else default

    def to_json(self) -> dict[str, Any]:
        """Plain dict (for manifests and `snnc targets NAME --format json`)."""
        return {"name": self.name, "description": self.description, "semantics": self.semantics,
                "facts": {k: {"value": f.value, "source": f.source,
                              **({"borrowed_from": f.borrowed_from} if f.borrowed_from else {})}
                          for k, f in sorted(self.facts.items())}}


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def _read(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise TargetError(f"target file {path} not found; built-in targets: "
                          f"{', '.join(builtin_names())}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise TargetError(f"{path}: not valid TOML: {e}") from None


def _facts(doc: dict[str, Any], path: Path) -> dict[str, Fact]:
    out: dict[str, Fact] = {}
    for section, table in doc.items():
        if not isinstance(table, dict):
            continue
        for key, fact in table.items():
            where = f"{path}: [{section}] {key}"
            if not isinstance(fact, dict) or "value" not in fact:
                raise TargetError(f"{where}: write facts as {{ value = ..., source = \"...\" }}")
            src = fact.get("source")
            if not isinstance(src, str) or not src.strip():
                raise TargetError(f"{where}: the number has no source; add source = \"...\" "
                                  "(where it comes from, or \"assumption: ...\")")
            out[f"{section}.{key}"] = Fact(fact["value"], src, fact.get("borrowed_from"))
    return out


def load_target(name_or_path: str, _seen: tuple[str, ...] = ()) -> TargetSpec:
    """A built-in target by name, or a user's TOML file by path."""
    path = Path(name_or_path)
    if not name_or_path.endswith(".toml") and not path.exists():
        if name_or_path not in builtin_names():
            raise TargetError(f"unknown target {name_or_path!r}; built-in targets: "
                              f"{', '.join(builtin_names())}, or give a path to a .toml file")
        path = BUILTIN_DIR / f"{name_or_path}.toml"
    doc = _read(path)
    facts: dict[str, Fact] = {}
    base = doc.get("extends")
    if base is not None:
        if base in _seen:
            raise TargetError(f"{path}: 'extends' forms a cycle: {' -> '.join(_seen + (base,))}")
        parent = load_target(str(base), _seen + (str(base),))
        facts.update(parent.facts)
        doc.setdefault("semantics", parent.semantics)
    facts.update(_facts(doc, path))
    name = doc.get("name", path.stem)
    semantics = doc.get("semantics")
    if semantics not in SEMANTICS:
        raise TargetError(f"{path}: semantics must be one of {list(SEMANTICS)}, got {semantics!r}")
    missing = [k for k in REQUIRED + REQUIRED_BY_SEMANTICS[semantics] if k not in facts]
    if missing:
        raise TargetError(f"{path}: target {name!r} lacks the facts {', '.join(missing)}; "
                          "add them or say extends = \"loihi2\"")
    for k in REQUIRED + REQUIRED_BY_SEMANTICS[semantics]:
        if (why := _check_type(k, facts[k].value)) is not None:
            sec, key = k.split(".", 1)
            raise TargetError(f"{path}: [{sec}] {key} = {facts[k].value!r} {why}")
    return TargetSpec(name=str(name), description=str(doc.get("description", "")),
                      semantics=semantics, facts=facts, path=str(path))
