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
is reported where it was written (the spec's `sweep.grid` or the `--grid` argument). The axes
and the trials' names are ``grid.py``'s.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import Diagnostic, EbmError, Location, SpecError, UsageError, one_line
from ..spec import Spec, load_spec, to_yaml
from .executors import Failure, make_executor
from .folder import RunFolder
from .grid import Axis, Trial, combine_axes, parse_grid_arg, plan_trials, yaml_value
from .table import flat_numbers, write_csv


@dataclass(frozen=True)
class TrialTask:
    """All a worker needs to run one trial (plain values, so it pickles to another process)."""

    spec_path: str
    overrides: tuple
    folder: str


# ---------------------------------------------------------------------------------- validation
def check_trials(spec_path: str, base: list[str], axes: list[Axis], trials: list[Trial]) -> None:
    """Load every value alone, then every trial, before anything runs, each within the memory
    allowed. A mistake in a value is reported where the value was written; one that the value
    causes elsewhere (a shape that no longer fits) where it shows, saying which value did it."""
    problems = []
    for axis in axes:
        said = set()        # a mistake every value makes (a path to no layer) is said once
        for text, where in zip(axis.values if not axis.seeds else (), axis.where):
            found = _relocated(spec_path, base + [f"{axis.key}={text}"], where,
                               f"with {axis.key}={text}: ")
            problems += [d for d in found if d.message not in said]
            said |= {d.message for d in found}
    checked = set()
    if not problems:
        for trial in trials:
            settings = tuple(s for s, axis in zip(trial.settings, axes) if not axis.seeds)
            if settings in checked:     # a seed changes no size and no rule: checked once
                continue
            checked.add(settings)
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
