"""examples/snntorch_digits: a model trained in snnTorch (biases, the default delayed
subtraction) runs in snnc's float engine with snnTorch's accuracy to the digit (every output
spike count equal), and on loihi2 and tianjic at 8 bits within one point."""

from __future__ import annotations

import json
import sys

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "examples" / "snntorch_digits"))
import evaluate  # noqa: E402


def test_snntorch_digits_from_training_to_both_chips(tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = evaluate.evaluate(tmp_path)  # compiles artifacts and runs them on refsim
    trained = json.loads((ROOT / "examples" / "snntorch_digits" / "RESULTS.json").read_text())
    assert r["snntorch_accuracy"] == trained["snntorch_test_accuracy"]
    assert r["float_counts_equal_snntorch"]
    assert r["snnc_float_accuracy"] == r["snntorch_accuracy"]
    for t in ("loihi2", "tianjic"):
        assert abs(r[f"{t}_accuracy"] - r["snntorch_accuracy"]) <= 0.01, (t, r)
