"""Cross-field rules of the `evaluate` section: which measures the declared model admits (an
energy to anneal or sum, an RBM for the pseudo-likelihood, labels for codes, a generator for the
sample measures). Each rule yields ``(dotted path, message)``, as in ``checks.py``.
"""
from __future__ import annotations

from typing import Iterator

from .constraints import suggest
from .schema import Spec
from .types import LogLikelihoodSpec
from .stage_checks import (LABELLED_SOURCES, Problem, data_layer, generator_latents, is_net,
                           stochastic_layers)
from .values import FEEDFORWARD_UNIT_TYPES


MNIST_CLASSES = 10


def evaluate_problems(spec: Spec) -> Iterator[Problem]:
    yield from _codes(spec)
    yield from _estimator_options(spec)
    if spec.evaluate.probe is not None and (spec.data is None
                                            or spec.data.source not in LABELLED_SOURCES):
        yield ("evaluate.probe", "evaluate.probe fits a classifier to the latent code: it needs "
               "labelled data (mnist, mnist-embedded, gaussian-mixture, gaussian-grid or a file "
               "with labels)")
    yield from _evaluate(spec)
    yield from _generator_measures(spec)


def _codes(spec: Spec) -> Iterator[Problem]:
    codes, layers = spec.evaluate.codes, spec.model.layers
    if codes is None:
        return
    name = codes.layer or list(layers)[-1]
    at = "evaluate.codes.layer"
    if name not in layers:
        yield at, f"{at} names unknown layer '{name}'{suggest(name, layers)}"
    elif layers[name].size < 2:
        yield at, f"evaluate.codes: layer '{name}' has fewer than 2 units to plot"
    elif spec.data is None or spec.data.source not in LABELLED_SOURCES:
        yield "evaluate.codes", "evaluate.codes needs labelled data to encode and colour by class"


METHOD_OPTIONS = {"samples": ("importance",), "count": ("importance",), "runs": ("ais",),
                  "steps": ("ais",), "spacing": ("ais",), "reverse": ("ais",),
                  "meanfield_iterations": ("exact", "ais")}


def _estimator_options(spec: Spec) -> Iterator[Problem]:
    """An option of another estimator than the method's, set away from its default (a resolved
    spec writes every default, which stays harmless)."""
    ll = spec.evaluate.log_likelihood
    if ll is None:
        return
    for name, methods in METHOD_OPTIONS.items():
        if ll.method not in methods and getattr(ll, name) != getattr(LogLikelihoodSpec(), name):
            at = f"evaluate.log_likelihood.{name}"
            yield at, f"{at} applies to method {' or '.join(methods)}, not {ll.method}"


def _generator_measures(spec: Spec) -> Iterator[Problem]:
    ev, source = spec.evaluate, spec.data.source if spec.data is not None else None
    for name, ok, need in (("modes", source == "gaussian-grid", "gaussian-grid data"),
                           ("classifier_score", source in ("mnist", "mnist-embedded"),
                            "MNIST (source mnist or mnist-embedded)")):
        if getattr(ev, name) is None:
            continue
        if not generator_latents(spec):
            yield (f"evaluate.{name}",
                   f"evaluate.{name} measures a generator's samples (a GAN or VAE template)")
        elif not ok:
            yield f"evaluate.{name}", f"evaluate.{name} needs {need}"
        elif name == "classifier_score" and ev.classifier_score.classes != MNIST_CLASSES:
            yield ("evaluate.classifier_score.classes", "evaluate.classifier_score.classes: "
                   f"MNIST has {MNIST_CLASSES} classes, not {ev.classifier_score.classes}")


def _evaluate(spec: Spec) -> Iterator[Problem]:
    """Estimators that assume an energy over every layer, refused for a DBN (generative couplings)
    and, when written out, for a feed-forward net (no undirected coupling: nothing to sample)."""
    ll = spec.evaluate.log_likelihood
    missing = [n for n, layer in spec.model.layers.items() if layer.missing]
    for name in ("log_likelihood", "pseudo_log_likelihood"):
        if missing and getattr(spec.evaluate, name) is not None:
            yield (f"evaluate.{name}", f"evaluate.{name}: layer '{missing[0]}' has missing "
                   "groups, so each example has a model (and a partition function) of its own; "
                   "ratings are judged by RMSE")
    yield from _pseudo_likelihood(spec)
    if ll is not None and ll.method == "importance" and not stochastic_layers(spec):
        yield ("evaluate.log_likelihood.method", "evaluate.log_likelihood: importance sampling "
               "draws from a VAE's encoder; it needs a recognition coupling with head: log_variance")
        return
    if is_net(spec):
        allowed = {"log_likelihood": ll is not None and ll.method == "importance",
                   "samples": bool(generator_latents(spec))}
        for name in ("log_likelihood", "pseudo_log_likelihood", "free_energy_gap", "samples"):
            asked = getattr(spec.evaluate, name) and spec.written(f"evaluate.{name}")
            if asked and not allowed.get(name):
                yield (f"evaluate.{name}", f"evaluate.{name} needs an energy to sample or sum, but "
                       "this model is a feed-forward net (directed couplings only)")
        return
    if not any(c.kind == "generative" for c in spec.model.couplings):
        return
    if ll is not None and ll.method == "ais":
        yield ("evaluate.log_likelihood.method", "evaluate.log_likelihood: ais anneals an energy "
               "over every layer; a DBN's lower layers are generated, not in the energy: use "
               "method exact (small models)")


def _pseudo_likelihood(spec: Spec) -> Iterator[Problem]:
    """PLL (``eval/pseudo.py``) flips one visible unit at a time with the hidden layer summed
    out: an RBM, binary or spin data, a discrete hidden layer."""
    if not spec.evaluate.pseudo_log_likelihood or spec.data is None:
        return
    at = "evaluate.pseudo_log_likelihood"
    layers, couplings = spec.model.layers, spec.model.couplings
    data = data_layer(spec)
    hidden = [n for n in layers if n != data]
    if (len(layers) != 2 or len(couplings) != 1 or couplings[0].lateral
            or couplings[0].directed or data not in layers):
        yield at, f"{at} needs an RBM: two layers joined by one undirected coupling"
    elif layers[data].units not in ("binary", "spin"):
        yield at, f"{at} flips binary or spin units; layer '{data}' is {layers[data].units}"
    elif layers[hidden[0]].units in ("gaussian", *FEEDFORWARD_UNIT_TYPES):
        yield at, f"{at} needs a discrete hidden layer; '{hidden[0]}' is {layers[hidden[0]].units}"
