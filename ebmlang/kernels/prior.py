"""Latent layers drawn from their prior: a VAE's decoder input, a GAN's noise.

The *latents* of a feed-forward net are the roots of its generative pass that no data fills
and no deterministic recognition pass computes (a VAE's stochastic layers, a GAN's noise layer).
Each is drawn from its own conditional with no input: for gaussian units N(bias, σ²T), N(0, I)
as the templates initialise it.
"""
from __future__ import annotations

from ..compile import Program
from .directed import directed_params


def latents(program: Program, data_layers: tuple = ()) -> tuple:
    """The generative roots that are drawn from their prior (see the module docstring); () when
    the net is not a generator (a plain autoencoder's code comes from its encoder)."""
    if program.couplings or not program.order.get("generative"):
        return ()
    generated = set(program.order["generative"])
    roots = dict.fromkeys(c.a for c in program.directed
                          if c.kind == "generative" and c.a not in generated)
    encoded = set(program.order.get("recognition", ())) - set(program.stochastic)
    if any(r in encoded or r in data_layers for r in roots):
        return ()
    return tuple(roots)


def prior_draws(program: Program, params: dict, count: int, rng, data_layers: tuple = ()) -> dict:
    """{latent: (count, n)} drawn from each latent's prior."""
    out = {}
    for name in latents(program, data_layers):
        units, p = program.layers[name].units, directed_params(program, params, name, "generative")
        zero = program.xp.zeros((count, program.layers[name].size), dtype=program.dtype)
        out[name] = units.conditional_sample(zero, p, program.temperature, rng)[1]
    return out


__all__ = ["latents", "prior_draws"]
