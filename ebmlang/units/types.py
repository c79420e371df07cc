"""The unit types: binary {0,1}, spin {−1,+1}, gaussian (ℝ, σ per unit), softmax (one-hot), and
rectified (noisy rectified linear units, [0, ∞); Nair & Hinton 2010).

With φ = b + u (bias plus input) and temperature T:

| type     | E_self            | p(x | rest)                        | A(u) per unit                        |
|----------|-------------------|------------------------------------|--------------------------------------|
| binary   | −b·x              | Bernoulli(σ(φ/T))                  | log(1 + e^{φ/T})                     |
| spin     | −b·x              | P(+1) = σ(2φ/T)                    | log(2 cosh(φ/T))                     |
| softmax  | −b·x              | Categorical(softmax(φ/T)) per group| logsumexp(φ/T) per group             |
| gaussian | (x−μ)²/(2σ²)      | Normal(μ + σ·u, σ²·T), s(x) = x/σ  | (μu/σ + u²/2)/T + ½ log(2πσ²T)       |

(for gaussian units the bias b is the mean μ.) A rectified unit has mean max(0, φ) and is drawn as
max(0, φ + N(0, σ(φ))), the noisy ReLU that approximates a sum of binary units with shared
weights and offset biases; it has no closed-form energy, so it serves feed-forward maps and
sampling, not free energies. A leaky unit (max(φ, 0.2φ), deterministic) serves feed-forward maps
only, the hidden units of GANs.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, NamedTuple

import numpy as np

from ..backend import fused, namespace_of
from ..backend.matmul import matmul
from . import fields
from .base import LayerParams, UnitType


class Bernoulli(NamedTuple):
    logit: Any      # log P(on) − log P(off)
    prob: Any       # P(on)


class Categorical(NamedTuple):
    logits: Any     # (batch, groups, K)
    probs: Any      # (batch, groups, K); 0 in absent groups
    present: Any = None     # (batch, groups, 1) 0/1, or None when every group is present


class Normal(NamedTuple):
    mean: Any
    std: Any


class Rectified(NamedTuple):
    field: Any      # φ / T
    mean: Any       # max(0, φ / T)


def sigmoid(z):
    """σ(z) = ½(1 + tanh(z/2)): never overflows, and one transcendental call (10× faster than
    the two-branch exp form, which matters next to a 784×500 GEMM). One fused launch on CuPy."""
    xp = namespace_of(z)
    if xp is not np:
        return fused.sigmoid(z)
    t = xp.tanh(0.5 * z)
    t += 1
    t *= 0.5
    return t


def softplus(z):
    xp = namespace_of(z)
    return xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))


def neg_xlogx(p):
    """−p log p elementwise, 0 at p = 0 (no log of zero is ever taken)."""
    xp = namespace_of(p)
    return -p * xp.log(xp.maximum(p, xp.finfo(p.dtype).tiny))


def _bit_table(n: int) -> np.ndarray:
    """All 2^n binary vectors, (2^n, n), in counting order (first unit most significant)."""
    return ((np.arange(2 ** n)[:, None] >> np.arange(n - 1, -1, -1)) & 1).astype(float)


class _TwoState(UnitType):
    """Binary and spin units: x is 1 with probability σ(factor·(b + u)/T), else ``low``."""

    factor, low = 1.0, 0.0

    def self_energy(self, x, p):
        return -matmul(x, p.bias)

    def conditional(self, u, p, temperature):
        if fields.takes(u, p.bias):
            return Bernoulli(*fields.bernoulli(u, p.bias, self.factor / temperature)[:2])
        return self._conditional(u, p, temperature)

    def _conditional(self, u, p, temperature):
        raise NotImplementedError

    def conditional_sample(self, u, p, temperature, rng, current=None):
        if not fields.takes(u, p.bias, rng=rng):
            return super().conditional_sample(u, p, temperature, rng, current)
        logit, prob, x = fields.bernoulli(u, p.bias, self.factor / temperature, self.low, rng)
        return Bernoulli(logit, prob), x

    def sample(self, cond, rng):
        return rng.bernoulli(cond.prob, cond.logit, low=self.low)

    def count_states(self, n):
        return 2 ** n


class Binary(_TwoState):
    name = "binary"

    def _conditional(self, u, p, temperature):
        logit = (u + p.bias) / temperature if temperature != 1 else u + p.bias
        return Bernoulli(logit, sigmoid(logit))

    def mean(self, cond):
        return cond.prob

    def mean_backward(self, cond, grad, p, temperature):
        out = 1 - cond.prob                                             # σ' = σ(1 − σ), in place
        out *= cond.prob
        out *= grad
        return out if temperature == 1 else out / temperature

    def log_partition(self, u, p, temperature):
        return softplus((u + p.bias) / temperature).sum(axis=-1)

    def entropy_of_mean(self, mean):
        return (neg_xlogx(mean) + neg_xlogx(1 - mean)).sum(axis=-1)

    def states(self, n):
        return _bit_table(n)

    def check_data(self, x):
        if x.min() < 0 or x.max() > 1:
            return f"binary units take values in [0, 1], but the data spans [{x.min():g}, {x.max():g}]"
        return None


class Spin(_TwoState):
    name = "spin"
    factor, low = 2.0, -1.0

    def _conditional(self, u, p, temperature):
        logit = 2 * (u + p.bias) / temperature
        return Bernoulli(logit, sigmoid(logit))

    def mean(self, cond):
        return 2 * cond.prob - 1

    def mean_backward(self, cond, grad, p, temperature):
        m = 2 * cond.prob - 1                                           # tanh(φ/T)
        return grad * (1 - m * m) / temperature

    def log_partition(self, u, p, temperature):
        z = namespace_of(u).abs((u + p.bias) / temperature)
        return (z + softplus(-2 * z)).sum(axis=-1)      # log 2cosh z = |z| + log(1 + e^{−2|z|})

    def entropy_of_mean(self, mean):
        p = (1 + mean) / 2
        return (neg_xlogx(p) + neg_xlogx(1 - p)).sum(axis=-1)

    def states(self, n):
        return 2 * _bit_table(n) - 1

    def check_data(self, x):
        if x.min() < -1 or x.max() > 1:
            return f"spin units take values in [−1, 1], but the data spans [{x.min():g}, {x.max():g}]"
        return None


class Softmax(UnitType):
    """Groups of K mutually exclusive units; the layer's n = groups × K units are stored flat.

    With ``missing``, a group whose state is all zero is absent: the example's model has only
    its present groups (a user's RBM has the items she rated; Salakhutdinov, Mnih & Hinton 2007).
    An absent group adds nothing to any field or energy, and an update keeps it absent."""

    name = "softmax"

    def __init__(self, categories: int, missing: bool = False):
        self.k, self.missing = categories, missing

    def self_energy(self, x, p):
        return -matmul(x, p.bias)

    def _grouped(self, z):
        return z.reshape(z.shape[0], -1, self.k)

    def conditional(self, u, p, temperature):
        if fields.takes(u, p.bias):
            return Categorical(*fields.softmax(u, p.bias, 1 / temperature, self.k)[:2])
        xp = namespace_of(u)
        logits = self._grouped((u + p.bias) / temperature)
        e = xp.exp(logits - logits.max(axis=-1, keepdims=True))
        return Categorical(logits, e / e.sum(axis=-1, keepdims=True))

    def conditional_sample(self, u, p, temperature, rng, current=None):
        if self.missing or not fields.takes(u, p.bias, rng=rng):
            return super().conditional_sample(u, p, temperature, rng, current)
        logits, probs, x = fields.softmax(u, p.bias, 1 / temperature, self.k, rng)
        return Categorical(logits, probs), x.reshape(x.shape[0], -1)

    def mean(self, cond):
        return cond.probs.reshape(cond.probs.shape[0], -1)

    def restrict(self, cond, current):
        if not self.missing:
            return cond
        present = (self._grouped(current).sum(axis=-1, keepdims=True) > 0).astype(cond.probs.dtype)
        return Categorical(cond.logits, cond.probs * present, present)

    def mean_backward(self, cond, grad, p, temperature):
        """Per group: ∂L/∂φ_k = p_k (g_k − Σ_j p_j g_j) / T."""
        g = self._grouped(grad)
        out = cond.probs * (g - (cond.probs * g).sum(axis=-1, keepdims=True)) / temperature
        return out.reshape(out.shape[0], -1)

    def sample(self, cond, rng):
        onehot = rng.one_hot(cond.probs)
        if cond.present is not None:
            onehot *= cond.present
        return onehot.reshape(onehot.shape[0], -1)

    def log_partition(self, u, p, temperature):
        xp = namespace_of(u)
        logits = self._grouped((u + p.bias) / temperature)
        top = logits.max(axis=-1)
        return (top + xp.log(xp.exp(logits - top[..., None]).sum(axis=-1))).sum(axis=-1)

    def entropy_of_mean(self, mean):
        return neg_xlogx(mean).sum(axis=-1)

    def states(self, n):
        eye = np.eye(self.k)
        groups = itertools.product(range(self.k), repeat=n // self.k)
        return np.array([np.concatenate([eye[i] for i in g]) for g in groups]).reshape(-1, n)

    def count_states(self, n):
        return self.k ** (n // self.k)

    def check_data(self, x):
        if x.min() < 0 or x.max() > 1:
            return f"softmax units take values in [0, 1], but the data spans [{x.min():g}, {x.max():g}]"
        sums = x.reshape(x.shape[0], -1, self.k).sum(axis=-1)
        if self.missing:
            sums = np.where(sums < 1e-4, 1, sums)
        if not np.allclose(sums, 1, atol=1e-4):
            return (f"softmax data must sum to 1 within each group of {self.k} categories"
                    + (" (or 0 in an absent group)" if self.missing else ""))
        return None


class Gaussian(UnitType):
    name = "gaussian"
    discrete = False

    def self_energy(self, x, p):
        return (((x - p.bias) / p.sigma) ** 2).sum(axis=-1) / 2

    def coupling_stat(self, x, p):
        return x / p.sigma

    def conditional(self, u, p, temperature):
        if fields.takes(u, p.bias, p.sigma):
            return Normal(fields.gaussian(u, p.bias, p.sigma)[0], self._std(u, p, temperature))
        return Normal(p.bias + p.sigma * u, self._std(u, p, temperature))

    def _std(self, u, p, temperature):
        """σ√T broadcast to u's shape, in σ's dtype (√T a Python float); no launch at T = 1."""
        std = p.sigma if temperature == 1 else p.sigma * math.sqrt(temperature)
        return namespace_of(u).broadcast_to(std, u.shape)

    def conditional_sample(self, u, p, temperature, rng, current=None):
        if not fields.takes(u, p.bias, p.sigma, rng=rng):
            return super().conditional_sample(u, p, temperature, rng, current)
        mean, x = fields.gaussian(u, p.bias, p.sigma, math.sqrt(temperature), rng)
        return Normal(mean, self._std(u, p, temperature)), x

    def mean(self, cond):
        return cond.mean

    def mean_backward(self, cond, grad, p, temperature):
        return grad * p.sigma                                           # E[x | u] = μ + σu

    def bias_grad(self, grad_u, p):
        return grad_u / p.sigma

    def stat_backward(self, grad_s, p):
        return grad_s / p.sigma                                         # s(x) = x/σ

    def sample(self, cond, rng):
        return rng.gaussian(cond.mean, cond.std)

    def log_partition(self, u, p, temperature):
        xp = namespace_of(u)
        quad = (p.bias * u / p.sigma + u * u / 2) / temperature
        return quad.sum(axis=-1) + (0.5 * xp.log(2 * np.pi * temperature * p.sigma ** 2)).sum()

    def bias_stat(self, x, p):
        return (x - p.bias) / p.sigma ** 2

    def log_sigma_stat(self, x, u, p, spread=0.0):
        stat = ((x - p.bias) / p.sigma) ** 2 - x * u / p.sigma
        no_spread = isinstance(spread, (int, float)) and spread == 0      # a draw: no launch
        return stat if no_spread else stat + spread

    def check_data(self, x):
        return None     # any finite value (finiteness is checked for all data)


class Rectifier(UnitType):
    """Noisy rectified linear units (Nair & Hinton 2010): E[x | u] ≈ max(0, φ), drawn as
    x = max(0, φ + N(0, σ(φ)))."""

    name = "rectified"
    discrete = False

    def conditional(self, u, p, temperature):
        field = (u + p.bias) / temperature if temperature != 1 else u + p.bias
        return Rectified(field, namespace_of(field).maximum(field, 0))

    def mean(self, cond):
        return cond.mean

    def mean_backward(self, cond, grad, p, temperature):
        return grad * (cond.field > 0) / temperature

    def sample(self, cond, rng):
        xp = rng.xp
        noise = rng.normal(cond.field.shape, cond.field.dtype) * xp.sqrt(sigmoid(cond.field))
        return xp.maximum(cond.field + noise, 0)

    def self_energy(self, x, p):
        raise TypeError("rectified units have no closed-form energy; use them in directed couplings")

    def log_partition(self, u, p, temperature):
        raise TypeError("rectified units have no closed-form log-partition; use them in directed couplings")

    def check_data(self, x):
        if x.min() < 0:
            return f"rectified units take values in [0, ∞), but the data reaches {x.min():g}"
        return None


class Leaky(UnitType):
    """Leaky rectified linear units, max(φ, aφ) with a = 0.2 (Maas et al. 2013), the hidden units of
    most GANs: they never die (a rectified unit whose field stays negative passes no gradient).
    Deterministic: a draw is the mean."""

    name = "leaky"
    discrete = False
    slope = 0.2

    def conditional(self, u, p, temperature):
        field = (u + p.bias) / temperature if temperature != 1 else u + p.bias
        return Rectified(field, namespace_of(field).maximum(field, self.slope * field))

    def mean(self, cond):
        return cond.mean

    def mean_backward(self, cond, grad, p, temperature):
        xp = namespace_of(grad)
        return grad * xp.where(cond.field > 0, 1.0, self.slope).astype(grad.dtype) / temperature

    def sample(self, cond, rng):
        return cond.mean

    def self_energy(self, x, p):
        raise TypeError("leaky units have no closed-form energy; use them in directed couplings")

    def log_partition(self, u, p, temperature):
        raise TypeError("leaky units have no closed-form log-partition; "
                        "use them in directed couplings")

    def check_data(self, x):
        return None


def make_units(kind: str, size: int, categories: int | None = None,
               missing: bool = False) -> UnitType:
    if kind == "softmax":
        return Softmax(categories or size, missing)
    return {"binary": Binary, "spin": Spin, "gaussian": Gaussian, "rectified": Rectifier,
            "leaky": Leaky}[kind]()


__all__ = ["Bernoulli", "Binary", "Categorical", "Gaussian", "LayerParams", "Leaky", "Normal",
           "Rectified", "Rectifier",
           "Softmax", "Spin", "make_units", "sigmoid", "softplus"]
