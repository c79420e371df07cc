"""The trainer: its gradient is the difference of phase means; CD and PCD raise the likelihood."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ebmlang import compile_spec, load_data, parse_spec
from ebmlang.backend import Rng, to_numpy
from ebmlang.eval import exact
from ebmlang.kernels import param_stats, random_state
from ebmlang.objectives import PhaseStats
from ebmlang.train import Trainer

import yaml
from strategies import spec_dicts


def _with_train(spec: dict, rule: str = "pcd") -> dict:
    first = next(iter(spec["model"]["layers"]))
    spec = dict(spec, data={"source": "bars-and-stripes", "layer": first}, train={"rule": rule})
    return spec


@given(spec_dicts(kinds=("binary", "spin", "gaussian", "softmax")), st.integers(1, 9), st.integers(1, 9))
def test_gradient_is_the_difference_of_phase_means(backend, spec, n_pos, n_neg):
    """Also when the persistent chains outnumber (or are fewer than) the batch."""
    parsed = parse_spec(yaml.safe_dump(_with_train(spec)), "t.yaml")
    model = compile_spec(parsed, backend)
    program = model.program
    first = next(iter(program.layers))
    trainer = Trainer(program, parsed.train, (first,), 0)
    pos = random_state(program, model.params, n_pos, Rng(model.xp, 1))
    neg = random_state(program, model.params, n_neg, Rng(model.xp, 2))
    grads, scale = trainer.gradient(model.params, PhaseStats(pos, {}), PhaseStats(neg, {}))
    mean_pos = param_stats(program, model.params, pos, trainer.keys)
    mean_neg = param_stats(program, model.params, neg, trainer.keys)
    for c in program.couplings:
        if c.mask is not None and c.key in mean_pos:
            mean_pos[c.key] = mean_pos[c.key] * c.mask
            mean_neg[c.key] = mean_neg[c.key] * c.mask
    for key in trainer.keys:
        expected = (to_numpy(mean_pos[key]) - to_numpy(mean_neg[key])) / program.temperature
        np.testing.assert_allclose(to_numpy(grads[key]) * scale, expected, rtol=1e-9, atol=1e-12)


BARS = """
name: bars
seed: SEED
dtype: float64
data: {source: bars-and-stripes, side: 3, samples: 400, seed: SEED}
model:
  layers:
    v: {size: 9, units: binary}
    h: {size: 8, units: binary}
  couplings:
    - {between: [v, h], init: {normal: {std: 0.1}}}
train: {rule: RULE, k: 3, epochs: 40, batch_size: 20, chains: CHAINS,
        optimizer: {sgd: {lr: 0.1, momentum: 0.5}}}
"""


@pytest.mark.parametrize("rule,chains", [("cd", None), ("pcd", 20), ("pcd", 50)])
@pytest.mark.parametrize("seed", [0, 1])
def test_training_raises_the_exact_log_likelihood(backend, rule, chains, seed):
    """Bars and stripes: the mean exact log-likelihood of the 14 patterns must rise by more than
    1 nat over 40 epochs (an untrained model sits near −9 × log 2 ≈ −6.2)."""
    text = BARS.replace("SEED", str(seed)).replace("RULE", rule)
    text = text.replace(", chains: CHAINS", "" if chains is None else f", chains: {chains}")
    spec = parse_spec(text, "bars.yaml", [f"backend={backend}"])
    data = load_data(spec)
    model = compile_spec(spec)
    xp = model.xp
    test = {"v": xp.asarray(data.test)}
    before = exact.log_likelihood(model.program, model.params, test).mean()
    trainer = Trainer(model.program, spec.train, ("v",), seed)
    state = trainer.init_state(model.params)
    x = xp.asarray(data.train)
    while state.epoch < spec.train.epochs:
        trainer.run_epoch(state, x, "v")
    after = exact.log_likelihood(model.program, model.params, test).mean()
    assert after > before + 1.0


@pytest.mark.parametrize("extra", ["sparsity: {target: 0.1, cost: 1.0}",
                                   "sparsity: {target: 0.1, cost: 1.0}, centering: true"])
def test_a_masked_coupling_keeps_its_graph_through_every_update(backend, extra):
    """Weights off a random coupling's graph start at zero and stay zero, whatever adds to the
    gradient (the sparsity push, centring's correction)."""
    text = BARS.replace("SEED", "0").replace("RULE", "pcd").replace("CHAINS", "20")
    text = text.replace("{between: [v, h], init:", "{between: [v, h], connectivity: {random: {p: 0.4}}, init:")
    text = text.replace("epochs: 40,", f"epochs: 3, {extra},")
    parsed = parse_spec(text, "bars.yaml", [f"backend={backend}"])
    model = compile_spec(parsed, backend)
    trainer = Trainer(model.program, parsed.train, ("v",), 0)
    st_ = trainer.init_state(model.params)
    data = load_data(parsed)
    for _ in range(parsed.train.epochs):
        trainer.run_epoch(st_, {"v": model.xp.asarray(data.train)})
    (c,) = model.program.couplings
    off_graph = to_numpy(st_.params[c.key])[to_numpy(c.mask) == 0]
    assert off_graph.size and np.all(off_graph == 0)


@pytest.fixture(scope="module")
def bars_rbm():
    from pathlib import Path
    spec = parse_spec((Path(__file__).resolve().parents[1] / "specs" / "rbm-bars-and-stripes.yaml")
                      .read_text(), "rbm-bars-and-stripes.yaml")
    return spec, compile_spec(spec), load_data(spec).train


@pytest.mark.parametrize("data, error, says", [
    (lambda x: {"v": x[:, :8]}, ValueError, r"layer 'v' takes \(batch, 9\) arrays, got shape"),
    (lambda x: {"v": x * np.nan}, ValueError, "NaN or infinite"),
    (lambda x: {"v": 2 * x}, ValueError, r"binary units take values in \[0, 1\]"),
    (lambda x: {"v": x[:0]}, ValueError, "at least one example"),
    (lambda x: {"h": np.zeros((len(x), 16))}, ValueError, "exactly the clamped layers .v., got h"),
    (lambda x: {"v": x, "h": np.zeros((len(x), 16))}, ValueError, "exactly the clamped layers"),
    (lambda x: x, TypeError, "run_epoch takes"),
])
def test_run_epoch_checks_its_data_before_any_update(bars_rbm, data, error, says):
    spec, model, x = bars_rbm
    trainer = Trainer(model.program, spec.train, ("v",), 0)
    state = trainer.init_state({k: v.copy() for k, v in model.params.items()})
    before = {k: v.copy() for k, v in state.params.items()}
    with pytest.raises(error, match=says):
        trainer.run_epoch(state, data(x))
    assert state.epoch == 0
    for key, value in before.items():
        np.testing.assert_array_equal(to_numpy(state.params[key]), to_numpy(value))


def test_run_epoch_takes_boolean_or_integer_data_as_numbers(bars_rbm):
    spec, model, x = bars_rbm
    results = []
    for given in (x, x > 0.5, x.astype(int)):
        trainer = Trainer(model.program, spec.train, ("v",), 0)
        state = trainer.init_state({k: v.copy() for k, v in model.params.items()})
        trainer.run_epoch(state, given, "v")
        results.append(to_numpy(state.params["weight.v.h"]))
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


def test_a_trainer_needs_known_clamped_layers_and_one_stage(bars_rbm):
    spec, model, _ = bars_rbm
    with pytest.raises(ValueError, match="unknown layer 'visible'; the layers are v, h"):
        Trainer(model.program, spec.train, ("visible",), 0)
    with pytest.raises(TypeError, match="stage is one TrainSpec"):
        Trainer(model.program, (spec.train, spec.train), ("v",), 0)
    with pytest.raises(TypeError, match="seed is a whole number"):
        Trainer(model.program, spec.train, ("v",), 1.5)


def test_run_epoch_trains_on_what_the_array_holds_now(bars_rbm):
    """An array changed in place between epochs (redrawn binary data) is not checked again but
    is read again: no stale converted copy (float64 data on a float32 program)."""
    spec, model, x = bars_rbm
    first, second = x.astype(np.float64), 1.0 - x.astype(np.float64)
    results = []
    for in_place in (True, False):
        trainer = Trainer(model.program, spec.train, ("v",), 0)
        state = trainer.init_state({k: v.copy() for k, v in model.params.items()})
        data = first.copy()
        trainer.run_epoch(state, data, "v")
        if in_place:
            data[:] = second
        else:
            data = second.copy()
        trainer.run_epoch(state, data, "v")
        results.append(to_numpy(state.params["weight.v.h"]))
    np.testing.assert_array_equal(results[0], results[1])
