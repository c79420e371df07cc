"""`ebm run`'s training loop: the spec's stages in order, each epoch checkpointed.

Each stage gets a fresh optimizer and objective state (velocities, persistent chains) and starts
from the parameters the previous stage left. After every epoch the run folder gets a metrics
record and a checkpoint holding the stage and epoch, so `--resume` continues mid-stage exactly.
A stage with `average` ends with its parameters set to their moving averages.
"""
from __future__ import annotations

import math
import time

from ..data.sparse import on_backend
from ..errors import TrainingError
from ..spec.types import BACKPROP_RULES, STORAGE_RULES
from ..train import Trainer, TrainState, adopt_averages
from ..train.stages import StagePlan, plan_stages, sampled_inputs, stage_inputs
from .folder import RunFolder, checkpoint_stage, restore_state, upstream_params


def train_stages(spec, model, data, folder: RunFolder, report, probe, checkpoint: dict | None = None) -> TrainState:
    """Run every stage not yet finished; ``checkpoint`` (the arrays of model.npz) resumes mid-run."""
    xp, dtype = model.xp, model.program.dtype
    plans = plan_stages(model.program, spec.stages, data.layers)
    train = {n: on_backend(x, xp, dtype) for n, x in data.arrays("train").items()}
    first = checkpoint_stage(checkpoint) if checkpoint else 0
    state = None
    for plan in plans[first:]:
        trainer = Trainer(plan.program, plan.spec, plan.clamp, spec.seed, plan.index)
        state = trainer.init_state(model.params)
        upstream = None
        if checkpoint is not None and plan.index == first:
            state = restore_state(checkpoint, state, xp)
            folder.truncate_metrics(state.stage, state.epoch)
            upstream = upstream_params(checkpoint, xp, dtype) or None
        if plan.fed and upstream is None:           # the parameters the up-pass is computed from
            upstream = {k: v.copy() for k, v in model.params.items()}
        inputs = stage_inputs(plans, plan.index, upstream or model.params, train)
        monitor = probe.for_stage(plans, plan, upstream or model.params)
        redraw = (data.layer,) if data.resample else ()
        _run_stage(spec, plan, trainer, state, inputs, monitor, folder, report, upstream, len(plans) > 1, redraw)
        # the stage's averaged parameters go on; its checkpoint keeps θ and θ̄ apart, so that a
        # longer rerun (--resume with more epochs) continues from θ
        adopt_averages(model.params, state.slots, plan.program)
    return state


def check_finite(spec, plan: StagePlan, state: TrainState, record: dict, staged: bool) -> None:
    """Stop a diverged run before its epoch is recorded: a TrainingError (exit 2) at the stage's
    optimizer names the epoch and the first parameter or measure that is NaN or infinite; the run
    folder keeps the checkpoint of the last finite epoch."""
    xp = plan.program.xp
    bad = next((k for k, v in state.params.items() if not bool(xp.isfinite(v).all())), None)
    what = f"parameter {bad}"
    if bad is None:
        bad = next((k for k, v in record.items() if isinstance(v, float) and not math.isfinite(v)),
                   None)
        what = f"measure {bad}"
    if bad is None:
        return
    stage = f" of {plan.label}" if staged else ""
    cause = ("a gaussian layer's σ collapsed or blew up" if bad.startswith("sigma.") else
             "the updates grew without bound")
    kept = (f"the run folder keeps the checkpoint of epoch {state.epoch - 1}"
            if state.epoch > 1 else "no epoch of this stage finished")
    raise TrainingError(f"training diverged in epoch {state.epoch}{stage}: {what} is no longer "
                        f"finite ({cause}); lower the learning rate or set train.clip_norm "
                        f"({kept})",
                        spec.loc(f"{spec.stage_path(plan.index)}.optimizer"))


def _run_stage(spec, plan: StagePlan, trainer: Trainer, state: TrainState, inputs: dict, monitor, folder,
               report, upstream, staged: bool, redraw: tuple) -> None:
    stage = plan.spec
    rows = next(iter(inputs.values())).shape[0]
    what = f"{plan.label} ({', '.join(plan.program.layers)}): " if staged else ""
    rule = stage.rule if stage.rule in BACKPROP_RULES + STORAGE_RULES else f"{stage.rule}-{stage.k}"
    report.note(f"{spec.name}: {what}{rows} examples, {stage.epochs} epochs, rule {rule}, "
                f"clamped {', '.join(plan.clamp)}, backend {trainer.program.xp.__name__}")
    report.restart(stage.epochs)
    on_gpu, said = trainer.program.xp.__name__ == "cupy", None
    while state.epoch < stage.epochs:
        t0 = time.perf_counter()
        train = sampled_inputs(plan, inputs, spec.seed, state.epoch, redraw)
        trainer.train_epoch(state, train, on_batch=lambda d, n: report.batch(state.epoch + 1, d, n))
        if on_gpu and trainer.graph_status != said:     # whether the step replays as a CUDA graph
            said = trainer.graph_status
            how = "captured as a CUDA graph" if said == "captured" else f"run eagerly ({said})"
            report.note(f"{spec.name}: training step {how}")
        record = {"epoch": state.epoch, **({"stage": plan.index + 1} if staged else {}),
                  "seconds": round(time.perf_counter() - t0, 3), **monitor.epoch_metrics()}
        check_finite(spec, plan, state, record, staged)
        folder.append_metrics(record)
        folder.save_checkpoint(state.params, state, spec.seed, upstream)
        report.epoch(record)
