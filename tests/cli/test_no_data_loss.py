"""Outputs never destroy inputs or foreign files (issue 15, data loss): each reproduction of
the fuzzing campaign is refused with one error line and leaves every file as it was."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from snnc.cli import main

from tests.conftest import ROOT

DIGITS = ROOT / "examples" / "digits" / "digits.nir"


def _digest(root: Path) -> dict[str, str]:
    """sha256 of every file under root (symlinks as their target path)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            out[str(p.relative_to(root))] = "-> " + os.readlink(p)
        elif p.is_file():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def work(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    shutil.copy(DIGITS, tmp_path / "digits.nir")
    x = (np.random.default_rng(0).random((16, 64)) < 0.3).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "v.npy", np.random.default_rng(1).random((2, 64)))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _refused(argv: list[str], work: Path, capsys, *words: str) -> None:  # type: ignore[no-untyped-def]
    before = _digest(work)
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error:"), err
    for w in words:
        assert w in err[-1], err[-1]
    assert _digest(work) == before, "a refused command changed a file"


def test_outputs_that_are_inputs_are_refused(work, capsys) -> None:  # type: ignore[no-untyped-def]
    _refused(["convert", "digits.nir", "-o", "digits.nir"], work, capsys, "is an input")
    _refused(["run", "digits.nir", "--input", "x.npy", "-o", "digits.nir"], work, capsys,
             "is an input")
    _refused(["run", "digits.nir", "--input", "x.npy", "-o", "x.npy"], work, capsys,
             "is an input")
    _refused(["encode", "digits.nir", "--values", "v.npy", "-o", "v.npy"], work, capsys,
             "is an input")
    _refused(["run", "digits.nir", "--input", "x.npy", "-o", str(work / "sub" / ".." / "x.npy")],
             work, capsys, "is an input")


def test_report_cannot_overwrite_its_artifact_or_its_model(work, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["compile", "digits.nir", "--target", "refsim", "-o", "art"]) == 0
    capsys.readouterr()
    _refused(["report", "art", "-q", "--json", "art/manifest.json"], work, capsys,
             "is an input")
    _refused(["report", "art", "-q", "--md", "art/ir.snn"], work, capsys, "is an input")
    _refused(["report", "art", "-q", "--md", "digits.nir"], work, capsys, "compiled from")
    _refused(["run", "art", "--input", "x.npy", "-o", "art/arrays.npz"], work, capsys,
             "is an input")


def test_compile_never_writes_among_or_deletes_foreign_files(work, capsys) -> None:  # type: ignore[no-untyped-def]
    mine = work / "mine"
    (mine / "lava").mkdir(parents=True)
    (mine / "ir.snn").write_text("my notes")
    (mine / "lava" / "network.py").write_text("print('mine')")
    _refused(["compile", "digits.nir", "--target", "loihi2", "-o", "mine"], work, capsys,
             "not an snnc artifact", "ir.snn")
    _refused(["compile", "digits.nir", "--target", "loihi2", "-o", "."], work, capsys,
             "not an snnc artifact")


def test_recompiling_an_artifact_keeps_the_users_own_files(work, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["compile", "digits.nir", "--target", "loihi2", "-o", "art"]) == 0
    (work / "art" / "float" / "results.csv").write_text("accuracy,0.98\n")
    (work / "art" / "NOTES.md").write_text("mine")
    assert main(["compile", "digits.nir", "--target", "tianjic", "-o", "art"]) == 0
    capsys.readouterr()
    assert (work / "art" / "float" / "results.csv").read_text() == "accuracy,0.98\n"
    assert (work / "art" / "NOTES.md").read_text() == "mine"
    assert not (work / "art" / "lava").exists()  # the old target's files are gone
    assert (work / "art" / "tianjic").is_dir()
    assert main(["run", "art", "--input", "x.npy"]) == 0  # and the artifact checks out


def test_a_symlink_in_an_artifact_is_not_written_through(work, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["compile", "digits.nir", "--target", "loihi2", "-o", "art"]) == 0
    capsys.readouterr()
    outside = work / "outside"
    outside.mkdir()
    shutil.rmtree(work / "art" / "lava")
    (work / "art" / "lava").symlink_to(outside)
    _refused(["compile", "digits.nir", "--target", "loihi2", "-o", "art"], work, capsys,
             "symlink")
    assert not any(outside.iterdir())


def test_convert_leaves_an_unrelated_npz_beside_its_output(work, capsys) -> None:  # type: ignore[no-untyped-def]
    (work / "out.snn.npz").write_bytes(b"not mine to delete")
    assert main(["convert", "digits.nir", "-o", "out.snn"]) == 0
    assert (work / "out.snn.npz").read_bytes() == b"not mine to delete"
    assert main(["inspect", "out.snn"]) == 0  # the small model's text refers to no arrays
    capsys.readouterr()


def test_a_target_name_cannot_send_the_default_output_elsewhere(work, capsys) -> None:  # type: ignore[no-untyped-def]
    text = (ROOT / "compiler" / "targets" / "refsim.toml").read_text()
    (work / "t.toml").write_text(text.replace('name = "refsim"', 'name = "../../escape"'))
    assert main(["compile", "digits.nir", "--target", "t.toml"]) == 0
    capsys.readouterr()
    made = [p.name for p in work.iterdir() if p.is_dir()]
    assert any(n.startswith("digits.") for n in made), made
    assert not (work.parent.parent / "escape").exists()


def test_an_artifact_is_moved_into_place_with_the_usual_permissions(work, capsys) -> None:  # type: ignore[no-untyped-def]
    (work / "plain").mkdir()
    assert main(["compile", "digits.nir", "--target", "refsim", "-o", "art"]) == 0
    capsys.readouterr()
    assert (work / "art").stat().st_mode == (work / "plain").stat().st_mode
    assert not [p for p in work.iterdir() if p.name.endswith(".snnc-tmp")]  # no staging left


def test_an_interrupted_compile_leaves_the_old_artifact_or_a_refused_one(work, capsys,
                                                                       monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Interrupted while writing: the old artifact is untouched. Interrupted while moving the
    new files in: the old manifest no longer matches, so the artifact is refused when read,
    and compiling again into it repairs it."""
    import snnc.artifact as artifact

    assert main(["compile", "digits.nir", "--target", "loihi2", "-o", "art"]) == 0
    capsys.readouterr()
    old = _digest(work / "art")

    def crash(*a, **k):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt
    with monkeypatch.context() as m:
        m.setattr(artifact, "save_npz", crash)
        assert main(["compile", "digits.nir", "--target", "tianjic", "-o", "art"]) == 130
    assert _digest(work / "art") == old
    assert not [p for p in work.iterdir() if p.name.endswith(".snnc-tmp")]
    real, moved = os.replace, []

    def replace_then_crash(src, dst):  # type: ignore[no-untyped-def]
        if len(moved) == 3:
            raise KeyboardInterrupt
        moved.append(dst)
        real(src, dst)
    with monkeypatch.context() as m:
        m.setattr(artifact.os, "replace", replace_then_crash)
        assert main(["compile", "digits.nir", "--target", "tianjic", "-o", "art"]) == 130
    capsys.readouterr()
    assert main(["run", "art", "--input", "x.npy"]) == 1
    assert "does not match its checksum" in capsys.readouterr().err
    assert main(["compile", "digits.nir", "--target", "tianjic", "-o", "art"]) == 0
    assert main(["run", "art", "--input", "x.npy"]) == 0
    capsys.readouterr()
