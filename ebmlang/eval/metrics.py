"""Cheap training-time measures: reconstruction error and the free-energy gap, and the posterior
means they (and the linear probe) read.

    reconstruction error = mean over examples of Σ_i (v_i − v̂_i)²,   v̂ = E[v | E[h | v]]
    free-energy gap      = mean F(held-out) − mean F(training)

Posterior means of the latent layers given the data: exact when they are mutually uncoupled (an
RBM), mean field when they are not (a DBM), the recognition pass for a DBN; the way back down is
the conditional means (a DBN: its generative pass).

A growing gap means the model prefers its training data: overfitting (Hinton's guide, §6).
"""
from __future__ import annotations

import numpy as np

from ..compile import Program
from ..kernels import free_energy, infer_means
from ..kernels.directed import directed_pass
from ..kernels.meanfield import mean_field


def latent_means(program: Program, params: dict, data: dict, iterations: int = 10) -> dict:
    """``data`` plus the posterior means of the other layers (``iterations``: of mean field); for a
    feed-forward net, the recognition pass (its encoder)."""
    if not program.couplings and program.directed:
        return directed_pass(program, params, data, "recognition", mean=True)
    if program.generated:           # up the recognition model, then the rest of the top given it
        from .belief import interface, top_program
        state = directed_pass(program, params, data, "recognition", mean=True)
        top = latent_means(top_program(program), params, {n: state[n] for n in interface(program)}, iterations)
        return {**state, **top}
    latent = tuple(n for n in program.layers if n not in data)
    if program.summable(latent):
        return infer_means(program, params, data, latent)
    return mean_field(program, params, data, latent, iterations)[0]


def reconstruct(program: Program, params: dict, data: dict, iterations: int = 10):
    """One deterministic up-down pass: the latent layers at their posterior means given the data,
    then the data layers at their conditional means given those."""
    state = latent_means(program, params, data, iterations)
    if program.generated:
        top = {n: x for n, x in state.items() if n not in program.generated}
        return directed_pass(program, params, top, "generative", mean=True)
    return infer_means(program, params, state, tuple(data))


def reconstruction_error(program: Program, params: dict, data: dict) -> float:
    recon = reconstruct(program, params, data)
    return float(sum(((recon[n] - x) ** 2).sum(axis=1).mean() for n, x in data.items()))


def mean_free_energy(program: Program, params: dict, data: dict) -> float | None:
    """Mean F(data) with every other layer summed out; None when they cannot be summed out (or
    the model is a DBN, whose generated layers are outside the energy)."""
    latent = tuple(n for n in program.layers if n not in data)
    if program.generated or not program.summable(latent):
        return None
    return float(free_energy(program, params, data, latent).mean())


def free_energy_gap(program: Program, params: dict, train: dict, test: dict) -> float | None:
    f_train, f_test = mean_free_energy(program, params, train), mean_free_energy(program, params, test)
    return None if f_train is None else f_test - f_train


def host(x) -> np.ndarray:
    return np.asarray(x.get() if hasattr(x, "get") else x)
