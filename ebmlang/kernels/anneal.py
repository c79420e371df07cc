"""Annealing: Gibbs sweeps while the temperature follows a given sequence (hot to cold)."""
from __future__ import annotations

import numpy as np

from ..compile import Program
from .gibbs import gibbs_sweep


def anneal(program: Program, params: dict, state: dict, rng, temps, sweeps_per_step: int = 1,
           clamp=frozenset()) -> dict:
    """Sweep ``sweeps_per_step`` times at each temperature of ``temps`` (a sequence of floats)."""
    for t in np.asarray(temps, dtype=float):
        state = gibbs_sweep(program, params, state, rng, clamp, sweeps_per_step, float(t))
    return state
