"""A deliberately naive per-neuron, per-synapse Python-int loop of the fixed-point semantics,
written from docs/semantics.md and reading every number from a target's `[format]` facts (the
`meta["arithmetic"]` a fixed IR carries) - not from compiler/fixed.py, which it checks."""

from __future__ import annotations

from typing import Any

import numpy as np
from snnc.compiler.ir import Conn, Graph, ResetMode


def synapse_list(g: Graph, p) -> list[tuple[int, int, int, int]]:  # type: ignore[no-untyped-def]
    """(dst, src, weight, delay) of every stored synapse."""
    if p.kind is Conn.DENSE:
        return [(i, j, int(p.weight[i, j]), int(p.delay[i, j]))
                for i in range(p.weight.shape[0]) for j in range(p.weight.shape[1])]
    out = []
    for i in range(len(p.indptr) - 1):
        for k in range(p.indptr[i], p.indptr[i + 1]):
            out.append((i, int(p.indices[k]), int(p.weight[k]), int(p.delay[k])))
    return out


def trunc0(x: int, s: int) -> int:
    return -((-x) >> s) if x < 0 else x >> s


def sat(z: int, bits: int) -> int:
    return max(min(z, 2 ** (bits - 1) - 1), -(2 ** (bits - 1)))


def _loihi(f: dict[str, Any], u: int, v: int, a: int, du: int, dv: int, bias: int, vth: int
           ) -> tuple[int, int, bool]:
    unity, half = 2 ** f["decay_bits"], 2 ** (f["state_bits"] - 1)
    x = trunc0(u * (unity - (du + f["du_offset"])), f["decay_bits"]) + a * 2 ** f["act_shift"]
    u = x - 2 * half if x > half else (x + 2 * half if x <= -half else x)
    v = trunc0(v * (unity - (dv + f["dv_offset"])), f["decay_bits"]) + u + bias
    v = max(min(v, half - 1), -(half - 1))
    s = v > vth * 2 ** f["vth_shift"]
    return u, (f.get("spike_v", 0) if s else v), s


def naive(g: Graph, x: dict[str, np.ndarray], steps: int) -> dict[str, np.ndarray]:
    """u:, v:, s: traces (1, steps, n) of every population, for sample 0 of x."""
    f = dict(g.meta["arithmetic"])
    tianjic = f["semantics"] == "tianjic"
    sent = {k: np.zeros((steps, p.size), dtype=np.int64) for k, p in g.inputs.items()}
    for k in g.inputs:
        t_in = min(steps, x[k].shape[1])
        sent[k][:t_in] = x[k][0, :t_in].reshape(t_in, -1)
    for k, p in g.populations.items():
        sent[k] = np.zeros((steps, p.size), dtype=np.int64)
    syn = {k: synapse_list(g, p) for k, p in g.projections.items()}
    state = {k: {"u": [0] * p.size, "v": [0] * p.size, "r": [0] * p.size}
             for k, p in g.populations.items()}
    tr = {f"{v}:{k}": np.zeros((1, steps, p.size), dtype=np.int64)
          for k, p in g.populations.items() for v in "uvs"}
    for t in range(steps):
        a = {k: [0] * p.size for k, p in g.populations.items()}
        for name, p in g.projections.items():
            by_delay: dict[int, list[int]] = {}
            for dst, src, w, d in syn[name]:
                if t - 1 - d >= 0 and sent[p.src][t - 1 - d, src]:
                    by_delay.setdefault(d, [0] * g.node_size(p.dst))[dst] += w
            for sums in by_delay.values():
                for i, acc in enumerate(sums):
                    if tianjic:
                        acc = sat(acc, f["accumulator_bits"])
                    e = p.weight_exp
                    a[p.dst][i] += acc * 2**e if e > 0 else acc // 2 ** (-e)
        for k, p in g.populations.items():
            st_ = state[k]
            period = p.reset_every + f.get("reset_period_extra", 0)
            cleared = p.reset_every > 0 and (t + 1) % period == p.reset_phase % period
            for i in range(p.size):
                if cleared:  # the periodic state reset: u, v, refractory, pending subtraction
                    st_["u"][i] = st_["v"][i] = st_["r"][i] = 0
                u, v = st_["u"][i], st_["v"][i]
                on = t >= p.onset  # biases count from the onset step
                bias, i_bias = (int(p.bias[i]), int(p.i_bias[i])) if on else (0, 0)
                if not tianjic:
                    if st_["r"][i]:  # the step after a spike starts from v = 0
                        v = 0
                    u, v, s = _loihi(f, u, v, a[k][i], int(p.du[i]), int(p.dv[i]),
                                     bias, int(p.v_th[i]))
                    st_["r"][i] = int(s)
                else:
                    bits, shift = f["state_bits"], f["decay_bits"]
                    cuba = p.model.value.startswith("cuba")
                    u = sat((u * int(p.du[i])) // 2**shift + a[k][i] + i_bias, bits) \
                        if cuba else a[k][i]
                    delayed = p.reset is ResetMode.DELAYED_SUBTRACT
                    pending = (int(p.v_th[i]) if delayed and sent[k][t - 1, i] and t
                               and not cleared else 0)
                    v = sat((v * int(p.dv[i])) // 2**shift + u + bias - pending, bits)
                    spiking = p.model.value in ("lif", "cuba_lif", "if")
                    held = st_["r"][i] > 0
                    if p.refractory and held:
                        v = int(p.v_reset[i])
                        st_["r"][i] -= 1
                    s = spiking and v > int(p.v_th[i]) and not held
                    if s:
                        st_["r"][i] = p.refractory
                        if p.reset is ResetMode.ZERO:
                            v = int(p.v_reset[i])
                        elif p.reset is ResetMode.SUBTRACT:
                            v = sat(v - int(p.v_th[i]), bits)
                st_["u"][i], st_["v"][i] = u, v
                sent[k][t, i] = int(s)
                tr[f"u:{k}"][0, t, i], tr[f"v:{k}"][0, t, i], tr[f"s:{k}"][0, t, i] = u, v, s
    return tr
