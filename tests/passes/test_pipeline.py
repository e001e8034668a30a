"""The pipeline driver: one list of registered passes, stages and prerequisites checked, a
verifier after every pass, per-pass options, `--passes` and `--print-ir-after`; and the
core-map verifier refusing hand-corrupted maps with the core and the limit named."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest
from snnc import api
from snnc.cli import main
from snnc.compiler.errors import IRError, SnncError
from snnc.compiler.passes import PASSES, PassContext, Stage
from snnc.compiler.pipeline import (
    PIPELINE,
    CompileOptions,
    PipelineError,
    check_pipeline,
    run_pipeline,
)
from snnc.compiler.targets import load_target
from snnc.compiler.verify_fixed import validate_fixed
from snnc.compiler.verify_mapped import MapError, verify_coremap
from snnc.frontends.text import parse_ir

from tests.conftest import ROOT

DIGITS = str(ROOT / "snnc" / "models" / "digits.nir")


def test_every_pass_is_registered_once_with_one_signature() -> None:
    assert list(PIPELINE) == ["lower_reset", "lower_current_bias", "quantize", "lower_delays",
                              "partition", "place", "route"]
    for name in PIPELINE:
        p = PASSES[name]
        assert p.name == p.fn.__name__ == name and p.doc
        assert list(p.fn.__code__.co_varnames[:3])[1:] == ["ctx", "opts"], name
    # every pass with options has its field in CompileOptions, of its type
    with_opts = {n: p.options for n, p in PASSES.items() if p.options is not None}
    got = {f.name: type(getattr(CompileOptions(), f.name)) for f in fields(CompileOptions)}
    assert got == with_opts


def test_stages_and_prerequisites_are_checked() -> None:
    with pytest.raises(PipelineError, match="unknown pass 'nope'"):
        check_pipeline(("nope",))
    with pytest.raises(PipelineError, match="'partition' takes a fixed IR"):
        check_pipeline(("lower_reset", "partition"))
    with pytest.raises(PipelineError, match=r"'route' needs \['place'\] first"):
        check_pipeline(("quantize", "partition", "route"))
    assert [p.name for p in check_pipeline(PIPELINE)] == list(PIPELINE)


def test_options_belong_to_their_pass() -> None:
    o = CompileOptions.of(weight_bits="4", placer="metis", seed=2)
    assert (o.quantize.weight_bits, o.place.placer, o.place.seed) == ("4", "metis", 2)
    assert o.to_json() == {"place": {"max_chips": None, "placer": "metis", "seed": 2},
                           "quantize": {"allow_overflow": False, "gain": {},
                                        "per_channel": False, "reach": {},
                                        "weight_bits": "4"}}
    with pytest.raises(PipelineError, match="no pass takes the option 'bits'"):
        CompileOptions.of(bits=4)
    with pytest.raises(Exception, match="--max-chips must be at least 1"):
        CompileOptions.of(max_chips=0)
    with pytest.raises(Exception, match="--weight-bits must be one of"):
        CompileOptions.of(weight_bits="3")


def test_the_loop_calls_every_pass_and_verifies_after_it() -> None:
    g = api.load(DIGITS)
    seen: list[tuple[str, str]] = []
    c = run_pipeline(g, load_target("tianjic"), on_pass=lambda n, ir, s, v: seen.append(
        (n, type(ir).__name__)))
    assert seen == [("lower_reset", "Graph"), ("lower_current_bias", "Graph"),
                    ("quantize", "Graph"), ("lower_delays", "Graph"), ("partition", "CoreMap"),
                    ("place", "CoreMap"), ("route", "CoreMap")]
    assert c.coremap is not None and c.fixed is not None and c.fixed.meta["stage"] == "fixed"
    fixed_only = run_pipeline(g, load_target("tianjic"), until=Stage.FIXED)
    assert fixed_only.coremap is None and fixed_only.fixed == c.fixed
    with pytest.raises(PipelineError, match="already compiled"):
        run_pipeline(c.fixed, load_target("tianjic"))
    with pytest.raises(SnncError, match="until must be 'fixed' or 'mapped'"):
        api.compile(g, "tianjic", until="float")


def test_the_fixed_verifier_names_the_node() -> None:
    c = api.compile(api.load(DIGITS), "loihi2", until="fixed")
    t = load_target("loihi2")
    bad = replace(c.fixed, projections={**c.fixed.projections, "fc1": replace(
        c.fixed.projections["fc1"], weight=c.fixed.projections["fc1"].weight + 1)})
    with pytest.raises(IRError, match="'fc1': weights are not on the 8-bit grid"):
        validate_fixed(bad, t)
    with pytest.raises(IRError, match="another format than target tianjic"):
        validate_fixed(c.fixed, load_target("tianjic"))


@pytest.fixture(scope="module")
def mapped():  # type: ignore[no-untyped-def]
    """digits on a target of 16-neuron, 64-axon cores: several cores, partial sums, routes."""
    t = load_target("refsim").with_facts({"core.neurons": 16, "core.in_axons": 40}, "test")
    return api.compile(api.load(DIGITS), t), t


def test_the_mapped_verifier_accepts_what_the_pipeline_made(mapped) -> None:  # type: ignore[no-untyped-def]
    c, t = mapped
    assert c.coremap.n_cores > 2 and (c.coremap.kind == 1).any()
    assert verify_coremap(c.coremap, t) is c.coremap


def test_the_mapped_verifier_names_the_core_and_the_limit(mapped) -> None:  # type: ignore[no-untyped-def]
    c, t = mapped
    cm = c.coremap
    # a target with smaller cores: the map is over its limit
    small = t.with_facts({"core.neurons": 8}, "test")
    with pytest.raises(MapError, match=r"core \d+: neurons 16 exceeds the limit 8 of target "
                                       r"refsim \(core\.neurons\)"):
        verify_coremap(cm, small)
    # usage that lies about what a core holds
    usage = {**cm.usage, "in_axons": cm.usage["in_axons"].copy()}
    usage["in_axons"][1] -= 1
    with pytest.raises(MapError, match=r"core 1: recorded in_axons \d+, but it holds \d+"):
        verify_coremap(cm.with_(usage=usage), t)
    # an axon dropped from a core's list: its synapses have no way in
    c0 = int(np.flatnonzero(np.diff(cm.axon_ptr) > 0)[0])
    axons = np.delete(cm.axons, cm.axon_ptr[c0])
    ptr = cm.axon_ptr.copy()
    ptr[c0 + 1:] -= 1
    with pytest.raises(MapError, match=rf"core {c0}: holds a synapse from source \d+, which is "
                                       "not on its axon list"):
        verify_coremap(cm.with_(axons=axons, axon_ptr=ptr), t)
    # an axon no synapse uses (a source the core's synapses do not have, kept sorted): the
    # routes would carry it, so it is refused
    have = set(cm.core_axons(c0).tolist())
    extra = next(s for s in range(cm.ids.n_sources) if s not in have)
    at = int(cm.axon_ptr[c0] + np.searchsorted(cm.core_axons(c0), extra))
    axons = np.insert(cm.axons, at, extra)
    ptr = cm.axon_ptr.copy()
    ptr[c0 + 1:] += 1
    with pytest.raises(MapError, match=rf"core {c0}: its axon for source {extra} carries no "
                                       "synapse"):
        verify_coremap(cm.with_(axons=axons, axon_ptr=ptr), t)
    # two cores on one slot
    x, y, chip = cm.x.copy(), cm.y.copy(), cm.chip.copy()
    x[1], y[1], chip[1] = x[0], y[0], chip[0]
    with pytest.raises(MapError, match=r"shares its slot"):
        verify_coremap(cm.with_(x=x, y=y, chip=chip), t)
    # a core off the mesh
    with pytest.raises(MapError, match=r"core 0: slot \(99, 0\) is outside the 8x8 mesh"):
        verify_coremap(cm.with_(x=np.r_[99, cm.x[1:]], y=np.r_[0, cm.y[1:]]), t)
    # a route entry removed: a core misses the spikes its synapses need
    table = {k: v[1:] for k, v in cm.routes["table"].items()}
    with pytest.raises(MapError, match=r"core \d+: no route brings the spikes of neuron \d+"):
        verify_coremap(cm.with_(routes={**cm.routes, "table": table}), t)


def test_cli_passes_lists_the_pipeline_without_a_model(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["compile", "--passes", "-t", "tianjic"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "pipeline for tianjic" in out[0]
    names = [line.split()[0] for line in out[1:]]
    assert names == list(PIPELINE)
    assert "float -> fixed" in out[3] and "options: weight-bits, per-channel, gain" in out[3]
    assert main(["compile", "-t", "tianjic"]) == 1
    assert "needs a MODEL" in capsys.readouterr().err


def test_cli_print_ir_after(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["compile", DIGITS, "-t", "loihi2", "-o", str(tmp_path / "a"),
                 "--print-ir-after", "quantize", "--print-ir-after", "route"]) == 0
    err = capsys.readouterr().err
    ir_text = err.split("// ----- IR after quantize\n")[1].split("// ----- IR after route")[0]
    assert ir_text.startswith("snnc-ir 1\n") and "weight_exp=" in ir_text
    assert '@"a0"' in ir_text  # large arrays are referenced, not printed
    fixed = api.load_artifact(str(tmp_path / "a"))[0]
    assert "population lif1 : lif (64)" in ir_text
    assert f"v_th = f64 (64) fill {fixed.populations['lif1'].v_th[0]}" in ir_text
    summary = err.split("// ----- IR after route\n")[1]
    assert summary.startswith("core map for loihi2: 1 cores") and "routed (tree)" in summary
    assert main(["compile", DIGITS, "-o", str(tmp_path / "b"), "--print-ir-after", "qantize"]) == 1
    assert "no such pass" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_print_ir_after_quantize_parses_back_to_the_fixed_ir(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """The text printed after a float or fixed pass is the IR: with arrays inline it parses
    back to exactly what the pass produced."""
    seen = {}
    c = api.compile(api.load(DIGITS), "loihi2", until="fixed",
                    on_pass=lambda n, ir, s, v: seen.__setitem__(n, ir))
    from snnc.frontends.text import print_ir

    assert parse_ir(print_ir(seen["quantize"])) == seen["quantize"]
    assert seen["lower_delays"] is c.fixed  # nothing to lower: the pass returns its input


def test_pass_context_reports_progress() -> None:
    msgs: list[str] = []
    PassContext(load_target("loihi2"), msgs.append).say("hello")
    PassContext(load_target("loihi2")).say("nobody listens")
    assert msgs == ["hello"]


def test_core_map_arrays_are_read_only_so_unchanged_means_same(mapped) -> None:  # type: ignore[no-untyped-def]
    c, t = mapped
    cm = c.coremap
    for a in (cm.axons, cm.syn_core, cm.syn.weight, cm.usage["neurons"], cm.x,
              cm.routes["table"]["to"]):
        with pytest.raises(ValueError, match="read-only"):
            a[0] = a[0]
    # given the map a pass started from, what the pass replaced is checked again...
    lo, hi = cm.axon_ptr[0], cm.axon_ptr[1]
    axons = cm.axons.copy()
    axons[lo:hi] = np.arange(hi - lo) + cm.ids.n_sources  # sources that do not exist
    with pytest.raises(MapError, match=r"core 0: holds a synapse from source \d+, which is not"):
        verify_coremap(cm.with_(axons=axons), t, prev=cm)
    # ...and a placement pass that moves a core off the mesh is caught with prev given
    with pytest.raises(MapError, match="outside the 8x8 mesh"):
        verify_coremap(cm.with_(x=np.r_[99, cm.x[1:]]), t, prev=cm)
