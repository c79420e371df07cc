"""The figures of a run: model samples, filters, training curves; for an autoencoder, test images
beside their reconstructions.

Samples are Gibbs chains of the energy model, or for a DBN ancestral samples: Gibbs in its top
RBM, then one top-down pass (one row per class when its labels are in the top). A generator (a
VAE's decoder, a GAN's generator) draws its latents from their prior; its figures add latent
interpolations (between test images' codes for a VAE, between prior draws for a GAN) and, for a
2-D latent, the manifold the decoder maps a grid of latent quantiles to.
"""
from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from ..data import Dataset
from ..model import Model
from ..eval.feedforward import autoencode, is_autoencoder, is_net, principal_components
from ..backend import Rng
from ..eval.generative import generate, interpolations, latent_grid, latents, prior_draws
from ..eval.metrics import latent_means
from ..eval.mixture import grbm_components, has_mixture_form, mixture_log_density
from ..kernels.backprop import forward
from ..report import save_codes, save_curves, save_mosaic, save_scatter
from ..report.figures import save_densities
from ..spec.schema import EvaluateSpec
from .folder import RunFolder


def draw_figures(model: Model, data: Dataset | None, evaluate: EvaluateSpec, folder: RunFolder, seed: int) -> list:
    drawn = []
    layer = data.layer if data else next(iter(model.layers))
    shape = data.shape if data and data.shape else model.layers[layer].shape
    net = is_net(model.program)
    if net and data is not None and is_autoencoder(model.program, layer) and shape is not None and len(shape) == 2 \
            and evaluate.reconstruction and len(data.test):
        save_mosaic(folder.file("reconstructions.png"), _reconstructions(model, data, layer), tuple(shape),
                    "test images (odd rows) and their reconstructions (even rows)", columns=10)
        drawn.append("reconstructions.png")
    if net and evaluate.samples and latents(model.program, data.layers if data else ()):
        drawn += _generator_figures(model, data, layer, shape, evaluate, folder, seed)
    if evaluate.samples and not net:
        shown = _samples(model, data, layer, evaluate.samples, seed)
        if shape is not None and len(shape) == 2:
            how = "top-RBM sweeps, then a top-down pass" if model.program.generated else "Gibbs sweeps"
            save_mosaic(folder.file("samples.png"), shown, tuple(shape),
                        f"samples after {evaluate.samples.steps} {how}")
            drawn.append("samples.png")
        elif data is not None and model.layers[layer].units.name == "gaussian":
            save_scatter(folder.file("samples.png"), data.test, shown, "data and model samples")
            drawn.append("samples.png")
    filters = _filters(model, layer, evaluate)
    if filters is not None and shape is not None and len(shape) == 2:
        save_mosaic(folder.file("filters.png"), filters, tuple(shape), "weights into hidden units", signed=True)
        drawn.append("filters.png")
    if evaluate.codes and data is not None and data.test_labels is not None:
        _codes(model, data, evaluate.codes, folder)
        drawn.append("codes.png")
    if (data is not None and data.generator is not None and model.layers[layer].size >= 2
            and has_mixture_form(model.program, layer)):         # a density over 2 coordinates
        _densities(model, data, folder)
        drawn.append("density.png")
    metrics = folder.read_metrics()
    if len(metrics) > 1:                        # a curve needs two points
        save_curves(folder.file("curves.png"), metrics,
                    ("recon_error_train", "recon_error_test", "loss_train", "loss_test", "free_energy_gap",
                     "log_likelihood_test", "kl_divergence", "classification_error_test", "elbo_train",
                     "elbo_test"))
        drawn.append("curves.png")
    return drawn


def _densities(model: Model, data: Dataset, folder: RunFolder, points: int = 200) -> None:
    """density.png: the generating mixture's density and the model's exact one over the first two
    coordinates (both exact marginals), the test points over them."""
    test = np.asarray(data.test, dtype=float)
    lo, hi = float(test[:, :2].min()) - 0.5, float(test[:, :2].max()) + 0.5
    axis = np.linspace(lo, hi, points)
    grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)[:, : test.shape[1]]
    means, std = data.generator
    star = mixture_log_density(grid, np.full(len(means), -np.log(len(means))), means, std)
    mine = mixture_log_density(grid, *grbm_components(model.program, model.params, data.layer))
    shape = (points, points) if test.shape[1] > 1 else (1, points)
    kind = "" if test.shape[1] <= 2 else f" (coordinates 1–2 of {test.shape[1]})"
    save_densities(folder.file("density.png"), (lo, hi),
                   [(f"data-generating mixture{kind}", star.reshape(shape)),
                    (f"the RBM's exact marginal{kind}", mine.reshape(shape))], test)


def _generator_figures(model: Model, data, layer: str, shape, evaluate: EvaluateSpec, folder: RunFolder,
                       seed: int) -> list:
    """samples.png, interpolations.png and (2-D latent) manifold.png of a generator."""
    program, params, rng = model.program, model.params, Rng(model.xp, seed, 0x6E4)
    data_layers = data.layers if data else ()
    draws = prior_draws(program, params, evaluate.samples.count, rng, data_layers)
    samples = generate(program, params, draws, layer)
    images = shape is not None and len(shape) == 2
    if images:
        save_mosaic(folder.file("samples.png"), samples, tuple(shape),
                    "generated from latents drawn from the prior")
    elif samples.shape[1] == 2 and data is not None:
        save_scatter(folder.file("samples.png"), data.test, samples, "data and generated samples")
    else:
        return []
    drawn = ["samples.png"]
    if not images:
        return drawn
    ends = _interpolation_ends(model, data, rng, data_layers, pairs=8)
    path = generate(program, params, {k: model.xp.asarray(v, dtype=program.dtype)
                                      for k, v in interpolations(*ends, steps=10).items()}, layer)
    save_mosaic(folder.file("interpolations.png"), path, tuple(shape),
                "straight lines in latent space, decoded",
                columns=10)
    drawn.append("interpolations.png")
    names = latents(program, data_layers)
    if len(names) == 1 and program.layers[names[0]].size == 2:
        grid = {names[0]: model.xp.asarray(latent_grid(20), dtype=program.dtype)}
        save_mosaic(folder.file("manifold.png"), generate(program, params, grid, layer), tuple(shape),
                    "the decoder over a 20 × 20 grid of latent quantiles", columns=20)
        drawn.append("manifold.png")
    return drawn


def _interpolation_ends(model: Model, data, rng, data_layers: tuple, pairs: int) -> tuple:
    """Two sets of latents to join: a VAE's posterior means of test images, else prior draws."""
    program = model.program
    if program.stochastic and data is not None and len(data.test) >= 2 * pairs:
        x = model.xp.asarray(data.test[: 2 * pairs], dtype=program.dtype)
        means = latent_means_of(model, {data.layer: x})
        return ({k: v[:pairs] for k, v in means.items()}, {k: v[pairs:] for k, v in means.items()})
    return (prior_draws(program, model.params, pairs, rng, data_layers),
            prior_draws(program, model.params, pairs, rng, data_layers))


def latent_means_of(model: Model, data: dict) -> dict:
    """A VAE's posterior means μ(x) of its stochastic layers."""
    tape = forward(model.program, model.params, data, ("recognition",))
    return {z: tape.output(z) for z in model.program.stochastic}


def _samples(model: Model, data: Dataset | None, layer: str, spec, seed: int) -> np.ndarray:
    """The data layer's conditional means after ``spec.steps`` sweeps (smoother than one draw)."""
    if model.program.generated:
        return _ancestral(model, data, layer, spec, seed)
    start = None
    if spec.start == "data" and data is not None and len(data.test):
        start = {layer: data.test[np.arange(spec.count) % len(data.test)]}
    state = model.sample(spec.count, spec.steps, seed, start=start)
    means = to_numpy(model.layers[layer].units.mean(model.conditional(layer, state)))
    if data is not None and data.scale is not None:     # back to intensities
        means = np.clip(means * data.scale[1] + data.scale[0], 0, 1)
    return means


def _reconstructions(model: Model, data: Dataset, layer: str, per_row: int = 10, pairs: int = 5) -> np.ndarray:
    """Rows of ``per_row`` test images, each followed by the row of their reconstructions."""
    x = data.test[: per_row * pairs]
    given = {layer: model.xp.asarray(x, dtype=model.program.dtype)}
    out = to_numpy(autoencode(model.program, model.params, given)[layer])
    rows = [block for i in range(0, len(x), per_row) for block in (x[i:i + per_row], out[i:i + per_row])]
    return np.concatenate(rows, axis=0)


def _codes(model: Model, data: Dataset, spec, folder: RunFolder) -> None:
    """The first two units' posterior means against the first two principal components."""
    layer = spec.layer or list(model.layers)[-1]
    x = data.test[: spec.count]
    means = latent_means(model.program, model.params, {data.layer: model.xp.asarray(x, dtype=model.program.dtype)})
    save_codes(folder.file("codes.png"), to_numpy(means[layer])[:, :2], principal_components(data.train, x, 2),
               data.test_labels[: spec.count], layer)


def _ancestral(model: Model, data: Dataset | None, layer: str, spec, seed: int) -> np.ndarray:
    """DBN samples; with labels in the top, ``count`` // classes rows of each class in turn."""
    program, xp = model.program, model.xp
    labels = data.label_layer if data is not None else None
    clamp = None
    if labels:
        classes = program.layers[labels].size
        per = max(1, spec.count // classes)
        clamp = {labels: xp.asarray(np.repeat(np.eye(classes), per, axis=0), dtype=program.dtype)}
    count = spec.count if clamp is None else next(iter(clamp.values())).shape[0]
    return to_numpy(model.sample(count, spec.steps, seed, clamp=clamp)[layer])


def _filters(model: Model, layer: str, evaluate: EvaluateSpec) -> np.ndarray | None:
    """Rows: the weights between ``layer`` and each of the first hidden units it couples to
    (for a generated layer, its generative weights from the layer above)."""
    if not evaluate.filters:
        return None
    for c, is_a in model.program.incident[layer]:
        if not c.lateral:
            w = to_numpy(model.params[c.key])
            w = w.T if is_a else w
            return w[: evaluate.filters.count]
    for c in model.program.directed_into(layer, "generative"):
        w = to_numpy(model.params[c.key])
        return (w.T if c.transposed else w)[: evaluate.filters.count]
    for c in model.program.directed:        # a classifier: the recognition weights out of the data layer
        if c.a == layer and c.kind == "recognition":
            w = to_numpy(model.params[c.key])
            return (w if c.transposed else w.T)[: evaluate.filters.count]
    return None
