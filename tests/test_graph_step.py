"""The captured training step (train/graph.py): what qualifies, the copy-back of rebound state
(on NumPy, where a step runs as it would inside a capture), and on a GPU, that replaying the
graph trains exactly as the eager steps do."""
from __future__ import annotations

import numpy as np
import pytest

from ebmlang import compile_spec, parse_spec
from ebmlang.backend import Rng, cupy_usable, to_numpy
from ebmlang.data import load_data
from ebmlang.train import Trainer
from ebmlang.train.graph import DISABLE, _bindings, _rebind, copy_back, state_arrays, why_not

RBM = """name: graph
seed: 3
dtype: float64
backend: {backend}
data: {{source: bars-and-stripes, side: 3, samples: 410}}
model:
  layers:
    v: {{size: 9, units: binary}}
    h: {{size: 6, units: binary}}
  couplings:
    - {{between: [v, h], init: {{normal: {{std: 0.1}}}}}}
train: {{rule: {rule}, k: 2, epochs: 3, batch_size: 20, {chains}{optimizer}}}
"""
SGD = "optimizer: {sgd: {lr: 0.05, momentum: 0.5, final_momentum: 0.9, momentum_switch_epoch: 1}}"


def trainer_for(backend="numpy", rule="pcd", optimizer=SGD):
    chains = "chains: 20, " if rule == "pcd" else ""
    spec = parse_spec(RBM.format(backend=backend, rule=rule, optimizer=optimizer, chains=chains), "graph.yaml")
    data = load_data(spec)
    model = compile_spec(spec)
    trainer = Trainer(model.program, spec.train, ("v",), spec.seed)
    return trainer, trainer.init_state(model.params), {"v": model.xp.asarray(data.train)}


@pytest.mark.parametrize("rule", ["cd", "pcd"])
def test_numpy_steps_are_not_captured(rule):
    trainer, st, train = trainer_for(rule=rule)
    assert why_not(trainer, train) == "NumPy has no CUDA graphs"
    trainer.run_epoch(st, train)
    assert trainer.graph is None and trainer.graph_status == "NumPy has no CUDA graphs"


def test_copy_back_keeps_every_array_where_it_was():
    """A PCD step rebinds the chains; after copy_back every array of the state is the object it
    was before the step and holds what the step computed."""
    trainer, st, train = trainer_for()
    rng = Rng(np, 1, counter_based=True)
    batch = {"v": train["v"][:20]}
    trainer.step(st, batch, rng)                   # the first step creates the chains
    before = state_arrays(st)
    rng.advance()
    trainer.step(st, batch, rng)
    after = {k: v.copy() for k, v in state_arrays(st).items()}
    assert any(st.objective.chains[k] is not before[("chains", k)] for k in st.objective.chains)
    copy_back(st, before)
    now = state_arrays(st)
    assert now.keys() == before.keys()
    for key, array in now.items():
        assert array is before[key]
        np.testing.assert_array_equal(array, after[key])


@pytest.mark.gpu
@pytest.mark.parametrize("rule", ["cd", "pcd"])
def test_replayed_graphs_train_as_the_eager_steps_do(monkeypatch, rule):
    """Three epochs of 20 full minibatches and a last one of 10: the same parameters with the
    step captured (replays, recaptured per epoch as the momentum switches) and without."""
    if not cupy_usable():
        pytest.skip("CuPy with a usable CUDA device is not available")
    results = {}
    for captured in ("1", "0"):
        monkeypatch.setenv(DISABLE, captured)
        trainer, st, train = trainer_for("cupy", rule)
        while st.epoch < 3:
            trainer.run_epoch(st, train)
        assert trainer.graph_status == ("captured" if captured == "1" else f"{DISABLE}=0")
        results[captured] = {k: to_numpy(v) for k, v in st.params.items()}
    for key, value in results["1"].items():
        np.testing.assert_allclose(value, results["0"][key], rtol=1e-9, atol=1e-12)


@pytest.mark.gpu
def test_adam_is_not_captured():
    if not cupy_usable():
        pytest.skip("CuPy with a usable CUDA device is not available")
    trainer, _, train = trainer_for("cupy", "cd", "optimizer: {adam: {lr: 0.01}}")
    assert "Adam" in why_not(trainer, train)


def test_a_failed_capture_rebinds_what_its_step_rebound():
    """A capture that fails leaves the state bound as it was before the step (whose kernels never
    ran), so that the stage goes on eagerly from there."""
    trainer, st, train = trainer_for()
    rng = Rng(np, 1, counter_based=True)
    trainer.step(st, {"v": train["v"][:20]}, rng)
    before, bindings = state_arrays(st), _bindings(st)
    trainer.step(st, {"v": train["v"][20:40]}, rng)
    assert state_arrays(st).keys() == before.keys()
    assert any(state_arrays(st)[k] is not v for k, v in before.items())
    _rebind(st, bindings)
    assert all(state_arrays(st)[k] is v for k, v in before.items())
