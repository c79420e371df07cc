"""`ebm sweep`: the product of value grids over a spec, each trial an ordinary run folder.

A grid axis is a dotted spec path and the values to try (``--grid train.k=1,3,10`` or a
`sweep.grid` entry in the spec); ``--seeds N`` adds the axis seed = s, s+1, …, s+N-1. The trials
are the product of the axes. Each one is `ebm run` of the spec with the axes' values as `--set`
overrides, in ``OUT/trials/<name>/``, so any trial can be inspected, re-evaluated or resumed on
its own. The sweep folder gets:

    sweep.json   the settings and one row per trial: the values set, status, seconds, error
                 line, and every number of the trial's summary.json
    sweep.csv    the same rows as a table
    sweep.png    the chosen metric against each swept value (mean over the other axes)

Rerunning the same command resumes: trials whose summary.json is written are skipped, a trial
killed mid-training continues from its checkpoint, and a failing trial is a row with its error
line — it never stops the others. Every trial's spec is validated before any runs, and a bad value
is reported where it was written (the spec's `sweep.grid` or the `--grid` argument).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import Diagnostic, EbmError, Location, SpecError, UsageError, one_line
from ..spec import Spec, load_spec, to_yaml
from ..spec.nodes import FLOAT_WITH_EXPONENT, parse_yaml, to_plain
from .executors import Failure, make_executor
from .folder import RunFolder
from .table import flat_numbers, write_csv

GRID_ARG = "--grid"


@dataclass(frozen=True)
class Axis:
    """One swept spec path: its values as YAML texts, and where each was written."""

    key: str
    values: tuple
    where: tuple

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


@dataclass(frozen=True)
class TrialTask:
    """All a worker needs to run one trial (plain values, so it pickles to another process)."""

    spec_path: str
    overrides: tuple
    folder: str


# ------------------------------------------------------------------------------------ the grid
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
    return Axis("seed", tuple(str(spec.seed + s) for s in range(seeds)), (where,) * seeds)


def combine_axes(spec: Spec, cli_axes: list[Axis], seeds: int | None) -> list[Axis]:
    """The spec's axes, replaced key by key by the command line's, then the seeds."""
    axes = {a.key: a for a in spec_axes(spec)}
    axes.update({a.key: a for a in cli_axes})
    if not axes:
        raise UsageError("nothing to sweep: give --grid KEY.PATH=V1,V2,... or a `sweep.grid` "
                         "section in the spec", Location(spec.file, 1, 1))
    for axis in axes.values():
        _check_axis(axis)
    seeds = seeds if seeds is not None else (spec.sweep.seeds if spec.sweep else 1)
    if seeds > 1:
        if "seed" in axes:
            raise UsageError("sweep both `seed` as a grid axis and --seeds; choose one",
                             axes["seed"].where[0])
        axes["seed"] = seed_axis(spec, seeds)
    return list(axes.values())


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


# ---------------------------------------------------------------------------------- validation
def check_trials(spec_path: str, base: list[str], axes: list[Axis], trials: list[Trial]) -> None:
    """Load every value alone, then every trial, before anything runs, each within the memory
    allowed. A mistake in a value is reported where the value was written; one that the value
    causes elsewhere (a shape that no longer fits) where it shows, saying which value did it."""
    problems = []
    for axis in axes:
        for text, where in zip(axis.values, axis.where):
            problems += _relocated(spec_path, base + [f"{axis.key}={text}"], where,
                                   f"with {axis.key}={text}: ")
    if not problems:
        for trial in trials:
            problems += _relocated(spec_path, base + trial.overrides, axes[0].where[0],
                                   f"in trial {trial.name}: ")
            if problems:
                break
    if problems:
        raise SpecError(list({str(d): d for d in problems}.values()))     # each mistake once


def check_sweep(spec: Spec, spec_path: str, base: list[str]) -> None:
    """`ebm validate` of a spec with a sweep section: its trials as `ebm sweep` would plan them."""
    axes = combine_axes(spec, [], None)
    check_trials(spec_path, list(base), axes, plan_trials(axes))


def _relocated(spec_path: str, overrides: list[str], where: Location, cause: str) -> list:
    from ..spec.resources import check_resources
    try:
        check_resources(load_spec(spec_path, overrides))
    except EbmError as exc:
        return [Diagnostic(where, d.message) if d.location.file == "--set" else
                Diagnostic(d.location, cause + d.message) for d in exc.diagnostics]
    return []


# -------------------------------------------------------------------------------- one trial
def run_trial(task: TrialTask) -> dict:
    """Run (or resume, or skip) one trial in this process; never raises for the trial's own
    problems: they come back as a failed outcome with the error's first line."""
    from . import run
    folder = RunFolder(task.folder)
    folder.wait_until_free()        # a task of a killed sweep may still be running this trial
    t0 = time.perf_counter()
    try:
        spec = load_spec(task.spec_path, list(task.overrides)).replace(sweep=None)
        how = _how_to_start(folder, spec)
        if how != "skipped":
            run(spec, task.folder, resume=how == "from checkpoint", progress=False)
    except EbmError as exc:
        first = exc.diagnostics[0]      # at --set:1:COL the place says nothing: the message alone
        line = one_line(first.message) if first.location.file == "--set" else str(first)
        return {"status": "failed", "error": line,
                "seconds": round(time.perf_counter() - t0, 3)}
    summary = json.loads(folder.file("summary.json").read_text())    # as a rerun will see it
    return {"status": "done", "summary": summary, "resumed": how,
            "seconds": None if how == "skipped" else round(time.perf_counter() - t0, 3)}


def _how_to_start(folder: RunFolder, spec: Spec) -> str:
    """`skipped` (finished), `from checkpoint` (killed mid-run) or `no` (a fresh start); a
    folder that was run with another spec (the spec file or --set changed since) is refused,
    never skipped or resumed as if it were this trial."""
    written = folder.file("spec.resolved.yaml")
    if not written.exists():
        return "no"
    if written.read_text() != to_yaml(spec, absolute=True):
        raise UsageError(f"{folder.path} holds a run of another spec (the spec or its values "
                         "changed since it ran); delete it or choose another --out",
                         Location(str(written), 1, 1))
    if folder.finished():
        return "skipped"
    return "from checkpoint" if folder.file("model.npz").exists() else "no"


# ------------------------------------------------------------------------------- the sweep
@dataclass
class SweepSettings:
    spec_path: str
    out: str | None = None
    grid: tuple = ()            # --grid arguments
    seeds: int | None = None
    overrides: tuple = ()       # --set arguments, applied to every trial
    scheduler: str | None = None
    workers: int | None = None
    metric: str | None = None


def sweep(settings: SweepSettings, note=print) -> list[dict]:
    """Run the sweep; returns its rows (also in sweep.json and sweep.csv)."""
    base = list(settings.overrides)
    spec = load_spec(settings.spec_path, base)
    axes = combine_axes(spec, [parse_grid_arg(g) for g in settings.grid], settings.seeds)
    trials = plan_trials(axes)
    check_trials(settings.spec_path, base, axes, trials)
    folder = RunFolder(settings.out or Path("runs") / f"{spec.name}-sweep")
    _claim(folder, settings)
    metric = settings.metric or (spec.sweep.metric if spec.sweep else None)
    executor = make_executor(settings.scheduler, settings.workers, note)
    try:
        note(f"{spec.name}: {len(trials)} trials over {', '.join(a.key for a in axes)} "
             f"on {executor.name}; folder {folder.path}")
        rows = _execute(executor, settings, base, axes, trials, folder, note)
    finally:
        executor.close()
    _write_outputs(folder, settings, axes, rows, metric, note)
    return rows


def _claim(folder: RunFolder, settings: SweepSettings) -> None:
    """Hold the sweep folder; refuse one that holds another spec's or other overrides' trials."""
    folder.path.mkdir(parents=True, exist_ok=True)
    folder.lock()
    previous = folder.file("sweep.json")
    if previous.exists():
        try:
            old = json.loads(previous.read_text())["settings"]
        except (ValueError, KeyError, TypeError):
            old = None
        mine = _settings_record(settings)
        if old is not None and {k: old.get(k) for k in mine} != mine:
            raise UsageError(f"{folder.path} holds a sweep of another spec or other --set values; "
                             "choose another --out", Location(str(previous), 1, 1))
        return
    folder.write_text("sweep.json", json.dumps({"settings": _settings_record(settings), "rows": []},
                                               indent=1) + "\n")


def _settings_record(settings: SweepSettings, axes=()) -> dict:
    record = {"spec": str(Path(settings.spec_path).resolve()),
              "overrides": list(settings.overrides)}
    if axes:
        record["axes"] = {a.key: list(a.values) for a in axes}
    return record


def _execute(executor, settings, base, axes, trials, folder, note) -> list[dict]:
    spec_path = str(Path(settings.spec_path).resolve())
    trials_dir = folder.file("trials").resolve()         # workers may run in other folders
    tasks = [TrialTask(spec_path, tuple(base + t.overrides), str(trials_dir / t.name))
             for t in trials]
    rows: list[dict | None] = [None] * len(trials)
    counts = {"done": 0, "failed": 0}
    for index, outcome in executor.map(run_trial, tasks):
        if isinstance(outcome, Failure):     # the worker itself died or the task raised a bug
            outcome = {"status": "failed", "error": outcome.error, "seconds": None}
        rows[index] = _row(trials[index], outcome)
        counts[outcome["status"]] += 1
        running = min(executor.running(), len(trials) - counts["done"] - counts["failed"])
        note(f"[{counts['done']} done / {running} running / {counts['failed']} failed "
             f"of {len(trials)}] {trials[index].name}: {_outcome_line(outcome)}")
    return rows


def _row(trial: Trial, outcome: dict) -> dict:
    row = {"trial": trial.name, "status": outcome["status"]}
    row.update({key: yaml_value(text) for key, text in trial.settings})
    row["seconds"] = outcome.get("seconds")
    row["error"] = outcome.get("error")
    row.update(flat_numbers(outcome.get("summary") or {}))
    return row


def _outcome_line(outcome: dict) -> str:
    if outcome["status"] == "failed":
        return f"failed: {outcome['error']}"
    if outcome.get("resumed") == "skipped":
        return "finished before, skipped"
    how = ", resumed from its checkpoint" if outcome.get("resumed") == "from checkpoint" else ""
    return f"done in {outcome['seconds']:.1f} s{how}"


def _write_outputs(folder: RunFolder, settings, axes, rows, metric, note) -> None:
    from ..report.figures import save_sweep
    from .table import choose_metric
    record = {"settings": _settings_record(settings, axes), "rows": rows}
    folder.write_text("sweep.json", json.dumps(record, indent=1, default=str) + "\n")
    write_csv(folder, "sweep.csv", rows)
    chosen = metric or choose_metric(rows, skip={a.key for a in axes})
    if chosen is None or not any(isinstance(r.get(chosen), (int, float)) for r in rows):
        note(f"no finished trial has the number '{chosen}' in its summary.json: no sweep.png"
             if chosen else "no trial finished with a number to plot: no sweep.png")
        return
    save_sweep(folder.file("sweep.png"), rows, [a.key for a in axes], chosen)
    failed = sum(r["status"] == "failed" for r in rows)
    note(f"wrote {folder.file('sweep.csv')}, sweep.json and sweep.png ({chosen}); "
         f"{len(rows) - failed} trials done, {failed} failed")
