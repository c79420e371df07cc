"""Zero-temperature dynamics: each unit takes the value that lowers the energy most.

For binary and spin units with local field φ_i = b_i + Σ_j W_ij s_j + (input from other layers):

    x_i ← on if φ_i > 0,  off if φ_i < 0,  unchanged if φ_i = 0

which is the T → 0 limit of the Gibbs update. A field within rounding of zero (|φ_i| below
64 ε (Σ_j |W_ij| + 1): the error bound of its dot product, with room for the rounding of W itself,
e.g. a projection rule's W_ii = 1 computed as 1 + ε) counts as a tie: otherwise an exact tie,
common with Hebbian weights (multiples of 1/N), would be decided by summation order, and
asynchronous and synchronous updates would disagree on fixed points. Asynchronous updates (one unit at a time, in a
random order each sweep) never raise the energy when W is symmetric with a zero diagonal:
ΔE = −Δx_i φ_i ≤ 0. Synchronous updates change every unit at once from the same fields and may
end in a 2-cycle instead of a fixed point. Both run a whole batch of cues together.
"""
from __future__ import annotations

import numpy as np

from ..backend import namespace_of
from ..compile import Program
from ..errors import CompileError
from .energy import apply_coupling, coupling_stats


def _off(program: Program, layer: str) -> float:
    kind = program.layers[layer].units.name
    if kind not in ("binary", "spin"):
        raise CompileError(f"recall needs binary or spin units; layer '{layer}' has {kind} units")
    return -1.0 if kind == "spin" else 0.0


def _lateral_weight(program: Program, params: dict, layer: str):
    for c, _ in program.incident[layer]:
        if c.lateral:
            if c.stencil is not None:
                raise CompileError(f"recall of layer '{layer}' needs its couplings as a matrix, not a lattice stencil")
            return params[c.key]
    raise CompileError(f"layer '{layer}' has no lateral coupling to recall with")


def _external_field(program: Program, params: dict, state: dict, layer: str):
    """b + input from every other layer (held fixed while ``layer`` relaxes): (batch, size)."""
    stats = coupling_stats(program, params, {n: x for n, x in state.items() if n != layer})
    field = params[f"bias.{layer}"] + 0 * state[layer]
    for c, is_a in program.incident[layer]:
        if not c.lateral:
            other = c.b if is_a else c.a
            field = field + apply_coupling(c, params[c.key], stats[other], into_b=not is_a)
    return field


def _decide(phi, current, off: float, tol):
    xp = namespace_of(phi)
    return xp.where(phi > tol, 1.0, xp.where(phi < -tol, off, current)).astype(current.dtype)


def _tolerance(w):
    """Per unit: a rounding bound of Σ_j W_ij s_j (|s_j| ≤ 1) and of W's own entries."""
    xp = namespace_of(w)
    return 64 * xp.finfo(w.dtype).eps * (xp.abs(w).sum(axis=1) + 1)


def async_sweep(program: Program, params: dict, state: dict, layer: str, order) -> tuple[dict, object]:
    """One sweep in ``order`` (host indices): (new state, per-row bool 'some unit changed')."""
    w = _lateral_weight(program, params, layer)
    off = _off(program, layer)
    x = state[layer].copy()
    field = _external_field(program, params, state, layer)
    tol = _tolerance(w)
    changed = program.xp.zeros(x.shape[0], dtype=bool)
    for i in order:
        phi = x @ w[i] + field[:, i]          # W is symmetric: row i is column i, and contiguous
        new = _decide(phi, x[:, i], off, tol[i])
        changed |= new != x[:, i]
        x[:, i] = new
    return {**state, layer: x}, changed


def sync_step(program: Program, params: dict, state: dict, layer: str) -> tuple[dict, object]:
    w = _lateral_weight(program, params, layer)
    x = state[layer]
    new = _decide(x @ w + _external_field(program, params, state, layer), x, _off(program, layer), _tolerance(w))
    return {**state, layer: new}, (new != x).any(axis=1)


def relax(program: Program, params: dict, state: dict, layer: str, mode: str, max_sweeps: int, rng):
    """Run to a fixed point or ``max_sweeps``: (final state, sweeps taken per row, converged per row).

    A row has converged after the first sweep in which none of its units changed; that sweep is
    not counted in its sweeps."""
    rows = state[layer].shape[0]
    sweeps = np.zeros(rows, dtype=int)
    converged = np.zeros(rows, dtype=bool)
    n = program.layers[layer].size
    for _ in range(max_sweeps):
        if mode == "async":
            state, changed = async_sweep(program, params, state, layer, rng.permutation(n))
        else:
            state, changed = sync_step(program, params, state, layer)
        changed = np.asarray(changed.get() if hasattr(changed, "get") else changed)
        converged |= ~changed
        sweeps += ~converged
        if converged.all():
            break
    return state, sweeps, converged
