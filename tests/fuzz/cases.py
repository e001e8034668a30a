"""Hypothesis strategies for fuzz cases, one per surface: which seed, which mutations, which
command. A case is plain JSON (tests/fuzz/harness.py materializes and judges it).

Surfaces: nir, netx, onnx, snn (model files); inputs (.npy/.npz arrays); artifact (manifest
and files of a compiled artifact); target (TOML files); cli (options and their values)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.fuzz import mutate

SURFACES = ("nir", "netx", "onnx", "snn", "inputs", "artifact", "target", "cli")
INPUT_OF = {"tiny.nir": "x.npy", "conv.nir": "xc.npy", "tiny.net": "xc.npy",
            "tiny.snn": "x.npy", "conv.snn": "xc.npy", "tiny.onnx": "x.npy"}


def _case(surface: str, mutations: list[dict[str, Any]], argv: list[str],
          outputs: list[str]) -> dict[str, Any]:
    return {"surface": surface, "mutations": mutations, "argv": argv, "outputs": outputs}


def _model_command(model: str, extra: list[str] | None = None) -> st.SearchStrategy[Any]:
    """What a user does with a model file: inspect, convert, compile, run."""
    extra = extra or []
    x = INPUT_OF.get(model, "x.npy")
    return st.sampled_from([
        (["inspect", model, *extra], []),
        (["inspect", model, "--format", "json", *extra], []),
        (["convert", model, "-o", "out.snn", *extra], ["out.snn", "out.snn.npz"]),
        (["convert", model, "-o", "out.onnx", *extra], ["out.onnx"]),
        (["compile", model, "-t", "refsim", "-o", "out", *extra], ["out"]),
        (["compile", model, "-t", "loihi2", "-o", "out", *extra], ["out"]),
        (["run", model, "--input", x, "-o", "out.npz", *extra], ["out.npz"])])


def _model_case(surface: str, seeds: list[str], kind: str, ops: Any,
                extra: list[str] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def build(draw: Any) -> dict[str, Any]:
        seed = draw(st.sampled_from(seeds))
        if draw(st.integers(0, 3)) == 0:  # one case in four mutates bytes, the rest structure
            muts = [{"kind": "bytes", "file": seed, "ops": draw(mutate.BYTE_OPS)}]
        else:
            muts = [{"kind": kind, "file": seed, "ops": draw(ops)}]
        argv, outs = draw(_model_command(seed, extra if seed == "mlp.onnx" else None))
        return _case(surface, muts, argv, outs)
    return build()


def nir_cases() -> st.SearchStrategy[dict[str, Any]]:
    return _model_case("nir", ["tiny.nir", "conv.nir"], "h5", mutate.H5_OPS)


def netx_cases() -> st.SearchStrategy[dict[str, Any]]:
    return _model_case("netx", ["tiny.net"], "h5", mutate.H5_OPS)


def onnx_cases() -> st.SearchStrategy[dict[str, Any]]:
    return _model_case("onnx", ["mlp.onnx", "tiny.onnx"], "onnx", mutate.ONNX_OPS,
                       ["--balance-data", "bal.npy"])


def snn_cases() -> st.SearchStrategy[dict[str, Any]]:
    return _model_case("snn", ["tiny.snn", "conv.snn"], "text", mutate.TEXT_OPS)


@st.composite
def input_cases(draw: Any) -> dict[str, Any]:
    seed = draw(st.sampled_from(["x.npy", "xb.npy", "x.npz"]))
    muts = [{"kind": "input", "file": seed, "ops": draw(mutate.ARRAY_OPS)}]
    batch = ["--batch"] if seed == "xb.npy" or draw(st.booleans()) else []
    argv, outs = draw(st.sampled_from([
        (["run", "tiny.nir", "--input", seed, *batch], []),
        (["run", "art", "--input", seed, *batch], []),
        (["run", "art", "--input", seed, "--engine", "fixed", "-o", "out.npz", *batch],
         ["out.npz"]),
        (["report", "art", "-q", "--input", seed, *batch, "--json", "out.json"], ["out.json"]),
        (["compile", "tiny.nir", "-t", "refsim", "--calibrate", seed, "-o", "out"], ["out"]),
        (["encode", "mlp.onnx", "--balance-data", seed, "--values", "bal.npy", "-o",
          "out.npy"], ["out.npy"]),
        (["encode", "mlp.onnx", "--balance-data", "bal.npy", "--values", seed, "-o",
          "out.npy"], ["out.npy"])]))
    return _case("inputs", muts, argv, outs)


@st.composite
def artifact_cases(draw: Any) -> dict[str, Any]:
    muts = []
    if draw(st.booleans()):
        muts.append({"kind": "json", "file": "art/manifest.json", "ops": draw(mutate.JSON_OPS)})
    if not muts or draw(st.booleans()):
        muts.append({"kind": "files", "file": "art", "ops": draw(mutate.FILE_OPS)})
    argv, outs = draw(st.sampled_from([
        (["run", "art", "--input", "x.npy"], []),
        (["run", "art", "--input", "x.npy", "--engine", "fixed"], []),
        (["run", "art", "--input", "x.npy", "--counters", "-o", "out.npz"], ["out.npz"]),
        (["report", "art", "-q"], []),
        (["report", "art", "-q", "--json", "out.json", "--html", "out.html"],
         ["out.json", "out.html"]),
        (["compile", "tiny.nir", "-t", "refsim", "-o", "art"], ["art"]),
        (["compile", "tiny.nir", "-t", "loihi2", "-o", "art"], ["art"])]))
    return _case("artifact", muts, argv, outs)


@st.composite
def target_cases(draw: Any) -> dict[str, Any]:
    muts = [{"kind": "toml", "file": "mine.toml", "ops": draw(mutate.TOML_OPS)}]
    if draw(st.integers(0, 5)) == 0:
        muts = [{"kind": "bytes", "file": "mine.toml", "ops": draw(mutate.BYTE_OPS)}]
    argv, outs = draw(st.sampled_from([
        (["targets", "mine.toml"], []),
        (["targets", "mine.toml", "--format", "json"], []),
        (["compile", "tiny.nir", "-t", "mine.toml", "-o", "out"], ["out"]),
        (["compile", "conv.nir", "-t", "mine.toml", "-o", "out"], ["out"]),
        (["compile", "tiny.nir", "-t", "mine.toml"], ["tiny.*"])]))
    return _case("target", muts, argv, outs)


PATHS = ["tiny.nir", "x.npy", "art", "art/manifest.json", "mine.toml", ".", "..", "",
         "../outside", "../outside/secret.txt", "/", "missing.nir", "out.npz", "out",
         "tiny.nir/x", "-", "x" * 300, "art/ir.snn", "conv.nir", "bal.npy"]
# output paths: new names, the command's inputs, directories; never ../outside, which the
# harness keeps as the user's files no command was asked to write
OUT_PATHS = [p for p in PATHS if "outside" not in p] + ["out.npz", "out.json", "out.snn"]
NUMS = ["0", "-1", "1", "3", "2147483648", "1000000000", "99999999999999999999", "nan", "inf",
        "-inf", "1e-300", "0.5", "abc", ""]
OPTIONS: dict[str, list[str]] = {
    "--steps": NUMS, "--dt": NUMS, "--seed": NUMS, "--max-chips": NUMS, "--ann-steps": NUMS,
    "--percentile": NUMS, "--leak": NUMS, "--weight-bits": ["8", "4", "ternary", "0", "99"],
    "--target": ["loihi2", "tianjic", "refsim", "mine.toml", "nope", "../outside",
                 "/etc/passwd", "art"],
    "--reset": ["zero", "subtract", "none", "bogus"], "--timing": ["trained", "hardware", "x"],
    "--source": ["snntorch", "sinabs", "rockpool", "norse", "lava-dl", "x"],
    "--engine": ["float", "refsim", "fixed", "lava", "x"], "--placer": ["anneal", "x"],
    "--input": PATHS, "--values": PATHS, "--calibrate": PATHS, "--balance-data": PATHS,
    "-o": OUT_PATHS, "--output": OUT_PATHS, "--json": OUT_PATHS, "--md": OUT_PATHS,
    "--html": OUT_PATHS, "--print-ir-after": ["all", "quantize", "route", "x"],
    "--format": ["text", "json", "x"], "--encoding": ["direct", "rate", "x"],
    "--maxpool": ["error", "avg", "x"]}
FLAGS = ["--batch", "--trace", "--flat-input", "--counters", "--per-channel", "--full", "-q",
         "--passes", "--time-passes", "--debug"]
COMMANDS = ["inspect", "convert", "encode", "targets", "compile", "report", "run"]


def _command_options(cmd: str) -> list[tuple[str, int, list[str] | None, bool]]:
    """The options of one `snnc` command, read from its parser: (flag, takes a value,
    choices, required)."""
    from snnc.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.choices and cmd in a.choices)
    out = []
    for act in sub.choices[cmd]._actions:
        if act.option_strings and act.dest != "help":
            flag = max(act.option_strings, key=len)
            out.append((flag, 0 if act.nargs == 0 else 1,
                        [str(c) for c in act.choices] if act.choices else None, act.required))
    return out


def _value(draw: Any, flag: str, choices: list[str] | None) -> str:
    if choices and draw(st.integers(0, 3)):
        return str(draw(st.sampled_from(choices)))
    if flag in OPTIONS:
        return str(draw(st.sampled_from(OPTIONS[flag])))
    return str(draw(st.sampled_from(NUMS + PATHS)))


@st.composite
def cli_cases(draw: Any) -> dict[str, Any]:
    """One command with a model argument and several of its own options (mostly accepted by
    argparse, so that the values reach snnc), each drawn hostile."""
    cmd = draw(st.sampled_from(COMMANDS))
    argv = [cmd]
    if draw(st.integers(0, 9)):
        argv.append(draw(st.sampled_from(PATHS + ["digits", "art", "art", "tiny.nir",
                                                  "tiny.nir", "mlp.onnx"])))
    opts = _command_options(cmd)
    for flag, _, choices, required in opts:
        if required and draw(st.integers(0, 9)):
            argv += [flag, _value(draw, flag, choices)]
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.integers(0, 9)) == 0:  # now and then an option of another command
            flag = draw(st.sampled_from(sorted(OPTIONS) + FLAGS))
            argv += [flag] + ([draw(st.sampled_from(OPTIONS[flag]))] if flag in OPTIONS else [])
            continue
        flag, takes, choices, _ = draw(st.sampled_from(opts))
        if flag == "--debug":
            continue
        argv += [flag] + ([_value(draw, flag, choices)] if takes else [])
    outs = [argv[i + 1] for i, a in enumerate(argv[:-1])
            if a in ("-o", "--output", "--json", "--md", "--html")]
    if cmd == "compile" and "-o" not in argv and "--output" not in argv:
        outs.append("*")  # compile's default output: a new <model>.<target> directory here
    return _case("cli", [], argv, outs)


STRATEGIES = {"nir": nir_cases, "netx": netx_cases, "onnx": onnx_cases, "snn": snn_cases,
              "inputs": input_cases, "artifact": artifact_cases, "target": target_cases,
              "cli": cli_cases}
