"""Cross-field rules of the numbers a spec's dtype must carry: TF32 only for float32 on a GPU,
and temperatures and learning rates that stay positive, finite numbers in that dtype (float32
turns 1e-46 into 0 and 1e39 into inf, and an annealing schedule's late steps can underflow where
its start does not). Each rule yields ``(dotted path, message)``, as in ``checks.py``.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from .constraints import Choice
from .schedules import first_outside
from .schema import Spec
from .stage_checks import Problem


def precision_problems(spec: Spec) -> Iterator[Problem]:
    """TF32 where it applies; every temperature (each step of each schedule) and learning rate
    within the normal range of the spec's dtype."""
    yield from _matmul_precision(spec)
    info = np.finfo(spec.dtype)
    for at, schedule in _temperatures(spec):
        outside = first_outside(schedule, float(info.tiny), float(info.max))
        if outside is not None:
            step, value = outside
            o = schedule.options
            steps = len(o["values"]) if schedule.kind == "list" else o["steps"]
            where = f" (step {step + 1} of {steps})" if steps > 1 else ""
            said = _outside(value, info, spec.dtype)
            yield at, f"{at}: the temperature {value:.3g}{where} {said}"
    for at, lr in _learning_rates(spec):
        if lr > 0 and not info.tiny <= lr <= info.max:
            yield (at, f"{at} {lr:.3g} {_outside(lr, info, spec.dtype)}"
                   f"{': the updates would vanish' if lr < info.tiny else ''}")


def _outside(value: float, info, dtype: str) -> str:
    if value < info.tiny:
        return f"is below {dtype}'s smallest normal number ({info.tiny:.3g})"
    return f"is beyond {dtype}'s largest number ({info.max:.3g})"


def _matmul_precision(spec: Spec) -> Iterator[Problem]:
    if spec.matmul_precision == "tf32" and spec.dtype != "float32":
        yield ("matmul_precision",
               f"matmul_precision: tf32 rounds float32 inputs; this spec's dtype is {spec.dtype}")
    elif spec.matmul_precision == "tf32" and spec.backend == "numpy":
        yield ("matmul_precision", "matmul_precision: tf32 runs on a GPU's tensor cores; set "
               "backend: cupy (or auto), since NumPy multiplies in IEEE float32")


def _temperatures(spec: Spec) -> Iterator[tuple[str, Choice]]:
    """(path, schedule) of every temperature in the spec; the model's as a list of one."""
    if spec.model is not None:
        yield "model.temperature", Choice("list", {"values": (spec.model.temperature,)})
    schedules = [("sample.temperatures", spec.sample and spec.sample.temperatures),
                 ("optimize.anneal", spec.optimize and spec.optimize.anneal)]
    for index, stage in enumerate(spec.stages):
        at = spec.stage_path(index)
        schedules += [(f"{at}.positive.anneal", stage.positive.anneal),
                      (f"{at}.negative.anneal", stage.negative.anneal)]
    yield from ((at, schedule) for at, schedule in schedules if schedule)


def _learning_rates(spec: Spec) -> Iterator[tuple[str, float]]:
    """(path, rate as written) of every optimizer."""
    for index, stage in enumerate(spec.stages):
        at = spec.stage_path(index)
        yield f"{at}.optimizer.{stage.optimizer.kind}.lr", stage.optimizer.options.lr
        for g, group in enumerate(stage.groups):
            choice = group.optimizer
            yield f"{at}.groups.{g}.optimizer.{choice.kind}.lr", choice.options.lr
