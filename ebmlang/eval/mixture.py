"""A Gaussian–Bernoulli RBM as the mixture of Gaussians it is, and its KL from a known mixture.

With a gaussian visible layer v (d units) and one discrete hidden layer h, integrating v out of
exp(−E/T) leaves one Gaussian per hidden state (Welling et al. 2004):

    p(v) = Σ_h π_h N(v; μ + σ·u_h, σ² T),    u_h = the input W h sends v,
    log π_h = −F(h)/T − log Z,               F(h) = −T log ∫ e^{−E(v, h)/T} dv

so 2^n_h components, all with the same diagonal covariance. Any set of coordinates has the
marginal with the same weights (a figure of the first two coordinates of a d-dimensional model
is exact). Against data drawn from a known mixture p* (equal weights, isotropic spread):

    KL(p* ‖ p) = E_{x ~ p*} [log p*(x) − log p(x)]

estimated on the held-out draws of p*, with its standard error.
"""
from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from ..compile import Program
from ..kernels import conditional, free_energy

CELLS = 4_000_000       # numbers in one block of the density's temporaries


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    top = a.max(axis=axis, keepdims=True)
    return (top + np.log(np.exp(a - top).sum(axis=axis, keepdims=True))).squeeze(axis)


def has_mixture_form(program: Program, visible: str) -> bool:
    """Whether the model's marginal over ``visible`` is a finite mixture of Gaussians that
    ``grbm_components`` can list: gaussian visible units, one discrete hidden layer, nothing
    directed."""
    hidden = [n for n in program.layers if n != visible]
    return (program.layers[visible].units.name == "gaussian" and len(hidden) == 1
            and program.layers[hidden[0]].units.discrete and not program.directed)


def grbm_components(program: Program, params: dict,
                    visible: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log π (S,), means (S, d), std (S, d)) of the model's marginal over ``visible``, one
    component per state of its one discrete hidden layer."""
    hidden = [n for n in program.layers if n != visible]
    if len(hidden) != 1 or not program.layers[hidden[0]].units.discrete:
        raise ValueError("the mixture form needs one gaussian visible layer and one discrete "
                         "hidden layer")
    name = hidden[0]
    states = program.layers[name].units.states(program.layers[name].size)
    given = {name: program.xp.asarray(states, dtype=program.dtype)}
    log_w = (-to_numpy(free_energy(program, params, given, (visible,))).astype(float)
             / program.temperature)
    log_w -= _logsumexp(log_w, 0)
    cond = conditional(program, params, given, visible)
    return log_w, to_numpy(cond.mean).astype(float), to_numpy(cond.std).astype(float)


def mixture_log_density(x: np.ndarray, log_w: np.ndarray, means: np.ndarray,
                        std: np.ndarray) -> np.ndarray:
    """log Σ_c w_c N(x; means_c, diag std_c²) for each row of ``x`` (N, k), over the first k
    coordinates of the components; std is (C, d) or (d,)."""
    k = x.shape[1]
    std = np.broadcast_to(std, means.shape)[:, :k]
    rows = max(1, CELLS // (len(means) * k))  # bounds the (rows × components × k) temporary
    out = np.empty(len(x))
    for start in range(0, len(x), rows):
        z = (x[start:start + rows, None, :] - means[None, :, :k]) / std[None]
        log_n = (-0.5 * (z ** 2).sum(axis=2) - np.log(std).sum(axis=1)[None]
                 - 0.5 * k * np.log(2 * np.pi))
        out[start:start + rows] = _logsumexp(log_n + log_w[None], 1)
    return out


def kl_from_generator(test: np.ndarray, generator: tuple, model_parts: tuple) -> dict:
    """KL(p* ‖ p) on draws ``test`` of p*: `mixture.kl`, its standard error, and the mean
    log-density of the test draws under p* itself (the ceiling of the model's)."""
    means, std = generator
    log_star = mixture_log_density(test, np.full(len(means), -np.log(len(means))), means, std)
    log_model = mixture_log_density(test, *model_parts)
    gap = log_star - log_model
    return {"mixture.kl": float(gap.mean()),
            "mixture.kl_stderr": float(gap.std(ddof=1) / np.sqrt(len(gap))),
            "log_likelihood.generating": float(log_star.mean())}
