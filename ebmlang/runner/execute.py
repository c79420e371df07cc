"""`ebm run`: validate everything that can be validated, then train, evaluate and report.

All input checks (spec, backend, data, graph files) run before the run folder is touched, so a
bad input never leaves a folder behind. `summary.json` is written last: a folder without it is
an unfinished run, and `run.json` says whether it is still running or failed.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from ..backend import matmul_precision
from ..data import load_data
from ..errors import Location, UsageError
from ..eval.capacity import capacity_study
from ..eval.observables import temperature_scan
from ..eval.optimize import anneal_restarts, maxcut_report, tsp_report
from ..problems import tsp
from ..report.figures import (import_in_background, save_capacity, save_observables, save_tour,
                              save_weight_spread)
from ..model import Model
from ..train import adopt_averages
from ..train.optim import AVERAGE
from ..train.stages import plan_stages
from ..report import Progress
from ..spec import Spec, load_spec, to_yaml
from ..spec.checks import check_runnable
from ..spec.overrides import override_texts
from ..spec.resources import check_resources
from .evaluate import Probe, final_summary, skipped_for_want_of_tests
from .pictures import draw_figures
from .ratings import RatingsProbe
from .folder import RunFolder, checkpoint_stage
from .executors import make_executor
from .training import train_stages


def default_out(spec: Spec) -> Path:
    return Path("runs") / spec.name


def run(spec: Spec, out: str | Path | None = None, resume: bool = False, progress: bool = True,
        scheduler: str | None = None) -> dict:
    """Train and evaluate the model of ``spec``; returns the summary (also in summary.json).
    ``scheduler`` runs a study's models on Dask (``runner/executors.make_executor``); default:
    here, one after another."""
    if not isinstance(spec, Spec):
        raise TypeError(f"run takes a Spec, got {type(spec).__name__}: read one with "
                        "ebmlang.load_spec(path)")
    check_runnable(spec)
    folder = RunFolder(out or default_out(spec))
    if resume and not folder.file("model.npz").exists():
        raise UsageError("has no model.npz to resume from", Location(str(folder.path), 1, 1))
    data = load_data(spec) if spec.data is not None else None
    model = Model.from_spec(spec, data_mean=_data_mean(data))
    checkpoint = None
    if resume:
        folder.lock()
        checkpoint = folder.load_checkpoint()
        model.load_parameters(checkpoint)
        folder.set_status("running")
    else:
        folder.create()
    folder.write_text("spec.resolved.yaml", to_yaml(spec, absolute=True))
    report = Progress(0, progress)
    try:
        with matmul_precision(model.xp, spec.matmul_precision):
            summary = _train_and_evaluate(spec, model, data, checkpoint, folder, report, scheduler)
    except KeyboardInterrupt:
        folder.set_status("interrupted", resume=f"ebm run --resume {folder.path}")
        raise
    except BaseException as exc:
        folder.set_status("failed", error=f"{type(exc).__name__}: {exc}")
        raise
    folder.set_status("complete")
    return summary


def evaluate_run(run_dir: str | Path, overrides=(), progress: bool = True,
                 scheduler: str | None = None, memory_limit: int | None = None) -> dict:
    """`ebm eval`: measure a finished run again from its model.npz, without retraining.

    Only `evaluate.*` may be overridden: anything else would describe a model other than the one
    saved. The run's summary.json keeps its training figures and gets the new measures (those
    no longer asked for are dropped, their pictures too); spec.resolved.yaml takes the overrides
    once they have run."""
    overrides = override_texts(overrides)
    folder = _finished_run(run_dir, overrides)
    spec = load_spec(folder.file("spec.resolved.yaml"), overrides)
    check_resources(spec, memory_limit)
    data = load_data(spec) if spec.data is not None else None
    model = _trained_model(spec, folder, data)
    probe = make_probe(model, data, spec.evaluate)
    before = folder.read_summary()
    summary = {k: v for k, v in before.items() if k in TRAINING_FIGURES}
    with matmul_precision(model.xp, spec.matmul_precision):
        report = Progress(0, progress)
        summary = _evaluate(spec, model, data, probe, folder, report, summary, scheduler)
    folder.write_text("spec.resolved.yaml", to_yaml(spec, absolute=True))
    for stale in set(before.get("figures", ())) - set(summary.get("figures", ())):
        folder.file(stale).unlink(missing_ok=True)     # a figure no longer asked for
    return summary


TRAINING_FIGURES = ("name", "backend", "epochs", "train_seconds", "stages")   # kept by `ebm eval`


def _finished_run(run_dir, overrides) -> RunFolder:
    """The run folder `ebm eval` may measure again, held: a finished run, overrides of
    `evaluate.*` only."""
    folder = RunFolder(run_dir)
    folder.resolved_spec()
    for text in overrides:
        if not text.startswith("evaluate."):
            raise UsageError(f"ebm eval changes only evaluate.*; '{text.partition('=')[0]}' "
                             "would need retraining", Location("--set", 1, 1))
    folder.lock()
    if not folder.finished():
        status = folder.status() or "unknown"
        raise UsageError(f"{run_dir} holds no finished run (status: {status}); finish it first: "
                         f"ebm run --resume {run_dir} (with --set evaluate.… if its evaluation "
                         "failed)", Location(str(folder.file("run.json")), 1, 1))
    return folder


def load_run(run_dir: str | Path, backend: str | None = None) -> Model:
    """The trained model of a run folder, as `ebm eval` measures it: its spec.resolved.yaml
    compiled (on ``backend``, default the spec's), the parameters of its model.npz loaded, and
    a stage's moving averages (`train.average`) adopted.

        >>> model = ebmlang.load_run("runs/rbm-mnist")
        >>> model.free_energy({"v": test})"""
    folder = RunFolder(run_dir)
    spec = load_spec(folder.resolved_spec())
    return _trained_model(spec, folder, load_data(spec) if spec.data is not None else None,
                          backend)


def _trained_model(spec: Spec, folder: RunFolder, data, backend: str | None = None) -> Model:
    """``spec``'s model with the parameters of ``folder``'s checkpoint, averages adopted."""
    model = Model.from_spec(spec, backend, data_mean=_data_mean(data))
    checkpoint = folder.load_checkpoint()
    model.load_parameters(checkpoint)
    adopt_averages(model.params, checkpoint, _stage_program(spec, model, data, checkpoint))
    return model


def _data_mean(data) -> dict | None:
    """{data layer: its mean per unit}, which `bias: data_rates` starts from."""
    return {data.layer: data.train.mean(axis=0)} if data is not None else None


def _stage_program(spec: Spec, model: Model, data, checkpoint: dict):
    """The program of the stage the checkpoint was taken in, whose averaged parameters `ebm run`
    evaluated (an RBM view's mirrors follow them); None without data (no stages to plan)."""
    if data is None or not any(k.startswith(AVERAGE) for k in checkpoint):
        return None
    plans = plan_stages(model.program, spec.stages, data.layers)
    return plans[min(checkpoint_stage(checkpoint), len(plans) - 1)].program


def _scan(spec: Spec, model: Model, folder: RunFolder, report: Progress) -> dict:
    def line(t, values):
        report.note(f"T {t:.4g}  " + "  ".join(f"{k} {v:.4g}" for k, v in values.items()))

    scan = temperature_scan(model.program, model.params, spec.sample, spec.seed, line)
    save_observables(folder.file("observables.png"), scan)
    return scan


def _capacity(spec: Spec, folder: RunFolder, report: Progress, scheduler: str | None) -> dict:
    def line(rule, n, alpha):
        shown = "above every load" if alpha is None else f"{alpha:.4g}"
        report.note(f"capacity {rule:<15} N {n:<6} critical load {shown}")

    executor = make_executor(scheduler or "serial", note=report.note)
    try:
        study = capacity_study(spec, spec.study.capacity, line, executor.map)
    finally:
        executor.close()
    for rule in spec.study.capacity.rules:
        save_capacity(folder.file(f"capacity-{rule}.png"), study, rule)
    return study


def _optimize(spec: Spec, model: Model, folder: RunFolder, report: Progress) -> dict:
    finals = anneal_restarts(model, spec)
    if spec.problem.kind == "tsp":
        result, best = tsp_report(spec, finals)
        if best is not None:
            save_tour(folder.file("tour.png"), tsp.cities(spec.problem.options, spec), best, result)
    else:
        result = maxcut_report(spec, finals)
    report.note("  ".join(f"{k} {v:.4g}" for k, v in result.items() if isinstance(v, float)))
    return result


def ais_line(summary: dict) -> str:
    """One progress line with both sides of the AIS estimate."""
    def interval(key):
        lo, hi = summary.get(f"{key}_lower"), summary.get(f"{key}_upper")
        return f"{summary[key]:.2f} [{lo:.2f}, {hi:.2f}]"
    text = f"AIS log Z {interval('log_z.ais')} ({summary['ais.runs']} runs, {summary['ais.steps']} β's)"
    if "log_z.reverse_ais" in summary:
        text += f"  reverse {interval('log_z.reverse_ais')} ({summary['ais.reverse_examples']} examples)"
    elif summary.get("ais.reverse_examples") == 0:
        text += "  (no reverse AIS: the latent layers do not sum out given the data)"
    if "log_likelihood.test_lower_bound" in summary:
        text += f"  test log-likelihood ≥ {interval('log_likelihood.test_lower_bound')} (mean field)"
    if "log_likelihood.test" in summary:
        text += f"  test log-likelihood {summary['log_likelihood.test']:.2f}"
        if "log_likelihood.test_reverse" in summary:
            text += f" (reverse: {summary['log_likelihood.test_reverse']:.2f})"
    return text


def make_probe(model, data, evaluate):
    """What is measured on the data each epoch and at the end (None without data)."""
    if data is None:
        return None
    return RatingsProbe(model, data) if data.ratings is not None else Probe(model, data, evaluate)


def _train_and_evaluate(spec, model, data, checkpoint, folder, report, scheduler=None) -> dict:
    probe = make_probe(model, data, spec.evaluate)
    if spec.train is not None and spec.stages[-1].epochs > 1:
        import_in_background()          # the curves need matplotlib; the other figures do not
    started = time.perf_counter()
    state = None
    if spec.train is not None:
        state = train_stages(spec, model, data, folder, report, probe, checkpoint)
    else:
        folder.save_checkpoint(model.params, None, spec.seed)
    epochs = sum(stage.epochs for stage in spec.stages[: state.stage]) + state.epoch if state else 0
    summary = {"name": spec.name, "backend": model.xp.__name__, "epochs": epochs,
               "train_seconds": round(time.perf_counter() - started, 3)}
    if len(spec.stages) > 1:
        summary["stages"] = len(spec.stages)
    return _evaluate(spec, model, data, probe, folder, report, summary, scheduler)


def _evaluate(spec, model, data, probe, folder, report, summary: dict, scheduler=None) -> dict:
    """Everything after training: measures, studies, figures; writes summary.json last."""
    if isinstance(probe, RatingsProbe):         # ratings are judged by their error, not by pictures
        summary.update(probe.summary())
        folder.write_summary(summary)
        report.note("  ".join(f"{k} {v:.4g}" for k, v in summary.items() if isinstance(v, float)))
        return summary
    skipped = skipped_for_want_of_tests(data, spec.evaluate)
    if skipped:
        summary["skipped_without_test_set"] = skipped
        report.note(f"{spec.name}: the test set is empty, so {', '.join(skipped)} of test data "
                    "are skipped (set data.test_fraction, or give the file a 'test' array)")
    summary.update(final_summary(model, data, spec.evaluate, probe))
    if spec.sample is not None:
        summary["sample"] = _scan(spec, model, folder, report)
    if spec.study is not None and spec.study.capacity is not None:
        summary["capacity"] = _capacity(spec, folder, report, scheduler)
    if spec.optimize is not None:
        summary["optimize"] = _optimize(spec, model, folder, report)
    summary["figures"] = draw_figures(model, data, spec.evaluate, folder, spec.seed)
    if "ais.log_weights" in summary:        # the spread of the importance weights, as a figure
        reverse = summary.pop("ais.reverse_log_z", None)
        save_weight_spread(folder.file("ais-weights.png"), np.asarray(summary.pop("ais.log_weights")),
                           summary["log_z.ais"], None if reverse is None else np.asarray(reverse))
        summary["figures"].append("ais-weights.png")
        report.note(ais_line(summary))
    folder.write_summary(summary)
    report.note("  ".join(f"{k} {v:.4g}" for k, v in summary.items() if isinstance(v, float)))
    lost = [k for k, v in summary.items() if isinstance(v, float) and not math.isfinite(v)]
    if lost:        # written as null: say so, since NumPy's warnings are kept off stderr
        report.note(f"{spec.name}: not finite, written as null: {', '.join(lost)}")
    return summary
