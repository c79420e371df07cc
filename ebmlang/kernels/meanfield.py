"""Mean-field inference: the factorised posterior q(h | v) = Π_l q_l(h_l) closest to p(h | v).

With the clamped layers fixed, the fixed point of

    μ_l = E[x_l | the other layers at their means μ]        (binary: μ = σ((b + u(μ)) / T))

maximises the variational bound  log p(v) ≥ −E_q[E(v, h)]/T + H(q) − log Z  over factorised q
(Salakhutdinov & Hinton 2009). The updates visit the block schedule in order (units in a block are
uncoupled, so a block's update is exact coordinate ascent), optionally damped:
μ ← d·μ + (1 − d)·new. They start from an up-pass in which each layer, filled in turn, takes
the input of the neighbours already filled scaled by (neighbours / filled ones): a layer with
input from both sides starts from twice its input from below, as in Salakhutdinov's doubled
bottom-up initialisation. Cost per iteration: one pass of every coupling's GEMM.
"""
from __future__ import annotations

from ..backend import to_numpy
from ..compile import Program
from .energy import apply_coupling, coupling_stats, layer_params
from .gibbs import block_update


def initial_means(program: Program, params: dict, state: dict, latent) -> dict:
    """The up-pass start: ``state`` (the clamped layers) plus a mean for every ``latent`` layer."""
    out, filled = dict(state), set(state)
    for name in sorted(latent, key=lambda n: _distance(program, n, filled)):
        out[name] = _scaled_mean(program, params, out, name, filled)
        filled.add(name)
    return out


def _distance(program: Program, name: str, sources: set) -> int:
    """Steps from ``name`` to the nearest layer of ``sources`` in the layer graph (fill order)."""
    frontier, seen, steps = {name}, {name}, 0
    while frontier and not frontier & sources:
        frontier = {m for n in frontier for m in program.neighbours[n]} - seen
        seen |= frontier
        steps += 1
    return steps if frontier else len(program.layers)


def _scaled_mean(program: Program, params: dict, state: dict, name: str, filled: set):
    info = program.layers[name]
    others = [n for n in program.neighbours[name] if n != name]
    present = [n for n in others if n in filled]
    stats = coupling_stats(program, params, {n: state[n] for n in present})
    batch = next(iter(state.values())).shape[0]
    u = program.xp.zeros((batch, info.size), dtype=program.dtype)
    for c, is_a in program.incident[name]:
        other = c.b if is_a else c.a
        if other in present and not c.lateral:
            u = u + apply_coupling(c, params[c.key], stats[other], into_b=not is_a)
    if present:
        u = u * (len(others) / len(present))
    t = program.temperature / info.gain
    return info.units.mean(info.units.conditional(u, layer_params(program, params, name), t))


def mean_field(program: Program, params: dict, state: dict, latent, iterations: int = 30, damping: float = 0.0,
               tolerance: float = 1e-6, start: dict | None = None) -> tuple[dict, int]:
    """(state with every ``latent`` layer at its mean-field mean, iterations run).

    ``state`` holds the clamped layers; ``start`` (optional) the means to start from instead of
    the up-pass. Stops once no mean moves by more than ``tolerance`` in an iteration, which the
    host reads once per iteration; ``tolerance`` 0 runs all ``iterations`` without reading
    anything (a step the GPU can replay as a CUDA graph)."""
    latent = tuple(latent)
    clamp = frozenset(n for n in program.layers if n not in latent)
    means = dict(start) if start is not None else initial_means(program, params, state, latent)
    means.update({n: state[n] for n in clamp})
    if not latent:
        return means, 1
    for it in range(1, iterations + 1):
        moves = []
        for block in program.schedule:
            new = block_update(program, params, means, block, None, clamp, mean=True)
            for piece in block:
                if piece.layer in clamp:
                    continue
                name = piece.layer
                updated = new[name] if damping == 0 else damping * means[name] + (1 - damping) * new[name]
                if tolerance > 0:
                    moves.append(program.xp.abs(updated - means[name]).max())
                means[name] = updated
        if moves and float(to_numpy(program.xp.stack(moves).max())) <= tolerance:  # a host sync
            return means, it
    return means, iterations


__all__ = ["initial_means", "mean_field"]
