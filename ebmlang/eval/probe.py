"""A linear probe: multinomial logistic (softmax) regression from features to labels, trained
by minibatch gradient descent with momentum on the project's own backend.

    p(y = k | f) = softmax(f A + a)_k,   loss = −mean log p(y | f) + (λ/2) ‖A‖²

Features are standardised with the training set's mean and spread first. The test error of a
probe on an RBM's hidden features E[h | v], against the same probe on the raw pixels, says how
much linearly usable structure the features hold.
"""
from __future__ import annotations

import numpy as np

from ..backend import Rng, namespace_of


def train_probe(xp, features, labels: np.ndarray, classes: int, epochs: int = 30, lr: float = 0.1,
                l2: float = 1e-4, batch: int = 100, seed: int = 0):
    """(A, a, mean, scale) fitted on ``features`` (N, d) and integer ``labels`` (N,)."""
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    x = (features - mean) / scale
    y = xp.asarray(np.eye(classes)[labels], dtype=x.dtype)
    a_w = xp.zeros((x.shape[1], classes), dtype=x.dtype)
    a_b = xp.zeros(classes, dtype=x.dtype)
    v_w, v_b = xp.zeros_like(a_w), xp.zeros_like(a_b)
    for epoch in range(epochs):
        order = xp.asarray(Rng(xp, seed, epoch).permutation(x.shape[0]))
        for start in range(0, x.shape[0], batch):
            idx = order[start:start + batch]
            p = _softmax(x[idx] @ a_w + a_b)
            err = (p - y[idx]) / len(idx)                             # ∂loss/∂logits
            v_w = 0.9 * v_w - lr * (x[idx].T @ err + l2 * a_w)
            v_b = 0.9 * v_b - lr * err.sum(axis=0)
            a_w, a_b = a_w + v_w, a_b + v_b
    return a_w, a_b, mean, scale


def _softmax(z):
    e = namespace_of(z).exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def probe_error(model, features, labels: np.ndarray) -> float:
    a_w, a_b, mean, scale = model
    predictions = ((features - mean) / scale @ a_w + a_b).argmax(axis=1)
    predictions = predictions.get() if hasattr(predictions, "get") else np.asarray(predictions)
    return float((predictions != labels).mean())
