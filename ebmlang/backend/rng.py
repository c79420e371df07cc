"""The project's one random-number layer.

Every stream is derived from a key tuple ``(seed, *counters)``, e.g. ``(seed, epoch)`` for one
training epoch. A run's RNG state is therefore just its key, so a resumed run continues exactly
where an unbroken one would be, with no generator state to serialise.

On NumPy the key seeds a PCG64 generator through SeedSequence. On CuPy it gives the two key words
of a counter-based generator (Philox4x32-10, ``philox.py``): the n-th draw of an Rng takes the
counters (element, n), and each kind of draw is one fused kernel (``draws.py``), so a sample of a
layer is a single launch from its field with no stored random numbers.

Besides plain uniforms and normals, the Rng draws the samples of the unit types directly
(``bernoulli``, ``gaussian``, ``one_hot``): on NumPy each is the same arithmetic the unit types
did before, on the same stream; on CuPy each is one kernel.
"""
from __future__ import annotations

import numpy as np

from . import draws
from .philox import key_words


class Rng:
    """Random draws on one backend (``xp`` is numpy or cupy), from a key of non-negative ints."""

    def __init__(self, xp, *key: int):
        self.xp, self.key = xp, tuple(int(k) for k in key)
        if xp is np:
            self._gen = np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(self.key))))
        else:
            self._words, self._draws = key_words(*self.key), 0

    def child(self, *counters: int) -> "Rng":
        """An independent stream keyed by this one's key plus ``counters``."""
        return Rng(self.xp, *self.key, *counters)

    def reserve(self, count: int) -> tuple:
        """(key words, first draw index) of ``count`` consecutive draws, for kernels on CuPy
        that take their random numbers from the counter-based stream themselves."""
        self._draws += count
        return self._words, self._draws - count

    def _next(self) -> tuple:
        return self.reserve(1)

    def uniform(self, shape, dtype):
        if self.xp is np:
            return self._gen.random(shape, dtype=dtype)
        return draws.uniform(self.xp, shape, dtype, *self._next())

    def normal(self, shape, dtype):
        if self.xp is np:
            return self._gen.standard_normal(shape, dtype=dtype)
        return draws.normal(self.xp, shape, dtype, *self._next())

    def bernoulli(self, prob, logit, low: float = 0.0):
        """1 with probability ``prob`` = σ(``logit``), else ``low``: binary (0) or spin (−1) units."""
        if self.xp is not np:
            return draws.bernoulli(logit, low, *self._next())
        x = (self.uniform(prob.shape, prob.dtype) < prob).astype(prob.dtype)
        if low:
            x *= 1 - low        # in the float dtype: `2 * bool − 1` would go through int64
            x += low
        return x

    def gaussian(self, mean, std):
        """mean + std · z, with ``std`` of mean's shape (a broadcast row is fine)."""
        if self.xp is not np:
            return draws.gaussian(mean, std, *self._next())
        return mean + std * self.normal(mean.shape, mean.dtype)

    def one_hot(self, probs):
        """probs (..., k) -> one category per group, one-hot, by inverting the cumulative sum."""
        if self.xp is not np:
            return draws.one_hot(probs, *self._next())
        xp, k = self.xp, probs.shape[-1]
        u = self.uniform(probs.shape[:-1] + (1,), probs.dtype)
        index = (xp.cumsum(probs, axis=-1) < u).sum(axis=-1, keepdims=True)
        index = xp.minimum(index, k - 1)          # guards a cumulative sum that rounds below 1
        return (xp.arange(k) == index).astype(probs.dtype)

    def permutation(self, n: int) -> np.ndarray:
        """A permutation of range(n) as a NumPy array (indices are used on the host side)."""
        return np.random.default_rng(list(self.key) + [2**31 - 1]).permutation(n)
