"""Measures of generators (a GAN's generator, a VAE's decoder): per epoch while a GAN trains, and
after training.

    per epoch       the discriminator's mean verdict on test data and on fakes, both players'
                    losses, and on gaussian-grid data the modes covered and the high-quality share
    mode coverage   (evaluate.modes) ``eval.generative.mode_coverage`` of ``count`` samples on
                    the 25-Gaussian grid: `gan.modes`, `gan.high_quality`
    classifier      (evaluate.classifier_score) a classifier of the same data trained by the same
                    pipeline — the classifier template, rule supervised — and cached by its spec
                    (data, seed, sizes, epochs): `gan.classifier_score`, `gan.frechet` to the test
                    set, `gan.frechet_floor` (the training set's distance to the test set),
                    `gan.class_shares`, `gan.classifier_accuracy`
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import yaml

from ..data.mnist import cache_root
from ..backend import Rng, to_numpy
from ..data import Dataset
from ..data.synthetic import grid_means
from ..eval.generative import generate, latents, mode_coverage, prior_draws
from ..eval.sample_quality import class_shares, classifier_score, frechet_distance
from ..kernels.backprop import forward
from ..objectives.adversarial import AdversarialObjective
from ..spec.types import TrainSpec


def samples(model, data: Dataset, count: int, seed: int, salt: int = 0x5A1) -> np.ndarray:
    """``count`` generator samples of the data layer (conditional means), on the host."""
    program = model.program
    draws = prior_draws(program, model.params, count, Rng(model.xp, seed, salt), data.layers)
    return generate(program, model.params, draws, data.layer)


class GanMonitor:
    """Per-epoch measures of an adversarial stage, on fixed latents and the test subset."""

    def __init__(self, probe, program, test: dict | None, seed: int, grid: dict | None):
        self.probe, self.program, self.test, self.seed, self.grid = probe, program, test, seed, grid
        self.objective = AdversarialObjective(program, TrainSpec(rule="adversarial"), (probe.layer,), seed)

    def epoch_metrics(self) -> dict:
        if self.test is None:
            return {}
        params, objective = self.probe.model.params, self.objective
        real = objective.trim(self.test[self.probe.layer])
        rows = real.shape[0]
        z = objective.draw(params, rows, Rng(self.program.xp, self.seed, 0x6A1))
        fake = objective.generate(params, z)
        out = {"loss_d": -objective.value_d(params, real, z, train=False) / rows,     # the nets as
               "loss_g": -objective.value_g(params, z, train=False) / rows,           # evaluated
               "d_real": objective.verdict(params, real), "d_fake": objective.verdict(params, fake)}
        if self.grid is not None:
            coverage = mode_coverage(to_numpy(fake), self.grid["means"], self.grid["std"])
            out.update(modes=coverage["modes"], high_quality=coverage["high_quality"])
        return out


def grid_of(spec) -> dict | None:
    """The mixture's means and σ when the data is the gaussian grid."""
    d = spec.data
    if d is None or d.source != "gaussian-grid":
        return None
    return {"means": grid_means(d.side, d.spacing), "std": d.std}


def generator_summary(model, data: Dataset, evaluate, spec) -> dict:
    """`gan.*` figures of a generator (see the module docstring); {} for other models."""
    if not latents(model.program, data.layers):
        return {}
    out = {}
    if evaluate.modes is not None and grid_of(spec) is not None:
        grid = grid_of(spec)
        drawn = samples(model, data, evaluate.modes.count, spec.seed)
        coverage = mode_coverage(drawn, grid["means"], grid["std"], evaluate.modes.radius)
        out.update({"gan.modes": coverage["modes"], "gan.modes_of": coverage["of"],
                    "gan.high_quality": coverage["high_quality"]})
    if evaluate.classifier_score is not None:
        out.update(_classifier_figures(model, data, evaluate.classifier_score, spec))
    return out


def _classifier_figures(model, data: Dataset, settings, spec) -> dict:
    judge, accuracy = score_classifier(spec, settings)
    fake = samples(model, data, settings.count, spec.seed)
    probs, features = judge(fake)
    _, test_features = judge(data.test[: settings.count])
    _, train_features = judge(data.train[: settings.count])
    return {"gan.classifier_score": classifier_score(probs),
            "gan.frechet": frechet_distance(features, test_features),
            "gan.frechet_floor": frechet_distance(train_features, test_features),
            "gan.class_shares": class_shares(probs, probs.shape[1]), "gan.classifier_accuracy": accuracy,
            "gan.samples": settings.count}


def classifier_spec(spec, settings) -> str:
    """The YAML of the scoring classifier: the classifier template on the run's data (intensities)."""
    from ..spec import to_plain
    kept = ("source", "path", "train_size", "test_size")
    data = {k: v for k, v in to_plain(spec)["data"].items() if k in kept}
    size = spec.model.layers[spec.data.layer or next(iter(spec.model.layers))].size
    return yaml.safe_dump({
        "name": "score-classifier", "seed": spec.seed, "data": data,
        "template": {"classifier": {
            "layers": [size, *settings.hidden], "hidden": "rectified", "classes": settings.classes,
            "finetune": {"epochs": settings.epochs, "batch_size": 100, "dropout": 0.2,
                         "optimizer": {"adam": {"lr": 0.001, "schedule": {"linear": {"end_factor": 0.1}}}}}}},
        "evaluate": {"filters": False}}, sort_keys=False)


def cache_dir() -> Path:
    return cache_root()


def score_classifier(spec, settings):
    """(judge, test accuracy): judge(x) -> (class probabilities (N, K), penultimate features (N, h))
    of the classifier, trained once per classifier spec and then read from the cache."""
    from ..model import Model
    from ..spec import parse_spec
    from .execute import run
    from .folder import RunFolder
    text = classifier_spec(spec, settings)
    folder = cache_dir() / f"score-classifier-{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    classifier = parse_spec(text, str(folder / "spec.yaml"))
    if not (folder / "summary.json").exists():
        run(classifier, out=folder, progress=False)
    summary = yaml.safe_load((folder / "summary.json").read_text())
    size = classifier.model.layers["v"].size  # the initial biases are overwritten by the checkpoint
    net = Model.from_spec(classifier, backend=spec.backend if spec.backend != "auto" else None,
                          data_mean={"v": np.full(size, 0.5)})
    net.load_parameters(RunFolder(folder).load_checkpoint())
    program, top = net.program, list(net.program.layers)[-2]

    def judge(x):
        tape = forward(program, net.params, {"v": net.xp.asarray(x, dtype=program.dtype)}, ("recognition",))
        return to_numpy(tape.output("y")), to_numpy(tape.output(top))

    return judge, 1.0 - summary["classification.test_error"]


__all__ = ["GanMonitor", "cache_dir", "classifier_spec", "generator_summary", "grid_of", "samples",
           "score_classifier"]
