"""place: give every core a (chip, x, y) slot on the target's mesh, tiling chips as needed.

Objective: spike-traffic-weighted hops, sum over core pairs of w(a, b) * manhattan(a, b), where
w(a, b) counts the neurons of core a with synapses on core b (packets per step if each neuron
fires once) plus the partial sums a dendrite core forwards. Chips are tiled in a near-square
grid and a hop between chips counts as one hop. Placers:

  sequential  core i -> the i-th slot in row-major order, chip by chip (the naive baseline)
  hilbert     core i -> the i-th slot along a Hilbert curve over all chips (keeps neighbours
              in the core order close on the mesh)
  anneal      hilbert, then simulated annealing of swaps, deterministic for a seed (default)
  metis       recursive bisection: METIS (pymetis) cuts the core graph as the mesh region is
              halved along its longer side
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from snnc.compiler.coremap import PARTIAL, CoreMap
from snnc.compiler.errors import SnncError
from snnc.compiler.passes import PassContext, Stage, register_pass
from snnc.compiler.targets import TargetSpec

PLACERS = ("anneal", "hilbert", "sequential", "metis")


@dataclass(frozen=True)
class PlaceOptions:
    """Where cores go (recorded in the artifact's manifest)."""

    placer: str = "anneal"  # one of PLACERS
    seed: int = 0  # of the annealing placer
    max_chips: int | None = None  # None: as many chips as the model needs

    def __post_init__(self) -> None:
        if self.placer not in PLACERS:
            raise SnncError(f"unknown placer {self.placer!r}; choose one of "
                            f"{', '.join(PLACERS)}")
        if self.max_chips is not None and self.max_chips < 1:
            raise SnncError(f"--max-chips must be at least 1, got {self.max_chips}")


class DoesNotFit(SnncError):
    """The model needs more chips than the user allowed."""


def traffic(cm: CoreMap) -> sp.csr_matrix:
    """w[a, b]: packets per step from core a to core b if every neuron fires once."""
    nc = cm.n_cores
    src, b = cm.neuron_pairs()
    a = cm.neuron_core()[src]
    w = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(nc, nc)).tocsr()
    part = np.flatnonzero(cm.kind == PARTIAL)
    if len(part):
        n_part = np.diff(cm.neuron_ptr)[part]
        w = w + sp.coo_matrix((n_part.astype(float), (part, cm.soma[part])),
                              shape=(nc, nc)).tocsr()
    w.setdiag(0)  # packets that stay in a core travel no hops
    w.eliminate_zeros()
    return w


class Mesh:
    """All slots of `chips` chips of a target, as global grid coordinates."""

    def __init__(self, t: TargetSpec, chips: int):
        self.cols, self.rows = (int(v) for v in t["chip.mesh"])
        self.per_chip = int(t["chip.cores"])
        self.chips = chips
        self.chip_cols = math.ceil(math.sqrt(chips))
        self.chip_rows = math.ceil(chips / self.chip_cols)
        xs, ys, cs = [], [], []
        for c in range(chips):
            k = np.arange(self.per_chip)
            xs.append((c % self.chip_cols) * self.cols + k % self.cols)
            ys.append((c // self.chip_cols) * self.rows + k // self.cols)
            cs.append(np.full(self.per_chip, c))
        self.gx, self.gy = np.concatenate(xs), np.concatenate(ys)
        self.chip = np.concatenate(cs)
        self.width, self.height = self.chip_cols * self.cols, self.chip_rows * self.rows

    @property
    def n_slots(self) -> int:
        return len(self.gx)


def weighted_hops(w: sp.csr_matrix, gx: np.ndarray, gy: np.ndarray) -> float:
    """sum w[a, b] * (|x_a - x_b| + |y_a - y_b|)."""
    c = w.tocoo()
    return float((c.data * (np.abs(gx[c.row] - gx[c.col]) + np.abs(gy[c.row] - gy[c.col]))).sum())


def _hilbert_d(x: np.ndarray, y: np.ndarray, order: int) -> np.ndarray:
    """Distance along a Hilbert curve of side 2**order (vectorized xy2d)."""
    x, y = x.astype(np.int64).copy(), y.astype(np.int64).copy()
    d = np.zeros_like(x)
    s = 1 << (order - 1) if order else 0
    while s > 0:
        rx = ((x & s) > 0).astype(np.int64)
        ry = ((y & s) > 0).astype(np.int64)
        d += s * s * ((3 * rx) ^ ry)
        flip = ry == 0
        swap_x = np.where(flip & (rx == 1), s - 1 - x, x)
        swap_y = np.where(flip & (rx == 1), s - 1 - y, y)
        x, y = np.where(flip, swap_y, swap_x), np.where(flip, swap_x, swap_y)
        s >>= 1
    return d


def place_sequential(n: int, mesh: Mesh) -> np.ndarray:
    return np.arange(n)


def place_hilbert(n: int, mesh: Mesh) -> np.ndarray:
    order = max(1, math.ceil(math.log2(max(mesh.width, mesh.height, 2))))
    d = _hilbert_d(mesh.gx, mesh.gy, order)
    return np.argsort(d, kind="stable")[:n]


def place_metis(w: sp.csr_matrix, mesh: Mesh) -> np.ndarray:
    """Recursive bisection of the core graph (pymetis) onto halves of the mesh region."""
    import pymetis

    n = w.shape[0]
    sym = (w + w.T).tocsr()
    sym.data = np.maximum(1, np.round(sym.data)).astype(np.int64)
    slot_of = np.empty(n, dtype=np.int64)

    def rec(cores: np.ndarray, slots: np.ndarray) -> None:
        if len(cores) == 0:
            return
        if len(cores) == 1:
            slot_of[cores[0]] = slots[0]
            return
        xs, ys = mesh.gx[slots], mesh.gy[slots]
        axis_x = (xs.max() - xs.min()) >= (ys.max() - ys.min())
        o = np.lexsort((ys, xs)) if axis_x else np.lexsort((xs, ys))
        slots = slots[o]
        half = len(slots) // 2
        s1, s2 = slots[:half], slots[half:]
        n1 = min(len(s1), max(len(cores) - len(s2), round(len(cores) * len(s1) / len(slots))))
        sub = sym[cores][:, cores].tocsr()
        if n1 in (0, len(cores)) or sub.nnz == 0:
            part = np.zeros(len(cores), dtype=np.int64)
            part[n1:] = 1
        else:
            tp = [n1 / len(cores), 1 - n1 / len(cores)]
            adj = pymetis.CSRAdjacency(sub.indptr, sub.indices)
            _, parts = pymetis.part_graph(2, adj, eweights=sub.data, tpwgts=tp)
            part = np.asarray(parts, dtype=np.int64)
            # make the sizes exact: move the surplus with the weakest ties to its side
            for side, want in ((0, n1), (1, len(cores) - n1)):
                extra = int((part == side).sum()) - want
                if extra > 0:
                    idx = np.flatnonzero(part == side)
                    ties = np.asarray(sub[idx][:, part == side].sum(axis=1)).ravel()
                    part[idx[np.argsort(ties, kind="stable")[:extra]]] = 1 - side
        rec(cores[part == 0], s1)
        rec(cores[part == 1], s2)

    rec(np.arange(n), np.arange(mesh.n_slots))
    return slot_of


def place_anneal(w: sp.csr_matrix, mesh: Mesh, start: np.ndarray, seed: int,
                 effort: float = 1.0) -> np.ndarray:
    """Simulated annealing of swaps on the Hilbert start (numba), deterministic for a seed."""
    from snnc.compiler.passes._anneal import anneal

    n = w.shape[0]
    if n < 2:
        return start
    sym = (w + w.T).tocsr()
    grid = np.full((mesh.height, mesh.width), -1, dtype=np.int64)
    grid[mesh.gy, mesh.gx] = np.arange(mesh.n_slots)
    moves = int(effort * max(20000, 400 * n))
    return anneal(sym.indptr.astype(np.int64), sym.indices.astype(np.int64),
                  sym.data.astype(np.float64), mesh.gx.astype(np.int64),
                  mesh.gy.astype(np.int64), grid, start.astype(np.int64), moves, seed)


def chips_needed(cm: CoreMap, t: TargetSpec) -> int:
    return max(1, math.ceil(cm.n_cores / int(t["chip.cores"])))


def check_fits(cm: CoreMap, t: TargetSpec, max_chips: int | None) -> int:
    """Chips the map needs; DoesNotFit (naming the first layer past the cap) if over it."""
    need = chips_needed(cm, t)
    if max_chips is None or need <= max_chips:
        return need
    per = int(t["chip.cores"])
    cap = per * max_chips
    layers = cm.layer_cores()
    first = min((c for c in layers.items() if max(c[1]) >= cap), key=lambda kv: min(kv[1]))
    name, cores = first
    binding = max(cm.meta["limits"], key=lambda k: float(
        np.mean(cm.usage[k][cores] / cm.meta["limits"][k])))
    raise DoesNotFit(
        f"model needs {cm.n_cores} cores (lower bound {cm.bounds['cores']}); target {t.name} "
        f"has {per} per chip, so --max-chips {max_chips} allows {cap}. Layer '{name}' is the "
        f"first that does not fit: its {len(cores)} cores are limited by {binding} "
        f"({cm.meta['limits'][binding]} per core). It needs {need} chips: compile with "
        f"--max-chips {need}"
        + (", or lower --weight-bits to store more synapses per core"
           if binding == "synapse_memory_bits" else ""))


@register_pass(stage_in=Stage.MAPPED, options=PlaceOptions, requires=("partition",))
def place(cm: CoreMap, ctx: PassContext, opts: PlaceOptions) -> CoreMap:
    """cores -> (chip, x, y) slots minimizing traffic-weighted hops"""
    t, placer, seed = ctx.target, opts.placer, opts.seed
    chips = check_fits(cm, t, opts.max_chips)
    mesh = Mesh(t, chips)
    w = traffic(cm)
    n = cm.n_cores
    if placer == "sequential":
        slot = place_sequential(n, mesh)
    elif placer == "metis":
        slot = place_metis(w, mesh)
    else:
        slot = place_hilbert(n, mesh)
        if placer == "anneal":
            before = weighted_hops(w, mesh.gx[slot], mesh.gy[slot])
            ctx.say(f"place: annealing {n} cores (start {before:.0f} weighted hops)")
            slot = place_anneal(w, mesh, slot, seed)
    gx, gy = mesh.gx[slot], mesh.gy[slot]
    meta = dict(cm.meta, placer=placer, seed=seed, chips=chips,
                chip_grid=[mesh.chip_cols, mesh.chip_rows], mesh=[mesh.cols, mesh.rows],
                weighted_hops=weighted_hops(w, gx, gy), traffic_packets=float(w.sum()))
    return cm.with_(chip=mesh.chip[slot], x=gx - (mesh.chip[slot] % mesh.chip_cols) * mesh.cols,
                    y=gy - (mesh.chip[slot] // mesh.chip_cols) * mesh.rows, meta=meta)
