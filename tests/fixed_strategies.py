"""Hypothesis strategies for random fixed IRs (Loihi and Tianjic integers) and spike inputs.

They draw straight in the integer domain of a given arithmetic (compiler/fixed.py; loihi2's and
tianjic's by default), edge values included (du = 0 and the largest register, wrap points,
largest exponents and biases), so engines are compared where the arithmetic is most fragile,
and so the same strategies serve any user target's format.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import strategies as st
from snnc.compiler.fixed import Arithmetic, LoihiArithmetic, TianjicArithmetic
from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Port, Projection, ResetMode
from snnc.compiler.targets import TargetSpec, load_target

LOIHI2 = load_target("loihi2")
# tianjic with weight exponents -2..8 (its file has none), so the random cases exercise the
# soma's input shift too
TIANJIC = load_target("tianjic").with_facts(
    {"format.weight_exp_min": -2, "format.weight_exp_max": 8}, "test: exercise the shift")


def fixed_meta(t: TargetSpec) -> dict[str, object]:
    """The meta a quantized IR for target t carries."""
    return {"stage": "fixed", "semantics": t.semantics, "target": t.name,
            "arithmetic": t.arith.to_json()}


def _pick(draw, n: int, values: st.SearchStrategy[int], rng: np.random.Generator) -> np.ndarray:  # type: ignore[no-untyped-def]
    """A scalar broadcast (most pops), or per-neuron values from a few drawn ones."""
    if draw(st.booleans()):
        return np.full(n, draw(values), dtype=np.float64)
    pool = np.array(draw(st.lists(values, min_size=1, max_size=4)), dtype=np.float64)
    return pool[rng.integers(0, pool.size, n)]


@st.composite
def loihi_networks(draw, max_pops: int = 3, max_n: int = 10, per_neuron: bool = False,  # type: ignore[no-untyped-def]
                   max_delay: int = 62, target: TargetSpec = LOIHI2) -> Graph:
    """A random fixed IR in target's Loihi arithmetic: CUBA and plain LIFs, recurrence,
    delays, periodic state resets, any exponent and bit width of the format."""
    ar = target.arith
    assert isinstance(ar, LoihiArithmetic)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    top = ar.register_max
    n_in = draw(st.integers(1, max_n))
    n_pops = draw(st.integers(1, max_pops))
    pops, projs = [], []
    for i in range(n_pops):
        n = draw(st.integers(1, max_n))
        cuba = draw(st.booleans())
        du = (draw(st.sampled_from([0, 1, top // 10, top // 2, top - 1, top])) if cuba else top)
        dv = draw(st.sampled_from([0, 1, top // 40, top // 4, top]) | st.integers(0, top))
        vth = draw(st.sampled_from([0, 1, 10, 100, ar.vth_max])
                   | st.integers(0, min(2000, ar.vth_max)))
        bias = (rng.integers(-ar.bias_mant_max, ar.bias_mant_max + 1, n)
                * (1 << rng.integers(0, ar.bias_exp_max + 1, n)))
        bias = bias * (rng.random(n) < draw(st.floats(0, 1)))
        vals = {"du": np.full(n, float(du)), "dv": np.full(n, float(dv)),
                "v_th": np.full(n, float(vth))}
        if per_neuron:
            vals["v_th"] = _pick(draw, n, st.integers(0, min(3000, ar.vth_max)), rng)
        pops.append(Population(name=f"p{i}", shape=(n,),
                               model=NeuronModel.CUBA_LIF if cuba else NeuronModel.LIF,
                               v_reset=np.zeros(n), i_bias=np.zeros(n), bias=bias.astype(float),
                               reset=ResetMode.ZERO, onset=draw(st.integers(0, 3)),
                               reset_every=draw(st.sampled_from([0, 0, 1, 2, 5])),
                               reset_phase=draw(st.integers(0, 6)), **vals))
    srcs = ["in"] + [p.name for p in pops]
    sizes = {"in": n_in, **{p.name: p.size for p in pops}}
    bit_choices = sorted(b for b in {1, 2, 3, 4, ar.weight_bits - 2, ar.weight_bits} if b > 0)
    for i, p in enumerate(pops):
        # every population gets input from an earlier node; extra edges add recurrence
        choices = [srcs[draw(st.integers(0, i))]]
        choices += draw(st.lists(st.sampled_from(srcs), max_size=2, unique=True))
        for j, s in enumerate(dict.fromkeys(choices)):
            bits = draw(st.sampled_from([b for b in bit_choices if b <= ar.weight_bits]))
            step = ar.grid_step(bits)
            shape = (p.size, sizes[s])
            w = rng.integers(-(-ar.weight_min // step), ar.weight_max // step + 1, shape) * step
            w = w * (rng.random(shape) < draw(st.sampled_from([0.3, 0.7, 1.0])))
            delayed = draw(st.booleans())
            d = (rng.integers(0, draw(st.integers(0, max_delay)) + 1, shape) if delayed
                 else np.zeros(shape, dtype=np.int64))
            exp = draw(st.integers(ar.weight_exp_min, ar.weight_exp_max))
            if draw(st.booleans()):
                projs.append(Projection(name=f"{s}>{p.name}.{j}", src=s, dst=p.name,
                                        kind=Conn.DENSE, weight=w.astype(float), delay=d,
                                        weight_exp=exp, weight_bits=bits))
            else:  # CSR over destination rows, stored entries only
                rows, cols = np.nonzero(w)
                indptr = np.searchsorted(rows, np.arange(p.size + 1))
                projs.append(Projection(name=f"{s}>{p.name}.{j}", src=s, dst=p.name,
                                        kind=Conn.SPARSE, weight=w[rows, cols].astype(float),
                                        delay=d[rows, cols], indptr=indptr, indices=cols,
                                        weight_exp=exp, weight_bits=bits))
    out = Port(name="out", shape=(pops[-1].size,), source=pops[-1].name)
    return Graph.build(pops, projs, [Port(name="in", shape=(n_in,))], [out],
                       meta=fixed_meta(target))


@st.composite
def spike_inputs(draw, g: Graph, steps: int) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rate = draw(st.sampled_from([0.05, 0.3, 0.8]))
    return {k: (rng.random((1, steps, p.size)) < rate).astype(np.int64)
            for k, p in g.inputs.items()}


def tianjic_from(g: Graph, data: st.DataObject, target: TargetSpec = TIANJIC) -> Graph:
    """Reinterpret a random integer network in target's Tianjic-style arithmetic: weights
    rescaled into its stored range, parameters drawn in its state range."""
    ar = target.arith
    assert isinstance(ar, TianjicArithmetic)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    one = ar.alpha_one
    lim = min(3000, ar.state_max)
    pops = {}
    for k, p in g.populations.items():
        n = p.size
        reset = data.draw(st.sampled_from([ResetMode(r) for r in ar.resets]))
        pops[k] = replace(
            p, du=rng.integers(0, one + 1, n).astype(float) * (p.model.value == "cuba_lif"),
            dv=np.full(n, float(data.draw(st.sampled_from([0, 1, one // 2, one * 9 // 10,
                                                           one])))),
            v_th=rng.integers(-50, lim, n).astype(float),
            v_reset=rng.integers(-100, 100, n).astype(float),
            bias=rng.integers(-min(500, lim), min(500, lim), n).astype(float),
            i_bias=rng.integers(-50, 50, n).astype(float) * (p.model.value == "cuba_lif"),
            reset=reset, onset=data.draw(st.integers(0, 3)),
            refractory=0 if reset is ResetMode.DELAYED_SUBTRACT else data.draw(
                st.integers(0, ar.refractory_max)))
    scale = max(ar.weight_max, -ar.weight_min) / 256
    projs = {k: replace(p, weight=np.clip(np.round(p.weight * scale), ar.weight_min,
                                          ar.weight_max),
                        weight_bits=min(p.weight_bits, ar.weight_bits),
                        weight_exp=data.draw(st.integers(max(-2, ar.weight_exp_min),
                                                         min(8, ar.weight_exp_max))))
             for k, p in g.projections.items()}
    return Graph(populations=pops, projections=projs, inputs=g.inputs, outputs=g.outputs,
                 meta=fixed_meta(target))


def int32_overflow_graph(n_in: int = 1100) -> Graph:
    """One LIF fed by n_in inputs of weight 254 at weight_exp 7: with every input spiking,
    n_in x 254 x 2^7 << 6 > 2^31, where Lava's int32 arithmetic would wrap."""
    pop = replace(Population.make("big", (1,), NeuronModel.LIF, v_th=100.0),
                  du=np.full(1, 4095.0))
    proj = Projection(name="w", src="in", dst="big", kind=Conn.DENSE,
                      weight=np.full((1, n_in), 254.0), delay=np.zeros((1, n_in), dtype=np.int64),
                      weight_exp=7, weight_bits=8)
    return Graph.build([pop], [proj], [Port(name="in", shape=(n_in,))],
                       [Port(name="out", shape=(1,), source="big")], meta=fixed_meta(LOIHI2))


def with_arith(g: Graph, ar: Arithmetic, name: str) -> Graph:
    """The same integers, declared to be in another target's arithmetic."""
    return g.with_meta(semantics=ar.semantics, target=name, arithmetic=ar.to_json())
