"""Repairs are reported as warnings; netx delays (per layer, per synapse) arrive on time."""

from __future__ import annotations

import warnings

import h5py
import nir
import numpy as np
import pytest
from snnc.frontends.projections import RepairWarning
from snnc.runtime.float_engine import FloatEngine

from snnc import api


def _load_warnings(path, **kw):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        g = api.load(str(path), **kw)
    return g, [str(x.message) for x in w if issubclass(x.category, RepairWarning)]


def test_sloppy_nir_is_repaired_and_every_repair_reported(tmp_path):
    g = nir.NIRGraph(nodes={
        "in": nir.Input(input_type={"input": np.array([2, 2])}),
        "fc": nir.Linear(weight=np.ones((3, 4))),          # fed a 2x2 input: flattened
        "n": nir.IF(r=np.array([1.0]), v_threshold=np.array([1.0])),  # one value for 3
        "out": nir.Output(output_type={"output": np.array([99])})}, # wrong output_type
        edges=[("in", "fc"), ("fc", "n"), ("n", "out")], type_check=False)
    g.nodes["fc"].input_type = {"input": np.array([7])}    # mismatched input_type
    nir.write(str(tmp_path / "s.nir"), g)
    ir, msgs = _load_warnings(tmp_path / "s.nir", dt=1.0)
    assert ir.populations["n"].shape == (3,)
    joined = "\n".join(msgs)
    for needle in ("flattened", "broadcast", "output_type (99,)", "input_type (4,) does not match"):
        assert needle in joined, (needle, msgs)
    assert all("s.nir" in m for m in msgs)


def _netx(path, delay):
    with h5py.File(path, "w") as f:
        g = f.create_group("layer/0")
        g["type"] = np.array([b"dense"])
        g["shape"] = np.array([2])
        g["inFeatures"] = 2
        g["weight"] = np.eye(2) * 100
        g["delay"] = delay
        n = g.create_group("neuron")
        for k, v in {"type": "CUBA", "iDecay": 4096, "vDecay": 4096, "vThMant": 10,
                     "refDelay": 1}.items():
            n[k] = v
    return path


@pytest.mark.parametrize("delay,expect", [(np.array([3]), [4, 4]),
                                          (np.array([[1, 0], [0, 5]]), [2, 6])])
def test_netx_delays(tmp_path, delay, expect):
    g = api.load(str(_netx(tmp_path / "d.net", delay)))
    x = np.zeros((1, 10, 2))
    x[0, 0] = 1  # both inputs spike at t=0; synapse delay d -> arrives at 1 + d
    s = FloatEngine(g).run({"input": x}).outputs["output"][0]
    assert [int(np.flatnonzero(s[:, i])[0]) for i in range(2)] == expect
