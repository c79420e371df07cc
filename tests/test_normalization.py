"""Batch normalisation (`normalize: batch`): the running averages' update rule, the two modes of
the forward pass, and every kernel outside training using the running statistics. Its gradients
are checked with the nets of test_backprop.py, test_adversarial.py and test_variational.py."""
from __future__ import annotations

import numpy as np
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ebmlang import compile_spec, parse_spec
from ebmlang.backend import Rng
from ebmlang.kernels.backprop import forward
from ebmlang.kernels.directed import directed_pass
from ebmlang.objectives import make_objective
from ebmlang.spec.types import TrainSpec
from ebmlang.units import LayerParams

from runs import assert_matches_finite_differences
from test_backprop import HIDDEN

CLASSIFIER = {"name": "net", "dtype": "float64", "model": {
    "layers": {"x": {"size": 4, "units": "gaussian"},
               "h": {"size": 3, "units": "rectified", "normalize": {"batch": {"momentum": 0.25}}},
               "y": {"size": 3, "units": "softmax", "normalize": "batch"}},
    "couplings": [{"between": ["x", "h"], "kind": "recognition", "init": {"normal": {"std": 1.0}}},
                  {"between": ["h", "y"], "kind": "recognition", "init": {"normal": {"std": 1.0}}}]}}


def _model(units: str = "rectified"):
    spec = yaml.safe_load(yaml.safe_dump(CLASSIFIER))
    spec["model"]["layers"]["h"]["units"] = units
    return compile_spec(parse_spec(yaml.safe_dump(spec), "net.yaml"))


def _batch(gen, rows: int = 8) -> dict:
    return {"x": 2.0 + 3.0 * gen.normal(size=(rows, 4)), "y": np.eye(3)[gen.integers(0, 3, rows)]}


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(HIDDEN[:-1]), st.integers(2, 9), st.integers(0, 2 ** 16))
def test_a_step_moves_the_running_averages_by_the_batch_statistics(units, rows, seed):
    model, gen = _model(units), np.random.default_rng(seed)
    params = {k: v.copy() for k, v in model.params.items()}
    batch = _batch(gen, rows)
    objective = make_objective(model.program, TrainSpec(rule="supervised"), ("x", "y"), seed)
    objective.gradient(params, objective.init_state(params), batch, Rng(np, seed, 1))
    u = batch["x"] @ model.params["weight.x.h"]                  # h's raw field, before normalising
    rho = 0.25
    np.testing.assert_allclose(params["runmean.h"], rho * u.mean(axis=0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(params["runvar.h"], (1 - rho) + rho * u.var(axis=0, ddof=1), rtol=1e-10)
    assert "gain.h" in objective.keys and "runmean.h" not in objective.keys


def test_training_mode_normalises_each_unit_over_the_batch():
    model, gen = _model("gaussian"), np.random.default_rng(0)
    given = {"x": _batch(gen, 50)["x"]}
    params = dict(model.params, **{"gain.h": np.array([1.0, 2.0, 0.5])})
    tape = forward(model.program, params, given, ("recognition",), train=True)
    u = tape.inputs[(0, "h")]                                   # γ x̂: zero mean, variance γ²
    np.testing.assert_allclose(u.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(u.var(axis=0), np.array([1.0, 4.0, 0.25]), rtol=1e-4)    # ε = 1e-5 aside


def test_outside_training_each_row_is_mapped_on_its_own_by_the_running_statistics():
    model, gen = _model(), np.random.default_rng(1)
    params = dict(model.params, **{"runmean.h": gen.normal(size=3), "runvar.h": 0.5 + gen.random(3),
                                   "runmean.y": gen.normal(size=3), "runvar.y": 0.5 + gen.random(3)})
    x = _batch(gen, 6)["x"]
    whole = forward(model.program, params, {"x": x}, ("recognition",)).output("y")
    rows = [forward(model.program, params, {"x": x[i:i + 1]}, ("recognition",)).output("y") for i in range(6)]
    np.testing.assert_allclose(whole, np.concatenate(rows), rtol=1e-12)
    u = (x @ params["weight.x.h"] - params["runmean.h"]) / np.sqrt(params["runvar.h"] + 1e-5)
    h = model.program.layers["h"].units
    np.testing.assert_allclose(forward(model.program, params, {"x": x}, ("recognition",)).values[(0, "h")],
                               h.mean(h.conditional(u, LayerParams(params["recbias.h"], None), 1.0)), rtol=1e-12)
    # the sampling and classification kernels (directed_pass) agree with the net's forward pass
    means = directed_pass(model.program, params, {"x": x}, "recognition", mean=True)
    np.testing.assert_allclose(means["y"], whole, rtol=1e-12)


def test_the_running_averages_settle_at_the_population_statistics_of_the_field():
    """x ~ N(2, 9) per unit, so h's raw field u = xW has mean 2·Σ_i W_ij and variance 9·Σ_i W_ij².
    An exponential average of batch means (weight ρ, batches of B) has variance ρ/(2 − ρ) · σ²/B
    about the true mean; of batch variances, ρ/(2 − ρ) · 2σ⁴/(B − 1) about σ²."""
    model, gen = _model(), np.random.default_rng(2)
    params = {k: v.copy() for k, v in model.params.items()}
    objective = make_objective(model.program, TrainSpec(rule="supervised"), ("x", "y"), 0)
    state = objective.init_state(params)
    rows, rho = 64, 0.25
    for step in range(100):
        objective.gradient(params, state, _batch(gen, rows), Rng(np, 0, step))
    w = model.params["weight.x.h"]
    mean, var = 2 * w.sum(axis=0), 9 * (w ** 2).sum(axis=0)
    shrink = rho / (2 - rho)
    assert np.all(np.abs(params["runmean.h"] - mean) < 5 * np.sqrt(shrink * var / rows))
    assert np.all(np.abs(params["runvar.h"] - var) < 5 * np.sqrt(shrink * 2 * var ** 2 / (rows - 1)))


def test_a_single_row_is_normalised_by_the_running_statistics_and_its_gradient_is_exact():
    """A ragged last minibatch of one row has no batch spread: training uses the running
    statistics for it, and backpropagates through that fixed affine map."""
    model, gen = _model(), np.random.default_rng(3)
    params = dict(model.params, **{"runmean.h": gen.normal(size=3), "runvar.h": 0.5 + gen.random(3)})
    batch = _batch(gen, 1)
    objective = make_objective(model.program, TrainSpec(rule="supervised"), ("x", "y"), 0)
    grads, _ = objective.gradient({k: v.copy() for k, v in params.items()}, objective.init_state(params),
                                  batch, Rng(np, 0, 1))
    assert_matches_finite_differences(lambda p: objective.value(p, batch, Rng(np, 0, 1)), params, grads,
                                      objective.keys, np)
    tape = forward(model.program, params, batch, ("recognition",), train=True)
    running = forward(model.program, params, batch, ("recognition",))
    np.testing.assert_allclose(tape.output("y"), running.output("y"), rtol=1e-12)
