"""Spiking ONNX (ai.snnc domain): IR -> ONNX -> IR is exact on random graphs, float and fixed,
and every written model passes onnx.checker."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from snnc import api
from snnc.backends.onnx_spiking import to_onnx
from snnc.cli import main
from snnc.compiler.errors import IRError, ModelError
from snnc.compiler.ir import graph_diff
from snnc.frontends.onnx_spiking import from_onnx

from tests.fixed_strategies import loihi_networks
from tests.strategies import graphs

DIGITS = str(api.__file__).replace("api.py", "models/digits.nir")


def onnx_names(g) -> list[str]:  # type: ignore[no-untyped-def]
    """Every value name the format gives a graph (backends/onnx_spiking.py's docstring)."""
    params = ("du", "dv", "v_th", "v_reset", "bias", "i_bias")
    return [*g.inputs, *g.outputs,
            *(f"{k}.{f}" for k in g.populations for f in ("s", "s_next", *params)),
            *(f"{k}.{f}" for k, p in g.projections.items()
              for f in ("out", "weight", "delay", *(("indptr", "indices")
                                                     if p.kind.value == "sparse" else ())))]


def roundtrip(g):  # type: ignore[no-untyped-def]
    names = onnx_names(g)
    if len(set(names)) < len(names):  # ONNX cannot name two values alike: refused, naming it
        twice = {n for n in names if names.count(n) > 1}
        with pytest.raises(IRError, match="would name two values") as e:
            to_onnx(g)
        assert any(f"'{n}'" in str(e.value) for n in twice)
        return
    model = to_onnx(g)
    onnx.checker.check_model(model)
    back = from_onnx(onnx.load_from_string(model.SerializeToString()))
    assert back == g, graph_diff(g, back)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(g=graphs())
def test_float_graphs_roundtrip_exactly(g) -> None:  # type: ignore[no-untyped-def]
    roundtrip(g)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(g=loihi_networks(max_pops=3, max_n=6, max_delay=8))
def test_fixed_graphs_roundtrip_exactly(g) -> None:  # type: ignore[no-untyped-def]
    roundtrip(g)


def test_convert_writes_checked_onnx_and_loads_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "digits.onnx"
    assert main(["convert", DIGITS, "-o", str(out)]) == 0
    onnx.checker.check_model(onnx.load(str(out)))
    g = api.load(DIGITS)
    back = api.load(str(out))
    assert back == g, graph_diff(g, back)
    x = (np.random.default_rng(0).random((2, 10, 64)) < 0.3).astype(np.float64)
    a, b = api.run(g, {"input": x}), api.run(back, {"input": x})
    np.testing.assert_array_equal(a.outputs["output"], b.outputs["output"])


def test_plain_onnx_ann_goes_to_the_ann_converter(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Without ai.snnc operators the file is an ANN: converting it needs balance data."""
    from onnx import TensorProto, helper

    n = helper.make_node("Relu", ["x"], ["y"], name="relu0")
    gr = helper.make_graph([n], "ann", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                       ["N", 3])],
                           [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])])
    path = tmp_path / "ann.onnx"
    onnx.save(helper.make_model(gr), str(path))
    with pytest.raises(ModelError, match=r"ann.onnx.*needs calibration input.*--balance-data"):
        api.load(str(path))
    g = api.load(str(path), balance_data=np.random.default_rng(0).random((20, 3)))
    assert [p.model.value for p in g.populations.values()] == ["if"]


def test_malformed_spiking_node_is_one_clear_error(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A hand-edited ai.snnc node missing an attribute names the file and the node."""
    model = to_onnx(api.load(DIGITS))
    node = next(n for n in model.graph.node if n.op_type == "LIF")
    keep = [a for a in node.attribute if a.name != "reset"]
    del node.attribute[:]
    node.attribute.extend(keep)
    path = tmp_path / "bad.onnx"
    onnx.save(model, str(path))
    assert main(["inspect", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.onnx" in err[0] and f"'{node.name}'" in err[0]
    assert "malformed ai.snnc::LIF" in err[0] and "Traceback" not in err[0]


@pytest.mark.parametrize("clash", [True, False])
def test_an_input_port_named_like_a_population_state(clash: bool) -> None:
    """An input port called `<pop>.s` would be the population's own state value: refused,
    naming it; a port called `<other>.s` is just a name, and reads back as the port."""
    from dataclasses import replace

    from snnc.compiler.ir import Graph

    g = api.load(DIGITS)
    (old,) = g.inputs
    pop = next(iter(g.populations))
    new = f"{pop}.s" if clash else "nobody.s"
    projs = [replace(p, src=new) if p.src == old else p for p in g.projections.values()]
    g = Graph.build(list(g.populations.values()), projs,
                    [replace(g.inputs[old], name=new)], list(g.outputs.values()), meta=g.meta)
    if clash:
        with pytest.raises(IRError, match=f"would name two values '{new}'"):
            to_onnx(g)
    else:
        roundtrip(g)
