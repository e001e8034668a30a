"""The fixed-point arithmetic of every target, in one place (docs/semantics.md).

One `Arithmetic` object per semantics, built from a target's `[format]` facts and nothing else:
the quantizer, the fixed-IR verifier, lower_delays, the netx reader, the Lava and Tianjic
backends, the fixed-point engine and the reference simulator's kernels all ask it. No chip
number is written anywhere else in the code; a target file that changes a fact changes what
every one of them computes.

Loihi (semantics "loihi"); with loihi2.toml's facts bit-exact to Lava 0.10.0's
PyLifModelBitAcc with Dense/Sparse/Delay* BitAcc. With U = 2^decay_bits, H = 2^(state_bits-1):

    a = shift(sum of arriving stored weights, weight_exp)   per projection and delay, floor >>
    x = trunc0(u * (U - (du + du_offset)) / U) + (a << act_shift)       trunc0: toward zero
    u = x - 2H if x > H;  x + 2H if x <= -H                         (one wrap, as Lava writes it)
    v = clip(trunc0(v * (U - (dv + dv_offset)) / U) + u + bias, -(H - 1), H - 1)
    s = v > (vth << vth_shift);  v[s] = 0

Loihi 2 silicon (semantics "loihi2_silicon", target loihi2_silicon): the same equations, and
two facts inferred from lava-dl's PilotNet recordings of the chip (docs/semantics.md): at a
spike step v reads `spike_v` (128), and the next step decays from 0; a periodic state reset
(IR reset_every N) recurs every N + `reset_period_extra` (1) steps.

du, dv are the decay registers, vth the threshold mantissa, bias the effective bias
bias_mant << bias_exp; weights are the stored integers, on the grid (W >> n) << n with
n = weight_bits - bits + 1 (mixed sign). |a << act_shift| must stay below 2^(compute_bits-1),
where Lava's int32 arithmetic would wrap.

Tianjic-style (semantics "tianjic"), our documented model of the Tianjic soma. With
A = 2^decay_bits and sat = saturation to state_bits:

    acc = saturate(sum of arriving stored weights, accumulator_bits);  a = shift(acc, weight_exp)
    u = sat(floor(u * alpha_u / A) + a + i_bias)       CUBA models; otherwise u = a
    v = sat(floor(v * alpha_v / A) + u + beta - v_th * pending)   pending: delayed_subtract
    refractory: while r > 0, v = v_reset and no spike; r counts down
    s = v > v_th;  reset: zero -> v_reset, subtract -> sat(v - v_th), none, delayed_subtract
                   -> pending for the next step (kept as r = -1; no refractory with it)

du, dv hold the retention multipliers alpha_u, alpha_v in 0..A; bias is beta; v_th and v_reset
are integers in v units.

Every operation exists twice, side by side: on numpy arrays (fixed-point engine, quantizer) and
on one neuron's Python ints, compiled by numba (`register_jitable`) for the reference
simulator, which passes `kernel_params()` in. The tests hold both equal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar, NamedTuple

import numpy as np
from numba.extending import register_jitable
from snnc.compiler.errors import SnncError
from snnc.compiler.facts import RESET_MODES, FactError, checked
from snnc.compiler.ir import HAS_CURRENT, SPIKING, Graph, Population, reset_due

WEIGHT_CHOICES = ("8", "4", "2", "ternary")  # what `--weight-bits` may ask for


class FixedOverflow(ArithmeticError):
    """A value left the range in which the documented arithmetic is defined."""


class FormatError(SnncError, ValueError):
    """A value or an option does not fit the target's format (the caller names the node)."""


# --- array primitives


def shift_toward_zero(x: np.ndarray, s: int) -> np.ndarray:
    """sign(x) * (|x| >> s): Loihi truncates decays toward zero, not toward -inf."""
    return np.sign(x) * (np.abs(x) >> s)


def shift_sum(acc: np.ndarray, exp: int) -> np.ndarray:
    """The per-step weight sum scaled by 2**exp: << for exp > 0, floor >> otherwise (Lava)."""
    return acc << exp if exp > 0 else acc >> -exp


def saturate(x: np.ndarray, bits: int) -> np.ndarray:
    """Clip to a signed `bits`-wide two's complement range."""
    hi = 1 << (bits - 1)
    return np.clip(x, -hi, hi - 1)


def _saturated(x: np.ndarray, bits: int, events: np.ndarray | None) -> np.ndarray:
    """saturate(x, bits), adding the values it clipped per sample (x: (B, n)) to
    events[:, 1]."""
    out = saturate(x, bits)
    if events is not None:
        events[:, 1] += (out != x).reshape(len(events), -1).sum(axis=1)
    return out


# --- scalar twins (numba): one neuron at a time, parameters passed in


@register_jitable
def trunc0_scalar(x: int, s: int) -> int:
    """sign(x) * (|x| >> s) for one int64: a negative x is floor-shifted after adding
    2^s - 1 (rounds toward zero without a branch, so the soma loop vectorizes)."""
    return (x + ((x >> 63) & ((1 << s) - 1))) >> s


@register_jitable
def shift_sum_scalar(acc: int, exp: int) -> int:
    return acc << exp if exp > 0 else acc >> -exp


@register_jitable
def saturate_scalar(x: int, bits: int) -> int:
    hi = 1 << (bits - 1)
    return min(max(x, -hi), hi - 1)


class LoihiKernel(NamedTuple):
    """What the Loihi soma kernel needs of the arithmetic (numba takes it as an argument)."""

    decay_unity: int
    decay_shift: int
    du_offset: int
    dv_offset: int
    act_shift: int
    vth_shift: int
    half: int  # 2^(state_bits - 1): u wraps there, v saturates one below
    input_limit: int  # |a << act_shift| must stay below this (2^(compute_bits - 1))
    spike_v: int  # what v holds at a spike step (Lava: 0); the next step decays from 0


class TianjicKernel(NamedTuple):
    """What the Tianjic soma kernel needs of the arithmetic."""

    alpha_shift: int
    state_bits: int
    accumulator_bits: int


@register_jitable
def loihi_neuron(u: int, v: int, ref: int, a: int, du: int, dv: int, bias: int, vth: int,
                 k: LoihiKernel) -> tuple[int, int, int, bool, int, int]:
    """One neuron of LoihiArithmetic.update: returns (u, v, ref, spike, u wrapped, v
    saturated) (the last two 0 or 1, for the range counters); ref is 1 after a spike step,
    whose v (k.spike_v) the next step replaces by 0. The caller checks the input limit."""
    x = (trunc0_scalar(u * (k.decay_unity - (du + k.du_offset)), k.decay_shift)
         + (a << k.act_shift))
    up, down = x > k.half, x <= -k.half  # u wraps once, into (-half, half]
    u = x - 2 * k.half * up + 2 * k.half * down
    v = v if ref <= 0 else 0
    raw = trunc0_scalar(v * (k.decay_unity - (dv + k.dv_offset)), k.decay_shift) + u + bias
    v = min(max(raw, -k.half + 1), k.half - 1)
    s = v > (vth << k.vth_shift)
    return u, (k.spike_v if s else v), np.int64(s), s, np.int64(up | down), np.int64(v != raw)


@register_jitable
def tianjic_accumulate_scalar(acc: int, exp: int, k: TianjicKernel) -> tuple[int, int]:
    """One accumulator: saturated to accumulator_bits, then the projection's shift; returns
    (input, saturated 0 or 1)."""
    sat = saturate_scalar(acc, k.accumulator_bits)
    return shift_sum_scalar(sat, exp), (1 if sat != acc else 0)


@register_jitable
def tianjic_neuron(u: int, v: int, ref: int, a: int, alpha_u: int, alpha_v: int, i_bias: int,
                   beta: int, vth: int, v_reset: int, reset: int, refractory: int,
                   current: bool, spiking: bool, k: TianjicKernel
                   ) -> tuple[int, int, int, bool, int]:
    """One neuron of TianjicArithmetic.update (reset 0 zero, 1 subtract, 2 none, 3 delayed
    subtract: ref = -1 marks a subtraction pending for this step); the last value returned
    counts the saturations of u and v this step (for the range counters)."""
    raw_u = ((u * alpha_u) >> k.alpha_shift) + a + i_bias  # every case is computed and the
    u_sat = saturate_scalar(raw_u, k.state_bits)  # neuron's chosen: no branch (vectorizes)
    u = u_sat if current else a
    sats = np.int64(current & (u_sat != raw_u))
    pending = vth if ref < 0 else 0
    raw = ((v * alpha_v) >> k.alpha_shift) + u + beta - pending
    v = saturate_scalar(raw, k.state_bits)
    sats += np.int64(v != raw)
    delayed = reset == 3  # fires above vth, subtracts it next step
    s_late = v > vth
    held = ref > 0  # the others
    v_held = v_reset if held else v
    s_now = (v_held > vth) & (not held)
    raw_sub = v_held - vth
    v_sub = saturate_scalar(raw_sub, k.state_bits)
    v_now = v_reset if s_now & (reset == 0) else (v_sub if s_now & (reset == 1) else v_held)
    ref_now = refractory if s_now & (refractory > 0) else max(ref - 1, 0)
    fired = spiking & (s_late if delayed else s_now)
    sats += np.int64(spiking & (not delayed) & s_now & (reset == 1) & (v_sub != raw_sub))
    v_out = v if (not spiking) | delayed else v_now
    ref_out = ref if not spiking else (-np.int64(s_late) if delayed else ref_now)
    return u, v_out, ref_out, fired, sats


# --- what the quantizer and the verifier need


@dataclass(frozen=True)
class WeightGrid:
    """The stored weights of one `--weight-bits` choice on a target."""

    bits: int  # precision recorded on projections (weight_bits)
    ternary: bool
    step: int  # stored weights are multiples of step
    level: int  # largest magnitude the quantizer uses (symmetric)
    lo: int  # stored range
    hi: int


@dataclass(frozen=True)
class Relay:
    """A relay neuron in fixed units: fires one step after any input and forgets it at once."""

    du: int
    dv: int
    v_th: int
    weight: int  # the relay synapse's stored weight, at weight_exp 0
    weight_bits: int


@dataclass(frozen=True)
class NeuronParams:
    """Per-neuron integer parameters of one population, as the soma reads them (int64, n)."""

    du: np.ndarray
    dv: np.ndarray
    bias: np.ndarray
    i_bias: np.ndarray
    v_th: np.ndarray
    v_reset: np.ndarray
    reset: np.ndarray  # codes: index into RESET_MODES
    refractory: np.ndarray
    current: bool
    spiking: bool


@dataclass(frozen=True, kw_only=True)
class Arithmetic:
    """A target's `[format]` facts, typed: the integer formats and the soma's equations.

    Subclasses add their own facts (FACTS lists every one, with its kind, so the target loader
    requires exactly what this module reads) and implement the methods below.
    """

    semantics: ClassVar[str] = ""
    reset_period_extra: ClassVar[int] = 0  # steps a chip adds to a periodic reset's interval
    FACTS: ClassVar[dict[str, str]] = {
        "weight_bits": "pos_int", "weight_min": "int", "weight_max": "int",
        "weight_exp_min": "int", "weight_exp_max": "int", "decay_bits": "pos_int",
        "state_bits": "pos_int", "delay_max": "nonneg_int", "current_bias": "bool",
        "resets": "resets", "refractory_max": "nonneg_int",
    }

    weight_bits: int
    weight_min: int
    weight_max: int
    weight_exp_min: int
    weight_exp_max: int
    decay_bits: int
    state_bits: int
    delay_max: int
    current_bias: bool
    resets: tuple[str, ...]
    refractory_max: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "resets", tuple(self.resets))
        self.check()

    # --- construction and serialization
    @classmethod
    def from_facts(cls, get: Callable[[str], Any]) -> Arithmetic:
        """Build from `get("format.<key>")`; FactError names the fact that is wrong."""
        kw = {}
        for name, kind in cls.FACTS.items():
            kw[name] = checked(f"format.{name}", get(f"format.{name}"), kind)
        try:
            return cls(**kw)
        except TypeError as e:  # pragma: no cover - FACTS and the fields disagree
            raise FactError("format", str(e)) from None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["resets"] = list(self.resets)
        return {"semantics": self.semantics, **d}

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> Arithmetic:
        """The arithmetic a fixed IR or a refsim program recorded."""
        cls = ARITHMETICS.get(str(d.get("semantics")))
        if cls is None:
            raise FactError("semantics", f"unknown arithmetic {d.get('semantics')!r}; known: "
                            f"{', '.join(ARITHMETICS)}")
        names = {f.name for f in fields(cls)}
        try:
            return cls(**{k: checked(f"format.{k}", d.get(k), kind)
                          for k, kind in cls.FACTS.items() if k in names})
        except (TypeError, ValueError) as e:
            if isinstance(e, FactError):
                raise
            raise FactError("arithmetic", f"a recorded arithmetic is malformed ({e})") from None

    def check(self) -> None:
        """Facts that contradict each other or the semantics' equations raise FactError."""
        if self.weight_min >= 0 or self.weight_max <= 0 or self.weight_min > self.weight_max:
            raise FactError("format.weight_min", f"the stored weight range {self.weight_min}.."
                            f"{self.weight_max} must hold negative and positive weights")
        if self.weight_exp_min > self.weight_exp_max:
            raise FactError("format.weight_exp_min", f"{self.weight_exp_min} exceeds "
                            f"weight_exp_max {self.weight_exp_max}")
        if not 2 <= self.state_bits <= 48:
            raise FactError("format.state_bits", f"{self.state_bits} outside 2..48 (the engines "
                            "compute in int64)")
        if not 1 <= self.weight_bits <= 16:
            raise FactError("format.weight_bits", f"{self.weight_bits} outside 1..16")
        if max(-self.weight_exp_min, self.weight_exp_max) > 24:
            raise FactError("format.weight_exp_max", "weight exponents beyond +-24 are not "
                            "supported")
        if not 1 <= self.decay_bits <= 16:
            raise FactError("format.decay_bits", f"{self.decay_bits} outside 1..16")
        if -self.weight_min > 1 << self.weight_bits or self.weight_max >= 1 << self.weight_bits:
            raise FactError("format.weight_min", f"the range {self.weight_min}.."
                            f"{self.weight_max} does not fit {self.weight_bits}-bit weights "
                            "(and a sign)")

    # --- periodic state reset (IR reset_every / reset_phase)
    def reset_due(self, every: Any, phase: Any, t: int) -> Any:
        """Whether neurons with reset_every `every` (0: never) and reset_phase `phase` have
        u, v and their refractory state cleared before step t (scalars or int arrays)."""
        return reset_due(every, phase, t, self.reset_period_extra)

    # --- derived values
    @property
    def state_max(self) -> int:
        """The largest state value: 2^(state_bits - 1) - 1."""
        return (1 << (self.state_bits - 1)) - 1

    def grid(self, choice: str | None) -> WeightGrid:
        """The weights of a --weight-bits choice (None: the target's full width)."""
        raise NotImplementedError

    @property
    def input_unit(self) -> int:
        """Integer state one unit of (shifted) synaptic input adds."""
        return 1

    @property
    def vth_unit(self) -> int:
        """Integer state one unit of the threshold register stands for."""
        return 1

    @property
    def vth_max(self) -> int:
        """The largest threshold register value."""
        raise NotImplementedError

    def current_registers(self, decay: np.ndarray, current: bool) -> np.ndarray:
        """Float current decay per step (fraction lost) -> the du register the soma reads;
        `current` False: a population without a current state."""
        raise NotImplementedError

    def voltage_registers(self, decay: np.ndarray) -> np.ndarray:
        """Float voltage decay per step -> the dv register."""
        raise NotImplementedError

    def current_decay(self, reg: np.ndarray) -> np.ndarray:
        """The fraction of u a du register makes the soma lose per step."""
        raise NotImplementedError

    def voltage_decay(self, reg: np.ndarray) -> np.ndarray:
        """The fraction of v a dv register makes the soma lose per step."""
        raise NotImplementedError

    def encode_bias(self, b: np.ndarray) -> np.ndarray:
        """Nearest representable bias (integer state units); FixedOverflow if none is."""
        raise NotImplementedError

    def param_ranges(self) -> dict[str, tuple[int, int]]:
        """Inclusive range of every integer population parameter in a fixed IR."""
        raise NotImplementedError

    def relay(self) -> Relay:
        """The registers of a relay neuron (lower_delays)."""
        raise NotImplementedError

    # --- the soma and the synapses, on arrays of shape (B, n)
    def traces_u(self, current: bool) -> bool:
        """Whether the soma keeps u as a state of its own (and engines trace it)."""
        return current

    def input_bound_ok(self, bound: float) -> bool:
        """True if a synaptic input of magnitude `bound` can never leave the defined range."""
        return True

    def accumulate(self, acc: np.ndarray, exp: int, events: np.ndarray | None = None
                   ) -> np.ndarray:
        """One (projection, delay) sum of stored weights -> its input to the soma; `events`
        (B, 2): wraps and saturations per sample are added to it (range counters)."""
        return shift_sum(acc, exp)

    def update(self, u: np.ndarray, v: np.ndarray, ref: np.ndarray, a: np.ndarray,
               p: NeuronParams, check: bool = True, events: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One soma step on arrays; returns the new (u, v, ref, spikes). check=False only
        where the caller proved the input can never leave the defined range."""
        raise NotImplementedError

    def kernel_params(self) -> tuple[int, ...]:
        """The NamedTuple the numba soma kernel of this semantics takes."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class LoihiArithmetic(Arithmetic):
    """Loihi's soma (module docstring); with loihi2's facts, Lava 0.10.0's."""

    semantics: ClassVar[str] = "loihi"
    spike_v: ClassVar[int] = 0  # what v holds at a spike step (Lava: the reset value 0)
    FACTS: ClassVar[dict[str, str]] = {
        **Arithmetic.FACTS, "du_offset": "nonneg_int", "dv_offset": "nonneg_int",
        "act_shift": "nonneg_int", "vth_shift": "nonneg_int", "vth_bits": "pos_int",
        "bias_mant_bits": "pos_int", "bias_exp_bits": "nonneg_int", "compute_bits": "pos_int",
    }

    du_offset: int
    dv_offset: int
    act_shift: int
    vth_shift: int
    vth_bits: int
    bias_mant_bits: int
    bias_exp_bits: int
    compute_bits: int

    def check(self) -> None:
        super().check()
        if self.resets != ("zero",):
            raise FactError("format.resets", f"{list(self.resets)}: the loihi soma resets v to "
                            "0 only; say [\"zero\"]")
        if self.refractory_max or self.current_bias:
            raise FactError("format.refractory_max" if self.refractory_max else
                            "format.current_bias", "the loihi soma has no refractory counter "
                            "and no current bias; set refractory_max = 0, current_bias = false")
        if self.du_offset > 1 or self.dv_offset > 1:
            raise FactError("format.du_offset", "du_offset and dv_offset are 1-bit registers "
                            "(0 or 1)")
        if max(self.act_shift, self.vth_shift) > 30:
            raise FactError("format.act_shift", "act_shift and vth_shift above 30 are not "
                            "supported")
        if self.compute_bits > 63 or self.compute_bits <= self.state_bits:
            raise FactError("format.compute_bits", f"{self.compute_bits} must exceed "
                            f"state_bits {self.state_bits} and be at most 63")
        if self.vth_bits + self.vth_shift > 62:
            raise FactError("format.vth_bits", "vth_bits + vth_shift exceeds 62 (the engines "
                            "compute in int64)")
        if self.bias_mant_bits < 2 or self.bias_exp_bits > 5 or (
                self.bias_mant_bits - 1 + self.bias_exp_max > 62):
            raise FactError("format.bias_mant_bits", "the bias needs a mantissa of at least 2 "
                            "bits, an exponent of at most 5 bits, and mant << exp within int64")

    # --- formats
    @property
    def decay_unity(self) -> int:
        return 1 << self.decay_bits

    @property
    def register_max(self) -> int:
        """du and dv are unsigned decay_bits-wide registers."""
        return self.decay_unity - 1

    @property
    def input_unit(self) -> int:
        return 1 << self.act_shift

    @property
    def vth_unit(self) -> int:
        return 1 << self.vth_shift

    @property
    def vth_max(self) -> int:
        """The largest threshold mantissa (unsigned vth_bits)."""
        return (1 << self.vth_bits) - 1

    @property
    def bias_mant_max(self) -> int:
        return (1 << (self.bias_mant_bits - 1)) - 1

    @property
    def bias_exp_max(self) -> int:
        return (1 << self.bias_exp_bits) - 1

    def grid_step(self, bits: int) -> int:
        """Stored `bits`-bit weights are multiples of 2^n, n = weight_bits - bits + 1 (mixed
        sign: one bit of the stored width is the sign)."""
        return 1 << (self.weight_bits - bits + 1)

    def grid(self, choice: str | None) -> WeightGrid:
        """Lava's mixed-sign weights: clipped to [weight_min, weight_max], then truncated to
        (W >> n) << n; ternary is the 2-bit grid."""
        ternary, bits = _choice(choice, self.weight_bits)
        step = self.grid_step(bits)
        hi = (self.weight_max // step) * step
        lo = -((-self.weight_min) // step) * step
        return WeightGrid(bits=bits, ternary=ternary, step=step, level=min(-lo, hi), lo=lo,
                          hi=hi)

    def current_registers(self, decay: np.ndarray, current: bool) -> np.ndarray:
        """du = round(decay U) - du_offset (the soma adds it back); without a current, the
        largest register: u keeps nothing of the last step when du_offset is 1 (loihi2), and
        1/U of it when the target's du_offset is 0."""
        if not current:
            return np.full(decay.shape, float(self.register_max))
        return np.clip(np.round(decay * self.decay_unity) - self.du_offset, 0,
                       self.register_max)

    def voltage_registers(self, decay: np.ndarray) -> np.ndarray:
        return np.clip(np.round(decay * self.decay_unity) - self.dv_offset, 0,
                       self.register_max)

    def current_decay(self, reg: np.ndarray) -> np.ndarray:
        return (reg + self.du_offset) / self.decay_unity

    def voltage_decay(self, reg: np.ndarray) -> np.ndarray:
        return (reg + self.dv_offset) / self.decay_unity

    def encode_bias(self, b: np.ndarray) -> np.ndarray:
        mant, exp = self.split_bias(b)
        return (mant * 2.0**exp).astype(np.float64)

    def split_bias(self, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bias (state units) -> (bias_mant, bias_exp): for each value the smallest exponent
        whose rounded mantissa fits; exact for any representable value."""
        b = np.asarray(b, dtype=np.float64)
        exp = np.zeros(b.shape, dtype=np.int64)
        mant = np.round(b)
        for e in range(self.bias_exp_max + 1):
            m = np.round(b / 2.0**e)
            todo = np.abs(mant) > self.bias_mant_max
            exp[todo], mant[todo] = e, m[todo]
        if b.size and (np.abs(mant) > self.bias_mant_max).any():
            i = int(np.argmax(np.abs(b)))
            raise FormatError(f"{b.reshape(-1)[i]:.4g} (integer units) exceeds the largest "
                              f"bias {self.bias_mant_max} << {self.bias_exp_max}")
        return mant.astype(np.int64), exp

    def param_ranges(self) -> dict[str, tuple[int, int]]:
        big = self.bias_mant_max << self.bias_exp_max
        return {"du": (0, self.register_max), "dv": (0, self.register_max),
                "v_th": (0, self.vth_max), "bias": (-big, big), "i_bias": (0, 0),
                "v_reset": (0, 0)}

    def relay(self) -> Relay:
        """du = dv = the largest register: u is that step's input only; the smallest positive
        stored weight makes v > 0 = vth, so the neuron fires and resets."""
        g = self.grid(None)
        r = Relay(du=self.register_max, dv=self.register_max, v_th=0, weight=g.step,
                  weight_bits=g.bits)
        kept = (r.weight << self.act_shift) * (
            self.decay_unity - (r.du + self.du_offset)) >> self.decay_bits
        if kept:
            raise FactError("format.du_offset", "a relay neuron cannot forget its input "
                            "within one step with these decay facts, so delays beyond "
                            "format.delay_max cannot be lowered; keep delays within it, or "
                            "use du_offset = 1")
        return r

    # --- soma
    def traces_u(self, current: bool) -> bool:
        return True  # every Loihi compartment has its current u (Lava's LIF traces it)

    @property
    def input_limit(self) -> int:
        return 1 << (self.compute_bits - 1)

    def input_bound_ok(self, bound: float) -> bool:
        return bound * self.input_unit < self.input_limit

    def decay(self, x: np.ndarray, d: np.ndarray, offset: int) -> np.ndarray:
        """trunc0(x * (U - (d + offset)) / U) in int64 (the product stays below 2^62)."""
        return shift_toward_zero(x * (self.decay_unity - (d + offset)), self.decay_bits)

    def update(self, u: np.ndarray, v: np.ndarray, ref: np.ndarray, a: np.ndarray,
               p: NeuronParams, check: bool = True, events: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One PyLifModelBitAcc step; check=False only where the caller proved the input
        limit can never be reached. `events` (B, 2) counts, per sample, the neurons whose u
        wrapped and whose v saturated."""
        act = a << self.act_shift
        if check and act.size and np.abs(act).max() >= self.input_limit:
            raise FixedOverflow(f"synaptic input << {self.act_shift} exceeds "
                                f"int{self.compute_bits}, where Lava's arithmetic wraps; lower "
                                "the weights or weight_exp of the projections into it")
        half = 1 << (self.state_bits - 1)
        x = self.decay(u, p.du, self.du_offset) + act
        u = np.where(x > half, x - 2 * half, x)
        u = np.where(u <= -half, x + 2 * half, u)
        if self.spike_v:  # after a spike step v restarts from 0 (loihi_neuron); in Lava's
            v = np.where(ref > 0, 0, v)  # model it is 0 already and ref stays unused
        raw = self.decay(v, p.dv, self.dv_offset) + u + p.bias
        v = np.clip(raw, -half + 1, half - 1)
        if events is not None:
            events[:, 0] += (u != x).sum(axis=1)
            events[:, 1] += (v != raw).sum(axis=1)
        s = v > (p.v_th << self.vth_shift)
        if self.spike_v:
            return u, np.where(s, self.spike_v, v), s.astype(np.int64), s
        return u, np.where(s, 0, v), ref, s

    def kernel_params(self) -> LoihiKernel:
        return LoihiKernel(self.decay_unity, self.decay_bits, self.du_offset, self.dv_offset,
                           self.act_shift, self.vth_shift, 1 << (self.state_bits - 1),
                           self.input_limit, self.spike_v)

    def lava_differences(self, lava: LoihiArithmetic) -> list[str]:
        """Where this format leaves what Lava computes (`lava`: loihi2's facts, Lava 0.10.0)."""
        out = [f"{k} {getattr(self, k)} (Lava: {getattr(lava, k)})" for k in (
            "weight_bits", "decay_bits", "du_offset", "dv_offset", "act_shift", "vth_shift",
            "state_bits", "compute_bits") if getattr(self, k) != getattr(lava, k)]
        for k, within in (("weight_min", self.weight_min >= lava.weight_min),
                          ("weight_max", self.weight_max <= lava.weight_max),
                          ("weight_exp_min", self.weight_exp_min >= lava.weight_exp_min),
                          ("weight_exp_max", self.weight_exp_max <= lava.weight_exp_max),
                          ("vth_bits", self.vth_bits <= lava.vth_bits),
                          ("bias_mant_bits", self.bias_mant_bits <= lava.bias_mant_bits),
                          ("bias_exp_bits", self.bias_exp_bits <= lava.bias_exp_bits),
                          ("delay_max", self.delay_max <= lava.delay_max)):
            if not within:
                out.append(f"{k} {getattr(self, k)} (Lava: {getattr(lava, k)})")
        return out


@dataclass(frozen=True, kw_only=True)
class TianjicArithmetic(Arithmetic):
    """The Tianjic-style soma (module docstring)."""

    semantics: ClassVar[str] = "tianjic"
    FACTS: ClassVar[dict[str, str]] = {**Arithmetic.FACTS, "accumulator_bits": "pos_int"}

    accumulator_bits: int

    def check(self) -> None:
        super().check()
        if not 2 <= self.accumulator_bits <= 62 - max(self.weight_exp_max, 0):
            raise FactError("format.accumulator_bits", f"{self.accumulator_bits} outside "
                            f"2..{62 - max(self.weight_exp_max, 0)} (the shifted sum must stay "
                            "within int64)")
        if self.refractory_max > 255:
            raise FactError("format.refractory_max", f"{self.refractory_max} exceeds 255")

    @property
    def alpha_one(self) -> int:
        """The retention multiplier that keeps everything: 2^decay_bits."""
        return 1 << self.decay_bits

    @property
    def vth_max(self) -> int:
        """The largest threshold: the state's."""
        return self.state_max

    def grid(self, choice: str | None) -> WeightGrid:
        """Symmetric integers of `bits` bits (ternary: -1, 0, +1) inside the stored range."""
        ternary, bits = _choice(choice, self.weight_bits)
        level = (1 << (bits - 1)) - 1
        return WeightGrid(bits=bits, ternary=ternary, step=1, level=level,
                          lo=max(self.weight_min, -level - 1), hi=min(self.weight_max, level))

    def current_registers(self, decay: np.ndarray, current: bool) -> np.ndarray:
        """alpha = round((1 - decay) A); without a current u is not a state (alpha unused)."""
        if not current:
            return np.zeros(decay.shape)
        return np.round((1 - decay) * self.alpha_one)

    def voltage_registers(self, decay: np.ndarray) -> np.ndarray:
        return np.round((1 - decay) * self.alpha_one)

    def current_decay(self, reg: np.ndarray) -> np.ndarray:
        return 1 - reg / self.alpha_one

    def voltage_decay(self, reg: np.ndarray) -> np.ndarray:
        return 1 - reg / self.alpha_one

    def encode_bias(self, b: np.ndarray) -> np.ndarray:
        r = np.round(np.asarray(b, dtype=np.float64))
        if r.size and (np.abs(r) > self.state_max).any():
            raise FormatError(f"{float(np.max(np.abs(r))):.4g} exceeds the "
                              f"{self.state_bits}-bit state")
        return r

    def param_ranges(self) -> dict[str, tuple[int, int]]:
        s = (-self.state_max - 1, self.state_max)
        return {"du": (0, self.alpha_one), "dv": (0, self.alpha_one), "v_th": s, "bias": s,
                "i_bias": s, "v_reset": s}

    def relay(self) -> Relay:
        """Retention 0, threshold 0, a weight of 1 (2-bit, or narrower if the target's
        weights are): v = a > 0 fires and resets."""
        return Relay(du=0, dv=0, v_th=0, weight=1, weight_bits=min(2, self.weight_bits))

    def accumulate(self, acc: np.ndarray, exp: int, events: np.ndarray | None = None
                   ) -> np.ndarray:
        """The dendrite accumulator saturates, then the projection's shift."""
        return shift_sum(_saturated(acc, self.accumulator_bits, events), exp)

    def retain(self, x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """floor(x * alpha / A): the leak as a multiply and an arithmetic right shift."""
        return (x * alpha) >> self.decay_bits

    def update(self, u: np.ndarray, v: np.ndarray, ref: np.ndarray, a: np.ndarray,
               p: NeuronParams, check: bool = True, events: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        bits = self.state_bits
        u = _saturated(self.retain(u, p.du) + a + p.i_bias, bits, events) if p.current else a
        pending = np.where(ref < 0, p.v_th, 0)
        v = _saturated(self.retain(v, p.dv) + u + p.bias - pending, bits, events)
        if not p.spiking:
            return u, v, ref, np.zeros(v.shape, dtype=bool)
        delayed = p.reset == 3
        if delayed.all():
            s = v > p.v_th
            return u, v, np.where(s, -1, 0), s
        held = ref > 0
        v = np.where(held, p.v_reset, v)
        ref = np.maximum(ref - 1, 0)
        s = (v > p.v_th) & ~held
        ref = np.where(s & (p.refractory > 0), p.refractory, ref)
        v = np.where(s & (p.reset == 0), p.v_reset, v)
        sub = s & (p.reset == 1)
        v = np.where(sub, _saturated(np.where(sub, v - p.v_th, 0), bits, events), v)
        return u, v, ref, s

    def kernel_params(self) -> TianjicKernel:
        return TianjicKernel(self.decay_bits, self.state_bits, self.accumulator_bits)


def _choice(choice: str | None, stored_bits: int) -> tuple[bool, int]:
    """(ternary, bits) of a --weight-bits choice (None: the stored width) on a target storing
    `stored_bits`."""
    if choice is None:
        return False, stored_bits
    if choice not in WEIGHT_CHOICES:
        raise FormatError(f"--weight-bits must be one of {', '.join(WEIGHT_CHOICES)}, got "
                          f"{choice!r}")
    ternary = choice == "ternary"
    bits = 2 if ternary else int(choice)
    if bits > stored_bits:
        raise FormatError(f"the target stores at most {stored_bits}-bit weights; asked for "
                          f"{bits}")
    return ternary, bits


@dataclass(frozen=True, kw_only=True)
class LoihiSiliconArithmetic(LoihiArithmetic):
    """Loihi 2 as the chip computes (module docstring): Lava's soma plus the two facts the
    silicon recordings show; Lava's own model is LoihiArithmetic."""

    semantics: ClassVar[str] = "loihi2_silicon"
    FACTS: ClassVar[dict[str, str]] = {
        **LoihiArithmetic.FACTS, "spike_v": "int", "reset_period_extra": "nonneg_int"}

    spike_v: int  # type: ignore[misc]  # facts here, class constants in Lava's model
    reset_period_extra: int  # type: ignore[misc]

    def check(self) -> None:
        super().check()
        if abs(self.spike_v) > self.state_max:
            raise FactError("format.spike_v", f"{self.spike_v} does not fit the "
                            f"{self.state_bits}-bit state")


ARITHMETICS: dict[str, type[Arithmetic]] = {
    a.semantics: a for a in (LoihiArithmetic, LoihiSiliconArithmetic, TianjicArithmetic)}



def without_bias(p: NeuronParams) -> NeuronParams:
    """The same neurons before their bias onset (bias and current bias 0)."""
    return replace(p, bias=np.zeros_like(p.bias), i_bias=np.zeros_like(p.i_bias))


def neuron_params(pop: Population) -> NeuronParams:
    """The integer parameters of a fixed-IR population."""
    def ints(a: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(a), a, 0).astype(np.int64)

    n = pop.size
    return NeuronParams(du=ints(pop.du), dv=ints(pop.dv), bias=ints(pop.bias),
                        i_bias=ints(pop.i_bias), v_th=ints(pop.v_th), v_reset=ints(pop.v_reset),
                        reset=np.full(n, RESET_MODES.index(pop.reset.value), dtype=np.int64),
                        refractory=np.full(n, pop.refractory, dtype=np.int64),
                        current=pop.model in HAS_CURRENT, spiking=pop.model in SPIKING)


def arithmetic_of(graph: Graph) -> Arithmetic:
    """The arithmetic a fixed IR was quantized for (recorded by the quantize pass)."""
    d = graph.meta.get("arithmetic") if graph.meta.get("stage") == "fixed" else None
    if not isinstance(d, Mapping):
        raise FactError("arithmetic", "not a fixed IR: compile the model first (`snnc compile "
                        "MODEL --target loihi2`)")
    return Arithmetic.from_json(d)

