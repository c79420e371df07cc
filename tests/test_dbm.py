"""Deep Boltzmann machines: mean field, the variational bound and the DBM gradient, against
brute-force enumeration (``oracle``) on random small specs of discrete layers."""
from __future__ import annotations

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from ebmlang.backend import Rng, to_numpy
from ebmlang.eval.bound import unnormalised_bound
from ebmlang.kernels import conditional_mean, param_stats
from ebmlang.kernels.meanfield import mean_field
from ebmlang.objectives.phases import MeanField, phases_for, positive
from ebmlang.objectives.boltzmann import trainable_keys

import oracle
from strategies import DISCRETE, compile_dict, dbm_dicts, dense_params, random_states, spec_dicts


def _split(spec):
    """(data layer, latent layers): the first layer is the data."""
    names = list(spec["model"]["layers"])
    return names[0], names[1:]


def _exact_log_p(spec, params, data_layer, latent, x):
    t = spec["model"].get("temperature", 1.0)
    free = oracle.free_energy(spec, params, {data_layer: x}, latent)
    return -free / t - oracle.log_partition(spec, params)


MODELS = st.one_of(spec_dicts(kinds=DISCRETE, max_states=256), dbm_dicts())


@given(MODELS, st.integers(0, 2**16))
def test_mean_field_fixed_point_equations(backend, spec, seed):
    """At convergence every latent layer's mean is its conditional mean given the others' means."""
    data_layer, latent = _split(spec)
    assume(latent)
    model = compile_dict(spec, backend)
    x = random_states(spec, 4, np.random.default_rng(seed))[data_layer]
    means, used = mean_field(model.program, model.params, {data_layer: model.xp.asarray(x)}, latent,
                             iterations=2000, tolerance=1e-13)
    assume(used < 2000)         # coordinate ascent converges, but may crawl on a flat ridge
    for name in latent:
        again = conditional_mean(model.program, model.params, means, name)
        np.testing.assert_allclose(to_numpy(again), to_numpy(means[name]), atol=1e-9)


@given(MODELS, st.integers(0, 2**16), st.integers(1, 5))
def test_tolerance_zero_runs_every_iteration(backend, spec, seed, iterations):
    """`tolerance: 0` tests no convergence (nothing read on the host, so a GPU step can be a
    graph): exactly ``iterations`` updates, each as one call from the previous one's means."""
    data_layer, latent = _split(spec)
    assume(latent)
    model = compile_dict(spec, backend)
    clamped = {data_layer: model.xp.asarray(random_states(spec, 3, np.random.default_rng(seed))[data_layer])}
    means, used = mean_field(model.program, model.params, clamped, latent, iterations, tolerance=0.0)
    assert used == iterations
    stepped = None
    for _ in range(iterations):
        stepped, _ = mean_field(model.program, model.params, clamped, latent, 1, tolerance=0.0, start=stepped)
    for name in latent:
        np.testing.assert_array_equal(to_numpy(stepped[name]), to_numpy(means[name]))


@given(MODELS, st.integers(0, 2**16), st.integers(1, 6))
def test_variational_bound_is_below_the_exact_log_likelihood(backend, spec, seed, iterations):
    """For any number of mean-field iterations (any factorised q), B(v; q) ≤ log p(v)."""
    data_layer, latent = _split(spec)
    assume(latent)
    model = compile_dict(spec, backend)
    params = dense_params(model)
    x = random_states(spec, 5, np.random.default_rng(seed))[data_layer]
    bound = unnormalised_bound(model.program, model.params, {data_layer: model.xp.asarray(x)}, iterations) \
        - oracle.log_partition(spec, params)
    exact = _exact_log_p(spec, params, data_layer, latent, x)
    assert np.all(bound <= exact + 1e-9)


@given(MODELS, st.integers(0, 2**16))
def test_bound_rises_with_each_mean_field_iteration(backend, spec, seed):
    """Block updates are exact coordinate ascent on the bound: it never falls."""
    data_layer, latent = _split(spec)
    assume(latent)
    model = compile_dict(spec, backend)
    x = {data_layer: model.xp.asarray(random_states(spec, 5, np.random.default_rng(seed))[data_layer])}
    bounds = [unnormalised_bound(model.program, model.params, x, k, tolerance=0.0) for k in (1, 2, 4, 8)]
    for lower, higher in zip(bounds, bounds[1:]):
        assert np.all(higher >= lower - 1e-9)


@given(spec_dicts(kinds=DISCRETE, max_states=256, lateral=False), st.integers(0, 2**16))
def test_bound_is_exact_when_the_posterior_factorises(backend, spec, seed):
    """Latent layers coupled only to the data (an RBM): q = p(h | v) and B = log p(v)."""
    data_layer, latent = _split(spec)
    model = compile_dict(spec, backend)
    assume(latent and model.program.summable(latent))
    params = dense_params(model)
    x = random_states(spec, 5, np.random.default_rng(seed))[data_layer]
    bound = unnormalised_bound(model.program, model.params, {data_layer: model.xp.asarray(x)}) \
        - oracle.log_partition(spec, params)
    np.testing.assert_allclose(bound, _exact_log_p(spec, params, data_layer, latent, x), atol=1e-8)


@given(dbm_dicts(), st.integers(0, 2**16), st.data())
def test_dbm_positive_phase_is_the_gradient_of_the_bound(backend, spec, seed, data):
    """The DBM rule's positive statistics (mean field) are ∂/∂θ of −E(v, μ*)/T + H(μ*) at the
    fixed point (the envelope theorem), checked by central differences; with the negative phase's
    ⟨−∂E/∂θ⟩_model / T = ∂ log Z/∂θ this makes the rule the gradient of the bound."""
    data_layer, latent = _split(spec)
    model = compile_dict(spec, backend)
    program = model.program
    x = {data_layer: model.xp.asarray(random_states(spec, 3, np.random.default_rng(seed))[data_layer])}
    phases = phases_for(program, "dbm", 1, (data_layer,), meanfield=MeanField(3000, 0.0, 1e-14))
    stat_state = positive(program, model.params, x, phases, Rng(model.xp, seed))[0].state
    keys = [k for k in trainable_keys(program) if program.keys[k].role != "sigma"]
    key = data.draw(st.sampled_from(keys))
    stats = to_numpy(param_stats(program, model.params, stat_state, [key], total=True)[key]) / program.temperature
    shape = to_numpy(model.params[key]).shape
    index = data.draw(st.sampled_from(list(np.ndindex(shape))))
    lateral = program.keys[key].lateral
    assume(not lateral or index[0] != index[1])     # the diagonal of a lateral coupling stays zero

    def bound_sum(delta):
        params = dict(model.params)
        w = to_numpy(params[key]).astype(float).copy()
        w[index] += delta
        if lateral:                                 # W stays symmetric: (j, i) moves with (i, j)
            w[index[::-1]] += delta
        params[key] = model.xp.asarray(w)
        return unnormalised_bound(program, params, x, 3000, tolerance=1e-14).sum()

    eps = 1e-5
    numeric = (bound_sum(eps) - bound_sum(-eps)) / (2 * eps)
    analytic = stats[index]         # lateral: W_ij = W_ji is the one coupling of the pair
    assert abs(numeric - analytic) <= 1e-4 * (1 + abs(analytic))
