"""Sufficient statistics: the batch mean of −∂E/∂θ for every parameter θ.

Every learning rule of the Boltzmann family is  Δθ ∝ (⟨−∂E/∂θ⟩₊ − ⟨−∂E/∂θ⟩₋) / T,
so the trainer only needs this one function, applied to the positive- and negative-phase
states. The statistics are linear in each latent layer's state, so a layer may be given as its
conditional mean (Rao–Blackwellised) instead of a sample.

    bias.l      −∂E/∂b_l    = x_l  (gaussian: (x − μ)/σ²)                          (size_l,)
    sigma.l     −∂E/∂log σ  = (x − μ)²/σ² − x·u/σ     (gaussian layers that learn σ) (size_l,)
    weight.a.b  −∂E/∂W_ab   = s_aᵀ s_b / batch  (lateral: s_lᵀ s_l, the pair statistic) (size_a, size_b)
"""
from __future__ import annotations

from ..backend.matmul import accumulate, batch_sum, matmul
from ..compile import Program
from .energy import coupling_stats, layer_input, layer_params


def param_stats(program: Program, params: dict, state: dict, keys, total: bool = False,
                into: dict | None = None, weight: float = 1.0, means: dict | None = None) -> dict:
    """{key: batch mean of −∂E/∂θ} for the parameter ``keys`` asked for.

    ``means`` ({layer: None or a (size,) bool mask}, ``objectives.phases.PhaseStats``) names
    the units ``state`` gives as conditional means x̄ at the model's temperature T, not draws:
    their σ statistic, quadratic in x, adds E[(x − x̄)²]/σ² = T/g (g the layer's gain).

    ``total=True`` returns batch sums instead: the trainer folds 1/batch into its learning rate,
    which saves a pass over every weight matrix per update. ``into`` (the arrays of an earlier
    call, for the same keys) takes ``weight`` times the statistics added in place instead: the
    phase difference ⟨·⟩₊ − ⟨·⟩₋ without a third array, one GEMM per coupling with β = 1 on a
    GPU (``backend/matmul.py``)."""
    keys = set(keys)
    batch = next(iter(state.values())).shape[0]
    alpha = weight if total else weight / batch
    out = {} if into is None else into

    def add(key, rows):             # rows: (batch, n) per-example statistics
        out[key] = batch_sum(rows, out=out.get(key), alpha=alpha)

    stats = coupling_stats(program, params, state)
    for name, info in program.layers.items():
        p = layer_params(program, params, name)
        if info.bias_key in keys:
            add(info.bias_key, info.units.bias_stat(state[name], p))
        if f"sigma.{name}" in keys:
            u = layer_input(program, params, stats, name, batch)
            spread = _spread(program, name, means or {})
            add(f"sigma.{name}", info.units.log_sigma_stat(state[name], u, p, spread))
    for c in program.couplings:
        if c.key in keys and into is not None:
            accumulate(into[c.key], stats[c.a].T, stats[c.b], alpha)
        elif c.key in keys:
            pair = matmul(stats[c.a].T, stats[c.b])
            out[c.key] = pair if alpha == 1 else pair * alpha
    return out


def _spread(program: Program, name: str, means: dict):
    """Var[x]/σ² = T/g of the layer's units given as conditional means, 0 elsewhere: a float, or
    (size,) where only some units are (one piece of a layer split into colours)."""
    if name not in means:
        return 0.0
    t = program.temperature / program.layers[name].gain
    mask = means[name]
    return t if mask is None else program.xp.asarray(mask, dtype=program.dtype) * t
