"""The travelling salesman problem as a Hopfield–Tank energy (Hopfield & Tank 1985).

Units V_{x,i} ∈ {0, 1} (city x at tour position i) form one binary layer of n² units, shape (n, n):

    E = A/2 Σ_x Σ_i Σ_{j≠i} V_xi V_xj          each city at most once
      + B/2 Σ_i Σ_x Σ_{y≠x} V_xi V_yi          each position at most one city
      + C/2 (Σ_xi V_xi − n)²                    n cities in all
      + D/2 Σ_x Σ_{y≠x} Σ_i d_xy V_xi (V_y,i+1 + V_y,i−1)     tour length (positions cyclic)

Written as ½ VᵀQV + cᵀV + const (V² = V folds the C term's diagonal into c), the model's
parameters are W = −Q (symmetric, zero diagonal) and b = −c. A state decodes to a tour when V
is a permutation matrix.
"""
from __future__ import annotations

import itertools

import numpy as np

from ..graph import resolve


def cities(problem: dict, spec) -> np.ndarray:
    """(n, 2) coordinates: from a file of `x y` lines, or uniform in the unit square from a seed."""
    if problem.get("file"):
        return np.loadtxt(resolve(spec, problem["file"]), ndmin=2)[:, :2]
    return np.random.default_rng([problem["seed"], 0x75B]).random((problem["cities"], 2))


def energy_terms(xy: np.ndarray, a: float, b: float, c: float, d: float) -> tuple[np.ndarray, np.ndarray]:
    """(W, bias) of the Hopfield–Tank energy, units flattened as x * n + i."""
    n = len(xy)
    dist = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    same_city = np.kron(np.eye(n), np.ones((n, n)))           # (x, i), (x, j)
    same_pos = np.kron(np.ones((n, n)), np.eye(n))            # (x, i), (y, i)
    nxt = np.roll(np.eye(n), 1, axis=1)                       # position i -> i + 1 (cyclic)
    neighbours = nxt + nxt.T                                  # positions i ± 1
    q = a * same_city + b * same_pos + c * np.ones((n * n, n * n)) + d * np.kron(dist, neighbours)
    np.fill_diagonal(q, 0.0)
    linear = np.full(n * n, c / 2 - c * n)
    return -q, -linear


def decode(v: np.ndarray) -> list | None:
    """The tour (cities in position order) if the (n, n) state is a permutation matrix."""
    if not (np.all(v.sum(axis=0) == 1) and np.all(v.sum(axis=1) == 1)):
        return None
    return [int(x) for x in np.argmax(v, axis=0)]


def length(tour, xy: np.ndarray) -> float:
    order = np.asarray(tour)
    return float(np.linalg.norm(xy[order] - xy[np.roll(order, -1)], axis=1).sum())


def optimum(xy: np.ndarray) -> tuple[list, float]:
    """Brute force over the (n − 1)!/2 distinct tours (n ≤ 10)."""
    n = len(xy)
    best = (None, np.inf)
    for rest in itertools.permutations(range(1, n)):
        if rest[0] < rest[-1]:                 # each tour once, not also reversed
            tour = [0, *rest]
            ell = length(tour, xy)
            if ell < best[1]:
                best = (tour, ell)
    return best


def nearest_neighbour(xy: np.ndarray) -> tuple[list, float]:
    """The greedy tour from city 0: always go to the nearest unvisited city."""
    tour, left = [0], set(range(1, len(xy)))
    while left:
        here = xy[tour[-1]]
        nxt = min(left, key=lambda y: np.linalg.norm(xy[y] - here))
        tour.append(nxt)
        left.remove(nxt)
    return tour, length(tour, xy)
