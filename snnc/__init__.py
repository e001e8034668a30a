"""snnc: a compilation toolchain for spiking neural networks."""

from snnc.api import (
    compile,
    compile_summary,
    convert,
    from_nir,
    from_torch,
    list_targets,
    load,
    load_artifact,
    run,
    run_compiled,
    summary,
    to_nir,
    write_compiled,
)
from snnc.compiler.pipeline import CompileOptions, Compiled
from snnc.dataset_eval import evaluate
from snnc.design_sweep import sweep
from snnc.compiler.passes.place import PlaceOptions
from snnc.compiler.passes.quantize import QuantizeOptions

__version__ = "0.1.0"
__all__ = ["__version__", "CompileOptions", "Compiled", "PlaceOptions", "QuantizeOptions",
           "compile", "compile_summary", "convert", "from_nir", "from_torch", "list_targets",
           "evaluate", "load", "load_artifact", "run", "run_compiled", "summary", "sweep",
           "to_nir", "write_compiled"]
