"""Brute force, written independently of the package: the oracle the kernels are checked against.

Nothing here calls ebmlang's kernels. Energies follow the spec language's definition directly
(lateral couplings count each pair once, via the strict upper triangle); states are enumerated
unit by unit.
"""
from __future__ import annotations

import itertools

import numpy as np


def layer_values(layer: dict) -> list[np.ndarray]:
    """Every state of one discrete layer, as vectors."""
    n, kind = layer["size"], layer["units"]
    if kind == "binary":
        return [np.array(v, float) for v in itertools.product((0, 1), repeat=n)]
    if kind == "spin":
        return [np.array(v, float) for v in itertools.product((-1, 1), repeat=n)]
    k = layer.get("categories") or n
    eye = np.eye(k)
    return [np.concatenate([eye[i] for i in g]) for g in itertools.product(range(k), repeat=n // k)]


def enumerate_states(layers: dict, names) -> dict:
    """All joint states of the layers ``names``: layer -> (count, size)."""
    tables = [layer_values(layers[n]) for n in names]
    combos = list(itertools.product(*tables))
    return {n: np.array([c[i] for c in combos]) for i, n in enumerate(names)}


def _stat(layers, params, name, x):
    return x / params[f"sigma.{name}"] if layers[name]["units"] == "gaussian" else x


def energy(spec: dict, params: dict, state: dict) -> np.ndarray:
    """E(x) per row, straight from the definition."""
    layers = spec["model"]["layers"]
    total = 0.0
    for name, layer in layers.items():
        x, b = state[name], params[f"bias.{name}"]
        if layer["units"] == "gaussian":
            total = total + (((x - b) / params[f"sigma.{name}"]) ** 2).sum(axis=1) / 2
        else:
            total = total - x @ b
    for c in spec["model"].get("couplings", []):
        a, b = c["between"]
        w = params[f"weight.{a}.{b}"]
        sa, sb = _stat(layers, params, a, state[a]), _stat(layers, params, b, state[b])
        if a == b:
            w = np.triu(w, 1)       # each pair once
        total = total - np.einsum("ki,ij,kj->k", sa, w, sb)
    return total


def log_sum_exp(a: np.ndarray) -> float:
    top = a.max()
    return float(top + np.log(np.exp(a - top).sum()))


def log_partition(spec: dict, params: dict) -> float:
    """log Z of an all-discrete model by summing every state."""
    layers, t = spec["model"]["layers"], spec["model"].get("temperature", 1.0)
    states = enumerate_states(layers, list(layers))
    return log_sum_exp(-energy(spec, params, states) / t)


def free_energy(spec: dict, params: dict, given: dict, sum_out) -> np.ndarray:
    """−T log Σ_{x_S} exp(−E/T) for each row of ``given``, over discrete layers ``sum_out``."""
    layers, t = spec["model"]["layers"], spec["model"].get("temperature", 1.0)
    hidden = enumerate_states(layers, list(sum_out))
    count = len(next(iter(hidden.values())))
    rows = len(next(iter(given.values())))
    out = np.empty(rows)
    for r in range(rows):
        state = {k: np.repeat(v[r:r + 1], count, axis=0) for k, v in given.items()}
        state.update(hidden)
        out[r] = -t * log_sum_exp(-energy(spec, params, state) / t)
    return out


def gibbs_kernel(spec: dict, params: dict, states: dict, units: dict) -> np.ndarray:
    """The transition matrix of one exact block update over the enumerated ``states``.

    ``units``: layer -> indices of the units the block redraws (None: the whole layer). Row i is
    p(x' | x_i): zero unless x' agrees with x_i off the block, else ∝ exp(−E(x')/T)."""
    t = spec["model"].get("temperature", 1.0)
    fixed = []
    for name, x in states.items():
        keep = np.ones(x.shape[1], bool)
        if name in units:
            keep[slice(None) if units[name] is None else units[name]] = False
        fixed.append(x[:, keep])
    fixed = np.concatenate(fixed, axis=1)
    agree = (fixed[:, None, :] == fixed[None, :, :]).all(axis=2)
    logits = -energy(spec, params, states) / t
    k = agree * np.exp(logits - logits.max())[None, :]
    return k / k.sum(axis=1, keepdims=True)
