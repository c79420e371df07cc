"""The log-likelihood of a variational autoencoder by importance sampling (Burda et al. 2015).

With the encoder q(z | x) as proposal and z_1 … z_k drawn from it,

    log w_i = log p(x | z_i) + log p(z_i) − log q(z_i | x)
    L_k(x)  = log (1/k) Σ_i w_i          (the IWAE bound: E[L_k] ≤ log p(x), rising with k to it)

and the mean of log w_i is the ELBO's estimate from the same draws. The encoder runs once per
example; the decoder once per draw, in chunks of ``DRAWS`` rows, so k = 5000 on the whole MNIST
test set stays within memory.
"""
from __future__ import annotations

import numpy as np

from ..backend import namespace_of, to_numpy
from ..compile import Program
from ..kernels.backprop import forward, log_likelihood
from ..objectives.variational import prior

DRAWS = 20_000      # decoder rows per chunk


def gaussian_log_density(z, mean, var):
    """Σ_j log N(z_j; mean_j, var_j): (R, n) -> (R,)."""
    xp = namespace_of(z)
    return (-0.5 * xp.log(2 * np.pi * var) - (z - mean) ** 2 / (2 * var)).sum(axis=-1)


def log_weights(program: Program, params: dict, data: dict, k: int, rng):
    """log w of k draws per row of ``data`` ({layer: (B, n)}): (B, k)."""
    xp, latent = program.xp, program.stochastic
    rows = next(iter(data.values())).shape[0]
    q = forward(program, params, data, ("recognition",))
    # the generative pass's roots, in the program's order: each draws from rng in turn, so a set's
    # order (which changes with the process's string hashing) would change the draws
    generated = set(program.order["generative"])
    starts = dict.fromkeys(c.a for c in program.directed
                           if c.kind == "generative" and c.a not in generated)
    given, log_q = {}, 0
    for name in starts:
        value = xp.repeat(q.output(name), k, axis=0)
        if name in latent:
            node = (0, name)
            mu = xp.repeat(program.layers[name].units.mean(q.conds[node]), k, axis=0)
            var = xp.exp(xp.repeat(q.logvar[node], k, axis=0))
            value = mu + xp.sqrt(var) * rng.normal(mu.shape, mu.dtype)
            log_prior = gaussian_log_density(value, *prior(program, params, name))
            log_q = log_q + gaussian_log_density(value, mu, var) - log_prior
        given[name] = value
    p = forward(program, params, given, ("generative",))
    targets = {(0, n): xp.repeat(x, k, axis=0) for n, x in data.items() if n in program.order["generative"]}
    return (log_likelihood(program, params, p, targets) - log_q).reshape(rows, k)


def importance_log_likelihood(program: Program, params: dict, data: dict, k: int, rng) -> tuple:
    """(L_k per row, the ELBO estimate per row): two (B,) host arrays."""
    rows = next(iter(data.values())).shape[0]
    step = max(1, DRAWS // k)
    bounds, elbos = [], []
    for start in range(0, rows, step):
        part = {n: program.xp.asarray(x[start:start + step], dtype=program.dtype) for n, x in data.items()}
        lw = to_numpy(log_weights(program, params, part, k, rng)).astype(np.float64)
        top = lw.max(axis=1, keepdims=True)
        bounds.append(top[:, 0] + np.log(np.exp(lw - top).mean(axis=1)))
        elbos.append(lw.mean(axis=1))
    return np.concatenate(bounds), np.concatenate(elbos)


__all__ = ["gaussian_log_density", "importance_log_likelihood", "log_weights"]
