"""`snnc targets`, `snnc compile` and `snnc run ART`: summaries, determinism, clear errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from snnc.backends.lava_network import have_lava
from snnc.cli import main

from tests.conftest import ROOT

DIGITS = str(ROOT / "examples" / "digits" / "digits.nir")


def tree(d) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_targets_list_and_show(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["targets"]) == 0
    out = capsys.readouterr().out
    for name in ("loihi2", "tianjic", "refsim"):
        assert name in out
    assert main(["targets", "tianjic", "--format", "json"]) == 0
    t = json.loads(capsys.readouterr().out)
    assert t["facts"]["core.neurons"]["value"] == 256
    assert all(f["source"] for f in t["facts"].values())
    assert main(["targets", "loihi2"]) == 0
    assert "Davies et al. 2018" in capsys.readouterr().out


@pytest.mark.parametrize("target", ["loihi2", "tianjic", "refsim"])
def test_compile_json_summary_and_byte_identical_artifact(tmp_path, capsys, target) -> None:  # type: ignore[no-untyped-def]
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["compile", DIGITS, "--target", target, "-o", str(a), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    for key in ("artifact", "target", "populations", "neurons", "synapses", "weight_bits"):
        assert key in s
    assert (s["target"], s["populations"], s["neurons"], s["weight_bits"]) == (target, 2, 74, "8")
    assert main(["compile", DIGITS, "--target", target, "-o", str(b)]) == 0
    ta, tb = tree(a), tree(b)
    assert ta == tb and "manifest.json" in ta
    assert ("lava/network.py" in ta) == (target == "loihi2")  # the targets' emit lists
    assert ("tianjic/routes.json" in ta) == (target == "tianjic")
    manifest = json.loads(ta["manifest.json"])
    assert manifest["target"]["emit"] == {"loihi2": ["refsim", "lava"], "refsim": ["refsim"],
                                          "tianjic": ["refsim", "tianjic"]}[target]
    assert manifest["target"]["name"] == target and manifest["source"]["file"] == "digits.nir"


def test_recompiling_into_a_directory_drops_the_old_targets_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    art = tmp_path / "art"
    assert main(["compile", DIGITS, "--target", "loihi2", "-o", str(art)]) == 0
    assert (art / "lava" / "network.py").exists()
    assert main(["compile", DIGITS, "--target", "tianjic", "-o", str(art)]) == 0
    assert not (art / "lava").exists()
    listed = json.loads((art / "manifest.json").read_text())["files"]
    assert sorted(tree(art)) == sorted([*listed, "manifest.json"])
    assert "tianjic/cores.jsonl" in listed and "cores.md" in listed


def test_run_artifact_default_engine_is_refsim(tmp_path, capsys, rng) -> None:  # type: ignore[no-untyped-def]
    """`snnc run ART` runs the core map on the simulated chip; the fixed engine and Lava give
    the same spikes; --counters adds counters and latency to the npz and prints a summary."""
    art = tmp_path / "art"
    assert main(["compile", DIGITS, "-o", str(art)]) == 0
    x = (rng.random((2, 10, 64)) < 0.3).astype(np.uint8)
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(art), "--input", str(tmp_path / "x.npy"), "--batch", "--steps", "12",
                 "--trace", "--counters", "-o", str(tmp_path / "o.npz")]) == 0
    err = capsys.readouterr().err
    assert "synaptic ops" in err and "latency" in err
    assert main(["run", str(art), "--engine", "fixed", "--input", str(tmp_path / "x.npy"),
                 "--batch", "--steps", "12", "--trace", "-o", str(tmp_path / "f.npz")]) == 0
    with np.load(tmp_path / "o.npz") as z, np.load(tmp_path / "f.npz") as f:
        assert z["output_spikes"].shape == (2, 12, 10) and "u:lif1" in z.files
        assert z["counter:latency_cycles"].shape == (12, 2) and "counter:synops" in z.files
        for k in f.files:
            np.testing.assert_array_equal(z[k], f[k], err_msg=k)
    if have_lava():
        assert main(["run", str(art), "--engine", "lava", "--input", str(tmp_path / "x.npy"),
                     "--batch", "--steps", "12", "-o", str(tmp_path / "l.npz")]) == 0
        with np.load(tmp_path / "o.npz") as z, np.load(tmp_path / "l.npz") as w:
            np.testing.assert_array_equal(z["output_spikes"], w["output_spikes"])


def one_error(capsys) -> str:  # type: ignore[no-untyped-def]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert "Traceback" not in err[0]
    return err[0]


def test_compile_and_run_errors_are_one_line(tmp_path, capsys, rng) -> None:  # type: ignore[no-untyped-def]
    assert main(["compile", DIGITS, "--target", "nope", "-o", str(tmp_path / "x")]) == 1
    assert "unknown target 'nope'" in one_error(capsys)
    snn = tmp_path / "big.snn"
    snn.write_text("snnc-ir 1\ninput in : (1)\n"
                   "population h : lif (1) reset=zero refractory=0 {\n"
                   "  du = f64 (1) fill 0.0\n  dv = f64 (1) fill 0.0\n"
                   "  v_th = f64 (1) fill 1000000.0\n  v_reset = f64 (1) fill 0.0\n"
                   "  bias = f64 (1) fill 0.0\n  i_bias = f64 (1) fill 0.0\n}\n"
                   "projection w : in -> h dense {\n  weight = f64 (1, 1) fill 0.001\n"
                   "  delay = i64 (1, 1) fill 0\n}\noutput out : (1) <- h\n")
    assert main(["compile", str(snn), "-o", str(tmp_path / "y")]) == 1
    msg = one_error(capsys)
    assert "population 'h'" in msg and "131071" in msg
    assert not (tmp_path / "y").exists()
    art = tmp_path / "art"
    assert main(["compile", DIGITS, "-o", str(art)]) == 0
    capsys.readouterr()
    x = (rng.random((10, 64)) < 0.3).astype(np.uint8)
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(art), "--engine", "float", "--input", str(tmp_path / "x.npy")]) == 1
    assert "refsim (default), fixed or lava" in one_error(capsys)
    np.save(tmp_path / "g.npy", x * 0.5)
    assert main(["run", str(art), "--input", str(tmp_path / "g.npy")]) == 1
    assert "binary spikes" in one_error(capsys)
    bad = tmp_path / "bad"
    shutil.copytree(art, bad)
    (bad / "ir.snn").write_text((bad / "ir.snn").read_text().replace("lif1", "lif9"))
    assert main(["run", str(bad), "--input", str(tmp_path / "x.npy")]) == 1
    assert "checksum" in one_error(capsys)
    assert main(["run", DIGITS, "--engine", "lava", "--input", str(tmp_path / "x.npy")]) == 1
    assert "compile first" in one_error(capsys)


def test_user_target_files_decide_what_is_emitted(tmp_path, capsys, rng) -> None:  # type: ignore[no-untyped-def]
    """A target that changes loihi2's format but keeps its emit list (Lava) is refused before
    anything is written, naming the facts Lava does not have; without Lava in emit it compiles
    and runs on the simulated chip; --engine lava on it says why not."""
    narrow = tmp_path / "narrow.toml"
    narrow.write_text('extends = "loihi2"\n[format]\n'
                      'state_bits = { value = 16, source = "test" }\n'
                      'act_shift = { value = 4, source = "test" }\n')
    assert main(["compile", DIGITS, "-t", str(narrow), "-o", str(tmp_path / "a")]) == 1
    msg = one_error(capsys)
    assert "state_bits 16 (Lava: 24)" in msg and "act_shift 4 (Lava: 6)" in msg
    assert "emit" in msg and not (tmp_path / "a").exists()
    narrow.write_text(narrow.read_text().replace('extends = "loihi2"\n',
                                                 'extends = "loihi2"\nemit = ["refsim"]\n'))
    assert main(["compile", DIGITS, "-t", str(narrow), "-o", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    assert not (tmp_path / "b" / "lava").exists()
    ir = (tmp_path / "b" / "ir.snn").read_text()
    assert '\\"state_bits\\": 16' in ir and '\\"act_shift\\": 4' in ir
    x = (rng.random((10, 64)) < 0.3).astype(np.uint8)
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(tmp_path / "b"), "--input", str(tmp_path / "x.npy")]) == 0
    capsys.readouterr()
    assert main(["run", str(tmp_path / "b"), "--engine", "lava", "--input",
                 str(tmp_path / "x.npy")]) == 1
    assert "emits ['refsim'], not 'lava'" in one_error(capsys)
    bogus = tmp_path / "bogus.toml"
    bogus.write_text('extends = "tianjic"\nemit = ["refsim", "lava"]\n')
    assert main(["compile", DIGITS, "-t", str(bogus), "-o", str(tmp_path / "c")]) == 1
    assert "Lava runs the loihi arithmetic" in one_error(capsys)


def test_an_artifact_of_another_format_version_or_backend_is_refused(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Readers check the format version instead of probing for files; a target naming an
    unknown backend is refused before compiling."""
    art = tmp_path / "art"
    assert main(["compile", DIGITS, "-t", "refsim", "-o", str(art)]) == 0
    capsys.readouterr()
    m = json.loads((art / "manifest.json").read_text())
    assert m["format_version"] == 4
    m["format_version"] = 1
    (art / "manifest.json").write_text(json.dumps(m))
    np.save(tmp_path / "x.npy", np.zeros((4, 64), dtype=np.uint8))
    assert main(["run", str(art), "--input", str(tmp_path / "x.npy")]) == 1
    assert "artifact format 1; this snnc reads 4; recompile the model" in one_error(capsys)
    assert main(["report", str(art)]) == 1
    assert "recompile" in one_error(capsys)
    odd = tmp_path / "odd.toml"
    odd.write_text('extends = "loihi2"\nemit = ["refsim", "spinnaker"]\n')
    assert main(["compile", DIGITS, "-t", str(odd), "-o", str(tmp_path / "o")]) == 1
    assert "emit lists 'spinnaker'; backends: refsim, lava, tianjic" in one_error(capsys)
    assert not (tmp_path / "o").exists()


def test_a_model_too_large_to_write_is_refused_before_compiling(tmp_path, capsys,
                                                                monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A model inside the memory budget whose artifact would not be (its write holds the
    synapse table and the backends' tables, WRITE_SYNAPSE_BYTES a synapse, besides the IR)
    is refused with one line before compiling, and nothing is written; `--no-artifact`
    still maps it and prints its summary; write_artifact checks the same before writing,
    for callers of the API. With the budget at the write's need both pass."""
    from snnc import api
    from snnc.artifact import WRITE_SYNAPSE_BYTES, ir_bytes, write_artifact
    from snnc.compiler import budget

    g = api.load(DIGITS)
    need = 2 * ir_bytes(g) + g.n_synapses * WRITE_SYNAPSE_BYTES
    model = (g.n_neurons * budget.NEURON_BYTES
             + (g.n_synapses + sum(p.size for p in g.inputs.values())) * budget.SYNAPSE_BYTES)
    assert model < need - 1
    monkeypatch.setenv("SNNC_MEMORY_BUDGET", str(need - 1))
    out = tmp_path / "art"
    assert main(["compile", DIGITS, "--target", "tianjic", "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "writing the artifact of" in err[0] and "digits.nir" in err[0]
    assert "SNNC_MEMORY_BUDGET" in err[0] and "--no-artifact" in err[0]
    assert not out.exists() and list(tmp_path.iterdir()) == []
    # --no-artifact maps and verifies the model, prints its summary and writes nothing
    monkeypatch.chdir(tmp_path)
    assert main(["compile", DIGITS, "--target", "tianjic", "--no-artifact", "--json"]) == 0
    summ = json.loads(capsys.readouterr().out)
    assert summ["artifact"] is None and summ["cores_used"] >= 1 and summ["chips"] == 1
    assert summ["neurons"] == g.n_neurons and 0 < summ["synapses"] <= g.n_synapses
    assert list(tmp_path.iterdir()) == []
    assert main(["compile", DIGITS, "--no-artifact", "-o", str(out)]) == 1
    assert "--no-artifact writes nothing" in capsys.readouterr().err
    monkeypatch.delenv("SNNC_MEMORY_BUDGET")
    c = api.compile(g, "tianjic")
    held = ir_bytes(c.fixed, g)
    monkeypatch.setenv("SNNC_MEMORY_BUDGET", str(held + c.coremap.syn.n * WRITE_SYNAPSE_BYTES - 1))
    with pytest.raises(budget.BudgetError, match="writing the artifact"):
        write_artifact(out, c, {}, g)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv("SNNC_MEMORY_BUDGET", str(need))
    assert main(["compile", DIGITS, "--target", "tianjic", "-o", str(out)]) == 0
    assert (out / "manifest.json").is_file()
