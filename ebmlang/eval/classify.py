"""Generative classification: the label whose joint with the data is most probable.

With a label layer y (softmax, one group) in the model, predict argmax_k p(v, y = k):

* an energy model whose other latent layers sum out given (v, y) (an RBM with labels, Larochelle
  & Bengio 2008): argmin_k F(v, y = k);
* a DBN: the up-pass to the top's interface, then argmin_k of the top's free energy
  (Hinton, Osindero & Teh 2006; ``belief.classify``).

Cost: one free energy per class per example.
"""
from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from ..compile import Program
from ..kernels import free_energy
from . import belief


def classify(program: Program, params: dict, data: dict, label_layer: str, chunk: int = 2000) -> np.ndarray:
    """Predicted class indices (rows,) on the host for ``data`` ({layer: (rows, size)})."""
    if program.generated:
        return belief.classify(program, params, data, label_layer, chunk)
    rest = tuple(n for n in program.layers if n not in data and n != label_layer)
    if not program.summable(rest):
        raise ValueError("classification needs the layers other than data and labels to sum out given them")
    classes, xp = program.layers[label_layer].size, program.xp
    rows = next(iter(data.values())).shape[0]
    out = []
    for start in range(0, rows, chunk):
        given = {k: v[start:start + chunk] for k, v in data.items()}
        n = next(iter(given.values())).shape[0]
        scores = [to_numpy(free_energy(program, params, {**given, label_layer: _one_hot(xp, program, k, classes, n)},
                                       rest)) for k in range(classes)]
        out.append(np.argmin(np.stack(scores, axis=1), axis=1))
    return np.concatenate(out)


def _one_hot(xp, program: Program, k: int, classes: int, rows: int):
    return xp.asarray(np.tile(np.eye(classes)[k], (rows, 1)), dtype=program.dtype)


def test_error(program: Program, params: dict, data: dict, labels: np.ndarray, label_layer: str) -> float:
    return float((classify(program, params, data, label_layer) != labels).mean())
