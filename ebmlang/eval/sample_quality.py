"""Scores of generated images by a classifier of the same data (no downloaded network).

With p(y | x) the classifier's class probabilities and f(x) its penultimate features:

    classifier score   exp(E_x KL(p(y | x) ‖ p(y))),  p(y) = E_x p(y | x)
                       (the Inception score of Salimans et al. 2016 with an MNIST classifier: 1 for
                       a generator whose samples all look alike or are all ambiguous, the number of
                       classes for confident, evenly spread ones)
    Fréchet distance   ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½) between Gaussians fitted to
                       the features of two sets (Heusel et al. 2017); the matrix square roots come
                       from symmetric eigendecompositions, so the trace term is exact
    class shares       the share of samples the classifier assigns to each class
"""
from __future__ import annotations

import numpy as np


def classifier_score(probs: np.ndarray) -> float:
    """exp(mean_x KL(p(y | x) ‖ p(y))) for class probabilities ``probs`` (N, K)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    marginal = p.mean(axis=0)
    return float(np.exp((p * (np.log(p) - np.log(marginal))).sum(axis=1).mean()))


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The Fréchet distance between Gaussians fitted to feature sets ``a`` (N, d) and ``b`` (M, d)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = _sqrt_psd(cov_a)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ cov_b @ root), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


def class_shares(probs: np.ndarray, classes: int) -> list:
    """The share of rows whose most probable class is each of ``classes``."""
    counts = np.bincount(np.asarray(probs).argmax(axis=1), minlength=classes)
    return [float(c) / max(1, len(probs)) for c in counts]


__all__ = ["class_shares", "classifier_score", "frechet_distance"]
