"""Centring (Melchior, Fischer & Wiskott 2016): the gradient of a centred Boltzmann machine,
applied to the model's ordinary (uncentred) parameters.

A centred machine subtracts an offset μ_l from each layer's coupling statistic s_l:

    E_c(x) = Σ_l E_self,l(x_l; b_c,l) − Σ_(a,b) (s_a − μ_a)ᵀ W_ab (s_b − μ_b)

which is the same model as the ordinary one with b_a = b_c,a − σ_a ∘ (W_ab μ_b) summed over the
couplings of a (σ = 1 except for gaussian units). Gradient ascent in the centred coordinates,
written back in the ordinary ones, is (Melchior et al., §3, "centring as an update rule"):

    ΔW_ab = ⟨(s_a − μ_a)(s_b − μ_b)ᵀ⟩₊ − ⟨…⟩₋ = g_W − Δs_a μ_bᵀ − μ_a Δs_bᵀ
    Δb_a  = g_b,a − σ_a ∘ (ΔW_ab μ_b)        (and Δb_b − σ_b ∘ (ΔW_abᵀ μ_a); once for lateral W)

with Δs_l = ⟨s_l⟩₊ − ⟨s_l⟩₋ = σ_l ∘ g_b,l. The model stays stored uncentred, so energies,
samplers and estimators never see the offsets; only the update direction changes. The offsets
follow the positive phase's means by a sliding average μ ← (1 − ν) μ + ν ⟨s⟩₊ (the paper's
stable "dd^s" variant), starting at the first batch's means. Stencil couplings (one fixed J on a
lattice) and log σ gradients are left uncentred.
"""
from __future__ import annotations

from ..backend.matmul import batch_sum, matmul
from ..compile import Program
from ..kernels.energy import coupling_stats


def update_offsets(program: Program, params: dict, offsets: dict, pos_state: dict, rate: float) -> None:
    """μ_l ← (1 − ν) μ_l + ν · batch mean of s_l in the positive phase, in place (first call: set)."""
    stats = coupling_stats(program, params, pos_state)
    for name, s in stats.items():
        mean = batch_sum(s, alpha=1 / max(s.shape[0], 1))
        if name not in offsets:
            offsets[name] = mean
        else:
            offsets[name] *= 1 - rate
            offsets[name] += rate * mean


def centre_gradient(program: Program, params: dict, grads: dict, offsets: dict) -> None:
    """Turn the ordinary gradient ``grads`` (batch sums) into the centred one, in place."""
    couplings = [c for c in program.couplings if c.key in grads and c.stencil is None]
    delta_s = {name: _stat_difference(program, params, grads, name) for name in program.layers}
    for c in couplings:
        g = grads[c.key]
        g -= delta_s[c.a][:, None] * offsets[c.b][None, :]
        g -= offsets[c.a][:, None] * delta_s[c.b][None, :]
        if c.mask is not None:
            g *= c.mask
    for c in couplings:          # after every ΔW is centred: the bias terms use the centred ones
        g = grads[c.key]
        _shift_bias(program, params, grads, c.a, matmul(g, offsets[c.b]))
        if not c.lateral:
            _shift_bias(program, params, grads, c.b, matmul(offsets[c.a], g))


def _stat_difference(program: Program, params: dict, grads: dict, name: str):
    """Δs_l = σ_l ∘ g_b,l: the coupling statistic's phase difference, from the bias gradient."""
    g = grads[program.layers[name].bias_key]
    sigma = params.get(f"sigma.{name}")
    return g if sigma is None else sigma * g


def _shift_bias(program: Program, params: dict, grads: dict, name: str, shift) -> None:
    sigma = params.get(f"sigma.{name}")
    grads[program.layers[name].bias_key] -= shift if sigma is None else sigma * shift
