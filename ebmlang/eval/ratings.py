"""Rating prediction by an RBM for collaborative filtering, and the baselines it is judged against.

The expected rating of a held-out (row, group g) — a user and an item she did not rate in the
training set — comes from the exact conditional of group g given the row's observed ratings V
(and its implicit feedback r), the hidden layers summed out (Salakhutdinov, Mnih & Hinton 2007,
eq. 4, for binary hidden units):

    p(v_g = k | V, r) ∝ exp((b_gk + (r C)_gk) / T + Σ_hidden A_h(u_h + W_{gk,h}))
    u_h = (V W + r D)_h
    r̂ = Σ_k k · p(v_g = k | V, r)

C couples r straight to the ratings (absent in the paper's model, where r feeds h alone).
A_h is the hidden layer's log-partition
(binary units: Σ_j log(1 + e^{(c_j + ·)/T})), so this holds
for any hidden unit type with a closed-form free energy. Group g is absent from V, so u_h is
computed once per row and each pair adds its K weight rows: (pairs × K × hidden) work.

Baselines (Koren 2008, §2.1): the global mean μ, and μ + b_row + b_group with the biases fitted by
alternating regularised least squares.
"""
from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from ..compile import Program
from ..kernels import layer_params
from ..kernels.energy import apply_coupling, coupling_stats, layer_input

ROWS_PER_CHUNK = 512        # rows densified at once: bounds the (rows × width) temporaries


def rating_probabilities(program: Program, params: dict, layer: str, given: dict, pair_rows,
                         pair_groups, levels: int):
    """(pairs, K) p(v_g = k | given row) for each pair (row index into ``given``, group g).

    ``given``: {layer: (R, size)} the rows of the data layer (and any other clamped layer)."""
    xp, t = program.xp, program.temperature
    latent = tuple(n for n in program.layers if n not in given)
    if not program.summable(latent):
        raise ValueError(f"layers {latent} are coupled to each other; the rating conditional "
                         f"needs them summable")
    stats = coupling_stats(program, params, given)
    columns = xp.asarray(pair_groups[:, None] * levels + np.arange(levels))          # (P, K)
    rows = xp.asarray(pair_rows)
    logits = params[program.layers[layer].bias_key][columns] / t
    direct = _clamped_input(program, params, stats, layer)
    if direct is not None:
        logits = logits + direct[rows[:, None], columns] / t
    for name in latent:
        u = layer_input(program, params, stats, name)[rows][:, None, :]                # (P, 1, H)
        for c, is_a in program.incident[name]:
            if layer not in (c.a, c.b) or c.lateral:
                continue
            w = params[c.key]
            u = u + (w.T[columns] if is_a else w[columns])                             # (P, K, H)
        pairs = u.shape[0]
        units = program.layers[name].units
        a = units.log_partition(u.reshape(pairs * levels, -1), layer_params(program, params, name),
                                t)
        logits = logits + a.reshape(pairs, levels)
    logits = logits - logits.max(axis=1, keepdims=True)
    p = xp.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def _clamped_input(program: Program, params: dict, stats: dict, layer: str):
    """(R, size) the input to ``layer`` from the other clamped layers coupled to it (implicit
    feedback), or None where none is. A layer with missing groups has no lateral coupling."""
    total = None
    for c, is_a in program.incident[layer]:
        other = c.b if is_a else c.a
        if other in stats and not c.lateral:
            term = apply_coupling(c, params[c.key], stats[other], into_b=not is_a)
            total = term if total is None else total + term
    return total


def predict_ratings(program: Program, params: dict, layer: str, rows: dict, triples: np.ndarray,
                    levels: int) -> np.ndarray:
    """(n,) expected ratings of the (row, group, ·) ``triples``; ``rows`` maps each clamped layer
    to its SparseRows (the training ratings, the implicit feedback)."""
    out = np.empty(len(triples))
    order = np.argsort(triples[:, 0], kind="stable")
    sorted_rows = triples[order, 0]
    ratings = np.arange(1, levels + 1, dtype=float)
    bounds = np.searchsorted(sorted_rows,
                             np.arange(0, sorted_rows.max() + ROWS_PER_CHUNK + 1, ROWS_PER_CHUNK))
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if lo == hi:
            continue
        chunk = order[lo:hi]
        distinct, local = np.unique(triples[chunk, 0], return_inverse=True)
        given = {name: x[distinct].dense(program.xp, program.dtype) for name, x in rows.items()}
        p = rating_probabilities(program, params, layer, given, local, triples[chunk, 1], levels)
        out[chunk] = to_numpy(p) @ ratings
    return out


def errors(predicted: np.ndarray, actual: np.ndarray) -> dict:
    """RMSE and MAE of ``predicted`` ratings."""
    diff = predicted - actual
    return {"rmse": float(np.sqrt(np.mean(diff ** 2))), "mae": float(np.mean(np.abs(diff)))}


def bias_baseline(train: np.ndarray, rows: int, groups: int, row_reg: float = 10.0,
                  group_reg: float = 25.0, sweeps: int = 10):
    """(μ, b_row (rows,), b_group (groups,)) minimising Σ (r − μ − b_row − b_group)²
    + λ_row Σ b_row² + λ_group Σ b_group² over the training triples, by alternating exact
    minimisation."""
    r, g, y = train[:, 0].astype(np.int64), train[:, 1].astype(np.int64), train[:, 2].astype(float)
    mu = y.mean()
    b_row, b_group = np.zeros(rows), np.zeros(groups)
    for _ in range(sweeps):
        b_group = (np.bincount(g, y - mu - b_row[r], groups)
                   / (group_reg + np.bincount(g, minlength=groups)))
        b_row = (np.bincount(r, y - mu - b_group[g], rows)
                 / (row_reg + np.bincount(r, minlength=rows)))
    return mu, b_row, b_group


def baseline_errors(train: np.ndarray, test: np.ndarray, users: int, items: int) -> dict:
    """Test RMSE of the global mean and of the bias baseline, from (user, item, rating) triples."""
    actual = test[:, 2].astype(float)
    mu, b_row, b_group = bias_baseline(train, users, items)
    biased = np.clip(mu + b_row[test[:, 0]] + b_group[test[:, 1]], 1, train[:, 2].max())
    return {"global_mean": errors(np.full(len(test), train[:, 2].mean()), actual)["rmse"],
            "biases": errors(biased, actual)["rmse"]}
