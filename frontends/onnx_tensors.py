"""Reading an ONNX file's initializers: each one real, finite and of the size its dims
declare, or one error naming the initializer (shared by both ONNX readers)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper
from snnc.compiler import budget
from snnc.compiler.errors import ModelError


def initializers(model: onnx.ModelProto, path: str, finite: bool = True
                 ) -> dict[str, np.ndarray]:
    """name -> array of every initializer of the graph."""
    out = {}
    for t in model.graph.initializer:
        where = f"{path}: initializer '{t.name}'"
        budget.size_of(tuple(t.dims), where, 8)
        try:
            a = numpy_helper.to_array(t)
        except (ValueError, TypeError, KeyError, IndexError) as e:
            raise ModelError(path, t.name, f"unreadable ({e})", "re-export the model",
                             what="initializer") from None
        if a.dtype.kind not in "biuf":
            raise ModelError(path, t.name, f"of type {a.dtype}; expected real numbers",
                             what="initializer")
        if finite and a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ModelError(path, t.name, "contains NaN or inf", what="initializer")
        out[t.name] = a
    return out
