"""CUDA graphs: the captured training step (train/graph.py) and the replayed AIS step
(eval/ais.py). On NumPy: what qualifies, and the copy-back and rebinding of state a step
rebinds; on a GPU: that replaying a graph computes what the eager steps compute."""
from __future__ import annotations

import contextlib

import numpy as np
import pytest

from ebmlang import compile_spec, parse_spec
from ebmlang.backend import Rng, cupy_usable, to_numpy
from ebmlang.data import load_data
from ebmlang.train import Trainer
from ebmlang.backend.graphs import DISABLE
from ebmlang.eval.ais import ais_log_partition
from ebmlang.train.graph import _bindings, _rebind, copy_back, state_arrays, why_not

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


class StandInCapture:
    """Capture's interface on NumPy: a "graph" is the step itself and a launch runs it again.
    It checks the control flow around the graphs (which step runs when, with which rows and
    random numbers), not CUDA's semantics, which the GPU tests below check."""

    def __init__(self, xp):
        self.stream, self.records = contextlib.nullcontext(), 0

    def follow(self):
        pass

    def record(self, step):
        self.records += 1
        return step

    def launch(self, graph):
        graph()

    def synchronize(self):
        pass


@pytest.mark.parametrize("rule", ["cd", "pcd"])
def test_graph_steps_take_the_rows_and_numbers_of_the_plain_loop(monkeypatch, rule):
    """GraphStep's warm-up, per-epoch captures, replays and smaller last minibatch train as a
    plain loop over the same rows with the same counter-based streams does."""
    import ebmlang.train.graph as graph_module
    monkeypatch.setattr(graph_module, "Capture", StandInCapture)
    trainer, st, train = trainer_for(rule=rule)
    twin, st_twin, _ = trainer_for(rule=rule)
    step = graph_module.GraphStep(trainer, train, 20)
    n = train["v"].shape[0]
    for epoch in range(2):
        rng = trainer.epoch_rng(epoch)
        order = rng.permutation(n)
        step.start_epoch(rng)
        plain = Rng(np, *rng.key, counter_based=True)
        for start in range(0, n, 20):
            rows = order[start:start + 20]
            step.step(st, train, rows)
            plain.advance()
            twin.step(st_twin, {"v": train["v"][rows]}, plain)
        st.epoch += 1
        st_twin.epoch += 1
    assert step.capture.records == 2 and step.status == "captured"
    for key, value in st.params.items():
        np.testing.assert_allclose(value, st_twin.params[key], rtol=1e-12, atol=1e-12)


class FailingCapture(StandInCapture):
    def record(self, step):
        raise RuntimeError("this step cannot be captured")


def _ais_weights(monkeypatch, direction: str, capture, replay: bool) -> np.ndarray:
    """AIS log weights (forward) or log Ẑ_rev (reverse) of a small RBM with a counter-based
    stream, through the replayed step run by ``capture`` or through the plain loop."""
    import ebmlang.backend.graphs as graphs
    from ebmlang.eval import ais
    from ebmlang.eval.annealing import AnnealingPath
    monkeypatch.setattr(graphs, "Capture", capture)
    monkeypatch.setattr(ais, "_capturable", lambda *a: replay)
    trainer, st, train = trainer_for()
    path = AnnealingPath.for_model(trainer.program, st.params, "v", train["v"].mean(axis=0))
    rng = Rng(np, 9, counter_based=True)
    if direction == "forward":
        return ais.forward_log_weights(path, 12, ais.betas(40), rng)
    return ais.reverse_log_z(path, {"v": train["v"][:12]}, ais.betas(40), rng)[0]


@pytest.mark.parametrize("direction", ["forward", "reverse"])
def test_replayed_ais_indexes_the_betas_as_the_plain_loop_does(monkeypatch, direction):
    """The replayed AIS step, which reads k from a device counter and moves it on (up in the
    forward direction, down in reverse), run by the stand-in: the log weights of the plain loop
    with the same counter-based stream."""
    replayed = _ais_weights(monkeypatch, direction, StandInCapture, replay=True)
    plain = _ais_weights(monkeypatch, direction, StandInCapture, replay=False)
    np.testing.assert_allclose(replayed, plain, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("direction", ["forward", "reverse"])
def test_a_failed_ais_capture_starts_the_plain_loop_afresh(monkeypatch, direction):
    """When the capture fails after the eager first step, the chains, weights and stream get
    their old values back, and the plain loop from the start gives the plain loop's weights."""
    fallen_back = _ais_weights(monkeypatch, direction, FailingCapture, replay=True)
    plain = _ais_weights(monkeypatch, direction, StandInCapture, replay=False)
    np.testing.assert_array_equal(fallen_back, plain)


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


@pytest.mark.gpu
@pytest.mark.parametrize("units, dtype", [("binary", "float64"), ("spin", "float64"), ("binary", "float32")])
def test_replayed_ais_weighs_as_the_eager_loop_does(monkeypatch, units, dtype):
    """Forward AIS with one graph replayed for every step between β's (it must be captured, not
    fall back) gives the log weights of the eager loop: the same counter-based random numbers and
    arithmetic, up to float32 rounding of 1 − β, which the eager loop takes from a Python float."""
    if not cupy_usable():
        pytest.skip("CuPy with a usable CUDA device is not available")
    from ebmlang.eval import ais
    spec = parse_spec(RBM.format(backend="cupy", rule="cd", optimizer=SGD, chains="")
                      .replace("h: {size: 6, units: binary}", f"h: {{size: 6, units: {units}}}")
                      .replace("dtype: float64", f"dtype: {dtype}"), "graph.yaml")
    model = compile_spec(spec)
    replays = []
    real = ais._replayed
    monkeypatch.setattr(ais, "_replayed", lambda *a: replays.append(real(*a)) or replays[-1])
    weights = {}
    for captured in ("1", "0"):
        monkeypatch.setenv(DISABLE, captured)
        weights[captured] = ais_log_partition(model.program, model.params, runs=16, steps=60, seed=2).log_weights
    assert replays == [True]
    tolerance = 1e-9 if dtype == "float64" else 1e-3
    np.testing.assert_allclose(weights["1"], weights["0"], rtol=tolerance, atol=tolerance)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_replayed_reverse_ais_weighs_as_the_eager_loop_does(monkeypatch, dtype):
    """Reverse AIS from data, one graph replayed for every step (captured, not fallen back):
    the per-example log Ẑ_rev of the eager loop, and the data the caller passed left alone."""
    if not cupy_usable():
        pytest.skip("CuPy with a usable CUDA device is not available")
    from ebmlang.eval import ais
    spec = parse_spec(RBM.format(backend="cupy", rule="cd", optimizer=SGD, chains="")
                      .replace("dtype: float64", f"dtype: {dtype}"), "graph.yaml")
    model = compile_spec(spec)
    data = {"v": model.xp.asarray(load_data(spec).train[:16], dtype=dtype)}
    replays = []
    real = ais._reverse_replayed
    monkeypatch.setattr(ais, "_reverse_replayed", lambda *a: replays.append(real(*a)) or replays[-1])
    before = to_numpy(data["v"]).copy()
    each = {}
    for captured in ("1", "0"):
        monkeypatch.setenv(DISABLE, captured)
        each[captured] = ais.reverse_ais(model.program, model.params, data, steps=60,
                                         seed=2).log_z_each
    assert replays == [True]
    np.testing.assert_array_equal(to_numpy(data["v"]), before)
    tolerance = 1e-9 if dtype == "float64" else 1e-3
    np.testing.assert_allclose(each["1"], each["0"], rtol=tolerance, atol=tolerance)


@pytest.mark.gpu
@pytest.mark.parametrize("momentum, decay", [(0.0, 0.0), (0.9, 0.0), (0.5, 0.01)])
def test_fused_sgd_updates_as_the_numpy_expressions_do(momentum, decay):
    """One launch per parameter on CuPy (backend/fused.py), the plain expressions on NumPy: the
    same velocities and parameters, for a matrix, a bias and a 0-d parameter."""
    if not cupy_usable():
        pytest.skip("CuPy with a usable CUDA device is not available")
    import cupy
    from ebmlang.train.optim import sgd_update
    gen = np.random.default_rng(0)
    shapes = {"weight.v.h": (5, 3), "bias.v": (5,), "weight.s.s": ()}
    trainer, _, _ = trainer_for()
    keys = trainer.program.keys         # a 0-d parameter in a weight's role, which decays
    roles = {"weight.v.h": keys["weight.v.h"], "bias.v": keys["bias.v"], "weight.s.s": keys["weight.v.h"]}
    results = []
    for xp in (np, cupy):
        params = {k: xp.asarray(gen.standard_normal(s)) for k, s in shapes.items()}
        velocity = {k: xp.asarray(np.full(s, 0.3)) for k, s in shapes.items()}
        for _ in range(3):
            grads = {k: xp.asarray(np.full(s, 0.7)) for k, s in shapes.items()}
            sgd_update(params, velocity, grads, 0.1, momentum, decay, roles, grad_scale=0.5)
        results.append({k: to_numpy(v) for k, v in {**params, **{"v." + k: v for k, v in velocity.items()}}.items()})
        gen = np.random.default_rng(0)
    for key, value in results[0].items():
        np.testing.assert_allclose(results[1][key], value, rtol=1e-12, atol=1e-12)
