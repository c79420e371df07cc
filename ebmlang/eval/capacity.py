"""The Hopfield capacity study: for each rule, size N and load α = P/N, store P random patterns,
start the network at each stored pattern, relax it asynchronously to a fixed point, and record
the mean final overlap. The critical load is the first α whose mean overlap falls below the
threshold (0.9): about 0.138 for the Hebbian rule as N → ∞ (Amit, Gutfreund & Sompolinsky 1985).
"""
from __future__ import annotations

import dataclasses

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
    resized = dataclasses.replace(spec, model=dataclasses.replace(spec.model, layers=layers))
    object.__setattr__(resized, "where", spec.where)
    object.__setattr__(resized, "file", spec.file)
    return Model.from_spec(resized)


def mean_final_overlap(model, layer: str, rule: str, n: int, p: int, max_sweeps: int, seed) -> float:
    kind = model.layers[layer].units.name
    gen = np.random.default_rng(seed)
    on = gen.random((p, n)) < 0.5
    patterns = np.where(on, 1.0, -1.0) if kind == "spin" else on.astype(float)
    store(model.program, model.params, layer, rule, patterns)
    start = {layer: model.xp.asarray(patterns, dtype=model.program.dtype)}
    state, _, _ = relax(model.program, model.params, start, layer, "async", max_sweeps, Rng(np, *seed))
    return float(overlaps(to_numpy(state[layer]).astype(float), patterns, kind).mean())


def critical_load(loads, overlap, threshold: float):
    """The first load whose overlap is below ``threshold``; None when none is."""
    return next((a for a, m in zip(loads, overlap) if m < threshold), None)


def capacity_study(spec: Spec, study: CapacitySpec, report=None) -> dict:
    layer = next(iter(spec.model.layers))
    out = {"loads": list(study.loads), "sizes": list(study.sizes), "threshold": study.threshold}
    for rule in study.rules:
        out[rule] = {"overlap": {}, "critical_load_by_size": {}}
    for n in study.sizes:
        model = _model_of_size(spec, layer, n)
        for rule in study.rules:
            curve = []
            for i, alpha in enumerate(study.loads):
                p = max(1, int(round(alpha * n)))
                trials = [mean_final_overlap(model, layer, rule, n, p, study.max_sweeps, (spec.seed, n, i, t))
                          for t in range(study.trials)]
                curve.append(float(np.mean(trials)))
            out[rule]["overlap"][str(n)] = curve
            out[rule]["critical_load_by_size"][str(n)] = critical_load(study.loads, curve, study.threshold)
            if report is not None:
                report(rule, n, out[rule]["critical_load_by_size"][str(n)])
    largest = str(max(study.sizes))
    for rule in study.rules:
        out[rule]["critical_load"] = out[rule]["critical_load_by_size"][largest]
    return out
