"""The project's one random-number layer.

Every stream is derived from a key tuple ``(seed, *counters)``, e.g. ``(seed, epoch)`` for one
training epoch. A run's RNG state is therefore just its key, so a resumed run continues exactly
where an unbroken one would be, with no generator state to serialise.

On NumPy the key seeds a PCG64 generator through SeedSequence. On CuPy it gives the two key words
of a counter-based generator (Philox4x32-10, ``philox.py``), held with a step counter in a small
device array: the n-th draw of a step takes the counters (element, n, step), and each kind of
draw is one fused kernel (``draws.py``), so a sample of a layer is a single launch from its field
with no stored random numbers, and a training step can be captured as a CUDA graph.

Besides plain uniforms and normals, the Rng draws the samples of the unit types directly
(``bernoulli``, ``gaussian``, ``one_hot``): on NumPy each is the same arithmetic the unit types
did before, on the same stream; on CuPy each is one kernel.
"""
from __future__ import annotations

import numpy as np

from . import draws
from .philox import key_words


class Rng:
    """Random draws on one backend (``xp`` is numpy or cupy), from a key of non-negative ints.

    ``counter_based`` (default: on CuPy) draws from Philox through ``draws.py``; on NumPy that
    runs the kernels' NumPy references, which the tests use to exercise this path without a GPU."""

    def __init__(self, xp, *key: int, counter_based: bool | None = None):
        self.xp, self.key = xp, tuple(int(k) for k in key)
        self._permutations = 0                      # calls of ``permutation`` so far
        self.counter_based = xp is not np if counter_based is None else counter_based
        if self.counter_based:
            self.state = xp.asarray(np.array([*key_words(*self.key), 0], dtype=np.uint32))
            self._draws = 0
        else:
            self._gen = np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(self.key))))

    def child(self, *counters: int) -> "Rng":
        """An independent stream keyed by this one's key plus ``counters``."""
        return Rng(self.xp, *self.key, *counters, counter_based=self.counter_based)

    def advance(self) -> None:
        """Start the next training step. A counter-based stream moves its step on the device and
        counts its draws from 0 again, so the same step's draws are the same launches whether it
        runs eagerly or as a replayed CUDA graph; a PCG64 stream just goes on."""
        if self.counter_based:
            draws.advance(self.state)
            self._draws = 0

    def restart(self, *key: int) -> None:
        """Make this (counter-based) Rng the stream of ``key`` at step 0, in place: a captured
        graph keeps reading the same state array."""
        self.key = tuple(int(k) for k in key)
        self.state[...] = self.xp.asarray(np.array([*key_words(*self.key), 0], dtype=np.uint32))
        self._draws = self._permutations = 0

    def reserve(self, count: int) -> tuple:
        """(state, first draw index) of ``count`` consecutive draws, for kernels that take their
        random numbers from the counter-based stream themselves."""
        self._draws += count
        return self.state, self._draws - count

    def _next(self) -> tuple:
        return self.reserve(1)

    def uniform(self, shape, dtype):
        if not self.counter_based:
            return self._gen.random(shape, dtype=dtype)
        return draws.uniform(self.xp, shape, dtype, *self._next())

    def normal(self, shape, dtype):
        if not self.counter_based:
            return self._gen.standard_normal(shape, dtype=dtype)
        return draws.normal(self.xp, shape, dtype, *self._next())

    def bernoulli(self, prob, logit, low: float = 0.0):
        """1 with probability ``prob`` = σ(``logit``), else ``low``: binary units (low 0) or
        spins (low −1)."""
        if self.counter_based:
            return draws.bernoulli(logit, low, *self._next())
        x = (self.uniform(prob.shape, prob.dtype) < prob).astype(prob.dtype)
        if low:
            x *= 1 - low        # in the float dtype: `2 * bool − 1` would go through int64
            x += low
        return x

    def gaussian(self, mean, std):
        """mean + std · z, with ``std`` of mean's shape (a broadcast row is fine)."""
        if self.counter_based:
            return draws.gaussian(mean, std, *self._next())
        return mean + std * self.normal(mean.shape, mean.dtype)

    def one_hot(self, probs):
        """probs (..., k) -> one category per group, one-hot, by inverting the cumulative sum."""
        if self.counter_based:
            return draws.one_hot(probs, *self._next())
        xp, k = self.xp, probs.shape[-1]
        u = self.uniform(probs.shape[:-1] + (1,), probs.dtype)
        index = (xp.cumsum(probs, axis=-1) < u).sum(axis=-1, keepdims=True)
        index = xp.minimum(index, k - 1)          # guards a cumulative sum that rounds below 1
        return (xp.arange(k) == index).astype(probs.dtype)

    def permutation(self, n: int) -> np.ndarray:
        """A permutation of range(n) as a NumPy array (indices are used on the host side): the
        i-th call's is keyed by (key, 2³¹ − 1, i), a new order each call, the first call's a
        function of the key alone (the trainer makes an epoch's order ahead from its key).
        SeedSequence drops trailing zeros, so i = 0 gives the stream of (key, 2³¹ − 1)."""
        entropy = list(self.key) + [2**31 - 1, self._permutations]
        self._permutations += 1
        return np.random.default_rng(entropy).permutation(n)
