"""Conformance with the training frameworks: for every model of tests/conformance/zoo.py, the
framework's own forward pass and snnc's float engine, on the same random input spikes, give
every output spike identical after the documented latency shift (docs/timing.md)."""

from __future__ import annotations

import numpy as np
import pytest
import snnc

from tests.conformance.zoo import all_cases, shift

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_float_engine_equals_the_framework(case) -> None:  # type: ignore[no-untyped-def]
    graph, x, want = case.build()
    assert want.sum() > 0, f"{case.name}: the framework's model is silent; the case tests nothing"
    (port,) = graph.inputs
    res = snnc.run(graph, {port: x})
    (out,) = res.outputs.values()
    lat = snnc.api.latency(graph)
    got = shift(out, lat, x.shape[1]).reshape(want.shape)
    bad = np.argwhere(got != want)
    assert not bad.size, (f"{case.name}: {len(bad)} of {want.size} output entries differ; "
                          f"first at sample {bad[0][0]}, step {bad[0][1]}: snnc "
                          f"{got[tuple(bad[0])]} vs framework {want[tuple(bad[0])]}")
