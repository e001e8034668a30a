"""Where a command may write: never over one of its own inputs, never through a symlink out
of an artifact, and a file is replaced in one step (temporary file + rename), so an
interrupted command leaves the old file or the new one, not half of either."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from snnc.compiler.errors import SnncError


class OutputError(SnncError):
    """An output path would destroy an input or a file snnc does not own."""


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            with contextlib.suppress(OSError):
                return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except ValueError:  # a name the file system cannot hold (e.g. a NUL byte) is no file
        return False


def artifact_files(path: str | Path) -> list[Path]:
    """An artifact directory's manifest and every file it lists (as inputs of a command)."""
    root = Path(path)
    out = [root / "manifest.json"]
    try:
        doc = json.loads((root / "manifest.json").read_text())
        files = doc.get("files", {}) if isinstance(doc, dict) else {}
        out += [root / f for f in files if isinstance(f, str) and "\x00" not in f
                ] if isinstance(files, dict) else []
    except (OSError, ValueError, RecursionError):
        pass  # the command's own reading of the manifest reports what is wrong with it
    return out


def refuse_overwrite(outputs: dict[str, str | None], inputs: list[str | Path | None]) -> None:
    """OutputError if an output path is one of the command's inputs (compared as resolved
    files; an artifact directory input stands for its manifest and the files it lists)."""
    expanded: list[Path] = []
    for i in inputs:
        if i is None:
            continue
        p = Path(i)
        expanded += artifact_files(p) if p.is_dir() else [p]
    for flag, out in outputs.items():
        if out is None:
            continue
        o = Path(out)
        for i in expanded:
            if _same(o, i):
                raise OutputError(f"{flag} {out} is an input of this command ({i}); writing it "
                                  "would destroy it: choose another output path")


def refuse_source_overwrite(outputs: dict[str, str | None], artifact: str | Path) -> None:
    """OutputError if an output is the model file the artifact was compiled from (the
    manifest records its sha256)."""
    import hashlib

    try:
        src = json.loads((Path(artifact) / "manifest.json").read_text()).get("source", {})
        sha = src.get("sha256") if isinstance(src, dict) else None
    except (OSError, ValueError, AttributeError, RecursionError):
        return
    for flag, out in outputs.items():
        if out and sha and Path(out).is_file():
            if hashlib.sha256(Path(out).read_bytes()).hexdigest() == sha:
                raise OutputError(f"{flag} {out} is the model {artifact} was compiled from; "
                                  "writing it would destroy it: choose another output path")


def umasked(mode: int) -> int:
    """`mode` as the process's umask lets open() and mkdir() create it (temporary files and
    directories are private until they are renamed into place)."""
    mask = os.umask(0)
    os.umask(mask)
    return mode & ~mask


@contextlib.contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path`; renamed onto it when the block ends without error,
    removed otherwise."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                               dir=target.parent if str(target.parent) else ".")
    os.close(fd)
    os.chmod(tmp, umasked(0o666))  # what open() would have given the file
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_bytes(path: str | Path, data: bytes) -> None:
    with replacing(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))
