"""The grid of `ebm sweep`: its axes (a dotted spec path and the values to try, from the spec's
`sweep.grid`, ``--grid`` or ``--seeds``) and the trials, their product, each named by its values.
"""
from __future__ import annotations

import hashlib
import itertools
import math
import re
from dataclasses import dataclass

import yaml

from ..errors import Location, UsageError
from ..spec import Spec
from ..spec.nodes import FLOAT_WITH_EXPONENT, parse_yaml, to_plain

GRID_ARG = "--grid"
MAX_TRIALS = 10_000     # trials of one sweep: each is a run folder, planned and checked first


@dataclass(frozen=True)
class Axis:
    """One swept spec path: its values as YAML texts, and where each was written; ``seeds``
    marks the axis ``--seeds`` / `sweep.seeds` makes (seed, seed + 1, …: valid by construction,
    and changing no size or rule of a trial)."""

    key: str
    values: tuple
    where: tuple
    seeds: bool = False

    @property
    def short(self) -> str:
        return self.key.rpartition(".")[2]


@dataclass(frozen=True)
class Trial:
    name: str
    settings: tuple             # ((key, yaml text), ...), one per axis

    @property
    def overrides(self) -> list[str]:
        return [f"{key}={text}" for key, text in self.settings]


def parse_grid_arg(text: str) -> Axis:
    """``KEY.PATH=V1,V2,...``: values split at top-level commas (``[1, 2]`` stays one value);
    each is YAML, typed by the spec's tables like any `--set` value."""
    key, sep, rest = text.partition("=")
    if not sep or not key or not rest.strip():
        raise UsageError(f"--grid expects KEY.PATH=V1,V2,..., got '{text}'",
                         Location(GRID_ARG, 1, 1))
    values, where, depth, start = [], [], 0, len(key) + 1
    for i, ch in enumerate(text[start:] + ",", start):
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            piece = text[start:i]
            values.append(piece.strip())
            where.append(Location(GRID_ARG, 1, start + len(piece) - len(piece.lstrip()) + 1))
            start = i + 1
    if any(not v for v in values):
        raise UsageError(f"--grid {key}: an empty value in '{text}'", Location(GRID_ARG, 1, 1))
    return Axis(key, tuple(values), tuple(where))


def spec_axes(spec: Spec) -> list[Axis]:
    """The axes of the spec's `sweep.grid` section."""
    if spec.sweep is None:
        return []
    axes = []
    for key, values in spec.sweep.grid.items():
        texts = tuple(yaml_text(v) for v in values)
        where = tuple(spec.loc(f"sweep.grid.{key}.{i}") for i in range(len(values)))
        axes.append(Axis(key, texts, where))
    return axes


def yaml_text(value) -> str:
    """One value as flow-style YAML that the spec loader reads back as the same value (a string
    that reads as a number, `1e-3` included, stays quoted)."""
    text = yaml.dump(value, Dumper=_Dumper, default_flow_style=True, width=10**6)
    return text.strip().removesuffix("\n...")


def yaml_value(text: str):
    """A grid value's text read as the spec loader reads it (`1e-3` is a float)."""
    return to_plain(parse_yaml(text, GRID_ARG))


class _Dumper(yaml.SafeDumper):
    """Quotes the strings that the spec loader would read as floats (``nodes._Loader``)."""


_Dumper.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT_WITH_EXPONENT, list("-+0123456789"))


def seed_axis(spec: Spec, seeds: int) -> Axis:
    where = spec.loc("sweep.seeds")
    return Axis("seed", tuple(str(spec.seed + s) for s in range(seeds)), (where,) * seeds,
                seeds=True)


def combine_axes(spec: Spec, cli_axes: list[Axis], seeds: int | None) -> list[Axis]:
    """The spec's axes, replaced key by key by the command line's, then the seeds."""
    axes = {a.key: a for a in spec_axes(spec)}
    axes.update({a.key: a for a in cli_axes})
    if not axes:
        raise UsageError("nothing to sweep: give --grid KEY.PATH=V1,V2,... or a `sweep.grid` "
                         "section in the spec", Location(spec.file, 1, 1))
    for axis in axes.values():
        _check_axis(axis)
    given = seeds is not None
    seeds = seeds if given else (spec.sweep.seeds if spec.sweep else 1)
    _check_count(spec, list(axes.values()), seeds, Location("--seeds", 1, 1) if given
                 else spec.loc("sweep.seeds"))
    if seeds > 1:
        if "seed" in axes:
            raise UsageError("sweep both `seed` as a grid axis and --seeds; choose one",
                             axes["seed"].where[0])
        axes["seed"] = seed_axis(spec, seeds)
    return list(axes.values())


def _check_count(spec: Spec, axes: list[Axis], seeds: int, seeds_where: Location) -> None:
    """At most MAX_TRIALS trials, checked before any is planned; the mistake is located at the
    seeds when the grid alone is within the limit, else at the grid's longest axis."""
    points = math.prod(len(a.values) for a in axes)
    if points * seeds <= MAX_TRIALS:
        return
    where = seeds_where if points <= MAX_TRIALS else max(axes, key=lambda a: len(a.values)).where[0]
    raise UsageError(f"the sweep has {points * seeds:,} trials, more than the {MAX_TRIALS:,} one "
                     "sweep may run; sweep fewer values or seeds", where)


def _check_axis(axis: Axis) -> None:
    """An axis varies a setting of the trials (not of the sweep), each value once: `1` and `01`
    read as the same number would run the same trial twice."""
    if axis.key == "sweep" or axis.key.startswith("sweep."):
        raise UsageError(f"{axis.key} is a setting of the sweep itself, not of its trials; it "
                         "cannot be an axis", axis.where[0])
    seen = {}
    for text, where in zip(axis.values, axis.where):
        value = _comparable(yaml_value(text))
        if value in seen:
            raise UsageError(f"{axis.key}: '{text}' is the value '{seen[value]}' again; give "
                             "each value once", where)
        seen[value] = text


def _comparable(value):
    """``value`` in a form equal for equal settings: numbers as floats (`1` is `1.0` to a float
    field; an integer field refuses 1.0 anyway), lists and mappings hashable."""
    if isinstance(value, bool):
        return "bool", value            # True == 1.0 in Python, not in a spec
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        return tuple(sorted((k, _comparable(v)) for k, v in value.items()))
    return tuple(_comparable(v) for v in value)


def plan_trials(axes: list[Axis]) -> list[Trial]:
    """The product of the axes, named by their values (stable when an axis gets more values, so
    a larger sweep in the same folder reuses the trials already run). A value that does not
    read as a folder name as it is (`-1`, `[784, 30]`) is shortened and followed by a hash of
    its text, so two values never share a folder."""
    labels = _labels(axes)
    trials = []
    for texts in itertools.product(*(a.values for a in axes)):
        parts = [f"{label}={_safe(text)}" for label, text in zip(labels, texts)]
        trials.append(Trial("_".join(parts), tuple(zip((a.key for a in axes), texts))))
    names = [t.name for t in trials]
    if len(set(names)) != len(names):
        raise UsageError("two values of one axis name the same trial folder; write them apart",
                         axes[0].where[0])
    return trials


def _labels(axes: list[Axis]) -> list[str]:
    shorts = [a.short for a in axes]
    return [a.short if shorts.count(a.short) == 1 else a.key for a in axes]


def _safe(text: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9.+]+", "-", text).strip("-")[:40] or "x"
    if readable == text:
        return text
    return f"{readable}~{hashlib.sha1(text.encode()).hexdigest()[:6]}"
