"""Speed of the reference simulator against Lava and the fixed-point engine, same machine,
same run, same network and input, identical output checked before any time is reported.

  vs Lava:   Loihi2SimCfg(select_tag="fixed_pt"), one sample, layered synthetic networks of
             2k, 8k and 32k neurons (benchmarks/synthetic.py) compiled for loihi2
  vs fixed:  the fixed-point engine on the same fixed IR, batch of 8
  scaling (--scale): refsim alone on 100k and 1M neurons (100M synapses), each in its own
             process for its peak RSS; steps/s and synaptic events/s at batch 1 and 8 with
             counters on, against the scatter ceiling measured in the same process
  batch 1:   the serial kernels refsim uses for a batch of one against the thread-pool
             kernels it uses for larger batches, same process, same run (best of 5 each)
  conv (--conv): cnn_sinabs (NIR, ../shared/data where present) and a DVS-gesture-sized CNN
             (benchmarks/synthetic.py dvs_cnn) at batch 1: ms per step split into the
             delivery kernel, the soma kernel, the rest (Python), and what counters add;
             synaptic events/s against a plain scatter of int8 weights into int32
             accumulators at random slots (numba, one thread) measured in the same run

  PAIBox (--paibox, when paibox==1.3.0 is installed: an optional baseline, not a
             dependency): refsim (tianjic, batch 1) against PAIBox's simulator on the nets of
             issue 16's table (FC 784-1024-1024-10, FC 784-4096-4096-10 at half density, a
             2x34x34 CNN), the same integer weights, IF neurons at the same thresholds, the
             same input; spikes per step of both reported (their arithmetic differs)

Writes benchmarks/results/refsim_speed.json and prints Markdown tables.

    .venv/bin/python benchmarks/refsim_speed.py [--no-scale] [--batch-one] [--conv]
                                                [--scale] [--paibox]
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.simplefilter("ignore")

STEPS = 50


def build(n: int, fanin: int, target: str = "loihi2"):  # type: ignore[no-untyped-def]
    from benchmarks.synthetic import layered
    from snnc import api
    from snnc.backends.refsim import program
    g = layered(n, fanin=fanin, layers=4)
    c = api.compile(g, target)
    del g
    return c.fixed, program(c.fixed, c.coremap, c.target)


def inputs(fixed, batch: int, steps: int, rate: float = 0.2) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    return {k: (rng.random((batch, steps, p.size)) < rate).astype(np.int64)
            for k, p in fixed.inputs.items()}


def timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def vs_lava(n: int) -> dict[str, object]:
    from snnc.backends import lava
    from snnc.runtime.refsim import RefSim

    fixed, prog = build(n, fanin=32)
    x = inputs(fixed, 1, STEPS)
    sim = RefSim(prog)
    sim.run(x, steps=2)  # numba compile outside the timing
    ref, t_ref = timed(lambda: sim.run(x, steps=STEPS))
    desc = lava.describe(fixed)
    lv, t_lava = timed(lambda: lava.run_lava(desc, x, STEPS))
    out = fixed.outputs["out"].source
    same = bool(np.array_equal(ref.outputs["out"].reshape(1, STEPS, -1),
                               lv[f"s:{out}"].reshape(1, STEPS, -1)))
    assert same, "refsim and Lava disagree"
    ev = int(ref.counters["synops"].sum())
    return {"neurons": fixed.n_neurons, "synapses": fixed.n_synapses, "steps": STEPS,
            "refsim_s": round(t_ref, 4), "lava_s": round(t_lava, 2),
            "speedup": round(t_lava / t_ref, 1), "synaptic_events": ev, "identical": same}


def vs_fixed(n: int) -> dict[str, object]:
    from snnc.runtime.fixed_engine import FixedEngine
    from snnc.runtime.refsim import RefSim

    fixed, prog = build(n, fanin=32)
    x = inputs(fixed, 8, STEPS)
    sim = RefSim(prog)
    sim.run(x, steps=2)
    ref, t_ref = timed(lambda: sim.run(x, steps=STEPS))
    eng = FixedEngine(fixed)
    fx, t_fx = timed(lambda: eng.run(x, steps=STEPS))
    assert np.array_equal(ref.outputs["out"], fx.outputs["out"]), "refsim and fixed disagree"
    return {"neurons": fixed.n_neurons, "synapses": fixed.n_synapses, "batch": 8,
            "steps": STEPS, "refsim_s": round(t_ref, 3), "fixed_s": round(t_fx, 3),
            "ratio_fixed_over_refsim": round(t_fx / t_ref, 2)}


def batch_one(n: int, steps: int = 200, fanin: int = 32) -> dict[str, object]:
    """refsim at batch 1 three ways, alternated, best of 5 each, identical output checked:
    one thread (one part, the serial kernels), each sample's cores split over numba's
    threads, and what RefSim chooses by itself (the split from PARTS_MIN_SYNAPSES on)."""
    from snnc.runtime.refsim import RefSim

    fixed, prog = build(n, fanin=fanin)
    x = inputs(fixed, 1, steps)
    sim = RefSim(prog)
    default = sim.min_split
    modes = {"one_thread": 1 << 62, "split": 0, "default": default}
    best = dict.fromkeys(modes, np.inf)
    outs = {}
    try:
        for _ in range(5):
            for name, min_split in modes.items():
                sim.min_split = min_split
                sim.run(x, steps=2)  # compiled and warm
                res, t = timed(lambda: sim.run(x, steps=steps))
                best[name] = min(best[name], t)
                outs[name] = res.outputs["out"]
    finally:
        sim.min_split = default
    for name in modes:
        assert np.array_equal(outs[name], outs["one_thread"]), f"{name} disagrees"
    return {"neurons": fixed.n_neurons, "synapses": fixed.n_synapses, "steps": steps,
            **{f"{k}_steps_per_s": round(steps / v) for k, v in best.items()},
            "default_over_one_thread": round(best["one_thread"] / best["default"], 2),
            "split_over_one_thread": round(best["one_thread"] / best["split"], 2)}


@functools.cache
def _scatter_kernel():  # type: ignore[no-untyped-def]
    from numba import njit

    @njit(cache=True)
    def scatter(idx: np.ndarray, w: np.ndarray, acc: np.ndarray) -> None:
        for k in range(len(idx)):
            acc[idx[k]] += w[k]
    return scatter


def scatter_ceiling(events: int, slots: int) -> float:
    """Events/s of the plainest synaptic delivery: int8 weights added into int32
    accumulators at random slots, one thread (best of 3)."""
    rng = np.random.default_rng(0)
    idx = rng.integers(0, slots, events).astype(np.int32)
    w = rng.integers(-128, 128, events).astype(np.int8)
    acc = np.zeros(slots, dtype=np.int32)
    scatter = _scatter_kernel()
    scatter(idx[:10], w[:10], acc)
    best = min(timed(lambda: scatter(idx, w, acc))[1] for _ in range(3))
    return events / best


def clocked_run(sim, x, steps: int, counters: bool, repeats: int = 3):  # type: ignore[no-untyped-def]
    """The fastest of `repeats` runs: (seconds, {"deliver": s, "soma": s} spent in those
    kernels, its result); the rest of a run is Python, counters and recorders."""
    from snnc.runtime import refsim_kernels as kn

    spent = {"deliver": 0.0, "soma": 0.0}
    names = ("deliver_serial", "deliver", "update_loihi_serial", "update_loihi",
             "update_loihi_flat_serial", "update_loihi_flat", "flag_events",
             "update_tianjic_serial", "update_tianjic")
    originals = {k: getattr(kn, k) for k in names}

    def clocked(fn, key):  # type: ignore[no-untyped-def]
        def run(*a):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            out = fn(*a)
            spent[key] += time.perf_counter() - t0
            return out
        return run

    t_best, parts, res = np.inf, {}, None
    for _ in range(repeats):
        spent.update(deliver=0.0, soma=0.0)
        for k, f in originals.items():
            setattr(kn, k, clocked(f, "deliver" if k.startswith("deliver") else "soma"))
        try:
            r, t = timed(lambda: sim.run(x, steps=steps, counters=counters))
        finally:
            for k, f in originals.items():
                setattr(kn, k, f)
        if t < t_best:
            t_best, parts, res = t, dict(spent), r
    return t_best, parts, res


PAIBOX_NETS = {"fc_784_1024_1024_10": ("fully_connected", {"widths": (784, 1024, 1024, 10),
                                                             "density": 1.0}),
               "fc_784_4096_4096_10": ("fully_connected", {}),
               "cnn_2x34x34": ("dvs_cnn", {"side": 34})}  # benchmarks/synthetic.py builders


def _paibox_net(fixed):  # type: ignore[no-untyped-def]
    """PAIBox 1.3's network of the same layers and integer weights as a compiled fixed IR
    (int8, clipped; PAIBox has no weight exponent), IF neurons at the IR's thresholds, input
    spikes from a callable of the step, every layer's spikes probed."""
    import paibox as pb

    x = {"spikes": None}

    def feed(t, **_):  # type: ignore[no-untyped-def]
        return x["spikes"][(t - 1) % len(x["spikes"])]

    port = next(iter(fixed.inputs.values()))
    nodes = {port.name: pb.InputProj(input=feed, shape_out=port.shape)}
    depth = {port.name: 0}  # PAIBox starts layer k at tick k (tick_wait_start)
    for _ in fixed.populations:  # feed-forward nets: one pass a layer
        for pr in fixed.projections.values():
            if pr.src in depth and pr.dst not in depth:
                depth[pr.dst] = depth[pr.src] + 1
    for name, p in fixed.populations.items():
        nodes[name] = pb.IF(p.shape, threshold=max(int(np.median(p.v_th)), 1), reset_v=0,
                            tick_wait_start=depth.get(name, 1))
    synapses = []
    for pr in fixed.projections.values():
        w = np.clip(np.rint(pr.weight), -128, 127).astype(np.int8)
        if pr.kind.value == "conv":
            synapses.append(pb.Conv2d(nodes[pr.src], nodes[pr.dst], kernel=w,
                                      stride=tuple(pr.stride), padding=tuple(pr.padding),
                                      kernel_order="OIHW"))
        else:
            synapses.append(pb.FullConn(nodes[pr.src], nodes[pr.dst], weights=w.T.copy()))
    net = pb.Network(*nodes.values(), *synapses)
    probes = [pb.Probe(nodes[k], "spike") for k in fixed.populations]  # every layer's spikes
    return net, probes, x


def paibox_one(name: str, steps: int = 50) -> dict[str, object]:
    """refsim (tianjic, batch 1, counters off) against PAIBox 1.3's simulator on the same
    network and input, same process, best of 3 each; spikes per step of both, for context
    (the two chips' arithmetic differ, so their outputs are not compared)."""
    import paibox as pb
    from benchmarks import synthetic
    from snnc import api
    from snnc.backends.refsim import program
    from snnc.runtime.refsim import RefSim

    builder, kwargs = PAIBOX_NETS[name]
    c = api.compile(getattr(synthetic, builder)(**kwargs), "tianjic")
    sim = RefSim(program(c.fixed, c.coremap, c.target))
    x = inputs(c.fixed, 1, steps)
    sim.run(x, steps=2)  # compiled
    t_ref, _, res = clocked_run(sim, x, steps, False)
    net, probes, feed = _paibox_net(c.fixed)
    port = next(iter(c.fixed.inputs.values()))
    feed["spikes"] = x[port.name][0].reshape(steps, *port.shape).astype(np.uint8)
    out = list(c.fixed.populations).index(
        next(iter(c.fixed.outputs.values())).source)
    counted = pb.Simulator(net)  # every layer probed once, for the spike count
    for probe in probes:
        counted.add_probe(probe)
    counted.run(steps)
    pb_spikes = sum(int(np.sum(counted.data[probe])) for probe in probes)
    psim = pb.Simulator(net)  # timed: the output layer probed, as refsim records outputs
    psim.add_probe(probes[out])
    psim.run(2)
    t_pb = np.inf
    for _ in range(3):
        psim.reset()
        t_pb = min(t_pb, timed(lambda: psim.run(steps))[1])
    return {"net": name, "neurons": c.fixed.n_neurons, "synapses": int(c.coremap.syn.n),
            "steps": steps, "refsim_steps_per_s": round(steps / t_ref, 1),
            "paibox_steps_per_s": round(steps / t_pb, 1),
            "refsim_over_paibox": round(t_pb / t_ref, 2),
            "refsim_spikes_per_step": round(float(res.counters["spikes"].sum()) / steps, 1),
            "paibox_spikes_per_step": round(pb_spikes / steps, 1)}


def conv_one(name: str, steps: int = 100) -> dict[str, object] | None:
    """refsim at batch 1 on a conv net: where the time of a step goes."""
    from benchmarks.synthetic import dvs_cnn
    from snnc import api
    from snnc.backends.refsim import program
    from snnc.runtime.refsim import RefSim

    path = ROOT.parent / "shared" / "data" / "nir" / "cnn_sinabs.nir"
    if name == "cnn_sinabs" and not path.exists():
        return None
    g = api.load(str(path)) if name == "cnn_sinabs" else dvs_cnn()
    c = api.compile(g, "loihi2")
    sim = RefSim(program(c.fixed, c.coremap, c.target))
    x = inputs(c.fixed, 1, steps)
    sim.run(x, steps=2, counters=True)  # compiled and warm
    best = {c: clocked_run(sim, x, steps, c) for c in (False, True)}
    t, parts, res = best[False]
    events = int(res.counters["synops"].sum())
    ceiling = scatter_ceiling(max(events, 1_000_000), int(sim.n_slots))
    ms = 1e3 / steps
    return {"net": name, "neurons": c.fixed.n_neurons, "synapses": int(c.coremap.syn.n),
            "steps": steps, "events_per_step": round(events / steps),
            "ms_per_step": round(t * ms, 3), "deliver_ms": round(parts["deliver"] * ms, 3),
            "soma_ms": round(parts["soma"] * ms, 3),
            "python_ms": round((t - parts["deliver"] - parts["soma"]) * ms, 3),
            "counters_ms": round((best[True][0] - t) * ms, 3),
            "events_per_s": round(events / t), "events_per_s_in_deliver":
                round(events / parts["deliver"]) if parts["deliver"] else None,
            "scatter_ceiling_per_s": round(ceiling)}


def scale_one(n: int) -> dict[str, object]:
    """refsim alone on a large network, counters on: batch 1 and batch 8 (20 steps each,
    best of 3; split into delivery, soma and the rest, and the same with counters off), and
    the scatter ceiling on the same number of accumulators, in this process."""
    from snnc.runtime.refsim import RefSim

    fixed, prog = build(n, fanin=113)
    syn = fixed.n_synapses
    x1, x8 = inputs(fixed, 1, 20), inputs(fixed, 8, 20)
    del fixed
    sim = RefSim(prog)
    row: dict[str, object] = {"neurons": n, "synapses": syn, "steps": 20}
    for b, x in ((1, x1), (8, x8)):
        sim.run(x, steps=1, counters=True)  # compiled
        t, parts, res = clocked_run(sim, x, 20, True)  # best of 3: the machine varies
        t_off = clocked_run(sim, x, 20, False)[0]
        ev = int(res.counters["synops"].sum())
        row[f"batch{b}"] = {"seconds": round(t, 2), "steps_per_s": round(20 / t, 2),
                            "synaptic_events_per_s": round(ev / t),
                            "spikes": int(res.counters["spikes"].sum()),
                            "deliver_s": round(parts["deliver"], 3),
                            "soma_s": round(parts["soma"], 3),
                            "rest_s": round(t - parts["deliver"] - parts["soma"], 3),
                            "counters_off_s": round(t_off, 2),
                            "deliver_events_per_s": round(ev / parts["deliver"])}
    row["scatter_ceiling_per_s"] = round(scatter_ceiling(20_000_000, int(sim.n_slots)))
    row["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    return row


def save(name: str, data: object) -> None:
    """benchmarks/results/<name>, JSON."""
    res = ROOT / "benchmarks" / "results"
    res.mkdir(parents=True, exist_ok=True)
    (res / name).write_text(json.dumps(data, indent=1))


def scale_table(rows: list[dict]) -> None:  # type: ignore[type-arg]
    print("\n| neurons | synapses | batch 1 steps/s, events/s | batch 8 steps/s, events/s | "
          "scatter ceiling events/s (batch 1, 8 as a fraction) | peak RSS GB |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        b1, b8, ceil = r["batch1"], r["batch8"], r["scatter_ceiling_per_s"]
        print(f"| {r['neurons']} | {r['synapses']} | {b1['steps_per_s']}, "
              f"{b1['synaptic_events_per_s']:.3g} | {b8['steps_per_s']}, "
              f"{b8['synaptic_events_per_s']:.3g} | {ceil:.3g} "
              f"({b1['synaptic_events_per_s'] / ceil:.2f}, "
              f"{b8['synaptic_events_per_s'] / ceil:.2f}) | {r['peak_rss_gb']} |")
    print("\n| neurons | batch | s (20 steps, counters on) | deliver / soma / rest s | "
          "events/s in deliver (of the two cores' ceiling) | counters off s (counters add) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        ceil = r["scatter_ceiling_per_s"]
        for b in (1, 8):
            x = r[f"batch{b}"]
            if "deliver_s" not in x:
                continue
            print(f"| {r['neurons']} | {b} | {x['seconds']} | {x['deliver_s']} / {x['soma_s']} "
                  f"/ {x['rest_s']} | {x['deliver_events_per_s']:.3g} "
                  f"({x['deliver_events_per_s'] / (2 * ceil):.2f}) | {x['counters_off_s']} "
                  f"({x['seconds'] / x['counters_off_s'] - 1:.0%}) |")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-scale", action="store_true")
    ap.add_argument("--scale-one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--batch-one", action="store_true", help="only the batch-1 comparison")
    ap.add_argument("--conv", action="store_true", help="only the conv nets at batch 1")
    ap.add_argument("--scale", action="store_true", help="only the 100k and 1M scaling runs")
    ap.add_argument("--paibox", action="store_true",
                    help="only refsim against PAIBox's simulator (needs paibox installed)")
    a = ap.parse_args()
    if a.paibox:
        try:
            import paibox  # noqa: F401
        except ImportError:
            print("PAIBox is not installed (pip install paibox==1.3.0); nothing measured")
            return 0
        rows = [paibox_one(n) for n in PAIBOX_NETS]
        save("refsim_paibox.json", rows)
        print("| net | neurons | synapses | refsim steps/s | PAIBox steps/s | refsim / PAIBox | "
              "spikes/step refsim, PAIBox |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['net']} | {r['neurons']} | {r['synapses']} | "
                  f"{r['refsim_steps_per_s']} | {r['paibox_steps_per_s']} | "
                  f"{r['refsim_over_paibox']}x | {r['refsim_spikes_per_step']}, "
                  f"{r['paibox_spikes_per_step']} |")
        return 0
    if a.conv:
        rows = [r for r in (conv_one("cnn_sinabs"), conv_one("dvs_cnn")) if r is not None]
        save("refsim_conv.json", rows)
        print("| net | neurons | synapses | events/step | ms/step | deliver / soma / Python ms "
              "| counters add ms | events/s (in deliver) | scatter ceiling/s |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['net']} | {r['neurons']} | {r['synapses']} | {r['events_per_step']} | "
                  f"{r['ms_per_step']} | {r['deliver_ms']} / {r['soma_ms']} / "
                  f"{r['python_ms']} | {r['counters_ms']} | {r['events_per_s']:.3g} "
                  f"({r['events_per_s_in_deliver']:.3g}) | {r['scatter_ceiling_per_s']:.3g} |")
        return 0
    if a.scale_one:
        print(json.dumps(scale_one(a.scale_one)))
        return 0
    if a.scale:
        rows = []
        for n in (100_000, 1_000_000):
            out = subprocess.run([sys.executable, __file__, "--scale-one", str(n)], check=True,
                                 capture_output=True, text=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        save("refsim_scale.json", rows)
        scale_table(rows)
        return 0
    one_rows = [batch_one(n, steps) for n, steps in ((2_000, 200), (8_000, 200), (32_000, 200),
                                                       (100_000, 50), (300_000, 20))]
    print("| neurons | synapses | steps | one thread steps/s | split over threads steps/s | "
          "default steps/s | default / one thread | split / one thread |")
    print("|---|---|---|---|---|---|---|---|")
    for r in one_rows:
        print(f"| {r['neurons']} | {r['synapses']} | {r['steps']} | "
              f"{r['one_thread_steps_per_s']} | {r['split_steps_per_s']} | "
              f"{r['default_steps_per_s']} | {r['default_over_one_thread']} | "
              f"{r['split_over_one_thread']} |")
    if a.batch_one:
        return 0
    lava_rows = [vs_lava(n) for n in (2_000, 8_000, 32_000)]
    fixed_rows = [vs_fixed(n) for n in (2_000, 20_000, 100_000)]
    scale_rows = []
    if not a.no_scale:
        for n in (100_000, 1_000_000):
            out = subprocess.run([sys.executable, __file__, "--scale-one", str(n)], check=True,
                                 capture_output=True, text=True)
            scale_rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    save("refsim_speed.json", {"vs_lava": lava_rows, "vs_fixed": fixed_rows,
                               "scale": scale_rows, "batch_one": one_rows})
    print("| neurons | synapses | steps | Lava fixed_pt s | refsim s | refsim speed-up | "
          "identical |")
    print("|---|---|---|---|---|---|---|")
    for r in lava_rows:
        print(f"| {r['neurons']} | {r['synapses']} | {r['steps']} | {r['lava_s']} | "
              f"{r['refsim_s']} | **{r['speedup']}x** | {r['identical']} |")
    print("\n| neurons | synapses | batch x steps | fixed engine s | refsim s | fixed / refsim |")
    print("|---|---|---|---|---|---|")
    for r in fixed_rows:
        print(f"| {r['neurons']} | {r['synapses']} | {r['batch']} x {r['steps']} | "
              f"{r['fixed_s']} | {r['refsim_s']} | {r['ratio_fixed_over_refsim']} |")
    if scale_rows:
        scale_table(scale_rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
