"""A fuzz worker process: runs `snnc` commands in-process, one per request, under a memory
limit and a per-command alarm. Requests and replies are JSON lines on a private pipe (the
process's own stdout and stderr go to /dev/null, so nothing a library prints can garble them).

    request  {"argv": [...], "cwd": "...", "timeout": seconds}
    reply    {"rc": int, "out": str, "err": str, "sec": float}
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import signal
import sys
import time

MEMORY_LIMIT = 6 << 30  # address space; snnc's own budget (SNNC_MEMORY_BUDGET) is far below


class Hang(BaseException):
    """Raised by the alarm: the command ran past its time (a BaseException, so that snnc's
    own `except Exception` cannot swallow it)."""


def _alarm(signum: int, frame: object) -> None:
    raise Hang()


def main() -> int:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    requests = os.fdopen(os.dup(0), "r")
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    signal.signal(signal.SIGALRM, _alarm)
    from snnc.cli import main as snnc

    for line in requests:
        req = json.loads(line)
        out, err = io.StringIO(), io.StringIO()
        t0 = time.perf_counter()
        os.chdir(req["cwd"])
        signal.alarm(int(req.get("timeout", 30)))
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                rc = snnc(req["argv"])
        except Hang:
            rc = -9
            err.write("\nHANG: the command ran past its time limit\n")
        except SystemExit as e:  # argparse: usage errors exit 2
            rc = e.code if isinstance(e.code, int) else 1
        except BaseException as e:  # noqa: BLE001 - anything escaping main() is a finding
            rc = -1
            err.write(f"\nESCAPED: {type(e).__name__}: {e}\n")
        finally:
            signal.alarm(0)
        proto.write(json.dumps({"rc": rc, "out": out.getvalue()[-2000:],
                                "err": err.getvalue()[-4000:],
                                "sec": time.perf_counter() - t0}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
