"""CUDA graphs: the captured training step (train/graph.py) and the replayed AIS step
(eval/ais.py). On NumPy: what qualifies, that a qualifying step never reads a value on the host
(tests/hostreads.py), the copy-back and rebinding of state a step rebinds, and the replays of a
stand-in capture against the plain loop; on a GPU: that replaying a graph computes what the
eager steps compute, for every rule and optimizer."""
from __future__ import annotations

import contextlib
import functools
import tempfile
import traceback
from pathlib import Path

import numpy as np
import pytest

from ebmlang import compile_spec, parse_spec
from ebmlang.backend import Rng, cupy_usable, to_numpy
from ebmlang.data import load_data
from ebmlang.train import Trainer
from ebmlang.backend.graphs import DISABLE
from ebmlang.eval.ais import ais_log_partition
from ebmlang.train.graph import _bindings, _rebind, copy_back, state_arrays, why_not
from ebmlang.data.sparse import on_backend, take_rows
from ebmlang.train.stages import plan_stages, stage_inputs

from hostreads import HostRead, as_host, move_state, on_device, refuse_to_numpy
from runs import planted_ratings

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
ROOT = Path(__file__).resolve().parents[1]
SGD = "optimizer: {sgd: {lr: 0.05, momentum: 0.5, final_momentum: 0.9, momentum_switch_epoch: 1}}"


def trainer_for(backend="numpy", rule="pcd", optimizer=SGD):
    chains = "chains: 20, " if rule == "pcd" else ""
    spec = parse_spec(RBM.format(backend=backend, rule=rule, optimizer=optimizer, chains=chains), "graph.yaml")
    data = load_data(spec)
    model = compile_spec(spec)
    trainer = Trainer(model.program, spec.train, ("v",), spec.seed)
    return trainer, trainer.init_state(model.params), {"v": model.xp.asarray(data.train)}


def rbm(rule="pcd", optimizer=SGD, extra=""):
    chains = "chains: 20, " if rule == "pcd" else ""
    return RBM.format(backend="numpy", rule=rule, optimizer=optimizer, chains=chains + extra)


MNIST_610 = "{source: mnist-embedded, train_size: 610, test_size: 100}"  # a last minibatch of 10
ADAM = "{adam: {lr: 0.003}}"
# one spec per kind of step: every rule, both optimizers, clipping, σ learned in log space, and
# the options that draw random numbers or keep state inside a step (dropout, corruption,
# sparsity, centring, packing, batch normalisation, averaging), sparse data
STEPS = {
    "cd-sgd": rbm("cd"),
    "pcd-adam-clipped": rbm("pcd", "optimizer: {adam: {lr: 0.01}}", "clip_norm: 0.5, "),
    "centred-sparse-pcd-clipped": rbm("pcd", extra="centering: {rate: 0.1}, sparsity: {target: 0.2}, clip_norm: 5.0, "),
    "grbm-adam-clipped": """
name: grbm
seed: 3
data: {source: gaussian-mixture, dim: 2, components: 3, samples: 410}
model:
  layers:
    v: {size: 2, units: gaussian, learn_sigma: true}
    h: {size: 8, units: binary}
  couplings:
    - {between: [v, h]}
train: {rule: pcd, chains: 20, epochs: 2, batch_size: 20, clip_norm: 1.0,
        optimizer: {adam: {lr: 0.01}}}
""",
    "boltzmann": (ROOT / "specs" / "bm-bars-and-stripes.yaml").read_text(),
    "dbn-updown": (ROOT / "specs" / "dbn-bars-and-stripes.yaml").read_text(),
    # the learning rate falls tenfold each epoch: a replay that kept epoch 0's would show
    "cd-lr-steps": rbm("cd", "optimizer: {sgd: {lr: 0.05, momentum: 0.5, schedule: "
                             "{step: {gamma: 0.1, every: 1}}}}"),
    # mean field for a fixed number of iterations (no convergence test), a linear lr schedule
    "dbm-meanfield-fixed": (ROOT / "specs" / "dbm-bars-and-stripes.yaml").read_text().replace(
        "positive: {iterations: 30, tolerance: 1.0e-6}", "positive: {iterations: 5, tolerance: 0}"),
    "autoencoder-clipped": f"""
name: ae
seed: 3
data: {MNIST_610}
template:
  autoencoder:
    layers: [784, 32, 8]
    pretrain: {{epochs: 1, optimizer: {{sgd: {{lr: 0.1, momentum: 0.5}}}}}}
    finetune: {{epochs: 2, batch_size: 50, optimizer: {ADAM}, clip_norm: 5.0}}
""",
    "sparse-denoising-autoencoder": f"""
name: sdae
seed: 3
data: {MNIST_610}
template:
  autoencoder:
    layers: [784, 24]
    code: binary
    tied: true
    finetune: {{epochs: 2, batch_size: 50, optimizer: {ADAM}, sparsity: {{target: 0.05}},
                corruption: {{mask: {{fraction: 0.25}}}}}}
""",
    "classifier-dropout": f"""
name: clf
seed: 3
data: {MNIST_610}
template:
  classifier:
    layers: [784, 24, 16]
    finetune: {{epochs: 2, batch_size: 50, optimizer: {ADAM}, dropout: 0.2}}
""",
    "vae": f"""
name: vae
seed: 3
data: {{source: mnist-embedded, train_size: 610, test_size: 100, binarize: resample}}
template:
  vae:
    layers: [784, 20, 5]
    hidden: spin
    train: {{epochs: 2, batch_size: 50, optimizer: {ADAM}}}
""",
    "ratings": """
name: ratings
seed: 3
data: {source: ratings, path: PLANTED, test_fraction: 0.2, orientation: items, implicit: r}
model:
  layers:
    v: {size: 400, units: softmax, categories: 5, missing: true, bias: data_rates}
    r: {size: 80, units: binary}
    h: {size: 20, units: binary}
  couplings:
    - {between: [v, h], init: {normal: {std: 0.01}}}
    - {between: [r, h], init: {normal: {std: 0.01}}}
train: {rule: cd, epochs: 2, batch_size: 6, k_schedule: [[1, 3]], negative: {clamp: [r]},
        optimizer: {sgd: {lr: 0.05, momentum: 0.9, weight_decay: 0.001}}}
""",
    "gan": """
name: gan
seed: 3
data: {source: gaussian-grid, samples: 410}
template:
  gan:
    size: 2
    visible: gaussian
    latent: 2
    generator: [16, 16]
    discriminator: [8, 8]
    pack: 2
    batch_norm: generator
    train: {epochs: 2, batch_size: 50, r1_penalty: 1.0, average: 0.99, dropout: 0.1,
            optimizer: {adam: {lr: 0.001, beta1: 0.5}}}
    discriminator_optimizer: {adam: {lr: 0.001, beta1: 0.5}}
""",
}


# the host decides the generator's turn: a graph for each kind of step
STEPS["gan-two-discriminator-steps"] = STEPS["gan"].replace("r1_penalty", "discriminator_steps: 2, r1_penalty")


@functools.lru_cache(maxsize=1)
def planted_file() -> Path:
    """A ratings file with planted structure (80 users × 40 items, 60 % rated): sparse rows."""
    path = Path(tempfile.mkdtemp(prefix="ebmlang-ratings-")) / "planted.tsv"
    planted_ratings(path)
    return path


def stages(text: str, backend: str = "numpy"):
    """(trainer, state, inputs) of each stage of the spec ``text`` on ``backend``, every stage
    starting from the compiled parameters."""
    text = text.replace("PLANTED", str(planted_file()))
    spec = parse_spec(text, "steps.yaml", [f"backend={backend}"])
    data = load_data(spec)
    model = compile_spec(spec, data_mean={data.layer: data.train.mean(axis=0)})
    plans = plan_stages(model.program, spec.stages, data.layers)
    train = {n: on_backend(x, model.xp, model.program.dtype) for n, x in data.arrays("train").items()}
    for plan in plans:
        trainer = Trainer(plan.program, plan.spec, plan.clamp, spec.seed, plan.index)
        params = {k: v.copy() for k, v in model.params.items()}
        yield trainer, trainer.init_state(params), stage_inputs(plans, plan.index, params, train)


def last_stage(text: str, backend: str = "numpy"):
    return list(stages(text, backend))[-1]


def step_on_device(trainer, st, inputs) -> str | None:
    """One step (after a first, which creates any chains) with every array of the state and the
    minibatch refusing host reads: where it read one, or None."""
    rows = np.arange(trainer.spec.batch_size)
    batch = {k: take_rows(v, rows) for k, v in trainer._held(inputs).items()}
    rng = Rng(np, 1, counter_based=True)
    trainer.step(st, batch, rng)
    move_state(st, on_device)
    rng.advance()
    try:
        trainer.step(st, {k: on_device(v) for k, v in batch.items()}, rng)
    except HostRead as read:
        frame = [f for f in traceback.extract_tb(read.__traceback__) if "ebmlang" in f.filename][-1]
        return f"{frame.filename}:{frame.lineno}: {frame.line}"
    finally:
        move_state(st, as_host)
    return None


@pytest.mark.parametrize("name", sorted(STEPS))
def test_a_step_that_may_be_captured_never_reads_the_host(monkeypatch, name):
    """Every stage of every kind of step says it may be captured, and reads nothing on the host
    (which would make the capture fail on a GPU, and cost a sync per step without one)."""
    refuse_to_numpy(monkeypatch)
    for trainer, st, inputs in stages(STEPS[name]):
        assert trainer.objective.why_not_captured() is None
        where = step_on_device(trainer, st, inputs)
        assert where is None, f"stage {trainer.spec.name or 1} reads the host at {where}"


def test_a_step_that_reads_the_host_says_why(monkeypatch):
    """A DBM's mean-field positive phase that tests its convergence reads it on the host, which
    the stand-in sees (with `tolerance: 0` it reads nothing: STEPS)."""
    refuse_to_numpy(monkeypatch)
    trainer, st, inputs = last_stage((ROOT / "specs" / "dbm-bars-and-stripes.yaml").read_text())
    assert "mean-field" in trainer.objective.why_not_captured()
    assert step_on_device(trainer, st, inputs) is not None


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


def graph_semantics(trainer, states: list):
    """A stand-in with a CUDA graph's semantics on the host: recording runs the step's Python but
    none of its kernels (what it wrote into the state and the stream is undone), and a launch
    runs the kernels with the host's decisions frozen as they were when recorded (the counters
    the Python read, and the epoch: a replay in a later epoch must not depend on it), changing
    nothing on the host. ``states[-1]`` is the state being trained."""
    class Recorded(StandInCapture):
        def record(self, step):
            st = states[-1]
            arrays = {**state_arrays(st), "rng": trainer.graph.rng.state}
            before = {k: v.copy() for k, v in arrays.items()}
            frozen = (dict(st.objective.counters), st.epoch)
            step()
            for key, array in arrays.items():
                array[...] = before[key]
            self.records += 1
            return step, frozen

        def launch(self, graph):
            step, (counters, epoch) = graph
            st = states[-1]
            host = (dict(st.objective.counters), st.epoch)
            st.objective.counters.update(counters)
            st.epoch = epoch
            step()
            st.objective.counters.update(host[0])
            st.epoch = host[1]
    return Recorded


@pytest.mark.parametrize("name", sorted(STEPS))
def test_graph_steps_take_the_rows_and_numbers_of_the_plain_loop(monkeypatch, name):
    """Two epochs of run_epoch through GraphStep (a warm-up and one capture per step key for both
    epochs, the replays and an eager smaller last minibatch, with a CUDA graph's semantics on the
    host) train exactly as the plain loop over the same rows with the same counter-based
    streams: parameters, optimizer slots and objective state."""
    import ebmlang.train.graph as graph_module
    import ebmlang.train.trainer as trainer_module
    key_of = Trainer.epoch_rng
    monkeypatch.setattr(Trainer, "epoch_rng", lambda self, e: Rng(np, *key_of(self, e).key, counter_based=True))
    results = []
    for captured in (True, False):
        trainer, st, inputs = last_stage(STEPS[name])
        monkeypatch.setattr(graph_module, "Capture", graph_semantics(trainer, [st]))
        monkeypatch.setattr(trainer_module, "why_not", graph_module.why_not_step if captured else why_not)
        keys, key_of_step = set(), trainer.step_key
        monkeypatch.setattr(trainer, "step_key", lambda st: keys.add(key_of_step(st)) or key_of_step(st))
        for _ in range(2):
            trainer.run_epoch(st, inputs)
        if captured:                    # one graph per key (each key comes up many times here)
            assert trainer.graph_status == "captured"
            assert trainer.graph.capture.records == len(keys) == len(trainer.graph.graphs)
        results.append((state_arrays(st), dict(st.objective.counters)))
    (graphed, counted), (plain, plain_counted) = results
    assert graphed.keys() == plain.keys() and counted == plain_counted
    for key, value in graphed.items():
        np.testing.assert_array_equal(value, plain[key], err_msg=str(key))


def test_a_graph_step_warms_up_each_state_it_is_given(monkeypatch):
    """A trainer that trains a second state steps it eagerly first (which creates the state the
    step keeps, here the centring offsets) before capturing, and trains it as the plain loop."""
    import ebmlang.train.graph as graph_module
    import ebmlang.train.trainer as trainer_module
    key_of = Trainer.epoch_rng
    monkeypatch.setattr(Trainer, "epoch_rng", lambda self, e: Rng(np, *key_of(self, e).key, counter_based=True))
    trainer, first, inputs = last_stage(STEPS["centred-sparse-pcd-clipped"])
    plain, second, _ = last_stage(STEPS["centred-sparse-pcd-clipped"])
    again = trainer.init_state({k: v.copy() for k, v in second.params.items()})
    states = [first]
    monkeypatch.setattr(graph_module, "Capture", graph_semantics(trainer, states))
    monkeypatch.setattr(trainer_module, "why_not", graph_module.why_not_step)
    trainer.run_epoch(first, inputs)
    states.append(again)
    trainer.run_epoch(again, inputs)
    assert trainer.graph_status == "captured" and trainer.graph.capture.records == 2
    assert again.objective.offsets
    monkeypatch.setattr(trainer_module, "why_not", why_not)
    plain.run_epoch(second, inputs)
    for key, value in state_arrays(again).items():
        np.testing.assert_array_equal(value, state_arrays(second)[key], err_msg=str(key))


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
    their old values back, and the plain loop from the start gives the plain loop's weights;
    the fallback is said, with the capture's error."""
    with pytest.warns(RuntimeWarning, match="without a CUDA graph: capture failed: RuntimeError"):
        fallen_back = _ais_weights(monkeypatch, direction, FailingCapture, replay=True)
    plain = _ais_weights(monkeypatch, direction, StandInCapture, replay=False)
    np.testing.assert_array_equal(fallen_back, plain)


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(STEPS))
def test_replayed_graphs_train_as_the_eager_steps_do(monkeypatch, name):
    """Two epochs with a smaller last minibatch: the same parameters, slots and objective state
    with the step captured (one graph per step key for both epochs: each epoch's learning rate
    and momentum read from the device) and without, for every kind of step."""
    if not cupy_usable():
        pytest.skip("CuPy with a usable CUDA device is not available")
    results = {}
    for captured in ("1", "0"):
        monkeypatch.setenv(DISABLE, captured)
        trainer, st, inputs = last_stage(STEPS[name], "cupy")
        keys, key_of_step = set(), trainer.step_key
        monkeypatch.setattr(trainer, "step_key", lambda st: keys.add(key_of_step(st)) or key_of_step(st))
        for _ in range(2):
            trainer.run_epoch(st, inputs)
        assert trainer.graph_status == ("captured" if captured == "1" else f"{DISABLE}=0")
        if captured == "1":
            assert len(trainer.graph.graphs) == len(keys)
        results[captured] = ({k: to_numpy(v) for k, v in state_arrays(st).items()},
                             dict(st.objective.counters))
        tolerance = 1e-9 if trainer.program.dtype == np.float64 else 1e-4
    assert results["1"][1] == results["0"][1]
    assert results["1"][0].keys() == results["0"][0].keys()
    for key, value in results["1"][0].items():
        np.testing.assert_allclose(value, results["0"][0][key], rtol=tolerance, atol=tolerance,
                                   err_msg=str(key))


RESUMED = ("cd-sgd", "centred-sparse-pcd-clipped", "grbm-adam-clipped", "dbm-meanfield-fixed",
           "ratings", "gan-two-discriminator-steps")


@pytest.mark.gpu
@pytest.mark.parametrize("name", RESUMED)
def test_a_captured_stage_resumed_by_a_new_trainer_ends_bit_for_bit_alike(name):
    """A resumed run's new process warms each step key up again, eagerly, on steps the unbroken
    run replayed. Those eager steps take the capture's products (``as_captured``), so the state
    after two epochs is the same bit for bit, whether one trainer ran both or a new one (a new
    GraphStep) took over after the first."""
    if not cupy_usable():
        pytest.skip("CuPy with a usable CUDA device is not available")
    ends = []
    for handover in (False, True):
        trainer, st, inputs = last_stage(STEPS[name], "cupy")
        trainer.run_epoch(st, inputs)
        if handover:
            trainer = last_stage(STEPS[name], "cupy")[0]
        trainer.run_epoch(st, inputs)
        assert trainer.graph_status == "captured"
        ends.append({k: to_numpy(v) for k, v in state_arrays(st).items()})
    assert ends[0].keys() == ends[1].keys()
    for key, value in ends[0].items():
        np.testing.assert_array_equal(value, ends[1][key], err_msg=str(key))


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
def test_replayed_ais_weighs_as_the_eager_loop_does(monkeypatch, recwarn, units, dtype):
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
    assert replays == [True], [str(w.message) for w in recwarn]
    tolerance = 1e-9 if dtype == "float64" else 1e-3
    np.testing.assert_allclose(weights["1"], weights["0"], rtol=tolerance, atol=tolerance)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_replayed_reverse_ais_weighs_as_the_eager_loop_does(monkeypatch, recwarn, dtype):
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
    assert replays == [True], [str(w.message) for w in recwarn]
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


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("clip", [None, 0.5])
def test_fused_adam_follows_its_formula(cp, dtype, clip):
    """One launch per parameter on CuPy, which reads the step count on the device (and with
    clip_norm a scale that is a 0-d device array): the formula's parameters after three steps."""
    from ebmlang.compile.keys import ParamKey
    from ebmlang.spec.constraints import Choice
    from ebmlang.spec.types import AdamSpec
    from ebmlang.train.optim import Optimizers
    gen, key = np.random.default_rng(0), "weight.a.b"
    w = gen.normal(size=(3, 2))
    spec = AdamSpec(lr=0.01, beta1=0.8, beta2=0.95, eps=1e-6, weight_decay=0.1)
    opt = Optimizers(Choice("adam", spec), (), (key,), clip_norm=clip)
    params, roles = {key: cp.asarray(w, dtype=dtype)}, {key: ParamKey.parse(key)}
    slots = opt.init_slots(params, cp)
    m = s = np.zeros_like(w)
    for t in range(1, 4):
        g = 4 * gen.normal(size=w.shape)
        opt.update(params, slots, {key: cp.asarray(g, dtype=dtype)}, roles, 0.25)
        scale = 0.25 * (min(1.0, clip / (0.25 * np.linalg.norm(g))) if clip else 1.0)
        d = scale * g - 0.1 * w
        m, s = 0.8 * m + 0.2 * d, 0.95 * s + 0.05 * d * d
        w = w + 0.01 * np.sqrt(1 - 0.95 ** t) / (1 - 0.8 ** t) * m / (np.sqrt(s) + 1e-6)
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(to_numpy(params[key]), w, rtol=tolerance, atol=tolerance)
    assert to_numpy(slots[f"adam_t.{key}"]) == 3
