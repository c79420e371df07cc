"""Nearest-neighbour sums on a lattice: the stencil a uniform lattice coupling is lowered to.

For a lateral lattice coupling with one fixed strength J (`connectivity: lattice`, `init:
{constant: ...}`, `trainable: false`), the input to every site is J · Σ_neighbours s_j. Shifted
views of the (batch, *dims) array give that sum in O(N) instead of the O(N²) of a dense matrix
product, and the weight is stored as the scalar J instead of an N × N matrix.

Neighbours follow :func:`ebmlang.graph.builders.lattice` exactly: along an axis of length 2 a
periodic lattice has one neighbour, not the same one twice; along an axis of length 1, none.
"""
from __future__ import annotations

from ..backend import namespace_of


def neighbour_sum(x, dims: tuple, periodic: bool):
    """Σ over lattice neighbours of each site: (batch, N) -> (batch, N), N = prod(dims)."""
    xp = namespace_of(x)
    grid = x.reshape((x.shape[0],) + tuple(dims))
    total = xp.zeros_like(grid)
    for axis, d in enumerate(dims, start=1):
        if d == 1:
            continue
        if periodic and d > 2:
            total += xp.roll(grid, 1, axis=axis)
            total += xp.roll(grid, -1, axis=axis)
        else:   # open boundary (or d = 2, where the wrap-around is the same neighbour)
            lo = [slice(None)] * grid.ndim
            hi = [slice(None)] * grid.ndim
            lo[axis], hi[axis] = slice(0, d - 1), slice(1, d)
            total[tuple(hi)] += grid[tuple(lo)]
            total[tuple(lo)] += grid[tuple(hi)]
    return total.reshape(x.shape)
