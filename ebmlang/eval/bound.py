"""The mean-field variational lower bound on log p(v), for models whose latent layers do not sum
out given the data (deep Boltzmann machines; Salakhutdinov & Hinton 2009, §3).

For any factorised q(h) = Π_l q_l(h_l) over discrete latent layers,

    log p(v) ≥ B(v; q) = −E_q[E(v, h)]/T + H(q) − log Z,

with equality iff q(h) = p(h | v). The energy is linear in each discrete unit and pairs only
distinct units (lateral couplings have a zero diagonal), so under a factorised q
E_q[E(v, h)] = E(v, μ): the energy at the means. The mean-field fixed point maximises B over q;
an RBM's posterior factorises, so there the bound is exact. Cost: the mean-field iterations,
one energy, one entropy per example; log Z comes from exact enumeration or AIS.
"""
from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from ..compile import Program
from ..kernels import energy
from ..kernels.meanfield import mean_field


def unnormalised_bound(program: Program, params: dict, data: dict, iterations: int = 50,
                       tolerance: float = 1e-7, damping: float = 0.0) -> np.ndarray:
    """B(v; q) + log Z = −E(v, μ)/T + H(q) for each row of ``data`` at the mean-field fixed point
    q: (rows,) on the host. Subtract log Z for the bound on log p(v)."""
    latent = tuple(n for n in program.layers if n not in data)
    continuous = [n for n in latent if not program.layers[n].units.discrete]
    if continuous:
        raise ValueError(f"the mean-field bound needs discrete latent layers; {continuous} are not")
    means, _ = mean_field(program, params, data, latent, iterations, damping, tolerance)
    total = -energy(program, params, means) / program.temperature
    for name in latent:
        total = total + program.layers[name].units.entropy_of_mean(means[name])
    return to_numpy(total).astype(np.float64)


__all__ = ["unnormalised_bound"]
