"""The compiled artifact (DESIGN.md §5): one directory, byte-identical for the same input.

    manifest.json     format version, target (with sources), source hash, options, passes,
                      summary, quantization log, and the sha256 of every other file
    ir.snn            the fixed IR as text; its large arrays live in arrays.npz
    arrays.npz        integer tables (zip members in sorted order, fixed timestamps)
    lava/network.py   Loihi targets: runnable Lava script (backends/lava_network.py)
    lava/weights.npz  ... and the process description it builds
    mapping/, cores.md  partition, placement and routes (backends/coremap_files.py)
    tianjic/          Tianjic targets: per-core files, crossbars, routes (backends/tianjic.py)
    refsim/program.npz  the core map as the reference simulator runs it (backends/refsim.py)
    float/            the float IR it was compiled from (reports compare float and fixed)
    sample_input.npz  one deterministic sample of input spikes (rate 0.2, 20 steps)
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from snnc.compiler.errors import SnncError
from snnc.compiler.ir import Graph
from snnc.compiler.targets import TargetSpec

ARTIFACT_VERSION = 1
MANIFEST = "manifest.json"
MANAGED = (MANIFEST, "ir.snn", "arrays.npz", "lava/network.py", "lava/weights.npz", "cores.md",
           "sample_input.npz")
MANAGED_DIRS = ("mapping", "tianjic", "refsim", "float")
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


def write_artifact(out: str | Path, graph: Graph, target: TargetSpec,
                   manifest: dict[str, Any], coremap: Any = None,
                   float_graph: Graph | None = None) -> Path:
    """Write the artifact for a fixed IR and its core map; `manifest` adds source, options,
    summary."""
    from snnc.frontends.text import print_ir

    root = Path(out)
    if root.exists() and not root.is_dir():
        raise ArtifactError(f"{root} exists and is not a directory")
    root.mkdir(parents=True, exist_ok=True)
    for f in MANAGED:  # a re-compile for another target must not leave the old target's files
        (root / f).unlink(missing_ok=True)
    for d in MANAGED_DIRS:
        if (root / d).is_dir():
            shutil.rmtree(root / d)
    if (root / "lava").is_dir() and not any((root / "lava").iterdir()):
        (root / "lava").rmdir()
    arrays: dict[str, np.ndarray] = {}
    (root / "ir.snn").write_text(print_ir(graph, arrays))
    save_npz(root / "arrays.npz", arrays)
    files = ["ir.snn", "arrays.npz"]
    if target.semantics == "loihi":
        from snnc.backends import lava, lava_network

        (root / "lava").mkdir(exist_ok=True)
        save_npz(root / "lava" / "weights.npz", lava.describe(graph))
        (root / "lava" / "network.py").write_text(Path(lava_network.__file__).read_text())
        files += ["lava/network.py", "lava/weights.npz"]
    if coremap is not None:
        from snnc.backends.coremap_files import write_mapping

        files += write_mapping(root, coremap, save_npz)
        from snnc.backends.refsim import program

        (root / "refsim").mkdir(exist_ok=True)
        save_npz(root / "refsim" / "program.npz", program(graph, coremap, target))
        files.append("refsim/program.npz")
        if target.semantics == "tianjic":
            from snnc.backends.tianjic import write_tianjic

            files += write_tianjic(root, graph, coremap, save_npz)
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


def read_float(path: str | Path) -> Graph | None:
    """The float IR an artifact was compiled from, if it has one."""
    from snnc.frontends.text import parse_ir

    root = Path(path) / "float"
    if not (root / "ir.snn").is_file():
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
    for f, sha in sorted(doc.get("files", {}).items()):
        p = root / f
        if not p.is_file():
            raise ArtifactError(f"{root}: file {f} listed in the manifest is missing")
        if _sha(p) != sha:
            raise ArtifactError(f"{root}: {f} does not match its checksum in the manifest "
                                "(edited or corrupted); recompile the model")
    with np.load(root / "arrays.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    graph = parse_ir((root / "ir.snn").read_text(), arrays, str(root / "ir.snn"))
    return graph, doc
