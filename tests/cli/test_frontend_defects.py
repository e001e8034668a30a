"""Defects found on the way from the training frameworks into snnc, each held fixed: nested
outputs, exact input layouts, readouts in the float model's units, the error line last,
advice that leads somewhere, unit mistakes named, torch modules refused clearly."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import snnc
from snnc.cli import main
from snnc.compiler.errors import ModelError


def _net(n_in: list[int], n_out: int, body: dict, edges: list) -> nir.NIRGraph:
    nodes = {"input": nir.Input(input_type={"input": np.array(n_in)}), **body,
             "output": nir.Output(output_type={"output": np.array([n_out])})}
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def test_output_fed_by_a_nested_graphs_output_is_read() -> None:
    """A subgraph ending in a neuron, whose Output feeds the top Output (nirtorch writes
    recurrent layers this way)."""
    sub = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([3])}),
        "lif": nir.IF(r=np.ones(3), v_threshold=np.ones(3)),
        "output": nir.Output(output_type={"output": np.array([3])})},
        edges=[("input", "lif"), ("lif", "output")], type_check=False)
    g = _net([4], 3, {"fc": nir.Linear(weight=np.ones((3, 4))), "block": sub},
             [("input", "fc"), ("fc", "block"), ("block", "output")])
    graph = snnc.from_nir(g, dt=1.0)
    assert graph.outputs["output"].source == "block.lif"


def _cnn_file(tmp_path) -> str:  # type: ignore[no-untyped-def]
    g = _net([2, 4, 4], 4, {
        "conv": nir.Conv2d(input_shape=(4, 4), weight=np.ones((1, 2, 1, 1)), stride=1,
                           padding=0, dilation=1, groups=1, bias=np.zeros(1)),
        "if1": nir.IF(r=np.ones((1, 4, 4)), v_threshold=np.full((1, 4, 4), 0.5)),
        "flat": nir.Flatten(input_type={"input": np.array([1, 4, 4])}, start_dim=0),
        "fc": nir.Linear(weight=np.eye(4, 16)),
        "if2": nir.IF(r=np.ones(4), v_threshold=np.full(4, 0.5))},
        [("input", "conv"), ("conv", "if1"), ("if1", "flat"), ("flat", "fc"), ("fc", "if2"),
         ("if2", "output")])
    path = str(tmp_path / "cnn.nir")
    nir.write(path, g)
    return path


def test_an_input_in_another_layout_is_refused_naming_both_shapes(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    model = _cnn_file(tmp_path)
    x = (np.random.default_rng(0).random((6, 2, 4, 4)) < 0.5).astype(np.float32)
    np.save(tmp_path / "last.npy", np.moveaxis(x, 1, -1))  # (T, 4, 4, 2): channels last
    assert main(["run", model, "--input", str(tmp_path / "last.npy"), "--dt", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error:") and "(4, 4, 2)" in err[-1] and "(2, 4, 4)" in err[-1]
    np.save(tmp_path / "flat.npy", x.reshape(6, -1))  # flat: only when asked for
    assert main(["run", model, "--input", str(tmp_path / "flat.npy"), "--dt", "1"]) == 1
    assert "--flat-input" in capsys.readouterr().err
    np.save(tmp_path / "good.npy", x)
    for extra, f in (([], "good.npy"), (["--flat-input"], "flat.npy")):
        out = tmp_path / f"{f}.npz"
        assert main(["run", model, "--input", str(tmp_path / f), "--dt", "1", "-o", str(out),
                     *extra]) == 0
    capsys.readouterr()
    with np.load(tmp_path / "good.npy.npz") as a, np.load(tmp_path / "flat.npy.npz") as b:
        np.testing.assert_array_equal(a["output_spikes"], b["output_spikes"])


def test_per_channel_readouts_come_back_in_the_float_models_units() -> None:
    """An LI readout quantized per channel: run_compiled returns v / v_scale per neuron, so
    the values (and argmax) are the float model's, not per-neuron integers."""
    rng = np.random.default_rng(2)
    w = rng.normal(0, 1, (4, 10)) * np.array([[1], [10], [0.1], [3]])  # very unequal rows
    g = _net([10], 4, {"fc": nir.Linear(weight=w),
                       "li": nir.LI(tau=np.full(4, 1e-3), r=np.ones(4) * 10,
                                    v_leak=np.zeros(4))},
             [("input", "fc"), ("fc", "li"), ("li", "output")])
    graph = snnc.from_nir(g, dt=1e-4)
    x = (rng.random((5, 12, 10)) < 0.5).astype(float)
    want = snnc.run(graph, {"input": x}).outputs["output"]
    for per_channel in (False, True):
        c = snnc.compile(graph, "loihi2", snnc.CompileOptions.of(per_channel=per_channel),
                         until="fixed")
        got = snnc.run_compiled(c.fixed, {"input": x.astype(np.int64)}, engine="fixed")
        v = got.outputs["output"]
        np.testing.assert_allclose(v, want, rtol=0.05, atol=0.05 * np.abs(want).max())
        np.testing.assert_array_equal(v[:, -1].argmax(-1), want[:, -1].argmax(-1))


def test_the_error_line_comes_after_the_warnings(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A graph that needs repairs (a warning each) and then fails: the last line is the
    error."""
    g = _net([3], 2, {"fc": nir.Linear(weight=np.ones((2, 3))),
                      "lif": nir.LIF(tau=np.full(2, 1e-3), r=np.ones(2), v_leak=np.zeros(2),
                                     v_threshold=np.full(2, 1e9))},
             [("input", "fc"), ("fc", "lif"), ("lif", "output")])
    path = str(tmp_path / "bad.nir")
    nir.write(path, g)
    assert main(["compile", path, "--target", "loihi2", "-o", str(tmp_path / "o")]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert any(x.startswith("warning:") for x in lines), lines
    assert lines[-1].startswith("error:"), lines


def test_a_threshold_node_compiles_for_loihi2() -> None:
    """NIR's Threshold is memoryless (dv = 1): any reset gives the same spikes, so the zero
    reset Lava's LIF has is used instead of the refusal whose advice led nowhere."""
    g = _net([4], 3, {"fc": nir.Linear(weight=np.random.default_rng(0).normal(0, 1, (3, 4))),
                      "th": nir.Threshold(threshold=np.full(3, 0.3))},
             [("input", "fc"), ("fc", "th"), ("th", "output")])
    graph = snnc.from_nir(g, dt=1.0)
    x = (np.random.default_rng(1).random((3, 10, 4)) < 0.5).astype(float)
    c = snnc.compile(graph, "loihi2")
    want = snnc.run(graph, {"input": x}).outputs["output"]
    got = snnc.run_compiled(c.fixed, {"input": x.astype(np.int64)}, engine="fixed")
    assert want.sum() > 5
    np.testing.assert_array_equal(got.outputs["output"], want)


def test_tau_in_steps_read_as_seconds_is_named() -> None:
    """A Sinabs LIF (tau = 10 steps) read at the NIR default dt would hardly decay or feel
    its input: a warning names the layer and the way out; --source sinabs reads it right."""
    g = _net([3], 2, {"fc": nir.Linear(weight=np.ones((2, 3))),
                      "lif": nir.LIF(tau=np.full(2, 10.0), r=np.ones(2), v_leak=np.zeros(2),
                                     v_threshold=np.ones(2))},
             [("input", "fc"), ("fc", "lif"), ("lif", "output")])
    with pytest.warns(UserWarning, match=r"node 'lif'.*--source sinabs"):
        snnc.from_nir(g)
    right = snnc.from_nir(g, source="sinabs")
    assert right.populations["lif"].dv[0] == pytest.approx(1 - np.exp(-0.1))


@pytest.mark.parametrize("layer,message", [("maxpool", "MaxPool2d"),
                                           ("outside", "init_hidden"),
                                           ("sample", r"sample of shape \(5,\)")])
def test_torch_modules_snnc_cannot_take_are_refused_by_layer(layer: str, message: str) -> None:
    import snntorch as snn
    import torch

    if layer == "maxpool":
        net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.MaxPool2d(2),
                                  snn.Leaky(beta=0.9, init_hidden=True))
        sample = torch.zeros(1, 6, 6)
    elif layer == "outside":
        net = torch.nn.Sequential(torch.nn.Linear(4, 3), snn.Leaky(beta=0.9))
        sample = torch.zeros(4)
    else:  # a sample the module cannot take
        net = torch.nn.Sequential(torch.nn.Linear(4, 3), snn.Leaky(beta=0.9, init_hidden=True))
        sample = torch.zeros(5)
    with pytest.raises(ModelError, match=message):
        snnc.from_torch(net, sample)
