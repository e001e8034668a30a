"""snnc: a compilation toolchain for spiking neural networks."""

from snnc.api import (
    compile_graph,
    convert,
    load,
    load_artifact,
    map_compiled,
    run,
    run_compiled,
    summary,
    write_compiled,
)

__version__ = "0.1.0"
__all__ = ["__version__", "compile_graph", "convert", "load", "load_artifact", "map_compiled",
           "run", "run_compiled", "summary", "write_compiled"]
