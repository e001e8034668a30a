"""snnc eval on real Dask clusters started by the tests: the digits demo's accuracy with 1, 2
and 4 worker processes, byte-identical JSON whatever the sharding, a scheduler and workers
started as separate `dask` processes, a worker killed mid-run, and per-sample counters that
add up to the run's totals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from snnc import api
from snnc import dataset_eval as ev
from snnc.cli import main

ROOT = Path(__file__).resolve().parents[2]
DIGITS = str(ROOT / "examples" / "digits" / "digits.nir")
DASK = str(Path(sys.executable).parent / "dask")
STEPS = 18  # what `make demo` runs: 16 input steps + 2 of latency


@pytest.fixture(scope="module")
def digits(tmp_path_factory):  # type: ignore[no-untyped-def]
    """The demo's artifact and held-out digits, encoded by the demo's own script."""
    d = tmp_path_factory.mktemp("eval")
    subprocess.run([sys.executable, str(ROOT / "examples" / "digits" / "demo.py"), "encode",
                    str(d / "x.npy"), str(d / "y.npy")], check=True, capture_output=True)
    art = d / "digits.loihi2"
    assert main(["compile", DIGITS, "-t", "loihi2", "-o", str(art)]) == 0
    assert main(["compile", DIGITS, "-t", "tianjic", "-o", str(d / "digits.tianjic")]) == 0
    return {"art": str(art), "x": str(d / "x.npy"), "y": str(d / "y.npy"), "dir": d,
            "tianjic": str(d / "digits.tianjic")}


def demo_accuracy(d: dict, tmp: Path) -> float:  # type: ignore[type-arg]
    """What `make demo` prints for loihi2-refsim: `snnc run --batch --steps 18`, argmax of
    the output spike counts (examples/digits/demo.py score)."""
    out = tmp / "run.npz"
    assert main(["run", d["art"], "--input", d["x"], "--batch", "--steps", str(STEPS), "-q",
                 "-o", str(out)]) == 0
    with np.load(out) as z:
        counts = z["output_spikes"].sum(axis=1)
    return float((counts.argmax(1) == np.load(d["y"])).mean())


def eval_cli(d: dict, out: Path, *extra: str) -> str:  # type: ignore[type-arg]
    assert main(["eval", d["art"], "--input", d["x"], "--labels", d["y"], "--steps",
                 str(STEPS), "-q", "-o", str(out), *extra]) == 0
    return out.read_text()


def test_eval_gives_the_demos_accuracy_with_1_2_and_4_workers(digits, tmp_path) -> None:  # type: ignore[no-untyped-def]
    want = demo_accuracy(digits, tmp_path)
    assert want > 0.95
    serial = eval_cli(digits, tmp_path / "serial.json", "--scheduler", "none")
    res = json.loads(serial)
    assert res["accuracy"] == want and res["samples"] == 450 and res["steps"] == STEPS
    assert res["correct"] == round(want * 450)
    for workers, batch in ((1, 64), (2, 50), (4, 7)):
        text = eval_cli(digits, tmp_path / f"w{workers}.json", "--workers", str(workers),
                        "--batch-size", str(batch))
        assert text == serial, f"{workers} workers, shards of {batch}"
    # the float IR the artifact carries, run on the same samples
    fv = res["float_vs_fixed"]
    assert 0.95 < fv["argmax_agreement"] <= 1.0 and 0.9 < fv["float_accuracy"]
    per = res["per_inference"]
    assert 0 < per["energy_joules"]["mean"] <= per["energy_joules"]["max"]
    assert per["latency_seconds"]["p50"] <= per["latency_seconds"]["p99"]


def wide_model(tmp: Path) -> str:
    """64 inputs -> 900 LIF -> 10 LIF with random weights: several cores on any target."""
    from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Port, Projection

    rng = np.random.default_rng(3)
    pops = [Population.make("h", (900,), NeuronModel.LIF, dv=0.1, v_th=1.0),
            Population.make("o", (10,), NeuronModel.LIF, dv=0.1, v_th=1.0)]
    projs = [Projection(name=f"w{i}", src=s, dst=d, kind=Conn.DENSE,
                        weight=rng.normal(0.0, 0.4, (m, n)), delay=np.zeros((m, n), np.int64))
             for i, (s, d, m, n) in enumerate((("in", "h", 900, 64), ("h", "o", 10, 900)))]
    g = Graph.build(pops, projs, [Port(name="in", shape=(64,))],
                    [Port(name="out", shape=(10,), source="o")])
    path = str(tmp / "wide.snn")
    api.convert(g, path)
    return path


def test_per_sample_counters_add_up_and_do_not_depend_on_the_batch(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The counters eval reads per sample sum to the step totals the report uses, its energy
    per sample averages to the report's energy per inference, and a sample counted alone
    gives what it gives inside a batch."""
    from snnc.artifact import read_backend_file
    from snnc.runtime.refsim import RefSim
    from snnc.runtime.report import energy, sample_energy

    art = str(tmp_path / "wide.tianjic")  # several cores: packets cross the mesh
    assert main(["compile", wide_model(tmp_path), "-t", "tianjic", "-o", art]) == 0
    g, manifest = api.load_artifact(art)
    sim = RefSim(read_backend_file(art, "refsim", "refsim/program.npz"))
    x = (np.random.default_rng(0).random((12, STEPS, 64)) < 0.3).astype(np.uint8)
    port = next(iter(g.inputs))
    c = sim.run({port: x}, steps=STEPS, counters=True).counters
    for k in ("synops", "spikes", "neuron_updates", "packets", "hops"):
        assert c[f"sample_{k}"].sum() == c[k].sum(), k
    links = c["link_packets"]
    assert c["sample_link_ew"].sum() == links[..., :2].sum()
    assert c["sample_link_ns"].sum() == links[..., 2:].sum()
    assert links.sum() > 0 and c["sample_synops"].min() > 0
    e = sample_energy(manifest["target"], c)
    assert np.isclose(e.mean(), energy(manifest["target"], c, len(x))["per_inference_joules"],
                      rtol=1e-12)
    alone = sim.run({port: x[5:6]}, steps=STEPS, counters=True).counters
    for k in ("sample_synops", "sample_spikes", "sample_link_ew", "sample_link_ns"):
        assert alone[k][0] == c[k][5], k
    assert (alone["latency_cycles"][:, 0] == c["latency_cycles"][:, 5]).all()


def start(cmd: list[str], log: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    with open(log, "w") as f:  # the child keeps its own descriptor
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=f, start_new_session=True)


def stop(procs: list[subprocess.Popen]) -> None:  # type: ignore[type-arg]
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def test_eval_on_a_dask_scheduler_and_workers_started_as_processes(digits, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """As a user with a cluster: `dask scheduler`, then `dask worker ADDRESS` (two worker
    processes), then `snnc eval --scheduler ADDRESS`, run as commands."""
    sfile = tmp_path / "scheduler.json"
    procs = [start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--scheduler-file", str(sfile)], tmp_path / "scheduler.log")]
    try:
        deadline = time.monotonic() + 60
        while not sfile.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sfile.exists(), (tmp_path / "scheduler.log").read_text()[-2000:]
        address = json.loads(sfile.read_text())["address"]
        procs.append(start([DASK, "worker", address, "--nworkers", "2", "--nthreads", "1",
                            "--no-dashboard", "--host", "127.0.0.1"], tmp_path / "worker.log"))
        out = tmp_path / "cluster.json"
        cmd = [str(Path(sys.executable).parent / "snnc"), "eval", digits["art"], "--input",
               digits["x"], "--labels", digits["y"], "--steps", str(STEPS), "--batch-size",
               "16", "--scheduler", address, "-o", str(out)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        assert "samples done across the cluster: 450/450" in r.stderr
        serial = eval_cli(digits, tmp_path / "serial.json", "--scheduler", "none")
        assert out.read_text() == serial
        # each worker process read the artifact once for its many shards
        from dask.distributed import Client

        with Client(address, timeout=10) as client:
            loads = client.run(lambda: dict(ev.LOADS))
        counts = [n for w in loads.values() for n in w.values()]
        assert len(loads) == 2 and counts and all(n == 1 for n in counts), loads
    finally:
        stop(procs)


def worker_pids(cluster) -> list[int]:  # type: ignore[no-untyped-def]
    """The worker processes of a LocalCluster, from their nannies (no second client in this
    process: dask's clients share one event loop per process)."""
    return sorted(n.pid for n in cluster.workers.values() if n.pid is not None)


def test_killing_a_worker_mid_run_still_gives_the_whole_identical_result(digits) -> None:  # type: ignore[no-untyped-def]
    from dask.distributed import LocalCluster

    serial = ev.to_json(ev.evaluate(digits["art"], digits["x"], digits["y"], steps=STEPS,
                                    scheduler="none"))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        before = worker_pids(cluster)
        assert len(before) == 2
        killed: list[int] = []

        def kill_one(done: int, total: int) -> None:
            if not killed:
                os.kill(before[0], signal.SIGKILL)
                killed.append(before[0])

        res = ev.evaluate(digits["art"], digits["x"], digits["y"], steps=STEPS, batch_size=4,
                          scheduler=cluster.scheduler_address, progress=kill_one)
        assert killed
        deadline = time.monotonic() + 60  # the nanny restarts the killed worker
        while len(set(worker_pids(cluster)) - set(before)) < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert before[0] not in worker_pids(cluster)
    assert ev.to_json(res) == serial
    assert len(res["per_sample"]["prediction"]) == 450


def test_a_shard_that_keeps_killing_workers_is_one_clear_error(digits) -> None:  # type: ignore[no-untyped-def]
    """With no retries allowed (allowed-failures 0), a lost shard is an error naming it,
    never a partial result."""
    import dask
    from dask.distributed import LocalCluster
    from snnc.compiler.errors import SnncError

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster:
            pids = worker_pids(cluster)
            assert len(pids) == 2

            def kill_all(done: int, total: int) -> None:
                for p in pids:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass

            with pytest.raises(SnncError, match=r"shard \d+ was lost with every worker"):
                ev.evaluate(digits["art"], digits["x"], digits["y"], steps=STEPS,
                            batch_size=2, scheduler=cluster.scheduler_address,
                            progress=kill_all)


@pytest.mark.parametrize("case", ["labels", "classes", "artifact", "workers", "shape"])
def test_bad_eval_input_is_one_error_line(digits, tmp_path, capsys, case) -> None:  # type: ignore[no-untyped-def]
    x, y, art = digits["x"], digits["y"], digits["art"]
    extra: list[str] = ["--scheduler", "none"]
    if case == "labels":
        np.save(tmp_path / "y.npy", np.zeros(449, dtype=np.int64))
        y, want = str(tmp_path / "y.npy"), "expected 450 integer class indices"
    elif case == "classes":
        np.save(tmp_path / "y.npy", np.full(450, 10, dtype=np.int64))
        y, want = str(tmp_path / "y.npy"), "the model's output has 10 classes"
    elif case == "artifact":
        art, want = DIGITS, "is not a compiled artifact"
    elif case == "workers":
        extra, want = ["--scheduler", "tcp://127.0.0.1:8786", "--workers", "2"], \
            "--workers and --threads start a local cluster"
    else:
        np.save(tmp_path / "x.npy", np.zeros((3, 16, 65), dtype=np.uint8))
        x, want = str(tmp_path / "x.npy"), "x.npy (shape (3, 16, 65)), its first sample"
    assert main(["eval", art, "--input", x, "--labels", y, "-q", *extra]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and want in err[0], err


def test_a_data_set_larger_than_a_workers_memory_streams_through(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """1 GB of input spikes (5000 samples x 200,000 inputs) on workers limited to 700 MB: each
    shard memory-maps its own samples, so every worker's peak stays far below the file (a
    shard's memory grows with --batch-size: the float engine holds its inputs as float64)."""
    import dask
    from dask.distributed import LocalCluster
    from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Port, Projection

    n_in, n_samples = 200_000, 5000
    w = np.zeros((10, n_in))
    w[np.arange(1000) % 10, np.arange(1000)] = 1.0
    g = Graph.build([Population.make("o", (10,), NeuronModel.LIF, dv=0.0, v_th=0.5)],
                    [Projection(name="w", src="in", dst="o", kind=Conn.DENSE, weight=w,
                                delay=np.zeros(w.shape, np.int64))],
                    [Port(name="in", shape=(n_in,))], [Port(name="out", shape=(10,),
                                                            source="o")])
    api.convert(g, str(tmp_path / "wide_in.snn"))
    art = str(tmp_path / "wide_in.loihi2")
    assert main(["compile", str(tmp_path / "wide_in.snn"), "-t", "loihi2", "-o", art]) == 0
    x = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.uint8,
                                  shape=(n_samples, 1, n_in))
    rng = np.random.default_rng(0)
    block = rng.random((500, 1, n_in)) < 0.01  # written 10 times: the size is what matters
    for i in range(0, n_samples, 500):
        x[i:i + 500] = block
    x.flush()
    del x
    assert (tmp_path / "x.npy").stat().st_size > 1e9
    np.save(tmp_path / "y.npy", rng.integers(0, 10, n_samples))
    with dask.config.set({"distributed.worker.memory.pause": False,
                          "distributed.worker.memory.spill": False,
                          "distributed.worker.memory.target": False}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          memory_limit="700MB", dashboard_address=None) as cluster:
            res = ev.evaluate(art, str(tmp_path / "x.npy"), str(tmp_path / "y.npy"),
                              steps=3, batch_size=25, scheduler=cluster.scheduler_address,
                              compare_float=False)
            from dask.distributed import Client

            with Client(cluster) as client:
                peaks = client.run(peak_rss_bytes)
    assert res["samples"] == n_samples and 0.0 <= res["accuracy"] <= 1.0
    assert res["per_inference"]["synaptic_ops"]["mean"] > 0
    assert len(peaks) == 2 and max(peaks.values()) < 0.7e9, peaks
    print(f"worker peaks {sorted(peaks.values())} bytes for a {n_samples * n_in} byte input")


def peak_rss_bytes() -> int:
    """This process's peak RSS since it started (VmHWM: getrusage's ru_maxrss survives exec,
    so a spawned worker would report its parent's)."""
    with open("/proc/self/status") as f:
        line = next(ln for ln in f if ln.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024
