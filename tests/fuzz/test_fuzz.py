"""The CI share of the fuzz campaign (issue 15): at least 1,000 generated cases over the eight
surfaces, each run as a real `snnc` command in a worker process, with 0 tracebacks, 0 hangs,
0 writes outside the command's output and 0 modified inputs. The long run is
`python benchmarks/fuzz.py --cases 20000`."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.fuzz import corpus
from tests.fuzz.cases import STRATEGIES, SURFACES
from tests.fuzz.harness import Outcome, Pool, describe

BATCH = 25  # cases per hypothesis example, run in parallel on the pool
EXAMPLES = 5  # examples per surface: 8 x 5 x 25 = 1,000 cases
TALLY: dict[str, dict[str, int]] = {}


@pytest.fixture(scope="module")
def pool(tmp_path_factory):  # type: ignore[no-untyped-def]
    p = Pool(corpus.build(tmp_path_factory.mktemp("seeds")), n=2)
    yield p
    p.close()


def _check(results: list[Outcome], surface: str) -> None:
    t = TALLY.setdefault(surface, {"ok": 0, "refused": 0, "FAIL": 0, "skipped": 0})
    for r in results:
        t["skipped" if r.err.startswith("skipped:") else r.kind] += 1
    bad = [describe(r) for r in results if r.problems]
    assert not bad, f"{len(bad)} of {len(results)} {surface} cases failed:\n" + "\n".join(bad)


@pytest.mark.parametrize("surface", SURFACES)
def test_fuzz_surface(pool, surface) -> None:  # type: ignore[no-untyped-def]
    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(st.lists(STRATEGIES[surface](), min_size=BATCH, max_size=BATCH))
    def run(batch):  # type: ignore[no-untyped-def]
        _check(pool.run(batch), surface)
    run()
    t = TALLY[surface]
    assert t["ok"] + t["refused"] + t["FAIL"] >= EXAMPLES * BATCH * 0.9, t  # few skipped


def test_the_ci_share_ran_at_least_a_thousand_cases() -> None:
    if len(TALLY) < len(SURFACES):
        pytest.skip("runs after the eight surfaces (select the whole module)")
    ran = sum(t["ok"] + t["refused"] + t["FAIL"] for t in TALLY.values())
    assert ran >= 1000 * 0.9, TALLY
    print("fuzz tally:", TALLY)
