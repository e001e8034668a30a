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
    tianjic/          core files (one JSON line per core), crossbars, routes
                      (backends/tianjic.py)

ARTIFACT_VERSION is bumped whenever the layout or a file's meaning changes; readers check it
instead of probing for files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from snnc.backends.coremap_files import write_mapping
from snnc.backends.registry import BACKENDS, backends_of
from snnc.compiler import npyfile, paths
from snnc.compiler.errors import SnncError
from snnc.compiler.ir import Graph
from snnc.compiler.pipeline import Compiled

# 2: targets list their backends (manifest target.emit); the fixed IR and the refsim program
# carry their arithmetic; options are per pass; NoC facts are east-west / north-south
# 3: the manifest is sealed (manifest_sha256 covers every other field of it)
# 4: Tianjic core files are one tianjic/cores.jsonl; large tables are stored in their
#    narrowest integer types (refsim/program.npz, lava/weights.npz, arrays.npz)
ARTIFACT_VERSION = 4
SEAL = "manifest_sha256"
MANIFEST = "manifest.json"
# what a (re)compile replaces: its own files and directories, and what any backend writes
MANAGED = (MANIFEST, "ir.snn", "arrays.npz", "cores.md", "sample_input.npz", "mapping", "float",
           *(p for b in BACKENDS.values() for p in b.owns))
MANIFEST_MAX_BYTES = 64 << 20  # a manifest is JSON text of some kilobytes
SAMPLE_STEPS, SAMPLE_RATE = 20, 0.2  # the sample input `snnc report` uses without --input


class ArtifactError(SnncError):
    """An artifact directory is missing, from another version, or corrupted."""


STORE_BYTES = 1 << 16  # members this large are stored, not deflated (write speed)
ONE_BACKEND_AT_A_TIME = 20_000_000  # synapses
# a stored synapse at the write's peak, besides the IR arrays held: the core map's synapse
# table (14 bytes) and the backends' tables as they are built (measured 31-35 in all,
# benchmarks/README.md: the 8-chip sparse network and the 74M-synapse conv stack)
WRITE_SYNAPSE_BYTES = 36


def ir_bytes(*graphs: Graph | None) -> int:
    """Bytes of the projections' arrays of some IRs, each buffer counted once (a fixed IR
    shares its float model's indices and delays)."""
    seen: dict[int, int] = {}
    for g in graphs:
        for p in (g.projections.values() if g is not None else ()):
            for a in (p.weight, p.delay, p.indptr, p.indices):
                while isinstance(a, np.ndarray) and isinstance(a.base, np.ndarray):
                    a = a.base
                if isinstance(a, np.ndarray):
                    seen[id(a)] = a.nbytes
    return sum(seen.values())


def check_write_budget(synapses: int, held: int, where: str) -> None:
    """BudgetError, before anything is written, when writing an artifact of `synapses`
    while `held` bytes of IR are kept would pass the memory budget (compiler/budget.py): a
    model that compiles can still be too large to write, and that should be one clear
    error, not the machine running out of memory."""
    from snnc.compiler import budget

    need = held + synapses * WRITE_SYNAPSE_BYTES
    budget.check(need, 1, where, f"writing the artifact of {synapses:,} synapses (about "
                 f"{WRITE_SYNAPSE_BYTES} bytes each, and {budget.human(held)} of IR arrays "
                 "held)")


def save_npz(path: Path, arrays: Mapping[str, np.ndarray] | Iterable[tuple[str, np.ndarray]]
             ) -> None:
    """np.savez, but deterministic: fixed timestamps, no pickles; the members of a mapping in
    sorted order, those of an iterable of (name, array) pairs in its order, each written
    before the next is asked for (a backend then never holds all its tables at once). Each
    array streams into its member; an array of STORE_BYTES or more is stored uncompressed
    (deflate runs at some tens of MB/s, which made writing the artifact slower than
    compiling it)."""
    items = (((k, arrays[k]) for k in sorted(arrays)) if isinstance(arrays, Mapping)
             else iter(arrays))
    with zipfile.ZipFile(path, "w") as z:
        for k, arr in items:
            a = np.asarray(arr)
            info = zipfile.ZipInfo(f"{k}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = (zipfile.ZIP_STORED if a.nbytes >= STORE_BYTES
                                  else zipfile.ZIP_DEFLATED)
            info.external_attr = 0o644 << 16
            with z.open(info, "w", force_zip64=a.nbytes >= 1 << 30) as f:
                np.lib.format.write_array(f, a, allow_pickle=False)
            del a, arr


def _digests(root: Path, files: list[str]) -> dict[str, str]:
    """sha256 of each file, on two threads (hashlib releases the GIL: a 100M-synapse
    artifact's gigabytes hash in half the time)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(files, pool.map(lambda f: _sha(root / f), files), strict=True))


def _sha(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_artifact(out: str | Path, compiled: Compiled, manifest: dict[str, Any],
                   float_graph: Graph | None = None) -> Path:
    """Write the artifact of a compiled (mapped) model; `manifest` adds source, options,
    summary. The files are written into a temporary directory beside `out` and then moved
    in (a new directory in one rename; into an earlier artifact one file at a time with its
    manifest last), so an interrupted compile leaves the old artifact or the new one, and an
    artifact whose manifest does not match its files is refused when read."""
    graph, coremap, target = compiled.fixed, compiled.coremap, compiled.target
    if graph is None or coremap is None:
        raise ArtifactError("an artifact needs a mapped model; compile it to the core map")
    check_write_budget(coremap.syn.n, ir_bytes(graph, float_graph), str(out))
    emitters = backends_of(target)
    root = Path(out)
    old = _rewritable(root)
    parent = root.parent if str(root.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".snnc-tmp", dir=parent))
    stage.chmod(paths.umasked(0o777))  # what mkdir would have given the artifact directory
    try:
        digests = _write_files(stage, compiled, emitters, float_graph)
        doc = {"format_version": ARTIFACT_VERSION, **manifest,
               "target": target.to_json(), "ir_digest": graph.digest(), "files": digests}
        doc[SEAL] = seal(doc)
        (stage / MANIFEST).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        _commit(stage, root, list(digests), old)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return root


def seal(doc: dict[str, Any]) -> str:
    """sha256 of the manifest without its seal (canonical JSON): an edit to any field, not
    only to a listed file, is detected when the artifact is read."""
    body = {k: v for k, v in doc.items() if k != SEAL}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _write_files(root: Path, compiled: Compiled, emitters: list[Any],
                 float_graph: Graph | None) -> dict[str, str]:
    """Every file of the artifact but its manifest, under `root`; their relative names and
    sha256 digests. The backends write their own directories on two more threads (one,
    past 20M synapses) while this one writes the IR and the mapping (the machine's other
    core; numpy, numba and zlib release the GIL), then hashes its files, the IR digest and
    each backend's files as that backend finishes, so only the last backend's files are
    hashed after the writing."""
    from snnc.frontends.text import print_ir

    graph, coremap, target = compiled.fixed, compiled.coremap, compiled.target
    assert graph is not None and coremap is not None
    # a large model's backends run one after the other: each holds some bytes a synapse of
    # temporaries while it builds its tables, and two at once would add up
    workers = 1 if coremap.syn.n > ONE_BACKEND_AT_A_TIME else 2
    with ThreadPoolExecutor(max_workers=workers) as pool:
        emitted = [pool.submit(b.emit, root, graph, coremap, target, save_npz)
                   for b in emitters]
        arrays: dict[str, np.ndarray] = {}
        (root / "ir.snn").write_text(print_ir(graph, arrays))
        save_npz(root / "arrays.npz", arrays)
        files = ["ir.snn", "arrays.npz", *write_mapping(root, coremap, save_npz)]
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
        digests = _digests(root, files)
        graph.digest()  # for the manifest, while the backends write
        for f in emitted:
            digests.update(_digests(root, f.result()))
    return digests


def _commit(stage: Path, root: Path, files: list[str], old: list[str]) -> None:
    """Move the staged artifact to `root`: one rename for a new directory; otherwise the new
    files one by one, then the old artifact's files the new one does not have go, then the
    manifest."""
    if not root.exists():
        os.rename(stage, root)
        stage.mkdir()  # for the caller's cleanup
        return
    base = root.resolve()
    for rel in files:  # checked before anything moves
        dst = root / rel
        if not dst.parent.resolve().is_relative_to(base) or dst.is_symlink():
            raise ArtifactError(f"{dst} leads outside {root} through a symlink; remove the "
                                "link or compile into a new directory")
        if (dst.exists() or dst.is_symlink()) and rel not in old:
            raise ArtifactError(f"{dst} is not a file of the earlier artifact; move it away "
                                "or compile into a new directory")
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage / rel, root / rel)
    for rel in sorted(set(old) - set(files)):
        p = root / rel
        if p.resolve().is_relative_to(base) and p.is_file() and not p.is_symlink():
            p.unlink()
    for name in MANAGED:  # directories the old artifact emptied
        d = root / Path(name).parts[0]
        for sub in sorted((q for q in d.rglob("*") if q.is_dir()), reverse=True) if (
                d.is_dir()) else []:
            if not any(sub.iterdir()):
                sub.rmdir()
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()
    os.replace(stage / MANIFEST, root / MANIFEST)


def _rewritable(root: Path) -> list[str]:
    """Check that `root` may receive a new artifact without destroying anything snnc does
    not own: a new or empty directory, or an earlier artifact (returns the files its
    manifest lists, which a rewrite may replace or remove). Anything else, and any managed
    path that is a symlink (it would write outside the directory), is refused."""
    if not root.exists():
        return []
    if not root.is_dir():
        raise ArtifactError(f"{root} exists and is not a directory; choose another -o")
    entries = sorted(p.name for p in root.iterdir())
    if not entries:
        return []
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
    except (OSError, ValueError, AttributeError, RecursionError):
        raise ArtifactError(f"{root / MANIFEST} is unreadable; compile into a new directory "
                            "or remove the old artifact yourself") from None
    managed = {Path(m).parts[0] for m in MANAGED}
    names = [k for k in listed if isinstance(k, str)] if isinstance(listed, dict) else []
    # only names snnc writes, as plain paths: a tampered list cannot make a rewrite delete
    # the user's own files or stumble on a name the file system refuses
    return [k for k in names if _plain(k) and k.split("/")[0] in managed and k != MANIFEST]


def _plain(rel: str) -> bool:
    parts = rel.split("/")
    return bool(rel) and not rel.startswith("/") and "\\" not in rel and "\x00" not in rel \
        and not any(p in ("", ".", "..") for p in parts)


def read_float(path: str | Path, manifest: dict[str, Any]) -> Graph | None:
    """The float IR an artifact was compiled from, if its (checked) manifest lists one."""
    if "float/ir.snn" not in manifest.get("files", {}):
        return None
    return _read_ir(Path(path), "float/ir.snn", "float/arrays.npz")


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """An .npz of the artifact (checked by read_manifest first), arrays by name."""
    return npyfile.read_npz(path)


def _read_ir(root: Path, text: str, arrays: str) -> Graph:
    from snnc.frontends.text import parse_ir

    try:
        body = (root / text).read_text()
    except UnicodeDecodeError:
        raise ArtifactError(f"{root / text}: not a text file; recompile the model") from None
    return parse_ir(body, read_npz(root / arrays), str(root / text))


def is_artifact(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def read_artifact(path: str | Path) -> tuple[Graph, dict[str, Any]]:
    """Load and check an artifact: version, checksums; returns (fixed IR, manifest)."""
    root, doc = read_manifest(path)
    return _read_ir(root, "ir.snn", "arrays.npz"), doc


REQUIRED = ("ir.snn", "arrays.npz", "mapping/map.npz", "mapping/summary.json",
            "sample_input.npz")  # what every artifact lists and its readers open
SHA256 = re.compile(r"[0-9a-f]{64}\Z")


def load_manifest(root: Path) -> dict[str, Any]:
    """The manifest as a dict whose `files` map contained relative paths to sha256 digests
    and whose `target` is a table; ArtifactError naming what is wrong otherwise. Nothing it
    lists has been opened yet."""
    where = root / MANIFEST
    try:
        if where.stat().st_size > MANIFEST_MAX_BYTES:
            raise ArtifactError(f"{where}: {where.stat().st_size} bytes is not a manifest "
                                f"(at most {MANIFEST_MAX_BYTES}); recompile the model")
        doc = json.loads(where.read_text())
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise ArtifactError(f"{where}: not valid JSON ({type(e).__name__}: "
                            f"{str(e)[:120]}); recompile the model") from None
    except OSError as e:
        raise ArtifactError(f"{where}: cannot read ({e.strerror or e})") from None
    if not isinstance(doc, dict):
        raise ArtifactError(f"{where}: a JSON {type(doc).__name__}, not an object; "
                            "recompile the model")
    if doc.get("format_version") != ARTIFACT_VERSION:
        raise ArtifactError(f"{root}: artifact format {doc.get('format_version')!r}; this snnc "
                            f"reads {ARTIFACT_VERSION}; recompile the model")
    if doc.get(SEAL) != seal(doc):
        raise ArtifactError(f"{where}: edited since snnc wrote it (its {SEAL} does not "
                            "match); recompile the model")
    files = doc.get("files")
    if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and SHA256.match(v)
            for k, v in files.items()):
        raise ArtifactError(f"{where}: 'files' must map file names to sha256 digests; "
                            "recompile the model")
    for rel in sorted(files):
        contained(root, rel)
    for rel in REQUIRED:
        if rel not in files:
            raise ArtifactError(f"{where}: lists no {rel}; recompile the model")
    target = doc.get("target")
    if not (isinstance(target, dict) and isinstance(target.get("name"), str)):
        raise ArtifactError(f"{where}: 'target' must be the table snnc writes (name, emit, "
                            "facts); recompile the model")
    from snnc.compiler.targets import TargetError, from_json

    try:
        from_json(target, f"{where}: target")
    except TargetError as e:
        raise ArtifactError(f"{e}; recompile the model") from None
    for key in ("source", "load", "options", "summary", "quantize"):
        if not isinstance(doc.get(key, {}), dict):
            raise ArtifactError(f"{where}: '{key}' must be an object; recompile the model")
    _check_quantize_log(doc.get("quantize", {}), where)
    return doc


def _check_quantize_log(q: dict[str, Any], where: Path) -> None:
    """The parts of the quantization log that reports read, of the kinds they read."""
    projs = q.get("projections", {})
    ok = isinstance(projs, dict) and isinstance(q.get("warnings", []), list) and all(
        isinstance(v, dict) and isinstance(v.get("weight_exp"), int)
        and isinstance(v.get("clipped"), int) and isinstance(v.get("zeroed"), int)
        and (v.get("sqnr_db") is None or isinstance(v.get("sqnr_db"), (int, float)))
        for v in projs.values())
    if not ok:
        raise ArtifactError(f"{where}: its quantization log is not what snnc writes; "
                            "recompile the model")


def contained(root: Path, rel: str) -> Path:
    """root/rel for a file name a manifest lists: relative, without '..', and not through a
    symlink, so that it cannot name anything outside the artifact directory."""
    parts = rel.split("/")
    if not _plain(rel):
        raise ArtifactError(f"{root / MANIFEST}: lists {rel!r}, which is not a plain path "
                            "inside the artifact; recompile the model")
    p = root
    for part in parts:
        p = p / part
        if p.is_symlink():
            raise ArtifactError(f"{root}: {rel} passes through the symlink {p}; an artifact "
                                "reads only inside its own directory: recompile the model")
    return p


def read_manifest(path: str | Path, only: tuple[str, ...] | None = None
                  ) -> tuple[Path, dict[str, Any]]:
    """An artifact's manifest, after checking its version and every file's checksum (or only
    those of the files in `only`)."""
    root = Path(path)
    if not is_artifact(root):
        raise ArtifactError(f"{root} is not a compiled artifact (no {MANIFEST}); "
                            "make one with `snnc compile MODEL --target loihi2 -o DIR`")
    doc = load_manifest(root)
    files = doc["files"]
    if only is not None:
        for f in only:
            if f not in files:
                raise ArtifactError(f"{root}: the manifest lists no {f}; recompile the model")
        files = {f: files[f] for f in only}
    for f, sha in sorted(files.items()):
        p = contained(root, f)
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
    emit = doc["target"]["emit"]
    if backend not in emit:
        raise ArtifactError(f"{path}: its target {doc['target']['name']!r} emits "
                            f"{emit}, not {backend!r}; add it to the target's emit list and "
                            "recompile, or choose another engine")
    read_manifest(root, only=(rel,))
    return read_npz(root / rel)
