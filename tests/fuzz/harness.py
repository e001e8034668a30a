"""Runs fuzz cases on a pool of worker processes and judges each one.

A case is a JSON-ready dict: the surface, the seed files, the mutations, the argv, and the
output paths the command may create. For each case a fresh directory gets a copy of the seeds
(mutated) and a sibling `outside/` with a sentinel file; after the command:

* exit code 0, or 1 with exactly one `error:` line and it last (no traceback, no "internal
  error", nothing escaping main());
* it finished within the time limit (a hang is killed and reported);
* no file changed, appeared or vanished except the case's declared outputs, and nothing
  outside the case's own directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import select
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fuzz import mutate

ROOT = Path(__file__).resolve().parents[2]
CASE_TIMEOUT = 30  # seconds a command may take (the worker's alarm)
KILL_AFTER = 90  # the parent kills a worker that has not answered by then
BUDGET = "1G"  # SNNC_MEMORY_BUDGET in the workers: far below their address-space limit


@dataclass
class Outcome:
    case: dict[str, Any]
    rc: int
    err: str
    sec: float
    problems: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        if self.problems:
            return "FAIL"
        return "ok" if self.rc == 0 else "refused"


def digest(root: Path) -> dict[str, str]:
    """Every entry under root: files by sha256, symlinks by target, directories."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "-> " + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                with open(p, "rb") as f:
                    out[rel] = hashlib.file_digest(f, "sha256").hexdigest()
    return out


def materialize(case: dict[str, Any], seeds: Path, where: Path) -> Path:
    """The case's directory: work/ with the seeds (mutated), outside/ with a sentinel."""
    work, outside = where / "work", where / "outside"
    shutil.copytree(seeds, work, symlinks=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("the user's own file\n")
    (work / "art" / "NOTES.md").write_text("the user's notes inside the artifact\n")
    for m in case["mutations"]:
        kind, target, ops = m["kind"], work / m["file"], m["ops"]
        if kind == "bytes":
            mutate.mutate_file_bytes(target, ops)
        elif kind == "h5":
            mutate.mutate_h5(target, ops)
        elif kind == "onnx":
            mutate.mutate_onnx(target, ops)
        elif kind == "text":
            mutate.mutate_text(target, ops)
        elif kind == "json":
            mutate.mutate_json(target, ops)
        elif kind == "files":
            mutate.mutate_artifact(target, ops, outside)
        elif kind == "toml":
            mutate.mutate_toml(target, ops)
        elif kind == "input":
            mutate.write_input(target, ops, seeds / m["file"])
        else:
            raise ValueError(f"unknown mutation {kind}")
    return work


def _allowed(rel: str, outputs: list[str], before: dict[str, str]) -> bool:
    """`rel` (under work/) is one of the outputs: a path, or "prefix*" for any entry that
    did not exist before and whose name starts with prefix (compile's default directory)."""
    for o in outputs:
        if o.endswith("*"):
            top = rel.split("/", 1)[0]
            if top.startswith(o[:-1]) and f"work/{top}" not in before:
                return True
            continue
        if not o:
            continue
        o = os.path.normpath(o)
        if rel == o or rel.startswith(o.rstrip("/") + "/"):
            return True
    return False


def judge(case: dict[str, Any], reply: dict[str, Any], before: dict[str, str],
          after: dict[str, str], siblings: tuple[set[str], set[str]]) -> Outcome:
    rc, err = reply["rc"], reply["err"]
    o = Outcome(case, rc, err, reply.get("sec", 0.0))
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    if rc == -9:
        o.problems.append("hang")
    elif rc not in (0, 1):
        o.problems.append(f"exit code {rc}")
    if "Traceback" in err or "internal error" in err or "ESCAPED" in err:
        o.problems.append("traceback")
    if rc == 1 and (len(errors) != 1 or lines[-1] != errors[0]):
        o.problems.append("not one final error line")
    outs = case["outputs"]
    for rel in sorted(set(before) | set(after)):
        if before.get(rel) != after.get(rel):
            top = rel.split("/", 1)[0]
            if top == "outside":
                o.problems.append(f"wrote outside: {rel}")
            elif rel == "work/art/NOTES.md":
                o.problems.append("changed the user's own file in an artifact")
            elif rc == 0 and rel.startswith("work/") and _allowed(rel[5:], outs, before):
                continue  # what the command was asked to write (a refusal writes nothing)
            elif rel.startswith("work/.") and rel.endswith(".tmp"):
                o.problems.append(f"left a temporary file: {rel}")
            else:
                o.problems.append(f"changed an input: {rel}")
    if siblings[0] != siblings[1]:
        o.problems.append(f"wrote beside the case: {sorted(siblings[0] ^ siblings[1])}")
    return o


class Worker:
    """One `python -m tests.fuzz.worker` process and its pipe."""

    def __init__(self) -> None:
        env = {**os.environ, "SNNC_MEMORY_BUDGET": BUDGET, "NUMBA_NUM_THREADS": "1",
               "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.fuzz.worker"], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                     text=True, bufsize=1)

    def ask(self, argv: list[str], cwd: Path) -> dict[str, Any] | None:
        """The reply, or None if the worker did not answer in time (it is then killed)."""
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"argv": argv, "cwd": str(cwd),
                                          "timeout": CASE_TIMEOUT}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], KILL_AFTER)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.close()
            return None
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None:
                f.close()


class Pool:
    """`n` workers judging cases in parallel, each case in its own temporary directory."""

    def __init__(self, seeds: Path, n: int = 2) -> None:
        self.seeds, self.n = seeds, n
        self.workers = [Worker() for _ in range(n)]
        self.tmp = Path(tempfile.mkdtemp(prefix="snnc-fuzz-"))

    def close(self) -> None:
        for w in self.workers:
            w.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _one(self, slot: int, idx: int, case: dict[str, Any]) -> Outcome:
        box = self.tmp / f"slot{slot}"
        where = box / f"case{idx}"
        where.mkdir(parents=True)
        try:
            work = materialize(case, self.seeds, where)
        except Exception as e:  # noqa: BLE001 - a mutation the mutator itself cannot write
            shutil.rmtree(where, ignore_errors=True)
            return Outcome(case, 0, f"skipped: {type(e).__name__}: {e}", 0.0)
        before, sib0 = digest(where), set(os.listdir(box))
        reply = self.workers[slot].ask(case["argv"], work)
        if reply is None:
            self.workers[slot] = Worker()
            reply = {"rc": -9, "err": "HANG: the worker did not answer", "sec": KILL_AFTER}
        out = judge(case, reply, before, digest(where), (sib0, set(os.listdir(box))))
        shutil.rmtree(where, ignore_errors=True)
        return out

    def run(self, cases: list[dict[str, Any]]) -> list[Outcome]:
        todo: queue.Queue[tuple[int, dict[str, Any]]] = queue.Queue()
        for i, c in enumerate(cases):
            todo.put((i, c))
        results: list[Outcome | None] = [None] * len(cases)

        def drain(slot: int) -> None:
            while True:
                try:
                    i, c = todo.get_nowait()
                except queue.Empty:
                    return
                results[i] = self._one(slot, i, c)
        threads = [threading.Thread(target=drain, args=(s,)) for s in range(self.n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return [r for r in results if r is not None]


def describe(o: Outcome) -> str:
    """A failing case as the reproduction a developer needs."""
    return (f"{o.problems} rc={o.rc} argv={o.case['argv']}\n  mutations="
            f"{json.dumps(o.case['mutations'])[:600]}\n  stderr tail: {o.err[-600:]}")
