"""Forward-Euler discretization of NIR's continuous-time neurons with step dt (docs/semantics.md).

The NIR frontend uses the forward formulas; the NIR exporter inverts them exactly (to the last
bit, by `solve_exact`), so NIR -> IR -> NIR -> IR is a fixed point.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

DEFAULT_DT = 1e-4  # seconds: the NIR paper's dt, used when a graph has time constants
DISCRETE_DT = 1.0  # graphs with no time constant (e.g. Sinabs IF nets) are per-step already


def decay(dt: float, tau: np.ndarray) -> np.ndarray:
    """Fraction lost per step: tau dx/dt = -x  ->  x[t] = (1 - dt/tau) x[t-1]."""
    return dt / tau


# Gains are written as r / (tau/dt) rather than r*dt/tau: with r = tau/dt the quotient is
# exactly 1.0 in floating point, which is what lets the exporter invert them bit for bit.

def leaky_gain(r: np.ndarray, tau: np.ndarray, dt: float) -> np.ndarray:
    """Input gain of tau dv/dt = (v_leak - v) + R I: R * dt / tau."""
    return r / (tau / dt)


def integrator_gain(r: np.ndarray, dt: float) -> np.ndarray:
    """Input gain of dv/dt = R I: R * dt."""
    return r / (1.0 / dt)


def cuba_gain(w_in: np.ndarray, tau_syn: np.ndarray, r: np.ndarray, tau_mem: np.ndarray,
              dt: float) -> np.ndarray:
    """Gain of a CUBA neuron with u rescaled so that v adds u with gain one."""
    return (w_in / (tau_syn / dt)) * (r / (tau_mem / dt))


def leak_bias(v_leak: np.ndarray, tau: np.ndarray, dt: float) -> np.ndarray:
    """Constant drive of the leak towards v_leak: v_leak * dt / tau."""
    return v_leak / (tau / dt)


def solve_exact(target: np.ndarray, forward: Callable[[np.ndarray], np.ndarray],
                x0: np.ndarray, max_ulps: int = 64) -> np.ndarray:
    """Elementwise x near x0 with forward(x) == target exactly, searching nearby floats."""
    target = np.asarray(target, dtype=np.float64)
    x0 = np.broadcast_to(np.asarray(x0, dtype=np.float64), target.shape).copy()
    x = x0.copy()
    ok = forward(x) == target
    up, down = x0.copy(), x0.copy()
    for _ in range(max_ulps):
        if ok.all():
            break
        up, down = np.nextafter(up, np.inf), np.nextafter(down, -np.inf)
        for cand in (up, down):
            hit = ~ok & (forward(cand) == target)
            x[hit] = cand[hit]
            ok |= hit
    return x
