"""The reference hardware simulator: runs a compiled core map (refsim/program.npz), not the IR.

Each step, in hardware order:
  1. every core sums the weights of the axon events that arrive now (sent at t - 1 - delay),
     one accumulator per (neuron, projection, delay); partial-sum cores add into the same
     accumulators their soma reads (integer sums: where they are added does not matter);
  2. each accumulator is shifted (Loihi) or saturated to 32 bits and shifted (Tianjic), and
     the soma updates every neuron in the target's fixed-point arithmetic (compiler/fixed.py);
  3. each neuron that fires is sent along its routing-table entries to the axons of the cores
     that listed it (event-driven, numba); the host writes input spikes into axons.
State is global arrays indexed by neuron and accumulator slot, over a batch of inputs.
Counters (with counters=True; synaptic ops are counted at the step their events are sent):
per step synaptic ops, neuron updates, spikes, packets, hops; per step and core synaptic ops
and spikes; per step and layer (population) the same; packets per link; latency per step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from snnc.backends.refsim import load_index
from snnc.compiler.errors import InputError, SnncError


class RefSimError(SnncError):
    """The simulated chip left the range its arithmetic defines."""


@dataclass
class SimResult:
    outputs: dict[str, np.ndarray]
    traces: dict[str, np.ndarray]
    steps: int
    counters: dict[str, np.ndarray] = field(default_factory=dict)
    layers: list[str] = field(default_factory=list)  # populations, in the layer_* counters' order


class RefSim:
    """Load a program once; `run` many times."""

    def __init__(self, arrays: Mapping[str, np.ndarray]):
        self.a = {k: np.asarray(v) for k, v in arrays.items() if k != "index"}
        self.idx = load_index(dict(arrays))
        self.semantics = self.idx["semantics"]
        self.n = int(self.idx["n_neurons"])
        self.ns = int(self.idx["n_sources"])
        self.nc = int(self.idx["n_cores"])
        a = self.a
        self.n_slots = len(a["slot.exp"])
        self.depth = int(a["syn.delay"].max(initial=0)) + 1
        self.slot_ptr = a["slot.ptr"]
        self.exp = a["slot.exp"]
        self.pops = {p["name"]: p for p in self.idx["populations"]}
        self.inputs = {p["name"]: p for p in self.idx["inputs"]}
        self.core_neurons = np.bincount(a["neuron.home"], minlength=self.nc)

    # --- inputs
    def _inputs(self, inputs: Mapping[str, np.ndarray]) -> tuple[int, int, dict[str, np.ndarray]]:
        missing = sorted(set(self.inputs) - set(inputs))
        extra = sorted(set(inputs) - set(self.inputs))
        if missing or extra:
            raise InputError(f"model inputs are {sorted(self.inputs)}; missing {missing}, "
                             f"unknown {extra}")
        batch = steps = None
        out = {}
        for k, x in inputs.items():
            x = np.asarray(x)
            size = self.inputs[k]["size"]
            if x.ndim < 2 or int(np.prod(x.shape[2:])) != size:
                raise InputError(f"input '{k}' has shape {x.shape}; expected (batch, steps, "
                                 f"*{tuple(self.inputs[k]['shape'])})")
            if batch is not None and (x.shape[0], x.shape[1]) != (batch, steps):
                raise InputError("all inputs need the same batch size and number of steps")
            batch, steps = x.shape[0], x.shape[1]
            if not np.isin(x, (0, 1)).all():
                raise InputError("the simulated chip takes binary spikes (0/1) as input; "
                                 "encode graded values as spikes first")
            out[k] = x.reshape(batch, steps, size).astype(bool)
        if batch is None:
            raise InputError("the model has no input port; nothing to run")
        return batch, steps, out

    # --- the soma phase (runtime/refsim_kernels.py, arithmetic from compiler/fixed.py)
    def _update(self, st: dict[str, np.ndarray], ring_t: np.ndarray) -> np.ndarray:
        from snnc.runtime.refsim_kernels import update_loihi, update_tianjic

        a = self.a
        spikes = np.zeros(st["u"].shape, dtype=np.bool_)
        if self.semantics == "loihi":
            over = np.empty(st["u"].shape[0], dtype=np.int64)
            update_loihi(ring_t, self.slot_ptr, self.exp, st["u"], st["v"], a["neuron.du"],
                         a["neuron.dv"], a["neuron.bias"], a["neuron.v_th"], spikes, over)
            if (over >= 0).any():
                i = int(over[over >= 0][0])
                raise RefSimError(f"population '{self._pop_of(i)}': synaptic input << 6 exceeds "
                                  "int32, where Lava's arithmetic wraps; lower the weights or "
                                  "weight_exp of the projections into it")
        else:
            update_tianjic(ring_t, self.slot_ptr, self.exp, st["u"], st["v"], st["ref"],
                           a["neuron.du"], a["neuron.dv"], a["neuron.i_bias"],
                           a["neuron.bias"], a["neuron.v_th"], a["neuron.v_reset"],
                           a["neuron.reset"], a["neuron.refractory"],
                           a["neuron.current"].astype(np.bool_),
                           a["neuron.spiking"].astype(np.bool_), spikes)
        return spikes

    def _pop_of(self, neuron: int) -> str:
        for p in self.idx["populations"]:
            if p["offset"] <= neuron < p["offset"] + p["size"]:
                return str(p["name"])
        return "?"

    # --- the run loop
    def run(self, inputs: Mapping[str, np.ndarray], steps: int | None = None,
            trace: bool = False, counters: bool = False,
            on_step: Callable[[int], None] | None = None) -> SimResult:
        """inputs: port -> (B, T_in, *shape) spikes. Steps beyond T_in receive no input."""
        from snnc.runtime.refsim_kernels import deliver
        from snnc.runtime.refsim_timing import step_latency

        a = self.a
        batch, t_in, xs = self._inputs(inputs)
        steps = t_in if steps is None else int(steps)
        if steps < 1:
            raise InputError(f"--steps must be at least 1, got {steps}")
        n = self.n
        st = {k: np.zeros((batch, n), dtype=np.int64) for k in ("u", "v", "ref")}
        ring = np.zeros((self.depth, batch, self.n_slots), dtype=np.int64)
        spikes = np.zeros((batch, n), dtype=bool)
        pops = self.idx["populations"]
        traces: dict[str, np.ndarray] = {}
        if trace:
            for p in pops:
                traces[f"v:{p['name']}"] = np.zeros((batch, steps, p["size"]), dtype=np.int64)
                if self.semantics == "loihi" or p["current"]:
                    traces[f"u:{p['name']}"] = np.zeros((batch, steps, p["size"]), np.int64)
                if p["spiking"]:
                    traces[f"s:{p['name']}"] = np.zeros((batch, steps, p["size"]), np.uint8)
        outs = {o["name"]: np.zeros((batch, steps, self.pops[o["source"]]["size"]),
                                    dtype=np.int64) for o in self.idx["outputs"]}
        cnt = {k: np.zeros(steps, dtype=np.int64) for k in
               ("synops", "neuron_updates", "spikes", "packets", "hops")}
        core_synops = np.zeros((steps, self.nc), dtype=np.int64) if counters else None
        core_spikes = np.zeros((steps, self.nc), dtype=np.int64) if counters else None
        core_ring = np.zeros((self.depth if counters else 1, batch, self.nc if counters else 1),
                             dtype=np.int64)
        tm = self.idx["timing"]
        w, h = (int(v) for v in self.idx["grid"])
        lat = np.array(tm["hop_latency_cycles"], dtype=np.float64)
        latency = np.zeros((steps, batch)) if counters else None
        critical = np.zeros((steps, batch), dtype=np.int64) if counters else None
        link_count = np.zeros(w * h * 4, dtype=np.int64)
        home = a["neuron.home"]
        n_layers = len(pops)
        layer_of = np.repeat(np.arange(n_layers), [p["size"] for p in pops])
        layer_synops = np.zeros((steps, n_layers), dtype=np.int64) if counters else None
        layer_spikes = np.zeros((steps, n_layers), dtype=np.int64) if counters else None
        lsyn = np.zeros((batch, n_layers if counters else 1), dtype=np.int64)
        for t in range(steps):
            slot = t % self.depth
            arriving = core_ring[slot].copy() if counters else None
            core_ring[slot] = 0
            spikes = self._update(st, ring[slot])  # also clears ring[slot]
            if counters:
                for b in range(batch):
                    f = np.flatnonzero(spikes[b])
                    f = f[np.argsort(home[f], kind="stable")]
                    per_core = np.bincount(home[f], minlength=self.nc).astype(np.float64)
                    lt, crit, _ = step_latency(
                        arriving[b].astype(np.float64), per_core, f, home,  # type: ignore[index]
                        a["core.neurons"], a["core.kind"], a["core.soma"], a["core.gx"],
                        a["core.gy"], w, h, a["neuron.dest_ptr"], a["neuron.dests"],
                        self.idx["routing"] == "relay", tm["cycles_per_synop"],
                        tm["cycles_per_neuron_update"], tm["cycles_per_spike"], lat,
                        tm["link_occupancy_cycles"], link_count)
                    latency[t, b], critical[t, b] = lt, crit  # type: ignore[index]
            # what is sent at t: neuron spikes along their routes, input spikes from the host
            sent = [spikes]
            for k, p in self.inputs.items():
                x = xs[k][:, t] if t < t_in else np.zeros((batch, p["size"]), dtype=bool)
                sent.append(x)
            ev_b, ev_src = np.nonzero(np.concatenate(sent, axis=1))
            ev_ptr = np.searchsorted(ev_b, np.arange(batch + 1))
            synops_b = np.zeros((batch, self.nc), dtype=np.int64)
            deliver(ev_ptr, ev_src, t, a["src.entry_ptr"], a["src.entry"], a["entry.core"],
                    a["entry.syn_ptr"], a["syn.slot"], a["syn.weight"], a["syn.delay"], ring,
                    synops_b, core_ring, counters, a["syn.layer"], lsyn)
            synops = synops_b.sum(axis=0)
            fired = np.flatnonzero(spikes.any(axis=0))
            nspk = spikes[:, fired].sum(axis=0)
            cnt["spikes"][t] = int(nspk.sum())
            cnt["synops"][t] = int(synops.sum())
            cnt["neuron_updates"][t] = batch * n
            cnt["packets"][t] = int((nspk * a["neuron.spike_packets"][fired]).sum())
            cnt["hops"][t] = int((nspk * a["neuron.spike_hops"][fired]).sum())
            if counters:
                # like synops and core_synops: counted at the step the events are sent
                layer_synops[t] = lsyn.sum(axis=0)  # type: ignore[index]
                lsyn[:] = 0
                layer_spikes[t] = np.bincount(layer_of[fired], weights=nspk,  # type: ignore[index]
                                              minlength=n_layers)
                core_synops[t] = synops  # type: ignore[index]
                core_spikes[t] = np.bincount(a["neuron.home"][fired], weights=nspk,  # type: ignore[index]
                                             minlength=self.nc)
            for o in self.idx["outputs"]:
                p = self.pops[o["source"]]
                sl = slice(p["offset"], p["offset"] + p["size"])
                outs[o["name"]][:, t] = spikes[:, sl] if p["spiking"] else st["v"][:, sl]
            if trace:
                for p in pops:
                    sl = slice(p["offset"], p["offset"] + p["size"])
                    traces[f"v:{p['name']}"][:, t] = st["v"][:, sl]
                    if f"u:{p['name']}" in traces:
                        traces[f"u:{p['name']}"][:, t] = st["u"][:, sl]
                    if p["spiking"]:
                        traces[f"s:{p['name']}"][:, t] = spikes[:, sl]
            if on_step is not None:
                on_step(t)
        shaped = {o["name"]: outs[o["name"]].reshape(batch, steps, *o["shape"])
                  for o in self.idx["outputs"]}
        extra: dict[str, np.ndarray] = dict(cnt)
        if counters:
            extra["core_synops"] = core_synops  # type: ignore[assignment]
            extra["core_spikes"] = core_spikes  # type: ignore[assignment]
            extra["latency_cycles"] = latency  # type: ignore[assignment]
            extra["latency_seconds"] = latency / tm["clock_hz"]  # type: ignore[operator]
            extra["critical_core"] = critical  # type: ignore[assignment]
            extra["link_packets"] = link_count.reshape(h, w, 4)
            extra["layer_spikes"] = layer_spikes  # type: ignore[assignment]
            extra["layer_synops"] = layer_synops  # type: ignore[assignment]
            extra["layer_neuron_updates"] = np.tile(
                np.array([p["size"] * batch for p in pops]), (steps, 1))
            if tm["cycles_per_step"] is not None:
                extra["fits_budget"] = latency <= tm["cycles_per_step"]  # type: ignore[operator]
        return SimResult(outputs=shaped, traces=traces, steps=steps, counters=extra,
                         layers=[p["name"] for p in pops])
