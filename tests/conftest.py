"""Shared fixtures: the ../shared/data models (skipped with a reason when absent), seeded rng."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from hypothesis import settings as _hsettings

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
NIR_FILES = ["braille_noDelay_bias_zero", "braille_noDelay_noBias_subtract", "cnn_sinabs"]
NETX_FILES = ["mnist_dense_cuba", "tiny_conv_loihi"]


def write_netx(path: Path, layers: list[dict]) -> Path:  # type: ignore[type-arg]
    """A netx HDF5 file of the given layers (each a dict of datasets, 'neuron' a group)."""
    import h5py

    with h5py.File(path, "w") as f:
        for i, layer in enumerate(layers):
            g = f.create_group(f"layer/{i}")
            for k, v in layer.items():
                if k == "neuron":
                    for nk, nv in v.items():
                        g[f"neuron/{nk}"] = nv
                else:
                    g[k] = v
    return path


def shared_file(rel: str) -> Path:
    """A file of ../shared/data, or skip the test saying why."""
    p = SHARED / rel
    if not p.exists():
        pytest.skip(f"{p} is absent: the real trained models live in ../shared/data beside "
                    "the checkout (not copied into the repository)")
    return p


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _quiet_repairs():
    from snnc.frontends.projections import RepairWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RepairWarning)
        yield


# CI runs are reproducible (a fixed example sequence); local runs explore new examples.
_hsettings.register_profile("ci", derandomize=True, print_blob=True)
_hsettings.register_profile("dev", print_blob=True)
_hsettings.load_profile("ci" if os.environ.get("CI") else "dev")


def assert_same_traces(want: dict[str, np.ndarray], got: dict[str, np.ndarray],
                       other: str) -> None:
    """Every trace equal; a failure names the trace, sample, step and neuron."""
    assert sorted(want) == sorted(got), (sorted(want), sorted(got))
    for k in sorted(want):
        a, b = want[k], got[k]
        if not np.array_equal(a, b):
            bi, t, n = np.argwhere(a != b)[0]
            pytest.fail(f"{k}: first difference at sample {bi}, step {t}, neuron {n}: "
                        f"fixed {a[bi, t, n]} vs {other} {b[bi, t, n]}")
