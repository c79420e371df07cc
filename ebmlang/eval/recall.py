"""Associative recall: corrupt each stored pattern, relax the network, compare with the pattern.

    overlap m = (1/N) Σ_i s_i ξ_i        in spin form (binary x maps to 2x − 1); m = 1 is perfect
    recalled exactly: m = 1
    spurious: a fixed point that is neither a stored pattern nor a stored pattern's negative
"""
from __future__ import annotations

import numpy as np

from ..backend import Rng, to_numpy
from ..compile import Program
from ..kernels.recall import relax
from ..objectives.storage import to_spins


def corrupt(patterns: np.ndarray, flip: float, kind: str, gen: np.random.Generator) -> np.ndarray:
    """Each row with round(flip · N) of its units, chosen at random, switched to the other value."""
    cues = patterns.copy()
    n = patterns.shape[1]
    k = int(round(flip * n))
    for row in cues:
        idx = gen.choice(n, size=k, replace=False)
        row[idx] = -row[idx] if kind == "spin" else 1 - row[idx]
    return cues


def overlaps(final: np.ndarray, patterns: np.ndarray, kind: str) -> np.ndarray:
    return (to_spins(final, kind) * to_spins(patterns, kind)).mean(axis=1)


def recall(program: Program, params: dict, layer: str, patterns: np.ndarray, flip: float, mode: str,
           max_sweeps: int, seed: int) -> dict:
    kind = program.layers[layer].units.name
    gen = np.random.default_rng([seed, 0xC0E])
    cues = corrupt(patterns, flip, kind, gen)
    xp = program.xp
    state, sweeps, converged = relax(program, params, {layer: xp.asarray(cues, dtype=program.dtype)}, layer, mode,
                                     max_sweeps, Rng(np, seed, 0xC0F))
    final = to_numpy(state[layer]).astype(float)
    m = overlaps(final, patterns, kind)
    stored = to_spins(patterns, kind)
    s = to_spins(final, kind)
    matches = np.abs(s @ stored.T) == patterns.shape[1]         # equal to ±(some stored pattern)
    spurious = converged & ~matches.any(axis=1)
    return {"overlap": float(m.mean()), "recalled_exactly": float((m == 1).mean()),
            "sweeps": float(sweeps[converged].mean()) if converged.any() else float("nan"),
            "converged": float(converged.mean()), "spurious": float(spurious.mean())}
