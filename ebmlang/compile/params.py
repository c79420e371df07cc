"""Initial parameters of a Program: `bias.<layer>`, `sigma.<layer>`, `weight.<a>.<b>`.

Draws happen on the host with NumPy and are then moved to the backend, so a CPU run and a GPU
run of the same spec and seed start from the same parameters.
"""
from __future__ import annotations

import numpy as np

from ..spec.constraints import Choice
from .program import Program


def _draw(init: Choice, shape: tuple, gen: np.random.Generator) -> np.ndarray:
    o = init.options
    if init.kind == "zeros":
        return np.zeros(shape)
    if init.kind == "constant":
        return np.full(shape, o["value"])
    if init.kind == "normal":
        return o["mean"] + o["std"] * gen.standard_normal(shape)
    if init.kind == "uniform":
        return gen.uniform(o["low"], o["high"], shape)
    raise ValueError(f"initialiser {init.kind} needs data")


def data_rate_bias(kind: str, mean: np.ndarray) -> np.ndarray:
    """Biases that make each unit's marginal match the data's mean (Hinton's guide, §8):
    binary logit(p), spin atanh(m), softmax log p, gaussian the mean itself."""
    if kind == "binary":
        p = np.clip(mean, 1e-3, 1 - 1e-3)
        return np.log(p / (1 - p))
    if kind == "spin":
        return np.arctanh(np.clip(mean, -0.999, 0.999))
    if kind == "softmax":
        return np.log(np.clip(mean, 1e-3, 1))
    return mean


def init_params(program: Program, seed: int, data_mean: dict | None = None) -> dict:
    """Fresh parameters; ``data_mean`` maps layer -> mean of its data (for `data_rates`)."""
    gen = np.random.default_rng(np.random.SeedSequence([seed, 0xB1A5]))
    host = {}
    for name, layer in program.layers.items():
        if layer.bias_init.kind == "data_rates":
            host[f"bias.{name}"] = data_rate_bias(layer.units.name, np.asarray(data_mean[name], float))
        else:
            host[f"bias.{name}"] = _draw(layer.bias_init, (layer.size,), gen)
        if layer.units.name == "gaussian":
            host[f"sigma.{name}"] = np.full(layer.size, layer.sigma)
    for c in program.couplings:
        if c.stencil is not None:       # a uniform lattice: the one strength J, as a scalar
            host[c.key] = np.asarray(c.init.options["value"])
            continue
        w = _draw(c.init, (program.layers[c.a].size, program.layers[c.b].size), gen)
        if c.lateral:
            w = np.triu(w, 1)
            w = w + w.T
        host[c.key] = w if c.mask_np is None else w * c.mask_np
    return {k: program.xp.asarray(v, dtype=program.dtype) for k, v in host.items()}
