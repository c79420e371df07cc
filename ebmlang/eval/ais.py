"""Annealed importance sampling (AIS) for log Z of an RBM (Neal 2001; Salakhutdinov & Murray 2008).

The path runs from a base model A (the visible layer alone, biases from the data's base rates,
hidden units uniform) to the RBM B through the geometric mixtures of their energies, with
β_0 = 0 < β_1 < ... < β_K = 1. With the hidden layer summed out,

    log p*_β(v) = −[(1−β) E_A(v) + β E_B(v)] / T + A_h(β u(v); β c)

where E_A, E_B are the visible layer's self-energies under A's and B's biases, u(v) = s(v) W the
input the RBM sends the hidden layer, c its hidden bias, and A_h the hidden layer's
log-partition (all from the unit types, so any visible unit type works, gaussian included, and
any discrete hidden type). Each run starts from an exact draw of A and accumulates

    log w = Σ_k [log p*_{β_k}(v_{k−1}) − log p*_{β_{k−1}}(v_{k−1})],

moving v by one Gibbs step that leaves p_{β_k} invariant. Then log Ẑ_B = log Z_A + log mean(w),
and the ±3σ bounds are log(Ẑ ± 3 σ̂_Ẑ) with σ̂_Ẑ the standard error of mean(w).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..backend import Rng, to_numpy
from ..compile import Program, data_rate_bias
from ..units import LayerParams


@dataclass(frozen=True)
class AisResult:
    log_z: float
    lower: float            # log(Ẑ − 3σ̂); −inf when the spread exceeds a third of Ẑ
    upper: float            # log(Ẑ + 3σ̂)
    log_weights: np.ndarray  # (runs,), for the spread figure
    log_z_base: float


def betas(count: int, spacing: str = "salakhutdinov") -> np.ndarray:
    """count + 1 inverse temperatures from 0 to 1. `salakhutdinov`: the 2008 paper's proportions
    (1/29 of the steps in [0, 0.5], 8/29 in [0.5, 0.9], 20/29 in [0.9, 1]); `linear` otherwise."""
    if spacing == "linear":
        return np.linspace(0.0, 1.0, count + 1)
    a, b = max(1, count // 29), max(1, 8 * count // 29)
    c = max(1, count - a - b)
    return np.concatenate([np.linspace(0, 0.5, a, endpoint=False), np.linspace(0.5, 0.9, b, endpoint=False),
                           np.linspace(0.9, 1.0, c + 1)])


def rbm_layers(program: Program) -> tuple[str, str, object]:
    """(visible, hidden, coupling) of an RBM, or ValueError saying why the program is not one."""
    if len(program.layers) != 2 or len(program.couplings) != 1 or program.couplings[0].lateral:
        raise ValueError("AIS here needs an RBM: two layers joined by one coupling, no lateral couplings")
    c = program.couplings[0]
    if not program.layers[c.b].units.discrete:
        if program.layers[c.a].units.discrete:
            return c.b, c.a, c
        raise ValueError("AIS needs a discrete hidden layer")
    return c.a, c.b, c


class _Path:
    """The geometric path between the base model A and the RBM B (all arrays on the backend)."""

    def __init__(self, program: Program, params: dict, visible: str, base_bias):
        self.program, self.params, self.t = program, params, program.temperature
        self.vis_name = visible
        self.visible_units = program.layers[visible].units
        v, h, self.c = rbm_layers(program)
        self.hidden_units = program.layers[h].units
        self.w_is_vh = self.c.a == v
        sigma = params.get(f"sigma.{v}")
        self.p_a = LayerParams(base_bias, sigma)
        self.p_b = LayerParams(params[f"bias.{v}"], sigma)
        self.hidden_bias = params[f"bias.{h}"]
        self.n_h = program.layers[h].size

    def hidden_input(self, v):
        w = self.params[self.c.key]
        s = self.visible_units.coupling_stat(v, self.p_b)
        return s @ w if self.w_is_vh else s @ w.T

    def visible_input(self, hid):
        w = self.params[self.c.key]
        return hid @ w.T if self.w_is_vh else hid @ w

    def log_p(self, v, beta: float, u=None):
        """log p*_β(v), hidden layer summed out: (runs,). ``u``: hidden_input(v), if known."""
        e = (1 - beta) * self.visible_units.self_energy(v, self.p_a) + beta * self.visible_units.self_energy(v, self.p_b)
        u = self.hidden_input(v) if u is None else u
        return -e / self.t + self.hidden_units.log_partition(beta * u, LayerParams(beta * self.hidden_bias), self.t)

    def step(self, v, beta: float, rng, u=None):
        """One Gibbs step h | v, then v | h, both under p_β."""
        u = self.hidden_input(v) if u is None else u
        hc = self.hidden_units.conditional(beta * u, LayerParams(beta * self.hidden_bias), self.t)
        hid = self.hidden_units.sample(hc, rng)
        mixed = LayerParams((1 - beta) * self.p_a.bias + beta * self.p_b.bias, self.p_b.sigma)
        vc = self.visible_units.conditional(beta * self.visible_input(hid), mixed, self.t)
        return self.visible_units.sample(vc, rng)

    def log_z_base(self) -> float:
        """log Z_A: the visible layer alone, times the hidden layer's states at zero field."""
        xp = self.program.xp
        zero_v = xp.zeros((1, self.program.layers[self.vis_name].size), dtype=self.program.dtype)
        zero_h = xp.zeros((1, self.n_h), dtype=self.program.dtype)
        log_v = self.visible_units.log_partition(zero_v, self.p_a, self.t)
        log_h = self.hidden_units.log_partition(zero_h, LayerParams(0 * self.hidden_bias), self.t)
        return float(to_numpy(log_v + log_h)[0])

    def sample_base(self, runs: int, rng):
        xp = self.program.xp
        zero = xp.zeros((runs, self.program.layers[self.vis_name].size), dtype=self.program.dtype)
        return self.visible_units.sample(self.visible_units.conditional(zero, self.p_a, self.t), rng)


def base_bias(program: Program, visible: str, data_mean: np.ndarray | None):
    """Base-rate biases (Salakhutdinov & Murray): the data's mean, as each unit type encodes it.
    Without data, the uniform model's mean: 1/2 for binary, 0 for spins and gaussians, 1/K for softmax."""
    units, size = program.layers[visible].units, program.layers[visible].size
    if data_mean is None:
        uniform = {"binary": 0.5, "softmax": 1.0 / getattr(units, "k", 1)}.get(units.name, 0.0)
        data_mean = np.full(size, uniform)
    return program.xp.asarray(data_rate_bias(units.name, np.asarray(data_mean)), dtype=program.dtype)


def ais_log_partition(program: Program, params: dict, runs: int = 100, steps: int = 1000,
                      spacing: str = "salakhutdinov", data_mean=None, seed: int = 0) -> AisResult:
    visible, _, _ = rbm_layers(program)
    path = _Path(program, params, visible, base_bias(program, visible, data_mean))
    rng = Rng(program.xp, seed, 0xA15)
    bs = betas(steps, spacing)
    v = path.sample_base(runs, rng)
    log_w = program.xp.zeros(runs, dtype=np.float64)
    for prev, beta in zip(bs[:-1], bs[1:]):
        u = path.hidden_input(v)        # shared by both terms and the step: two GEMMs per β, not four
        log_w = log_w + (path.log_p(v, float(beta), u) - path.log_p(v, float(prev), u)).astype(np.float64)
        if beta < 1.0:
            v = path.step(v, float(beta), rng, u)
    log_w = to_numpy(log_w)
    return _estimate(log_w, path.log_z_base())


def _estimate(log_w: np.ndarray, log_z_a: float) -> AisResult:
    top = log_w.max()
    w = np.exp(log_w - top)                      # weights up to the factor e^top
    mean = w.mean()
    sigma = w.std(ddof=1) / math.sqrt(len(w)) if len(w) > 1 else float("inf")
    log_z = log_z_a + top + math.log(mean)
    upper = log_z_a + top + math.log(mean + 3 * sigma)
    lower = log_z_a + top + math.log(mean - 3 * sigma) if mean > 3 * sigma else float("-inf")
    return AisResult(log_z, lower, upper, log_w, log_z_a)
