"""Centring: the update is the centred model's gradient, and the centred model is the same model."""
from __future__ import annotations

import numpy as np
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ebmlang import compile_spec, load_data, parse_spec
from ebmlang.backend import Rng, to_numpy
from ebmlang.eval import exact
from ebmlang.kernels import random_state
from ebmlang.train import Trainer
from ebmlang.objectives import PhaseStats
from ebmlang.objectives.centering import centre_gradient

import oracle
from strategies import dense_params, random_states, spec_dicts
from test_trainer import BARS, _with_train


def _centred_energy(spec: dict, params: dict, centred_bias: dict, offsets: dict, state: dict) -> np.ndarray:
    """E_c(x) = Σ self-energies at the centred biases − Σ (s_a − μ_a)ᵀ W (s_b − μ_b), from the definition."""
    layers = spec["model"]["layers"]
    shifted = dict(params, **centred_bias)
    total = oracle.energy({"model": {"layers": layers, "couplings": []}}, shifted, state)
    for c in spec["model"].get("couplings", []):
        a, b = c["between"]
        w = params[f"weight.{a}.{b}"]
        sa = oracle._stat(layers, params, a, state[a]) - offsets[a]
        sb = oracle._stat(layers, params, b, state[b]) - offsets[b]
        total = total - np.einsum("ki,ij,kj->k", sa, np.triu(w, 1) if a == b else w, sb)
    return total


def _centred_biases(spec: dict, params: dict, offsets: dict, uncentred=()) -> dict:
    """b_c = b + σ ∘ Σ W μ over each layer's couplings (but ``uncentred`` ones): the centred model
    equal to the ordinary one."""
    layers = spec["model"]["layers"]
    out = {f"bias.{n}": params[f"bias.{n}"].copy() for n in layers}
    for c in spec["model"].get("couplings", []):
        a, b = c["between"]
        if f"weight.{a}.{b}" in uncentred:
            continue
        w = params[f"weight.{a}.{b}"]
        sigma = {n: params.get(f"sigma.{n}", 1.0) for n in (a, b)}
        out[f"bias.{a}"] += sigma[a] * (w @ offsets[b])
        if a != b:
            out[f"bias.{b}"] += sigma[b] * (offsets[a] @ w)
    return out


@given(spec_dicts(kinds=("binary", "spin", "gaussian", "softmax")), st.integers(0, 2**16))
def test_centred_and_ordinary_models_have_the_same_energy_up_to_a_constant(spec, seed):
    model = compile_spec(parse_spec(yaml.safe_dump(spec), "t.yaml"), "numpy")
    params, gen = dense_params(model), np.random.default_rng(seed)
    offsets = {n: gen.uniform(-1, 1, layer["size"]) for n, layer in spec["model"]["layers"].items()}
    states = random_states(spec, 12, gen)
    gap = oracle.energy(spec, params, states) - _centred_energy(
        spec, params, _centred_biases(spec, params, offsets), offsets, states)
    np.testing.assert_allclose(gap, gap[0], atol=1e-9 * (1 + abs(gap[0])))


@given(spec_dicts(kinds=("binary", "spin", "gaussian", "softmax")), st.integers(1, 9), st.integers(1, 9),
       st.integers(0, 2**16))
def test_centred_update_is_the_centred_gradient_written_back(spec, n_pos, n_neg, seed):
    """ΔW is ⟨(s_a − μ_a)(s_b − μ_b)ᵀ⟩₊ − ⟨…⟩₋, and a centred step (W + εΔW, b_c + εg_b), mapped back to
    ordinary biases, equals the ordinary step (W + εΔW, b + εΔb) the trainer takes."""
    parsed = parse_spec(yaml.safe_dump(_with_train(spec)), "t.yaml")
    model = compile_spec(parsed, "numpy")
    program, gen = model.program, np.random.default_rng(seed)
    trainer = Trainer(program, parsed.train, (next(iter(program.layers)),), 0)
    pos = random_state(program, model.params, n_pos, Rng(model.xp, 1))
    neg = random_state(program, model.params, n_neg, Rng(model.xp, 2))
    offsets = {n: gen.uniform(-1, 1, info.size) for n, info in program.layers.items()}
    plain, scale = trainer.gradient(model.params, PhaseStats(pos, {}), PhaseStats(neg, {}))
    plain = {k: to_numpy(v) * scale for k, v in plain.items()}
    centred = {k: v.copy() for k, v in plain.items()}
    centre_gradient(program, model.params, centred, offsets)
    params, layers = dense_params(model), spec["model"]["layers"]
    stencils = {c.key for c in program.couplings if c.stencil is not None}
    for c in program.couplings:
        if c.key not in plain or c.stencil is not None:
            continue
        def cov(state, a=c.a, b=c.b):
            sa = oracle._stat(layers, params, a, to_numpy(state[a])) - offsets[a]
            sb = oracle._stat(layers, params, b, to_numpy(state[b])) - offsets[b]
            return sa.T @ sb / len(sa)
        expected = (cov(pos) - cov(neg)) / program.temperature
        if c.mask is not None:
            expected = expected * c.mask_np
        np.testing.assert_allclose(centred[c.key], expected, atol=1e-9)
    eps = 0.3
    stepped = dict(params, **{k: params[k] + eps * centred[k] for k in centred
                              if k.startswith(("weight.", "bias."))})
    before = _centred_biases(spec, params, offsets, stencils)
    after = _centred_biases(spec, stepped, offsets, stencils)
    for name in layers:
        key = f"bias.{name}"
        np.testing.assert_allclose(after[key], before[key] + eps * plain[key], atol=1e-9)


def test_centred_pcd_raises_the_exact_log_likelihood():
    text = BARS.replace("SEED", "0").replace("RULE", "pcd").replace("CHAINS", "50")
    spec = parse_spec(text, "bars.yaml", ["train.centering=true"])
    data, model = load_data(spec), compile_spec(spec)
    test = {"v": model.xp.asarray(data.test)}
    before = exact.log_likelihood(model.program, model.params, test).mean()
    trainer = Trainer(model.program, spec.train, ("v",), 0)
    state = trainer.init_state(model.params)
    while state.epoch < spec.train.epochs:
        trainer.run_epoch(state, model.xp.asarray(data.train), "v")
    assert set(state.offsets) == {"v", "h"}
    assert exact.log_likelihood(model.program, model.params, test).mean() > before + 1.0
