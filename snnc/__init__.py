"""snnc: a compilation toolchain for spiking neural networks."""

from snnc.api import convert, load, run, summary

__version__ = "0.1.0"
__all__ = ["__version__", "convert", "load", "run", "summary"]
