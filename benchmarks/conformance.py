"""Framework models compiled for the chips: how many output spikes stay the framework's.

For every model of tests/conformance/zoo.py (random weights in snnTorch, Sinabs, Rockpool;
the float engine equals each framework's forward pass exactly, tests/conformance), compile for
loihi2 and tianjic at 8 bits and run the fixed-point engine (bit-exact to refsim and, on
loihi2, to Lava) on the same input spikes. Reported per model: the fraction of output entries
(sample x step x neuron) equal to the framework's.

To tell quantization from a semantic gap, each model is also compiled for the same two
arithmetics with 16-bit weights and 16-bit decay registers ("wide" targets below). A semantic
gap does not shrink with precision; rounding does. The mean of each column is printed last.

    python benchmarks/conformance.py [--md docs/frontends_conformance.md]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WIDE = {
    "loihi2_wide": '''name = "loihi2_wide"
extends = "loihi2"
emit = ["refsim"]
[format]
weight_bits = { value = 16, source = "benchmark: wide weights isolate rounding" }
weight_min = { value = -65536, source = "benchmark" }
weight_max = { value = 65535, source = "benchmark" }
decay_bits = { value = 16, source = "benchmark: fine decay registers" }
act_shift = { value = 0, source = "benchmark: weights in state units, so 16 bits are used" }
state_bits = { value = 36, source = "benchmark: room for the wider weights" }
compute_bits = { value = 56, source = "benchmark" }
''',
    "tianjic_wide": '''name = "tianjic_wide"
extends = "tianjic"
emit = ["refsim"]
[format]
weight_bits = { value = 16, source = "benchmark: wide weights isolate rounding" }
weight_min = { value = -32768, source = "benchmark" }
weight_max = { value = 32767, source = "benchmark" }
decay_bits = { value = 16, source = "benchmark: fine leak multipliers" }
state_bits = { value = 40, source = "benchmark" }
accumulator_bits = { value = 48, source = "benchmark" }
''',
}


def agreement(graph, x, want, target) -> str:  # type: ignore[no-untyped-def]
    import snnc
    from snnc.compiler.errors import SnncError

    try:
        c = snnc.compile(graph, target, until="fixed")
    except SnncError as e:
        msg = str(e)
        msg = msg[msg.find("population"):] if "population" in msg else msg
        return "refused: " + re.split(r"[;:]", msg)[0]
    (port,) = graph.inputs
    res = snnc.run_compiled(c.fixed, {port: x.astype(np.int64)}, engine="fixed")
    out = next(iter(res.outputs.values()))
    lat = snnc.api.latency(graph)
    got = out[:, lat:lat + x.shape[1]].reshape(want.shape)
    return f"{float((got == want).mean()):.4f}"


def main() -> int:
    from snnc.compiler.targets import load_target

    from tests.conformance.zoo import all_cases

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--md", default=None, help="write the table as Markdown here")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as d:
        wide = {}
        for name, text in WIDE.items():
            (Path(d) / f"{name}.toml").write_text(text)
            wide[name] = load_target(str(Path(d) / f"{name}.toml"))
        cols = ["loihi2", "tianjic", "loihi2_wide", "tianjic_wide"]
        rows = []
        for case in all_cases():
            graph, x, want = case.build()
            cells = [agreement(graph, x, want, wide.get(t, t)) for t in cols]
            rows.append((case, cells))
            print(f"{case.name:48s} " + "  ".join(f"{c:>8s}" if not c.startswith("refused")
                                                   else "refused" for c in cells), flush=True)
    means = []
    for i in range(len(cols)):
        vals = [float(c[i]) for _, c in rows if not c[i].startswith("refused")]
        means.append(f"{np.mean(vals):.4f} ({len(vals)} models)" if vals else "-")
    print("mean", *means)
    if args.md:
        lines = ["| framework | model | construct | loihi2 8-bit | tianjic 8-bit | "
                 "loihi2 16-bit | tianjic 16-bit |", "|---|---|---|---|---|---|---|"]
        for case, cells in rows:
            lines.append(f"| {case.framework} | {case.name} | {case.construct} | "
                         + " | ".join(cells) + " |")
        lines.append("| | **mean** | | " + " | ".join(means) + " |")
        Path(args.md).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
