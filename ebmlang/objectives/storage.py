"""Hopfield storage rules: the lateral weights of one layer, computed from P patterns ξ (P, N).

Patterns are in spin form ξ ∈ {−1, +1}ᴺ (binary data x is mapped to 2x − 1). W is symmetric
with a zero diagonal, as every lateral coupling of the language.

    hebbian         W = (1/N) Σ_μ ξ^μ ξ^μᵀ                        (Hopfield 1982; α_c ≈ 0.138)
    storkey         W ← W + (1/N)(ξξᵀ − ξ hᵀ − h ξᵀ),   h_ij = Σ_{k≠i,j} W_ik ξ_k   (Storkey 1997)
    pseudo_inverse  W = Ξᵀ (Ξ Ξᵀ)⁻¹ Ξ                             (projection rule; Personnaz et al. 1985)

Hebbian storage is the positive phase alone (every unit clamped to the data, no negative
phase): W is the summed statistic Σ_μ ξ^μ ξ^μᵀ, scaled by 1/N. Binary layers store the same
spin-form weights W and run the same dynamics through x = (s + 1)/2: W' = 4W, b' = b − 2W·1.
"""
from __future__ import annotations

import numpy as np

from ..compile import Program

STORAGE_RULES = ("hebbian", "storkey", "pseudo_inverse")


def _zero_diagonal(w: np.ndarray) -> np.ndarray:
    np.fill_diagonal(w, 0.0)
    return w


def hebbian(xi: np.ndarray) -> np.ndarray:
    return _zero_diagonal(xi.T @ xi / xi.shape[1])


def storkey(xi: np.ndarray) -> np.ndarray:
    n = xi.shape[1]
    w = np.zeros((n, n))
    for pattern in xi:
        h = w @ pattern                              # h_i = Σ_{k≠i} W_ik ξ_k (zero diagonal)
        h_ij = h[:, None] - w * pattern[None, :]     # exclude k = j: h_ij = h_i − W_ij ξ_j
        w += (np.outer(pattern, pattern) - pattern[:, None] * h_ij.T - h_ij * pattern[None, :]) / n
        _zero_diagonal(w)
    return w


def pseudo_inverse(xi: np.ndarray) -> np.ndarray:
    """The projection onto the patterns' span, Ξᵀ(ΞΞᵀ)⁻¹Ξ = QQᵀ with Q an orthonormal basis of
    that span (from the SVD of Ξ). Forming (ΞΞᵀ)⁻¹ would square Ξ's condition number into the
    weights' error; QQᵀ is accurate to rounding whatever the conditioning."""
    _, singular, vt = np.linalg.svd(xi, full_matrices=False)
    rank = int((singular > singular.max() * max(xi.shape) * np.finfo(float).eps).sum())
    q = vt[:rank].T
    return _zero_diagonal(q @ q.T)


def to_spins(x: np.ndarray, kind: str) -> np.ndarray:
    return 2.0 * x - 1.0 if kind == "binary" else np.asarray(x, dtype=float)


def store(program: Program, params: dict, layer: str, rule: str, patterns: np.ndarray) -> None:
    """Set the lateral weights of ``layer`` by ``rule`` (in place); a binary layer's biases get the
    shift −2W·1 that makes its dynamics those of the spin network, added to the biases in
    ``params`` (so store into the untrained parameters, once)."""
    lateral = [c for c, _ in program.incident[layer] if c.lateral]
    c = lateral[0]
    kind = program.layers[layer].units.name
    xi = to_spins(np.asarray(patterns, dtype=float), kind)
    w = {"hebbian": hebbian, "storkey": storkey, "pseudo_inverse": pseudo_inverse}[rule](xi)
    if c.mask_np is not None:           # a diluted network keeps only its graph's couplings
        w = w * c.mask_np
    if kind == "binary":                # the same dynamics in 0/1 form: s = 2x − 1
        params[f"bias.{layer}"] = params[f"bias.{layer}"] - program.xp.asarray(2 * w.sum(axis=1), dtype=program.dtype)
        w = 4 * w
    params[c.key] = program.xp.asarray(w, dtype=program.dtype)


class StorageObjective:
    """Hopfield storage as an objective: one shot, no gradient. The trainer hands it the whole
    training set once (``one_shot``); it writes the lateral weights and the stage is done."""

    one_shot = True
    keys = ()

    def __init__(self, program: Program, rule: str, layer: str):
        self.program, self.rule, self.layer = program, rule, layer

    def init_state(self, params: dict):
        from .state import ObjectiveState
        return ObjectiveState()

    def why_not_captured(self) -> str:
        return "storage has no steps"

    def store(self, params: dict, data: dict) -> None:
        patterns = data[self.layer]
        patterns = patterns.get() if hasattr(patterns, "get") else patterns
        store(self.program, params, self.layer, self.rule, np.asarray(patterns, dtype=float))
