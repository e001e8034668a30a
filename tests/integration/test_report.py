"""snnc report: energy and op counts against a network counted by hand, reports of every real
model on both targets, and the HTML report rendered in headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from snnc import api
from snnc.cli import main
from snnc.compiler.ir import Conn, Graph, NeuronModel, Population, Port, Projection

from tests.conftest import NETX_FILES, NIR_FILES, shared_file

DIGITS = str(api.__file__).replace("api.py", "models/digits.nir")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]


def test_energy_and_ops_by_hand(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """1 input -> 2 integrate-and-fire neurons (weight 1 > v_th 0.5), one loihi2 core. Input
    spikes at steps 0 and 1, so each neuron fires at steps 1 and 2 of 4:
      synaptic ops 2 + 2 = 4, spikes 4, neuron updates 2 x 4 = 8 (4 active = fired,
      4 inactive), hops 0 (one core). Energy, loihi2 (Davies et al. 2018):
      4 x 23.6 + 4 x 81 + 4 x 52 + 4 x 1.7 = 633.2 pJ per inference.
    ANN equivalent: 2 synapses x 4.6 pJ = 9.2 pJ."""
    p = Population.make("h", (2,), NeuronModel.LIF, dv=0.0, v_th=0.5)
    w = Projection(name="w", src="in", dst="h", kind=Conn.DENSE, weight=np.ones((2, 1)),
                   delay=np.zeros((2, 1), dtype=np.int64))
    g = Graph.build([p], [w], [Port(name="in", shape=(1,))],
                    [Port(name="out", shape=(2,), source="h")])
    model = tmp_path / "m.snn"
    api.convert(g, str(model))
    art = tmp_path / "art"
    assert main(["compile", str(model), "-t", "loihi2", "-o", str(art)]) == 0
    np.save(tmp_path / "x.npy", np.array([[1], [1], [0], [0]], dtype=np.uint8))
    assert main(["report", str(art), "--input", str(tmp_path / "x.npy"), "--json",
                 str(tmp_path / "r.json"), "-q"]) == 0
    rep = json.loads((tmp_path / "r.json").read_text())
    per = rep["activity"]["per_inference"]
    assert (per["synops"], per["spikes"], per["neuron_updates"], per["hops"]) == (4, 4, 8, 0)
    ev = rep["energy"]["by_event"]
    assert ev["neuron_updates_active"]["events"] == 4
    assert ev["neuron_updates_inactive"]["events"] == 4
    assert rep["energy"]["per_inference_joules"] == pytest.approx(633.2e-12, rel=1e-12)
    assert "Davies" in ev["synaptic_ops"]["pj"]["source"]
    ann = rep["activity"]["neurobench"]["ann_equivalent"]
    assert ann["joules_per_inference"] == pytest.approx(9.2e-12)
    assert rep["activity"]["neurobench"]["activation_sparsity"] == pytest.approx(1 - 4 / 8)
    assert rep["fidelity"]["float_vs_fixed"]["argmax_agreement"] == 1.0


def real_models() -> list[tuple[str, str]]:
    return [("nir", m) for m in NIR_FILES] + [("netx", m) for m in NETX_FILES]


@pytest.mark.parametrize("target", ["loihi2", "tianjic"])
@pytest.mark.parametrize("kind,model", real_models())
def test_reports_of_real_models(kind: str, model: str, target: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = shared_file(f"{kind}/{model}.{'nir' if kind == 'nir' else 'net'}")
    art = tmp_path / "art"
    assert main(["compile", str(path), "-t", target, "-o", str(art)]) == 0
    out = {k: tmp_path / f"r.{k}" for k in ("json", "md", "html")}
    assert main(["report", str(art), "-q", "--json", str(out["json"]), "--md", str(out["md"]),
                 "--html", str(out["html"])]) == 0
    rep = json.loads(out["json"].read_text())
    for k in ("resources", "activity", "energy", "timing", "fidelity"):
        assert k in rep
    assert rep["energy"]["per_inference_joules"] > 0
    assert rep["resources"]["cores_used"] == len(rep["resources"]["cores"])
    assert rep["timing"]["cycles_per_step"]["max"] > 0
    assert rep["fidelity"]["float_vs_fixed"] is not None
    if target == "tianjic":
        assert 0.0 <= rep["timing"]["steps_within_budget"] <= 1.0
    assert out["md"].read_text().startswith(f"# snnc report: {target}")
    assert out["html"].read_text().count("data:image/png;base64,") == 5


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it with apt-get)")
    return exe


def render(page: Path, tmp_path: Path) -> tuple[str, list[str], np.ndarray]:
    """A page in headless Chromium: its DOM after load, its console lines, and a 1200x1600
    screenshot (RGB array)."""
    exe = chromium()
    url = page.as_uri()
    dom = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'u1'}",
                          "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
                          "--dump-dom", url], capture_output=True, text=True, timeout=120)
    console = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln]
    shot = tmp_path / "shot.png"
    subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'u2'}",
                    f"--screenshot={shot}", "--window-size=1200,1600", url],
                   capture_output=True, timeout=120)
    import matplotlib.image as mpimg

    return dom.stdout, console, mpimg.imread(shot)


def test_html_report_renders_in_headless_chromium(tmp_path) -> None:  # type: ignore[no-untyped-def]
    chromium()
    art = tmp_path / "art"
    assert main(["compile", DIGITS, "-t", "tianjic", "-o", str(art)]) == 0
    page = tmp_path / "r.html"
    assert main(["report", str(art), "-q", "--html", str(page)]) == 0
    dom, console, img = render(page, tmp_path)
    assert 'data-images="5/5"' in dom, dom[-500:]  # every plot decoded, non-zero
    assert not console, console
    assert img.shape[0] == 1600 and img.shape[1] == 1200
    assert img[..., :3].std() > 0.05  # plots and tables drawn, not a blank page


def test_report_of_a_non_artifact_is_one_error_line(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["report", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a compiled artifact" in err[0]
