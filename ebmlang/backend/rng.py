"""The project's one random-number layer.

Every stream is derived from a key tuple ``(seed, *counters)`` through NumPy's SeedSequence,
e.g. ``(seed, epoch)`` for one training epoch. A run's RNG state is therefore just its key, so
a resumed run continues exactly where an unbroken one would be, on NumPy and CuPy alike, with no
generator state to serialise.
"""
from __future__ import annotations

import numpy as np


class Rng:
    """Random draws on one backend (``xp`` is numpy or cupy), from a key of non-negative ints."""

    def __init__(self, xp, *key: int):
        self.xp, self.key = xp, tuple(int(k) for k in key)
        entropy = np.random.SeedSequence(list(self.key))
        if xp is np:
            self._gen = np.random.Generator(np.random.PCG64(entropy))
        else:   # CuPy: seed its generator from the same key
            self._gen = xp.random.default_rng(int(entropy.generate_state(1, np.uint64)[0]))

    def child(self, *counters: int) -> "Rng":
        """An independent stream keyed by this one's key plus ``counters``."""
        return Rng(self.xp, *self.key, *counters)

    def uniform(self, shape, dtype) -> "np.ndarray":
        return self._gen.random(shape, dtype=dtype)

    def normal(self, shape, dtype) -> "np.ndarray":
        return self._gen.standard_normal(shape, dtype=dtype)

    def permutation(self, n: int) -> np.ndarray:
        """A permutation of range(n) as a NumPy array (indices are used on the host side)."""
        return np.random.default_rng(list(self.key) + [2**31 - 1]).permutation(n)
