"""The compiled artifact: one directory, byte-identical for the same input and options.

    manifest.json     format version, target (with sources and its emit list), source hash,
                      options, passes, summary, quantization log, the sha256 of every file
    ir.snn            the fixed IR as text; its large arrays live in arrays.npz
    arrays.npz        integer tables (zip members in sorted order, fixed timestamps)
    mapping/, cores.md  partition, placement and routes (backends/coremap_files.py)
    float/            the float IR it was compiled from (reports compare float and fixed)
    sample_input.npz  one deterministic sample of input spikes (rate 0.2, 20 steps)
  and what the target's `emit` list asks for (backends/registry.py):
    refsim/program.npz  the core map as the reference simulator runs it (backends/refsim.py)
    lava/network.py, lava/weights.npz  a runnable Lava script and its network (backends/lava.py)
    tianjic/          per-core files, crossbars, routes (backends/tianjic.py)

ARTIFACT_VERSION is bumped whenever the layout or a file's meaning changes; readers check it
instead of probing for files.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from snnc.backends.coremap_files import write_mapping
from snnc.backends.registry import BACKENDS, backends_of
from snnc.compiler.errors import SnncError
from snnc.compiler.ir import Graph
from snnc.compiler.pipeline import Compiled

# 2: targets list their backends (manifest target.emit); the fixed IR and the refsim program
# carry their arithmetic; options are per pass; NoC facts are east-west / north-south
ARTIFACT_VERSION = 2
MANIFEST = "manifest.json"
# what a (re)compile replaces: its own files and directories, and what any backend writes
MANAGED = (MANIFEST, "ir.snn", "arrays.npz", "cores.md", "sample_input.npz", "mapping", "float",
           *(p for b in BACKENDS.values() for p in b.owns))
SAMPLE_STEPS, SAMPLE_RATE = 20, 0.2  # the sample input `snnc report` uses without --input


class ArtifactError(SnncError):
    """An artifact directory is missing, from another version, or corrupted."""


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez, but deterministic: sorted members, fixed timestamps, no pickles."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for k in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[k]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{k}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, buf.getvalue())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_artifact(out: str | Path, compiled: Compiled, manifest: dict[str, Any],
                   float_graph: Graph | None = None) -> Path:
    """Write the artifact of a compiled (mapped) model; `manifest` adds source, options,
    summary."""
    from snnc.frontends.text import print_ir

    graph, coremap, target = compiled.fixed, compiled.coremap, compiled.target
    if graph is None or coremap is None:
        raise ArtifactError("an artifact needs a mapped model; compile it to the core map")
    emitters = backends_of(target)
    root = Path(out)
    _clear_for_rewrite(root)
    root.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    (root / "ir.snn").write_text(print_ir(graph, arrays))
    save_npz(root / "arrays.npz", arrays)
    files = ["ir.snn", "arrays.npz", *write_mapping(root, coremap, save_npz)]
    for b in emitters:
        files += b.emit(root, graph, coremap, target, save_npz)
    if float_graph is not None:
        (root / "float").mkdir(exist_ok=True)
        farrays: dict[str, np.ndarray] = {}
        (root / "float" / "ir.snn").write_text(print_ir(float_graph, farrays))
        save_npz(root / "float" / "arrays.npz", farrays)
        files += ["float/ir.snn", "float/arrays.npz"]
    rng = np.random.default_rng(0)
    save_npz(root / "sample_input.npz", {
        k: (rng.random((1, SAMPLE_STEPS, *p.shape)) < SAMPLE_RATE).astype(np.uint8)
        for k, p in graph.inputs.items()})
    files.append("sample_input.npz")
    doc = {"format_version": ARTIFACT_VERSION, **manifest,
           "target": target.to_json(), "ir_digest": graph.digest(),
           "files": {f: _sha(root / f) for f in files}}
    (root / MANIFEST).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return root


def _clear_for_rewrite(root: Path) -> None:
    """Make `root` ready for a new artifact without destroying anything snnc does not own: a
    new or empty directory, or an earlier artifact, whose listed files (and only those) go,
    so a re-compile for another target leaves none of the old target's. Anything else, and
    any managed path that is a symlink (it would write outside the directory), is refused."""
    if not root.exists():
        return
    if not root.is_dir():
        raise ArtifactError(f"{root} exists and is not a directory; choose another -o")
    entries = sorted(p.name for p in root.iterdir())
    if not entries:
        return
    if not is_artifact(root):
        shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3
                                          else "")
        raise ArtifactError(f"{root} is not empty and is not an snnc artifact ({shown}); "
                            "compile into a new directory, or an earlier artifact")
    for name in MANAGED:
        top = root / Path(name).parts[0]
        if top.is_symlink():
            raise ArtifactError(f"{top} is a symlink; an artifact writes only inside its own "
                                "directory: remove the link or compile into a new directory")
    try:
        listed = json.loads((root / MANIFEST).read_text()).get("files", {})
    except (OSError, ValueError, AttributeError):
        raise ArtifactError(f"{root / MANIFEST} is unreadable; compile into a new directory "
                            "or remove the old artifact yourself") from None
    base = root.resolve()
    for rel in listed if isinstance(listed, dict) else ():
        p = (root / str(rel))
        if p.resolve().is_relative_to(base) and p.is_file() and not p.is_symlink():
            p.unlink()
    (root / MANIFEST).unlink(missing_ok=True)
    for name in MANAGED:  # directories the old artifact emptied
        d = root / Path(name).parts[0]
        for sub in sorted((q for q in d.rglob("*") if q.is_dir()), reverse=True) if (
                d.is_dir()) else []:
            if not any(sub.iterdir()):
                sub.rmdir()
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()


def read_float(path: str | Path, manifest: dict[str, Any]) -> Graph | None:
    """The float IR an artifact was compiled from, if its (checked) manifest lists one."""
    from snnc.frontends.text import parse_ir

    root = Path(path) / "float"
    if "float/ir.snn" not in manifest.get("files", {}):
        return None
    with np.load(root / "arrays.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return parse_ir((root / "ir.snn").read_text(), arrays, str(root / "ir.snn"))


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def is_artifact(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def read_artifact(path: str | Path) -> tuple[Graph, dict[str, Any]]:
    """Load and check an artifact: version, checksums; returns (fixed IR, manifest)."""
    from snnc.frontends.text import parse_ir

    root, doc = read_manifest(path)
    with np.load(root / "arrays.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    graph = parse_ir((root / "ir.snn").read_text(), arrays, str(root / "ir.snn"))
    return graph, doc


def read_manifest(path: str | Path, only: tuple[str, ...] | None = None
                  ) -> tuple[Path, dict[str, Any]]:
    """An artifact's manifest, after checking its version and every file's checksum (or only
    those of the files in `only`)."""
    root = Path(path)
    if not is_artifact(root):
        raise ArtifactError(f"{root} is not a compiled artifact (no {MANIFEST}); "
                            "make one with `snnc compile MODEL --target loihi2 -o DIR`")
    try:
        doc = json.loads((root / MANIFEST).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{root / MANIFEST}: not valid JSON ({e})") from None
    if doc.get("format_version") != ARTIFACT_VERSION:
        raise ArtifactError(f"{root}: artifact format {doc.get('format_version')!r}; this snnc "
                            f"reads {ARTIFACT_VERSION}; recompile the model")
    files = doc.get("files", {})
    if only is not None:
        for f in only:
            if f not in files:
                raise ArtifactError(f"{root}: the manifest lists no {f}; recompile the model")
        files = {f: files[f] for f in only}
    for f, sha in sorted(files.items()):
        p = root / f
        if not p.is_file():
            raise ArtifactError(f"{root}: file {f} listed in the manifest is missing")
        if _sha(p) != sha:
            raise ArtifactError(f"{root}: {f} does not match its checksum in the manifest "
                                "(edited or corrupted); recompile the model")
    return root, doc


def read_backend_file(path: str | Path, backend: str, rel: str) -> dict[str, np.ndarray]:
    """An .npz a backend wrote into the artifact; a clear error if the artifact's target does
    not emit that backend (its manifest says which do). Only that file's checksum is checked:
    the caller has read the rest with read_artifact."""
    root, doc = read_manifest(path, only=())
    emit = doc.get("target", {}).get("emit", [])
    if backend not in emit:
        raise ArtifactError(f"{path}: its target {doc.get('target', {}).get('name')!r} emits "
                            f"{emit}, not {backend!r}; add it to the target's emit list and "
                            "recompile, or choose another engine")
    read_manifest(root, only=(rel,))
    return read_npz(root / rel)
