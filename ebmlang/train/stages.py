"""Training stages: what each stage of a spec's `train` trains, and on which data.

A stage names its layers; it trains the sub-program of those layers and the couplings among
them (``compile.restrict``), with any field gains it declares. It clamps the data set's layers
(`v`, and `y` for labels) when the data layer is among its own; otherwise every layer of it that
data reaches: labels, and the layers an earlier stage trained, fed by that stage's *up-pass* —
the means of its latent layers given its clamped ones (exact for an RBM; mean field otherwise). So

    stage 1  layers [v, h1]        clamps v (data)        its up-pass gives h1 = E[h1 | v]
    stage 2  layers [h1, h2, y]    clamps h1 and y        greedy layer-wise training of a stack
    stage 3  every layer           clamps v and y         joint training (DBM, fine-tuning)

The up-pass is computed from the parameters as they stood when the stage began (a snapshot
kept in the checkpoint), so a resumed stage sees exactly the inputs of an unbroken one.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..backend import Rng
from ..compile import Program, restrict
from ..kernels.gibbs import conditional
from ..kernels.meanfield import mean_field
from ..spec.types import BACKPROP_RULES, default_clamp

DIRECTED_RULES = ("updown",) + BACKPROP_RULES     # rules that train the directed couplings as they are

CHUNK = 10_000      # rows per up-pass block: bounds the temporary (rows × hidden) arrays


@dataclass(frozen=True)
class StagePlan:
    index: int
    spec: object                # the stage's TrainSpec
    program: Program            # its sub-program
    clamp: tuple                # layers given data in this stage
    fed: tuple                  # those of them fed by earlier stages (not in the data set)

    @property
    def label(self) -> str:
        return self.spec.name or f"stage {self.index + 1}"


def plan_stages(program: Program, stages: tuple, data_layers: tuple) -> tuple[StagePlan, ...]:
    """One plan per stage; ``data_layers`` are the layers the data set fills (data, labels)."""
    plans, available = [], list(data_layers)
    for index, stage in enumerate(stages):
        layers = tuple(stage.layers) if stage.layers else tuple(program.layers)
        # directed pairs are trained as RBMs (views) in any stage but up-down's and backprop's
        whole = set(layers) == set(program.layers) and not stage.field_gain and \
            (stage.rule in DIRECTED_RULES or not program.directed)
        sub = program if whole else restrict(program, layers, stage.field_gain)
        clamp = tuple(stage.clamp) if stage.clamp else default_clamp(tuple(sub.layers), data_layers, available)
        fed = tuple(n for n in clamp if n not in data_layers)
        plans.append(StagePlan(index, stage, sub, clamp, fed))
        available += [n for n in sub.layers if n not in available]
    return tuple(plans)


def up_pass(plan: StagePlan, params: dict, given: dict) -> dict:
    """Means of the stage's latent layers given its clamped ones, ``given`` ({layer: (N, size)})."""
    program = plan.program
    latent = tuple(n for n in program.layers if n not in plan.clamp)
    rows = next(iter(given.values())).shape[0]
    parts = {n: [] for n in latent}
    for start in range(0, rows, CHUNK):
        chunk = {n: x[start:start + CHUNK] for n, x in given.items()}
        for name, mean in _latent_means(program, params, chunk, latent).items():
            parts[name].append(mean)
    xp = program.xp
    return {n: xp.concatenate(p, axis=0) for n, p in parts.items()}


def _latent_means(program: Program, params: dict, given: dict, latent: tuple) -> dict:
    if program.summable(latent):
        return {n: program.layers[n].units.mean(conditional(program, params, given, n)) for n in latent}
    means, _ = mean_field(program, params, given, latent)
    return {n: means[n] for n in latent}


def stage_inputs(plans: tuple, index: int, params: dict, data: dict) -> dict:
    """The clamped layers of stage ``index``: data layers as given, the others from the up-passes
    of the stages before it (computed with ``params``, the snapshot taken when the stage began)."""
    plan = plans[index]
    available = dict(data)
    for earlier in plans[:index]:
        if all(n in available for n in plan.clamp):
            break
        given = {n: available[n] for n in earlier.clamp}
        new = {n: x for n, x in up_pass(earlier, params, given).items() if n not in available}
        available.update(new)
    return {n: available[n] for n in plan.clamp}


def sampled_inputs(plan: StagePlan, inputs: dict, seed: int, epoch: int, redraw: tuple = ()) -> dict:
    """Binary layers drawn afresh each epoch from their means, keyed (seed, stage, epoch) for exact
    resume: the fed layers with `input: samples`, and the data layers ``redraw`` (`binarize: resample`)."""
    drawn = tuple(n for n in redraw if n in plan.clamp and n not in plan.fed)
    if plan.spec.input == "samples":
        drawn += plan.fed
    if not drawn:
        return inputs
    program = plan.program
    rng = Rng(program.xp, seed, 0x5A3F, plan.index, epoch)
    out = dict(inputs)
    for name in drawn:
        mean = inputs[name]
        out[name] = (rng.uniform(mean.shape, mean.dtype) < mean).astype(mean.dtype)
    return out


__all__ = ["StagePlan", "plan_stages", "sampled_inputs", "stage_inputs", "up_pass"]
