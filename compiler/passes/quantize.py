"""quantize: float IR -> fixed IR for a target (weights, decays, thresholds, biases).

Per population one scale k (per output channel with `per_channel`) maps float state to the
target's integer state: v_int = k * v. Each incoming projection then gets the weight exponent
that fits its largest weight into the chosen bit width, so every projection keeps its full
precision; thresholds and biases are scaled by the same k, so the dynamics are unchanged up to
rounding. Every format question (grids, registers, bias encoding, ranges) is asked of the
target's arithmetic (compiler/fixed.py). Three graph annotations (compiler/ir.py) are read:
`native_scale` (a model already in a format's integers, e.g. lava-dl netx, is kept exactly where
it fits), `v_bound` (a non-spiking population's reachable |v|: k * bound stays within half
the state range) and `current_reach` (the largest current a frontend measured on its own typical
inputs, used as --calibrate's would be). A population whose worst-case current cannot be made
to fit its state width without losing precision, and that no measured current shows safe, is
refused unless `allow_overflow`. What rounding cost is recorded in graph.meta["quantize"].
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from snnc.compiler.errors import SnncError
from snnc.compiler.fixed import WEIGHT_CHOICES, Arithmetic, FormatError, WeightGrid
from snnc.compiler.headroom import Headroom, population_headroom
from snnc.compiler.ir import HAS_CURRENT, SPIKING, Conn, Graph, Population, Projection, ResetMode
from snnc.compiler.passes import PassContext, Stage, register_pass

TWN_DELTA = 0.7  # ternary threshold = 0.7 * mean|W| (Li & Liu 2016, TWN; GXNOR-Net)
VTH_TARGET_LOG2 = 9  # place the largest threshold mantissa in [2^9, 2^10): fine resolution...
HEADROOM_BITS = 7  # ...unless that leaves less than 2^7 between the threshold and the state limit
VTH_MIN_LOG2 = 6  # a scale lowered for headroom keeps the largest threshold mantissa >= 2^6
REACH_MARGIN_BITS = 1  # calibrated currents must stay a factor 2 inside the state width

__all__ = ["WEIGHT_CHOICES", "QuantizeError", "QuantizeOptions", "quantize"]


class QuantizeError(SnncError):
    """A value cannot be represented in the target's format; names the node and the limit."""


@dataclass(frozen=True)
class QuantizeOptions:
    """How weights are quantized (recorded in the artifact's manifest)."""

    weight_bits: str | None = None  # one of WEIGHT_CHOICES; None: the target's stored width
    per_channel: bool = False
    gain: Mapping[str, float] = field(default_factory=dict)  # per population, from calibrate
    allow_overflow: bool = False  # keep (and warn about) a worst case that could wrap
    reach: Mapping[str, float] = field(default_factory=dict)  # max |u| on --calibrate inputs

    def __post_init__(self) -> None:
        if self.weight_bits is not None and self.weight_bits not in WEIGHT_CHOICES:
            raise QuantizeError(f"--weight-bits must be one of {', '.join(WEIGHT_CHOICES)}, "
                                f"got {self.weight_bits!r}")


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
    """The scale group of every stored weight (same shape as p.weight); a 0-d 0 when the
    population has one group (it broadcasts: no array the size of the weights)."""
    if not groups.any():
        return np.zeros((), dtype=np.int64)
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
    if not ternary and eg.ndim == 0:  # one group: the largest magnitude, no temporaries
        ref = np.zeros(n_groups)
        ref[int(eg)] = max(float(w.max(initial=0)), -float(w.min(initial=0)))
        return ref, np.zeros(n_groups)
    a, e = np.abs(w).reshape(-1), np.broadcast_to(eg, w.shape).reshape(-1)
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
    """Signal to quantization noise of the effective weights; overwrites w_eff."""
    np.subtract(w, w_eff, out=w_eff)
    err = float(np.sum(np.square(w_eff, out=w_eff)))
    sig = float(np.sum(np.square(w, out=w_eff)))
    if err == 0 or sig == 0:
        return None  # exact (reported as "exact")
    return round(10 * math.log10(sig / err), 3)


def _rel_err(x: np.ndarray, y: np.ndarray) -> float:
    fin = np.isfinite(x) & np.isfinite(y)
    if not fin.any():
        return 0.0
    den = np.maximum(np.abs(x[fin]), 1e-12)
    return round(float(np.max(np.abs(x[fin] - y[fin]) / den)), 6)


def _encode(ar: Arithmetic, pop: str, what: str, b: np.ndarray) -> np.ndarray:
    try:
        return ar.encode_bias(b)
    except FormatError as e:
        raise QuantizeError(f"population '{pop}': {what} {e}; lower the {what} or the "
                            "threshold scale") from None


# --- checks before anything is scaled


def _check_population(pop: Population, ctx: PassContext) -> None:
    name, t, ar = pop.name, ctx.target, ctx.arith
    spiking = pop.model in SPIKING
    if spiking and pop.reset is ResetMode.SUBTRACT_SNNTORCH:
        raise QuantizeError(f"population '{name}' resets like snnTorch with reset_delay=False "
                            "(the threshold doubles while the residual stays above it); no "
                            "target implements that: retrain with reset_delay=True (snnTorch's "
                            "default); the float engine runs the model as trained")
    if spiking and pop.reset.value not in ar.resets:
        why = (" (a neuron with a synaptic current keeps two states, so its reset cannot be "
               "emulated there)" if pop.model in HAS_CURRENT else "")
        raise QuantizeError(f"population '{name}' ({pop.model.value}) resets by "
                            f"{pop.reset.value!r}; target {t.name} supports {list(ar.resets)}"
                            f"{why}: compile for a target that has it (see `snnc targets`), or "
                            "train with one of those resets (a NIR graph that does not say its "
                            "reset takes --reset)")
    if pop.refractory > ar.refractory_max:
        raise QuantizeError(f"population '{name}' has a refractory period of {pop.refractory} "
                            f"steps; target {t.name} allows at most {ar.refractory_max}: "
                            "compile for a target with a refractory counter (see `snnc "
                            "targets`), or train without one (snnTorch: a zero reset with "
                            "reset_delay=False)")
    lo, hi = ar.param_ranges()["v_reset"]
    if spiking and pop.reset is ResetMode.ZERO and pop.v_reset.any() and lo == hi == 0:
        raise QuantizeError(f"population '{name}' resets v to {pop.v_reset.max():g}; target "
                            f"{t.name} resets v to 0")
    if pop.i_bias.any() and not ar.current_bias:
        raise QuantizeError(f"population '{name}' has a current bias; target {t.name} has none "
                            "(run the lower_current_bias pass first)")
    unsigned = ar.param_ranges()["v_th"][0] >= 0
    if spiking and unsigned and (pop.v_th[np.isfinite(pop.v_th)] < 0).any():
        raise QuantizeError(f"population '{name}' has a negative threshold; the target's "
                            "threshold is unsigned")


# --- the scale k


EXACT_LOG2_MAX = 24  # powers of two tried as an exact scale: 2^-24 .. 2^24
V2_CHUNK = 1 << 20  # weights read at a time when looking for an exact scale


def _native_scale(g: Graph, pop: Population, projs: list[Projection], ar: Arithmetic,
                  f: WeightGrid, k: float) -> dict[str, int] | None:
    """Weight exponents that keep a model already in the target's integers exactly (the
    annotation native_scale = k), or None if some weight, threshold or bias is not an integer
    of the format at that scale. Only annotated models: a float model that happens to sit on
    a grid still gets the fill rule, which keeps more threshold resolution."""
    vth = k * pop.v_th[np.isfinite(pop.v_th)] / ar.vth_unit
    if not (np.all(vth == np.round(vth)) and np.all(vth <= ar.vth_max)
            and np.all(k * pop.bias == np.round(k * pop.bias))
            and np.all(k * pop.i_bias == np.round(k * pop.i_bias))):
        return None
    exps: dict[str, int] = {}
    for p in projs:
        for e in sorted(range(ar.weight_exp_min, ar.weight_exp_max + 1), key=abs):  # 0 first
            q = p.weight * k / (ar.input_unit * 2.0**e)
            if (np.all(q == np.round(q)) and np.all(q % f.step == 0)
                    and q.min(initial=0) >= f.lo and q.max(initial=0) <= f.hi):
                exps[p.name] = e
                break
        else:
            return None
    return exps


def _v2(a: np.ndarray, floor: float = -math.inf) -> float:
    """The largest power of two dividing every non-zero entry, as its exponent (+inf if all
    are zero): a = odd * 2^v, read off the float's mantissa. Chunked, and it stops as soon as
    the answer is below `floor` (a float-trained layer does so in its first chunk), so time
    and memory stay small on large layers."""
    flat = np.asarray(a).reshape(-1)
    best = math.inf
    for i in range(0, flat.size, V2_CHUNK):
        c = flat[i:i + V2_CHUNK]
        c = np.abs(c[np.isfinite(c) & (c != 0)])
        if not c.size:
            continue
        m, x = np.frexp(c)
        mi = (m * 2.0**53).astype(np.int64)
        low = np.frexp((mi & -mi).astype(np.float64))[1] - 1
        best = min(best, float((x - 53 + low).min()))
        if best < floor:
            break
    return best


def _exact_scale(g: Graph, pop: Population, projs: list[Projection], ar: Arithmetic,
                 f: WeightGrid) -> tuple[float | None, dict[str, int] | None]:
    """A scale at which every weight, threshold and bias of `pop` is an integer of the format,
    kept exactly whatever the frontend: the model's native_scale if it declares one, else the
    largest power of two within the fill rule's reach (the threshold mantissa within its
    target; for a readout, the largest weight on the grid at exponent 0), or the smallest
    exact one if none is. (None, None) if none is exact. Candidates are screened with each
    array's 2-adic valuation and range (one pass over the weights), then the chosen one is
    checked in full."""
    native = g.meta.get("native_scale")
    if native:
        exps = _native_scale(g, pop, projs, ar, f, float(native))
        if exps is not None:
            return float(native), exps
    if g.meta.get("v_bound", {}).get(pop.name) or not any(p.weight.any() for p in projs):
        return None, None  # integrators with a bound, or nothing to keep: the fill rule
    vth = pop.v_th[np.isfinite(pop.v_th)]
    consts = np.concatenate([pop.bias, pop.i_bias])
    iu, vu, step = (int(x).bit_length() - 1 for x in (ar.input_unit, ar.vth_unit, f.step))
    # below this valuation no candidate scale can make a weight an integer of the grid
    hopeless = step + iu + ar.weight_exp_min - EXACT_LOG2_MAX
    w_stats = []
    for p in projs:
        v = _v2(p.weight, floor=hopeless)
        if v < hopeless:
            return None, None
        w_stats.append((v, float(p.weight.max(initial=0)), float(p.weight.min(initial=0))))
    v_th_v2, c_v2 = _v2(vth), _v2(consts)
    vth_max = float(np.abs(vth).max(initial=0))
    w_max = max(max(abs(hi), abs(lo)) for _, hi, lo in w_stats)
    if vth.size:
        reach = 2.0 ** vth_target_log2(ar) * ar.vth_unit / vth_max if vth_max else math.inf
    else:
        reach = ar.input_unit * f.hi / w_max if w_max else math.inf
    found: list[float] = []
    for j in range(EXACT_LOG2_MAX, -EXACT_LOG2_MAX - 1, -1):
        if v_th_v2 + j - vu < 0 or c_v2 + j < 0 or 2.0**j * vth_max / ar.vth_unit > ar.vth_max:
            continue
        if all(any(v + j - iu - e >= step and hi * 2.0 ** (j - iu - e) <= f.hi
                   and lo * 2.0 ** (j - iu - e) >= f.lo
                   for e in range(ar.weight_exp_min, ar.weight_exp_max + 1))
               for v, hi, lo in w_stats):
            found.append(2.0**j)
    for k in sorted(found, key=lambda k: (k > reach, -k if k <= reach else k)):
        exps = _native_scale(g, pop, projs, ar, f, k)
        if exps is not None and _encodable(ar, k * consts):
            return k, exps
    return None, None


def _encodable(ar: Arithmetic, values: np.ndarray) -> bool:
    """Whether the target's bias registers hold these integers exactly."""
    try:
        return bool(np.array_equal(ar.encode_bias(values), values))
    except FormatError:
        return False


def vth_target_log2(ar: Arithmetic) -> int:
    """Where the largest threshold mantissa goes: [2^9, 2^10), or lower on a narrow state so
    that 2^HEADROOM_BITS stay between the threshold (in state units) and the state's limit."""
    unit_log2 = ar.vth_unit.bit_length() - 1
    return min(VTH_TARGET_LOG2, ar.state_bits - 2 - HEADROOM_BITS - unit_log2)


def _fill_scale(g: Graph, pop: Population, ar: Arithmetic, f: WeightGrid, ref: np.ndarray,
                gain: float, groups: np.ndarray) -> np.ndarray:
    """k per group: the largest reference weight lands on the top of the grid, then one power
    of two puts the largest threshold mantissa at vth_target_log2; integrators with a v_bound
    are scaled down until k * bound fits half the state range."""
    spiking = pop.model in SPIKING
    target = vth_target_log2(ar)
    fallback = ref.max() if ref.max() > 0 else None
    if fallback is None:  # no incoming weights: scale from the threshold or bias
        vth = pop.v_th[np.isfinite(pop.v_th)]
        fallback = float(np.max(vth, initial=0) or np.max(np.abs(pop.bias), initial=0) or 1)
        fallback *= f.level / 2.0**target * ar.vth_unit / ar.input_unit
    ref = np.where(ref > 0, ref, fallback)
    base = ar.input_unit * f.level * gain / ref  # k with the primary projection at exponent 0
    vth_n = base[groups] * pop.v_th / ar.vth_unit
    fin = np.isfinite(vth_n)
    e0 = (target - _pow2_exp(float(vth_n[fin].max()))
          if spiking and fin.any() and vth_n[fin].max() > 0 else 0)
    e0 = min(max(e0, ar.weight_exp_min), ar.weight_exp_max)
    k_group = base * 2.0**e0
    bound = float(g.meta.get("v_bound", {}).get(pop.name, 0.0))
    over = float(k_group.max()) * bound / (ar.state_max / 2)
    if not spiking and over > 1:  # keep the reachable |v| inside half the state range
        k_group = k_group * 2.0 ** -math.ceil(math.log2(over))
    return k_group


# --- thresholds, decays and biases at scale k


def _neuron_params(pop: Population, projs: list[Projection], ar: Arithmetic, k: np.ndarray
                   ) -> tuple[Population, dict[str, float]]:
    spiking = pop.model in SPIKING
    current = pop.model in HAS_CURRENT
    if spiking:
        vth = np.round(k * pop.v_th / ar.vth_unit)
        if (vth > ar.vth_max).any():
            i = int(np.argmax(vth))
            wmax = max((float(np.abs(p.weight).max(initial=0)) for p in projs), default=0.0)
            ratio = (f" (the threshold is {pop.v_th[i] / wmax:.3g}x the largest weight)"
                     if wmax > 0 else "")
            raise QuantizeError(
                f"population '{pop.name}': threshold {pop.v_th[i]:g} needs mantissa {vth[i]:.0f} "
                f"at the scale its weights need, beyond the target's {ar.vth_max}{ratio}; "
                "rescale the model's weights or threshold")
    else:
        vth = np.full(pop.size, float(ar.vth_max))
    du = ar.current_registers(pop.du, current)
    dv = ar.voltage_registers(pop.dv)
    has = {k_: r != (0, 0) for k_, r in ar.param_ranges().items()}  # registers the soma has
    ib = (_encode(ar, pop.name, "current bias", k * pop.i_bias) if has["i_bias"]
          else np.zeros(pop.size))
    vreset = (_encode(ar, pop.name, "reset value", k * pop.v_reset) if has["v_reset"]
              else np.zeros(pop.size))
    bias = _encode(ar, pop.name, "bias", k * pop.bias)
    errors = {"du": _rel_err(pop.du, ar.current_decay(du)) if current else 0.0,
              "dv": _rel_err(pop.dv, ar.voltage_decay(dv)),
              "v_th": _rel_err(pop.v_th, vth * ar.vth_unit / k) if spiking else 0.0,
              "bias": _rel_err(pop.bias, bias / k)}
    return replace(pop, du=du, dv=dv, v_th=vth, bias=bias, i_bias=ib, v_reset=vreset), errors


# --- weights, one exponent per projection


def _quantize_weights(p: Projection, ar: Arithmetic, f: WeightGrid, k_group: np.ndarray,
                      eg: np.ndarray, r: np.ndarray, delta: np.ndarray,
                      exact_exp: int | None, log: dict[str, Any]) -> Projection:
    k_el = k_group[eg]
    scaled = p.weight * k_el  # integer input per spike, before the exponent
    scaled /= ar.input_unit  # (in place: at 100M synapses each temporary is 800 MB)
    if exact_exp is not None:
        wexp = exact_exp
    elif f.ternary:
        used = r > 0
        ratio = np.median((r * k_group / ar.input_unit / f.level)[used]) if used.any() else 1.0
        wexp = round(math.log2(ratio)) if ratio > 0 else 0
    else:
        m = max(float(scaled.max(initial=0)), -float(scaled.min(initial=0)))
        wexp = math.ceil(math.log2(m / f.level) - 1e-9) if m > 0 else 0
    wexp = min(max(wexp, ar.weight_exp_min), ar.weight_exp_max)
    x = scaled
    x /= 2.0**wexp
    clipped = 0 if f.ternary else int(np.count_nonzero(
        (x > f.level + f.step / 2) | (x < -(f.level + f.step / 2))))
    if f.ternary:
        q = f.level * np.sign(p.weight) * (np.abs(p.weight) > delta[eg])
    elif exact_exp is not None:
        q = x
    else:
        q = x / f.step
        np.round(q, out=q)
        q *= f.step
        np.clip(q, -f.level, f.level, out=q)
    del x, scaled
    w_eff = q * 2.0**wexp
    w_eff *= ar.input_unit
    w_eff /= k_el
    zeroed = int(np.count_nonzero((q == 0) & (p.weight != 0)))
    log["projections"][p.name] = {
        "weight_exp": wexp, "exact": exact_exp is not None,
        "sqnr_db": _sqnr_db(p.weight, w_eff), "clipped": clipped, "zeroed": zeroed}
    if clipped:
        log["warnings"].append(f"projection '{p.name}': {clipped} weights clipped to the "
                               f"{f.bits}-bit range at weight_exp {wexp} (limit "
                               f"{ar.weight_exp_min}..{ar.weight_exp_max})")
    q.setflags(write=False)  # q is this pass's own: the projection keeps it, not a copy
    return replace(p, weight=q, weight_exp=wexp, weight_bits=f.bits)


def _quantize_population(g: Graph, pop: Population, ctx: PassContext, f: WeightGrid,
                         opts: QuantizeOptions, log: dict[str, Any]
                         ) -> tuple[Population, list[Projection]]:
    _check_population(pop, ctx)
    ar = ctx.arith
    projs = g.incoming(pop.name)
    groups = _neuron_groups(g, pop, opts.per_channel)
    n_groups = int(groups.max()) + 1
    gain = float(opts.gain.get(pop.name, 1.0))
    stats = {}
    for p in projs:
        eg = _element_groups(p, groups, pop)
        stats[p.name] = (eg, *_group_stats(p.weight, eg, n_groups, f.ternary))
    exact, k_exact = None, None
    if not opts.per_channel and gain == 1.0 and not f.ternary:
        k_exact, exact = _exact_scale(g, pop, projs, ar, f)
    if exact is not None:
        k_group = np.full(n_groups, k_exact)
    else:
        ref = np.zeros(n_groups)
        for _, r, _ in stats.values():
            ref = np.maximum(ref, r)
        k_group = _fill_scale(g, pop, ar, f, ref, gain, groups)
    def at_scale(k_group: np.ndarray) -> tuple[Population, dict[str, float],
                                                 list[Projection], dict[str, Any]]:
        part: dict[str, Any] = {"projections": {}, "warnings": []}
        fixed_pop, errors = _neuron_params(pop, projs, ar, k_group[groups])
        out = [_quantize_weights(p, ar, f, k_group, *stats[p.name],
                                 None if exact is None else exact[p.name], part) for p in projs]
        return fixed_pop, errors, out, part

    fixed_pop, errors, out, part = at_scale(k_group)
    room = population_headroom(fixed_pop, out, ar)
    reach = opts.reach.get(pop.name,  # largest |u| on the calibration inputs (float units)
                           g.meta.get("current_reach", {}).get(pop.name))
    lower = _headroom_shift(pop, fixed_pop, out, ar, _deficit(room, reach, k_group))
    if lower and g.meta.get("native_scale") and exact is not None:
        lower = 0  # a model in a chip's own integers (lava-dl netx) runs as it was trained
    if lower and exact is not None:  # an exact scale stays exact, or is kept
        k_low = float(k_group[0]) / 2.0**lower
        exps = _native_scale(g, pop, projs, ar, f, k_low)
        consts = np.concatenate([pop.bias, pop.i_bias])
        if exps is None or not _encodable(ar, k_low * consts):
            lower = 0
        else:
            exact = exps
    if lower:  # the same weights one exponent lower, the threshold a power of two smaller
        k_group = k_group / 2.0**lower
        fixed_pop, errors, out, part = at_scale(k_group)
        room = population_headroom(fixed_pop, out, ar)
    k = k_group[groups]
    log["projections"].update(part["projections"])
    log["warnings"] += part["warnings"]
    head: dict[str, Any] = {**room.to_json(), "lowered_bits": lower}
    reached_bits = None
    if reach is not None:
        reached = float(k_group.max()) * reach
        reached_bits = math.log2(room.limit / reached) if reached > 0 else math.inf
        head.update(reached_current=round(reached, 3), reached_bits=(
            round(reached_bits, 3) if math.isfinite(reached_bits) else None))
    log["populations"][pop.name] = {
        "scale": float(k.max()) if opts.per_channel else float(k[0]),
        "exact": exact is not None, "rel_error": errors, "headroom": head}
    if room.bits < 0:
        _out_of_range(pop, room, reached_bits, opts, ar, ctx.target.name, log)
    if pop.model not in SPIKING:  # readouts: v / v_scale is v in the float model's units
        log["populations"][pop.name]["v_scale"] = (
            [float(x) for x in k] if len(set(k.tolist())) > 1 else float(k[0]))
    return fixed_pop, out


def _deficit(room: Headroom, reach: float | None, k_group: np.ndarray) -> float:
    """Bits by which the scale should come down: the worst case's, or, where calibration
    measured the current real inputs reach, what keeps that REACH_MARGIN_BITS inside."""
    if room.bits >= 0:
        return 0.0
    if reach is None:
        return -room.bits if math.isfinite(room.bits) else 0.0
    reached = float(k_group.max()) * reach
    if reached <= 0:
        return 0.0
    return max(0.0, REACH_MARGIN_BITS - math.log2(room.limit / reached))


def _out_of_range(pop: Population, room: Headroom, reached_bits: float | None,
                  opts: QuantizeOptions, ar: Arithmetic, target: str, log: dict[str, Any]
                  ) -> None:
    """A population whose worst case does not fit: accepted where calibration showed real
    inputs REACH_MARGIN_BITS inside the width, else refused (or warned: --allow-overflow)."""
    bound = "unbounded (a current that never decays)" if math.isinf(room.current) else (
        f"{room.current:.4g}")
    where = (f"population '{pop.name}': the worst-case current ({bound}, every excitatory "
             f"input at once) exceeds the {ar.state_bits}-bit state ({room.limit})")
    if reached_bits is not None and reached_bits >= REACH_MARGIN_BITS:
        log["warnings"].append(f"{where}; on the calibration inputs it stays "
                               f"{reached_bits:.1f} bits inside, so the scale is kept")
        return
    if not opts.allow_overflow:
        seen = ("" if reached_bits is None else
                f" (on the calibration inputs it comes within {reached_bits:.1f} bits)")
        raise QuantizeError(
            f"{where} of target {target}{seen}, and lowering its scale enough would leave "
            f"its threshold fewer than 2^{VTH_MIN_LOG2} levels or its weights fewer bits; "
            "give --calibrate X.npy with typical inputs (the scale is then kept where they "
            f"stay {REACH_MARGIN_BITS} bit inside), or --allow-overflow to keep the scale "
            "(snnc run and snnc report then count every wrap real inputs cause)")
    log["warnings"].append(f"{where}; lowering its scale would cost precision, so it is "
                           "kept (--allow-overflow); `snnc run` and `snnc report` count every "
                           "wrap and saturation that real inputs cause")


def _headroom_shift(pop: Population, fixed_pop: Population, out: list[Projection],
                    ar: Arithmetic, deficit: float) -> int:
    """Powers of two by which to lower a population's scale so that its current fits its
    state width (`deficit` bits short), where that costs no precision: every weight keeps
    its stored integer (its exponent stays in range) and the largest threshold mantissa stays
    at least 2^VTH_MIN_LOG2 (an exact scale must also stay exact: the caller checks). 0 when
    it fits already, or cannot fit for free."""
    if deficit <= 0 or pop.model not in SPIKING:
        return 0
    m = math.ceil(deficit - 1e-9)
    if any(p.weight_exp - m < ar.weight_exp_min for p in out):
        return 0
    vth = fixed_pop.v_th[np.isfinite(fixed_pop.v_th)]
    if not vth.size or float(vth.max()) / 2.0**m < 2.0**VTH_MIN_LOG2:
        return 0
    return m


@register_pass(stage_in=Stage.FLOAT, stage_out=Stage.FIXED, options=QuantizeOptions,
               reads=("native_scale", "v_bound", "current_reach"))
def quantize(graph: Graph, ctx: PassContext, opts: QuantizeOptions) -> Graph:
    """float -> the target's integers; records SQNR, clipping and rounding error"""
    if graph.meta.get("stage") == "fixed":
        raise QuantizeError("the model is already quantized")
    try:
        f = ctx.arith.grid(opts.weight_bits)
    except FormatError as e:
        raise QuantizeError(f"target {ctx.target.name}: {e}") from None
    chosen = "ternary" if f.ternary else str(f.bits)
    log: dict[str, Any] = {"weight_bits": chosen, "per_channel": opts.per_channel,
                           "gain": dict(sorted(opts.gain.items())), "projections": {},
                           "populations": {}, "warnings": []}
    pops, projs = {}, {}
    for name, pop in graph.populations.items():
        fp, ps = _quantize_population(graph, pop, ctx, f, opts, log)
        pops[name] = fp
        projs.update({p.name: p for p in ps})
    meta = {**graph.meta, "stage": "fixed", "semantics": ctx.arith.semantics,
            "target": ctx.target.name, "arithmetic": ctx.arith.to_json(), "quantize": log}
    return Graph(populations=pops, projections=projs, inputs=graph.inputs,
                 outputs=graph.outputs, meta=meta)


def dequantize(fixed: Graph) -> Graph:
    """The float model with the quantized parameters (weights, thresholds, biases, decays
    read back at each population's scale): what quantization alone leaves of a model, with
    none of the integer arithmetic. For fidelity measurements; per-channel scales are not
    recorded per neuron, so only per-layer quantization can be read back."""
    from snnc.compiler.fixed import arithmetic_of

    ar = arithmetic_of(fixed)
    log = fixed.meta.get("quantize") or {}
    if log.get("per_channel"):
        raise QuantizeError("dequantize reads per-layer scales; this model was quantized per "
                            "channel")
    scale = {k: float(v["scale"]) for k, v in log.get("populations", {}).items()}
    pops = {}
    for name, p in fixed.populations.items():
        k = scale[name]
        current = p.model in HAS_CURRENT
        spiking = p.model in SPIKING
        pops[name] = replace(
            p, du=ar.current_decay(p.du) if current else np.zeros(p.size),
            dv=ar.voltage_decay(p.dv),
            v_th=p.v_th * ar.vth_unit / k if spiking else np.full(p.size, np.inf),
            bias=p.bias / k, i_bias=p.i_bias / k, v_reset=p.v_reset / k)
    projs = {n: replace(p, weight=p.weight * 2.0**p.weight_exp * ar.input_unit / scale[p.dst],
                        weight_exp=0, weight_bits=0)
             for n, p in fixed.projections.items()}
    meta = {k: v for k, v in fixed.meta.items() if k not in ("stage", "arithmetic")}
    return Graph(populations=pops, projections=projs, inputs=fixed.inputs,
                 outputs=fixed.outputs, meta={**meta, "dequantized": True})
