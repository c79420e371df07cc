"""Generative classification: the label whose joint with the data is most probable.

With a label layer y (softmax, one group) in the model, predict argmax_k p(v, y = k):

* an energy model whose other latent layers sum out given (v, y) (an RBM with labels, Larochelle
  & Bengio 2008): argmin_k F(v, y = k);
* a DBN: one deterministic up-pass to the top's interface h_I, then argmin_k F_top(h_I, y = k),
  every other top layer summed out (Hinton, Osindero & Teh 2006);
* otherwise (a DBM with labels in it): argmax_k of the mean-field posterior q(y = k | v);
* a feed-forward classifier (labels computed by recognition couplings): argmax_k q(y = k | v),
  one recognition pass.

Cost: one free energy per class per example, or one mean-field inference.
"""
from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from ..compile import Program
from ..kernels import free_energy
from ..kernels.directed import directed_pass
from ..kernels.meanfield import mean_field
from .belief import interface, top_program
from .feedforward import predict


def classify(program: Program, params: dict, data: dict, label_layer: str, chunk: int = 2000) -> np.ndarray:
    """Predicted class indices (rows,) on the host for ``data`` ({layer: (rows, size)})."""
    rows = next(iter(data.values())).shape[0]
    parts = []
    for start in range(0, rows, chunk):
        part = {k: v[start:start + chunk] for k, v in data.items()}
        parts.append(_classify_chunk(program, params, part, label_layer))
    return np.concatenate(parts)


def _classify_chunk(program: Program, params: dict, data: dict, label_layer: str) -> np.ndarray:
    if label_layer in program.order.get("recognition", ()):
        return predict(program, params, data, label_layer)
    if program.generated:           # a DBN: score the labels in its top, given the up-pass
        up = directed_pass(program, params, data, "recognition", mean=True)
        program, data = top_program(program), {n: up[n] for n in interface(program)}
    rest = tuple(n for n in program.layers if n not in data and n != label_layer)
    if not program.summable(rest):
        means, _ = mean_field(program, params, data, rest + (label_layer,))
        return to_numpy(means[label_layer]).argmax(axis=1)
    classes = program.layers[label_layer].size
    rows = next(iter(data.values())).shape[0]
    scores = []
    for k in range(classes):
        labelled = {**data, label_layer: one_hot(program, k, classes, rows)}
        scores.append(to_numpy(free_energy(program, params, labelled, rest)))
    return np.argmin(np.stack(scores, axis=1), axis=1)


def one_hot(program: Program, k: int, classes: int, rows: int):
    """``rows`` copies of the one-hot vector of class k, on the program's backend."""
    return program.xp.asarray(np.tile(np.eye(classes)[k], (rows, 1)), dtype=program.dtype)


def classification_error(program: Program, params: dict, data: dict, labels: np.ndarray, label_layer: str) -> float:
    return float((classify(program, params, data, label_layer) != labels).mean())
