"""Measures taken each epoch and after training, and the figures of a run."""
from __future__ import annotations

import dataclasses

import numpy as np

from ..backend import Rng, to_numpy
from ..data import Dataset
from ..eval import exact
from ..eval.ais import ais_log_partition, reverse_ais
from ..eval.probe import probe_error, train_probe
from ..eval.pseudo import pseudo_log_likelihood
from ..eval import belief
from ..eval.bound import unnormalised_bound
from ..eval.classify import classification_error
from ..eval.feedforward import AUTOENCODER, is_autoencoder, is_net, net_log_likelihood, pca_squared_error, squared_error
from ..eval.metrics import free_energy_gap, latent_means, mean_free_energy, reconstruction_error
from ..eval.mixture import grbm_components, has_mixture_form, kl_from_generator
from ..eval.recall import recall
from ..eval.variational import importance_log_likelihood
from ..model import Model
from ..objectives.backprop import PASSES
from ..objectives.variational import ElboObjective
from ..spec.schema import BACKPROP_RULES, EvaluateSpec, TrainSpec
from ..train.stages import stage_inputs
from .generators import GanMonitor, generator_summary, grid_of


class Probe:
    """Fixed train and test subsets on the backend, and the measures computed on them."""

    def __init__(self, model: Model, data: Dataset, evaluate: EvaluateSpec):
        count = evaluate.free_energy_gap.count if evaluate.free_energy_gap else 1000
        xp, dtype = model.xp, model.program.dtype
        # training intensities drawn afresh each epoch: monitor one fixed draw of them
        if data.resample:
            gen = np.random.default_rng([model.spec.seed if model.spec else 0, 0xB2])
            rows = data.train[:count]
            data = dataclasses.replace(data, train=(gen.random(rows.shape) < rows).astype(float))
        self.model, self.layer, self.evaluate = model, data.layer, evaluate
        self.train = {data.layer: xp.asarray(data.train[:count], dtype=dtype)}
        self.test = {data.layer: xp.asarray(data.test[:count], dtype=dtype)} if len(data.test) else None
        self.test_all = {data.layer: data.test} if len(data.test) else None
        self.train_rows = data.train
        self.discrete = model.layers[data.layer].units.discrete
        # every data layer (labels too), for the stages' monitors
        self.subsets = {split: {n: xp.asarray(x[:count], dtype=dtype) for n, x in data.arrays(split).items()}
                        for split in ("train", "test")}
        self.label_layer = data.label_layer
        self.test_labels = data.test_labels[:count] if data.label_layer and len(data.test) else None

    def for_stage(self, plans, plan, params: dict) -> "StageMonitor":
        """The monitor of one training stage: its sub-program on its clamped layers, which for a
        stage fed by earlier ones are the up-pass of the subsets (through ``params``)."""
        index = plan.index
        train = stage_inputs(plans, index, params, self.subsets["train"])
        test = stage_inputs(plans, index, params, self.subsets["test"]) if self.test is not None else None
        seed = self.model.spec.seed if self.model.spec else 0
        if plan.spec.rule == "adversarial":
            return GanMonitor(self, plan.program, test, seed, grid_of(self.model.spec) if self.model.spec else None)
        if plan.spec.rule in BACKPROP_RULES:
            return NetMonitor(self, plan.program, train, test, PASSES[plan.spec.rule], seed)
        return StageMonitor(self, plan.program, train, test)

    def exact_log_p(self, rows: np.ndarray) -> tuple[np.ndarray, float | None]:
        """(log p(v) of each row of the data layer, log Z or None for a DBN): by enumeration."""
        program, params = self.model.program, self.model.params
        data = {self.layer: self.model.xp.asarray(rows, dtype=program.dtype)}
        if program.generated:
            return belief.exact_log_likelihood(program, params, data), None
        log_z = exact.log_partition(program, params)
        return exact.log_likelihood(program, params, data, log_z), log_z

    def exact_log_likelihood(self) -> tuple[float, float | None]:
        ll, log_z = self.exact_log_p(self.test_all[self.layer])
        return float(ll.mean()), log_z

    def kl_from_data(self) -> float:
        """KL(p̂ ‖ p) from the training data's empirical distribution to the model's marginal."""
        distinct, counts = np.unique(self.train_rows, axis=0, return_counts=True)
        p_hat = counts / counts.sum()
        return float((p_hat * (np.log(p_hat) - self.exact_log_p(distinct)[0])).sum())


class StageMonitor:
    """Per-epoch measures of a stage: reconstruction and free energies on the stage's own
    sub-program and inputs; the exact log-likelihood and KL of the whole model (small models);
    with labels, the whole model's classification error on the test subset."""

    def __init__(self, probe: Probe, program, train: dict, test: dict | None):
        self.probe, self.program, self.train, self.test = probe, program, train, test

    def epoch_metrics(self) -> dict:
        m, p, probe = self.program, self.probe.model.params, self.probe
        out = {"recon_error_train": reconstruction_error(m, p, self.train)}
        if self.test is None:
            return out
        out["recon_error_test"] = reconstruction_error(m, p, self.test)
        if probe.evaluate.free_energy_gap:
            out["free_energy_train"] = mean_free_energy(m, p, self.train)
            out["free_energy_test"] = mean_free_energy(m, p, self.test)
            out["free_energy_gap"] = free_energy_gap(m, p, self.train, self.test)
        if probe.test_labels is not None:
            model = probe.model
            data = {probe.layer: probe.subsets["test"][probe.layer]}
            out["classification_error_test"] = classification_error(model.program, p, data, probe.test_labels, probe.label_layer)
        if probe.evaluate.log_likelihood and probe.evaluate.log_likelihood.method == "exact":
            out["log_likelihood_test"], _ = probe.exact_log_likelihood()
            if probe.discrete:
                out["kl_divergence"] = probe.kl_from_data()
        return out


class NetMonitor:
    """Per-epoch measures of a backpropagation stage on the fixed subsets: the loss (−log-likelihood
    of the targets per example), the squared reconstruction error of an autoencoder, and the
    classification error of a classifier."""

    def __init__(self, probe: Probe, program, train: dict, test: dict | None, passes: tuple, seed: int = 0):
        self.probe, self.program, self.train, self.test, self.passes = probe, program, train, test, passes
        self.seed = seed

    def epoch_metrics(self) -> dict:
        m, p = self.program, self.probe.model.params
        sets = {"train": self.train, **({"test": self.test} if self.test is not None else {})}
        out = {f"loss_{name}": -net_log_likelihood(m, p, data, self.passes) for name, data in sets.items()}
        layer = self.probe.layer
        if self.passes == AUTOENCODER:
            for name, data in sets.items():
                out[f"recon_error_{name}"] = squared_error(m, p, {layer: data[layer]})
            if self.program.stochastic:         # a VAE: the one-draw ELBO, the same draws every epoch
                for name, data in sets.items():
                    out[f"elbo_{name}"] = _elbo(m, p, {layer: data[layer]}, Rng(m.xp, self.seed, 0xE1B0))
        elif self.test is not None and self.probe.test_labels is not None:
            data = {self.probe.layer: self.test[self.probe.layer]}
            out["classification_error_test"] = classification_error(m, p, data, self.probe.test_labels,
                                                                    self.probe.label_layer)
        return out


def _elbo(program, params: dict, data: dict, rng) -> float:
    objective = ElboObjective(program, TrainSpec(rule="elbo"), tuple(data), 0)
    rows = next(iter(data.values())).shape[0]
    return float(objective.elbo(params, data, objective.noise(rows, rng)).mean())


def _net_summary(model: Model, data: Dataset, evaluate: EvaluateSpec) -> dict:
    """An autoencoder's squared reconstruction error on the whole test set, beside PCA's with a
    code of the same size (the size of the layers its decoder starts from)."""
    program = model.program
    if not evaluate.reconstruction or not is_autoencoder(program, data.layer) or not len(data.test):
        return {}
    test = {data.layer: model.xp.asarray(data.test, dtype=program.dtype)}
    code = sum(program.layers[c.a].size for c in program.directed
               if c.kind == "generative" and c.a not in program.generated)
    return {"reconstruction_error.test": squared_error(program, model.params, test),
            "reconstruction_error.pca": pca_squared_error(data.train, data.test, code),
            "reconstruction_error.code_size": code}


def _importance(model: Model, data: Dataset, spec) -> dict:
    """A VAE's test log-likelihood by importance sampling (the IWAE bound) and its ELBO."""
    if spec is None or spec.method != "importance" or not len(data.test):
        return {}
    rows = data.test[: spec.count]
    seed = model.spec.seed if model.spec else 0
    bound, elbo = importance_log_likelihood(model.program, model.params, {data.layer: rows}, spec.samples,
                                            Rng(model.xp, seed, 0x1AE))
    return {"log_likelihood.test_iwae": float(bound.mean()), "log_likelihood.test_iwae_k": spec.samples,
            "log_likelihood.test_iwae_examples": len(rows), "elbo.test": float(elbo.mean())}


TEST_MEASURES = ("reconstruction", "free_energy_gap", "log_likelihood", "pseudo_log_likelihood",
                 "probe", "recall")


def skipped_for_want_of_tests(data: Dataset | None, evaluate: EvaluateSpec) -> list[str]:
    """The asked-for measures of test data that an empty test set leaves out (log Z is still
    estimated without one)."""
    if data is None or data.ratings is not None or len(data.test):
        return []
    names = [n for n in TEST_MEASURES if getattr(evaluate, n)]
    return names + (["classification"] if data.label_layer else [])


def final_summary(model: Model, data: Dataset | None, evaluate: EvaluateSpec, probe: Probe | None) -> dict:
    summary = {}
    has_test = probe is not None and probe.test is not None
    if is_net(model.program):
        if data is None:
            return {}
        probe_out = _linear_probe(model, data, evaluate.probe) if evaluate.probe else {}
        return {**_net_summary(model, data, evaluate), **_labels(model, data), **probe_out,
                **_importance(model, data, evaluate.log_likelihood),
                **generator_summary(model, data, evaluate, model.spec)}
    if has_test:
        m, p = model.program, model.params
        if evaluate.reconstruction:
            summary["reconstruction_error"] = reconstruction_error(m, p, probe.test)
        if evaluate.free_energy_gap:
            summary["free_energy_gap"] = free_energy_gap(m, p, probe.train, probe.test)
    if evaluate.log_likelihood:
        summary.update(_log_likelihood(model, data if has_test else None, probe, evaluate.log_likelihood))
    if evaluate.pseudo_log_likelihood and has_test:
        test = probe.test[probe.layer][: evaluate.pseudo_log_likelihood.count]
        summary["pseudo_log_likelihood"] = float(pseudo_log_likelihood(
            model.program, model.params, test, probe.layer).mean())
    if evaluate.probe and data is not None:
        summary.update(_linear_probe(model, data, evaluate.probe))
    summary.update(_labels(model, data))
    if evaluate.recall and data is not None and len(data.test):
        r = evaluate.recall
        summary["recall"] = recall(model.program, model.params, data.layer, data.test, r.flip, r.mode,
                                   r.max_sweeps, model.spec.seed if model.spec else 0)
    return summary


def _labels(model: Model, data: Dataset | None) -> dict:
    """With labels in the model: the test set's classification error."""
    if data is None or not data.label_layer or not len(data.test):
        return {}
    test = {data.layer: model.xp.asarray(data.test, dtype=model.program.dtype)}
    return {"classification.test_error": classification_error(model.program, model.params, test, data.test_labels,
                                                              data.label_layer)}


def _log_likelihood(model: Model, data: Dataset | None, probe: Probe | None, spec) -> dict:
    """log Z (exact or AIS) and, with test data, the test set's mean log-likelihood."""
    if spec.method == "ais":
        return _ais(model, data, spec)
    if data is None:
        return {"log_z.exact": exact.log_partition(model.program, model.params)}
    out = {}
    out["log_likelihood.exact"], log_z = probe.exact_log_likelihood()
    test = {data.layer: model.xp.asarray(data.test, dtype=model.program.dtype)}
    if model.program.generated:         # a DBN: the recognition model's variational bound
        out["log_likelihood.exact_lower_bound"] = float(belief.exact_bound(model.program, model.params, test).mean())
    else:
        out["log_z.exact"] = log_z
        if not model.program.summable([n for n in model.layers if n != data.layer]):
            bound = unnormalised_bound(model.program, model.params, test, spec.meanfield_iterations)
            out["log_likelihood.exact_lower_bound"] = float(bound.mean()) - log_z
    if data.generator is not None and has_mixture_form(model.program, data.layer):
        parts = grbm_components(model.program, model.params, data.layer)
        out.update(kl_from_generator(np.asarray(data.test, dtype=float), data.generator, parts))
    if probe.discrete:
        out["kl_divergence.exact"] = probe.kl_from_data()
        if not model.program.generated:
            out.update(_codes(model, probe))
    return out


def _linear_probe(model: Model, data: Dataset, spec) -> dict:
    """Test error of softmax regression on E[h | v] (and on the raw data), labels and test
    examples required."""
    if data.train_labels is None or data.test_labels is None or not len(data.test):
        return {}
    xp, dtype = model.xp, model.program.dtype
    classes = int(max(data.train_labels.max(), data.test_labels.max())) + 1
    latent = [n for n in model.layers if n != data.layer and n != data.label_layer]

    def features(x):
        means = latent_means(model.program, model.params, {data.layer: xp.asarray(x, dtype=dtype)})
        return xp.concatenate([means[n] for n in latent if n in means], axis=1)

    out = {}
    sets = {"probe.test_error": (features(data.train), features(data.test))}
    if spec.raw:
        sets["probe.raw_test_error"] = (xp.asarray(data.train, dtype=dtype), xp.asarray(data.test, dtype=dtype))
    for key, (train, test) in sets.items():
        fitted = train_probe(xp, train, data.train_labels, classes, spec.epochs, spec.lr, spec.l2)
        out[key] = probe_error(fitted, test, data.test_labels)
    return out


def _ais(model: Model, data: Dataset | None, spec) -> dict:
    """log Z by forward AIS with its ±3σ bounds; with test data, the mean test log-likelihood from it
    (when the latent layers sum out given the data) and the reverse-AIS estimate beside it."""
    program, seed = model.program, model.spec.seed if model.spec else 0
    layer = data.layer if data is not None else None
    mean = data.train.mean(axis=0) if data is not None else None
    r = ais_log_partition(program, model.params, spec.runs, spec.steps, spec.spacing, mean, seed, layer)
    out = {"log_z.ais": r.log_z, "log_z.ais_lower": r.lower, "log_z.ais_upper": r.upper,
           "ais.runs": spec.runs, "ais.steps": spec.steps, "ais.log_weights": r.log_weights.tolist()}
    latent = [n for n in program.layers if n != layer]
    if data is None:
        return out
    test = model.xp.asarray(data.test, dtype=program.dtype)
    if not program.summable(latent):
        if spec.reverse:
            out["ais.reverse_examples"] = 0     # reverse AIS would need p(latent | v) to start from
        return {**out, **_variational(model, {layer: test}, r, spec)}
    mean_f = float(to_numpy(model.free_energy({layer: test})).mean()) / program.temperature
    out.update({"log_likelihood.test": -mean_f - r.log_z, "log_likelihood.test_lower": -mean_f - r.upper,
                "log_likelihood.test_upper": -mean_f - r.lower})
    if spec.reverse:
        chosen = np.random.default_rng(seed).permutation(len(data.test))[: spec.reverse]
        rev = reverse_ais(program, model.params, {layer: test[model.xp.asarray(chosen)]}, spec.steps,
                          spec.spacing, mean, seed)
        out.update({"log_z.reverse_ais": rev.log_z, "log_z.reverse_ais_lower": rev.lower,
                    "log_z.reverse_ais_upper": rev.upper, "log_likelihood.test_reverse": -mean_f - rev.log_z,
                    "ais.reverse_examples": len(chosen), "ais.reverse_log_z": rev.log_z_each.tolist()})
    return out


def _variational(model: Model, test: dict, log_z, spec) -> dict:
    """The mean-field lower bound on the test log-likelihood, with log Z's ±3σ carried through."""
    bound = float(unnormalised_bound(model.program, model.params, test, spec.meanfield_iterations).mean())
    return {"log_likelihood.test_lower_bound": bound - log_z.log_z,
            "log_likelihood.test_lower_bound_lower": bound - log_z.upper,
            "log_likelihood.test_lower_bound_upper": bound - log_z.lower}


def _codes(model: Model, probe: Probe) -> dict:
    """The latent code each distinct test pattern evokes, when the latent part is enumerable."""
    latent = [n for n in model.layers if n != probe.layer]
    if not latent or not all(model.layers[n].units.discrete for n in latent):
        return {}
    patterns = np.unique(probe.test_all[probe.layer], axis=0)
    try:
        codes = exact.latent_codes(model.program, model.params,
                                   {probe.layer: model.xp.asarray(patterns, dtype=model.program.dtype)})
    except ValueError:          # too many latent states to enumerate
        return {}
    joined = np.concatenate([to_numpy(codes[n]) for n in latent], axis=1)
    return {"latent_codes": joined.astype(int).tolist(),
            "latent_codes.distinct": int(len(np.unique(joined, axis=0))), "latent_codes.patterns": len(patterns)}
