"""Exact identities: change of variables, likelihood gradients, the Gaussian–Bernoulli RBM's marginal."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ebmlang.backend import to_numpy
from ebmlang.compile.transforms import spin_to_binary
from ebmlang.eval import exact
from ebmlang.kernels import free_energy, infer_means, param_stats

import oracle
from strategies import dense_params, compile_dict, random_states, spec_dicts


@given(spec_dicts(kinds=("spin", "binary", "softmax", "gaussian")), st.integers(0, 2**16))
def test_spin_to_binary_changes_the_energy_by_a_constant(backend, spec, seed):
    model = compile_dict(spec, backend)
    twin = spin_to_binary(model)
    states = random_states(spec, 9, np.random.default_rng(seed))
    as_binary = {k: (v + 1) / 2 if spec["model"]["layers"][k]["units"] == "spin" else v for k, v in states.items()}
    gap = to_numpy(model.energy(states)) - to_numpy(twin.energy(as_binary))
    np.testing.assert_allclose(gap, gap[0], atol=1e-9)


@given(spec_dicts(kinds=("spin", "binary", "softmax"), max_states=1024))
def test_spin_to_binary_preserves_the_distribution(spec):
    model = compile_dict(spec)
    twin = spin_to_binary(model)
    layers = spec["model"]["layers"]
    states = oracle.enumerate_states(layers, list(layers))
    as_binary = {k: (v + 1) / 2 if layers[k]["units"] == "spin" else v for k, v in states.items()}
    t = spec["model"]["temperature"]
    log_p = -to_numpy(model.energy(states)) / t - model.log_partition()
    log_q = -to_numpy(twin.energy(as_binary)) / t - twin.log_partition()
    np.testing.assert_allclose(log_p, log_q, atol=1e-9)


def _rbm(visible: str, hidden: str, n_v: int, n_h: int, seed: int, temperature: float = 1.0) -> dict:
    v = {"size": n_v, "units": visible, "bias": {"normal": {"std": 0.5}}}
    h = {"size": n_h, "units": hidden, "bias": {"normal": {"std": 0.5}}}
    for layer in (v, h):
        if layer["units"] == "softmax":
            layer["categories"] = layer["size"]
    if visible == "gaussian":
        v.update(sigma=0.8, learn_sigma=True)
    return {"name": "rbm", "seed": seed, "dtype": "float64",
            "model": {"layers": {"v": v, "h": h}, "temperature": temperature,
                      "couplings": [{"between": ["v", "h"], "init": {"normal": {"std": 0.7}}}]}}


def _exact_gradient(model, data: dict) -> dict:
    """(⟨−∂E/∂θ⟩_data − ⟨−∂E/∂θ⟩_model) / T, the model term by exact enumeration, using the
    package's own statistics (what the trainer uses)."""
    program, params, t = model.program, model.params, model.program.temperature
    keys = [k for k in params if not k.startswith("sigma.")]
    positive = param_stats(program, params, infer_means(program, params, data, ("h",)), keys)
    layers = {n: {"size": i.size, "units": i.units.name, "categories": getattr(i.units, "k", None)}
              for n, i in program.layers.items()}
    states = oracle.enumerate_states(layers, list(layers))
    log_w = -to_numpy(model.energy(states)) / t
    p = np.exp(log_w - oracle.log_sum_exp(log_w))
    negative = {k: 0.0 for k in keys}
    for i in range(len(p)):   # E_model[stat] = Σ_x p(x) stat(x)
        one = param_stats(program, params, {n: s[i:i + 1] for n, s in states.items()}, keys)
        for k in keys:
            negative[k] = negative[k] + p[i] * to_numpy(one[k])
    return {k: (to_numpy(positive[k]) - negative[k]) / t for k in keys}


def _mean_log_likelihood(model, data) -> float:
    return float(exact.log_likelihood(model.program, model.params, data).mean())


@pytest.mark.parametrize("visible,hidden,temperature", [("binary", "binary", 1.0), ("spin", "binary", 1.0),
                                                        ("binary", "spin", 0.7), ("softmax", "binary", 1.3)])
@given(seed=st.integers(0, 2**16))
def test_likelihood_gradient_matches_finite_differences(visible, hidden, temperature, seed):
    spec = _rbm(visible, hidden, 3, 2, seed, temperature)
    model = compile_dict(spec)
    data = {"v": random_states(spec, 6, np.random.default_rng(seed))["v"]}
    grad = _exact_gradient(model, data)
    eps = 1e-5
    for key, g in grad.items():
        flat = model.params[key].reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = _mean_log_likelihood(model, data)
            flat[i] = old - eps
            down = _mean_log_likelihood(model, data)
            flat[i] = old
            assert g.reshape(-1)[i] == pytest.approx((up - down) / (2 * eps), abs=1e-6), key


@given(seed=st.integers(0, 2**16))
def test_gaussian_positive_statistics_are_the_free_energy_gradient(seed):
    """⟨−∂E/∂θ⟩ given v (h at its exact means) = −∂F(v)/∂θ, including log σ."""
    spec = _rbm("gaussian", "binary", 2, 3, seed)
    model = compile_dict(spec)
    data = {"v": np.random.default_rng(seed).standard_normal((5, 2)) * 1.5}
    program, params = model.program, model.params
    keys = list(params)
    stats = param_stats(program, params, infer_means(program, params, data, ("h",)), keys)
    slopes = _central_differences(params, keys, lambda: float(to_numpy(model.free_energy(data)).mean()))
    for key in keys:
        np.testing.assert_allclose(to_numpy(stats[key]).reshape(-1), -slopes[key], rtol=1e-5, atol=1e-6,
                                   err_msg=key)


def _central_differences(params: dict, keys, value, eps: float = 1e-6) -> dict:
    """{key: (size,) central-difference slopes of ``value()`` in each entry of params[key]}, by
    log σ for a σ (as its statistic is); every entry is put back."""
    out = {}
    for key in keys:
        flat = params[key].reshape(-1)
        out[key] = np.empty(flat.size)
        for i in range(flat.size):
            old = flat[i]
            step = eps * (old if key.startswith("sigma.") else 1.0)
            flat[i] = old + step
            up = value()
            flat[i] = old - step
            down = value()
            flat[i] = old
            out[key][i] = (up - down) / (2 * eps)
    return out


@given(seed=st.integers(0, 2**16), n_h=st.integers(1, 4))
def test_gaussian_bernoulli_marginal_is_a_mixture_of_gaussians(seed, n_h):
    """p(v) = Σ_h π_h N(v; μ + σ·(W h), σ²),  π_h ∝ exp(cᵀh + ‖W h‖²/2 + μᵀ(W h)/σ) (T = 1)."""
    spec = _rbm("gaussian", "binary", 2, n_h, seed)
    model = compile_dict(spec)
    p = dense_params(model)
    mu, sigma, c, w = p["bias.v"], p["sigma.v"], p["bias.h"], p["weight.v.h"]
    hs = oracle.enumerate_states({"h": {"size": n_h, "units": "binary"}}, ["h"])["h"]
    shift = hs @ w.T                                            # (2^n_h, n_v): W h
    log_pi = hs @ c + (shift ** 2).sum(1) / 2 + (mu / sigma * shift).sum(1)
    log_pi -= oracle.log_sum_exp(log_pi)
    v = np.random.default_rng(seed).standard_normal((7, 2)) * 2
    means = mu + sigma * shift
    log_normal = (-(((v[:, None, :] - means[None]) / sigma) ** 2) / 2 - np.log(np.sqrt(2 * np.pi) * sigma)).sum(2)
    expected = np.array([oracle.log_sum_exp(row + log_pi) for row in log_normal])
    log_z = model.log_partition()
    np.testing.assert_allclose(model.log_likelihood({"v": v}, log_z), expected, atol=1e-9)


def _grbm_log_likelihood(model, v) -> float:
    """Mean log p(v) of a gaussian–binary RBM: −F(v)/T − log Z, log Z = log Σ_h e^{−F(h)/T}
    (v integrated out in closed form, h enumerated)."""
    program, params, t = model.program, model.params, model.program.temperature
    h = oracle.enumerate_states({"h": {"size": program.layers["h"].size, "units": "binary"}},
                                ["h"])["h"]
    log_z = oracle.log_sum_exp(-to_numpy(free_energy(program, params, {"h": h})) / t)
    return float((-to_numpy(free_energy(program, params, {"v": v})) / t - log_z).mean())


@pytest.mark.parametrize("temperature", [1.0, 0.7])
@given(seed=st.integers(0, 2**16))
def test_gaussian_sigma_gradient_with_means_matches_finite_differences(temperature, seed):
    """The likelihood gradient of a gaussian–binary RBM, σ included, from the statistics the
    trainer takes: h at its conditional means given the data, and the model's expectation
    Σ_h p(h) ⟨stat⟩_{v|h} with v at its conditional mean given h (``means``: the σ statistic
    adds the conditional variance T/σ²·σ², which a mean alone misses)."""
    spec = _rbm("gaussian", "binary", 2, 3, seed, temperature)
    model = compile_dict(spec)
    program, params, t = model.program, model.params, temperature
    data = {"v": np.random.default_rng(seed).standard_normal((5, 2)) * 1.5}
    keys = list(params)
    positive = param_stats(program, params, infer_means(program, params, data, ("h",)), keys,
                           means={"h": None})
    h = oracle.enumerate_states({"h": {"size": 3, "units": "binary"}}, ["h"])["h"]
    log_w = -to_numpy(free_energy(program, params, {"h": h})) / t
    p = np.exp(log_w - oracle.log_sum_exp(log_w))
    given_h = infer_means(program, params, {"h": h}, ("v",))       # v at its mean given each h
    negative = {k: 0.0 for k in keys}
    for i in range(len(p)):
        one = param_stats(program, params, {n: x[i:i + 1] for n, x in given_h.items()}, keys,
                          means={"v": None})
        for k in keys:
            negative[k] = negative[k] + p[i] * to_numpy(one[k])
    slopes = _central_differences(params, keys, lambda: _grbm_log_likelihood(model, data["v"]))
    for key in keys:
        gradient = (to_numpy(positive[key]) - negative[key]).reshape(-1) / t
        np.testing.assert_allclose(gradient, slopes[key], rtol=1e-5, atol=1e-6, err_msg=key)
