"""The annealing loop of the place pass, compiled with numba (millions of moves per second).

A move takes a random core and a random slot within a window that shrinks as the temperature
falls; it swaps the two (or moves into an empty slot). The cost change only involves the
neighbours of the two cores, read from the symmetric traffic matrix in CSR form.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _cost_of(c: int, x: int, y: int, skip: int, indptr: np.ndarray, indices: np.ndarray,
             data: np.ndarray, cx: np.ndarray, cy: np.ndarray) -> float:
    s = 0.0
    for k in range(indptr[c], indptr[c + 1]):
        j = indices[k]
        if j != c and j != skip:
            s += data[k] * (abs(x - cx[j]) + abs(y - cy[j]))
    return s


@njit(cache=True)
def anneal(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, gx: np.ndarray,
           gy: np.ndarray, grid: np.ndarray, start: np.ndarray, moves: int, seed: int
           ) -> np.ndarray:
    """Slots after annealing; `start` is the slot of each core, `grid` maps (y, x) -> slot."""
    np.random.seed(seed)
    n = len(start)
    n_slots = len(gx)
    slot = start.copy()
    occupant = np.full(n_slots, -1, dtype=np.int64)
    for c in range(n):
        occupant[slot[c]] = c
    cx = np.empty(n, dtype=np.int64)
    cy = np.empty(n, dtype=np.int64)
    for c in range(n):
        cx[c] = gx[slot[c]]
        cy[c] = gy[slot[c]]
    h, w = grid.shape
    # temperature: start near the mean |delta| of random moves, cool geometrically to ~0
    t0 = 0.0
    for _ in range(200):
        c = np.random.randint(n)
        t0 += _cost_of(c, cx[c], cy[c], -1, indptr, indices, data, cx, cy)
    deg = max(1.0, (indptr[n] - indptr[0]) / n)
    t0 = max(1e-9, 0.1 * t0 / 200.0 / deg)
    alpha = (1e-4) ** (1.0 / max(1, moves))
    temp = t0
    radius0 = max(h, w)
    for m in range(moves):
        temp *= alpha
        r = max(1, int(radius0 * (1.0 - m / moves)))
        a = np.random.randint(n)
        nx = cx[a] + np.random.randint(-r, r + 1)
        ny = cy[a] + np.random.randint(-r, r + 1)
        if nx < 0 or ny < 0 or nx >= w or ny >= h:
            continue
        s = grid[ny, nx]
        if s < 0 or s == slot[a]:
            continue
        b = occupant[s]
        ax, ay = cx[a], cy[a]
        delta = (_cost_of(a, nx, ny, b, indptr, indices, data, cx, cy)
                 - _cost_of(a, ax, ay, b, indptr, indices, data, cx, cy))
        if b >= 0:
            delta += (_cost_of(b, ax, ay, a, indptr, indices, data, cx, cy)
                      - _cost_of(b, nx, ny, a, indptr, indices, data, cx, cy))
        if delta <= 0 or np.random.random() < np.exp(-delta / temp):
            sa = slot[a]
            occupant[s] = a
            occupant[sa] = b
            slot[a] = s
            cx[a], cy[a] = nx, ny
            if b >= 0:
                slot[b] = sa
                cx[b], cy[b] = ax, ay
    return slot
