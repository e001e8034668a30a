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
        self.home = a["neuron.home"]
        if not detailed:
            return
        from snnc.runtime.refsim_timing import batch_latency  # numba: only for timed runs

        self.batch_latency = batch_latency
        self.core_synops = np.zeros((steps, nc), dtype=np.int64)
        self.core_spikes = np.zeros((steps, nc), dtype=np.int64)
        self.layer_synops = np.zeros((steps, nl), dtype=np.int64)
        self.layer_spikes = np.zeros((steps, nl), dtype=np.int64)
        self.latency = np.zeros((steps, batch))
        self.critical = np.zeros((steps, batch), dtype=np.int64)
        w, h = (int(v) for v in sim.idx["grid"])
        self.grid = (w, h)
        self.link_count = np.zeros(w * h * 4, dtype=np.int64)
        self.per_sample.update(sample_link_ew=np.zeros(batch, dtype=np.int64),
                               sample_link_ns=np.zeros(batch, dtype=np.int64))

    def record(self, t: int, ev: Any) -> None:
        """ev: the refsim step's events (StepEvents); counted from its event list, in one
        pass over the neurons that fired."""
        from snnc.runtime import refsim_kernels as kn

        a, sim = self.sim.a, self.sim
        sent = np.zeros((self.batch, 3), dtype=np.int64)  # per sample: spikes, packets, hops
        cores, layers = (sim.nc, len(sim.pops)) if self.detailed else (0, 0)
        rows = (np.zeros((self.batch, cores), dtype=np.int64),
                np.zeros((self.batch, layers), dtype=np.int64))
        (kn.sent_counts_serial if self.batch == 1 else kn.sent_counts)(
            ev.ev_ptr, ev.ev_src, sim.n, a["neuron.spike_packets"], a["neuron.spike_hops"],
            self.home, self.layer_of, sent, *rows)
        c, ps = self.cnt, self.per_sample
        c["spikes"][t], c["packets"][t], c["hops"][t] = sent.sum(axis=0)
        c["synops"][t] = int(ev.synops.sum())
        c["neuron_updates"][t] = self.batch * sim.n
        ps["sample_spikes"] += sent[:, 0]
        ps["sample_packets"] += sent[:, 1]
        ps["sample_hops"] += sent[:, 2]
        ps["sample_synops"] += ev.synops.sum(axis=1)
        ps["sample_neuron_updates"] += sim.n
        if not self.detailed:
            return
        self.core_spikes[t], self.layer_spikes[t] = rows[0].sum(axis=0), rows[1].sum(axis=0)
        self.core_synops[t] = ev.synops.sum(axis=0)
        self.layer_synops[t] = ev.layer_synops.sum(axis=0)
        tm, (w, h) = sim.idx["timing"], self.grid
        links = np.zeros((self.batch, w * h * 4), dtype=np.int64)
        self.batch_latency(
            ev.arriving, ev.ev_ptr, ev.ev_src, sim.n, self.home, a["core.neurons"],
            a["core.kind"], a["core.soma"], a["core.gx"], a["core.gy"], w, h,
            a["neuron.dest_ptr"], a["neuron.dests"], sim.idx["routing"] == "relay",
            tm["cycles_per_synop"], tm["cycles_per_neuron_update"], tm["cycles_per_spike"],
            np.array(tm["hop_latency_cycles"], dtype=np.float64), tm["link_occupancy_cycles"],
            links, self.latency[t], self.critical[t])
        self.link_count += links.sum(axis=0)
        d = links.reshape(self.batch, -1, 4).sum(axis=1)  # per sample and direction
        ps["sample_link_ew"] += d[:, 0] + d[:, 1]
        ps["sample_link_ns"] += d[:, 2] + d[:, 3]

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
