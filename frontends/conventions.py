"""What each exporter means by a NIR neuron (`--source`; docs/frontends.md).

NIR states continuous-time equations; exporters write their discrete-time neurons into them
in different ways. A convention turns a node's (tau, r, w_in) into the IR's per-step decay and
input gain the way the exporting framework's own forward pass runs:

    nir, snntorch, norse  forward Euler at dt: decay dt/tau, gain r dt/tau (snnTorch writes
                          tau = dt/(1-beta), r = tau/dt at dt 1e-4, so decay 1-beta, gain 1)
    sinabs                tau in steps (dt 1), exact decay 1 - exp(-1/tau), gain r (sinabs's
                          own NIR reader uses norm_input=False); IF and LIF reset by
                          subtraction
    rockpool              exact decays exp(-dt/tau); dt recovered from r = tau exp(-dt/tau)/dt
                          as Rockpool writes it; the synaptic current decays in the step its
                          input arrives (u gain w_in exp(-dt/tau_syn)); subtraction reset
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from snnc.compiler import discretize as dz
from snnc.compiler.ir import ResetMode

SOURCES = ("nir", "snntorch", "sinabs", "rockpool", "norse")


@dataclass(frozen=True)
class Convention:
    name: str
    exact: bool  # exponential decays instead of forward Euler
    reset: ResetMode | None  # the framework's reset when the node does not say
    dt: float | None  # the framework's default step, if it has one

    def decay(self, dt: float, tau: np.ndarray) -> np.ndarray:
        return -np.expm1(-dt / tau) if self.exact else dz.decay(dt, tau)

    def leaky_gain(self, r: np.ndarray, tau: np.ndarray, dt: float) -> np.ndarray:
        if self.name == "sinabs":
            return np.asarray(r, dtype=np.float64)
        if self.name == "rockpool":
            return r * dt / (tau * np.exp(-dt / tau))
        return dz.leaky_gain(r, tau, dt)

    def cuba_gain(self, w_in: np.ndarray, tau_syn: np.ndarray, r: np.ndarray,
                  tau_mem: np.ndarray, dt: float) -> np.ndarray:
        if self.name == "rockpool":
            return w_in * np.exp(-dt / tau_syn) * self.leaky_gain(r, tau_mem, dt)
        if self.name == "sinabs":
            return w_in * r
        return dz.cuba_gain(w_in, tau_syn, r, tau_mem, dt)


CONVENTIONS = {
    "nir": Convention("nir", exact=False, reset=None, dt=None),
    "snntorch": Convention("snntorch", exact=False, reset=None, dt=1e-4),
    "norse": Convention("norse", exact=False, reset=None, dt=1e-3),
    "sinabs": Convention("sinabs", exact=True, reset=ResetMode.SUBTRACT, dt=1.0),
    "rockpool": Convention("rockpool", exact=True, reset=ResetMode.SUBTRACT, dt=None),
}


def rockpool_dt(tau: np.ndarray, r: np.ndarray) -> float:
    """The dt Rockpool wrote into r = tau exp(-dt/tau) / dt (one value for the node)."""
    from scipy.optimize import brentq

    tau, r = np.asarray(tau, dtype=np.float64).reshape(-1), np.asarray(r, dtype=np.float64)
    t0, r0 = float(tau[0]), float(np.broadcast_to(r, tau.shape)[0])
    f = lambda dt: t0 * np.exp(-dt / t0) / dt - r0  # noqa: E731 - decreasing in dt
    lo, hi = t0 * 1e-9, t0 * 50
    if not (r0 > 0 and f(lo) > 0 > f(hi)):
        raise ValueError(f"r={r0:g} with tau={t0:g} is not what Rockpool writes")
    return float(brentq(f, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps))
