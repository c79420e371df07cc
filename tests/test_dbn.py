"""Deep belief networks against enumeration: the variational bound, and the theorem behind greedy
stacking (Hinton, Osindero & Teh 2006): a top RBM initialised with the transposed weights of the
RBM below leaves the bound equal to that RBM's log-likelihood, and training it never lowers it."""
from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ebmlang.backend import to_numpy
from ebmlang.eval import belief
from ebmlang.kernels import param_stats

import oracle
from strategies import compile_dict


def dbn_dict(n_v: int, n_h: int, n_top: int, temperature: float = 1.0) -> dict:
    """v ← h1 (generative) and v → h1 (recognition) below an undirected top RBM (h1, h2)."""
    return {"name": "dbn", "dtype": "float64", "seed": 0,
            "model": {"layers": {"v": {"size": n_v, "units": "binary"}, "h1": {"size": n_h, "units": "binary"},
                                 "h2": {"size": n_top, "units": "binary"}},
                      "couplings": [{"between": ["h1", "v"], "kind": "generative"},
                                    {"between": ["v", "h1"], "kind": "recognition"},
                                    {"between": ["h1", "h2"]}],
                      "temperature": temperature},
            "evaluate": {"samples": False, "filters": False}}


def rbm_log_p(w, b, c, v):
    """log p(v) of the RBM (v, h) with weights w (n_v, n_h), biases b (v) and c (h)."""
    spec = {"model": {"layers": {"v": {"size": len(b), "units": "binary"}, "h": {"size": len(c), "units": "binary"}},
                      "couplings": [{"between": ["v", "h"]}]}}
    params = {"bias.v": b, "bias.h": c, "weight.v.h": w}
    return -oracle.free_energy(spec, params, {"v": v}, ["h"]) - oracle.log_partition(spec, params)


def stacked(model, w, b, c):
    """The DBN of the RBM (w, b, c) with a top RBM of the transposed weights: p(v) unchanged."""
    xp = model.xp
    model.params.update({k: xp.asarray(a) for k, a in {
        "weight.h1.v": w.T, "weight.v.h1": w, "recbias.h1": c, "bias.v": b,
        "bias.h1": c, "weight.h1.h2": w.T, "bias.h2": b}.items()})


RBMS = st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**16))


@given(RBMS)
def test_stacking_the_transposed_rbm_keeps_the_bound_at_the_rbms_log_likelihood(backend, sizes):
    n_v, n_h, seed = sizes
    gen = np.random.default_rng(seed)
    w, b, c = gen.normal(0, 1.5, (n_v, n_h)), gen.normal(0, 1, n_v), gen.normal(0, 1, n_h)
    model = compile_dict(dbn_dict(n_v, n_h, n_v), backend)
    stacked(model, w, b, c)
    v = oracle.enumerate_states({"v": {"size": n_v, "units": "binary"}}, ["v"])["v"]
    expected = rbm_log_p(w, b, c, v)
    data = {"v": model.xp.asarray(v)}
    np.testing.assert_allclose(belief.exact_log_likelihood(model.program, model.params, data), expected, atol=1e-9)
    np.testing.assert_allclose(belief.exact_bound(model.program, model.params, data), expected, atol=1e-9)


@given(RBMS, st.integers(1, 8))
def test_training_the_top_rbm_never_lowers_the_bound(backend, sizes, rows):
    """Exact gradient ascent on E_q[log p_top(h1)] (a small step) raises the mean bound."""
    n_v, n_h, seed = sizes
    gen = np.random.default_rng(seed)
    w, b, c = gen.normal(0, 1.5, (n_v, n_h)), gen.normal(0, 1, n_v), gen.normal(0, 1, n_h)
    model = compile_dict(dbn_dict(n_v, n_h, n_v), backend)
    stacked(model, w, b, c)
    v = model.xp.asarray(gen.integers(0, 2, (rows, n_v)).astype(float))
    before = belief.exact_bound(model.program, model.params, {"v": v}).mean()
    for key, step in _top_gradient(model, v).items():
        model.params[key] = model.params[key] + 0.05 * model.xp.asarray(step)
    after = belief.exact_bound(model.program, model.params, {"v": v}).mean()
    assert after >= before - 1e-10


def _top_gradient(model, v) -> dict:
    """∂/∂θ_top of mean_v E_q(h1|v)[log p_top(h1)], exactly: ⟨stats⟩ under q(h1|v) p_top(h2|h1)
    minus ⟨stats⟩ under p_top, both by enumeration."""
    program, params = model.program, model.params
    top = belief.top_program(program)
    keys = ["weight.h1.h2", "bias.h1", "bias.h2"]
    h1 = oracle.enumerate_states({"h1": {"size": program.layers["h1"].size, "units": "binary"}}, ["h1"])["h1"]
    p = model.parameters()
    q = 1 / (1 + np.exp(-(to_numpy(v) @ p["weight.v.h1"] + p["recbias.h1"])))          # (rows, n_h)
    weights = np.prod(np.where(h1[None, :, :] == 1, q[:, None, :], 1 - q[:, None, :]), axis=2).mean(axis=0)
    h2_mean = 1 / (1 + np.exp(-(h1 @ p["weight.h1.h2"] + p["bias.h2"])))
    both = oracle.enumerate_states({"h1": {"size": h1.shape[1], "units": "binary"},
                                    "h2": {"size": program.layers["h2"].size, "units": "binary"}}, ["h1", "h2"])
    spec = {"model": {"layers": {"h1": {"size": h1.shape[1], "units": "binary"},
                                 "h2": {"size": program.layers["h2"].size, "units": "binary"}},
                      "couplings": [{"between": ["h1", "h2"]}]}}
    energies = oracle.energy(spec, {k: p[k] for k in keys}, both)
    model_weights = np.exp(-energies - oracle.log_sum_exp(-energies))
    out = {}
    for key in keys:
        pos_rows = _per_row(top, params, {"h1": h1, "h2": h2_mean}, key, model.xp)
        neg_rows = _per_row(top, params, both, key, model.xp)
        out[key] = np.tensordot(weights, pos_rows, 1) - np.tensordot(model_weights, neg_rows, 1)
    return out


def _per_row(program, params, state, key, xp):
    rows = len(next(iter(state.values())))
    return np.stack([to_numpy(param_stats(program, params, {n: xp.asarray(s[i:i + 1]) for n, s in state.items()},
                                          [key])[key]) for i in range(rows)])


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**16), st.sampled_from([1.0, 0.7]))
def test_the_bound_is_below_the_exact_log_likelihood(backend, n_v, n_h, n_top, seed, temperature):
    """Any recognition weights (untied, random) give a bound ≤ log p(v)."""
    model = compile_dict(dbn_dict(n_v, n_h, n_top, temperature), backend)
    gen = np.random.default_rng(seed)
    for key, value in model.parameters().items():
        model.params[key] = model.xp.asarray(gen.normal(0, 1.2, value.shape))
    v = oracle.enumerate_states({"v": {"size": n_v, "units": "binary"}}, ["v"])["v"]
    data = {"v": model.xp.asarray(v)}
    exact = belief.exact_log_likelihood(model.program, model.params, data)
    bound = belief.exact_bound(model.program, model.params, data)
    assert np.all(bound <= exact + 1e-9)
    total = np.exp(exact).sum()
    np.testing.assert_allclose(total, 1.0, rtol=1e-9)       # p(v) sums to one over every v


UNITS = {"binary": {"units": "binary"}, "gaussian": {"units": "gaussian", "sigma": 0.7},
         "softmax": {"units": "softmax", "categories": 2}, "spin": {"units": "spin"}}


@st.composite
def directed_dicts(draw):
    """Three layers a → b → c, each edge generative and recognition back, of random unit types."""
    layers = {}
    for name in ("a", "b", "c"):
        kind = draw(st.sampled_from(sorted(UNITS)))
        size = 2 * draw(st.integers(1, 2)) if kind == "softmax" else draw(st.integers(1, 3))
        layers[name] = {"size": size, **UNITS[kind], "bias": {"normal": {"std": 0.5}}}
    couplings = [{"between": ["c", "b"], "kind": "generative", "init": {"normal": {"std": 0.8}}},
                 {"between": ["b", "a"], "kind": "generative", "init": {"normal": {"std": 0.8}}},
                 {"between": ["a", "b"], "kind": "recognition", "init": {"normal": {"std": 0.8}}},
                 {"between": ["b", "c"], "kind": "recognition", "init": {"normal": {"std": 0.8}}}]
    return {"name": "dir", "dtype": "float64", "seed": draw(st.integers(0, 99)),
            "model": {"layers": layers, "couplings": couplings, "temperature": draw(st.sampled_from([1.0, 0.6]))},
            "evaluate": {"samples": False, "filters": False}}


@given(directed_dicts(), st.sampled_from(["generative", "recognition"]), st.integers(0, 2**16), st.data())
def test_directed_gradient_matches_finite_differences(backend, spec, kind, seed, data):
    """The wake and sleep delta rules are ∂ Σ log p(x_l | parents) / ∂θ, for every unit type."""
    from strategies import random_states
    from ebmlang.kernels.directed import directed_gradient, directed_log_prob
    model = compile_dict(spec, backend)
    program = model.program
    for c in program.directed:                  # recognition biases start at zero: give them a value
        if c.kind == "recognition":
            key = f"recbias.{c.b}"
            model.params[key] = model.xp.asarray(np.random.default_rng(seed).normal(0, 0.5, program.layers[c.b].size))
    state = {k: model.xp.asarray(v) for k, v in random_states(spec, 4, np.random.default_rng(seed)).items()}
    grads = directed_gradient(program, model.params, state, kind)
    key = data.draw(st.sampled_from(sorted(grads)))
    shape = to_numpy(model.params[key]).shape
    index = data.draw(st.sampled_from(list(np.ndindex(shape))))

    def total(delta):
        params = dict(model.params)
        p = to_numpy(params[key]).copy()
        p[index] += delta
        params[key] = model.xp.asarray(p)
        return float(to_numpy(directed_log_prob(program, params, state, kind)).sum())

    eps = 1e-6
    numeric = (total(eps) - total(-eps)) / (2 * eps)
    analytic = float(to_numpy(grads[key])[index])
    assert abs(numeric - analytic) <= 1e-5 * (1 + abs(analytic))
