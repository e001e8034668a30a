"""The long fuzz run of issue 15: N cases (default 20,000) over the eight surfaces of
tests/fuzz, drawn by hypothesis with a fresh random seed (the CI share in tests/fuzz is
derandomized), each a real `snnc` command in a worker process. Prints, per surface, how many
cases ended well (ok / refused with one error line) and how many failed (traceback, hang,
write outside the command's output, modified input), then every distinct failure.

    python benchmarks/fuzz.py [--cases 20000] [--workers 2] [--seed N] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.fuzz import corpus  # noqa: E402
from tests.fuzz.cases import STRATEGIES, SURFACES  # noqa: E402
from tests.fuzz.harness import Pool, describe  # noqa: E402

BATCH = 25


def run_surface(pool: Pool, surface: str, examples: int, seed_: int | None
                ) -> tuple[Counter[str], list[str]]:
    """examples x BATCH cases of one surface: the tally and the failing cases."""
    t: Counter[str] = Counter()
    failures: list[str] = []

    @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.lists(STRATEGIES[surface](), min_size=BATCH, max_size=BATCH))
    def run(batch):  # type: ignore[no-untyped-def]
        for r in pool.run(batch):
            t["skipped" if r.err.startswith("skipped:") else r.kind] += 1
            for p in r.problems:
                t[p.split(":")[0]] += 1
            if r.problems:
                failures.append(describe(r))
    (seed(seed_)(run) if seed_ is not None else run)()
    return t, failures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: random)")
    ap.add_argument("--json", default=None, help="write the tally and failures here")
    a = ap.parse_args()
    seeds = corpus.build(Path(tempfile.mkdtemp(prefix="snnc-fuzz-seeds-")))
    pool = Pool(seeds, a.workers)
    per = max(a.cases // (len(SURFACES) * BATCH), 1)
    tally: dict[str, Counter[str]] = {}
    failures: list[str] = []
    t0 = time.time()
    try:
        for surface in SURFACES:
            t, fails = run_surface(pool, surface, per, a.seed)
            tally[surface] = t
            failures += fails
            done = sum(v for k, v in t.items() if k in ("ok", "refused", "FAIL"))
            print(f"{surface:9s} {done:6d} cases  ok {t['ok']:5d}  refused {t['refused']:5d}  "
                  f"FAIL {t['FAIL']:3d}  ({time.time() - t0:.0f} s)", flush=True)
    finally:
        pool.close()
    total = Counter()
    for t in tally.values():
        total.update(t)
    ran = total["ok"] + total["refused"] + total["FAIL"]
    print(f"total {ran} cases in {time.time() - t0:.0f} s: ok {total['ok']}, refused "
          f"{total['refused']}, failed {total['FAIL']} (tracebacks {total['traceback']}, hangs "
          f"{total['hang']}, writes outside "
          f"{total['wrote outside'] + total['wrote beside the case']}, modified inputs "
          f"{total['changed an input']}); {total['skipped']} mutations the "
          "mutator could not write")
    for f in dict.fromkeys(failures):
        print(f)
    if a.json:
        Path(a.json).write_text(json.dumps({"cases": ran, "seconds": time.time() - t0,
                                            "tally": {k: dict(v) for k, v in tally.items()},
                                            "failures": failures}, indent=2))
    return 1 if total["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
