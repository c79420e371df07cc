"""Gaussian–Bernoulli RBMs: the Gibbs–Langevin sampler's stationarity, gradient clipping, the
divergence watch, standardised data and the exact mixture check."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import yaml

from ebmlang import compile_spec, parse_spec
from ebmlang.backend import Rng, to_numpy
from ebmlang.kernels import block_update
from ebmlang.kernels.langevin import langevin_moves
from ebmlang.train import Trainer
from ebmlang.train.optim import Optimizers, clipped_scale
from ebmlang.units.types import Normal
from ebmlang.spec.constraints import Choice
from ebmlang.spec.types import SgdSpec

from runs import run_spec
from strategies import compile_dict


def test_langevin_moves_keep_a_gaussian_and_move():
    """x ~ N(m, s²) exactly, five adjusted steps: still N(m, s²), and most units moved."""
    gen = np.random.default_rng(0)
    n = 200_000
    m, s = np.array([0.5, -2.0, 3.0]), np.array([1.0, 0.3, 2.5])
    x = m + s * gen.standard_normal((n, 3))
    cond = Normal(np.broadcast_to(m, x.shape), np.broadcast_to(s, x.shape))
    y = langevin_moves(cond, x, Rng(np, 1), steps=5, step_size=0.7)
    z = (y - m) / s
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=5 / np.sqrt(n))
    np.testing.assert_allclose(z.var(axis=0), 1, atol=5 * np.sqrt(2 / n))
    np.testing.assert_allclose((z ** 3).mean(axis=0), 0, atol=5 * np.sqrt(15 / n))
    assert (y != x).mean() > 0.5


@st.composite
def grbm_specs(draw):
    return {"name": "grbm", "seed": draw(st.integers(0, 999)), "dtype": "float64", "model": {
        "layers": {"v": {"size": draw(st.integers(1, 2)), "units": "gaussian",
                         "sigma": draw(st.sampled_from([0.5, 1.0, 1.5])), "bias": {"normal": {"std": 1.0}}},
                   "h": {"size": draw(st.integers(1, 2)), "units": "binary", "bias": {"normal": {"std": 1.0}}}},
        "couplings": [{"between": ["v", "h"], "init": {"normal": {"std": 1.0}}}]}}


def _exact_joint_draws(model, n, gen):
    """(v, h) from the GRBM's exact joint: h from p(h) ∝ e^{c·h + A_v(W h)} (v integrated out),
    then v | h; also p(h) and the hidden states."""
    from ebmlang.kernels import conditional, layer_params
    program, params = model.program, model.params
    states = program.layers["h"].units.states(program.layers["h"].size)
    cond_v = conditional(program, params, {"h": states}, "v")
    p_v = layer_params(program, params, "v")
    inputs = (to_numpy(cond_v.mean) - to_numpy(p_v.bias)) / to_numpy(p_v.sigma)        # u = W h
    log_w = states @ to_numpy(params["bias.h"]) + to_numpy(program.layers["v"].units.log_partition(inputs, p_v, 1.0))
    p_h = np.exp(log_w - log_w.max())
    p_h /= p_h.sum()
    pick = gen.choice(len(states), n, p=p_h)
    mean, std = to_numpy(cond_v.mean)[pick], to_numpy(cond_v.std)[pick]
    return {"v": mean + std * gen.standard_normal(mean.shape), "h": states[pick]}, p_h, states


@pytest.mark.parametrize("fused", [False, True])
@settings(max_examples=10)
@given(grbm_specs(), st.integers(0, 2**16), st.sampled_from([0.2, 0.6, 1.0]))
def test_one_gibbs_sweep_leaves_the_joint_invariant(fused, spec, seed, step):
    """Exact draws of (v, h), one sweep with v moved by adjusted Langevin steps, or (``fused``)
    drawn exactly through the fused conditionals of a counter-based stream (the GPU's
    arithmetic, units/fields.py): the hidden marginal and each hidden state's v mean and variance
    stay those of the model."""
    model = compile_dict(spec)
    gen = np.random.default_rng(seed)
    n = 40_000
    state, p_h, states = _exact_joint_draws(model, n, gen)
    rng = Rng(np, seed, 7, counter_based=fused)
    for block in model.program.schedule:
        state = block_update(model.program, model.params, state, block, rng,
                             langevin=None if fused else (3, step))
    v, h = to_numpy(state["v"]), to_numpy(state["h"])
    index = (h * 2 ** np.arange(h.shape[1])[::-1]).sum(axis=1).astype(int)
    counts = np.bincount(index, minlength=len(states))
    assert np.all(np.abs(counts / n - p_h) <= 5 * np.sqrt(p_h * (1 - p_h) / n) + 1e-3)
    reference, _, _ = _exact_joint_draws(model, n, np.random.default_rng(seed + 1))
    ref_index = (reference["h"] * 2 ** np.arange(h.shape[1])[::-1]).sum(axis=1).astype(int)
    for k in range(len(states)):
        mine, ref = v[index == k], reference["v"][ref_index == k]
        if len(mine) < 500 or len(ref) < 500:
            continue
        scale = ref.std(axis=0)
        fewer = min(len(mine), len(ref))
        assert np.all(np.abs(mine.mean(axis=0) - ref.mean(axis=0)) <= 6 * scale * np.sqrt(2 / fewer))
        assert np.all(np.abs(mine.var(axis=0) / ref.var(axis=0) - 1) <= 8 * np.sqrt(2 / fewer))


@pytest.mark.parametrize("learn", ["cd", "cd-langevin"])
@settings(max_examples=5)
@given(grbm_specs(), st.integers(0, 2**16))
def test_cd_gradient_vanishes_at_the_model_sigma_included(learn, spec, seed):
    """With data drawn from the model itself, CD-1's gradient is zero in expectation for every
    parameter: one sweep keeps the model's distribution. The negative phase gives v as its
    conditional mean, so the σ statistic needs v's conditional variance besides (without it
    the σ gradient is off by T per unit and σ drifts up while training)."""
    spec = dict(spec, model={**spec["model"],
                             "layers": {**spec["model"]["layers"],
                                        "v": {**spec["model"]["layers"]["v"], "learn_sigma": True}}},
                data={"source": "gaussian-mixture", "dim": spec["model"]["layers"]["v"]["size"]},
                train={"rule": "cd", "k": 1, "batch_size": 10})
    if learn == "cd-langevin":
        spec["train"]["negative"] = {"sampler": "langevin", "langevin_steps": 2}
    parsed = parse_spec(yaml.safe_dump(spec), "grbm.yaml")
    model = compile_spec(parsed)
    objective = Trainer(model.program, parsed.train, ("v",), 0).objective
    gen, batches, rows = np.random.default_rng(seed), 16, 5000
    sums = []
    for i in range(batches):
        v = _exact_joint_draws(model, rows, gen)[0]["v"]
        grads, scale = objective.gradient(model.params, objective.init_state(model.params), {"v": v},
                                          Rng(np, seed, i))
        sums.append(np.concatenate([np.ravel(to_numpy(g)) * scale for g in grads.values()]))
    sums = np.array(sums)
    spread = sums.std(axis=0, ddof=1) / np.sqrt(batches)
    assert np.all(np.abs(sums.mean(axis=0)) <= 6 * spread + 1e-9), (sums.mean(axis=0), spread)


def test_clip_norm_bounds_every_update():
    """With SGD at lr 1 and no momentum the update is the scaled gradient: its norm is the clip."""
    params = {"weight.v.h": np.zeros((3, 2)), "bias.v": np.zeros(3)}
    grads = {"weight.v.h": np.full((3, 2), 30.0), "bias.v": np.full(3, 40.0)}
    roles = {k: type("Role", (), {"decays": False, "log_scale": False})() for k in params}
    opt = Optimizers(Choice("sgd", SgdSpec(lr=1.0)), (), tuple(params), clip_norm=2.0)
    slots = opt.init_slots(params, np)
    opt.update(params, slots, grads, roles, 0.5)
    norm = np.sqrt(sum((p ** 2).sum() for p in params.values()))
    assert norm == pytest.approx(2.0)


@given(st.floats(0.01, 100.0), st.floats(1e-3, 1.0), st.integers(0, 2 ** 32 - 1))
def test_a_clipped_scale_is_the_scale_within_the_clip(clip, scale, seed):
    """scale · clip / max(‖scale · g‖, clip): exactly ``scale`` while the norm is within the
    clip, else the scale that brings it to the clip."""
    gen = np.random.default_rng(seed)
    grads = {"weight.v.h": gen.normal(size=(4, 3)) * 10 ** gen.uniform(-3, 3), "bias.h": gen.normal(size=3)}
    norm = scale * np.sqrt(sum((g ** 2).sum() for g in grads.values()))
    clipped = clipped_scale(grads, scale, clip)
    if norm <= clip:
        assert clipped == scale
    else:
        assert clipped == pytest.approx(scale * clip / norm, rel=1e-12)


DIVERGING = """
name: grbm-diverges
seed: 0
data: {source: gaussian-mixture, dim: 2, components: 3, samples: 500}
model:
  layers:
    v: {size: 2, units: gaussian, learn_sigma: true}
    h: {size: 8, units: binary}
  couplings:
    - {between: [v, h]}
train:
  epochs: 5
  batch_size: 50
  optimizer: {sgd: {lr: 1000.0, momentum: 0.9}}
evaluate: {samples: false, filters: false}
"""


def test_a_diverging_run_stops_with_a_located_error(tmp_path, capsys):
    with np.errstate(all="ignore"):
        code, _, out = run_spec(tmp_path, DIVERGING, "diverges")
    err = capsys.readouterr().err
    assert code == 2
    assert "diverges.yaml:14:" in err and "training diverged in epoch" in err and "no longer finite" in err
    assert not (out / "summary.json").exists()
    assert json.loads((out / "run.json").read_text())["status"] == "failed"
    for line in (out / "metrics.jsonl").read_text().splitlines() if (out / "metrics.jsonl").exists() else ():
        assert "NaN" not in line and "Infinity" not in line


def test_clip_norm_keeps_the_same_run_finite(tmp_path):
    code, summary, _ = run_spec(tmp_path, DIVERGING, "clipped", "train.clip_norm=1.0", "train.optimizer.sgd.lr=0.05")
    assert code == 0 and np.isfinite(summary["reconstruction_error"])


def test_mixture_form_matches_exact_enumeration():
    """log Σ_h π_h N(v; μ + σu_h, σ²T) equals the enumerated log p(v) of the same GRBM."""
    from ebmlang.eval import exact
    from ebmlang.eval.mixture import grbm_components, mixture_log_density
    spec = {"name": "g", "seed": 3, "dtype": "float64", "model": {"temperature": 0.8, "layers": {
        "v": {"size": 3, "units": "gaussian", "sigma": 0.7, "bias": {"normal": {"std": 1.0}}},
        "h": {"size": 3, "units": "binary", "bias": {"normal": {"std": 1.0}}}},
        "couplings": [{"between": ["v", "h"], "init": {"normal": {"std": 1.0}}}]}}
    model = compile_dict(spec)
    x = np.random.default_rng(0).normal(0, 2, (50, 3))
    log_z = exact.log_partition(model.program, model.params)
    expected = to_numpy(exact.log_likelihood(model.program, model.params, {"v": x}, log_z))
    got = mixture_log_density(x, *grbm_components(model.program, model.params, "v"))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_grbm_learns_the_hypercube_mixture(tmp_path):
    """The shipped 2^d check at d = 2: KL(p* ‖ p) near zero, and the two log-likelihoods agree
    with it exactly (the same test draws: log-likelihood = generating − KL)."""
    from conftest import ROOT
    code, s, out = run_spec(tmp_path, (ROOT / "specs" / "grbm-mixture.yaml").read_text(), "mixture",
                            "train.epochs=150", "evaluate.samples.steps=5")
    assert code == 0
    assert s["mixture.kl"] < 0.05, s["mixture.kl"]
    assert s["log_likelihood.exact"] == pytest.approx(s["log_likelihood.generating"] - s["mixture.kl"], abs=1e-6)
    assert (out / "density.png").exists()


def test_standardized_pixels_have_mean_zero_and_unit_spread():
    from ebmlang import load_data, parse_spec
    spec = parse_spec("""
name: s
dtype: float64
data: {source: mnist-embedded, standardize: true}
model:
  layers:
    v: {size: 784, units: gaussian}
    h: {size: 10, units: binary}
  couplings:
    - {between: [v, h]}
""", "s.yaml")
    ds = load_data(spec)
    mean, spread = ds.scale
    np.testing.assert_allclose(ds.train.mean(axis=0), 0, atol=1e-9)
    varied = spread > 0.1
    np.testing.assert_allclose(ds.train.std(axis=0)[varied], 1, rtol=1e-9)
    assert np.all(ds.train.std(axis=0)[~varied] < 1)
    raw = load_data(dataclasses.replace(spec, data=dataclasses.replace(spec.data, standardize=False)))
    np.testing.assert_allclose(ds.test * spread + mean, raw.test, atol=1e-12)


@pytest.mark.slow
def test_grbm_mnist_spec_runs_finite_on_full_mnist(mnist_dir, tmp_path):
    """Two epochs of the shipped Gaussian RBM on standardised MNIST with learned σ: every
    parameter finite, σ positive, forward and reverse AIS within a few nats of each other."""
    from conftest import ROOT
    code, s, out = run_spec(tmp_path, (ROOT / "specs" / "grbm-mnist.yaml").read_text(), "grbm",
                            f"data.path={mnist_dir}", "train.epochs=2", "evaluate.samples.steps=20",
                            "evaluate.log_likelihood.steps=2000", "evaluate.log_likelihood.runs=20",
                            "evaluate.log_likelihood.reverse=20")
    assert code == 0
    model = np.load(out / "model.npz")
    assert all(np.isfinite(model[k]).all() for k in model.files if not k.startswith("train."))
    assert model["sigma.v"].min() > 0
    assert abs(s["log_likelihood.test"] - s["log_likelihood.test_reverse"]) < 10


def test_the_mixture_check_runs_where_it_applies_and_is_left_out_elsewhere(tmp_path):
    """A 1-D mixture gets its KL (no 2-D density figure); a classifier of the mixture's points,
    whose marginal is no mixture form, gets neither, and both runs finish."""
    from conftest import ROOT
    text = (ROOT / "specs" / "grbm-mixture.yaml").read_text()
    code, s, out = run_spec(tmp_path, text, "one", "data.dim=1", "model.layers.v.size=1",
                            "train.epochs=2", "evaluate.samples.steps=2")
    assert code == 0 and np.isfinite(s["mixture.kl"]) and not (out / "density.png").exists()
    classifier = """
name: cls
data: {source: gaussian-mixture, samples: 100, components: 3}
template: {classifier: {layers: [2, 4], visible: gaussian, classes: 3,
           finetune: {epochs: 1, batch_size: 50, optimizer: {sgd: {lr: 0.1}}}}}
evaluate: {filters: false}
"""
    code, s, out = run_spec(tmp_path, classifier, "cls")
    assert code == 0 and "mixture.kl" not in s and not (out / "density.png").exists()
