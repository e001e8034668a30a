"""Quantization fidelity on the shipped digits model: loihi2 8-bit keeps the float accuracy
(drop <= 0.5 points); 4-bit is measured and must not regress past its documented figure.
The full table (2-bit, ternary, calibration, braille, cnn_sinabs) is benchmarks/fidelity.py."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from fidelity import digits_accuracy  # noqa: E402


def test_digits_8bit_loihi2_keeps_float_accuracy() -> None:
    float_acc, fixed_acc = digits_accuracy("8", per_channel=False, calibrate=False)
    assert float_acc == pytest.approx(0.98667, abs=1e-4)  # examples/digits/RESULTS.json
    assert float_acc - fixed_acc <= 0.005, (float_acc, fixed_acc)


def test_digits_4bit_per_channel_within_documented_drop() -> None:
    float_acc, fixed_acc = digits_accuracy("4", per_channel=True, calibrate=False)
    assert float_acc - fixed_acc <= 0.015, (float_acc, fixed_acc)  # measured 0.89 pp
