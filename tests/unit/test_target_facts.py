"""One source of truth for a chip: its numbers live in the target file and compiler/fixed.py.

* No chip constant (Loihi's 4095/4096 registers, 8-bit weight range, 62-step delays, 2^23
  state, int32 compute; Tianjic's 256 leak unit, int8 range, 2^27 state) appears as a literal
  anywhere else in the product code, nor a name of the constants that used to hold them.
* The loader requires exactly the facts the code reads: each is read somewhere, and no fact
  is read with a default in code (except the documented optional ones).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from snnc.compiler.fixed import ARITHMETICS
from snnc.compiler.targets import COMMON_FACTS, OPTIONAL_FACTS, TargetError, load_target

from tests.conftest import ROOT

PRODUCT = ("compiler", "frontends", "backends", "runtime", "snnc")
HOME = (ROOT / "compiler" / "fixed.py",)  # where the arithmetic's numbers may be written
CHIP_VALUES = {4095, 4096, 256, 255, 128, 127, 62, 2**23, 2**23 - 1, 2**24, 2**27, 2**31}
OLD_NAMES = {"ACT_SHIFT", "VTH_SHIFT", "MAX_UV", "INT32", "DECAY_UNITY", "DECAY_SHIFT",
             "DU_OFFSET", "T_ALPHA_ONE", "T_ALPHA_SHIFT", "T_STATE_BITS", "T_ACC_BITS",
             "MAX_DELAY"}
# (file, value): a number that happens to equal a chip constant but is not one
NOT_CHIP = {("frontends/text.py", 4096): "INLINE_LIMIT: arrays longer than this go to the .npz",
            ("frontends/linop.py", 2**24): "DENSE_MAX_ENTRIES: a memory cap on densifying"}


def product_files() -> list[Path]:
    return [p for d in PRODUCT for p in sorted((ROOT / d).rglob("*.py")) if p not in HOME]


def _value(node: ast.AST) -> int | None:
    """The integer a constant expression (literal, -x, a ** b, a << b) evaluates to."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _value(node.operand)
        return None if v is None else -v
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Pow, ast.LShift, ast.Sub)):
        a, b = _value(node.left), _value(node.right)
        if a is None or b is None or (isinstance(node.op, ast.Pow) and b > 64):
            return None
        if isinstance(node.op, ast.Pow):
            return a**b
        return a << b if isinstance(node.op, ast.LShift) else a - b
    return None


def chip_constants(rel: str, source: str) -> list[str]:
    """Every chip constant in `source` (the file `rel` of the repository)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        v = _value(node)
        if v is not None and abs(v) in CHIP_VALUES and (rel, abs(v)) not in NOT_CHIP:
            out.append(f"{rel}:{node.lineno}: {v}")
        names = ([node.id] if isinstance(node, ast.Name) else [node.attr]
                 if isinstance(node, ast.Attribute) else [a.name for a in node.names]
                 if isinstance(node, ast.ImportFrom) else [])
        out += [f"{rel}:{node.lineno}: {n}" for n in names if n in OLD_NAMES]
    return out


def test_no_chip_constant_outside_the_arithmetic_and_the_target_files() -> None:
    found = [c for p in product_files()
             for c in chip_constants(str(p.relative_to(ROOT)), p.read_text())]
    assert not found, "chip constants outside compiler/fixed.py:\n" + "\n".join(found)


@pytest.mark.parametrize("text", ["x = v * (4096 - d) >> 12", "limit = 2 ** 23 - 1",
                                  "w = max(w, -256)", "from snnc.compiler.fixed import ACT_SHIFT",
                                  "d = 62", "hi = (1 << 27) - 1", "a = fixed.INT32"])
def test_the_scan_finds_a_planted_constant(text: str) -> None:
    source = (ROOT / "runtime" / "refsim.py").read_text()
    assert not chip_constants("runtime/refsim.py", source)
    assert chip_constants("runtime/refsim.py", source + "\n" + text + "\n"), text


def _source() -> str:
    return "\n".join(p.read_text() for p in product_files()
                     if p.name != "__init__.py" or p.parent.name != "targets")


def test_every_required_fact_is_read_by_the_code() -> None:
    code = _source() + (ROOT / "compiler" / "fixed.py").read_text()
    for key in (*COMMON_FACTS, *OPTIONAL_FACTS):
        assert f'"{key}"' in code or f"'{key}'" in code or (
            key.startswith("core.") and "f\"core.{k}\"" in code), f"nothing reads {key}"
    fixed_src = (ROOT / "compiler" / "fixed.py").read_text()
    for cls in ARITHMETICS.values():
        for field in cls.FACTS:
            uses = fixed_src.count(f"self.{field}") + _source().count(f".{field}")
            assert uses, f"nothing reads format.{field} of {cls.semantics}"


def test_no_fact_is_read_with_a_default_in_code() -> None:
    """t.get("section.key", default) would make a missing fact silently take a code value."""
    bad = []
    for p in product_files():
        for node in ast.walk(ast.parse(p.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "get" and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                    and "." in node.args[0].value
                    and node.args[0].value.split(".")[0] in ("chip", "core", "format", "noc",
                                                             "energy_pj", "timing")
                    and node.args[0].value not in OPTIONAL_FACTS):
                bad.append(f"{p.relative_to(ROOT)}:{node.lineno}: .get({node.args[0].value!r})")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("key", ["format.decay_bits", "format.accumulator_bits",
                                 "timing.clock_hz", "noc.hop_latency_cycles_ew",
                                 "noc.link_occupancy_cycles"])
def test_a_missing_fact_is_refused_not_defaulted(key: str, tmp_path: Path) -> None:
    base = "tianjic" if key == "format.accumulator_bits" else "loihi2"
    src = (ROOT / "compiler" / "targets" / f"{base}.toml").read_text()
    name = key.split(".", 1)[1]
    lines = [ln for ln in src.splitlines() if not ln.startswith(f"{name} = ")]
    assert len(lines) == len(src.splitlines()) - 1
    (tmp_path / "t.toml").write_text("\n".join(lines) + "\n")
    with pytest.raises(TargetError, match=f"lacks the facts {key}"):
        load_target(str(tmp_path / "t.toml"))


def test_facts_that_contradict_the_arithmetic_are_refused(tmp_path: Path) -> None:
    for body, msg in (
            ("extends = \"loihi2\"\n[format]\nresets = { value = [\"zero\", \"subtract\"], "
             "source = \"x\" }", r"resets .*the loihi soma resets v to 0 only"),
            ("extends = \"loihi2\"\n[format]\nweight_min = { value = 10, source = \"x\" }",
             r"weight_min = 10: the stored weight range"),
            ("extends = \"tianjic\"\n[format]\naccumulator_bits = { value = 70, source = \"x\" }",
             r"accumulator_bits = 70"),
            ("extends = \"loihi2\"\n[chip]\nmesh = { value = [2, 2], source = \"x\" }",
             r"\[chip\] mesh = \[2, 2\]: a 2x2 mesh has no slot"),
            ("extends = \"loihi2\"\nemit = \"lava\"", r"emit must be a list")):
        (tmp_path / "t.toml").write_text(body + "\n")
        with pytest.raises(TargetError, match=msg):
            load_target(str(tmp_path / "t.toml"))


def test_a_format_that_cannot_make_relay_neurons_is_one_error_line(tmp_path: Path, capsys
                                                                   ) -> None:
    """du_offset 0 and act_shift 11: a relay's input (2 << 11) does not decay away in one
    step, so delays beyond delay_max cannot be lowered; compile says so in one line."""
    from snnc import api
    from snnc.cli import main
    from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Port, Projection

    import numpy as np

    (tmp_path / "t.toml").write_text(
        'extends = "loihi2"\nemit = ["refsim"]\n[format]\n'
        'du_offset = { value = 0, source = "test" }\nact_shift = { value = 11, source = "t" }\n'
        'delay_max = { value = 2, source = "test" }\nstate_bits = { value = 30, source = "t" }\n'
        'compute_bits = { value = 40, source = "test" }\n')
    p = Population.make("h", (1,), NeuronModel.LIF, dv=0.1, v_th=1.0)
    w = Projection(name="w", src="in", dst="h", kind=Conn.DENSE, weight=np.ones((1, 1)),
                   delay=np.array([[5]]))
    g = Graph.build([p], [w], [Port(name="in", shape=(1,))],
                    [Port(name="out", shape=(1,), source="h")])
    api.convert(g, str(tmp_path / "m.snn"))
    assert main(["compile", str(tmp_path / "m.snn"), "-t", str(tmp_path / "t.toml"), "-o",
                 str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "relay neuron cannot forget its input" in err[0], err
