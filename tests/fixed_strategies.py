"""Hypothesis strategies for random fixed IRs (Loihi and Tianjic integers) and spike inputs.

They draw straight in the integer domain, edge values included (du = 0 and 4095, wrap points,
largest exponents), so engines are compared where the arithmetic is most fragile.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import strategies as st
from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Port, Projection, ResetMode


def _pick(draw, n: int, values: st.SearchStrategy[int], rng: np.random.Generator) -> np.ndarray:  # type: ignore[no-untyped-def]
    """A scalar broadcast (most pops), or per-neuron values from a few drawn ones."""
    if draw(st.booleans()):
        return np.full(n, draw(values), dtype=np.float64)
    pool = np.array(draw(st.lists(values, min_size=1, max_size=4)), dtype=np.float64)
    return pool[rng.integers(0, pool.size, n)]


@st.composite
def loihi_networks(draw, max_pops: int = 3, max_n: int = 10, per_neuron: bool = False,  # type: ignore[no-untyped-def]
                   max_delay: int = 62) -> Graph:
    """A random Loihi fixed IR: CUBA and plain LIFs, recurrence, delays, any exponent/bits."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_in = draw(st.integers(1, max_n))
    n_pops = draw(st.integers(1, max_pops))
    pops, projs = [], []
    for i in range(n_pops):
        n = draw(st.integers(1, max_n))
        cuba = draw(st.booleans())
        scalar = not per_neuron
        du = (draw(st.sampled_from([0, 1, 410, 2048, 4094, 4095])) if cuba else 4095)
        dv = draw(st.sampled_from([0, 1, 100, 1024, 4095]) | st.integers(0, 4095))
        vth = draw(st.sampled_from([0, 1, 10, 100, 2**17 - 1]) | st.integers(0, 2000))
        bias = rng.integers(-4095, 4096, n) * (1 << rng.integers(0, 8, n))
        bias = bias * (rng.random(n) < draw(st.floats(0, 1)))
        vals = {"du": np.full(n, float(du)), "dv": np.full(n, float(dv)),
                "v_th": np.full(n, float(vth))}
        if not scalar:
            vals["v_th"] = _pick(draw, n, st.integers(0, 3000), rng)
        pops.append(Population(name=f"p{i}", shape=(n,),
                               model=NeuronModel.CUBA_LIF if cuba else NeuronModel.LIF,
                               v_reset=np.zeros(n), i_bias=np.zeros(n), bias=bias.astype(float),
                               reset=ResetMode.ZERO, **vals))
    srcs = ["in"] + [p.name for p in pops]
    sizes = {"in": n_in, **{p.name: p.size for p in pops}}
    for i, p in enumerate(pops):
        # every population gets input from an earlier node; extra edges add recurrence
        choices = [srcs[draw(st.integers(0, i))]]
        choices += draw(st.lists(st.sampled_from(srcs), max_size=2, unique=True))
        for j, s in enumerate(dict.fromkeys(choices)):
            bits = draw(st.sampled_from([1, 2, 3, 4, 6, 8]))
            step = 2 ** (8 - bits + 1)
            shape = (p.size, sizes[s])
            w = rng.integers(-256 // step, 255 // step + 1, shape) * step
            w = w * (rng.random(shape) < draw(st.sampled_from([0.3, 0.7, 1.0])))
            delayed = draw(st.booleans())
            d = (rng.integers(0, draw(st.integers(0, max_delay)) + 1, shape) if delayed
                 else np.zeros(shape, dtype=np.int64))
            if draw(st.booleans()):
                projs.append(Projection(name=f"{s}>{p.name}.{j}", src=s, dst=p.name,
                                        kind=Conn.DENSE, weight=w.astype(float), delay=d,
                                        weight_exp=draw(st.integers(-8, 7)), weight_bits=bits))
            else:  # CSR over destination rows, stored entries only
                rows, cols = np.nonzero(w)
                indptr = np.searchsorted(rows, np.arange(p.size + 1))
                projs.append(Projection(name=f"{s}>{p.name}.{j}", src=s, dst=p.name,
                                        kind=Conn.SPARSE, weight=w[rows, cols].astype(float),
                                        delay=d[rows, cols], indptr=indptr, indices=cols,
                                        weight_exp=draw(st.integers(-8, 7)), weight_bits=bits))
    out = Port(name="out", shape=(pops[-1].size,), source=pops[-1].name)
    return Graph.build(pops, projs, [Port(name="in", shape=(n_in,))], [out],
                       meta={"stage": "fixed", "semantics": "loihi", "target": "loihi2"})


@st.composite
def spike_inputs(draw, g: Graph, steps: int) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rate = draw(st.sampled_from([0.05, 0.3, 0.8]))
    return {k: (rng.random((1, steps, p.size)) < rate).astype(np.int64)
            for k, p in g.inputs.items()}


def tianjic_from(g: Graph, data: st.DataObject) -> Graph:
    """Reinterpret a random integer network in the Tianjic-style arithmetic."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    pops = {}
    for k, p in g.populations.items():
        n = p.size
        pops[k] = replace(
            p, du=rng.integers(0, 257, n).astype(float) * (p.model.value == "cuba_lif"),
            dv=np.full(n, float(data.draw(st.sampled_from([0, 1, 128, 230, 256])))),
            v_th=rng.integers(-50, 3000, n).astype(float),
            v_reset=rng.integers(-100, 100, n).astype(float),
            bias=rng.integers(-500, 500, n).astype(float),
            i_bias=rng.integers(-50, 50, n).astype(float) * (p.model.value == "cuba_lif"),
            reset=data.draw(st.sampled_from(list(ResetMode))),
            refractory=data.draw(st.integers(0, 15)))
    projs = {k: replace(p, weight=np.clip(p.weight // 2, -128, 127),
                        weight_exp=data.draw(st.integers(-2, 8))) for k, p in g.projections.items()}
    return Graph(populations=pops, projections=projs, inputs=g.inputs, outputs=g.outputs,
                 meta={**g.meta, "semantics": "tianjic", "target": "tianjic"})


def int32_overflow_graph(n_in: int = 1100) -> Graph:
    """One LIF fed by n_in inputs of weight 254 at weight_exp 7: with every input spiking,
    n_in x 254 x 2^7 << 6 > 2^31, where Lava's int32 arithmetic would wrap."""
    pop = replace(Population.make("big", (1,), NeuronModel.LIF, v_th=100.0),
                  du=np.full(1, 4095.0))
    proj = Projection(name="w", src="in", dst="big", kind=Conn.DENSE,
                      weight=np.full((1, n_in), 254.0), delay=np.zeros((1, n_in), dtype=np.int64),
                      weight_exp=7, weight_bits=8)
    return Graph.build([pop], [proj], [Port(name="in", shape=(n_in,))],
                       [Port(name="out", shape=(1,), source="big")],
                       meta={"stage": "fixed", "semantics": "loihi", "target": "loihi2"})
