"""partition, place, route and the core-map files, checked by tests/mapping_checker.py (an
independent re-derivation of every core's usage) on real and synthetic models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from snnc import api
from snnc.cli import main
from snnc.compiler.coremap import PARTIAL
from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Port, Projection
from snnc.compiler.passes.place import DoesNotFit, Mesh, weighted_hops
from snnc.compiler.pipeline import CompileOptions
from snnc.compiler.targets import load_target

from benchmarks.synthetic import conv_stack, layered, modular, recurrent_sheet
from tests.conftest import NETX_FILES, NIR_FILES, shared_file
from tests.mapping_checker import check_artifact

DIGITS = str(api.__file__).replace("api.py", "models/digits.nir")


def compile_and_check(g: Graph, target: str, out, opts: CompileOptions | None = None):  # type: ignore[no-untyped-def]
    c = api.compile(g, target, opts)
    art = api.write_compiled(c, str(out), "model")
    got = check_artifact(out, c.fixed, load_target(target))
    assert got["cores"] == c.coremap.n_cores
    return c.coremap, art


# Measured ratios cores / lower bound where the 1.05 is NOT reached (docs/mapping.md
# explains why: Tianjic's 256 axons per core are smaller than these layers' receptive-field
# unions, which the per-limit bound ignores). Asserted as regression bounds, not as success.
TIANJIC_AXON_BOUND = {"cnn_sinabs": 1.8, "tiny_conv_loihi": 1.4}


@pytest.mark.parametrize("target", ["loihi2", "tianjic"])
@pytest.mark.parametrize("model", ["digits", *NIR_FILES, *NETX_FILES])
def test_real_models_map_within_limits(model: str, target: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    if model == "digits":
        path = DIGITS
    else:
        path = str(shared_file(f"nir/{model}.nir" if model in NIR_FILES else f"netx/{model}.net"))
    cm, _ = compile_and_check(api.load(path), target, tmp_path / "art")
    ratio = cm.n_cores / cm.bounds["cores"]
    limit = TIANJIC_AXON_BOUND.get(model, 1.05) if target == "tianjic" else 1.05
    assert ratio <= limit, f"{cm.n_cores} cores for a bound of {cm.bounds}"


@pytest.mark.parametrize("n", [1_000, 10_000, 100_000])
def test_synthetic_layered_loihi2_meets_the_bound(n: int, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cm, _ = compile_and_check(layered(n, fanin=50), "loihi2", tmp_path / "art")
    assert cm.n_cores <= 1.05 * cm.bounds["cores"], cm.bounds


@pytest.mark.parametrize("n", [1_000, 10_000, 100_000])
def test_synthetic_blocks_tianjic_meets_the_bound(n: int, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Receptive fields that fit a Tianjic core: a widening stack (each layer twice the last)
    whose 256-neuron slices read < 256 sources. Within 1.05 of the bound."""
    g = layered(n, fanin=24, window=64, expand=2)
    cm, _ = compile_and_check(g, "tianjic", tmp_path / "art")
    assert cm.n_cores <= 1.05 * cm.bounds["cores"], cm.bounds


def test_dense_fan_in_beyond_axons_is_split_exactly_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """mnist_dense_cuba's 784 inputs exceed Tianjic's 256 axons: partial-sum cores appear,
    each source sits on exactly one core of its group (the checker), and no core is over."""
    cm, _ = compile_and_check(api.load(str(shared_file("netx/mnist_dense_cuba.net"))),
                              "tianjic", tmp_path / "art")
    assert (cm.kind == PARTIAL).sum() >= 3
    soma = cm.soma[cm.kind == PARTIAL]
    assert (cm.usage["partial_inputs"][np.unique(soma)] > 0).all()


def test_delays_on_tianjic_are_mapped_with_their_relays(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = Population.make("h", (3,), NeuronModel.LIF, dv=0.1, v_th=1.0)
    w = Projection(name="w", src="in", dst="h", kind=Conn.DENSE, weight=np.ones((3, 4)),
                   delay=np.array([[0, 1, 2, 3]] * 3))
    g = Graph.build([p], [w], [Port(name="in", shape=(4,))],
                    [Port(name="out", shape=(3,), source="h")])
    cm, art = compile_and_check(g, "tianjic", tmp_path / "art")
    summ = json.loads((tmp_path / "art" / "mapping" / "summary.json").read_text())
    assert summ["numbering"]["size"]["in.delay"] == 3 * 4  # three levels of 4 relays


def test_placers_are_deterministic_and_anneal_beats_sequential() -> None:
    g = recurrent_sheet(side=64)
    hops = {}
    for placer in ("sequential", "hilbert", "anneal", "metis"):
        o = CompileOptions.of(placer=placer, seed=3)
        a = api.compile(g, "tianjic", o).coremap
        b = api.compile(g, "tianjic", o).coremap
        assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y), placer
        hops[placer] = a.meta["weighted_hops"]
    assert hops["anneal"] <= 0.8 * hops["sequential"], hops


def test_weighted_hops_by_hand() -> None:
    """Two cores 3 columns and 1 row apart exchanging 5 and 2 packets: 7 * 4 hops."""
    import scipy.sparse as sp

    w = sp.csr_matrix(np.array([[0, 5], [2, 0]], dtype=float))
    assert weighted_hops(w, np.array([0, 3]), np.array([0, 1])) == 28.0
    mesh = Mesh(load_target("tianjic"), 3)
    assert (mesh.chip_cols, mesh.chip_rows) == (2, 2) and mesh.n_slots == 3 * 156
    assert mesh.gx.max() == 23 and mesh.gy.max() == 25


def test_multi_chip_model_and_max_chips_error(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    g = modular(n=60_000, modules=30, fanin=20)
    cm, _ = compile_and_check(g, "tianjic", tmp_path / "art")
    assert cm.meta["chips"] >= 2 and len(set(cm.chip.tolist())) == cm.meta["chips"]
    with pytest.raises(DoesNotFit, match=r"Layer 'm\d+' is the first that does not fit.*"
                                         rf"--max-chips {cm.meta['chips']}"):
        api.compile(g, "tianjic", CompileOptions.of(max_chips=1))


def test_cli_does_not_fit_writes_nothing(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    model = tmp_path / "m.snn"
    api.convert(layered(50_000, fanin=8, window=16), str(model))
    out = tmp_path / "art"
    assert main(["compile", str(model), "-t", "tianjic", "--max-chips", "1", "-o",
                 str(out)]) == 1
    err = capsys.readouterr().err
    assert "does not fit" in err and "needs" in err and "Traceback" not in err
    assert not out.exists()


def test_cli_json_and_summary(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["compile", DIGITS, "-t", "tianjic", "--json", "--placer", "hilbert",
                 "--seed", "2", "-o", str(tmp_path / "a")]) == 0
    s = json.loads(capsys.readouterr().out)
    for k in ("cores_used", "cores_lower_bound", "chips", "weighted_hops"):
        assert k in s
    assert s["placer"] == "hilbert" and s["cores_used"] == 1
    assert main(["compile", DIGITS, "-t", "loihi2", "-o", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "cores on 1 chip" in out and "lower bound" in out and "placement" in out
    assert (tmp_path / "b" / "mapping" / "map.npz").exists()
    assert (tmp_path / "b" / "cores.md").read_text().startswith("# Core map for loihi2")


def test_mapped_artifacts_are_byte_identical(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(shared_file("netx/tiny_conv_loihi.net"))
    for d in ("a", "b"):
        assert main(["compile", path, "-t", "tianjic", "-o", str(tmp_path / d)]) == 0
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*")
                   if p.is_file())
    assert len(files) > 10
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_a_conv_stack_whose_last_layer_sends_nowhere_maps() -> None:
    """Two 16-channel 3x3 'same' convs on 64x64 maps (147k synapses a layer's core, fan-in
    144). The output layer's neurons send nowhere, so a dendrite-split group of them was once
    sized by neurons alone: 7361 neurons, whose partial-sum cores each sent 7361 sums past
    loihi2's 4096 output axons, and partition gave up after its re-cuts. A group now holds
    at most a core's out-axons of neurons; the map (checked by the pipeline's core-map
    verifier) keeps every limit and meets the bound."""
    cm = api.compile(conv_stack(layers=2, channels=16, side=64), "loihi2").coremap
    lim = cm.meta["limits"]
    assert all(int(cm.usage[k].max()) <= lim[k] for k in lim), cm.usage
    assert int(cm.usage["out_axons"][cm.kind == PARTIAL].max(initial=0)) <= lim["out_axons"]
    assert cm.n_cores <= 1.05 * cm.bounds["cores"], cm.bounds


def test_layers_expanded_in_blocks_give_the_same_synapse_table(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Synapses.of expands dense and conv layers a block of output channels or rows at a
    time, and keeps small expansions between its two passes: with one-synapse-sized blocks
    and nothing kept it builds the same table, field by field, as with whole layers."""
    from snnc.compiler import coremap as C
    from benchmarks.synthetic import dvs_cnn
    from snnc.compiler.passes.partition import neuron_positions, population_order

    g = api.compile(dvs_cnn(side=24), "loihi2", until="fixed").fixed
    ids = C.Ids.of(g, population_order(g))
    position = neuron_positions(g, ids)
    whole = C.Synapses.of(g, ids, position)
    monkeypatch.setattr(C, "EXPAND_BLOCK", 1)
    monkeypatch.setattr(C, "KEEP_EXPANDED_BYTES", 0)
    blocks = C.Synapses.of(g, ids, position)
    for f in ("src", "pos", "weight", "delay", "proj", "bits", "at_pos"):
        a, b = getattr(whole, f), getattr(blocks, f)
        assert a.dtype == b.dtype and np.array_equal(a, b), f
    assert np.array_equal(whole.dst, whole.at_pos[whole.pos])


def test_the_core_of_each_synapse_widens_when_the_cores_outgrow_its_type(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Each synapse's core starts as int16 and is widened (once, a copy) when a cut passes
    32767 cores. Started as int8 here, a 20k-neuron network on tianjic (over 128 cores,
    plain and dendrite-split) widens mid-cut and gets the same map."""
    import snnc.compiler.passes.partition as P

    g = layered(20_000, fanin=50)
    want = api.compile(g, "tianjic", until="mapped").coremap
    monkeypatch.setattr(P, "SYN_CORE_START", np.int8)
    got = api.compile(g, "tianjic", until="mapped").coremap
    assert want.n_cores > 128 and (want.kind == PARTIAL).any()
    assert want.syn_core.dtype == np.int16 and got.syn_core.dtype == np.int32
    assert np.array_equal(got.syn_core, want.syn_core)
    assert np.array_equal(got.neurons, want.neurons) and np.array_equal(got.axons, want.axons)
