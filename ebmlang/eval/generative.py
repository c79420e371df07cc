"""Generators — nets whose generative pass starts from latent layers drawn from a prior (a VAE's
decoder, a GAN's generator) — and measures of their samples.

The *latents* are the roots of the generative pass that no data fills and no deterministic
recognition pass computes: a VAE's stochastic layers, a GAN's noise layer. Each is drawn from
its own conditional with no input (gaussian: N(bias, σ²T)); the generative pass then maps the
draws to the data layer's conditional means.

Against a known mixture (the 2-D grid of Gaussians of the VEEGAN and PacGAN benchmarks;
``data.synthetic.grid_means``):

    modes covered        the modes that receive at least one sample within ``radius``·σ
    high-quality share   the share of samples within ``radius``·σ of some mode

For samples of the mixture itself, with radius 3 in two dimensions, the expected share is
1 − e^{−9/2} ≈ 98.9 % and every mode is covered once a few hundred samples are drawn.
"""
from __future__ import annotations

from statistics import NormalDist

import numpy as np

from ..backend import to_numpy
from ..compile import Program
from ..kernels.backprop import forward
from ..kernels.prior import latents, prior_draws


def generate(program: Program, params: dict, latent: dict, layer: str) -> np.ndarray:
    """The conditional means of ``layer`` given latent values ({latent: (rows, n)}), on the host."""
    return to_numpy(forward(program, params, latent, ("generative",)).output(layer))


def interpolations(a: dict, b: dict, steps: int) -> dict:
    """Latents on the line from ``a`` to ``b`` (each {latent: (rows, n)}): row r of the result's
    block i is a_r + (b_r − a_r)·i/(steps − 1); (rows · steps, n), row-major by pair."""
    out = {}
    for name, start in a.items():
        t = np.linspace(0.0, 1.0, steps)[None, :, None]
        s, e = to_numpy(start)[:, None, :], to_numpy(b[name])[:, None, :]
        out[name] = (s + (e - s) * t).reshape(-1, start.shape[1])
    return out


def latent_grid(side: int) -> np.ndarray:
    """A side × side grid over a 2-D standard normal latent at evenly spaced quantiles (Kingma &
    Welling 2014, Fig. 4): (side², 2), rows top to bottom."""
    quantiles = [NormalDist().inv_cdf(q) for q in np.linspace(0.5 / side, 1 - 0.5 / side, side)]
    return np.array([(x, y) for y in quantiles[::-1] for x in quantiles])


def mode_coverage(samples: np.ndarray, means: np.ndarray, std: float, radius: float = 3.0) -> dict:
    """{"modes": covered modes, "of": how many there are, "high_quality": share within radius·σ}
    for ``samples`` (n, d) and the mixture's ``means`` (k, d)."""
    distance = np.linalg.norm(samples[:, None, :] - means[None, :, :], axis=-1)       # (n, k)
    nearest = distance.argmin(axis=1)
    close = distance[np.arange(len(samples)), nearest] <= radius * std
    return {"modes": int(len(np.unique(nearest[close]))), "of": int(len(means)),
            "high_quality": float(close.mean()) if len(samples) else 0.0}


__all__ = ["generate", "interpolations", "latent_grid", "latents", "mode_coverage", "prior_draws"]
