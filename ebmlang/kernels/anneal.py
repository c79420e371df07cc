"""Temperature schedules and annealing: Gibbs sweeps while T follows a schedule.

    list         the values as given
    linear       T_k = start + (stop − start) · k/(steps − 1)
    geometric    T_k = start · (stop/start)^(k/(steps − 1))
    exponential  T_k = start · rate^k
"""
from __future__ import annotations

import numpy as np

from ..compile import Program
from ..spec.constraints import Choice
from .gibbs import gibbs_sweep


def temperatures(schedule: Choice) -> np.ndarray:
    o = schedule.options
    if schedule.kind == "list":
        return np.asarray(o["values"], dtype=float)
    k = np.arange(o["steps"])
    if schedule.kind == "linear":
        return o["start"] + (o["stop"] - o["start"]) * k / (o["steps"] - 1)
    if schedule.kind == "geometric":
        return o["start"] * (o["stop"] / o["start"]) ** (k / (o["steps"] - 1))
    if schedule.kind == "exponential":
        return o["start"] * o["rate"] ** k
    raise ValueError(f"unknown temperature schedule {schedule.kind}")


def anneal(program: Program, params: dict, state: dict, rng, schedule, sweeps_per_step: int = 1,
           clamp=frozenset()) -> dict:
    """Sweep ``sweeps_per_step`` times at each temperature of ``schedule`` (values or a Choice)."""
    temps = temperatures(schedule) if isinstance(schedule, Choice) else np.asarray(schedule, dtype=float)
    for t in temps:
        state = gibbs_sweep(program, params, state, rng, clamp, sweeps_per_step, float(t))
    return state
