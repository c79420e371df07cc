"""The Hopfield capacity study: for each rule, size N and load α = P/N, store P random patterns,
start the network at each stored pattern, relax it asynchronously to a fixed point, and record
the mean final overlap. The critical load is the first α whose mean overlap falls below the
threshold (0.9): about 0.138 for the Hebbian rule as N → ∞ (Amit, Gutfreund & Sompolinsky 1985).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..backend import Rng, to_numpy
from ..kernels.recall import relax
from ..spec import Spec
from ..spec.schema import CapacitySpec
from ..objectives.storage import store
from .recall import overlaps


def _model_of_size(spec: Spec, layer: str, n: int):
    from ..model import Model
    layers = dict(spec.model.layers)
    layers[layer] = dataclasses.replace(layers[layer], size=n, shape=None)
    return Model.from_spec(spec.replace(model=dataclasses.replace(spec.model, layers=layers)))


def mean_final_overlap(model, layer: str, rule: str, n: int, p: int, max_sweeps: int, seed) -> float:
    kind = model.layers[layer].units.name
    gen = np.random.default_rng(seed)
    on = gen.random((p, n)) < 0.5
    patterns = np.where(on, 1.0, -1.0) if kind == "spin" else on.astype(float)
    params = dict(model.params)         # each trial stores into the untrained model's parameters
    store(model.program, params, layer, rule, patterns)
    start = {layer: model.xp.asarray(patterns, dtype=model.program.dtype)}
    state, _, _ = relax(model.program, params, start, layer, "async", max_sweeps, Rng(np, *seed))
    return float(overlaps(to_numpy(state[layer]).astype(float), patterns, kind).mean())


def critical_load(loads, overlap, threshold: float):
    """The first load whose overlap is below ``threshold``; None when none is."""
    return next((a for a, m in zip(loads, overlap) if m < threshold), None)


@dataclass(frozen=True)
class CurveTask:
    """One (rule, N) point of the study: everything a worker process needs (it pickles)."""

    spec: Spec
    layer: str
    rule: str
    n: int


def overlap_curve(task: CurveTask) -> list[float]:
    """The mean final overlap at each load of the study, for one rule and size."""
    study = task.spec.study.capacity
    model = _model_of_size(task.spec, task.layer, task.n)
    curve = []
    for i, alpha in enumerate(study.loads):
        p = max(1, int(round(alpha * task.n)))
        seeds = [(task.spec.seed, task.n, i, t) for t in range(study.trials)]
        trials = [mean_final_overlap(model, task.layer, task.rule, task.n, p, study.max_sweeps,
                                     seed) for seed in seeds]
        curve.append(float(np.mean(trials)))
    return curve


def _in_order(fn, tasks):
    return enumerate(map(fn, tasks))


def capacity_study(spec: Spec, study: CapacitySpec, report=None, map_tasks=_in_order) -> dict:
    """Every (rule, N) curve as one task of ``map_tasks(fn, tasks)``, which yields (index,
    outcome) as tasks finish: an executor's ``map`` (``runner/executors.py``: here or on Dask;
    a failed task's outcome has an ``error`` line). Each task's patterns are seeded by (seed, N,
    load, trial), so the result does not depend on where or in which order the tasks run."""
    layer = next(iter(spec.model.layers))
    out = {"loads": list(study.loads), "sizes": list(study.sizes), "threshold": study.threshold}
    for rule in study.rules:
        out[rule] = {"overlap": {}, "critical_load_by_size": {}}
    tasks = [CurveTask(spec, layer, rule, n) for n in study.sizes for rule in study.rules]
    for index, curve in map_tasks(overlap_curve, tasks):
        task = tasks[index]
        if hasattr(curve, "error"):
            fault = MemoryError if curve.kind == "MemoryError" else RuntimeError
            raise fault(f"capacity study, {task.rule} at N = {task.n}: {curve.error}")
        out[task.rule]["overlap"][str(task.n)] = curve
        critical = critical_load(study.loads, curve, study.threshold)
        out[task.rule]["critical_load_by_size"][str(task.n)] = critical
        if report is not None:
            report(task.rule, task.n, critical)
    largest = str(max(study.sizes))
    for rule in study.rules:
        for part in ("overlap", "critical_load_by_size"):     # tasks finish in any order
            out[rule][part] = {str(n): out[rule][part][str(n)] for n in study.sizes}
        out[rule]["critical_load"] = out[rule]["critical_load_by_size"][largest]
    return out
