"""Rate-based ANN -> SNN conversion with data-based threshold balancing.

Each rectified layer becomes a population of IF neurons (LIF with `leak`) with threshold 1
that reset by subtraction, so a neuron's spike rate over T steps approximates its ANN
activation divided by the layer's scale lambda (Rueckauer et al. 2017, "Conversion of
continuous-valued deep networks to efficient event-driven networks"). lambda is a robust
percentile of the layer's positive activations on calibration input, capped at a Clip ceiling
(where the neuron's rate saturates at one spike per step, exactly like the clip). The weights
from layer P into layer Q become W * lambda_P / lambda_Q and the bias b / lambda_Q. Graph
outputs that are not rectified (logits) become non-spiking integrators whose v after T steps
is about T * logits / peak (peak: the largest calibrated |logit|); their reachable |v| is
recorded in meta['v_bound'] so the quantizer keeps it inside the target's state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import onnx
from snnc.compiler.errors import InputError, ModelError
from snnc.compiler.ir import Graph, NeuronModel, Population, Port, Projection, ResetMode
from snnc.frontends.onnx_ann import AnnModel, Tensor, lower_ann, scaled
from snnc.frontends.projections import lin_projection

ENCODINGS = ("direct", "rate")
MAXPOOL = ("error", "avg")  # MaxPool: refuse, or approximate by average pooling
RESETS = ("subtract", "zero")
V_BOUND_MARGIN = 1.5  # head-room over the largest calibrated output


@dataclass(frozen=True)
class AnnOptions:
    """How an ANN becomes an SNN (recorded in graph.meta['ann'])."""

    steps: int = 64  # time steps per inference the conversion is tuned for
    encoding: str = "direct"  # direct: deterministic spike code of x; rate: Bernoulli spikes
    percentile: float = 99.9  # robust maximum used for threshold balancing
    reset: str = "subtract"  # subtract (the conversion's choice) or zero
    leak: float = 0.0  # 0: IF neurons; > 0: LIF with dv = leak per step
    maxpool: str = "error"  # error, or avg (documented approximation)

    def check(self) -> None:
        if self.encoding not in ENCODINGS:
            raise InputError(f"--encoding must be one of {', '.join(ENCODINGS)}, got "
                             f"{self.encoding!r}")
        if not 1 <= self.steps <= 1_000_000:
            raise InputError(f"--ann-steps must lie in 1..1000000, got {self.steps}")
        if not 50 <= self.percentile <= 100:
            raise InputError(f"--percentile must lie in [50, 100], got {self.percentile}")
        if self.reset not in RESETS:
            raise InputError(f"the conversion resets by {' or '.join(RESETS)}, got "
                             f"{self.reset!r}")
        if not 0 <= self.leak < 1:
            raise InputError(f"--leak must lie in [0, 1), got {self.leak}")
        if self.maxpool not in MAXPOOL:
            raise InputError(f"--maxpool must be one of {', '.join(MAXPOOL)}, got "
                             f"{self.maxpool!r}")


def robust_max(a: np.ndarray, percentile: float) -> float:
    """The percentile of the positive entries of a (1.0 for a layer that never fires)."""
    pos = a[a > 0]
    return float(np.percentile(pos, percentile)) if pos.size else 1.0


def balance(ann: AnnModel, x: np.ndarray, percentile: float
            ) -> tuple[dict[str, float], dict[str, float]]:
    """lambda per layer, and the largest |output| per output, on calibration input x."""
    acts, outs = ann.forward(x)
    lam = {k: min(robust_max(a, percentile), ann.layers[k].ceiling) for k, a in acts.items()}
    peak = {k: float(np.abs(o).max(initial=0.0)) or 1.0 for k, o in outs.items()}
    return lam, peak


def _projections(name: str, t: Tensor, lam: dict[str, float], scale_out: float
                 ) -> list[Projection]:
    return [lin_projection(f"{src}->{name}", src, name, scaled(m, lam[src] / scale_out), 0)
            for src, m in t.maps.items()]


def convert(ann: AnnModel, calibration: np.ndarray, opts: AnnOptions) -> Graph:
    """The float IR of the SNN (see the module docstring)."""
    opts.check()
    inp = ann.input
    x = np.asarray(calibration, dtype=np.float64)
    if x.ndim < 2 or int(np.prod(x.shape[1:])) != int(np.prod(inp.shape)):
        raise InputError(f"balance data has shape {x.shape}; expected (N, "
                         f"{', '.join(map(str, inp.shape))}) for input '{inp.name}'")
    if x.shape[0] < 1:
        raise InputError(f"balance data has shape {x.shape}: no samples; give at least one")
    if not np.isfinite(x).all():
        raise InputError("balance data contains NaN or inf")
    if x.min() < 0:
        raise InputError(f"balance data has negative values (min {x.min():g}); spike "
                         "encodings carry non-negative values: shift or rescale the input "
                         "(and the first layer) first")
    lam, peak = balance(ann, x.reshape(x.shape[0], *inp.shape), opts.percentile)
    reset = ResetMode(opts.reset)
    model = NeuronModel.LIF if opts.leak > 0 else NeuronModel.IF
    pops, projs, bound = [], [], {}
    for name, layer in ann.layers.items():
        if layer.pre is None:
            continue
        pops.append(Population.make(name, layer.shape, model, dv=opts.leak, v_th=1.0,
                                    bias=layer.pre.bias / lam[name], reset=reset))
        projs += _projections(name, layer.pre, lam, lam[name])
    outputs = []
    for name, t in ann.outputs.items():
        src = t.source()
        if src is not None and ann.layers[src].pre is not None:
            outputs.append(Port(name=name, shape=t.shape, source=src))
            continue
        pop = f"{name}.sum"  # the integrator; the port keeps the ONNX output name
        pops.append(Population.make(pop, t.shape, NeuronModel.I, bias=t.bias / peak[name]))
        projs += _projections(pop, t, lam, peak[name])
        bound[pop] = V_BOUND_MARGIN * opts.steps
        outputs.append(Port(name=name, shape=t.shape, source=pop))
    meta = {"frontend": "onnx", "source": ann.path, "v_bound": bound,
            "ann": {**asdict(opts), "input_scale": lam[inp.name],
                    "lambda": {k: v for k, v in lam.items() if k != inp.name},
                    "output_peak": peak, "notes": ann.notes,
                    "readout": "argmax of the output v after the last step" if bound
                    else "spike counts of the output layer"}}
    return Graph.build(pops, projs, [Port(name=inp.name, shape=inp.shape)], outputs, meta=meta)


def ann_from_onnx(model: onnx.ModelProto, path: str, calibration: np.ndarray | None,
                  opts: AnnOptions) -> Graph:
    """Convert an ONNX ANN; calibration is (N, *input shape) typical inputs."""
    opts.check()
    ann = lower_ann(model, path, opts.maxpool)
    if calibration is None:
        raise ModelError(path, None, "converting an ANN needs calibration input for threshold "
                         "balancing", "pass --balance-data X.npy with (N, "
                         f"{', '.join(map(str, ann.input.shape))}) typical inputs")
    return convert(ann, calibration, opts)


def encode(x: np.ndarray, steps: int, encoding: str, input_scale: float, seed: int = 0
           ) -> np.ndarray:
    """(B, *shape) values -> (B, steps, *shape) binary spikes at rate clip(x / scale, 0, 1).

    direct: deterministic (an IF encoder with reset by subtraction: floor((t+1)r) - floor(tr));
    rate: Bernoulli with probability r each step, from a seeded generator.
    """
    if encoding not in ENCODINGS:
        raise InputError(f"encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
    r = np.clip(np.asarray(x, dtype=np.float64) / input_scale, 0.0, 1.0)[:, None]
    t = np.arange(steps, dtype=np.float64).reshape((1, steps) + (1,) * (r.ndim - 2))
    if encoding == "direct":
        return (np.floor((t + 1) * r + 1e-9) - np.floor(t * r + 1e-9)).astype(np.uint8)
    rng = np.random.default_rng(seed)
    return (rng.random((r.shape[0], steps, *r.shape[2:])) < r).astype(np.uint8)
