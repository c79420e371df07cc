"""Property tests: compiled kernels against brute-force enumeration on random small specs."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ebmlang.backend import to_numpy
from ebmlang.spec.schema import ENERGY_UNIT_TYPES as UNIT_TYPES

import oracle
from strategies import dense_params, DISCRETE, compile_dict, random_states, spec_dicts


def _np(x):
    return to_numpy(x).astype(float)


@given(spec_dicts(), st.integers(0, 2**16))
def test_energy_matches_direct_formula(backend, spec, seed):
    model = compile_dict(spec, backend)
    states = random_states(spec, 7, np.random.default_rng(seed))
    expected = oracle.energy(spec, dense_params(model), states)
    np.testing.assert_allclose(_np(model.energy(states)), expected, rtol=1e-9, atol=1e-9)


def _energies_with(spec, params, state, name, unit, values):
    """Energy of ``state`` with unit ``unit`` of layer ``name`` set to each of ``values``."""
    out = []
    for v in values:
        s = {k: x.copy() for k, x in state.items()}
        s[name][:, unit] = v
        out.append(oracle.energy(spec, params, s))
    return out


@given(spec_dicts(), st.integers(0, 2**16), st.data())
def test_conditionals_match_energy_differences(backend, spec, seed, data):
    """Binary/spin log-odds = −ΔE/T; softmax log-ratios = −ΔE/T; gaussian mean and variance
    from the quadratic E(x_i) = a x_i² + b x_i + c: mean −b/2a, variance T/2a."""
    model = compile_dict(spec, backend)
    params, t = dense_params(model), spec["model"]["temperature"]
    state = random_states(spec, 5, np.random.default_rng(seed))
    name = data.draw(st.sampled_from(sorted(spec["model"]["layers"])))
    layer = spec["model"]["layers"][name]
    cond = model.conditional(name, state)
    if layer["units"] in ("binary", "spin"):
        lo, hi = (0.0, 1.0) if layer["units"] == "binary" else (-1.0, 1.0)
        for i in range(layer["size"]):
            e_lo, e_hi = _energies_with(spec, params, state, name, i, (lo, hi))
            np.testing.assert_allclose(_np(cond.logit)[:, i], -(e_hi - e_lo) / t, rtol=1e-8, atol=1e-8)
    elif layer["units"] == "softmax":
        k = layer["categories"]
        logp = np.log(_np(cond.probs))
        for g in range(layer["size"] // k):
            energies = []
            for c in range(k):
                s = {kk: x.copy() for kk, x in state.items()}
                s[name][:, g * k:(g + 1) * k] = np.eye(k)[c]
                energies.append(oracle.energy(spec, params, s))
            for c in range(1, k):
                np.testing.assert_allclose(logp[:, g, c] - logp[:, g, 0], -(energies[c] - energies[0]) / t,
                                           rtol=1e-7, atol=1e-7)
    else:
        for i in range(layer["size"]):
            e0, e1, e2 = _energies_with(spec, params, state, name, i, (0.0, 1.0, 2.0))
            a = (e2 - 2 * e1 + e0) / 2
            b = e1 - e0 - a
            np.testing.assert_allclose(_np(cond.mean)[:, i], -b / (2 * a), rtol=1e-7, atol=1e-7)
            np.testing.assert_allclose(_np(cond.std)[:, i] ** 2, t / (2 * a), rtol=1e-7, atol=1e-7)


def _summable_discrete(model, spec, data):
    """A non-empty set of discrete layers with no coupling within or among them, and the rest."""
    names = [n for n, l in spec["model"]["layers"].items() if l["units"] in DISCRETE]
    chosen = data.draw(st.lists(st.sampled_from(names), min_size=1, unique=True)) if names else []
    return [n for n in chosen if model.program.summable([n])] if model.program.summable(chosen) else []


@given(spec_dicts(), st.integers(0, 2**16), st.data())
def test_free_energy_matches_summing_out(backend, spec, seed, data):
    model = compile_dict(spec, backend)
    sum_out = _summable_discrete(model, spec, data)
    if not sum_out or len(sum_out) == len(spec["model"]["layers"]):
        return      # nothing to sum, or nothing left given (that is log Z, tested below)
    state = random_states(spec, 4, np.random.default_rng(seed))
    given_ = {k: v for k, v in state.items() if k not in sum_out}
    expected = oracle.free_energy(spec, dense_params(model), given_, sum_out)
    np.testing.assert_allclose(_np(model.free_energy(given_, sum_out)), expected, rtol=1e-8, atol=1e-8)


@given(spec_dicts(kinds=DISCRETE, max_states=4096))
def test_log_partition_matches_enumeration(backend, spec):
    model = compile_dict(spec, backend)
    assert model.log_partition() == pytest.approx(oracle.log_partition(spec, dense_params(model)), abs=1e-8)


@given(spec_dicts(kinds=DISCRETE, max_states=4096), st.integers(0, 2**16))
def test_log_likelihood_of_one_layer_is_a_normalised_marginal(spec, seed):
    """Σ_v p(v) = 1 over every state of the first layer, with the others marginalised."""
    model = compile_dict(spec)
    first = next(iter(spec["model"]["layers"]))
    states = oracle.enumerate_states(spec["model"]["layers"], [first])
    total = np.exp(model.log_likelihood(states)).sum()
    assert total == pytest.approx(1.0, abs=1e-9)


def _block_matrix(model, spec, states, count, block):
    """Exact transition matrix (count, count) of one block update, from the package's conditionals."""
    layers = spec["model"]["layers"]
    flat = np.concatenate([states[n] for n in layers], axis=1)
    offsets = np.cumsum([0] + [layers[n]["size"] for n in layers])
    index = {n: offsets[i] for i, n in enumerate(layers)}
    moving = np.zeros(flat.shape[1], bool)
    log_p = np.zeros((count, count))
    for piece in block:
        units = np.arange(layers[piece.layer]["size"]) if piece.units is None else _np(piece.units).astype(int)
        moving[index[piece.layer] + units] = True
        cond = model.conditional(piece.layer, states)
        x_new = states[piece.layer]                      # candidate next values, (count, size)
        if layers[piece.layer]["units"] == "softmax":
            k = layers[piece.layer]["categories"]
            probs = _np(cond.probs)                      # (count, groups, k)
            chosen = x_new.reshape(count, -1, k).argmax(axis=2)     # (count', groups)
            for g in range(probs.shape[1]):
                log_p += np.log(probs[:, g, :][:, chosen[:, g]])
        else:
            on = _np(cond.prob)[:, units]                # (count, |units|)
            is_on = (x_new[:, units] > 0.5)              # (count', |units|)
            p = np.where(is_on[None], on[:, None], 1 - on[:, None])   # (count, count', |units|)
            log_p += np.log(p).sum(axis=2)
    same_rest = (flat[:, None, ~moving] == flat[None, :, ~moving]).all(axis=2)
    return np.where(same_rest, np.exp(log_p), 0.0)


@given(spec_dicts(kinds=DISCRETE, max_states=256))
def test_each_block_update_leaves_the_boltzmann_distribution_unchanged(backend, spec):
    model = compile_dict(spec, backend)
    layers = spec["model"]["layers"]
    states = oracle.enumerate_states(layers, list(layers))
    count = len(next(iter(states.values())))
    log_w = -oracle.energy(spec, dense_params(model), states) / spec["model"]["temperature"]
    pi = np.exp(log_w - oracle.log_sum_exp(log_w))
    sweep = np.eye(count)
    for block in model.program.schedule:
        p = _block_matrix(model, spec, states, count, block)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-10)
        np.testing.assert_allclose(pi @ p, pi, atol=1e-10)
        sweep = sweep @ p
    np.testing.assert_allclose(pi @ sweep, pi, atol=1e-10)


@given(spec_dicts())
def test_schedule_never_puts_coupled_units_in_one_block(spec):
    model = compile_dict(spec)
    program = model.program
    seen = {n: np.zeros(info.size, int) for n, info in program.layers.items()}
    for block in program.schedule:
        members = {p.layer: (np.arange(program.layers[p.layer].size) if p.units is None else _np(p.units).astype(int))
                   for p in block}
        dense = dense_params(model)
        for c in program.couplings:
            if c.a in members and c.b in members:
                mask = dense[c.key] != 0 if c.stencil else np.ones(
                    (program.layers[c.a].size, program.layers[c.b].size), bool) if c.mask_np is None else c.mask_np
                assert not mask[np.ix_(members[c.a], members[c.b])].any(), f"coupled units share a block via {c.key}"
        for name, units in members.items():
            seen[name][units] += 1
    for name, counts in seen.items():       # every unit is updated exactly once per sweep
        assert (counts == 1).all(), name


@pytest.mark.parametrize("kind", UNIT_TYPES)
def test_samplers_follow_their_conditionals(backend, kind):
    """Frequencies of 40,000 draws match the conditional within 5 standard errors."""
    from ebmlang.backend import Rng, get_namespace
    from ebmlang.units import LayerParams, make_units
    xp = get_namespace(backend)
    units = make_units(kind, 6, 3 if kind == "softmax" else None)
    n = 40_000
    u = xp.asarray(np.tile(np.linspace(-1.5, 1.5, 6), (n, 1)))
    p = LayerParams(xp.asarray(np.linspace(-0.5, 0.5, 6)), xp.asarray(np.linspace(0.5, 2, 6)))
    cond = units.conditional(u, p, 0.8)
    draws = _np(units.sample(cond, Rng(xp, 3)))
    mean = _np(units.mean(cond))[0]
    if kind == "gaussian":
        std = _np(cond.std)[0]
        assert np.all(np.abs(draws.mean(0) - mean) < 5 * std / np.sqrt(n))
        assert np.all(np.abs(draws.std(0) / std - 1) < 5 / np.sqrt(2 * n))
    else:
        var = 1 - mean ** 2 if kind == "spin" else mean * (1 - mean)
        assert np.all(np.abs(draws.mean(0) - mean) < 5 * np.sqrt(var / n) + 1e-12)
