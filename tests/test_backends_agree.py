"""NumPy and CuPy compute the same models: identical results where the computation is
deterministic (energies, conditionals, enumeration), statistically indistinguishable ones where
it draws random numbers (Gibbs samples, training), since the two backends' generators differ.

The second backend is CuPy on a machine with a GPU (these variants are marked `gpu`); the NumPy
variant runs the same checks against NumPy itself on every CI run, so the test's own code is
exercised where no GPU is."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from ebmlang import compile_spec, load_spec, parse_spec
from ebmlang.backend import cupy_usable, to_numpy
from ebmlang.eval.exact import enumerate_states

SPECS = Path(__file__).resolve().parents[1] / "specs"
SMALL = ["rbm-bars-and-stripes", "bm-encoder-4-2-4", "dbm-bars-and-stripes", "grbm-mixture"]

TINY = """name: tiny
seed: {seed}
dtype: float64
data: {{source: bars-and-stripes, side: 2, samples: 400}}
model:
  layers:
    v: {{size: 4, units: binary}}
    h: {{size: 3, units: binary}}
  couplings:
    - {{between: [v, h], init: {{normal: {{std: 1.0}}}}}}
train: {{rule: pcd, k: 1, epochs: 30, batch_size: 20, chains: 50, optimizer: {{sgd: {{lr: 0.1}}}}}}
"""


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def other(request):
    if request.param == "cupy" and not cupy_usable():
        pytest.skip("CuPy with a usable CUDA device is not available")
    return request.param


def twins(spec, other: str):
    """The spec compiled on NumPy and on ``other``, holding the same parameters."""
    mine = compile_spec(spec, "numpy")
    theirs = compile_spec(spec, other)
    theirs.load_parameters(mine.parameters())
    return mine, theirs


def random_states(model, count: int, gen) -> dict:
    out = {}
    for name, layer in model.layers.items():
        kind = layer.units.name
        if kind == "gaussian":
            out[name] = gen.standard_normal((count, layer.size))
        elif kind == "softmax":
            out[name] = np.eye(layer.size)[gen.integers(0, layer.size, count)]
        elif kind == "spin":
            out[name] = np.where(gen.random((count, layer.size)) < 0.5, -1.0, 1.0)
        else:
            out[name] = (gen.random((count, layer.size)) < 0.5).astype(float)
    return out


@pytest.mark.parametrize("name", SMALL)
def test_deterministic_quantities_are_identical(other, name):
    spec = load_spec(SPECS / f"{name}.yaml", ["dtype=float64"])
    mine, theirs = twins(spec, other)
    state = random_states(mine, 16, np.random.default_rng(0))
    close = dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(to_numpy(theirs.energy(state)), to_numpy(mine.energy(state)), **close)
    for layer in mine.layers:          # the whole state: a layer with lateral couplings reads itself
        for a, b in zip(mine.conditional(layer, state), theirs.conditional(layer, state)):
            np.testing.assert_allclose(to_numpy(b), to_numpy(a), **close)
    if all(layer.units.name != "gaussian" for layer in mine.layers.values()):
        assert theirs.log_partition() == pytest.approx(mine.log_partition(), rel=1e-10)


def exact_visible_distribution(model) -> tuple[np.ndarray, np.ndarray]:
    """Every visible state (16, 4) and its exact probability under the model."""
    (states,) = enumerate_states(model.program, ("v",), 1 << 4)
    states = to_numpy(states["v"])
    return states, np.exp(to_numpy(model.log_likelihood({"v": states})))


def test_gibbs_samples_follow_the_exact_distribution_on_both(other):
    from scipy.stats import chi2_contingency, chisquare
    mine, theirs = twins(parse_spec(TINY.format(seed=0)), other)
    states, p = exact_visible_distribution(mine)
    index = {tuple(s): i for i, s in enumerate(states)}
    counts = []
    for model in (mine, theirs):
        v = to_numpy(model.sample(20000, sweeps=30, seed=1)["v"])
        counts.append(np.bincount([index[tuple(row)] for row in v], minlength=len(p)))
        assert chisquare(counts[-1], 20000 * p).pvalue > 1e-6
    if other != "numpy":                # NumPy against itself draws the very same samples
        assert chi2_contingency(np.array(counts) + 0.5).pvalue > 1e-6


def test_training_reaches_the_same_likelihood_on_both(other):
    def final_log_likelihoods(backend):
        out = []
        for seed in range(4):
            spec = parse_spec(TINY.format(seed=seed), "tiny.yaml", [f"backend={backend}"])
            out.append(train_and_score(spec))
        return np.array(out)

    a, b = final_log_likelihoods("numpy"), final_log_likelihoods(other)
    spread = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    assert abs(a.mean() - b.mean()) <= 4 * spread + 0.05
    untrained = train_and_score(parse_spec(TINY.format(seed=0), "tiny.yaml", ["train.epochs=0"]))
    assert min(a.mean(), b.mean()) > untrained + 0.3        # both learned (about 0.6 nats)


def train_and_score(spec) -> float:
    from ebmlang.data import load_data
    from ebmlang.train import Trainer
    data = load_data(spec)
    model = compile_spec(spec, data_mean={"v": data.train.mean(axis=0)})
    trainer = Trainer(model.program, spec.train, ("v",), spec.seed)
    state = trainer.init_state(model.params)
    while state.epoch < spec.train.epochs:
        trainer.run_epoch(state, {"v": model.xp.asarray(data.train)})
    return float(np.mean(to_numpy(model.log_likelihood({"v": data.test}))))


LATTICE = """name: lattice
dtype: {dtype}
model:
  temperature: 1.5
  layers:
    s: {{size: 8, units: spin, bias: {{normal: {{std: 0.5}}}}}}
  couplings:
    - {{between: [s, s], connectivity: {{lattice: {{dims: [2, 4]}}}}, init: {{constant: {{value: 0.6}}}},
       trainable: false}}
"""


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lattice_samples_follow_the_exact_distribution_on_both(other, dtype):
    """On CuPy a lattice model samples through the int8 checkerboard kernel (lattice_gpu.py),
    on NumPy through the generic block sweep: both give the Boltzmann distribution."""
    from scipy.stats import chisquare
    mine, theirs = twins(parse_spec(LATTICE.format(dtype=dtype), "lattice.yaml"), other)
    states = np.array(list(itertools.product([-1.0, 1.0], repeat=8)))   # first unit most significant
    logp = -to_numpy(mine.energy({"s": states})).astype(np.float64) / 1.5
    p = np.exp(logp - logp.max())
    p /= p.sum()
    for model in (mine, theirs):
        s = to_numpy(model.sample(20000, sweeps=20, seed=3)["s"])
        counts = np.bincount((s > 0).astype(int) @ (1 << np.arange(7, -1, -1)), minlength=256)
        assert chisquare(counts, 20000 * p).pvalue > 1e-6
