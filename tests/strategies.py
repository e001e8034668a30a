"""Hypothesis strategies for random IR graphs (every model, connectivity kind and delay)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from snnc.compiler.ir import (
    HAS_CURRENT,
    NO_LEAK,
    SPIKING,
    Conn,
    Graph,
    NeuronModel,
    Population,
    Port,
    Projection,
    ResetMode,
)
from snnc.compiler.linalg import conv_out_shape

EDGE_FLOATS = [0.0, 1.0, -1.0, 0.5, 2.0**-20, 1e300, -0.0, 3.0, 1 / 3]


def floats(allow_big: bool = True) -> st.SearchStrategy[float]:
    base = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=64)
    return st.one_of(base, st.sampled_from(EDGE_FLOATS if allow_big else EDGE_FLOATS[:5]))


BIG = 48  # above this many elements, values come from a seeded numpy generator


@st.composite
def arrays(draw, n: int, elems: st.SearchStrategy[float]) -> np.ndarray:  # type: ignore[no-untyped-def]
    if draw(st.booleans()):
        return np.full(n, draw(elems))
    if n <= BIG:
        return np.array(draw(st.lists(elems, min_size=n, max_size=n)), dtype=np.float64)
    # large: a few drawn values (edge cases included) scattered over seeded random picks
    pool = np.array(draw(st.lists(elems, min_size=1, max_size=8)), dtype=np.float64)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return pool[rng.integers(0, pool.size, n)]


NAMES = st.one_of(
    st.from_regex(r"[a-z][a-z0-9_]{0,6}(\.[a-z0-9_]{1,4})?", fullmatch=True),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1,
            max_size=8))


SAFE_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)


@st.composite
def populations(draw, name: str, shape: tuple[int, ...], exportable: bool = False  # type: ignore[no-untyped-def]
                ) -> Population:
    models = list(NeuronModel)
    model = draw(st.sampled_from(models))
    n = int(np.prod(shape))
    unit = st.floats(0.0, 1.0) if not exportable else st.floats(1e-3, 1.0)
    du = draw(arrays(n, unit)) if model in HAS_CURRENT else np.zeros(n)
    dv = np.zeros(n) if model in NO_LEAK else draw(arrays(n, unit))
    spiking = model in SPIKING
    v_th = draw(arrays(n, st.floats(-10, 10))) if spiking else np.full(n, np.inf)
    v_reset = draw(arrays(n, st.floats(-2, 2))) if spiking else np.zeros(n)
    bias = draw(arrays(n, st.floats(-3, 3)))
    i_bias = draw(arrays(n, st.floats(-3, 3))) if model in HAS_CURRENT else np.zeros(n)
    reset = draw(st.sampled_from(list(ResetMode))) if spiking else ResetMode.NONE
    return Population(name=name, shape=shape, model=model, du=du, dv=dv, v_th=v_th,
                      v_reset=v_reset, bias=bias, i_bias=i_bias, reset=reset,
                      onset=draw(st.integers(0, 3)),
                      refractory=draw(st.integers(0, 3)) if spiking and
                      reset is not ResetMode.DELAYED_SUBTRACT else 0)


SHAPES = st.one_of(st.tuples(st.integers(1, 6)),
                   st.tuples(st.integers(1, 3), st.integers(2, 5)),
                   st.tuples(st.integers(1, 3), st.integers(2, 5), st.integers(2, 5)))


@st.composite
def projection(draw, name: str, src: str, src_shape, dst: str, dst_shape,  # type: ignore[no-untyped-def]
               kind: Conn, max_delay: int = 5) -> Projection:
    n_src, n_dst = int(np.prod(src_shape)), int(np.prod(dst_shape))
    w_el = st.floats(-2, 2)
    if kind is Conn.DENSE:
        w = draw(arrays(n_src * n_dst, w_el)).reshape(n_dst, n_src)
        d = draw(arrays(w.size, st.integers(0, max_delay))).reshape(w.shape).astype(np.int64)
        return Projection(name=name, src=src, dst=dst, kind=kind, weight=w, delay=d)
    if kind is Conn.SPARSE:
        density = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        mask = rng.random((n_dst, n_src)) < density
        r, c = np.nonzero(mask)
        w = draw(arrays(r.size, w_el)) if r.size else np.zeros(0)
        d = (draw(arrays(r.size, st.integers(0, max_delay))) if r.size else np.zeros(0)
             ).astype(np.int64)
        indptr = np.concatenate([[0], np.cumsum(mask.sum(1))])
        return Projection(name=name, src=src, dst=dst, kind=kind, weight=w, delay=d,
                          indptr=indptr, indices=c)
    raise AssertionError(kind)


@st.composite
def conv_pair(draw):  # type: ignore[no-untyped-def]
    """(src_shape, kernel, stride, padding, dilation, groups, out_shape) of a valid conv."""
    nd = draw(st.integers(1, 2))
    groups = draw(st.integers(1, 2))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    pad = tuple(draw(st.integers(0, 1)) for _ in range(nd))
    dil = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    spatial = tuple(draw(st.integers((k[i] - 1) * dil[i] + 1, 6)) for i in range(nd))
    src = (c_in, *spatial)
    kern_shape = (c_out, c_in // groups, *k)
    out = conv_out_shape(src, kern_shape, stride, pad, dil)
    return src, kern_shape, stride, pad, dil, groups, out


@st.composite
def graphs(draw, exportable: bool = False, max_pops: int = 4, max_delay: int = 5  # type: ignore[no-untyped-def]
           ) -> Graph:
    """Random valid IR: inputs, populations, dense/sparse/conv projections, recurrence."""
    pool = SAFE_NAMES if exportable else NAMES  # NIR/HDF5 node names cannot hold '/'
    names = draw(st.lists(pool, min_size=max_pops + 3, max_size=max_pops + 3, unique=True))
    n_pops = draw(st.integers(1, max_pops))
    pop_names, in_name, out_name = names[:n_pops], names[n_pops], names[n_pops + 1]
    use_conv = draw(st.booleans())
    pops: list[Population] = []
    projs: list[Projection] = []
    if use_conv:
        src, ks, stride, pad, dil, groups, out = draw(conv_pair())
        in_shape = src
    else:
        in_shape = draw(SHAPES)
    inputs = [Port(name=in_name, shape=in_shape)]
    shapes = [draw(SHAPES) for _ in range(n_pops)]
    if use_conv:
        shapes[0] = out
    for nm, sh in zip(pop_names, shapes, strict=True):
        pops.append(draw(populations(nm, sh, exportable)))
    # feed-forward chain from the input, plus random extra (possibly recurrent) projections
    if use_conv:
        kern = draw(arrays(int(np.prod(ks)), st.floats(-2, 2))).reshape(ks)
        d = np.full(ks, draw(st.integers(0, max_delay)), dtype=np.int64)
        projs.append(Projection(name="P0", src=in_name, dst=pop_names[0], kind=Conn.CONV,
                                weight=kern, delay=d, stride=stride, padding=pad,
                                dilation=dil, groups=groups))
    else:
        kind = draw(st.sampled_from([Conn.DENSE, Conn.SPARSE]))
        projs.append(draw(projection("P0", in_name, in_shape, pop_names[0], shapes[0], kind,
                                     max_delay)))
    for i in range(1, n_pops):
        kind = draw(st.sampled_from([Conn.DENSE, Conn.SPARSE]))
        projs.append(draw(projection(f"P{i}", pop_names[i - 1], shapes[i - 1], pop_names[i],
                                     shapes[i], kind, max_delay)))
    extra = draw(st.integers(0, 2))
    for j in range(extra):
        a, b = draw(st.integers(0, n_pops - 1)), draw(st.integers(0, n_pops - 1))
        kind = draw(st.sampled_from([Conn.DENSE, Conn.SPARSE]))
        projs.append(draw(projection(f"R{j}", pop_names[a], shapes[a], pop_names[b], shapes[b],
                                     kind, max_delay)))
    last = pops[-1]
    outputs = [Port(name=out_name, shape=last.shape, source=last.name)]
    meta = draw(st.dictionaries(st.text(max_size=5), st.one_of(
        st.integers(-5, 5), st.text(max_size=5), st.floats(allow_nan=False,
                                                            allow_infinity=False)),
        max_size=2))
    return Graph.build(pops, projs, inputs, outputs, meta=meta)
