"""A synapse of weight zero is never stored, on any target and for every kind of projection,
and `synapses` in every summary means stored synapses (issue 16)."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from snnc import api
from snnc.cli import main
from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Port, Projection
from snnc.compiler.linalg import coo_blocks, conv_out_shape, conv_synapses, projection_coo


def _conv_graph(kernel: np.ndarray, in_shape: tuple[int, ...], stride=(1, 1), padding=(0, 0),
                dilation=(1, 1), groups: int = 1) -> Graph:
    out = conv_out_shape(in_shape, kernel.shape, stride, padding, dilation)
    pop = Population.make("n", out, NeuronModel.IF, v_th=1.0)
    proj = Projection(name="c", src="x", dst="n", kind=Conn.CONV, weight=kernel,
                      delay=np.zeros(kernel.shape, dtype=np.int64), stride=stride,
                      padding=padding, dilation=dilation, groups=groups)
    return Graph.build([pop], [proj], [Port(name="x", shape=in_shape)],
                       [Port(name="y", shape=out, source="n")])


def test_a_conv_with_one_nonzero_tap_stores_what_its_dense_form_stores(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """The issue's example: a 3x3 kernel with one non-zero tap on a 5x5 map reaches 9 output
    positions: 9 stored synapses (not 81), as for the same map written as a dense layer."""
    k = np.zeros((1, 1, 3, 3))
    k[0, 0, 1, 1] = 2.0
    g = _conv_graph(k, (1, 5, 5))
    dense_w = np.zeros((9, 25))
    r, c, w, _ = projection_coo(g.projections["c"], (1, 5, 5))
    dense_w[r, c] = w
    dense = Graph.build([g.populations["n"]], [Projection(
        name="c", src="x", dst="n", kind=Conn.DENSE, weight=dense_w,
        delay=np.zeros((9, 25), dtype=np.int64))], list(g.inputs.values()),
        list(g.outputs.values()))
    assert g.n_synapses == dense.n_synapses == len(r) == 9
    assert api.summary(g)["projections"][0]["synapses"] == 9
    for target in ("loihi2", "tianjic", "refsim"):
        for name, graph in (("conv", g), ("dense", dense)):
            api.convert(graph, str(tmp_path / f"{name}.snn"))
            out = tmp_path / f"{name}.{target}"
            assert main(["compile", str(tmp_path / f"{name}.snn"), "-t", target, "-o", str(out),
                         "--json"]) == 0
            summ = json.loads(capsys.readouterr().out)
            with np.load(out / "mapping" / "map.npz") as m:
                stored = int(m["usage.synapses"].sum())
            assert summ["synapses"] == stored == 9, (target, name, summ["synapses"], stored)


def test_explicit_zeros_of_a_sparse_projection_are_not_stored() -> None:
    p = Projection(name="s", src="x", dst="n", kind=Conn.SPARSE,
                   weight=np.array([1.0, 0.0, -2.0, 0.0]), delay=np.zeros(4, dtype=np.int64),
                   indptr=np.array([0, 2, 4]), indices=np.array([0, 1, 2, 0]))
    r, c, w, _ = projection_coo(p, (3,))
    assert r.tolist() == [0, 1] and c.tolist() == [0, 2] and w.tolist() == [1.0, -2.0]
    assert p.n_synapses == 2


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.data())
def test_conv_synapse_count_equals_the_expansion(data) -> None:  # type: ignore[no-untyped-def]
    """conv_synapses counts without expanding; it equals the expansion's length on random
    geometry and sparse kernels (1-D and 2-D, strides, padding, dilation, groups)."""
    nd = data.draw(st.sampled_from([1, 2]))
    groups = data.draw(st.sampled_from([1, 2]))
    c_in_g, c_out = data.draw(st.integers(1, 3)), groups * data.draw(st.integers(1, 2))
    ks = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    sp = tuple(data.draw(st.integers(max(ks), 7)) for _ in range(nd))
    stride = tuple(data.draw(st.integers(1, 2)) for _ in range(nd))
    pad = tuple(data.draw(st.integers(0, 2)) for _ in range(nd))
    dil = tuple(data.draw(st.integers(1, 2)) for _ in range(nd))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    k = rng.integers(-2, 3, (c_out, c_in_g, *ks)).astype(float)
    k[rng.random(k.shape) < 0.5] = 0.0
    in_shape = (c_in_g * groups, *sp)
    out = conv_out_shape(in_shape, k.shape, stride, pad, dil)
    if min(out[1:]) < 1:
        return
    g = _conv_graph(k, in_shape, stride, pad, dil, groups)
    want = projection_coo(g.projections["c"], in_shape)
    r, w = want[0], want[2]
    assert (w != 0).all()
    assert conv_synapses(g.projections["c"], in_shape) == g.n_synapses == len(r)
    # expanded in blocks of output channels (whole groups), as partition does for large
    # layers: the same synapses in the same order, for any block size
    block = data.draw(st.integers(1, len(r) + 2))
    got = list(coo_blocks(g.projections["c"], in_shape, block))
    if len(r) > block and c_out > (c_out // groups if groups > 1 else 1):
        assert len(got) > 1
    for a, b in zip([np.concatenate(x) for x in zip(*got, strict=True)], want, strict=True):
        assert np.array_equal(a, b)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.integers(0, 2**16), st.integers(1, 6), st.integers(1, 6), st.integers(1, 40))
def test_dense_blocks_are_the_expansion(seed: int, n_out: int, n_in: int, block: int) -> None:
    rng = np.random.default_rng(seed)
    w = rng.integers(-2, 3, (n_out, n_in)).astype(float)
    p = Projection(name="d", src="x", dst="n", kind=Conn.DENSE, weight=w,
                   delay=rng.integers(0, 3, w.shape))
    got = list(coo_blocks(p, (n_in,), block))
    assert len(got) == (1 if block >= n_out * n_in else -(-n_out // max(1, block // n_in)))
    for a, b in zip([np.concatenate(x) for x in zip(*got, strict=True)],
                    projection_coo(p, (n_in,)), strict=True):
        assert np.array_equal(a, b)
