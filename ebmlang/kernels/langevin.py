"""Metropolis-adjusted Langevin moves for gaussian layers: the Gibbs–Langevin sampler of Liao et
al. (2022), which updates the real-valued units given the rest by Langevin steps rather than by
one exact draw, the discrete layers by Gibbs as before.

Given the rest, a gaussian layer's units are independent, x_i ~ N(m_i, s_i²) with m = μ + σu and
s² = σ²T. One step with step size ε, preconditioned by each unit's variance:

    x' = x + ε s² ∇ log p(x) + √(2ε) s ξ  =  x − ε (x − m) + √(2ε) s ξ,      ξ ~ N(0, I)

accepted unit by unit with probability min(1, p(x') q(x | x') / (p(x) q(x' | x))), where
q(a | b) = N(a; b − ε(b − m), 2ε s²). The acceptance makes every step leave p(x | rest), and so
the joint distribution, exactly invariant; since p(x | rest) factorises over units, accepting
per unit is exact too. (Liao et al. adjust once for the K steps together; both are exact.)
"""
from __future__ import annotations

import math


def langevin_moves(cond, x, rng, steps: int, step_size: float):
    """``steps`` adjusted Langevin steps of ``x`` (batch, n) towards p(x | rest) =
    N(cond.mean, cond.std²)."""
    xp, m, s = rng.xp, cond.mean, cond.std
    eps = step_size
    for _ in range(steps):
        proposal = x - eps * (x - m) + math.sqrt(2 * eps) * s * rng.normal(x.shape, x.dtype)
        # log of p(x') q(x | x') / (p(x) q(x' | x)), the acceptance ratio
        log_ratio = (_log_target(proposal, m, s) - _log_target(x, m, s)
                     + _log_proposal(x, proposal, m, s, eps)
                     - _log_proposal(proposal, x, m, s, eps))
        accept = xp.log(rng.uniform(x.shape, x.dtype)) < log_ratio
        x = xp.where(accept, proposal, x)
    return x


def _log_target(y, m, s):
    return -((y - m) / s) ** 2 / 2


def _log_proposal(to, frm, m, s, eps):
    """log q(to | frm) up to a constant shared by both directions."""
    return -((to - frm + eps * (frm - m)) / s) ** 2 / (4 * eps)
