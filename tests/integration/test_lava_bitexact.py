"""The fixed-point engine equals Lava 0.10.0 (Loihi2SimCfg fixed_pt) bit for bit: u, v and
spikes of every neuron at every step, on random networks and on the real models."""

from __future__ import annotations

import os
import subprocess
import sys

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snnc import api
from snnc.backends import lava, lava_network
from snnc.compiler.ir import Graph
from snnc.runtime.fixed_engine import FixedEngine

from tests.conftest import ROOT, assert_same_traces, shared_file
from tests.fixed_strategies import loihi_networks, spike_inputs

pytestmark = pytest.mark.skipif(not lava_network.have_lava(),
                                reason="lava-nc is not installed (make setup installs it)")
N_RANDOM = int(os.environ.get("SNNC_LAVA_EXAMPLES", "200"))


def assert_same(fixed: dict[str, np.ndarray], lv: dict[str, np.ndarray]) -> None:
    assert_same_traces(fixed, lv, "lava")


def run_both(g, inputs, steps):  # type: ignore[no-untyped-def]
    fx = FixedEngine(g).run(inputs, steps=steps, trace=True).traces
    lv = lava.run_lava(lava.describe(g), inputs, steps)
    return fx, lv


@settings(max_examples=N_RANDOM, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_networks_bit_exact(data: st.DataObject) -> None:
    g = data.draw(loihi_networks())
    steps = data.draw(st.integers(1, 30))
    x = data.draw(spike_inputs(g, steps))
    assert_same(*run_both(g, x, steps + data.draw(st.integers(0, 5))))


@settings(max_examples=max(N_RANDOM // 20, 3), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_per_neuron_thresholds_split_into_lif_groups(data: st.DataObject) -> None:
    """Neurons of one population with different vth become several Lava LIFs, still exact."""
    g = data.draw(loihi_networks(per_neuron=True))
    # a source split over several LIFs needs weight_exp >= 0 (the backend refuses otherwise)
    g = Graph(populations=g.populations, inputs=g.inputs, outputs=g.outputs, meta=g.meta,
              projections={k: replace(p, weight_exp=abs(p.weight_exp))
                           for k, p in g.projections.items()})
    x = data.draw(spike_inputs(g, 12))
    assert_same(*run_both(g, x, 14))


REAL = [("digits", None), ("braille_noDelay_bias_zero", "nir/braille_noDelay_bias_zero.nir"),
        ("braille_noDelay_noBias_subtract", "nir/braille_noDelay_noBias_subtract.nir"),
        ("cnn_sinabs", "nir/cnn_sinabs.nir"), ("mnist_dense_cuba", "netx/mnist_dense_cuba.net"),
        ("tiny_conv_loihi", "netx/tiny_conv_loihi.net")]


@pytest.mark.parametrize("name,rel", REAL, ids=[r[0] for r in REAL])
def test_real_models_compile_and_run_bit_exact(name: str, rel: str | None, rng) -> None:  # type: ignore[no-untyped-def]
    path = str(ROOT / "snnc" / "models" / "digits.nir") if rel is None else str(shared_file(rel))
    g = api.compile(api.load(path), "loihi2", until="fixed").fixed
    (port, p), = g.inputs.items()
    steps = 12 if name == "cnn_sinabs" else 25
    batch = 1 if name == "cnn_sinabs" else 2
    x = {port: (rng.random((batch, steps - 4, *p.shape)) < 0.3).astype(np.int64)}
    fx, lv = run_both(g, x, steps)
    assert_same(fx, lv)
    assert sum(int(v.sum()) for k, v in fx.items() if k.startswith("s:")) > 0, "no spikes at all"


def test_generated_network_py_matches_in_process(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    """lava/network.py, run as a script in a fresh interpreter, gives the in-process spikes."""
    art = tmp_path / "art"
    c = api.compile(api.load(str(ROOT / "snnc" / "models" / "digits.nir")), "loihi2")
    api.write_compiled(c, str(art), "digits.nir")
    g = c.fixed
    x = (rng.random((2, 10, 64)) < 0.4).astype(np.int64)
    np.save(tmp_path / "x.npy", x)
    subprocess.run([sys.executable, str(art / "lava" / "network.py"), "--input",
                    str(tmp_path / "x.npy"), "--steps", "14", "-o", str(tmp_path / "out.npz")],
                   check=True, cwd=tmp_path, capture_output=True)
    script = np.load(tmp_path / "out.npz")
    res = api.run_compiled(g, {"input": x}, steps=14, engine="lava", artifact=str(art))
    np.testing.assert_array_equal(script["output"], res.outputs["output"])
    assert script["output"].sum() > 0
    fixed = api.run_compiled(g, {"input": x}, steps=14, engine="fixed")
    np.testing.assert_array_equal(fixed.outputs["output"], res.outputs["output"])


def test_delays_beyond_62_run_through_relays_in_lava(rng) -> None:  # type: ignore[no-untyped-def]
    """A delay of 70 on loihi2 is lowered to 8 relay levels; Lava and the fixed engine agree,
    and the spike lands 71 steps after it was sent."""
    from snnc.compiler.ir import Conn, NeuronModel, Population, Port, Projection

    p = Population.make("h", (2,), NeuronModel.LIF, dv=0.0, v_th=0.5)
    w = Projection(name="w", src="in", dst="h", kind=Conn.DENSE, weight=np.eye(2),
                   delay=np.array([[70, 0], [0, 3]]))
    g = Graph.build([p], [w], [Port(name="in", shape=(2,))],
                    [Port(name="out", shape=(2,), source="h")])
    fixed = api.compile(g, "loihi2", until="fixed").fixed
    assert fixed.meta["lower_delays"]["chains"] == {"in": 8}
    x = {"in": np.zeros((1, 80, 2), dtype=np.int64)}
    x["in"][0, 0, :] = 1
    got, lv = run_both(fixed, x, 80)
    assert_same(got, lv)
    assert np.flatnonzero(got["s:h"][0, :, 0]).tolist() == [71]
