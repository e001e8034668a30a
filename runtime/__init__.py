"""snnc.runtime: what executes a model: the float and fixed-point engines, the reference
simulator of the chip, calibration, and the sections of reports."""
