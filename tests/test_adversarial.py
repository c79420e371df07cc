"""The GAN (rule `adversarial`): both players' gradients against finite differences, alternation
and resume, and the measures of generated samples on known inputs.

GANs are drawn as specs: a gaussian latent z of 1–2 units, a generator of 0–2 hidden layers (any
unit type) into a binary or gaussian data layer, a discriminator of 1–2 hidden layers into one
binary unit, reading the data layer or, packed (PacGAN), a layer of two samples side by side;
any hidden layer of either player may be batch-normalised. With an R1 penalty the
discriminator's hidden units are rectified or leaky and none is normalised.
"""
from __future__ import annotations

import numpy as np
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ebmlang import compile_spec, parse_spec
from ebmlang.backend import Rng
from ebmlang.eval.generative import mode_coverage
from ebmlang.eval.sample_quality import class_shares, classifier_score, frechet_distance
from ebmlang.kernels.backprop import forward
from ebmlang.kernels.input_gradient import input_gradient
from ebmlang.data.synthetic import grid_means
from ebmlang.objectives import make_objective
from ebmlang.spec.types import TrainSpec
from ebmlang.spec.values import PIECEWISE_LINEAR

from runs import assert_matches_finite_differences
from test_backprop import _data, _layer

HIDDEN = ("binary", "spin", "gaussian", "rectified", "leaky")
INIT = {"normal": {"std": 0.7}}


def gan_spec(data: str, generator: list, discriminator: list, latent: int, pack: int,
             normalized: tuple = ()) -> dict:
    """``normalized``: the hidden layers with `normalize: batch`."""
    layers = {"v": _layer(data, 3), "z": {"size": latent, "units": "gaussian"}}
    layers.update({f"g{i}": _layer(k, 2) for i, k in enumerate(generator)})
    source = "v" if pack == 1 else "packed"
    if pack > 1:
        layers["packed"] = {**_layer(data, 3), "size": 3 * pack}
    layers.update({f"d{i}": _layer(k, 2) for i, k in enumerate(discriminator)})
    layers["d"] = {"size": 1, "units": "binary"}
    for name in normalized:
        layers[name]["normalize"] = {"batch": {"momentum": 0.3, "epsilon": 1e-3}}
    gen = ["z"] + [f"g{i}" for i in range(len(generator))] + ["v"]
    dis = [source] + [f"d{i}" for i in range(len(discriminator))] + ["d"]
    couplings = [{"between": [a, b], "kind": "generative", "init": INIT} for a, b in zip(gen, gen[1:])]
    couplings += [{"between": [a, b], "kind": "recognition", "init": INIT} for a, b in zip(dis, dis[1:])]
    return {"name": "gan", "dtype": "float64", "model": {"layers": layers, "couplings": couplings}}


@st.composite
def gans(draw):
    generator = [draw(st.sampled_from(HIDDEN)) for _ in range(draw(st.integers(0, 2)))]
    discriminator = [draw(st.sampled_from(HIDDEN)) for _ in range(draw(st.integers(1, 2)))]
    hidden = [f"g{i}" for i in range(len(generator))] + [f"d{i}" for i in range(len(discriminator))]
    normalized = tuple(name for name in hidden if draw(st.booleans()))
    return gan_spec(draw(st.sampled_from(["binary", "gaussian"])), generator, discriminator,
                    draw(st.integers(1, 2)), draw(st.sampled_from([1, 2])), normalized)


def _game(spec: dict, backend: str, seed: int, **stage):
    """The objective of rule adversarial (``stage``: TrainSpec fields) on ``spec`` with perturbed
    parameters, 4 real rows, 4 latent draws, and ``rng()``, which gives the same dropout masks to
    the gradient and every value: (xp, params, objective, real, z, rng)."""
    model = compile_spec(parse_spec(yaml.safe_dump(spec), "gan.yaml"), backend)
    program, xp, gen = model.program, model.xp, np.random.default_rng(seed)
    params = {k: v if k.startswith(("sigma.", "run")) else v + xp.asarray(gen.normal(0, 0.3, v.shape))
              for k, v in model.params.items()}
    objective = make_objective(program, TrainSpec(rule="adversarial", **stage), ("v",), seed)
    real = xp.asarray(_data(program, "v", 4, gen))
    z = objective.draw(params, 4, Rng(xp, seed, 1))
    return xp, params, objective, real, z, lambda: Rng(xp, seed, 2)


@settings(max_examples=80, deadline=None)
@given(gans(), st.sampled_from([0.0, 0.3]), st.integers(0, 2 ** 16), st.sampled_from([1.0, 0.9]))
def test_both_players_gradients_match_finite_differences(backend, spec, dropout, seed, real_label):
    xp, params, objective, real, z, rng = _game(spec, backend, seed, dropout=dropout, real_label=real_label)
    d_grads = objective.discriminator_gradient(params, real, z, rng())
    g_grads = objective.generator_gradient(params, z, rng())
    assert set(d_grads) == set(objective.discriminator) and set(g_grads) == set(objective.generator)
    assert_matches_finite_differences(lambda p: objective.value_d(p, real, z, rng()), params, d_grads,
                                      objective.discriminator, xp)
    assert_matches_finite_differences(lambda p: objective.value_g(p, z, rng()), params, g_grads,
                                      objective.generator, xp)


@st.composite
def penalised_gans(draw):
    """GANs whose discriminator may carry an R1 penalty: rectified or leaky hidden units, none
    batch-normalised."""
    generator = [draw(st.sampled_from(HIDDEN)) for _ in range(draw(st.integers(0, 2)))]
    discriminator = [draw(st.sampled_from(PIECEWISE_LINEAR)) for _ in range(draw(st.integers(1, 2)))]
    return gan_spec(draw(st.sampled_from(["binary", "gaussian"])), generator, discriminator,
                    draw(st.integers(1, 2)), draw(st.sampled_from([1, 2])))


@settings(max_examples=40, deadline=None)
@given(penalised_gans(), st.sampled_from([0.0, 0.3]), st.integers(0, 2 ** 16), st.sampled_from([0.5, 3.0]))
def test_r1_penalised_discriminator_gradient_matches_finite_differences(backend, spec, dropout, seed, gamma):
    """J_D − γ/2 Σ ‖∂ℓ/∂x‖² on real packs: its gradient (double backprop through the tangent
    tape) against central differences of ``value_d``, with the same dropout masks."""
    xp, params, objective, real, z, rng = _game(spec, backend, seed, dropout=dropout, r1_penalty=gamma)
    grads = objective.discriminator_gradient(params, real, z, rng())
    plain = make_objective(objective.program, TrainSpec(rule="adversarial", dropout=dropout), ("v",), seed)
    assert objective.value_d(params, real, z, rng()) <= plain.value_d(params, real, z, rng())
    assert_matches_finite_differences(lambda p: objective.value_d(p, real, z, rng()), params, grads,
                                      objective.discriminator, xp)


@settings(max_examples=30, deadline=None)
@given(penalised_gans(), st.integers(0, 2 ** 16), st.sampled_from([1.0, 2.0]))
def test_input_gradient_of_the_logit_matches_finite_differences(spec, seed, temperature):
    """∂ℓ/∂x of the discriminator's logit ℓ = (b + u)/T, which the R1 penalty squares, against
    central differences in each input."""
    spec["model"]["temperature"] = temperature
    model = compile_spec(parse_spec(yaml.safe_dump(spec), "gan.yaml"))
    program, gen = model.program, np.random.default_rng(seed)
    params = {k: v if k.startswith("sigma.") else v + gen.normal(0, 0.3, v.shape) for k, v in model.params.items()}
    objective = make_objective(program, TrainSpec(rule="adversarial"), ("v",), seed)
    x = _data(program, "v", 4, gen).reshape(4 // objective.pack, -1)

    def logit(x):
        tape = forward(program, params, {objective.input: x}, ("recognition",))
        return tape, tape.conds[(0, objective.judge)].logit[:, 0]

    tape, _ = logit(x)
    g = input_gradient(program, params, tape, (0, objective.judge))[objective.input]
    slope = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        for sign in (1, -1):
            shifted = x.copy()
            shifted[i] += sign * 1e-6
            slope[i[0], i[1]] += sign * logit(shifted)[1][i[0]] / 2e-6
    np.testing.assert_allclose(g, slope, rtol=1e-5, atol=1e-6)


def test_generator_steps_follow_every_kth_discriminator_step():
    spec = gan_spec("gaussian", ["rectified"], ["rectified"], 2, 1)
    model = compile_spec(parse_spec(yaml.safe_dump(spec), "gan.yaml"))
    objective = make_objective(model.program, TrainSpec(rule="adversarial", discriminator_steps=3), ("v",), 0)
    state = objective.init_state(model.params)
    batch = {"v": np.random.default_rng(0).normal(size=(6, 3))}
    players = []
    for _ in range(6):
        for grads, _ in objective.updates(model.params, state, batch, Rng(np, 0, 1)):
            players.append("G" if set(grads) == set(objective.generator) else "D")
    assert "".join(players) == "DDDGDDDG"


def test_mode_coverage_of_the_mixture_and_of_a_collapsed_generator():
    means, std = grid_means(5, 2.0), 0.05
    gen = np.random.default_rng(0)
    real = means[gen.integers(0, 25, 2500)] + std * gen.normal(size=(2500, 2))
    full = mode_coverage(real, means, std)
    assert full["modes"] == 25 and full["high_quality"] > 0.97          # 1 − e^{−9/2} ≈ 0.989
    collapsed = mode_coverage(means[7] + std * gen.normal(size=(2500, 2)), means, std)
    assert collapsed["modes"] == 1
    spread = mode_coverage(gen.uniform(-5, 5, (2500, 2)), means, std)
    assert spread["high_quality"] < 0.1


def test_classifier_score_and_frechet_distance_on_known_inputs():
    k, gen = 10, np.random.default_rng(0)
    confident = np.eye(k)[gen.integers(0, k, 5000)]
    assert abs(classifier_score(confident) - k) < 0.1            # every class, each sample certain
    assert abs(classifier_score(np.eye(k)[np.full(5000, 3)]) - 1) < 1e-6      # one class only
    assert abs(classifier_score(np.full((100, k), 1 / k)) - 1) < 1e-6      # all ambiguous
    assert class_shares(np.eye(k)[[0, 0, 1, 2]], k)[:3] == [0.5, 0.25, 0.25]
    a = gen.normal(size=(20000, 3))
    assert frechet_distance(a, gen.normal(size=(20000, 3))) < 0.01
    shifted = frechet_distance(a, gen.normal(size=(20000, 3)) + [1.0, 2.0, 0.0])
    assert abs(shifted - 5.0) < 0.1
    scaled = frechet_distance(a, 2 * gen.normal(size=(20000, 3)))      # tr(1 + 4 − 2·2) per dim = 1
    assert abs(scaled - 3.0) < 0.1


def test_a_batch_smaller_than_a_pack_is_refused_by_validate(capsys):
    from conftest import ROOT
    from ebmlang.cli import main
    spec = ROOT / "specs" / "gan-grid.yaml"
    assert main(["validate", str(spec), "--set", "template.gan.pack=101"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "batch_size 100 is smaller than the pack of 101 samples" in err
