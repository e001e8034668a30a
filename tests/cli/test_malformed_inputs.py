"""Bad input of every kind: one clear 'error:' line, a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest

from snnc.cli import main
from tests.conftest import ROOT, write_netx

DIGITS = ROOT / "examples" / "digits" / "digits.nir"


def _nir(path: Path, nodes: dict, edges: list) -> Path:
    nir.write(str(path), nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))
    return path


def _inp(n):
    return nir.Input(input_type={"input": np.array(n if isinstance(n, list) else [n])})


def _out(n):
    return nir.Output(output_type={"output": np.array([n])})


def _if(n):
    return nir.IF(r=np.ones(n), v_threshold=np.ones(n))


def _chain(tmp, name, mid, n_in=3, n_out=2):
    return _nir(tmp / f"{name}.nir", {"i": _inp(n_in), "m": mid, "n": _if(n_out), "o": _out(n_out)},
                [("i", "m"), ("m", "n"), ("n", "o")])


_netx = write_netx


CUBA = {"type": "CUBA", "iDecay": 410, "vDecay": 410, "vThMant": 64, "refDelay": 1}


def _dense(w, neuron=CUBA, **kw):
    return {"type": np.array([b"dense"]), "shape": np.array([w.shape[0]]), "weight": w,
            "neuron": neuron, **kw}


def _snn(tmp, name, body):
    p = tmp / f"{name}.snn"
    p.write_text("snnc-ir 1\ninput x : (2)\n" + body + "\noutput y : (1) <- p\n")
    return p


POP = ("population p : lif (1) reset=zero refractory=0 {\n du = f64 (1) fill 0.0\n"
       " dv = f64 (1) fill 0.5\n v_th = f64 (1) fill 1.0\n v_reset = f64 (1) fill 0.0\n"
       " bias = f64 (1) fill 0.0\n i_bias = f64 (1) fill 0.0\n}\n")


def _proj(weight="f64 (1, 2) [1.0, 2.0]", delay="i64 (1, 2) fill 0", dst="p"):
    return f"projection w : x -> {dst} dense {{\n weight = {weight}\n delay = {delay}\n}}\n"


def cases(tmp: Path) -> dict[str, list[str]]:
    """name -> argv. Each one must fail cleanly."""
    good = str(DIGITS)
    trunc = tmp / "trunc.nir"
    trunc.write_bytes(DIGITS.read_bytes()[: DIGITS.stat().st_size // 2])
    (tmp / "empty.nir").write_bytes(b"")
    (tmp / "noise.nir").write_bytes(os.urandom(4096))
    unknown = tmp / "unknown.nir"
    unknown.write_bytes(DIGITS.read_bytes())
    with h5py.File(unknown, "r+") as f:
        del f["node/nodes/fc1/type"]
        f["node/nodes/fc1/type"] = np.bytes_("Frobnicate")
    w = np.ones((2, 3))
    c: dict[str, Path | str] = {
        "missing_file": tmp / "nope.nir",
        "empty_file": tmp / "empty.nir",
        "truncated_nir": trunc,
        "random_bytes_nir": tmp / "noise.nir",
        "unknown_node_type": unknown,
        "affine_wrong_shape": _chain(tmp, "shape", nir.Linear(weight=np.ones((2, 5)))),
        "nan_weights": _chain(tmp, "nanw", nir.Linear(weight=np.full((2, 3), np.nan))),
        "inf_bias": _chain(tmp, "infb", nir.Affine(weight=w, bias=np.array([np.inf, 0]))),
        "negative_delay": _nir(tmp / "negd.nir", {"i": _inp(2), "d": nir.Delay(
            delay=np.array([-1.0, 0.0])), "n": _if(2), "o": _out(2)},
            [("i", "d"), ("d", "n"), ("n", "o")]),
        "linear_cycle": _nir(tmp / "cyc.nir", {"i": _inp(2), "a": nir.Linear(weight=np.eye(2)),
                                               "b": nir.Linear(weight=np.eye(2)), "n": _if(2),
                                               "o": _out(2)},
                             [("i", "a"), ("a", "b"), ("b", "a"), ("b", "n"), ("n", "o")]),
        "empty_graph": _nir(tmp / "emptyg.nir", {}, []),
        "no_input_node": _nir(tmp / "noin.nir", {"n": _if(2), "o": _out(2)}, [("n", "o")]),
        "edge_to_missing_node": _nir(tmp / "dangling.nir", {"i": _inp(2), "n": _if(2),
                                                            "o": _out(2)},
                                     [("i", "ghost"), ("n", "o")]),
        "output_fed_by_linear": _nir(tmp / "linout.nir", {"i": _inp(3), "l": nir.Linear(
            weight=w), "o": _out(2)}, [("i", "l"), ("l", "o")]),
        "neuron_param_nan": _nir(tmp / "nanp.nir", {"i": _inp(2), "n": nir.IF(
            r=np.ones(2), v_threshold=np.array([np.nan, 1.0])), "o": _out(2)},
            [("i", "n"), ("n", "o")]),
        "tau_negative": _nir(tmp / "tau.nir", {"i": _inp(2), "n": nir.LIF(
            tau=np.array([-1.0, 1.0]), r=np.ones(2), v_leak=np.zeros(2),
            v_threshold=np.ones(2)), "o": _out(2)}, [("i", "n"), ("n", "o")]),
        "conv_channel_mismatch": _nir(tmp / "convc.nir", {
            "i": _inp([3, 5, 5]), "c": nir.Conv2d(input_shape=(5, 5), weight=np.ones(
                (2, 2, 3, 3)), stride=1, padding=0, dilation=1, groups=1, bias=np.zeros(2)),
            "n": _if(18), "o": _out(18)}, [("i", "c"), ("c", "n"), ("n", "o")]),
        "conv_kernel_too_big": _nir(tmp / "convk.nir", {
            "i": _inp([1, 2, 2]), "c": nir.Conv2d(input_shape=(2, 2), weight=np.ones(
                (1, 1, 5, 5)), stride=1, padding=0, dilation=1, groups=1, bias=np.zeros(1)),
            "n": _if(1), "o": _out(1)}, [("i", "c"), ("c", "n"), ("n", "o")]),
        "pool_on_flat_input": _chain(tmp, "pool", nir.SumPool2d(
            kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))),
    }
    # netx (HDF5)
    c["netx_truncated"] = tmp / "t.net"
    src = _netx(tmp / "ok.net", [_dense(np.ones((4, 6)), inFeatures=6)])
    (tmp / "t.net").write_bytes(src.read_bytes()[:300])
    c["netx_pool_layer"] = _netx(tmp / "pool.net", [_dense(np.ones((4, 6))), {
        "type": np.array([b"pool"]), "shape": np.array([4])}])
    c["netx_sdnn_neuron"] = _netx(tmp / "sdnn.net", [_dense(np.ones((4, 6)), neuron={
        "type": "SDNN", "vThMant": 10})])
    c["netx_weight_shape"] = _netx(tmp / "wshape.net", [_dense(np.ones((4, 6))), _dense(
        np.ones((3, 5)))])
    c["netx_nan_weight"] = _netx(tmp / "nan.net", [_dense(np.full((4, 6), np.nan))])
    c["netx_negative_delay"] = _netx(tmp / "negd.net", [_dense(np.ones((4, 6)),
                                                               delay=np.array([-2]))])
    c["netx_empty"] = _netx(tmp / "empty.net", [])
    c["netx_bad_decay"] = _netx(tmp / "dec.net", [_dense(np.ones((4, 6)), neuron={
        **CUBA, "iDecay": 9000})])
    c["netx_concat_layer"] = _netx(tmp / "concat.net", [_dense(np.ones((4, 6))), {
        "type": np.array([b"concat"]), "shape": np.array([4])}])
    # text format
    c["snn_syntax_error"] = _snn(tmp, "syntax", "population p : lif (1) {{{")
    c["snn_negative_delay"] = _snn(tmp, "negd", POP + _proj(delay="i64 (1, 2) [0, -3]"))
    c["snn_nan_weight"] = _snn(tmp, "nanw", POP + _proj(weight="f64 (1, 2) [nan, 1.0]"))
    c["snn_wrong_weight_shape"] = _snn(tmp, "wshape", POP + _proj(
        weight="f64 (2, 2) fill 1.0", delay="i64 (2, 2) fill 0"))
    c["snn_unknown_model"] = _snn(tmp, "model", POP.replace(": lif", ": hodgkin_huxley"))
    c["snn_missing_target"] = _snn(tmp, "target", POP + _proj(dst="q"))
    c["snn_array_too_short"] = _snn(tmp, "short", POP + _proj(weight="f64 (1, 2) [1.0]"))
    c["unknown_extension"] = tmp / "model.xyz"
    (tmp / "model.xyz").write_text("x")
    argv = {k: ["inspect", str(v)] for k, v in c.items()}
    argv["dt_larger_than_tau"] = ["inspect", str(DIGITS), "--dt", "1.0"]
    argv["dt_negative"] = ["inspect", str(DIGITS), "--dt=-1e-3"]
    argv["dt_on_netx"] = ["inspect", str(src), "--dt", "1e-3"]
    np.save(tmp / "wrong.npy", np.zeros((10, 63)))
    np.save(tmp / "nan.npy", np.full((10, 64), np.nan))
    np.save(tmp / "str.npy", np.array(["a", "b"]))
    argv["run_input_wrong_shape"] = ["run", good, "--input", str(tmp / "wrong.npy")]
    argv["run_input_missing"] = ["run", good, "--input", str(tmp / "none.npy")]
    argv["run_input_nan"] = ["run", good, "--input", str(tmp / "nan.npy")]
    argv["run_input_strings"] = ["run", good, "--input", str(tmp / "str.npy")]
    argv["run_steps_zero"] = ["run", good, "--input", str(tmp / "nan.npy"), "--steps", "0"]
    argv["run_batch_missing_axis"] = ["run", good, "--input", str(tmp / "wrong.npy"), "--batch"]
    argv["convert_bad_extension"] = ["convert", good, "-o", str(tmp / "out.txt")]
    argv["convert_unwritable"] = ["convert", good, "-o", str(tmp / "no" / "dir" / "o.snn")]
    return argv


def test_there_are_at_least_thirty_cases(tmp_path):
    assert len(cases(tmp_path)) >= 30


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    return d, cases(d)


CASE_NAMES = sorted(cases(Path(tempfile.mkdtemp(prefix="snnc-cases-"))))


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_input_gives_one_clear_error(case_dir, capsys, name):
    _, argv = case_dir
    code = main(argv[name])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert code not in (0, 70), f"{name}: exit {code}\n{err}"
    assert len(lines) == 1, f"{name}: expected one error line\n{err}"
    assert "Traceback" not in err
    assert len(lines[0]) > 20, lines[0]


def test_console_script_exits_nonzero_without_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "snnc.cli", "inspect", str(tmp_path / "x.nir")],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.startswith("error:") and "Traceback" not in r.stderr
