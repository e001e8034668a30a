"""The fixed-point arithmetic of every target, in one place (DESIGN.md §4).

The quantizer, the fixed-point engine, the Lava backend and the reference simulator all call
these functions, so "what the chip computes" is written down exactly once.

Loihi (semantics "loihi"), bit-exact to Lava 0.10.0 PyLifModelBitAcc + Dense/Sparse BitAcc:

    a = shift(sum of arriving int weights, weight_exp)   per projection and delay, floor >>
    x = trunc0(u * (4096 - (du + 1)) / 4096) + (a << 6)  trunc0 = toward zero; note du + 1
    u = x - 2^24 if x > 2^23; x + 2^24 if x <= -2^23     (one wrap, as Lava writes it)
    v = clip(trunc0(v * (4096 - dv) / 4096) + u + bias, -(2^23 - 1), 2^23 - 1)
    s = v > (vth << 6);  v[s] = 0

In a Loihi fixed IR, a population's du, dv are the 12-bit registers, v_th the 17-bit mantissa,
bias the effective bias bias_mant << bias_exp; weights are the stored 8-bit integers.

Tianjic-style (semantics "tianjic"), our documented model of the Tianjic soma
(docs/fixed_point.md):

    acc = saturate32(sum of arriving int weights);  a = shift(acc, weight_exp)
    u = sat28(floor(u * alpha_u / 256) + a + i_bias)      CUBA models; otherwise u = a
    v = sat28(floor(v * alpha_v / 256) + u + beta)
    refractory: while r > 0, v = v_reset and no spike; r counts down
    s = v > v_th;  reset: zero -> v_reset, subtract -> v - v_th, none

In a Tianjic fixed IR, du/dv hold the retention multipliers alpha_u/alpha_v in 0..256, bias is
beta, i_bias the current bias, v_th and v_reset are integers in v units.
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

# --- Loihi / Lava constants (lava/proc/lif/models.py, AbstractPyLifModelFixed)
DECAY_UNITY = 4096
DECAY_SHIFT = 12
DU_OFFSET = 1  # Lava's ds_offset: the current decays by du + 1
MAX_UV = 2**23  # u wraps at +-2^23, v saturates at +-(2^23 - 1)
VTH_SHIFT = 6
ACT_SHIFT = 6
INT32 = 2**31

# --- Tianjic-style constants (docs/fixed_point.md)
T_ALPHA_ONE = 256
T_ALPHA_SHIFT = 8
T_STATE_BITS = 28
T_ACC_BITS = 32


class FixedOverflow(ArithmeticError):
    """A value left the range in which the documented arithmetic is defined."""


def shift_toward_zero(x: np.ndarray, s: int) -> np.ndarray:
    """sign(x) * (|x| >> s): Loihi truncates decays toward zero, not toward -inf."""
    return np.sign(x) * (np.abs(x) >> s)


def shift_sum(acc: np.ndarray, exp: int) -> np.ndarray:
    """The per-step weight sum scaled by 2**exp: << for exp > 0, floor >> otherwise (Lava)."""
    return acc << exp if exp > 0 else acc >> -exp


def saturate(x: np.ndarray, bits: int) -> np.ndarray:
    """Clip to a signed `bits`-wide two's complement range."""
    hi = 2 ** (bits - 1)
    return np.clip(x, -hi, hi - 1)


def lava_weight_grid(bits: int) -> tuple[int, int, int]:
    """(step, lowest, highest) stored weight of Lava's mixed-sign `bits`-bit weights.

    Lava clips to [-256, 255] and truncates with (W >> n) << n, n = 8 - bits + 1 (mixed sign).
    """
    step = 2 ** (8 - bits + 1)
    return step, -256, (255 // step) * step


def lava_truncate(w: np.ndarray, bits: int) -> np.ndarray:
    """What Lava's Dense BitAcc does to integer weights (mixed sign mode) before using them."""
    n = 8 - bits + 1
    return (np.clip(w, -256, 255).astype(np.int64) >> n) << n


def loihi_decay(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """trunc0(x * (4096 - d) / 4096) in int64 (the product never exceeds 2^35)."""
    return shift_toward_zero(x * (DECAY_UNITY - d), DECAY_SHIFT)


def loihi_update(u: np.ndarray, v: np.ndarray, a: np.ndarray, du: np.ndarray, dv: np.ndarray,
                 bias: np.ndarray, vth: np.ndarray, check_overflow: bool = True
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Lava PyLifModelBitAcc step on int64 arrays; returns new (u, v, spikes).

    check_overflow=False only where the caller has proved |a << 6| < 2^31 for every input.
    """
    act = a << ACT_SHIFT
    if check_overflow and act.size and np.abs(act).max() >= INT32:
        raise FixedOverflow("synaptic input << 6 exceeds int32, where Lava's arithmetic wraps; "
                            "lower the weights or weight_exp of the projections into it")
    x = loihi_decay(u, du + DU_OFFSET) + act
    u = np.where(x > MAX_UV, x - 2 * MAX_UV, x)
    u = np.where(u <= -MAX_UV, x + 2 * MAX_UV, u)
    v = np.clip(loihi_decay(v, dv) + u + bias, -MAX_UV + 1, MAX_UV - 1)
    s = v > (vth << VTH_SHIFT)
    v = np.where(s, 0, v)
    return u, v, s


def tianjic_accumulate(acc: np.ndarray, exp: int) -> np.ndarray:
    """The 32-bit dendrite accumulator (saturating), then the projection's shift."""
    return shift_sum(saturate(acc, T_ACC_BITS), exp)


def tianjic_decay(x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """floor(x * alpha / 256): the leak as a multiply and an arithmetic right shift."""
    return (x * alpha) >> T_ALPHA_SHIFT


# --- One neuron at a time: the same equations on Python ints, written so that numba can
# compile them (runtime/refsim_kernels.py). tests/engines/test_refsim.py holds them equal to
# the array versions above on random networks and every real model.


@register_jitable
def trunc0_scalar(x: int, s: int) -> int:
    """sign(x) * (|x| >> s) for one integer."""
    return x >> s if x >= 0 else -((-x) >> s)


@register_jitable
def shift_sum_scalar(acc: int, exp: int) -> int:
    return acc << exp if exp > 0 else acc >> -exp


@register_jitable
def loihi_neuron(u: int, v: int, a: int, du: int, dv: int, bias: int, vth: int
                 ) -> tuple[int, int, bool]:
    """One neuron of loihi_update: returns (u, v, spike); the caller checks |a << 6| < 2^31."""
    x = trunc0_scalar(u * (DECAY_UNITY - (du + DU_OFFSET)), DECAY_SHIFT) + (a << ACT_SHIFT)
    if x > MAX_UV:
        u = x - 2 * MAX_UV
    elif x <= -MAX_UV:
        u = x + 2 * MAX_UV
    else:
        u = x
    v = trunc0_scalar(v * (DECAY_UNITY - dv), DECAY_SHIFT) + u + bias
    v = min(max(v, -MAX_UV + 1), MAX_UV - 1)
    s = v > (vth << VTH_SHIFT)
    return u, (0 if s else v), s


@register_jitable
def _sat(x: int, bits: int) -> int:
    hi = 1 << (bits - 1)
    return min(max(x, -hi), hi - 1)


@register_jitable
def tianjic_neuron(u: int, v: int, ref: int, a: int, alpha_u: int, alpha_v: int, i_bias: int,
                   beta: int, vth: int, v_reset: int, reset: int, refractory: int,
                   current: bool, spiking: bool) -> tuple[int, int, int, bool]:
    """One neuron of the Tianjic soma (reset 0 zero, 1 subtract, 2 none): (u, v, ref, s)."""
    if current:
        u = _sat(((u * alpha_u) >> T_ALPHA_SHIFT) + a + i_bias, T_STATE_BITS)
    else:
        u = a
    v = _sat(((v * alpha_v) >> T_ALPHA_SHIFT) + u + beta, T_STATE_BITS)
    held = ref > 0
    if held:
        v = v_reset
    ref = max(ref - 1, 0)
    s = spiking and (v > vth) and not held
    if s:
        if refractory > 0:
            ref = refractory
        if reset == 0:
            v = v_reset
        elif reset == 1:
            v = _sat(v - vth, T_STATE_BITS)
    return u, v, ref, s
