"""The variational autoencoder (rule `elbo`): its reparameterised gradient against finite
differences, and the importance-sampled bound (IWAE) against the exact log-likelihood of a model
small enough to integrate.

VAEs are drawn as specs: a data layer of any energy unit type, an encoder of 0–2 hidden layers
(any unit type, each possibly batch-normalised) into a gaussian latent z with a log-variance head (from the last hidden layer, or
from every hidden layer with skip maps), and a decoder from z back to the data.
"""
from __future__ import annotations

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ebmlang import compile_spec, parse_spec
from ebmlang.backend import Rng, to_numpy
from ebmlang.errors import SpecError
from ebmlang.eval.variational import importance_log_likelihood
from ebmlang.objectives import make_objective
from ebmlang.spec.types import TrainSpec

from runs import assert_matches_finite_differences
from test_backprop import _data, _layer

HIDDEN = ("binary", "spin", "gaussian", "rectified", "leaky")
DATA = ("binary", "spin", "gaussian", "softmax")
INIT = {"normal": {"std": 0.7}}


def vae_spec(data: str, hidden: list, latent: int, skip: bool = False, dtype: str = "float64",
             normalized: tuple = ()) -> dict:
    """``normalized``: the hidden layers with `normalize: batch`."""
    layers = {"v": _layer(data, 3)}
    layers.update({f"e{i}": _layer(k, 2) for i, k in enumerate(hidden)})
    layers["z"] = {"size": latent, "units": "gaussian"}
    layers.update({f"d{i}": _layer(k, 2) for i, k in enumerate(hidden)})
    for name in normalized:
        layers[name]["normalize"] = {"batch": {"momentum": 0.3, "epsilon": 1e-3}}
    enc = ["v"] + [f"e{i}" for i in range(len(hidden))]
    dec = [f"d{i}" for i in reversed(range(len(hidden)))] + ["v"]
    couplings = [{"between": [a, b], "kind": "recognition", "init": INIT} for a, b in zip(enc, enc[1:] + ["z"])]
    heads = enc[1:] if skip and len(enc) > 1 else enc[-1:]
    couplings += [{"between": [a, "z"], "kind": "recognition", "head": "log_variance", "init": INIT} for a in heads]
    couplings += [{"between": [a, b], "kind": "generative", "init": INIT} for a, b in zip(["z"] + dec, dec)]
    return {"name": "vae", "dtype": dtype, "model": {"layers": layers, "couplings": couplings}}


@st.composite
def vaes(draw):
    hidden = [draw(st.sampled_from(HIDDEN)) for _ in range(draw(st.integers(0, 2)))]
    names = [f"{side}{i}" for side in "ed" for i in range(len(hidden))]
    normalized = tuple(name for name in names if draw(st.booleans()))
    return vae_spec(draw(st.sampled_from(DATA)), hidden, draw(st.integers(1, 3)), draw(st.booleans()),
                    normalized=normalized)


def _perturbed(model, gen) -> dict:
    """Every parameter away from its initial value (zero biases would put rectified units on their kink)."""
    return {k: v if k.startswith(("sigma.", "run")) else v + model.xp.asarray(gen.normal(0, 0.3, v.shape))
            for k, v in model.params.items()}


@settings(max_examples=120, deadline=None)
@given(vaes(), st.integers(0, 2 ** 16))
def test_elbo_gradient_matches_finite_differences(backend, spec, seed):
    model = compile_spec(parse_spec(yaml.safe_dump(spec), "vae.yaml"), backend)
    program, gen = model.program, np.random.default_rng(seed)
    params = _perturbed(model, gen)
    objective = make_objective(program, TrainSpec(rule="elbo"), ("v",), seed)
    batch = {"v": model.xp.asarray(_data(program, "v", 4, gen))}
    noise = objective.noise(4, Rng(model.xp, seed, 3))
    grads = objective.gradient_with(params, batch, noise)
    assert set(grads) == set(objective.keys)
    assert any(k.startswith("lvweight.") for k in grads) and "lvbias.z" in grads
    assert_matches_finite_differences(lambda p: objective.value(p, batch, noise), params, grads, objective.keys,
                                      model.xp)


def _exact_log_likelihood(model, x: np.ndarray) -> np.ndarray:
    """log p(x) = log ∫ p(x | z) N(z; 0, 1) dz for a 1-D latent, by the trapezoid rule on a fine grid."""
    from ebmlang.kernels.backprop import forward
    program, params = model.program, model.params
    grid = np.linspace(-9, 9, 6001)
    tape = forward(program, params, {"z": grid[:, None]}, ("generative",))
    v = program.layers["v"].units
    p = LayerParamsFor(program, params)
    log_prior = -0.5 * grid ** 2 - 0.5 * np.log(2 * np.pi)
    out = []
    for row in x:
        log_px_z = to_numpy(v.log_prob(np.broadcast_to(row, (len(grid), len(row))), tape.inputs[(0, "v")], p, 1.0))
        f = log_px_z + log_prior
        top = f.max()
        out.append(top + np.log(np.trapezoid(np.exp(f - top), grid)))
    return np.array(out)


def LayerParamsFor(program, params):
    from ebmlang.kernels.directed import directed_params
    return directed_params(program, params, "v", "generative")


def test_importance_bound_rises_with_k_to_the_exact_log_likelihood():
    """IWAE_k ≤ log p(x) in expectation, non-decreasing in k, and tight as k grows (Burda et al. 2015)."""
    spec = vae_spec("binary", ["spin"], 1)
    spec["model"]["layers"]["v"]["size"] = 6
    model = compile_spec(parse_spec(yaml.safe_dump(spec), "vae.yaml"))
    gen = np.random.default_rng(0)
    model.params.update(_perturbed(model, gen))
    x = (gen.random((20, 6)) < 0.5).astype(float)
    exact = _exact_log_likelihood(model, x).mean()
    bounds = {}
    for k in (1, 10, 100, 2000):
        runs = [importance_log_likelihood(model.program, model.params, {"v": x}, k, Rng(np, 5, r))[0].mean()
                for r in range(40 if k < 2000 else 4)]
        bounds[k] = (np.mean(runs), np.std(runs) / np.sqrt(len(runs)))
    means = [bounds[k][0] for k in sorted(bounds)]
    assert all(a < b for a, b in zip(means, means[1:])), bounds
    for k, (mean, err) in bounds.items():
        assert mean <= exact + 4 * err + 1e-9, (k, mean, exact)
    assert abs(bounds[2000][0] - exact) < 0.02, (bounds, exact)


def test_elbo_refuses_a_latent_without_a_variance_head():
    spec = vae_spec("binary", [], 1)
    spec["model"]["couplings"] = [c for c in spec["model"]["couplings"] if c.get("head") != "log_variance"]
    spec.update(data={"source": "bars-and-stripes", "side": 3}, train={"rule": "elbo"})
    spec["model"]["layers"]["v"]["size"] = 9
    with pytest.raises(SpecError, match="elbo needs a stochastic layer"):
        parse_spec(yaml.safe_dump(spec), "vae.yaml")
