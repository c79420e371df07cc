"""What every unit type supplies, so that energies, conditionals and free energies are derived.

Notation, per layer of n units with state x (batch, n), bias b (n,), and the *input* u (batch, n)
that the couplings send it (u = Σ_couplings W s(x_other)):

    E(x)         = E_self(x; b) − s(x) · u      (plus coupling terms that do not involve x)
    p(x | rest)  ∝ exp(−E(x) / T)

Each unit type gives E_self, the coupling statistic s(x) (x itself, or x/σ for gaussian units),
the parameters of p(x | rest) given u (deterministic, for tests), a sampler for them, and
log-partition A(u) = log Σ_x exp(−(E_self(x) − s(x)·u) / T), which sums a layer out of the
free energy: F = (terms without x) − T · A(u).

The same conditional serves feed-forward nets (backpropagation): a directed map's activation is
the conditional mean E[x | u] (binary: sigmoid, spin: tanh, gaussian: identity, softmax,
rectified: max(0, ·)), its loss on data the negative data log-likelihood log p(x | u)
(cross-entropy, squared error, softmax cross-entropy), and the unit type supplies the
derivatives: ``mean_backward`` (the activation's vector–Jacobian product) and ``log_prob_grad``
(∂ log p(x | u)/∂u = (s(x) − E[s(x) | u]) / T, an exponential-family identity).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np


class LayerParams(NamedTuple):
    """The parameters a unit type needs: bias (n,) and, for gaussian units, sigma (n,)."""

    bias: Any
    sigma: Any = None


class UnitType:
    name: str = ""
    discrete: bool = True

    def self_energy(self, x, p: LayerParams):
        """E_self(x) summed over units: (batch, n) -> (batch,)."""
        raise NotImplementedError

    def coupling_stat(self, x, p: LayerParams):
        """s(x), what the layer sends through its couplings: (batch, n) -> (batch, n)."""
        return x

    def conditional(self, u, p: LayerParams, temperature: float) -> NamedTuple:
        """Parameters of p(x | rest) given the input u (batch, n)."""
        raise NotImplementedError

    def conditional_sample(self, u, p: LayerParams, temperature: float, rng, current=None):
        """(conditional, a draw from it) given the input u (batch, n): ``conditional``, then
        ``restrict`` to ``current`` when given, then ``sample``. Binary, spin, gaussian and softmax
        units (but softmax with missing groups) do it in one launch on CuPy (``fields.py``); their
        ``restrict`` is the identity, so the launch skips it."""
        cond = self.conditional(u, p, temperature)
        if current is not None:
            cond = self.restrict(cond, current)
        return cond, self.sample(cond, rng)

    def mean(self, cond) -> Any:
        """E[x | rest] under ``cond``: (batch, n)."""
        raise NotImplementedError

    def sample(self, cond, rng) -> Any:
        """A draw of x from ``cond``: (batch, n), in the dtype of the conditional."""
        raise NotImplementedError

    def log_partition(self, u, p: LayerParams, temperature: float):
        """A(u) summed over units: (batch, n) -> (batch,)."""
        raise NotImplementedError

    def entropy_of_mean(self, mean):
        """H of the factorised distribution of this unit type with the given means (batch, n),
        summed over units: (batch,). A mean-field factor q_l is such a distribution; discrete only."""
        raise TypeError(f"{self.name} units have no mean-field entropy")

    def bias_stat(self, x, p: LayerParams):
        """−∂E/∂b per unit: (batch, n)."""
        return x

    def log_sigma_stat(self, x, u, p: LayerParams, spread=0.0):
        """−∂E/∂(log σ) per unit; only gaussian units have a σ. Where ``x`` is a conditional mean
        x̄ (Rao–Blackwellised), ``spread`` is the conditional Var[x]/σ² (a scalar or (n,)): the
        statistic is quadratic in x, so its expectation is not its value at x̄."""
        raise TypeError(f"{self.name} units have no sigma")

    def log_prob(self, x, u, p: LayerParams, temperature: float):
        """log p(x | input u) summed over units, (batch, n) -> (batch,):
        (s(x)·u − E_self(x)) / T − A(u)."""
        pairing = (self.coupling_stat(x, p) * u).sum(axis=-1)
        return (pairing - self.self_energy(x, p)) / temperature - self.log_partition(u, p, temperature)

    def log_prob_grad(self, x, cond, p: LayerParams, temperature: float):
        """∂ log p(x | u)/∂u = (s(x) − E[s(x) | u]) / T: (batch, n)."""
        delta = self.coupling_stat(x, p) - self.coupling_stat(self.mean(cond), p)
        return delta if temperature == 1 else delta / temperature

    def mean_backward(self, cond, grad, p: LayerParams, temperature: float):
        """The activation's vector–Jacobian product: ∂L/∂E[x | u] (batch, n) -> ∂L/∂u (batch, n)."""
        raise NotImplementedError

    def bias_grad(self, grad_u, p: LayerParams):
        """∂L/∂b from ∂L/∂u, per row: the field is b + u (gaussian units: μ + σu, so /σ)."""
        return grad_u

    def stat_backward(self, grad_s, p: LayerParams):
        """∂L/∂x from ∂L/∂s(x), for a layer that feeds a coupling (gaussian units: s = x/σ)."""
        return grad_s

    def states(self, n: int) -> np.ndarray:
        """Every joint state of n units, (count, n); discrete unit types only."""
        raise TypeError(f"{self.name} units cannot be enumerated")

    def count_states(self, n: int) -> int:
        """How many joint states n units have; discrete unit types only."""
        raise TypeError(f"{self.name} units cannot be enumerated")

    def restrict(self, cond, current):
        """``cond`` restricted to the units present in ``current`` (batch, n), the layer's state
        before the update: only softmax layers with missing groups keep absent groups absent."""
        return cond

    def random_state(self, batch: int, n: int, p: LayerParams, rng, dtype):
        """Independent draws at zero input, to start chains from."""
        xp = rng.xp
        return self.conditional_sample(xp.zeros((batch, n), dtype=dtype), p, 1.0, rng)[1]

    def check_data(self, x: np.ndarray) -> str | None:
        """Why ``x`` cannot be data for this unit type, or None when it can."""
        return None
