"""quantize: float IR -> fixed IR for a target (weights, decays, thresholds, biases).

Per population one scale k (per output channel with `per_channel`) maps float state to the
target's integer state: v_int = k * v. Each incoming projection then gets the weight exponent
that fits its largest weight into the chosen bit width, so every projection keeps its full
precision; thresholds and biases are scaled by the same k, so the dynamics are unchanged up to
rounding. Weights that already sit on the target's integer grid (lava-dl netx exports) are
kept exactly. A non-spiking population whose reachable |v| a frontend recorded in
meta["v_bound"] gets a scale that keeps k * bound within half the target's state range.
What rounding cost is recorded in graph.meta["quantize"].
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from snnc.compiler.errors import SnncError
from snnc.compiler.ir import HAS_CURRENT, SPIKING, Conn, Graph, Population, Projection, ResetMode
from snnc.compiler.targets import TargetSpec

WEIGHT_CHOICES = ("8", "4", "2", "ternary")
TWN_DELTA = 0.7  # ternary threshold = 0.7 * mean|W| (Li & Liu 2016, TWN; GXNOR-Net)
VTH_TARGET_LOG2 = 9  # place the largest threshold mantissa in [2^9, 2^10): fine but with headroom


class QuantizeError(SnncError):
    """A value cannot be represented in the target's format; names the node and the limit."""


@dataclass(frozen=True)
class QuantizeOptions:
    weight_bits: str = "8"  # "8", "4", "2" or "ternary"
    per_channel: bool = False
    gain: Mapping[str, float] = field(default_factory=dict)  # per population, from calibrate


@dataclass(frozen=True)
class _Format:
    """The integer formats of a target, read once from its facts."""

    loihi: bool
    unit: int  # integer state per integer input (Loihi: a << 6)
    vth_unit: int  # threshold scaling (Loihi: vth << 6)
    vth_max: int
    state_max: int
    emin: int
    emax: int
    step: int  # weight grid step
    level: int  # largest symmetric weight magnitude used
    lo: int  # stored weight range
    hi: int
    bits: int  # weight_bits recorded on projections
    ternary: bool

    @staticmethod
    def of(t: TargetSpec, choice: str) -> _Format:
        if choice not in WEIGHT_CHOICES:
            raise QuantizeError(f"--weight-bits must be one of {', '.join(WEIGHT_CHOICES)}, "
                                f"got {choice!r}")
        ternary = choice == "ternary"
        bits = 2 if ternary else int(choice)
        if bits > int(t["format.weight_bits"]):
            raise QuantizeError(f"target {t.name} stores at most {t['format.weight_bits']}-bit "
                                f"weights; asked for {bits}")
        loihi = t.semantics == "loihi"
        lo, hi = int(t["format.weight_min"]), int(t["format.weight_max"])
        if loihi:  # Lava mixed sign: (W >> n) << n with n = 8 - bits + 1
            step = 2 ** (8 - bits + 1)
            hi = (hi // step) * step
            level = min(-lo, hi)
            unit, vth_unit = 2 ** int(t["format.act_shift"]), 2 ** int(t["format.vth_shift"])
            vth_max = 2 ** int(t["format.vth_bits"]) - 1
        else:
            step, level = 1, 2 ** (bits - 1) - 1
            lo, hi = max(lo, -level - 1), min(hi, level)
            unit, vth_unit = 1, 1
            vth_max = 2 ** (int(t["format.state_bits"]) - 1) - 1
        return _Format(loihi=loihi, unit=unit, vth_unit=vth_unit, vth_max=vth_max,
                       state_max=2 ** (int(t["format.state_bits"]) - 1) - 1,
                       emin=int(t["format.weight_exp_min"]), emax=int(t["format.weight_exp_max"]),
                       step=step, level=level, lo=lo, hi=hi, bits=bits, ternary=ternary)


# --- where each weight element belongs: the scale group of its destination neuron


def _neuron_groups(g: Graph, pop: Population, per_channel: bool) -> np.ndarray:
    """Scale group per neuron: 0 (per layer), the conv channel, or the neuron itself."""
    n = pop.size
    if not per_channel:
        return np.zeros(n, dtype=np.int64)
    if any(p.kind is Conn.CONV for p in g.incoming(pop.name)):
        return np.arange(n, dtype=np.int64) // (n // pop.shape[0])
    return np.arange(n, dtype=np.int64)


def _element_groups(p: Projection, groups: np.ndarray, dst: Population) -> np.ndarray:
    """The scale group of every stored weight (same shape as p.weight)."""
    if p.kind is Conn.DENSE:
        return np.broadcast_to(groups[:, None], p.weight.shape)
    if p.kind is Conn.SPARSE:
        rows = np.repeat(np.arange(dst.size), np.diff(p.indptr))
        return groups[rows]
    per_ch = groups[:: dst.size // dst.shape[0]]  # conv: group of each output channel
    return np.broadcast_to(per_ch.reshape((-1,) + (1,) * (p.weight.ndim - 1)), p.weight.shape)


def _group_stats(w: np.ndarray, eg: np.ndarray, n_groups: int, ternary: bool
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per group: reference magnitude (max |W|, or the TWN scale alpha) and TWN threshold."""
    a, e = np.abs(w).reshape(-1), eg.reshape(-1)
    if not ternary:
        ref = np.zeros(n_groups)
        np.maximum.at(ref, e, a)
        return ref, np.zeros(n_groups)
    cnt = np.bincount(e, minlength=n_groups).astype(np.float64)
    delta = TWN_DELTA * np.bincount(e, weights=a, minlength=n_groups) / np.maximum(cnt, 1)
    big = a > delta[e]
    alpha = (np.bincount(e[big], weights=a[big], minlength=n_groups)
             / np.maximum(np.bincount(e[big], minlength=n_groups), 1))
    return alpha, delta


def _pow2_exp(x: float) -> int:
    return int(math.floor(math.log2(x))) if x > 0 else 0


def _sqnr_db(w: np.ndarray, w_eff: np.ndarray) -> float | None:
    err = float(np.sum((w - w_eff) ** 2))
    sig = float(np.sum(w**2))
    if err == 0 or sig == 0:
        return None  # exact (reported as "exact")
    return round(10 * math.log10(sig / err), 3)


# --- bias as mantissa << exponent (Loihi) or a saturating integer (Tianjic)


def _bias_int(pop: str, b: np.ndarray, t: TargetSpec, f: _Format, what: str) -> np.ndarray:
    r = np.round(b)
    if f.loihi:
        mant_max = 2 ** (int(t["format.bias_mant_bits"]) - 1) - 1
        exp_max = 2 ** int(t["format.bias_exp_bits"]) - 1
        exp = np.zeros(r.shape, dtype=np.int64)
        big = np.abs(r) > mant_max
        exp[big] = np.ceil(np.log2(np.abs(r[big]) / mant_max)).astype(np.int64)
        if (exp > exp_max).any():
            i = int(np.argmax(exp))
            raise QuantizeError(
                f"population '{pop}': {what} {b[i]:.4g} (integer units) exceeds the largest "
                f"Loihi bias {mant_max} << {exp_max}; lower the bias or the threshold scale")
        mant = np.round(b / 2.0**exp)
        while (np.abs(mant) > mant_max).any():  # rounding up crossed the mantissa edge
            over = np.abs(mant) > mant_max
            exp[over] += 1
            mant = np.round(b / 2.0**exp)
        return mant * 2.0**exp
    if (np.abs(r) > f.state_max).any():
        raise QuantizeError(f"population '{pop}': {what} exceeds the {t['format.state_bits']}-bit "
                            "state of the target")
    return r


def _rel_err(x: np.ndarray, y: np.ndarray) -> float:
    fin = np.isfinite(x) & np.isfinite(y)
    if not fin.any():
        return 0.0
    den = np.maximum(np.abs(x[fin]), 1e-12)
    return round(float(np.max(np.abs(x[fin] - y[fin]) / den)), 6)


# --- the pass


def _check_population(pop: Population, t: TargetSpec, f: _Format) -> None:
    name = pop.name
    resets = list(t["format.resets"])
    spiking = pop.model in SPIKING
    if spiking and pop.reset.value not in resets:
        raise QuantizeError(f"population '{name}' resets by {pop.reset.value!r}; target {t.name} "
                            f"supports {resets} (compile with --reset zero, or another target)")
    if pop.refractory > int(t["format.refractory_max"]):
        raise QuantizeError(f"population '{name}' has a refractory period of {pop.refractory} "
                            f"steps; target {t.name} allows at most {t['format.refractory_max']}")
    if f.loihi and spiking and pop.reset is ResetMode.ZERO and pop.v_reset.any():
        raise QuantizeError(f"population '{name}' resets v to {pop.v_reset.max():g}; Lava's LIF "
                            "resets v to 0")
    if pop.i_bias.any() and not t["format.current_bias"]:
        raise QuantizeError(f"population '{name}' has a current bias; target {t.name} has none "
                            "(run the lower_current_bias pass first)")
    if (pop.v_th[np.isfinite(pop.v_th)] < 0).any() and spiking:
        raise QuantizeError(f"population '{name}' has a negative threshold; the target's "
                            "threshold is unsigned")


def _exact_scale(pop: Population, projs: list[Projection], t: TargetSpec, f: _Format
                 ) -> tuple[float, dict[str, int]] | None:
    """The model's own Loihi scale, if every weight, threshold and bias is an integer of the
    target there. Only for lava-dl netx exports, whose float units are Loihi's u, v / 2^6
    (frontends/netx.py): a float model that happens to be on a grid still gets the fill rule,
    which keeps more threshold resolution."""
    if f.ternary or f.bits != int(t["format.weight_bits"]) or not f.loihi:
        return None
    k = float(f.unit)  # netx float units are Loihi's / 2^act_shift: k = 2^act_shift
    vth = k * pop.v_th[np.isfinite(pop.v_th)] / f.vth_unit
    if not (np.all(vth == np.round(vth)) and np.all(vth <= f.vth_max)
            and np.all(k * pop.bias == np.round(k * pop.bias))
            and np.all(k * pop.i_bias == np.round(k * pop.i_bias))):
        return None
    exps: dict[str, int] = {}
    for p in projs:
        for e in sorted(range(f.emin, f.emax + 1), key=abs):  # prefer the file's own exponent 0
            q = p.weight * k / (f.unit * 2.0**e)
            if (np.all(q == np.round(q)) and np.all(q % f.step == 0)
                    and q.min(initial=0) >= f.lo and q.max(initial=0) <= f.hi):
                exps[p.name] = e
                break
        else:
            return None
    return k, exps


def _quantize_population(g: Graph, pop: Population, t: TargetSpec, f: _Format,
                         opts: QuantizeOptions, log: dict[str, Any]
                         ) -> tuple[Population, list[Projection]]:
    _check_population(pop, t, f)
    projs = g.incoming(pop.name)
    groups = _neuron_groups(g, pop, opts.per_channel)
    n_groups = int(groups.max()) + 1
    gain = float(opts.gain.get(pop.name, 1.0))
    spiking = pop.model in SPIKING
    native = g.meta.get("frontend") == "netx"
    exact = (_exact_scale(pop, projs, t, f) if native and not opts.per_channel and gain == 1.0
             else None)

    # --- the scale k per neuron
    stats = {}
    for p in projs:
        eg = _element_groups(p, groups, pop)
        stats[p.name] = (eg, *_group_stats(p.weight, eg, n_groups, f.ternary))
    if exact is not None:
        k_group = np.full(n_groups, exact[0])
    else:
        ref = np.zeros(n_groups)
        for _, r, _ in stats.values():
            ref = np.maximum(ref, r)
        fallback = ref.max() if ref.max() > 0 else None
        if fallback is None:  # no incoming weights: scale from the threshold or bias
            vth = pop.v_th[np.isfinite(pop.v_th)]
            fallback = float(np.max(vth, initial=0) or np.max(np.abs(pop.bias), initial=0) or 1)
            fallback *= f.level / 2**VTH_TARGET_LOG2 * f.vth_unit / f.unit
        ref = np.where(ref > 0, ref, fallback)
        base = f.unit * f.level * gain / ref  # k with the primary projection at exponent 0
        vth_n = base[groups] * pop.v_th / f.vth_unit
        fin = np.isfinite(vth_n)
        e0 = VTH_TARGET_LOG2 - _pow2_exp(float(vth_n[fin].max())) if spiking and fin.any() \
            and vth_n[fin].max() > 0 else 0
        e0 = min(max(e0, f.emin), f.emax)
        k_group = base * 2.0**e0
        bound = float(g.meta.get("v_bound", {}).get(pop.name, 0.0))
        over = float(k_group.max()) * bound / (f.state_max / 2)
        if not spiking and over > 1:  # keep the reachable |v| inside half the state range
            k_group = k_group * 2.0 ** -math.ceil(math.log2(over))
    k = k_group[groups]

    # --- thresholds, decays, biases
    if spiking:
        vth = np.round(k * pop.v_th / f.vth_unit)
        if (vth > f.vth_max).any():
            i = int(np.argmax(vth))
            wmax = max((float(np.abs(p.weight).max(initial=0)) for p in projs), default=0.0)
            ratio = f" (the threshold is {pop.v_th[i] / wmax:.3g}x the largest weight)" \
                if wmax > 0 else ""
            raise QuantizeError(
                f"population '{pop.name}': threshold {pop.v_th[i]:g} needs mantissa {vth[i]:.0f} "
                f"at the scale its weights need, beyond the target's {f.vth_max}{ratio}; "
                "rescale the model's weights or threshold")
    else:
        vth = np.full(pop.size, float(f.vth_max))
    current = pop.model in HAS_CURRENT
    if f.loihi:
        du = np.clip(np.round(pop.du * 4096) - 1, 0, 4095) if current else np.full(pop.size, 4095.)
        dv = np.clip(np.round(pop.dv * 4096), 0, 4095)
        du_eff, dv_eff = (du + 1) / 4096 if current else pop.du, dv / 4096
        ib = np.zeros(pop.size)
        vreset = np.zeros(pop.size)
    else:
        du = np.round((1 - pop.du) * 256) if current else np.zeros(pop.size)
        dv = np.round((1 - pop.dv) * 256)
        du_eff, dv_eff = (1 - du / 256) if current else pop.du, 1 - dv / 256
        ib = _bias_int(pop.name, k * pop.i_bias, t, f, "current bias")
        vreset = _bias_int(pop.name, k * pop.v_reset, t, f, "reset value")
    bias = _bias_int(pop.name, k * pop.bias, t, f, "bias")
    vth_eff = vth * f.vth_unit / k
    log["populations"][pop.name] = {
        "scale": float(k.max()) if opts.per_channel else float(k[0]),
        "exact": exact is not None,
        "rel_error": {"du": _rel_err(pop.du, du_eff) if current else 0.0,
                      "dv": _rel_err(pop.dv, dv_eff),
                      "v_th": _rel_err(pop.v_th, vth_eff) if spiking else 0.0,
                      "bias": _rel_err(pop.bias, bias / k)}}
    fixed_pop = replace(pop, du=du, dv=dv, v_th=vth, bias=bias, i_bias=ib, v_reset=vreset)

    # --- weights, one exponent per projection
    out = []
    for p in projs:
        eg, r, delta = stats[p.name]
        k_el = k_group[eg]
        scaled = p.weight * k_el / f.unit  # integer input per spike, before the exponent
        if exact is not None:
            wexp = exact[1][p.name]
        elif f.ternary:
            used = r > 0
            ratio = np.median((r * k_group / f.unit / f.level)[used]) if used.any() else 1.0
            wexp = round(math.log2(ratio)) if ratio > 0 else 0
        else:
            m = float(np.abs(scaled).max(initial=0))
            wexp = math.ceil(math.log2(m / f.level) - 1e-9) if m > 0 else 0
        wexp = min(max(wexp, f.emin), f.emax)
        x = scaled / 2.0**wexp
        if f.ternary:
            q = f.level * np.sign(p.weight) * (np.abs(p.weight) > delta[eg])
        elif exact is not None:
            q = x
        else:
            q = np.clip(np.round(x / f.step) * f.step, -f.level, f.level)
        w_eff = q * 2.0**wexp * f.unit / k_el
        clipped = 0 if f.ternary else int(np.sum(np.abs(x) > f.level + f.step / 2))
        log["projections"][p.name] = {
            "weight_exp": wexp, "exact": exact is not None,
            "sqnr_db": _sqnr_db(p.weight, w_eff), "clipped": clipped,
            "zeroed": int(np.sum((q == 0) & (p.weight != 0)))}
        if clipped:
            log["warnings"].append(f"projection '{p.name}': {clipped} weights clipped to the "
                                   f"{f.bits}-bit range at weight_exp {wexp} (limit "
                                   f"{f.emin}..{f.emax})")
        out.append(replace(p, weight=q, weight_exp=wexp, weight_bits=f.bits))
    return fixed_pop, out


def quantize(graph: Graph, target: TargetSpec, opts: QuantizeOptions) -> Graph:
    """Float IR -> fixed IR of `target`; records SQNR, clipped and zeroed weights per
    projection and parameter rounding error per population in meta['quantize']."""
    if graph.meta.get("stage") == "fixed":
        raise QuantizeError("the model is already quantized")
    f = _Format.of(target, opts.weight_bits)
    log: dict[str, Any] = {"weight_bits": opts.weight_bits, "per_channel": opts.per_channel,
                           "gain": dict(sorted(opts.gain.items())), "projections": {},
                           "populations": {}, "warnings": []}
    pops, projs = {}, {}
    for name, pop in graph.populations.items():
        fp, ps = _quantize_population(graph, pop, target, f, opts, log)
        pops[name] = fp
        projs.update({p.name: p for p in ps})
    meta = {**graph.meta, "stage": "fixed", "semantics": target.semantics,
            "target": target.name, "quantize": log}
    return Graph(populations=pops, projections=projs, inputs=graph.inputs,
                 outputs=graph.outputs, meta=meta)
