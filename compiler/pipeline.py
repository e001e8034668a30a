"""The pass pipeline: one list of registered passes, run by one loop.

Every target runs the same list; what a pass does is decided by the target's facts (a target
with reset by subtraction skips lower_reset, one with a current bias skips lower_current_bias,
one with long delays keeps them). The loop checks each pass's stage and prerequisites, gives
it its options, verifies the result with the verifier of the stage it produced (float IR,
fixed IR, core map) and calls `on_pass(name, ir, pass_seconds, verify_seconds)` for progress,
`--time-passes` and `--print-ir-after`. Timings never enter the artifact, which must be
byte-identical on re-run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from snnc.compiler.coremap import CoreMap
from snnc.compiler.errors import SnncError
from snnc.compiler.ir import Graph
from snnc.compiler.passes import PASSES, PassContext, PassInfo, Stage

# importing the pass modules registers them
from snnc.compiler.passes.lower_current_bias import lower_current_bias  # noqa: F401
from snnc.compiler.passes.lower_delays import lower_delays  # noqa: F401
from snnc.compiler.passes.lower_reset import lower_reset  # noqa: F401
from snnc.compiler.passes.partition import partition  # noqa: F401
from snnc.compiler.passes.place import PlaceOptions, place  # noqa: F401
from snnc.compiler.passes.quantize import QuantizeOptions, quantize  # noqa: F401
from snnc.compiler.passes.route import route  # noqa: F401
from snnc.compiler.targets import TargetSpec
from snnc.compiler.verify import validate
from snnc.compiler.verify_fixed import validate_fixed
from snnc.compiler.verify_mapped import verify_coremap

PIPELINE: tuple[str, ...] = (
    "lower_reset", "lower_current_bias",  # float -> float, where the target lacks the feature
    "quantize",  # float -> fixed
    "lower_delays",  # fixed -> fixed
    "partition", "place", "route",  # fixed -> core map
)

# stage -> verifier(ir, target, prev): prev is the verified IR the pass started from, when it
# was of the same stage (the core-map verifier skips what the pass did not replace)
VERIFIERS: dict[Stage, Callable[[Any, TargetSpec, Any], Any]] = {
    Stage.FLOAT: lambda g, t, prev: validate(g),
    Stage.FIXED: lambda g, t, prev: validate_fixed(g, t),
    Stage.MAPPED: verify_coremap,
}


class PipelineError(SnncError):
    """A pass list that cannot run: unknown pass, wrong stage or a missing prerequisite."""


@dataclass(frozen=True)
class CompileOptions:
    """Everything that shapes the artifact, one field per pass that takes options (recorded in
    the manifest)."""

    quantize: QuantizeOptions = field(default_factory=QuantizeOptions)
    place: PlaceOptions = field(default_factory=PlaceOptions)

    def for_pass(self, p: PassInfo) -> Any:
        """The options of pass `p` (None for a pass without options)."""
        if p.options is None:
            return None
        opts = getattr(self, p.name)
        if not isinstance(opts, p.options):
            raise PipelineError(f"options of pass {p.name!r} must be {p.options.__name__}")
        return opts

    @staticmethod
    def of(**flat: Any) -> CompileOptions:
        """Options from flat keywords, each given to the pass whose options have that field:
        `CompileOptions.of(weight_bits="4", placer="metis")`."""
        owner = {f.name: name for name in _option_passes()
                 for f in fields(PASSES[name].options)}  # type: ignore[arg-type]
        per: dict[str, dict[str, Any]] = {}
        for k, v in flat.items():
            if k not in owner:
                raise PipelineError(f"no pass takes the option {k!r}; options: "
                                    f"{', '.join(sorted(owner))}")
            per.setdefault(owner[k], {})[k] = v
        return CompileOptions(**{name: PASSES[name].options(**kw)  # type: ignore[misc]
                                 for name, kw in per.items()})

    def to_json(self) -> dict[str, Any]:
        """{pass: {option: value}}, JSON-ready and sorted."""
        return json.loads(json.dumps({f.name: asdict(getattr(self, f.name))
                                      for f in fields(self)}, sort_keys=True))


def _option_passes() -> list[str]:
    return [f.name for f in fields(CompileOptions)]


@dataclass(frozen=True)
class Compiled:
    """What the pipeline produced: the fixed IR and, once mapped, its core map."""

    target: TargetSpec
    options: CompileOptions
    fixed: Graph | None
    coremap: CoreMap | None


def check_pipeline(names: tuple[str, ...]) -> list[PassInfo]:
    """The passes of `names`, in order; PipelineError if one is unknown, follows a pass of
    another stage, or runs before a pass it requires."""
    out: list[PassInfo] = []
    stage = Stage.FLOAT
    for i, n in enumerate(names):
        if n not in PASSES:
            raise PipelineError(f"unknown pass {n!r}; passes: {', '.join(PIPELINE)}")
        p = PASSES[n]
        if p.stage_in is not stage:
            raise PipelineError(f"pass {n!r} takes a {p.stage_in.value} IR, but the pipeline "
                                f"has a {stage.value} one at that point")
        if missing := [r for r in p.requires if r not in names[:i]]:
            raise PipelineError(f"pass {n!r} needs {missing} first")
        stage = p.stage_out
        out.append(p)
    return out


def describe(names: tuple[str, ...] = PIPELINE) -> list[dict[str, Any]]:
    """The pipeline as `snnc compile --passes` prints it."""
    return [{"name": p.name, "stage": f"{p.stage_in.value} -> {p.stage_out.value}",
             "options": [f.name for f in fields(p.options)] if p.options else [],
             "requires": list(p.requires), "reads": list(p.reads), "doc": p.doc}
            for p in check_pipeline(names)]


def run_pipeline(graph: Graph, target: TargetSpec, opts: CompileOptions | None = None,
                 until: Stage = Stage.MAPPED, names: tuple[str, ...] = PIPELINE,
                 on_pass: Callable[[str, Any, float, float], None] | None = None,
                 progress: Callable[[str], None] | None = None) -> Compiled:
    """Run the passes of `names` that produce at most stage `until`, verifying after each."""
    opts = opts or CompileOptions()
    ctx = PassContext(target, progress)
    passes = check_pipeline(names)
    if graph.meta.get("stage") == "fixed":
        raise PipelineError("the model is already compiled; give the float model")
    ir: Any = VERIFIERS[Stage.FLOAT](graph, target, None)
    fixed: Graph | None = None
    order = list(Stage)
    for p in passes:
        if order.index(p.stage_out) > order.index(until):
            break
        t0 = time.perf_counter()
        prev, ir = ir, p.fn(ir, ctx, opts.for_pass(p))
        t1 = time.perf_counter()
        VERIFIERS[p.stage_out](ir, target, prev if p.stage_in is p.stage_out else None)
        if p.stage_out is Stage.FIXED:
            fixed = ir
        if on_pass is not None:
            on_pass(p.name, ir, t1 - t0, time.perf_counter() - t1)
    return Compiled(target=target, options=opts, fixed=fixed,
                    coremap=ir if isinstance(ir, CoreMap) else None)
