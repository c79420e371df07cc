"""Cheap training-time measures: reconstruction error and the free-energy gap.

    reconstruction error = mean over examples of Σ_i (v_i − v̂_i)²,   v̂ = E[v | E[h | v]]
    free-energy gap      = mean F(held-out) − mean F(training)

A growing gap means the model prefers its training data: overfitting (Hinton's guide, §6).
"""
from __future__ import annotations

import numpy as np

from ..compile import Program
from ..kernels import free_energy, infer_means
from ..kernels.meanfield import mean_field


def reconstruct(program: Program, params: dict, data: dict, iterations: int = 10):
    """One deterministic up-down pass: the latent layers at their posterior means given the data
    (exact when they are mutually uncoupled, else ``iterations`` of mean field), then the data
    layers at their conditional means given those."""
    latent = tuple(n for n in program.layers if n not in data)
    if program.summable(latent):
        state = infer_means(program, params, data, latent)
    else:
        state, _ = mean_field(program, params, data, latent, iterations)
    return infer_means(program, params, state, tuple(data))


def reconstruction_error(program: Program, params: dict, data: dict) -> float:
    recon = reconstruct(program, params, data)
    return float(sum(((recon[n] - x) ** 2).sum(axis=1).mean() for n, x in data.items()))


def mean_free_energy(program: Program, params: dict, data: dict) -> float | None:
    """Mean F(data) with every other layer summed out; None when they cannot be summed out."""
    latent = tuple(n for n in program.layers if n not in data)
    if not program.summable(latent):
        return None
    return float(free_energy(program, params, data, latent).mean())


def free_energy_gap(program: Program, params: dict, train: dict, test: dict) -> float | None:
    f_train, f_test = mean_free_energy(program, params, train), mean_free_energy(program, params, test)
    return None if f_train is None else f_test - f_train


def host(x) -> np.ndarray:
    return np.asarray(x.get() if hasattr(x, "get") else x)
