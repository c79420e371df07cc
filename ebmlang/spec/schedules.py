"""What a temperature schedule of the spec denotes: its sequence of temperatures.

    list         the values as given
    linear       T_k = start + (stop − start) · k/(steps − 1)
    geometric    T_k = start · (stop/start)^(k/(steps − 1))
    exponential  T_k = start · rate^k

Kernels take the resulting plain array, never the spec value. Each schedule but `list` is
monotone, so its first and last steps bound it (``first_outside`` checks a schedule without
making it).
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
    if schedule.kind == "geometric":     # in logs: stop/start may overflow where T_k do not
        log_start, log_stop = np.log(o["start"]), np.log(o["stop"])
        return np.exp(log_start + (log_stop - log_start) * k / (o["steps"] - 1))
    if schedule.kind == "exponential":
        return o["start"] * o["rate"] ** k
    raise ValueError(f"unknown temperature schedule {schedule.kind}")


def first_outside(schedule: Choice, low: float, high: float) -> tuple[int, float] | None:
    """(step k, T_k) of the first temperature outside [low, high], or None, without making the
    schedule (which may be long): each but `list` is T_k = f(a + b·k), f the identity (linear)
    or exp (geometric, exponential), so a + b·k is monotone and its crossing has a closed form."""
    o = schedule.options
    if schedule.kind == "list":
        values = np.asarray(o["values"], dtype=float)
        bad = np.flatnonzero((values < low) | (values > high))
        return (int(bad[0]), float(values[bad[0]])) if bad.size else None
    steps = o["steps"]
    if schedule.kind == "linear":
        f, g = (lambda x: x), (lambda x: x)
        a, b = o["start"], (o["stop"] - o["start"]) / (steps - 1)
    else:
        f, g = np.exp, np.log
        a = np.log(o["start"])
        b = (np.log(o["rate"]) if schedule.kind == "exponential"
             else (np.log(o["stop"]) - a) / (steps - 1))
    if not g(low) <= a <= g(high):
        return 0, float(f(a))
    if b == 0:
        return None
    with np.errstate(over="ignore", under="ignore"):       # past float64's own range: 0 or inf
        crossing = ((g(low) if b < 0 else g(high)) - a) / b  # inf: far beyond any schedule
        if not crossing < steps:
            return None
        k = int(np.floor(crossing)) + 1                       # the first k past it
        return (k, float(f(a + b * k))) if k < steps else None
