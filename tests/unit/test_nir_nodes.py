"""Every NIR 1.0.8 node type lowers correctly: each small graph is simulated by the float engine
and compared with an independent reference (torch ops or a hand-written Euler loop)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import nir
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from snnc.compiler.ir import Conn, NeuronModel, ResetMode
from snnc.frontends.nir import load_nir
from snnc.runtime.float_engine import FloatEngine

DT = 1e-3


def _roundtrip(nodes: dict, edges: list, **kw):
    """Write and read a graph; node semantics are checked on the chip's timing (one step per
    projection, biases from step 0); trained timing is tests/unit/test_timing.py."""
    kw.setdefault("timing", "hardware")
    g = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    with tempfile.TemporaryDirectory() as d:
        p = str(Path(d) / "g.nir")
        nir.write(p, g)
        return load_nir(p, dt=kw.pop("dt", DT), **kw)


def _inp(shape):
    return nir.Input(input_type={"input": np.array(shape)})


def _out(shape):
    return nir.Output(output_type={"output": np.array(shape)})


def _probe(graph, x):
    """Run and return the integrator probe's v: the running sum of the layer's input."""
    (name,) = graph.inputs
    out = FloatEngine(graph).run({name: x[None]}).outputs
    return next(iter(out.values()))[0]


def _linear_case(layer, in_shape, out_n, x, ref_fn):
    """input -> layer -> I probe: probe v[t] = sum_{k<t} layer(x[k]) (1-step latency)."""
    g = _roundtrip({"in": _inp(in_shape), "L": layer, "P": nir.I(r=np.full(out_n, 1 / DT)),
                    "out": _out((out_n,))}, [("in", "L"), ("L", "P"), ("P", "out")])
    got = _probe(g, x).reshape(x.shape[0], -1)
    ref = np.cumsum(np.stack([ref_fn(x[t]).reshape(-1) for t in range(len(x))]), 0)
    np.testing.assert_allclose(got[1:], ref[:-1], rtol=1e-9, atol=1e-9)
    return g


def test_affine_bias_becomes_neuron_bias_for_integrators(rng):
    w, b = rng.normal(size=(4, 5)), rng.normal(size=4)
    x = (rng.random((6, 5)) < 0.5).astype(float)
    g = _roundtrip({"in": _inp((5,)), "L": nir.Affine(weight=w, bias=b),
                    "P": nir.I(r=np.full(4, 1 / DT)), "out": _out((4,))},
                   [("in", "L"), ("L", "P"), ("P", "out")])
    np.testing.assert_allclose(g.populations["P"].bias, b)
    got = _probe(g, x)
    # bias present from step 0; weights from step 1 (one step of projection latency)
    ref = np.cumsum(np.vstack([np.zeros(4), x[:-1] @ w.T]) + b, 0)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9)


def test_linear(rng):
    w = rng.normal(size=(3, 7))
    _linear_case(nir.Linear(weight=w), (7,), 3, rng.normal(size=(5, 7)), lambda v: w @ v)


def test_scale(rng):
    s = rng.normal(size=6)
    _linear_case(nir.Scale(scale=s), (6,), 6, rng.normal(size=(5, 6)), lambda v: s * v)


def test_conv1d_against_torch(rng):
    w = rng.normal(size=(4, 2, 3))
    node = nir.Conv1d(input_shape=9, weight=w, stride=2, padding=1, dilation=1, groups=1,
                      bias=np.zeros(4))
    ref = lambda v: F.conv1d(torch.tensor(v)[None], torch.tensor(w), stride=2,
                             padding=1)[0].numpy()
    out_n = ref(np.zeros((2, 9))).size
    g = _linear_case(node, (2, 9), out_n, rng.normal(size=(4, 2, 9)), ref)
    assert next(iter(g.projections.values())).kind is Conn.CONV


@pytest.mark.parametrize("groups,dil", [(1, 1), (2, 2)])
def test_conv2d_against_torch(rng, groups, dil):
    w = rng.normal(size=(4, 4 // groups, 3, 3))
    node = nir.Conv2d(input_shape=(7, 6), weight=w, stride=(1, 2), padding=(1, 0),
                      dilation=dil, groups=groups, bias=np.zeros(4))
    ref = lambda v: F.conv2d(torch.tensor(v)[None], torch.tensor(w), stride=(1, 2),
                             padding=(1, 0), dilation=dil, groups=groups)[0].numpy()
    out_n = ref(np.zeros((4, 7, 6))).size
    _linear_case(node, (4, 7, 6), out_n, rng.normal(size=(3, 4, 7, 6)), ref)


def test_sumpool_and_avgpool_against_torch(rng):
    x = rng.normal(size=(3, 2, 6, 6))
    sp = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                       padding=np.array([0, 0]))
    _linear_case(sp, (2, 6, 6), 18, x, lambda v: 4 * F.avg_pool2d(torch.tensor(v)[None], 2)[0]
                 .numpy())
    ap = nir.AvgPool2d(kernel_size=np.array([3, 3]), stride=np.array([1, 1]),
                       padding=np.array([1, 1]))
    _linear_case(ap, (2, 6, 6), 72, x, lambda v: F.avg_pool2d(
        torch.tensor(v)[None], 3, stride=1, padding=1, count_include_pad=True)[0].numpy())


def test_flatten_then_affine_composes_exactly(rng):
    w = rng.normal(size=(5, 24))
    g = _roundtrip({"in": _inp((2, 3, 4)), "f": nir.Flatten(input_type={"input": np.array(
        [2, 3, 4])}, start_dim=0, end_dim=-1), "L": nir.Linear(weight=w),
        "P": nir.I(r=np.full(5, 1 / DT)), "out": _out((5,))},
        [("in", "f"), ("f", "L"), ("L", "P"), ("P", "out")])
    x = rng.normal(size=(4, 2, 3, 4))
    got = _probe(g, x)
    ref = np.cumsum(x.reshape(4, -1) @ w.T, 0)
    np.testing.assert_allclose(got[1:], ref[:-1], rtol=1e-9)


def test_delay_node_delays_by_whole_steps(rng):
    d_steps = np.array([0, 2, 5])
    g = _roundtrip({"in": _inp((3,)), "D": nir.Delay(delay=d_steps * DT),
                    "L": nir.Linear(weight=np.eye(3)), "P": nir.I(r=np.full(3, 1 / DT)),
                    "out": _out((3,))}, [("in", "D"), ("D", "L"), ("L", "P"), ("P", "out")])
    x = np.zeros((10, 3))
    x[0] = 1
    got = _probe(g, x)
    for i, d in enumerate(d_steps):  # a spike at t=0 arrives at t = 1 + d
        assert got[:, i].tolist() == [0.0] * (1 + d) + [1.0] * (10 - 1 - d)


def _euler_neuron(kind, params, a, steps):
    """Independent forward-Euler loop of NIR's equations (with immediate reset)."""
    n = a.shape[1]
    v, i = np.zeros(n), np.zeros(n)
    vs, ss = [], []
    for t in range(steps):
        inp = a[t]
        if kind in ("CubaLIF", "CubaLI"):
            i = i + DT / params["tau_syn"] * (-i + params["w_in"] * inp)
            v = v + DT / params["tau_mem"] * (params["v_leak"] - v + params["r"] * i)
        elif kind in ("LIF", "LI"):
            v = v + DT / params["tau"] * (params["v_leak"] - v + params["r"] * inp)
        elif kind in ("IF", "I"):
            v = v + DT * params["r"] * inp
        elif kind == "Threshold":
            v = inp.copy()
        s = np.zeros(n)
        if kind in ("CubaLIF", "LIF", "IF"):
            s = (v > params["v_threshold"]).astype(float)
            v = np.where(s > 0, params["v_reset"], v)
        elif kind == "Threshold":
            s = (v > params["threshold"]).astype(float)
        vs.append(v.copy())
        ss.append(s)
    return np.array(vs), np.array(ss)


NEURON_CASES = {
    "LIF": dict(tau=np.array([5e-3, 2e-2, 1e-2]), r=np.array([1.0, 2.0, 0.5]),
                v_leak=np.array([0.0, 0.1, -0.2]), v_threshold=np.array([0.05, 0.1, 0.02]),
                v_reset=np.array([0.0, -0.1, 0.0])),
    "CubaLIF": dict(tau_syn=np.array([2e-3, 5e-3, 1e-3]), tau_mem=np.array([5e-3, 2e-2, 1e-2]),
                    r=np.array([1.0, 2.0, 3.0]), v_leak=np.array([0.0, 0.05, 0.0]),
                    v_threshold=np.array([0.01, 0.02, 0.03]), v_reset=np.zeros(3),
                    w_in=np.array([1.0, 0.5, 2.0])),
    "IF": dict(r=np.array([1.0, 2.0, 0.5]), v_threshold=np.array([0.002, 0.003, 0.001]),
               v_reset=np.zeros(3)),
    "LI": dict(tau=np.array([5e-3, 2e-2, 1e-2]), r=np.array([1.0, 2.0, 0.5]),
               v_leak=np.array([0.0, 0.1, -0.2])),
    "CubaLI": dict(tau_syn=np.array([2e-3, 5e-3, 1e-3]), tau_mem=np.array([5e-3, 2e-2, 1e-2]),
                   r=np.array([1.0, 2.0, 3.0]), v_leak=np.zeros(3), w_in=np.ones(3)),
    "I": dict(r=np.array([1.0, 2.0, 0.5])),
    "Threshold": dict(threshold=np.array([0.5, 0.0, -0.3])),
}


@pytest.mark.parametrize("kind", sorted(NEURON_CASES))
def test_neuron_nodes_match_euler_reference(rng, kind):
    params = NEURON_CASES[kind]
    node = getattr(nir, kind)(**params)
    # probe pattern: input -> Linear(identity) -> neuron -> output
    g = _roundtrip({"in": _inp((3,)), "L": nir.Linear(weight=np.eye(3)), "N": node,
                    "out": _out((3,))}, [("in", "L"), ("L", "N"), ("N", "out")])
    x = rng.normal(size=(30, 3))
    res = FloatEngine(g).run({"in": x[None]}, trace=True)
    a = np.vstack([np.zeros(3), x[:-1]])  # what the neuron receives (1-step latency)
    vs, ss = _euler_neuron(kind, params, a, 30)
    np.testing.assert_allclose(res.traces["v:N"][0], vs, rtol=1e-9, atol=1e-12)
    if kind in ("LIF", "CubaLIF", "IF", "Threshold"):
        np.testing.assert_array_equal(res.traces["s:N"][0], ss)
        assert ss.sum() > 0, "test input should make the neurons spike"


def test_nested_subgraph_is_flattened(rng):
    w1, w2 = rng.normal(size=(4, 3)), rng.normal(size=(2, 4))
    sub = nir.NIRGraph(nodes={"si": _inp((3,)), "fc": nir.Linear(weight=w1),
                              "lif": nir.IF(r=np.ones(4), v_threshold=np.full(4, 1e-3)),
                              "so": _out((4,))},
                       edges=[("si", "fc"), ("fc", "lif"), ("lif", "so")], type_check=False)
    g = _roundtrip({"in": _inp((3,)), "block": sub, "fc2": nir.Linear(weight=w2),
                    "out_if": nir.IF(r=np.ones(2), v_threshold=np.full(2, 1e-3)),
                    "out": _out((2,))},
                   [("in", "block"), ("block", "fc2"), ("fc2", "out_if"), ("out_if", "out")])
    assert set(g.populations) == {"block.lif", "out_if"}
    assert {(p.src, p.dst) for p in g.projections.values()} == {
        ("in", "block.lif"), ("block.lif", "out_if")}


def test_reset_option_subtract(rng):
    params = NEURON_CASES["IF"]
    g = _roundtrip({"in": _inp((3,)), "L": nir.Linear(weight=np.eye(3)), "N": nir.IF(**params),
                    "out": _out((3,))}, [("in", "L"), ("L", "N"), ("N", "out")],
                   reset=ResetMode.SUBTRACT)
    assert g.populations["N"].reset is ResetMode.SUBTRACT
    assert g.populations["N"].model is NeuronModel.IF
