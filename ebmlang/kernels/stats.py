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

from ..backend.matmul import matmul
from ..compile import Program
from .energy import coupling_stats, layer_input, layer_params


def param_stats(program: Program, params: dict, state: dict, keys, total: bool = False) -> dict:
    """{key: batch mean of −∂E/∂θ} for the parameter ``keys`` asked for.

    ``total=True`` returns batch sums instead: the trainer folds 1/batch into its learning rate,
    which saves a pass over every weight matrix per update."""
    keys = set(keys)
    batch = next(iter(state.values())).shape[0]
    reduce = (lambda a: a.sum(axis=0)) if total else (lambda a: a.mean(axis=0))
    stats = coupling_stats(program, params, state)
    out = {}
    for name, info in program.layers.items():
        p = layer_params(program, params, name)
        if info.bias_key in keys:
            out[info.bias_key] = reduce(info.units.bias_stat(state[name], p))
        if f"sigma.{name}" in keys:
            u = layer_input(program, params, stats, name, batch)
            out[f"sigma.{name}"] = reduce(info.units.log_sigma_stat(state[name], u, p))
    for c in program.couplings:
        if c.key in keys:
            pair = matmul(stats[c.a].T, stats[c.b])
            out[c.key] = pair if total else pair / batch
    return out
