"""AIS against exact enumeration of its own path: the path densities, the unbiasedness of the
forward weights (E[w] = Z/Z_A) and of the reverse estimate (E[q̂(v)] = q(v), the law of the
forward chain's end state), and the sandwich the two sides make on average."""
from __future__ import annotations

import numpy as np
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ebmlang import compile_spec, load_spec, parse_spec
from ebmlang.backend import Rng, to_numpy
from ebmlang.eval.ais import forward_log_weights, reverse_log_z
from ebmlang.eval.annealing import AnnealingPath, summed_layers

import oracle
from conftest import ROOT
from strategies import DISCRETE, dbm_dicts, densify, spec_dicts

SMALL = spec_dicts(kinds=DISCRETE, max_states=128)


class ExactPath:
    """The path of ``path`` over every joint state of the model, by enumeration."""

    def __init__(self, spec: dict, path: AnnealingPath):
        self.spec, self.path, self.program = spec, path, path.program
        self.t = spec["model"].get("temperature", 1.0)
        names = list(self.program.layers)
        self.states = oracle.enumerate_states(spec["model"]["layers"], names)
        kept = np.concatenate([self.states[n] for n in path.kept], axis=1)
        self.kept_states, self.kept_index = np.unique(kept, axis=0, return_inverse=True)
        self.kept_index = self.kept_index.ravel()

    def log_joint(self, beta: float) -> np.ndarray:
        return -oracle.energy(self.spec, densify(self.program, self.path.params_at(beta)), self.states) / self.t

    def log_f(self, beta: float) -> np.ndarray:
        """log Σ_{x_S} exp(−E(x; θ_β)/T) for each kept state."""
        joint = self.log_joint(beta)
        return np.array([oracle.log_sum_exp(joint[self.kept_index == i]) for i in range(len(self.kept_states))])

    def transition(self, beta: float) -> np.ndarray:
        """Joint-space matrix of one move: redraw S, then the kept blocks in order."""
        theta = densify(self.program, self.path.params_at(beta))
        blocks = [{n: None for n in self.path.summed}] if self.path.summed else []
        blocks += [{p.layer: None if p.units is None else to_numpy(p.units) for p in b} for b in self.path.blocks]
        matrix = np.eye(len(self.kept_index))
        for block in blocks:
            matrix = matrix @ oracle.gibbs_kernel(self.spec, theta, self.states, block)
        return matrix

    def end_law(self, bs) -> np.ndarray:
        """q: the law of the kept state after the forward chain over ``bs`` (with the last move)."""
        p0 = np.exp(self.log_f(0.0) - oracle.log_sum_exp(self.log_f(0.0)))
        counts = np.bincount(self.kept_index)
        pi = p0[self.kept_index] / counts[self.kept_index]
        for beta in bs[1:]:
            pi = pi @ self.transition(float(beta))
        return np.bincount(self.kept_index, weights=pi)

    def kept_transition(self, beta: float) -> np.ndarray:
        """The move as a matrix over kept states (S is redrawn first, so any S value represents x)."""
        joint = self.transition(beta)
        reps = np.array([np.flatnonzero(self.kept_index == i)[0] for i in range(len(self.kept_states))])
        out = np.zeros((len(reps), len(reps)))
        for i, row in enumerate(joint[reps]):
            out[i] = np.bincount(self.kept_index, weights=row, minlength=len(reps))
        return out

    def ratios(self, bs) -> list:
        """r_k(x) = f_{β_k}(x) / f_{β_{k−1}}(x) over kept states, k = 1..K."""
        logs = [self.log_f(float(b)) for b in bs]
        return [np.exp(b - a) for a, b in zip(logs[:-1], logs[1:])]

    def forward_moment(self, bs, m: int) -> float:
        """E[w^m] of one forward run, exactly: x_0 ~ p_0, factor r_1(x_0), move, factor r_2(x_1), ..."""
        log_f0 = self.log_f(0.0)
        a = np.exp(log_f0 - oracle.log_sum_exp(log_f0))
        r = self.ratios(bs)
        a = a * r[0] ** m
        for k in range(1, len(r)):
            a = (a @ self.kept_transition(float(bs[k]))) * r[k] ** m
        return float(a.sum())

    def reverse_moment(self, bs, i: int, m: int) -> float:
        """E[q̂(v_i)^m] of one reverse run from kept state i, exactly, through the reversed moves
        T̃_k(x' | x) = T_k(x | x') p_k(x') / p_k(x)."""
        r = self.ratios(bs)
        a = np.zeros(len(self.kept_states))
        a[i] = 1.0
        for k in range(len(r), 0, -1):
            p = np.exp(self.log_f(float(bs[k])))
            reverse = self.kept_transition(float(bs[k])).T * p[None, :] / p[:, None]
            a = (a @ reverse) * r[k - 1] ** (-m)
        scale = np.exp(self.log_f(1.0)[i] - self.path.log_z_base())
        return float(scale ** m * a.sum())

    def kept_rows(self, i: int, count: int) -> dict:
        sizes = [self.program.layers[n].size for n in self.path.kept]
        parts = np.split(self.kept_states[i], np.cumsum(sizes)[:-1])
        return {n: np.repeat(part[None, :], count, axis=0) for n, part in zip(self.path.kept, parts)}


def _path(spec: dict, seed: int, data_layer: str | None, keep_data: bool = True):
    model = compile_spec(parse_spec(yaml.safe_dump(spec), "ais.yaml"), "numpy")
    gen = np.random.default_rng(seed)
    base = {n: gen.normal(0, 0.7, info.size) for n, info in model.program.layers.items()}
    summed = summed_layers(model.program, data_layer, keep_data)
    return ExactPath(spec, AnnealingPath(model.program, model.params, base, summed))


@given(SMALL, st.integers(0, 2**16), st.sampled_from([(None, True), ("l0", True), ("l0", False)]))
def test_path_densities_and_base_partition_match_enumeration(spec, seed, data):
    """Also with the data layer summed out beside latent layers (forward AIS on a DBM): its
    base biases then enter the closed-form sum at every β."""
    (data_layer, keep_data) = data
    exact = _path(spec, seed, data_layer, keep_data)
    path = exact.path
    assert path.kept and (not keep_data or data_layer is None or data_layer in path.kept)
    _assert_densities_match_enumeration(exact)


@given(dbm_dicts(), st.integers(0, 2**16))
def test_forward_ais_on_a_dbm_may_sum_out_the_data_layer(spec, seed):
    """A chain l0 – l1 – l2: forward AIS sums out l1, or l0 and l2 together (the data layer then
    with its base rates), whichever the greedy choice takes, and the path's densities are exact."""
    exact = _path(spec, seed, "l0", keep_data=False)
    sizes = {n: layer["size"] for n, layer in spec["model"]["layers"].items()}
    lateral = any(c["between"] == ["l1", "l1"] for c in spec["model"]["couplings"])
    # greedy, largest first; l1 with a lateral coupling does not sum out
    l1_first = not lateral and sizes["l1"] > sizes["l0"] and sizes["l1"] >= sizes["l2"]
    assert exact.path.summed == (("l1",) if l1_first else ("l0", "l2"))
    _assert_densities_match_enumeration(exact)


def test_forward_ais_on_the_mnist_dbm_lives_on_h1():
    """784–500–1000: v and h2 summed out, as in Salakhutdinov & Hinton (2009)."""
    spec = load_spec(ROOT / "specs" / "dbm-mnist.yaml")
    program = compile_spec(spec, "numpy", data_mean={"v": np.full(784, 0.5)}).program
    assert summed_layers(program, "v", keep_data=False) == ("v", "h2")
    assert summed_layers(program, "v") == ("h2",)          # reverse AIS keeps the data


def _assert_densities_match_enumeration(exact: ExactPath) -> None:
    """log f_β of every kept state at three β's, and log Z_A, against enumeration."""
    path = exact.path
    x = {n: np.concatenate([exact.kept_rows(i, 1)[n] for i in range(len(exact.kept_states))]) for n in path.kept}
    terms = path.terms(x)
    for beta in (0.0, 0.3, 1.0):
        np.testing.assert_allclose(to_numpy(path.log_f(x, beta, terms)), exact.log_f(beta), atol=1e-9)
    assert np.isclose(path.log_z_base(), oracle.log_sum_exp(exact.log_joint(0.0)), atol=1e-9)


RUNS = 4000
SPREAD = 20          # runs whose relative second moment E[x²]/E[x]² exceeds this are too heavy-tailed
                     # for a 4000-run mean to be near normal; the exact moments below rule them out


@settings(max_examples=30)
@given(SMALL, st.integers(0, 2**16))
def test_forward_weights_are_unbiased_for_z_over_z_base(spec, seed):
    """E[w] = Z/Z_A exactly, for any number of β's (checked with 3, where the weights spread): the
    exact first moment along the oracle's chain, and the package's runs within 5 exact σ of it."""
    exact = _path(spec, seed, None)
    bs = np.linspace(0, 1, 4)
    ratio = np.exp(oracle.log_partition(exact.spec, densify(exact.program, exact.path.params))
                   - exact.path.log_z_base())
    first, second = exact.forward_moment(bs, 1), exact.forward_moment(bs, 2)
    assert np.isclose(first, ratio, rtol=1e-9)
    assume(second / first ** 2 <= SPREAD)
    w = np.exp(forward_log_weights(exact.path, RUNS, bs, Rng(np, seed, 1)))
    assert abs(w.mean() - first) <= 5 * np.sqrt((second - first ** 2) / RUNS) + 1e-9 * first


@settings(max_examples=30)
@given(SMALL, st.integers(0, 2**16), st.data())
def test_reverse_estimate_is_unbiased_for_the_forward_chains_law(spec, seed, data):
    """E[q̂(v)] = q(v), q the law of the forward chain's end: exact matrices over every state,
    lateral couplings (several blocks, whose order the reverse run must invert) included."""
    exact = _path(spec, seed, "l0")
    assume(exact.path.kept == ("l0",))
    bs = np.linspace(0, 1, 4)
    q = exact.end_law(bs)
    i = data.draw(st.integers(0, len(q) - 1))
    first, second = exact.reverse_moment(bs, i, 1), exact.reverse_moment(bs, i, 2)
    assert np.isclose(first, q[i], rtol=1e-9)
    assume(second / first ** 2 <= SPREAD)
    each, log_f1 = reverse_log_z(exact.path, exact.kept_rows(i, RUNS), bs, Rng(np, seed, 2))
    q_hat = np.exp(log_f1 - each)
    assert abs(q_hat.mean() - q[i]) <= 5 * np.sqrt((second - first ** 2) / RUNS) + 1e-9


def test_reverse_run_inverts_the_block_order():
    """A visible layer with lateral couplings is swept in several blocks; the reverse run must visit
    them backwards, or q̂ is biased. Strong couplings make the order matter."""
    spec = {"name": "lateral", "seed": 3, "dtype": "float64",
            "model": {"layers": {"l0": {"size": 3, "units": "binary", "bias": {"normal": {"std": 1.0}}},
                                 "l1": {"size": 2, "units": "binary", "bias": {"normal": {"std": 1.0}}}},
                      "couplings": [{"between": ["l0", "l0"], "connectivity": "complete",
                                     "init": {"normal": {"std": 3.0}}},
                                    {"between": ["l0", "l1"], "init": {"normal": {"std": 2.0}}}]}}
    exact = _path(spec, 0, "l0")
    assert len(exact.path.blocks) == 3
    bs = np.linspace(0, 1, 3)
    q = exact.end_law(bs)
    runs = 20000
    for i in range(len(q)):
        each, log_f1 = reverse_log_z(exact.path, exact.kept_rows(i, runs), bs, Rng(np, i, 2))
        q_hat = np.exp(log_f1 - each)
        assert abs(q_hat.mean() - q[i]) <= 5 * q_hat.std() / np.sqrt(runs) + 1e-9, (i, q_hat.mean(), q[i])


def _rbm_spec(seed: int) -> dict:
    return {"name": "sandwich", "seed": seed, "dtype": "float64",
            "model": {"layers": {"v": {"size": 6, "units": "binary", "bias": {"normal": {"std": 1.0}}},
                                 "h": {"size": 4, "units": "binary", "bias": {"normal": {"std": 1.0}}}},
                      "couplings": [{"between": ["v", "h"], "init": {"normal": {"std": 1.5}}}]}}


def test_forward_and_reverse_sandwich_the_log_likelihood_on_average():
    """With a short schedule (so both biases show), run by run: a forward run's log Ẑ lies below
    log Z on average (E[log w] ≤ log E[w]), so its log-likelihood is optimistic; a reverse run
    from data drawn from the model gives log q̂(v) below log p(v) on average (Jensen, then Gibbs'
    inequality E_p[log q] ≤ E_p[log p]). Each side must be on its side by 4 standard errors."""
    from ebmlang.eval.ais import betas
    runs = 2000
    for seed in range(3):
        spec = _rbm_spec(seed)
        model = compile_spec(parse_spec(yaml.safe_dump(spec), "s.yaml"), "numpy")
        path = AnnealingPath.for_model(model.program, model.params, "v")
        exact = ExactPath(spec, path)
        log_z = oracle.log_sum_exp(exact.log_f(1.0))
        log_p = exact.log_f(1.0) - log_z
        bs = betas(5, "linear")
        forward_gaps = log_z - (path.log_z_base() + forward_log_weights(path, runs, bs, Rng(np, seed, 1)))
        rows = np.random.default_rng(seed).choice(len(log_p), size=runs, p=np.exp(log_p))
        each, log_f1 = reverse_log_z(path, {"v": exact.kept_states[rows]}, bs, Rng(np, seed, 2))
        reverse_gaps = log_f1 - each - log_p[rows]
        for gaps, sign in ((forward_gaps, 1), (reverse_gaps, -1)):
            mean, se = np.mean(gaps), np.std(gaps, ddof=1) / np.sqrt(runs)
            assert sign * mean > 4 * se, (seed, sign, mean, se)
