"""Every ONNX operator the ANN converter supports, against onnxruntime.

Each case builds a small ONNX graph with random weights, runs it in onnxruntime, and checks
(1) the ANN side: snnc's lowered form (frontends/onnx_ann.py) computes the same outputs, and
(2) the SNN side: the converted float SNN, run for many steps, reproduces those outputs from
its spike rates and integrators (frontends/ann_to_snn.py's scaling is right for that path).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from snnc import api
from snnc.compiler.errors import ModelError, UnsupportedNode
from snnc.frontends.ann_to_snn import AnnOptions, convert
from snnc.frontends.onnx_ann import lower_ann

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is a dev dependency")

RNG = np.random.default_rng(7)
SNN_STEPS = 1000


def _w(*shape: int, scale: float = 0.5) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def _model(nodes: list, inits: dict[str, np.ndarray], in_shape: tuple[int, ...],
           out: str = "y", opset: int = 17) -> onnx.ModelProto:
    g = helper.make_graph(
        nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *in_shape])],
        [helper.make_empty_tensor_value_info(out)],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m = onnx.shape_inference.infer_shapes(m)  # types the output
    onnx.checker.check_model(m)
    return m


def _ort(m: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, {"x": x})[0]


def _snn_estimate(m: onnx.ModelProto, x: np.ndarray, **opts: object) -> np.ndarray:
    """The converted SNN's estimate of the ANN output on x (float engine, direct code)."""
    ann = lower_ann(m, "t.onnx", str(opts.pop("maxpool", "error")))
    g = convert(ann, x, AnnOptions(steps=SNN_STEPS, percentile=100.0, **opts))  # type: ignore
    s = api.encode_input(g, x)
    res = api.run(g, {"x": s})
    (port, o), = g.outputs.items()
    pop = g.populations[o.source]
    out = res.outputs[port]
    if pop.model.value == "i":  # integrator: v_T ~ T * y / peak
        return out[:, -1].reshape(len(x), -1) / SNN_STEPS * g.meta["ann"]["output_peak"][port]
    return out.sum(axis=1).reshape(len(x), -1) / SNN_STEPS * g.meta["ann"]["lambda"][o.source]


def check(m: onnx.ModelProto, in_shape: tuple[int, ...], snn_tol: float | None = 0.06,
          **opts: object) -> None:
    x = RNG.random((24, *in_shape)).astype(np.float32)
    ref = _ort(m, x).reshape(len(x), -1)
    _, outs = lower_ann(m, "t.onnx", str(opts.get("maxpool", "error"))).forward(x)
    got = next(iter(outs.values()))
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    if snn_tol is not None:
        est = _snn_estimate(m, x, **opts)
        err = np.abs(est - ref).max() / np.abs(ref).max()
        assert err < snn_tol, f"SNN estimate off by {err:.3f} of the output range"


N = helper.make_node


@pytest.mark.parametrize("trans_b,alpha,beta,bias", [(1, 1.0, 1.0, True), (0, 0.5, 2.0, True),
                                                     (1, 1.0, 1.0, False)])
def test_gemm(trans_b: int, alpha: float, beta: float, bias: bool) -> None:
    w1 = _w(16, 12) if trans_b else _w(12, 16)
    ins = ["x", "w1"] + (["b1"] if bias else [])
    m = _model([N("Gemm", ins, ["h"], transB=trans_b, alpha=alpha, beta=beta),
                N("Relu", ["h"], ["r"]), N("Gemm", ["r", "w2", "b2"], ["y"], transB=1)],
               {"w1": w1, "b1": _w(16, scale=0.1), "w2": _w(5, 16), "b2": _w(5, scale=0.1)},
               (12,))
    check(m, (12,))


def test_matmul_add() -> None:
    m = _model([N("MatMul", ["x", "w1"], ["h0"]), N("Add", ["h0", "b1"], ["h"]),
                N("Relu", ["h"], ["r"]), N("MatMul", ["r", "w2"], ["y0"]),
                N("Add", ["b2", "y0"], ["y"])],
               {"w1": _w(10, 20), "b1": _w(20, scale=0.1), "w2": _w(20, 4), "b2": _w(4)},
               (10,))
    check(m, (10,))


@pytest.mark.parametrize("attrs,shape", [
    ({"pads": [1, 1, 1, 1]}, (2, 7, 7)),
    ({"strides": [2, 2]}, (2, 9, 9)),
    ({"pads": [2, 2, 2, 2], "dilations": [2, 2]}, (2, 6, 6)),
    ({"pads": [1, 1, 1, 1], "group": 2}, (4, 6, 6)),
    ({"auto_pad": "SAME_UPPER", "strides": [2, 2]}, (2, 7, 7)),
    ({"pads": [1, 1]}, (3, 10)),  # Conv1d
])
def test_conv(attrs: dict, shape: tuple[int, ...]) -> None:
    nd = len(shape) - 1
    groups = attrs.get("group", 1)
    w = _w(6, shape[0] // groups, *([3] * nd))
    m = _model([N("Conv", ["x", "w", "b"], ["h"], kernel_shape=[3] * nd, **attrs),
                N("Relu", ["h"], ["y"])], {"w": w, "b": _w(6, scale=0.1)}, shape)
    check(m, shape)


def test_flatten_reshape_constant_identity_dropout() -> None:
    shp = numpy_helper.from_array(np.array([0, -1], dtype=np.int64))
    m = _model([N("Conv", ["x", "w"], ["h"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                N("Relu", ["h"], ["r"]), N("Identity", ["r"], ["i"]),
                N("Dropout", ["i"], ["d"]), N("Constant", [], ["shp"], value=shp),
                N("Reshape", ["d", "shp"], ["f"]),
                N("Gemm", ["f", "w2"], ["g"], transB=1), N("Relu", ["g"], ["r2"]),
                N("Flatten", ["r2"], ["y0"], axis=1), N("Gemm", ["y0", "w3"], ["y"], transB=1)],
               {"w": _w(3, 2, 3, 3), "w2": _w(8, 48), "w3": _w(3, 8)}, (2, 4, 4))
    check(m, (2, 4, 4))


@pytest.mark.parametrize("attrs", [{"kernel_shape": [2, 2], "strides": [2, 2]},
                                   {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]},
                                   {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1],
                                    "count_include_pad": 1}])
def test_average_pool(attrs: dict) -> None:
    m = _model([N("Conv", ["x", "w"], ["h"], kernel_shape=[1, 1]), N("Relu", ["h"], ["r"]),
                N("AveragePool", ["r"], ["p"], **attrs), N("Flatten", ["p"], ["f"]),
                N("Gemm", ["f", "w2"], ["y"], transB=1)],
               {"w": _w(3, 2, 1, 1), "w2": _w(4, 48 if "pads" in attrs else 12)}, (2, 4, 4))
    check(m, (2, 4, 4))


def test_global_average_pool() -> None:
    m = _model([N("Conv", ["x", "w"], ["h"], kernel_shape=[3, 3]), N("Relu", ["h"], ["r"]),
                N("GlobalAveragePool", ["r"], ["p"]), N("Flatten", ["p"], ["f"]),
                N("Gemm", ["f", "w2"], ["y"], transB=1)],
               {"w": _w(4, 2, 3, 3), "w2": _w(3, 4)}, (2, 5, 5))
    check(m, (2, 5, 5))


def test_maxpool_is_refused_by_default_and_approximated_by_average_on_request() -> None:
    weights = {"w": _w(3, 2, 1, 1), "w2": _w(4, 12)}

    def net(op: str) -> onnx.ModelProto:
        return _model([N("Conv", ["x", "w"], ["h"], kernel_shape=[1, 1]),
                       N("Relu", ["h"], ["r"]),
                       N(op, ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
                       N("Flatten", ["p"], ["f"]), N("Gemm", ["f", "w2"], ["y"], transB=1)],
                      weights, (2, 4, 4))
    with pytest.raises(UnsupportedNode, match=r"MaxPool has no exact spiking equivalent.*"
                                              r"--maxpool avg"):
        lower_ann(net("MaxPool"), "m.onnx")
    # the documented approximation is exactly average pooling of the same geometry
    x = RNG.random((8, 2, 4, 4)).astype(np.float32)
    ann = lower_ann(net("MaxPool"), "m.onnx", maxpool="avg")
    np.testing.assert_allclose(next(iter(ann.forward(x)[1].values())),
                               _ort(net("AveragePool"), x), rtol=1e-4, atol=1e-4)
    assert any("MaxPool" in n for n in ann.notes)


@pytest.mark.parametrize("after", ["Conv", "Gemm"])
def test_batchnorm_is_folded(after: str) -> None:
    c = 5
    bn = {"s": RNG.random(c).astype(np.float32) + 0.5, "bb": _w(c, scale=0.2),
          "mu": _w(c, scale=0.3), "var": RNG.random(c).astype(np.float32) + 0.2}
    if after == "Conv":
        first = [N("Conv", ["x", "w"], ["h0"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
        inits, shape, tail = {"w": _w(c, 2, 3, 3)}, (2, 4, 4), [N("Flatten", ["r"], ["f"])]
        w2 = _w(3, c * 16)
    else:
        first = [N("Gemm", ["x", "w"], ["h0"], transB=1)]
        inits, shape, tail = {"w": _w(c, 6)}, (6,), [N("Identity", ["r"], ["f"])]
        w2 = _w(3, c)
    m = _model(first + [N("BatchNormalization", ["h0", "s", "bb", "mu", "var"], ["h"],
                          epsilon=1e-3), N("Relu", ["h"], ["r"])] + tail
               + [N("Gemm", ["f", "w2"], ["y"], transB=1)], {**inits, **bn, "w2": w2}, shape)
    check(m, shape)


def test_add_residual() -> None:
    m = _model([N("Conv", ["x", "w1"], ["h1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                N("Relu", ["h1"], ["r1"]),
                N("Conv", ["r1", "w2"], ["h2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                N("Add", ["h2", "r1"], ["s"]), N("Relu", ["s"], ["r2"]),
                N("Add", ["r2", "r1"], ["s2"]), N("Relu", ["s2"], ["y"])],
               {"w1": _w(3, 2, 3, 3), "w2": _w(3, 3, 3, 3, scale=0.3)}, (2, 5, 5))
    check(m, (2, 5, 5))


def test_concat_channels() -> None:
    m = _model([N("Conv", ["x", "w1"], ["a"], kernel_shape=[1, 1]), N("Relu", ["a"], ["ra"]),
                N("Conv", ["x", "w2"], ["b"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                N("Relu", ["b"], ["rb"]), N("Concat", ["ra", "rb"], ["c"], axis=1),
                N("Conv", ["c", "w3"], ["y"], kernel_shape=[3, 3])],
               {"w1": _w(2, 2, 1, 1), "w2": _w(3, 2, 3, 3), "w3": _w(2, 5, 3, 3)}, (2, 5, 5))
    check(m, (2, 5, 5))


def test_clip_is_a_rectifier_with_a_ceiling() -> None:
    m = _model([N("Gemm", ["x", "w"], ["h"], transB=1), N("Clip", ["h", "lo", "hi"], ["c"]),
                N("Gemm", ["c", "w2"], ["y"], transB=1)],
               {"w": _w(12, 6, scale=1.5), "lo": np.array(0, np.float32),
                "hi": np.array(0.8, np.float32), "w2": _w(3, 12)}, (6,))
    check(m, (6,))
    ann = lower_ann(m, "c.onnx")
    _, outs = ann.forward(RNG.random((50, 6)) * 3)
    assert ann.layers["c"].ceiling == pytest.approx(0.8)
    # the opset-6 form (attributes) too
    m6 = _model([N("MatMul", ["x", "w"], ["h"]), N("Clip", ["h"], ["y"], min=0.0, max=0.5)],
                {"w": _w(6, 4)}, (6,), opset=10)
    check(m6, (6,))


def test_clip_that_is_not_a_rectifier_is_refused() -> None:
    m = _model([N("Gemm", ["x", "w"], ["h"], transB=1), N("Clip", ["h", "lo", "hi"], ["y"])],
               {"w": _w(4, 6), "lo": np.array(-1, np.float32), "hi": np.array(1, np.float32)},
               (6,))
    with pytest.raises(ModelError, match=r"node 'y'.*Clip\(-1, 1\) is not a rectifier"):
        lower_ann(m, "c.onnx")


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_at_the_output_keeps_the_argmax(op: str) -> None:
    m = _model([N("Gemm", ["x", "w"], ["h"], transB=1), N("Relu", ["h"], ["r"]),
                N("Gemm", ["r", "w2"], ["z"], transB=1), N(op, ["z"], ["y"], axis=1)],
               {"w": _w(8, 6), "w2": _w(4, 8)}, (6,))
    x = RNG.random((40, 6)).astype(np.float32)
    ann = lower_ann(m, "s.onnx")
    got = next(iter(ann.forward(x)[1].values()))
    np.testing.assert_array_equal(got.argmax(1), _ort(m, x).argmax(1))
    assert any(op in n for n in ann.notes)


def test_every_unsupported_operator_is_listed_in_one_error() -> None:
    m = _model([N("Gemm", ["x", "w"], ["h"], transB=1, name="fc1"),
                N("Sigmoid", ["h"], ["s"], name="act1"), N("Tanh", ["s"], ["t"], name="act2"),
                N("Gemm", ["t", "w2"], ["y"], transB=1, name="fc2")],
               {"w": _w(8, 6), "w2": _w(4, 8)}, (6,))
    with pytest.raises(UnsupportedNode) as e:
        lower_ann(m, "bad.onnx")
    msg = str(e.value)
    assert "2 unsupported operator(s)" in msg
    assert "Sigmoid (node 'act1')" in msg and "Tanh (node 'act2')" in msg
    assert msg.startswith("bad.onnx:") and "supported: Gemm" in msg
