"""What every unit type supplies, so that energies, conditionals and free energies are derived.

Notation, per layer of n units with state x (batch, n), bias b (n,), and the *input* u (batch, n)
that the couplings send it (u = Σ_couplings W s(x_other)):

    E(x)         = E_self(x; b) − s(x) · u      (plus coupling terms that do not involve x)
    p(x | rest)  ∝ exp(−E(x) / T)

Each unit type gives E_self, the coupling statistic s(x) (x itself, or x/σ for gaussian units),
the parameters of p(x | rest) given u (deterministic, for tests), a sampler for them, and
log-partition A(u) = log Σ_x exp(−(E_self(x) − s(x)·u) / T), which sums a layer out of the
free energy: F = (terms without x) − T · A(u).
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

    def log_sigma_stat(self, x, u, p: LayerParams):
        """−∂E/∂(log σ) per unit; only gaussian units have a σ."""
        raise TypeError(f"{self.name} units have no sigma")

    def states(self, n: int) -> np.ndarray:
        """Every joint state of n units, (count, n); discrete unit types only."""
        raise TypeError(f"{self.name} units cannot be enumerated")

    def count_states(self, n: int) -> int:
        """How many joint states n units have; discrete unit types only."""
        raise TypeError(f"{self.name} units cannot be enumerated")

    def random_state(self, batch: int, n: int, p: LayerParams, rng, dtype):
        """Independent draws at zero input, to start chains from."""
        xp = rng.xp
        return self.sample(self.conditional(xp.zeros((batch, n), dtype=dtype), p, 1.0), rng)

    def check_data(self, x: np.ndarray) -> str | None:
        """Why ``x`` cannot be data for this unit type, or None when it can."""
        return None
