"""What a temperature schedule of the spec denotes: its sequence of temperatures.

    list         the values as given
    linear       T_k = start + (stop − start) · k/(steps − 1)
    geometric    T_k = start · (stop/start)^(k/(steps − 1))
    exponential  T_k = start · rate^k

Kernels take the resulting plain array, never the spec value.
"""
from __future__ import annotations

import numpy as np

from .constraints import Choice


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
