"""Batch normalisation of a layer's input field (Ioffe & Szegedy 2015), for the feed-forward nets
of ``backprop``: a layer declared with `normalize: batch` takes, in place of its input u,

    û = γ ⊙ (u − m) / √(v + ε)         u, û: (B, n);  γ = `gain.<layer>` (n,)

and adds its own bias after it (the bias is BN's β), so its conditional is that of the field
b + û. In training (``batch=True``) m and v are the batch's mean and (biased) variance over
the rows, so every row's û depends on the whole batch; the running averages
`runmean.<layer>` and `runvar.<layer>` (n,) follow them,

    r ← (1 − ρ) r + ρ m,     s ← (1 − ρ) s + ρ v · B / (B − 1)       ρ = `momentum`

and stand in for them everywhere else (evaluation, sampling, any other kernel), so a trained
net maps each row on its own. Backward, with g = ∂J/∂û and x̂ = (u − m)/√(v + ε):

    ∂J/∂γ = Σ_rows g ⊙ x̂
    ∂J/∂u = γ/√(v + ε) ⊙ (g − mean_rows(g) − x̂ ⊙ mean_rows(g ⊙ x̂))     with batch statistics
    ∂J/∂u = γ/√(v + ε) ⊙ g                                              with running ones

(the two extra terms are the paths through m and v). Checked against finite differences in
tests/test_backprop.py.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..compile.keys import gain_key, runmean_key, runvar_key


@dataclass(frozen=True)
class Normalized:
    """What the backward pass and the running averages need of one normalised node."""

    layer: str
    centred: object         # x̂ (B, n)
    inv_std: object         # 1/√(v + ε) (n,)
    batch: bool             # m, v from the batch (training) or the running averages
    mean: object            # m (n,)
    var: object             # v (n,)


def normalize(xp, params: dict, layer: str, options: dict, u, batch: bool) -> tuple:
    """(û, Normalized) for input ``u`` (B, n) of ``layer``; ``options``: momentum, epsilon. A
    batch of one row (a ragged last minibatch) has no spread to normalise by: it takes the
    running statistics even in training."""
    batch = batch and u.shape[0] > 1
    if batch:
        mean, var = u.mean(axis=0), u.var(axis=0)
    else:
        mean, var = params[runmean_key(layer)], params[runvar_key(layer)]
    inv_std = 1.0 / xp.sqrt(var + u.dtype.type(options["epsilon"]))
    centred = (u - mean) * inv_std
    return centred * params[gain_key(layer)], Normalized(layer, centred, inv_std, batch, mean, var)


def normalize_running(xp, params: dict, layer: str, options: dict, u):
    """û with the running averages: what every kernel outside training uses."""
    return normalize(xp, params, layer, options, u, batch=False)[0]


def normalize_backward(params: dict, norm: Normalized, g) -> tuple:
    """(∂J/∂u (B, n), ∂J/∂γ (n,)) from g = ∂J/∂û (B, n)."""
    gain_grad = (g * norm.centred).sum(axis=0)
    through = g * params[gain_key(norm.layer)]
    if norm.batch:
        through = (through - through.mean(axis=0)
                   - norm.centred * (through * norm.centred).mean(axis=0))
    return through * norm.inv_std, gain_grad


def update_running(params: dict, norm: Normalized, momentum: float, rows: int) -> None:
    """Move the running averages towards this batch's statistics, in place (see the module
    docstring; the variance is the unbiased one). Not a gradient step: no optimizer sees them."""
    if not norm.batch or rows < 2:
        return
    mean, var = params[runmean_key(norm.layer)], params[runvar_key(norm.layer)]
    rho = mean.dtype.type(momentum)
    mean *= 1 - rho
    mean += rho * norm.mean
    var *= 1 - rho
    var += (rho * rows / (rows - 1)) * norm.var


__all__ = ["Normalized", "normalize", "normalize_backward", "normalize_running", "update_running"]
