"""Measures of a generator's samples against a known mixture (the 2-D grid of Gaussians of the
VEEGAN and PacGAN benchmarks; ``data.synthetic.grid_means``).

    modes covered        the modes that receive at least one sample within ``radius``·σ
    high-quality share   the share of samples within ``radius``·σ of some mode

For samples of the mixture itself, with radius 3 in two dimensions, the expected share is
1 − e^{−9/2} ≈ 98.9 % and every mode is covered once a few hundred samples are drawn.
"""
from __future__ import annotations

import numpy as np


def mode_coverage(samples: np.ndarray, means: np.ndarray, std: float, radius: float = 3.0) -> dict:
    """{"modes": covered modes, "of": how many there are, "high_quality": share within radius·σ}
    for ``samples`` (n, d) and the mixture's ``means`` (k, d)."""
    distance = np.linalg.norm(samples[:, None, :] - means[None, :, :], axis=-1)       # (n, k)
    nearest = distance.argmin(axis=1)
    close = distance[np.arange(len(samples)), nearest] <= radius * std
    return {"modes": int(len(np.unique(nearest[close]))), "of": int(len(means)),
            "high_quality": float(close.mean()) if len(samples) else 0.0}


__all__ = ["mode_coverage"]
