"""Measures of feed-forward nets (autoencoders, classifiers; ``kernels.backprop``).

    squared error    Σ_i (x_i − x̂_i)² per example, x̂ the decoder's output given the encoder's
                     code: the figure Hinton & Salakhutdinov (2006) report, averaged over test images
    log-likelihood   Σ log p(target | net) per example (−cross-entropy for binary and softmax units)
    PCA baseline     the best linear code of the same size: x̂ = μ + (x − μ) V Vᵀ, V the top-k
                     principal directions of the training set (k = the code layer's size)

Each runs in chunks of rows, so a whole test set never makes one (rows × 1000) temporary too many.
"""
from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from ..compile import Program
from ..kernels.backprop import Net

AUTOENCODER = ("recognition", "generative")
CHUNK = 2000


def is_net(program: Program) -> bool:
    """Directed couplings only: a feed-forward net, with no energy to sample."""
    return not program.couplings and bool(program.directed)


def is_autoencoder(program: Program, layer: str) -> bool:
    """A net that decodes ``layer`` from what its encoder computes: every layer the generative pass
    starts from is computed by the recognition pass (not so for a GAN's generator)."""
    generated = set(program.order.get("generative", ()))
    roots = {c.a for c in program.directed if c.kind == "generative" and c.a not in generated}
    return layer in generated and roots <= set(program.order.get("recognition", ()))


def _chunks(data: dict, chunk: int = CHUNK):
    rows = next(iter(data.values())).shape[0]
    for start in range(0, rows, chunk):
        yield {k: v[start:start + chunk] for k, v in data.items()}


def net_log_likelihood(program: Program, params: dict, data: dict, passes: tuple) -> float:
    """Mean over rows of Σ log p(target | net), the targets being the layers of ``data`` a pass computes."""
    net = Net.over(program, passes, tuple(data))
    total, rows = 0.0, 0
    for part in _chunks(data):
        tape = net.run(program, params, part)
        total += float(net.log_likelihood(program, params, tape, part).sum())
        rows += next(iter(part.values())).shape[0]
    return total / rows


def autoencode(program: Program, params: dict, data: dict) -> dict:
    """The decoder's output for each clamped layer of ``data`` (the encoder's input):
    {layer: (rows, size)}."""
    net = Net.over(program, AUTOENCODER, tuple(data))
    parts = {name: [] for _, name in net.targets}
    for part in _chunks(data):
        tape = net.run(program, params, part)
        for index, name in net.targets:
            parts[name].append(tape.values[(index, name)])
    return {n: program.xp.concatenate(p, axis=0) for n, p in parts.items()}


def squared_error(program: Program, params: dict, data: dict) -> float:
    """Mean over rows of Σ_i (x_i − x̂_i)² through the autoencoder."""
    out = autoencode(program, params, data)
    return float(sum(((out[n] - data[n]) ** 2).sum(axis=1).mean() for n in out))


def predict(program: Program, params: dict, data: dict, label_layer: str) -> np.ndarray:
    """argmax_k q(y = k | x) by the recognition pass: (rows,) on the host."""
    net = Net.over(program, ("recognition",), tuple(data))
    return np.concatenate([to_numpy(net.run(program, params, part).output(label_layer)).argmax(axis=1)
                           for part in _chunks(data)])


def principal_directions(train: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean (n,), the top-k principal directions (n, k)) of ``train``, from the eigenvectors of
    its covariance (an n × n problem, however many rows)."""
    train = np.asarray(train, dtype=np.float64)
    mean = train.mean(axis=0)
    centred = train - mean
    _, vectors = np.linalg.eigh(centred.T @ centred)
    return mean, vectors[:, ::-1][:, :k]


def pca_squared_error(train: np.ndarray, test: np.ndarray, k: int) -> float:
    """Mean over test rows of ‖x − x̂‖² for the rank-k PCA reconstruction fitted on ``train``."""
    mean, v = principal_directions(train, k)
    centred = np.asarray(test, dtype=np.float64) - mean
    return float(((centred - centred @ v @ v.T) ** 2).sum(axis=1).mean())


def principal_components(train: np.ndarray, data: np.ndarray, k: int = 2) -> np.ndarray:
    """The first k principal-component scores of ``data`` (directions fitted on ``train``)."""
    mean, v = principal_directions(train, k)
    return (np.asarray(data, dtype=np.float64) - mean) @ v


__all__ = ["AUTOENCODER", "autoencode", "is_autoencoder", "is_net", "net_log_likelihood", "pca_squared_error", "predict",
           "principal_components", "principal_directions", "squared_error"]
