"""Target descriptions: one TOML data file per chip, every number with its source.

A fact is `key = { value = ..., source = "...", borrowed_from = "..." }` inside a section.
A user file may say `extends = "loihi2"` and override only what differs. Top-level keys:
`name`, `description`, `semantics` (which arithmetic of compiler/fixed.py), `emit` (which
backends write the artifact) and `extends`.

The loader requires exactly the facts the code reads: COMMON_FACTS (mapping, timing, energy)
and the `[format]` facts of the target's arithmetic (compiler/fixed.py, `FACTS`). It rejects
a fact without a source and a value of the wrong kind; other facts (kept for reference, such
as published latencies in ns) are allowed and printed, but nothing reads them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from snnc.compiler.errors import SnncError
from snnc.compiler.facts import FactError, checked
from snnc.compiler.fixed import ARITHMETICS, Arithmetic

BUILTIN_DIR = Path(__file__).parent
SEMANTICS = tuple(ARITHMETICS)

# fact -> kind; every one is read by the code: partition/place/route (chip, core, noc),
# the refsim program's timing model (timing, noc), reports (energy_pj, noc)
COMMON_FACTS: dict[str, str] = {
    "chip.cores": "pos_int", "chip.mesh": "mesh",
    "core.neurons": "pos_int", "core.in_axons": "pos_int", "core.out_axons": "pos_int",
    "core.synapse_memory_bits": "pos_int",
    "noc.multicast": "multicast",
    "noc.hop_latency_cycles_ew": "number", "noc.hop_latency_cycles_ns": "number",
    "noc.link_occupancy_cycles": "number",
    "noc.hop_energy_pj_ew": "number", "noc.hop_energy_pj_ns": "number",
    "energy_pj.synop": "number", "energy_pj.neuron_update_active": "number",
    "energy_pj.neuron_update_inactive": "number", "energy_pj.spike_in_tile": "number",
    "timing.clock_hz": "pos_number", "timing.cycles_per_synop": "number",
    "timing.cycles_per_neuron_update": "number", "timing.cycles_per_spike": "number",
}
# read when present: a per-step cycle budget (Tianjic's synchronous step round)
OPTIONAL_FACTS: dict[str, str] = {"timing.cycles_per_step": "pos_number"}


class TargetError(SnncError):
    """A target file is missing, malformed, or lacks a fact or a source."""


@dataclass(frozen=True)
class Fact:
    value: Any
    source: str
    borrowed_from: str | None = None


@dataclass(frozen=True)
class TargetSpec:
    """A loaded target: name, arithmetic, backends, and its facts keyed "section.key"."""

    name: str
    description: str
    semantics: str
    facts: dict[str, Fact]
    path: str
    emit: tuple[str, ...] = ("refsim",)

    def __getitem__(self, key: str) -> Any:
        if key not in self.facts:
            raise TargetError(f"target {self.name!r} ({self.path}) has no fact {key!r}")
        return self.facts[key].value

    def get(self, key: str, default: Any = None) -> Any:
        return self.facts[key].value if key in self.facts else default

    @cached_property
    def arith(self) -> Arithmetic:
        """The target's `[format]` facts as its arithmetic (compiler/fixed.py)."""
        try:
            return ARITHMETICS[self.semantics].from_facts(self.get)
        except FactError as e:
            raise _fact_error(self.path, e.key, self.get(e.key), e.message) from None

    def with_facts(self, facts: dict[str, Any], source: str = "override") -> TargetSpec:
        """A copy with some facts replaced, checked like a loaded file (tests, sweeps)."""
        new = {**self.facts, **{k: Fact(v, source) for k, v in facts.items()}}
        return _checked(replace(self, facts=new))

    def to_json(self) -> dict[str, Any]:
        """Plain dict (for manifests and `snnc targets NAME --format json`)."""
        return {"name": self.name, "description": self.description, "semantics": self.semantics,
                "emit": list(self.emit),
                "facts": {k: {"value": f.value, "source": f.source,
                              **({"borrowed_from": f.borrowed_from} if f.borrowed_from else {})}
                          for k, f in sorted(self.facts.items())}}


def from_json(d: dict[str, Any], path: str) -> TargetSpec:
    """A target written by to_json (an artifact's manifest), checked as a loaded file."""
    facts = d.get("facts")
    emit = d.get("emit")
    if not (isinstance(facts, dict) and isinstance(emit, list)
            and all(isinstance(e, str) for e in emit) and d.get("semantics") in SEMANTICS):
        raise TargetError(f"{path}: the target table lacks facts, emit or a known semantics")
    out: dict[str, Fact] = {}
    for k, f in facts.items():
        if not (isinstance(k, str) and "." in k and isinstance(f, dict) and "value" in f
                and isinstance(f.get("source"), str)):
            raise TargetError(f"{path}: target fact {k!r} is not {{value, source}}")
        out[k] = Fact(f["value"], f["source"], f.get("borrowed_from"))
    return _checked(TargetSpec(name=str(d.get("name")), description=str(d.get("description", "")),
                               semantics=d["semantics"], facts=out, path=path,
                               emit=tuple(emit)))


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def required_facts(semantics: str) -> dict[str, str]:
    """Every fact a target of this arithmetic must have, with its kind."""
    fmt = {f"format.{k}": v for k, v in ARITHMETICS[semantics].FACTS.items()}
    return {**COMMON_FACTS, **fmt}


MAX_FILE_BYTES = 1 << 20  # a target file is a page of TOML


def _read(path: Path) -> dict[str, Any]:
    try:
        if path.is_dir():
            raise TargetError(f"{path} is a directory, not a target .toml file")
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise TargetError(f"{path}: over {MAX_FILE_BYTES} bytes; not a target file")
        return tomllib.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise TargetError(f"target file {path} not found; built-in targets: "
                          f"{', '.join(builtin_names())}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise TargetError(f"{path}: not valid TOML: {e}") from None
    except OSError as e:
        raise TargetError(f"{path}: cannot read ({e.strerror or e})") from None


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


def _fact_error(path: str, key: str, value: Any, why: str) -> TargetError:
    if "." in key:
        sec, name = key.split(".", 1)
        return TargetError(f"{path}: [{sec}] {name} = {value!r}: {why}")
    return TargetError(f"{path}: {key}: {why}")


def _checked(t: TargetSpec) -> TargetSpec:
    """Every required fact present and of its kind; the arithmetic's own checks pass."""
    missing = [k for k in required_facts(t.semantics) if k not in t.facts]
    if missing:
        raise TargetError(f"{t.path}: target {t.name!r} lacks the facts {', '.join(missing)}; "
                          "add them or say extends = \"loihi2\"")
    for k, kind in {**COMMON_FACTS, **OPTIONAL_FACTS}.items():
        if k in t.facts:
            try:
                checked(k, t.facts[k].value, kind)
            except FactError as e:
                raise _fact_error(t.path, k, t.facts[k].value, e.message) from None
    cols, rows = t["chip.mesh"]
    if cols * rows < int(t["chip.cores"]):
        raise _fact_error(t.path, "chip.mesh", t["chip.mesh"], f"a {cols}x{rows} mesh has no "
                          f"slot for each of the {t['chip.cores']} cores of chip.cores")
    t.arith  # noqa: B018 - builds (and so checks) the arithmetic
    return t


MAX_EXTENDS = 16  # depth of an `extends` chain


def _extended(base: str, child: Path) -> Path:
    """Where `extends = base` in the file `child` points: a built-in target by name, or a
    .toml file in child's directory or below it (never elsewhere on the system)."""
    if base in builtin_names():
        return BUILTIN_DIR / f"{base}.toml"
    here = child.parent.resolve()
    path = child.parent / base
    if (Path(base).is_absolute() or not base.endswith(".toml")
            or not path.resolve().is_relative_to(here)):
        raise TargetError(f"{child}: extends = {base!r}: name a built-in target "
                          f"({', '.join(builtin_names())}) or a .toml file in the directory "
                          "of this one")
    return path


def load_target(name_or_path: str, _seen: tuple[str, ...] = (),
                _child: Path | None = None) -> TargetSpec:
    """A built-in target by name, or a user's TOML file by path."""
    if _child is not None:
        path = _extended(name_or_path, _child)
    elif name_or_path in builtin_names():
        path = BUILTIN_DIR / f"{name_or_path}.toml"
    else:
        path = Path(name_or_path)
        if not name_or_path.endswith(".toml") and not path.is_file():
            raise TargetError(f"unknown target {name_or_path!r}; built-in targets: "
                              f"{', '.join(builtin_names())}, or give a path to a .toml file")
    key = str(path.resolve())
    if key in _seen:
        raise TargetError(f"{path}: 'extends' forms a cycle")
    if len(_seen) > MAX_EXTENDS:
        raise TargetError(f"{path}: 'extends' chain longer than {MAX_EXTENDS} files")
    _seen = _seen + (key,)
    doc = _read(path)
    facts: dict[str, Fact] = {}
    base = doc.get("extends")
    if base is not None:
        if not isinstance(base, str):
            raise TargetError(f"{path}: extends must name a target, got {base!r}")
        parent = load_target(base, _seen, path)
        facts.update(parent.facts)
        doc.setdefault("semantics", parent.semantics)
        doc.setdefault("emit", list(parent.emit))
    facts.update(_facts(doc, path))
    name = doc.get("name", path.stem)
    semantics = doc.get("semantics")
    if semantics not in SEMANTICS:
        raise TargetError(f"{path}: semantics must be one of {list(SEMANTICS)}, got {semantics!r}")
    emit = doc.get("emit", ["refsim"])
    if not (isinstance(emit, list) and all(isinstance(e, str) for e in emit)):
        raise TargetError(f"{path}: emit must be a list of backend names, e.g. "
                          "[\"refsim\", \"lava\"]")
    return _checked(TargetSpec(name=str(name), description=str(doc.get("description", "")),
                               semantics=semantics, facts=facts, path=str(path),
                               emit=tuple(dict.fromkeys(emit))))
