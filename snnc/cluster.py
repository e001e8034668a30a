"""Where `snnc eval` and `snnc sweep` run their tasks: this process, a Dask LocalCluster of
worker processes, or a running Dask scheduler (docs/eval.md).

Tasks are plain functions of paths and numbers; their results come back as they finish. A
worker that dies takes its running tasks with it: the scheduler runs them again elsewhere
(Dask's `distributed.scheduler.allowed-failures`, 3 by default), and a task that kills
workers that often is an error naming it, never a missing result.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from snnc.compiler.errors import InputError, SnncError

LOCAL, INLINE = "local", "none"
THREADS_ENV = "SNNC_WORKER_THREADS"  # numba threads a local worker's tasks use


def use_worker_threads() -> None:
    """In a task: numba's threads for this worker (THREADS_ENV, set by a local cluster),
    chosen per call with numba.set_num_threads. Setting NUMBA_NUM_THREADS in a worker's
    environment instead breaks once anything in the process changes it after numba started
    its pool ("Cannot set NUMBA_NUM_THREADS to a different value")."""
    want = os.environ.get(THREADS_ENV)
    if not want:
        return
    import numba

    numba.set_num_threads(max(1, min(int(want), numba.config.NUMBA_NUM_THREADS)))


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


@contextmanager
def client_for(scheduler: str | None = LOCAL, workers: int | None = None,
               threads: int | None = None, connect_timeout: float = 10.0) -> Iterator[Any]:
    """A dask.distributed Client (None for `scheduler="none"`: run in this process).

    "local" starts a LocalCluster of `workers` processes with one task thread each and
    `threads` numba threads (default: the machine's cores split between the workers), and
    closes it afterwards; an address
    ("tcp://host:8786") connects to a running scheduler, whose workers stay up."""
    scheduler = scheduler or LOCAL
    if scheduler == INLINE:
        if workers not in (None, 1) or threads is not None:
            raise InputError("--workers and --threads set up a local cluster; with --scheduler "
                             "none everything runs in this process (on numba's threads)")
        yield None
        return
    from dask.distributed import Client

    if scheduler == LOCAL:
        from dask.distributed import LocalCluster

        n = default_workers() if workers is None else workers
        if n < 1:
            raise InputError(f"--workers must be at least 1, got {n}")
        if threads is not None and threads < 1:
            raise InputError(f"--threads must be at least 1, got {threads}")
        threads = threads or max(1, (os.cpu_count() or 1) // n)
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR,
                               env={THREADS_ENV: str(threads)})
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()
        return
    if workers is not None or threads is not None:
        raise InputError(f"--workers and --threads start a local cluster; the cluster at "
                         f"{scheduler} has the workers it was started with (start more with "
                         f"`dask worker {scheduler}`; SNNC_WORKER_THREADS in their environment "
                         "sets their threads)")
    try:
        client = Client(scheduler, timeout=connect_timeout)
    except (OSError, TimeoutError, ValueError) as e:
        raise SnncError(f"cannot reach a Dask scheduler at {scheduler} ({e}); start one with "
                        "`dask scheduler` and workers with `dask worker ADDRESS`, or use "
                        "--scheduler local") from None
    try:
        try:
            client.wait_for_workers(1, timeout=connect_timeout)
        except (TimeoutError, OSError):
            raise SnncError(f"the Dask scheduler at {scheduler} has no workers; start one "
                            f"with `dask worker {scheduler}`") from None
        yield client
    finally:
        client.close()


def workers_of(client: Any) -> int:
    return 1 if client is None else len(client.scheduler_info(n_workers=-1)["workers"])


Task = tuple[Any, Callable[..., Any], tuple[Any, ...]]  # (key, fn, args)


def run_tasks(client: Any, tasks: Sequence[Task],
              on_done: Callable[[Any, Any], Sequence[Task] | None], what: str = "task") -> None:
    """fn(*args) for each (key, fn, args); on_done(key, result) as each finishes, which may
    return further tasks to run (a sweep evaluates a design point once it is compiled).
    Without a client everything runs here, in order. Stops at the first failure, cancelling
    what is left."""
    if client is None:
        queue = deque(tasks)
        while queue:
            key, fn, args = queue.popleft()
            queue.extend(on_done(key, fn(*args)) or [])
        return
    from dask.distributed import as_completed
    from distributed.scheduler import KilledWorker

    tag = uuid.uuid4().hex[:8]
    futures: dict[Any, Any] = {}

    def submit(batch: Sequence[Task]) -> list[Any]:
        out = []
        for key, fn, args in batch:
            fut = client.submit(fn, *args, key=f"snnc-{what}-{tag}-{len(futures)}", pure=False)
            futures[fut] = key
            out.append(fut)
        return out

    pending = as_completed(submit(tasks))
    try:
        for fut in pending:
            try:
                res = fut.result()
            except KilledWorker as e:
                raise SnncError(f"{what} {futures[fut]} was lost with every worker that ran it "
                                f"({e}); a worker ran out of memory or was killed: lower "
                                "--batch-size or give the workers more memory") from None
            except SnncError:
                raise
            except Exception as e:  # noqa: BLE001 - a worker's own failure, kept as one line
                raise SnncError(f"{what} {futures[fut]} failed on a worker "
                                f"({type(e).__name__}: {e}); rerun with --scheduler none "
                                "--debug for the traceback, and report it") from None
            pending.update(submit(on_done(futures[fut], res) or []))
    finally:
        client.cancel([f for f in futures if not f.done()])
