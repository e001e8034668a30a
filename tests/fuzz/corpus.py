"""The seed files the fuzzer mutates, one small valid example per surface, built once into a
directory: NIR and netx (HDF5), ONNX (an ANN and a spiking graph), .snn text, input arrays, a
compiled artifact (with its Lava script) and a target file."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import nir
import numpy as np

from tests.conftest import write_netx

ROOT = Path(__file__).resolve().parents[2]
MLP = ROOT / "examples" / "onnx_digits" / "mlp.onnx"


def _tiny_nir() -> nir.NIRGraph:
    rng = np.random.default_rng(0)
    return nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([4])}),
        "fc": nir.Affine(weight=rng.normal(size=(3, 4)), bias=np.zeros(3)),
        "lif": nir.LIF(tau=np.full(3, 2e-3), r=np.ones(3), v_leak=np.zeros(3),
                       v_threshold=np.ones(3)),
        "output": nir.Output(output_type={"output": np.array([3])})},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")], type_check=False)


def _conv_nir() -> nir.NIRGraph:
    rng = np.random.default_rng(1)
    return nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([1, 4, 4])}),
        "conv": nir.Conv2d(input_shape=(4, 4), weight=rng.normal(size=(2, 1, 3, 3)), stride=1,
                           padding=1, dilation=1, groups=1, bias=np.zeros(2)),
        "if": nir.IF(r=np.ones((2, 4, 4)), v_threshold=np.ones((2, 4, 4))),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "flat": nir.Flatten(start_dim=0, end_dim=-1, input_type={"input": np.array([2, 2, 2])}),
        "fc": nir.Linear(weight=rng.normal(size=(2, 8))),
        "cuba": nir.CubaLIF(tau_syn=np.full(2, 2e-3), tau_mem=np.full(2, 4e-3), r=np.ones(2),
                            v_leak=np.zeros(2), v_threshold=np.ones(2)),
        "output": nir.Output(output_type={"output": np.array([2])})},
        edges=[("input", "conv"), ("conv", "if"), ("if", "pool"), ("pool", "flat"),
               ("flat", "fc"), ("fc", "cuba"), ("cuba", "output")], type_check=False)


def _netx(path: Path) -> None:
    cuba = {"type": b"CUBA", "iDecay": 410, "vDecay": 410, "vThMant": 64, "refDelay": 1}
    rng = np.random.default_rng(2)
    layers = [
        {"type": np.array([b"input"]), "shape": np.array([1, 4, 4]), "neuron": cuba},
        {"type": np.array([b"conv"]), "shape": np.array([2, 4, 4]),
         "weight": rng.integers(-20, 20, (2, 1, 3, 3)).astype(float), "stride": [1, 1],
         "padding": [1, 1], "dilation": [1, 1], "groups": 1, "neuron": cuba},
        {"type": np.array([b"flatten"]), "shape": np.array([32])},
        {"type": np.array([b"dense"]), "shape": np.array([3]),
         "weight": rng.integers(-20, 20, (3, 32)).astype(float), "neuron": cuba}]
    write_netx(path, layers)


TARGET = """name = "mine"
extends = "loihi2"
description = "loihi2 with a smaller core"
[core]
neurons = { value = 512, source = "assumption: a smaller core" }
[timing]
cycles_per_synop = { value = 1.5, source = "assumption" }
"""


def build(dest: Path) -> Path:
    """Write every seed into `dest` (created); returns it."""
    from snnc.cli import main

    dest.mkdir(parents=True, exist_ok=True)
    nir.write(str(dest / "tiny.nir"), _tiny_nir())
    nir.write(str(dest / "conv.nir"), _conv_nir())
    _netx(dest / "tiny.net")
    shutil.copy(MLP, dest / "mlp.onnx")
    rng = np.random.default_rng(3)
    np.save(dest / "x.npy", (rng.random((6, 4)) < 0.5).astype(np.uint8))
    np.save(dest / "xb.npy", (rng.random((2, 6, 4)) < 0.5).astype(np.float32))
    np.save(dest / "xc.npy", (rng.random((6, 1, 4, 4)) < 0.5).astype(np.uint8))
    np.savez(dest / "x.npz", input=(rng.random((6, 4)) < 0.5).astype(np.uint8))
    np.save(dest / "bal.npy", rng.random((4, 1, 8, 8)))
    (dest / "mine.toml").write_text(TARGET)
    for argv in (["convert", "tiny.nir", "-o", "tiny.snn"],
                 ["convert", "conv.nir", "-o", "conv.snn"],
                 ["convert", "tiny.nir", "-o", "tiny.onnx"],
                 ["compile", "tiny.nir", "-t", "loihi2", "-o", "art"]):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = main([argv[0], *(str(dest / a) if a.endswith((".nir", ".snn", ".onnx"))
                                    or a == "art" else a for a in argv[1:])])
        assert code == 0, argv
    return dest


SEEDS = {  # surface -> the seed files its mutations start from
    "nir": ["tiny.nir", "conv.nir"], "netx": ["tiny.net"], "onnx": ["mlp.onnx", "tiny.onnx"],
    "snn": ["tiny.snn", "conv.snn"], "inputs": ["x.npy", "xb.npy", "x.npz"],
    "artifact": ["art"], "target": ["mine.toml"], "cli": ["tiny.nir"]}
