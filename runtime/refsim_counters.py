"""What the simulated chip counts while it runs: a recorder of refsim's step events.

Always: per step synaptic ops, neuron updates, spikes, packets and hops (summed over the
batch), and the same per sample (summed over the steps: `sample_*`, for per-inference figures
such as `snnc eval`'s). With `detailed` (`snnc run --counters`, reports): per step and core
synaptic ops and spikes, per step and layer (population) the same, packets per directed link,
and the latency of every step and sample from the timing model (runtime/refsim_timing.py),
its critical core and, for targets with a step budget, whether the step fits; per sample, the
link traversals east-west and north-south (`sample_link_ew`, `sample_link_ns`). Synaptic ops
are counted at the step their events are sent.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class CounterRecorder:
    """Counts the events of every step (module docstring)."""

    BASIC = ("synops", "neuron_updates", "spikes", "packets", "hops")

    def __init__(self, sim: Any, batch: int, steps: int, detailed: bool):
        self.sim, self.batch, self.detailed = sim, batch, detailed
        a, nc, nl = sim.a, sim.nc, len(sim.pops)
        self.cnt = {k: np.zeros(steps, dtype=np.int64) for k in self.BASIC}
        self.per_sample = {f"sample_{k}": np.zeros(batch, dtype=np.int64) for k in self.BASIC}
        self.layer_of = sim.layer_of
        if not detailed:
            return
        from snnc.runtime.refsim_timing import step_latency  # numba: only for timed runs

        self.step_latency = step_latency
        self.core_synops = np.zeros((steps, nc), dtype=np.int64)
        self.core_spikes = np.zeros((steps, nc), dtype=np.int64)
        self.layer_synops = np.zeros((steps, nl), dtype=np.int64)
        self.layer_spikes = np.zeros((steps, nl), dtype=np.int64)
        self.latency = np.zeros((steps, batch))
        self.critical = np.zeros((steps, batch), dtype=np.int64)
        w, h = (int(v) for v in sim.idx["grid"])
        self.grid = (w, h)
        self.link_count = np.zeros(w * h * 4, dtype=np.int64)
        self.links = self.link_count.reshape(-1, 4)
        self.per_sample.update(sample_link_ew=np.zeros(batch, dtype=np.int64),
                               sample_link_ns=np.zeros(batch, dtype=np.int64))
        self.home = a["neuron.home"]

    def record(self, t: int, ev: Any) -> None:
        """ev: the refsim step's events (StepEvents)."""
        a = self.sim.a
        spikes = ev.spikes
        fired = np.flatnonzero(spikes.any(axis=0))
        nspk = spikes[:, fired].sum(axis=0)
        c = self.cnt
        c["spikes"][t] = int(nspk.sum())
        c["synops"][t] = int(ev.synops.sum())
        c["neuron_updates"][t] = self.batch * self.sim.n
        c["packets"][t] = int((nspk * a["neuron.spike_packets"][fired]).sum())
        c["hops"][t] = int((nspk * a["neuron.spike_hops"][fired]).sum())
        ps, fs = self.per_sample, spikes[:, fired]
        ps["sample_spikes"] += fs.sum(axis=1)
        ps["sample_synops"] += ev.synops.sum(axis=1)
        ps["sample_neuron_updates"] += self.sim.n
        ps["sample_packets"] += fs @ a["neuron.spike_packets"][fired].astype(np.int64)
        ps["sample_hops"] += fs @ a["neuron.spike_hops"][fired].astype(np.int64)
        if not self.detailed:
            return
        nc = self.sim.nc
        self.core_synops[t] = ev.synops.sum(axis=0)
        self.core_spikes[t] = np.bincount(self.home[fired], weights=nspk, minlength=nc)
        self.layer_synops[t] = ev.layer_synops.sum(axis=0)
        self.layer_spikes[t] = np.bincount(self.layer_of[fired], weights=nspk,
                                           minlength=len(self.sim.pops))
        for b in range(self.batch):
            before = self.links.sum(axis=0)
            self.latency[t, b], self.critical[t, b] = self._latency(ev.arriving[b], spikes[b])
            d = self.links.sum(axis=0) - before
            ps["sample_link_ew"][b] += d[0] + d[1]
            ps["sample_link_ns"][b] += d[2] + d[3]

    def _latency(self, arriving: np.ndarray, spikes: np.ndarray) -> tuple[float, int]:
        a, tm, home = self.sim.a, self.sim.idx["timing"], self.home
        f = np.flatnonzero(spikes)
        f = f[np.argsort(home[f], kind="stable")]
        per_core = np.bincount(home[f], minlength=self.sim.nc).astype(np.float64)
        w, h = self.grid
        lt, crit, _ = self.step_latency(
            arriving.astype(np.float64), per_core, f, home, a["core.neurons"], a["core.kind"],
            a["core.soma"], a["core.gx"], a["core.gy"], w, h, a["neuron.dest_ptr"],
            a["neuron.dests"], self.sim.idx["routing"] == "relay", tm["cycles_per_synop"],
            tm["cycles_per_neuron_update"], tm["cycles_per_spike"],
            np.array(tm["hop_latency_cycles"], dtype=np.float64), tm["link_occupancy_cycles"],
            self.link_count)
        return lt, crit

    def result(self, steps: int) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {**self.cnt, **self.per_sample}
        if not self.detailed:
            return out
        tm = self.sim.idx["timing"]
        w, h = self.grid
        out.update({
            "core_synops": self.core_synops, "core_spikes": self.core_spikes,
            "latency_cycles": self.latency, "latency_seconds": self.latency / tm["clock_hz"],
            "critical_core": self.critical, "link_packets": self.link_count.reshape(h, w, 4),
            "layer_spikes": self.layer_spikes, "layer_synops": self.layer_synops,
            "layer_neuron_updates": np.tile(
                np.array([p["size"] * self.batch for p in self.sim.idx["populations"]]),
                (steps, 1))})
        if tm["cycles_per_step"] is not None:
            out["fits_budget"] = self.latency <= tm["cycles_per_step"]
        return out
