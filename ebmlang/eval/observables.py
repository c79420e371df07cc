"""Thermodynamic observables over a temperature scan (Ising models and any other model).

At each temperature T, after ``burn_in`` sweeps, every one of ``sweeps`` sweeps records the
layer's magnetisation per unit m = mean_i x_i and the model's energy E, per chain. With N the
layer's size (k_B = 1):

    |m|                    ⟨|m|⟩
    energy per unit        ⟨E⟩ / N
    heat capacity per unit C = (⟨E²⟩ − ⟨E⟩²) / (N T²)
    susceptibility         χ = N (⟨m²⟩ − ⟨|m|⟩²) / T

``abs_magnetization_stderr`` is the standard error of ⟨|m|⟩ by batch means (20 batches per
chain), which accounts for the autocorrelation of successive sweeps (with fewer than 20 sweeps,
one batch per sweep: the naive error).
"""
from __future__ import annotations

import numpy as np

from ..backend import Rng, to_numpy
from ..compile import Program
from ..kernels import energy, gibbs_sweep, random_state
from ..spec.schedules import temperatures
from ..spec.schema import SampleSpec

OBSERVABLES = ("abs_magnetization", "abs_magnetization_stderr", "magnetization", "energy_per_unit",
               "heat_capacity", "susceptibility")


def initial_state(program: Program, params: dict, chains: int, start: str, rng: Rng) -> dict:
    state = random_state(program, params, chains, rng)
    if start == "cold":     # every unit on: +1 / 1, or the first category of each softmax group
        for name, info in program.layers.items():
            k = getattr(info.units, "k", None)
            on = program.xp.ones((chains, info.size), dtype=program.dtype)
            state[name] = on if k is None else program.xp.tile((program.xp.arange(k) == 0).astype(program.dtype),
                                                               (chains, info.size // k))
    return state


def _batch_stderr(series: np.ndarray, batches: int = 20) -> float:
    """series (sweeps, chains): standard error of its mean from batch means. With fewer sweeps
    than ``batches``, one batch per sweep: the naive error, blind to the autocorrelation of
    successive sweeps; NaN from a single value."""
    batches = min(batches, series.shape[0])
    usable = (series.shape[0] // batches) * batches
    if batches * series.shape[1] < 2:
        return float("nan")
    means = series[:usable].reshape(batches, -1, series.shape[1]).mean(axis=1).reshape(-1)
    return float(means.std(ddof=1) / np.sqrt(means.size))


def measure(series_m: np.ndarray, series_e: np.ndarray, n: int, t: float) -> dict:
    """Observables from (sweeps, chains) series of magnetisation per unit and energy."""
    abs_m = np.abs(series_m)
    return {
        "abs_magnetization": float(abs_m.mean()),
        "abs_magnetization_stderr": _batch_stderr(abs_m),
        "magnetization": float(series_m.mean()),
        "energy_per_unit": float(series_e.mean() / n),
        "heat_capacity": float(series_e.var() / (n * t * t)),
        "susceptibility": float(n * ((series_m ** 2).mean() - abs_m.mean() ** 2) / t),
    }


def temperature_scan(program: Program, params: dict, spec: SampleSpec, seed: int, report=None) -> dict:
    """{"temperature": [...], observable: [...]} over the schedule of ``spec.temperatures``."""
    layer = spec.layer or next(iter(program.layers))
    n = program.layers[layer].size
    rng = Rng(program.xp, seed, 0x5CA7)
    out = {"temperature": [], **{k: [] for k in OBSERVABLES}}
    state = initial_state(program, params, spec.chains, spec.start, rng)
    for i, t in enumerate(temperatures(spec.temperatures)):
        t = float(t)
        if i and not spec.carry:
            state = initial_state(program, params, spec.chains, spec.start, rng)
        state = gibbs_sweep(program, params, state, rng, sweeps=spec.burn_in, temperature=t)
        ms, es = [], []
        for _ in range(spec.sweeps):
            state = gibbs_sweep(program, params, state, rng, temperature=t)
            ms.append(state[layer].mean(axis=1))
            es.append(energy(program, params, state))
        xp = program.xp
        values = measure(to_numpy(xp.stack(ms)).astype(float), to_numpy(xp.stack(es)).astype(float), n, t)
        out["temperature"].append(t)
        for k, v in values.items():
            out[k].append(v)
        if report is not None:
            report(t, values)
    return out
