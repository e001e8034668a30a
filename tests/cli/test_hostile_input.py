"""Issue 15's reproductions beyond data loss, one regression test each: reads outside the
artifact, tracebacks, memory and hangs, silent acceptance of garbage. Every one must end in
exactly one `error:` line naming the file and the element, exit code 1, and no file changed
(tests/cli/test_no_data_loss.py has the data-loss reproductions)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nir
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from snnc.artifact import SEAL, seal
from snnc.cli import main

from tests.cli.test_no_data_loss import _digest
from tests.conftest import ROOT, write_netx

DIGITS = ROOT / "examples" / "digits" / "digits.nir"
CNN = ROOT / "examples" / "onnx_digits" / "cnn.onnx"
CUBA = {"type": "CUBA", "iDecay": 410, "vDecay": 410, "vThMant": 64, "refDelay": 1}


@pytest.fixture(scope="module")
def built(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A loihi2 artifact (with its Lava script), a spiking ONNX and input files, made once."""
    d = tmp_path_factory.mktemp("hostile")
    shutil.copy(DIGITS, d / "digits.nir")
    assert main(["compile", str(d / "digits.nir"), "-t", "loihi2", "-o", str(d / "art")]) == 0
    assert main(["convert", str(d / "digits.nir"), "-o", str(d / "d.onnx")]) == 0
    return d


@pytest.fixture
def work(built, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    for p in built.iterdir():
        (shutil.copytree if p.is_dir() else shutil.copy)(p, tmp_path / p.name)
    np.save(tmp_path / "x.npy", (np.random.default_rng(0).random((8, 64)) < 0.3)
            .astype(np.uint8))
    np.save(tmp_path / "bal.npy", np.random.default_rng(0).random((8, 1, 8, 8)))
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SNNC_MEMORY_BUDGET", "4G")
    return tmp_path


def refused(argv: list[str], capsys, *words: str) -> str:  # type: ignore[no-untyped-def]
    """The command ends in one error line holding `words`, exit 1, and changes no file."""
    root = Path.cwd()
    before = _digest(root)
    code = main(argv)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert code == 1, f"exit {code}: {err}"
    assert len(lines) == 1 and err.rstrip().endswith(lines[0]), err
    assert "internal error" not in err and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], lines[0]
    assert _digest(root) == before, "a refused command changed a file"
    return lines[0]


def _edit_manifest(art: Path, fn, reseal: bool = True) -> None:  # type: ignore[no-untyped-def]
    """Edit the manifest; by default recompute its seal too, as a deliberate forger would, so
    that the checks behind the seal are the ones tested."""
    doc = fn(json.loads((art / "manifest.json").read_text()))
    if reseal and isinstance(doc, dict):
        doc[SEAL] = seal(doc)
    (art / "manifest.json").write_text(json.dumps(doc))


def _relist(art: Path, rel: str) -> None:
    """Record a file's new checksum in the manifest (an edit that keeps the manifest true)."""
    sha = hashlib.sha256((art / rel).read_bytes()).hexdigest()
    _edit_manifest(art, lambda d: {**d, "files": {**d["files"], rel: sha}})


# --- reads and writes outside the artifact ---------------------------------------------


def test_any_edit_of_the_manifest_is_detected(work, capsys) -> None:  # type: ignore[no-untyped-def]
    _edit_manifest(work / "art", lambda d: {**d, "quantize": {**d["quantize"],
                                                              "weight_bits": 2}}, reseal=False)
    refused(["run", "art", "--input", "x.npy"], capsys, "manifest.json", "edited")
    refused(["report", "art", "-q"], capsys, "manifest.json", "edited")


@pytest.mark.parametrize("name", ["/etc/passwd", "../outside/secret.txt", "./ir.snn",
                                  "mapping/../../outside/secret.txt", ""])
def test_a_manifest_cannot_name_a_file_outside_the_artifact(work, capsys, name) -> None:  # type: ignore[no-untyped-def]
    _edit_manifest(work / "art", lambda d: {**d, "files": {**d["files"], name: "0" * 64}})
    for argv in (["run", "art", "--input", "x.npy"], ["report", "art", "-q"]):
        refused(argv, capsys, "not a plain path inside the artifact")


def test_a_listed_file_reached_through_a_symlink_is_refused(work, capsys) -> None:  # type: ignore[no-untyped-def]
    shutil.move(work / "art" / "refsim", work / "outside" / "refsim")
    (work / "art" / "refsim").symlink_to(work / "outside" / "refsim")
    refused(["run", "art", "--input", "x.npy"], capsys, "symlink")


def test_extends_reaches_only_builtins_and_files_beside_the_target(work, capsys) -> None:  # type: ignore[no-untyped-def]
    builtin = ROOT / "compiler" / "targets" / "loihi2.toml"
    (work / "abs.toml").write_text(f'extends = "{builtin}"\nname = "a"\n')
    refused(["targets", "abs.toml"], capsys, "abs.toml", "extends", "built-in target")
    (work / "sub").mkdir()
    (work / "sub" / "up.toml").write_text('extends = "../abs.toml"\n')
    refused(["targets", "sub/up.toml"], capsys, "in the directory of this one")
    (work / "sub" / "base.toml").write_text('extends = "loihi2"\nname = "b"\n')
    (work / "sub" / "child.toml").write_text('extends = "base.toml"\nname = "c"\n')
    assert main(["targets", "sub/child.toml"]) == 0  # beside it, wherever the user stands
    capsys.readouterr()


def test_a_swapped_lava_script_or_weights_are_refused(work, capsys) -> None:  # type: ignore[no-untyped-def]
    script = work / "art" / "lava" / "network.py"
    script.write_text(script.read_text() + "\n# from another artifact\n")
    refused(["run", "art", "--input", "x.npy", "--engine", "lava"], capsys,
            "lava/network.py", "checksum")
    refused(["run", "art", "--input", "x.npy"], capsys, "lava/network.py", "checksum")


def test_the_lava_script_checks_its_weights_when_run_by_hand(work) -> None:  # type: ignore[no-untyped-def]
    weights = work / "art" / "lava" / "weights.npz"
    weights.write_bytes(weights.read_bytes() + b"\0")
    r = subprocess.run([sys.executable, str(work / "art" / "lava" / "network.py"), "--input",
                        "x.npy", "--steps", "4", "-o", "out.npz"], capture_output=True,
                       text=True, cwd=work)
    assert r.returncode == 1 and "does not match its checksum" in r.stderr, r.stderr
    assert not (work / "out.npz").exists()


# --- tracebacks that were "internal error" ---------------------------------------------


@pytest.mark.parametrize("text,words", [
    ("[1, 2]", "a JSON list, not an object"), ('"abc"', "a JSON str"),
    ("[" * 200_000 + "]" * 200_000, "not valid JSON"), ("{", "not valid JSON")])
def test_a_manifest_of_the_wrong_json_type(work, capsys, text, words) -> None:  # type: ignore[no-untyped-def]
    (work / "art" / "manifest.json").write_text(text)
    for argv in (["run", "art", "--input", "x.npy"], ["report", "art", "-q"]):
        refused(argv, capsys, "manifest.json", words)


@pytest.mark.parametrize("edit,words", [
    (lambda d: {**d, "files": [1, 2]}, "'files' must map"),
    (lambda d: {**d, "files": {"ir.snn": 5}}, "'files' must map"),
    (lambda d: {**d, "target": "loihi2"}, "'target' must be"),
    (lambda d: {**d, "target": {**d["target"], "facts": []}}, "target"),
    (lambda d: {k: v for k, v in d.items() if k != "target"}, "'target' must be"),
    (lambda d: {**d, "files": {k: v for k, v in d["files"].items() if k != "ir.snn"}},
     "lists no ir.snn"),
    (lambda d: {**d, "quantize": {**d["quantize"], "projections": {"p": {"zeroed": "x"}}}},
     "quantization log")])
def test_a_manifest_with_fields_of_the_wrong_type(work, capsys, edit, words) -> None:  # type: ignore[no-untyped-def]
    _edit_manifest(work / "art", edit)
    refused(["run", "art", "--input", "x.npy"], capsys, words)


def test_a_manifest_with_a_wrong_typed_target_fact(work, capsys) -> None:  # type: ignore[no-untyped-def]
    def edit(d):  # type: ignore[no-untyped-def]
        d["target"]["facts"]["chip.mesh"]["value"] = "big"
        return d
    _edit_manifest(work / "art", edit)
    refused(["report", "art", "-q"], capsys, "mesh")


def test_truncated_or_pickled_npz_in_an_artifact(work, capsys) -> None:  # type: ignore[no-untyped-def]
    prog = work / "art" / "refsim" / "program.npz"
    prog.write_bytes(prog.read_bytes()[: prog.stat().st_size // 2])
    _relist(work / "art", "refsim/program.npz")
    refused(["run", "art", "--input", "x.npy"], capsys, "program.npz", "cannot read as .npz")
    np.savez(prog, index=np.array([{"a": 1}], dtype=object))
    _relist(work / "art", "refsim/program.npz")
    refused(["run", "art", "--input", "x.npy"], capsys, "program.npz", "pickle")


def test_pickled_or_corrupt_input_arrays(work, capsys) -> None:  # type: ignore[no-untyped-def]
    np.save(work / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    refused(["run", "digits.nir", "--input", "obj.npy"], capsys, "obj.npy", "pickle")
    (work / "half.npy").write_bytes((work / "x.npy").read_bytes()[:100])
    refused(["run", "digits.nir", "--input", "half.npy"], capsys, "half.npy")
    np.savez(work / "in.npz", input=np.zeros((4, 64)))
    (work / "in2.npz").write_bytes((work / "in.npz").read_bytes()[:60])
    refused(["run", "digits.nir", "--input", "in2.npz"], capsys, "in2.npz", ".npz")


def _netx(path: Path, layers: list[dict]) -> str:  # type: ignore[type-arg]
    return str(write_netx(path, layers))


def _dense(shape: int = 2, **neuron) -> dict:  # type: ignore[type-arg]
    return {"type": np.array([b"dense"]), "shape": np.array([shape]),
            "weight": np.ones((2, 3)), "neuron": {**CUBA, **neuron}}


def test_corrupt_hdf5_and_netx_fields(work, capsys) -> None:  # type: ignore[no-untyped-def]
    ok = _netx(work / "ok.net", [_dense()])
    data = bytearray(Path(ok).read_bytes())
    data[800:900] = bytes(100)  # an object header destroyed
    (work / "bad.net").write_bytes(bytes(data))
    refused(["inspect", "bad.net"], capsys, "bad.net")
    refused(["inspect", _netx(work / "wexp.net", [_dense(wgtExp=2000)])], capsys,
            "layer '0'", "wgtExp=2000")
    refused(["inspect", _netx(work / "nand.net", [{**_dense(), "delay": np.array(
        [np.nan, 1.0])}])], capsys, "layer '0'", "delays")


def test_target_range_and_kind_errors(work, capsys) -> None:  # type: ignore[no-untyped-def]
    def target(name: str, body: str) -> str:
        (work / name).write_text('extends = "loihi2"\nname = "x"\n' + body)
        return name
    for name, body, words in (
            ("mm.toml", '[format]\nweight_min = { value = 100, source = "x" }\n'
                        'weight_max = { value = -100, source = "x" }\n', "weight_min"),
            ("sb.toml", '[format]\nstate_bits = { value = 1000000000000000000, source = "x" }'
                        '\n', "state_bits"),
            ("cn.toml", '[core]\nneurons = { value = 0, source = "x" }\n', "neurons"),
            ("ti.toml", '[timing]\ncycles_per_synop = { value = inf, source = "x" }\n',
             "cycles_per_synop"),
            ("ni.toml", '[noc]\nhop_energy_pj_ew = { value = inf, source = "x" }\n',
             "hop_energy_pj_ew"),
            ("big.toml", '[chip]\ncores = { value = 100000000000, source = "x" }\n', "cores")):
        refused(["compile", "digits.nir", "-t", target(name, body), "-o", "o"], capsys,
                name, words)
    (work / "c1.toml").write_text('extends = "c2.toml"\n')
    (work / "c2.toml").write_text('extends = "c1.toml"\n')
    refused(["targets", "c1.toml"], capsys, "cycle")


def test_cli_values_out_of_range(work, capsys) -> None:  # type: ignore[no-untyped-def]
    np.save(work / "empty.npy", np.zeros((0, 1, 8, 8)))
    refused(["inspect", str(CNN), "--balance-data", "empty.npy"], capsys, "no samples")
    refused(["encode", str(CNN), "--balance-data", "bal.npy", "--values", "bal.npy",
             "--encoding", "rate", "--seed", "-1", "-o", "e.npy"], capsys, "--seed")
    np.save(work / "inf.npy", np.full((2, 1, 8, 8), np.inf))
    refused(["encode", str(CNN), "--balance-data", "bal.npy", "--values", "inf.npy",
             "-o", "e.npy"], capsys, "inf.npy", "NaN or inf")
    np.save(work / "t0.npy", np.zeros((0, 64)))
    refused(["run", "digits.nir", "--input", "t0.npy"], capsys, "no time steps")
    refused(["run", "art", "--input", "t0.npy"], capsys)


def _onnx_variant(work: Path, name: str, fn) -> str:  # type: ignore[no-untyped-def]
    m = onnx.load(str(CNN))
    fn(m)
    onnx.save(m, str(work / name))
    return name


def test_onnx_operators_with_values_or_attributes_snnc_does_not_lower(work, capsys) -> None:  # type: ignore[no-untyped-def]
    def pool0(m):  # type: ignore[no-untyped-def]
        n = next(n for n in m.graph.node if n.op_type == "AveragePool")
        next(a for a in n.attribute if a.name == "strides").ints[:] = [0, 0]

    def string_init(m):  # type: ignore[no-untyped-def]
        t = m.graph.initializer[0]
        t.CopyFrom(helper.make_tensor(t.name, TensorProto.STRING, [1], [b"abc"]))

    def leaky(m):  # type: ignore[no-untyped-def]
        n = next(n for n in m.graph.node if n.op_type == "Relu")
        n.attribute.append(helper.make_attribute("alpha", 0.1))
    for name, fn, words in (("p0.onnx", pool0, "strides"),
                            ("si.onnx", string_init, "initializer"),
                            ("ra.onnx", leaky, "alpha")):
        refused(["inspect", _onnx_variant(work, name, fn), "--balance-data", "bal.npy"],
                capsys, name, words)


def test_onnx_external_data_outside_the_model_directory(work, capsys) -> None:  # type: ignore[no-untyped-def]
    def external(m):  # type: ignore[no-untyped-def]
        t = m.graph.initializer[0]
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", "../outside/secret.txt"), ("offset", "0"), ("length", "4")):
            e = t.external_data.add()
            e.key, e.value = k, v
        t.ClearField("raw_data")
    (work / "m").mkdir()
    m = onnx.load(str(CNN))
    external(m)
    onnx.save(m, str(work / "m" / "ext.onnx"))
    refused(["inspect", "m/ext.onnx", "--balance-data", "bal.npy"], capsys,
            "external data location")


def test_a_retyped_spiking_onnx_node_is_refused(work, capsys) -> None:  # type: ignore[no-untyped-def]
    m = onnx.load(str(work / "d.onnx"))
    node = next(n for n in m.graph.node if n.op_type in ("LIF", "CubaLIF"))
    node.op_type = "CubaLIF" if node.op_type == "LIF" else "LIF"
    onnx.save(m, str(work / "retyped.onnx"))
    refused(["inspect", "retyped.onnx"], capsys, "retyped.onnx", "edited")


def _nir_variant(work: Path, name: str, fn) -> str:  # type: ignore[no-untyped-def]
    g = nir.read(str(DIGITS))
    fn(g)
    nir.write(str(work / name), g)
    return name


def test_nir_values_of_the_wrong_kind_or_place(work, capsys) -> None:  # type: ignore[no-untyped-def]
    g = nir.read(str(DIGITS))
    lif = next(k for k, v in g.nodes.items() if isinstance(v, (nir.LIF, nir.CubaLIF, nir.IF)))
    inp = next(k for k, v in g.nodes.items() if isinstance(v, nir.Input))

    def complex_threshold(g):  # type: ignore[no-untyped-def]
        g.nodes[lif].v_threshold = np.asarray(g.nodes[lif].v_threshold) + 1j

    def wrong_shape(g):  # type: ignore[no-untyped-def]
        g.nodes[lif].v_threshold = np.ones(3)
    refused(["inspect", _nir_variant(work, "cx.nir", complex_threshold)], capsys,
            f"node '{lif}'", "complex")
    refused(["inspect", _nir_variant(work, "ws.nir", wrong_shape)], capsys, "ws.nir")
    refused(["inspect", _nir_variant(work, "ei.nir", lambda g: g.edges.append((lif, inp)))],
            capsys, f"node '{inp}'", "into an Input node")


def test_a_deeply_nested_nir_graph(work, capsys) -> None:  # type: ignore[no-untyped-def]
    def port(kind, n=2):  # type: ignore[no-untyped-def]
        return (nir.Input(input_type={"input": np.array([n])}) if kind == "i" else
                nir.Output(output_type={"output": np.array([n])}))
    sub = nir.NIRGraph(nodes={"i": port("i"), "o": port("o")}, edges=[("i", "o")],
                       type_check=False)
    for _ in range(300):
        sub = nir.NIRGraph(nodes={"i": port("i"), "s": sub, "o": port("o")},
                           edges=[("i", "s"), ("s", "o")], type_check=False)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # nir.write recurses once per level
    try:
        nir.write(str(work / "deep.nir"), sub)
    finally:
        sys.setrecursionlimit(limit)
    refused(["inspect", "deep.nir"], capsys, "deep.nir", "nested more than")


# --- memory and hangs: declared sizes are checked before anything is allocated ----------


def test_declared_sizes_over_the_budget_are_refused_before_allocation(work, capsys) -> None:  # type: ignore[no-untyped-def]
    conv = nir.NIRGraph(nodes={
        "i": nir.Input(input_type={"input": np.array([1, 4, 4])}),
        "c": nir.Conv2d(input_shape=(4, 4), weight=np.ones((1, 1, 3, 3)), stride=1,
                        padding=100_000, dilation=1, groups=1, bias=np.zeros(1)),
        "n": nir.IF(r=np.ones(1), v_threshold=np.ones(1)),
        "o": nir.Output(output_type={"output": np.array([1])})},
        edges=[("i", "c"), ("c", "n"), ("n", "o")], type_check=False)
    nir.write(str(work / "pad.nir"), conv)
    refused(["compile", "pad.nir", "-o", "o"], capsys, "node 'c'", "memory budget",
            "SNNC_MEMORY_BUDGET")
    refused(["inspect", _netx(work / "n9.net", [_dense(10**9)])], capsys, "layer '0'",
            "memory budget")
    refused(["inspect", _netx(work / "n40.net", [{"type": np.array([b"input"]),
                                                  "shape": np.array([2**20, 2**20]),
                                                  "neuron": CUBA}])], capsys, "memory budget")
    (work / "port.snn").write_text(
        "snnc-ir 1\ninput x : (100000, 100000)\npopulation p : lif (1) reset=zero "
        "refractory=0 {\n du = f64 (1) fill 0.0\n dv = f64 (1) fill 0.5\n v_th = f64 (1) "
        "fill 1.0\n v_reset = f64 (1) fill 0.0\n bias = f64 (1) fill 0.0\n i_bias = f64 (1) "
        "fill 0.0\n}\noutput y : (1) <- p\n")
    refused(["compile", "port.snn", "-o", "o"], capsys, "port.snn", "memory budget")
    (work / "fill.snn").write_text((work / "port.snn").read_text().replace(
        "(100000, 100000)", "(2)").replace("du = f64 (1) fill", "du = f64 (99999999999) fill"))
    refused(["inspect", "fill.snn"], capsys, "fill.snn", "memory budget")
    (work / "refr.snn").write_text((work / "port.snn").read_text().replace(
        "(100000, 100000)", "(2)").replace("refractory=0", "refractory=99999999999999999999"))
    refused(["inspect", "refr.snn"], capsys, "refractory period")


def test_step_counts_over_the_budget_are_refused(work, capsys) -> None:  # type: ignore[no-untyped-def]
    refused(["run", "digits.nir", "--input", "x.npy", "--steps", "1000000000"], capsys,
            "the run", "memory budget")
    refused(["run", "art", "--input", "x.npy", "--steps", "1000000000"], capsys,
            "memory budget")
    refused(["run", "art", "--input", "x.npy", "--steps", "99999999999"], capsys, "steps")


def test_the_budget_is_the_users_to_raise(work, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SNNC_MEMORY_BUDGET", "1K")
    refused(["run", "digits.nir", "--input", "x.npy"], capsys, "over the memory budget of 1.0 "
            "KiB")
    monkeypatch.setenv("SNNC_MEMORY_BUDGET", "lots")
    refused(["run", "digits.nir", "--input", "x.npy"], capsys, "SNNC_MEMORY_BUDGET='lots'")
    monkeypatch.setenv("SNNC_MEMORY_BUDGET", "64M")
    assert main(["run", "digits.nir", "--input", "x.npy"]) == 0
    capsys.readouterr()


def test_the_budget_counts_array_values_at_their_own_size(work, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A .snn weight array of 1M values (8 MB) reads under a 64 MB budget (with its 1M input
    axons and synapses, 24 bytes each): arrays count 8 bytes a value, not what a neuron costs,
    and all of a file's arrays together."""
    monkeypatch.setenv("SNNC_MEMORY_BUDGET", "64M")
    n = 1_000_000
    body = ("snnc-ir 1\ninput x : (N)\npopulation p : if (1) reset=zero refractory=0 {\n"
            " du = f64 (1) fill 0.0\n dv = f64 (1) fill 0.0\n v_th = f64 (1) fill 1.0\n"
            " v_reset = f64 (1) fill 0.0\n bias = f64 (1) fill 0.0\n i_bias = f64 (1) fill 0.0"
            "\n}\nprojection w : x -> p dense {\n weight = f64 (1, N) fill 1.0\n"
            " delay = i64 (D, N) fill 0\n}\noutput y : (1) <- p\n").replace("N", str(n))
    (work / "wide.snn").write_text(body.replace("(D,", "(1,"))
    assert main(["inspect", "wide.snn", "--format", "json"]) == 0
    capsys.readouterr()
    (work / "wider.snn").write_text(body.replace("(D,", "(8,"))  # 72 MB of arrays in all
    refused(["inspect", "wider.snn"], capsys, "wider.snn", "arrays declared before it")
