"""Generated data sets: bars-and-stripes, Gaussian mixtures and the grid of Gaussians."""
from __future__ import annotations

import itertools

import numpy as np


def bars_and_stripes(side: int) -> np.ndarray:
    """Every distinct side×side image whose rows are all equal (stripes) or whose columns are
    (bars): 2·2^side − 2 patterns (all-off and all-on are both), shape (count, side²)."""
    patterns = set()
    for bits in itertools.product((0, 1), repeat=side):
        row = np.array(bits, dtype=np.uint8)
        patterns.add(np.tile(row, (side, 1)).tobytes())            # columns constant: bars
        patterns.add(np.tile(row[:, None], (1, side)).tobytes())   # rows constant: stripes
    return np.array([np.frombuffer(p, dtype=np.uint8) for p in sorted(patterns)], dtype=float).reshape(-1, side * side)


def gaussian_mixture(dim: int, components: int, samples: int, separation: float, noise: float,
                     seed: int, layout: str = "random") -> tuple[np.ndarray, ...]:
    """(train, train_labels, test, test_labels, means): equal-weight components of isotropic
    spread ``noise``, ``samples`` points in each set. Means: layout `random` draws ``components``
    of them as separation × N(0, I); `hypercube` puts 2^dim at the corners {±separation/2}^dim
    (``components`` is then 2^dim), a mixture a GRBM with dim hidden units represents exactly."""
    gen = np.random.default_rng(np.random.SeedSequence([seed, 0x6A055]))
    if layout == "hypercube":
        means = separation * (np.array(list(itertools.product((-0.5, 0.5), repeat=dim))))
        components = len(means)
    else:
        means = separation * gen.standard_normal((components, dim))

    def draw(n):
        labels = gen.integers(0, components, n)
        return means[labels] + noise * gen.standard_normal((n, dim)), labels

    train, train_labels = draw(samples)
    test, test_labels = draw(samples)
    return train, train_labels, test, test_labels, means


def grid_means(side: int, spacing: float) -> np.ndarray:
    """The side × side grid of means, centred on 0: (side², 2). side 5, spacing 2 gives the
    25 modes at (−4 + 2i, −4 + 2j) of the VEEGAN and PacGAN benchmarks."""
    axis = spacing * (np.arange(side) - (side - 1) / 2)
    return np.array([(x, y) for x in axis for y in axis])


def gaussian_grid(side: int, spacing: float, std: float, samples: int,
                  seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train, train_labels, test, test_labels): equal-weight isotropic Gaussians of spread
    ``std`` at the grid's means, labels the mode's index; ``samples`` points in each set."""
    gen = np.random.default_rng(np.random.SeedSequence([seed, 0x6B1D]))
    means = grid_means(side, spacing)

    def draw(n):
        labels = gen.integers(0, len(means), n)
        return means[labels] + std * gen.standard_normal((n, 2)), labels

    train, train_labels = draw(samples)
    test, test_labels = draw(samples)
    return train, train_labels, test, test_labels
