"""Text and NIR round trips on random graphs (hypothesis)."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snnc.backends.nir_export import write_nir
from snnc.compiler.ir import graph_diff
from snnc.compiler.verify import validate
from snnc.frontends.nir import load_nir
from snnc.frontends.text import load_text, parse_ir, print_ir, write_text
from snnc.runtime.float_engine import FloatEngine

from tests.strategies import graphs

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(g=graphs())
def test_text_roundtrip_is_exact(g):
    validate(g)
    back = parse_ir(print_ir(g))
    assert back == g, graph_diff(g, back)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(g=graphs())
def test_text_file_with_external_arrays_roundtrips(g):
    from snnc.frontends import text

    with tempfile.TemporaryDirectory() as d:
        path = str(Path(d) / "m.snn")
        old = text.INLINE_LIMIT
        text.INLINE_LIMIT = 3  # force the .npz path even for tiny arrays
        try:
            write_text(g, path)
        finally:
            text.INLINE_LIMIT = old
        back = load_text(path)
    assert back == g, graph_diff(g, back)


def _export_import(g, d: str, tag: str):
    path = str(Path(d) / f"{tag}.nir")
    write_nir(g, path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_nir(path)


@settings(max_examples=int(os.environ.get("SNNC_EXAMPLES", "100")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow],
          report_multiple_bugs=False)
@given(g0=graphs(exportable=True, max_delay=3), seed=st.integers(0, 2**16))
def test_nir_roundtrip_is_a_fixed_point_and_preserves_behaviour(g0, seed):
    """IR -> NIR -> IR (g1) -> NIR -> IR (g2): g1 == g2 exactly; g0 and g1 simulate alike."""
    with tempfile.TemporaryDirectory() as d:
        g1 = _export_import(g0, d, "a")
        g2 = _export_import(g1, d, "b")
    assert g1 == g2, graph_diff(g1, g2)
    rng = np.random.default_rng(seed)
    (name, port), = g0.inputs.items()
    x = (rng.random((2, 12, *port.shape)) < 0.4).astype(np.float64)
    r0 = FloatEngine(g0).run({name: x})
    r1 = FloatEngine(g1).run({name: x})
    for k in r0.outputs:
        np.testing.assert_allclose(r1.outputs[k], r0.outputs[k], rtol=1e-9, atol=1e-9)
