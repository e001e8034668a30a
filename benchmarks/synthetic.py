"""Synthetic float networks for mapping tests and benchmarks, built straight as CSR arrays so
that a 1M-neuron / 100M-synapse network takes seconds and no dense matrix.

  layered(n, fanin)        input + feed-forward LIF layers; each neuron draws `fanin` sources
                           from a window of the previous layer around its own position
                           (receptive-field locality, as in trained conv/dense stacks);
                           expand=2 doubles the width from layer to layer (a decoder)
  recurrent_sheet(side)    a side x side sheet of LIF neurons, each connected to random
                           neighbours within radius 3 (a local recurrent reservoir), with
                           input and a readout layer
  modular(n, modules)      random modular network: each module projects to 3 random other
                           modules with sparse random synapses (the ids say nothing about
                           who talks to whom, so placement has to find it)
  fully_connected(widths)  dense LIF layers, half the weights zero (FC 784-4096-4096-10)
  dvs_cnn()                a DVS-gesture-sized CNN: three convs and two dense layers
  conv_stack()             8 'same' 3x3 conv layers of 14 x 269 x 269 LIF maps: 8.1M
                           neurons, 1G synapses
"""

from __future__ import annotations

import numpy as np
from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Port, Projection


def _csr(name: str, src: str, dst: str, rows: np.ndarray, cols: np.ndarray, n_dst: int,
         rng: np.random.Generator, scale: float) -> Projection:
    o = np.lexsort((cols, rows))
    rows, cols = rows[o], cols[o]
    keep = np.r_[True, (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])]
    rows, cols = rows[keep], cols[keep]
    w = rng.normal(0.0, scale, len(rows))
    return Projection(name=name, src=src, dst=dst, kind=Conn.SPARSE, weight=w,
                      delay=np.zeros(len(rows), dtype=np.int64),
                      indptr=np.searchsorted(rows, np.arange(n_dst + 1)), indices=cols)


def _lif(name: str, n: int) -> Population:
    return Population.make(name, (n,), NeuronModel.LIF, dv=0.1, v_th=1.0)


def _window(n_dst: int, n_src: int, fanin: int, width: int, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
    rows = np.repeat(np.arange(n_dst, dtype=np.int64), fanin)
    centre = rows * n_src // n_dst
    cols = centre + rng.integers(-width // 2, width // 2 + 1, len(rows))
    return rows, np.clip(cols, 0, n_src - 1)


def layered(n: int, fanin: int = 100, layers: int = 4, seed: int = 0, window: int | None = None,
            expand: int = 1) -> Graph:
    """About `n` neurons in `layers` LIF layers (widths growing by `expand`), n*fanin synapses
    drawn from a window (default 4*fanin) of the previous layer."""
    rng = np.random.default_rng(seed)
    window = window or 4 * fanin
    ratios = [expand**i for i in range(layers)]
    base = max(1, n // sum(ratios))
    widths = [base * r for r in ratios]
    widths[-1] += n - sum(widths)
    pops, projs = [], []
    prev, prev_w = "input", base
    for i, size in enumerate(widths):
        name = f"layer{i}"
        pops.append(_lif(name, size))
        r, c = _window(size, prev_w, fanin, window, rng)
        projs.append(_csr(f"w{i}", prev, name, r, c, size, rng, 2.0 / np.sqrt(fanin)))
        prev, prev_w = name, size
    return Graph.build(pops, projs, [Port(name="input", shape=(base,))],
                       [Port(name="out", shape=(pops[-1].size,), source=prev)])


def recurrent_sheet(side: int = 96, fanin: int = 24, seed: int = 0) -> Graph:
    """A side x side local recurrent sheet with input and a 10-neuron readout."""
    rng = np.random.default_rng(seed)
    n = side * side
    rows = np.repeat(np.arange(n, dtype=np.int64), fanin)
    y, x = rows // side, rows % side
    ny = np.clip(y + rng.integers(-3, 4, len(rows)), 0, side - 1)
    nx = np.clip(x + rng.integers(-3, 4, len(rows)), 0, side - 1)
    rec = _csr("rec", "sheet", "sheet", rows, ny * side + nx, n, rng, 0.3)
    r_in, c_in = _window(n, 256, 8, 16, rng)
    inp = _csr("w_in", "input", "sheet", r_in, c_in, n, rng, 0.5)
    r_out = np.repeat(np.arange(10, dtype=np.int64), 200)
    read = _csr("w_out", "sheet", "readout", r_out, rng.integers(0, n, len(r_out)), 10, rng, 0.1)
    return Graph.build([_lif("sheet", n), _lif("readout", 10)], [rec, inp, read],
                       [Port(name="input", shape=(256,))],
                       [Port(name="out", shape=(10,), source="readout")])


def modular(n: int = 100_000, modules: int = 100, fanin: int = 20, seed: int = 0) -> Graph:
    """`modules` populations of n/modules LIFs; each targets 3 random others, sparsely."""
    rng = np.random.default_rng(seed)
    m = n // modules
    pops = [_lif(f"m{i:03d}", m) for i in range(modules)]
    projs = []
    for i in range(modules):
        for j in rng.choice(np.delete(np.arange(modules), i), 3, replace=False):
            rows = np.repeat(np.arange(m, dtype=np.int64), fanin // 3)
            cols = rng.integers(0, m, len(rows))
            projs.append(_csr(f"m{i:03d}>m{j:03d}", f"m{i:03d}", f"m{j:03d}", rows, cols, m,
                              rng, 0.3))
    r, c = _window(m, 128, 8, 16, rng)
    projs.append(_csr("w_in", "input", "m000", r, c, m, rng, 0.5))
    return Graph.build(pops, projs, [Port(name="input", shape=(128,))],
                       [Port(name="out", shape=(m,), source=f"m{modules - 1:03d}")])


def fully_connected(widths: tuple[int, ...] = (784, 4096, 4096, 10), density: float = 0.5,
                    seed: int = 0) -> Graph:
    """Dense LIF layers of the given widths (the first is the input), each weight non-zero
    with probability `density`: the FC 784-4096-4096-10 of issue 16 by default."""
    rng = np.random.default_rng(seed)
    pops, projs = [], []
    prev = "input"
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        name = f"fc{i}"
        pops.append(_lif(name, n_out))
        w = rng.normal(0.0, 2.0 / np.sqrt(n_in), (n_out, n_in))
        w[rng.random((n_out, n_in)) >= density] = 0.0
        projs.append(Projection(name=f"w{i}", src=prev, dst=name, kind=Conn.DENSE, weight=w,
                                delay=np.zeros((n_out, n_in), dtype=np.int64)))
        prev = name
    return Graph.build(pops, projs, [Port(name="input", shape=(widths[0],))],
                       [Port(name="out", shape=(widths[-1],), source=prev)])


def dvs_cnn(seed: int = 0, side: int = 48) -> Graph:
    """A DVS-gesture-sized CNN (about 16.7k LIF neurons, 3M synapses): input 2x48x48 (two
    polarities), conv 16 5x5/2, conv 32 3x3/2, conv 64 3x3/2, dense 512, dense 11; `side`
    34 gives the small N-MNIST-sized CNN of issue 16's PAIBox table."""
    rng = np.random.default_rng(seed)
    layers = [("c1", 16, 5, 2, 2), ("c2", 32, 3, 2, 1), ("c3", 64, 3, 2, 1)]
    shape, prev = (2, side, side), "input"
    pops, projs = [], []
    for name, ch, k, s, pad in layers:
        kern = rng.normal(0.0, 3.0 / np.sqrt(shape[0] * k * k), (ch, shape[0], k, k))
        out = (ch, (shape[1] + 2 * pad - k) // s + 1, (shape[2] + 2 * pad - k) // s + 1)
        pops.append(Population.make(name, out, NeuronModel.LIF, dv=0.1, v_th=1.0))
        projs.append(Projection(name=f"w_{name}", src=prev, dst=name, kind=Conn.CONV,
                                weight=kern, delay=np.zeros(kern.shape, dtype=np.int64),
                                stride=(s, s), padding=(pad, pad), dilation=(1, 1)))
        shape, prev = out, name
    n_in = int(np.prod(shape))
    for name, n in (("fc1", 512), ("fc2", 11)):
        pops.append(_lif(name, n))
        projs.append(Projection(name=f"w_{name}", src=prev, dst=name, kind=Conn.DENSE,
                                weight=rng.normal(0.0, 3.0 / np.sqrt(n_in), (n, n_in)),
                                delay=np.zeros((n, n_in), dtype=np.int64)))
        prev, n_in = name, n
    return Graph.build(pops, projs, [Port(name="input", shape=(2, side, side))],
                       [Port(name="out", shape=(11,), source=prev)])


def conv_stack(layers: int = 8, channels: int = 14, side: int = 269, seed: int = 0) -> Graph:
    """`layers` 3x3 stride-1 'same' convolutions of `channels` LIF maps of side x side, each
    fed by the one before (the first by an input of the same shape). The default, 8 layers
    of 14 x 269 x 269, is 8.1M neurons and 1.02G synapses (fan-in 126 inside the map), the
    8-chip scale of issue 16 (`mapping_scale.py --giga`), with a float and fixed IR of a few
    kilobytes, so that mapping, not the model, holds the memory."""
    rng = np.random.default_rng(seed)
    shape = (channels, side, side)
    pops, projs, prev = [], [], "input"
    for i in range(layers):
        kern = rng.normal(0.0, 3.0 / np.sqrt(channels * 9), (channels, channels, 3, 3))
        kern[kern == 0] = 1e-3  # no zero tap in the float model (quantizing may round some)
        name = f"conv{i}"
        pops.append(Population.make(name, shape, NeuronModel.LIF, dv=0.1, v_th=1.0))
        projs.append(Projection(name=f"w{i}", src=prev, dst=name, kind=Conn.CONV, weight=kern,
                                delay=np.zeros(kern.shape, dtype=np.int64), stride=(1, 1),
                                padding=(1, 1), dilation=(1, 1)))
        prev = name
    return Graph.build(pops, projs, [Port(name="input", shape=shape)],
                       [Port(name="out", shape=shape, source=prev)])
