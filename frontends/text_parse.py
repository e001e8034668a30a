"""Parsing the snnc IR text format (.snn) with its lark grammar (snn.lark); printing is in
text.py, which imports this module only when something is parsed."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
from lark import Lark, Token, Transformer
from lark.exceptions import LarkError, UnexpectedInput
from snnc.compiler import budget
from snnc.compiler.errors import ModelError, SnncError
from snnc.compiler.ir import (
    FORMAT_VERSION,
    POP_PARAMS,
    Conn,
    Graph,
    NeuronModel,
    Population,
    Port,
    Projection,
    ResetMode,
)


@functools.cache
def _parser() -> Lark:
    """The .snn grammar's LALR parser, built on first parse: building it takes 0.1-0.15 s of
    pure Python, which writing an artifact (printing only) should not pay under the GIL."""
    return Lark.open(str(Path(__file__).with_name("snn.lark")), parser="lalr")


class _Build(Transformer):  # type: ignore[type-arg]
    def __init__(self, arrays: dict[str, np.ndarray] | None):
        super().__init__()
        self.arrays = arrays
        self.values = 0  # array values declared so far (8 bytes each), against the budget

    def name(self, c: list[Token]) -> str:
        t = c[0]
        return json.loads(t) if t.type == "STRING" else str(t)

    def shape(self, c: list[Any]) -> tuple[int, ...]:
        return tuple(int(x) for x in c if x is not None)

    tuple = shape  # stride, padding, dilation: counts, not shapes (the IR verifier bounds them)

    def fill(self, c: list[Token]) -> tuple[str, str]:
        return ("fill", str(c[0]))

    def ref(self, c: list[Token]) -> tuple[str, str]:
        return ("ref", json.loads(c[0]))

    def array(self, c: list[Any]) -> np.ndarray:
        dt = np.float64 if str(c[0]) == "f64" else np.int64
        shape, body = c[1], c[2]
        n = budget.size_of(shape, f"an array of shape {shape}", 8)
        self.values += n  # before allocating: every array of the file together
        budget.check(self.values, 8, f"an array of shape {shape}",
                     "it and the arrays declared before it")
        if isinstance(body, tuple) and body[0] == "fill":
            return np.full(shape, dt(float(body[1]) if dt is np.float64 else int(body[1])))
        if isinstance(body, tuple):
            if self.arrays is None or body[1] not in self.arrays:
                raise ValueError(f"array @{body[1]!r} not found in the .npz beside the file")
            a = np.asarray(self.arrays[body[1]])
        else:
            text = str(body)[1:-1].strip()
            parts = text.split(",") if text else []
            a = np.array([float(x) for x in parts] if dt is np.float64
                         else [int(x) for x in parts], dtype=dt)
        if a.size != n:
            raise ValueError(f"array has {a.size} values but shape {shape} needs {n}")
        return a.astype(dt).reshape(shape)

    def param(self, c: list[Any]) -> tuple[str, np.ndarray]:
        return (str(c[0]), c[1])

    def attr(self, c: list[Any]) -> tuple[str, Any]:
        v = c[1]
        return (str(c[0]), str(v) if isinstance(v, Token) and v.type == "WORD" else
                (int(v) if isinstance(v, Token) else v))

    def input(self, c: list[Any]) -> Port:
        return Port(name=c[0], shape=c[1])

    def output(self, c: list[Any]) -> Port:
        return Port(name=c[0], shape=c[1], source=c[2])

    def population(self, c: list[Any]) -> Population:
        name, model, shape = c[0], NeuronModel(str(c[1])), c[2]
        attrs = dict(x for x in c[3:] if isinstance(x, tuple) and not isinstance(x[1], np.ndarray))
        params = dict(x for x in c[3:] if isinstance(x, tuple) and isinstance(x[1], np.ndarray))
        return Population(name=name, shape=shape, model=model,
                          reset=ResetMode(attrs.get("reset", "zero")),
                          refractory=int(attrs.get("refractory", 0)),
                          onset=int(attrs.get("onset", 0)),
                          reset_every=int(attrs.get("reset_every", 0)),
                          reset_phase=int(attrs.get("reset_phase", 0)),
                          **{k: params[k] for k in POP_PARAMS})

    def projection(self, c: list[Any]) -> Projection:
        name, src, dst, kind = c[0], c[1], c[2], Conn(str(c[3]))
        attrs = dict(x for x in c[4:] if isinstance(x, tuple) and not isinstance(x[1], np.ndarray))
        params = dict(x for x in c[4:] if isinstance(x, tuple) and isinstance(x[1], np.ndarray))
        return Projection(name=name, src=src, dst=dst, kind=kind, weight=params["weight"],
                          delay=params["delay"], indptr=params.get("indptr"),
                          indices=params.get("indices"), stride=attrs.get("stride", ()),
                          padding=attrs.get("padding", ()), dilation=attrs.get("dilation", ()),
                          groups=int(attrs.get("groups", 1)),
                          weight_exp=int(attrs.get("weight_exp", 0)),
                          weight_bits=int(attrs.get("weight_bits", 0)))

    def meta(self, c: list[Token]) -> dict[str, Any]:
        return {"__meta__": json.loads(json.loads(c[0]))}

    def header(self, c: list[Token]) -> int:
        return int(c[0])

    def start(self, c: list[Any]) -> Graph:
        if c[0] != FORMAT_VERSION:
            raise ValueError(f"format version {c[0]} is not supported (this snnc reads "
                             f"{FORMAT_VERSION})")
        groups: dict[type, dict[str, Any]] = {Population: {}, Projection: {}}
        ins: dict[str, Port] = {}
        outs: dict[str, Port] = {}
        meta: dict[str, Any] = {}
        for item in c[1:]:
            if isinstance(item, dict):
                meta = item["__meta__"]
                continue
            table = (groups.get(type(item)) if not isinstance(item, Port) else
                     (outs if item.source is not None else ins))
            assert table is not None
            if item.name in table:
                raise ValueError(f"'{item.name}' is defined twice")
            table[item.name] = item
        return Graph(populations=groups[Population], projections=groups[Projection],
                     inputs=ins, outputs=outs, meta=meta)


def parse_ir(text: str, arrays: dict[str, np.ndarray] | None = None,
             path: str = "<text>") -> Graph:
    """Text -> IR (not validated; call compiler.verify.validate)."""
    try:
        tree = _parser().parse(text)
        return _Build(arrays).transform(tree)
    except UnexpectedInput as e:
        raise ModelError(path, None, f"syntax error at line {e.line}, column {e.column}: "
                         f"{str(e).splitlines()[0]}") from None
    except LarkError as e:
        cause = e.__context__ or e
        if isinstance(cause, SnncError):
            raise ModelError(path, None, str(cause)) from None
        raise ModelError(path, None, f"invalid IR text: {cause}") from None
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as e:
        raise ModelError(path, None, f"invalid IR text: {e}") from None
