"""Cross-field rules of the numbers a spec's dtype must carry: TF32 only for float32 on a GPU,
and temperatures and learning rates that stay positive, finite numbers in that dtype (float32
turns 1e-46 into 0 and 1e39 into inf, and an annealing schedule's late steps can underflow where
its start does not). Each rule yields ``(dotted path, message)``, as in ``checks.py``.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from .schedules import temperatures
from .schema import Spec
from .stage_checks import Problem


def precision_problems(spec: Spec) -> Iterator[Problem]:
    yield from _matmul_precision(spec)
    info = np.finfo(spec.dtype)
    for at, values in _temperatures(spec):
        outside = np.flatnonzero(~((values >= info.tiny) & (values <= info.max)))
        if outside.size:
            step = f" (step {outside[0] + 1} of {len(values)})" if len(values) > 1 else ""
            yield (at, f"{at}: the temperature {values[outside[0]]:.3g}{step} is not a positive, "
                   f"finite {spec.dtype} number ({spec.dtype} holds {info.tiny:.3g} to "
                   f"{info.max:.3g})")
    for at, lr in _learning_rates(spec):
        if 0 < lr < info.tiny:
            yield (at, f"{at} {lr:.3g} is below {spec.dtype}'s smallest normal number "
                   f"({info.tiny:.3g}): the updates would vanish")
        elif lr > info.max:
            yield at, f"{at} {lr:.3g} is beyond {spec.dtype}'s largest number ({info.max:.3g})"


def _matmul_precision(spec: Spec) -> Iterator[Problem]:
    if spec.matmul_precision == "tf32" and spec.dtype != "float32":
        yield ("matmul_precision",
               f"matmul_precision: tf32 rounds float32 inputs; this spec's dtype is {spec.dtype}")
    elif spec.matmul_precision == "tf32" and spec.backend == "numpy":
        yield ("matmul_precision", "matmul_precision: tf32 runs on a GPU's tensor cores; set "
               "backend: cupy (or auto), since NumPy multiplies in IEEE float32")


def _temperatures(spec: Spec) -> Iterator[tuple[str, np.ndarray]]:
    """(path, the temperatures it denotes) of every temperature in the spec."""
    if spec.model is not None:
        yield "model.temperature", np.array([spec.model.temperature])
    schedules = [("sample.temperatures", spec.sample and spec.sample.temperatures),
                 ("optimize.anneal", spec.optimize and spec.optimize.anneal)]
    for index, stage in enumerate(spec.stages):
        at = spec.stage_path(index)
        schedules += [(f"{at}.positive.anneal", stage.positive.anneal),
                      (f"{at}.negative.anneal", stage.negative.anneal)]
    for at, schedule in schedules:
        if schedule:
            with np.errstate(over="ignore", under="ignore"):
                yield at, temperatures(schedule)


def _learning_rates(spec: Spec) -> Iterator[tuple[str, float]]:
    for index, stage in enumerate(spec.stages):
        at = spec.stage_path(index)
        yield f"{at}.optimizer.{stage.optimizer.kind}.lr", stage.optimizer.options.lr
        for g, group in enumerate(stage.groups):
            choice = group.optimizer
            yield f"{at}.groups.{g}.optimizer.{choice.kind}.lr", choice.options.lr
