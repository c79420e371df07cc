"""Hopfield networks: storage rules, zero-temperature dynamics, recall and capacity."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ebmlang import compile_spec, parse_spec
from ebmlang.backend import Rng, to_numpy
from ebmlang.cli import main
from ebmlang.kernels import energy
from ebmlang.kernels.recall import async_sweep, relax, sync_step
from ebmlang.objectives.storage import hebbian, pseudo_inverse, store, storkey

SPECS = Path(__file__).resolve().parents[1] / "specs"


def network(n: int, units: str = "spin", backend: str = "numpy", bias_std: float = 0.0):
    bias = f", bias: {{normal: {{std: {bias_std}}}}}" if bias_std else ""
    spec = parse_spec(f"name: h\ndtype: float64\nmodel:\n  layers:\n    s: {{size: {n}, units: {units}{bias}}}\n"
                      "  couplings:\n    - {between: [s, s], connectivity: complete, init: {normal: {std: 1.0}}}\n",
                      "h.yaml", [f"backend={backend}"])
    return compile_spec(spec)


def spins(gen, p, n):
    return np.where(gen.random((p, n)) < 0.5, 1.0, -1.0)


@given(st.integers(2, 12), st.sampled_from(["spin", "binary"]), st.integers(0, 2**16))
def test_asynchronous_updates_never_raise_the_energy(backend, n, units, seed):
    model = network(n, units, backend, bias_std=0.5)
    gen = np.random.default_rng(seed)
    x = gen.integers(0, 2, (6, n)).astype(float)
    state = {"s": model.xp.asarray(2 * x - 1 if units == "spin" else x)}
    e = to_numpy(energy(model.program, model.params, state))
    for i in gen.permutation(n).tolist() * 3:              # one unit at a time, three sweeps
        state, _ = async_sweep(model.program, model.params, state, "s", [i])
        e_new = to_numpy(energy(model.program, model.params, state))
        assert np.all(e_new <= e + 1e-9)
        e = e_new


@given(st.integers(4, 40), st.data())
def test_pseudo_inverse_patterns_are_fixed_points_below_n(n, data):
    p = data.draw(st.integers(1, n - 1))
    xi = spins(np.random.default_rng(data.draw(st.integers(0, 2**16))), p, n)
    if np.linalg.matrix_rank(xi) < p:       # the projection rule needs independent patterns
        return
    model = network(n)
    store(model.program, model.params, "s", "pseudo_inverse", xi)
    state = {"s": xi.copy()}
    after, changed = async_sweep(model.program, model.params, state, "s", range(n))
    assert not changed.any() and np.array_equal(after["s"], xi)
    after, changed = sync_step(model.program, model.params, state, "s")
    assert not changed.any()


@given(st.integers(3, 30), st.integers(1, 8), st.integers(0, 2**16), st.sampled_from(["hebbian", "storkey"]))
def test_sync_and_async_agree_on_fixed_points(n, p, seed, rule):
    gen = np.random.default_rng(seed)
    model = network(n)
    store(model.program, model.params, "s", rule, spins(gen, p, n))
    start = {"s": spins(gen, 10, n)}
    fixed, _, converged = relax(model.program, model.params, start, "s", "async", 200, Rng(np, seed))
    still, changed = sync_step(model.program, model.params, fixed, "s")
    assert not changed[converged].any()          # async fixed points are sync fixed points
    sync_fixed, _, sync_converged = relax(model.program, model.params, start, "s", "sync", 200, Rng(np, seed))
    again, changed = async_sweep(model.program, model.params, sync_fixed, "s", range(n))
    assert not changed[sync_converged].any()     # and the other way round


def test_storage_rules_match_their_formulas():
    gen = np.random.default_rng(0)
    xi = spins(gen, 5, 12)
    n = xi.shape[1]
    expected = sum(np.outer(x, x) for x in xi) / n
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(hebbian(xi), expected)
    w = np.zeros((n, n))                          # Storkey (1997), written out term by term
    for x in xi:
        h = np.array([[sum(w[i, k] * x[k] for k in range(n) if k not in (i, j)) for j in range(n)]
                      for i in range(n)])
        w = w + (np.outer(x, x) - x[:, None] * h.T - h * x[None, :]) / n
        np.fill_diagonal(w, 0)
    np.testing.assert_allclose(storkey(xi), w, atol=1e-12)
    proj = pseudo_inverse(xi)
    full = xi.T @ np.linalg.inv(xi @ xi.T) @ xi
    np.testing.assert_allclose(proj + np.diag(np.diag(full)), full, atol=1e-10)


@pytest.mark.parametrize("rule", ["hebbian", "storkey", "pseudo_inverse"])
def test_binary_network_runs_the_same_dynamics_as_the_spin_one(rule):
    gen = np.random.default_rng(5)
    xi = spins(gen, 6, 40)
    cues = np.where(gen.random((6, 40)) < 0.2, -xi, xi)
    finals = {}
    for units in ("spin", "binary"):
        model = network(40, units)
        model.params["bias.s"][:] = 0
        store(model.program, model.params, "s", rule, xi if units == "spin" else (xi + 1) / 2)
        start = cues if units == "spin" else (cues + 1) / 2
        state, _, _ = relax(model.program, model.params, {"s": start}, "s", "async", 50, Rng(np, 1))
        finals[units] = state["s"] if units == "spin" else 2 * state["s"] - 1
    np.testing.assert_array_equal(finals["spin"], finals["binary"])


def test_the_capacity_study_sees_the_same_network_in_binary_and_spin_form():
    """Each (load, trial) of the study stores into the untrained parameters: the binary network's
    bias shift −2W·1 must not pile up over trials, so its overlaps are the spin network's."""
    from ebmlang.eval.capacity import mean_final_overlap
    curves = {}
    for units in ("spin", "binary"):
        model = network(60, units)
        model.params["bias.s"][:] = 0
        curves[units] = [mean_final_overlap(model, "s", "hebbian", 60, p, 30, (0, p, trial))
                         for p in (3, 8, 12) for trial in range(3)]
    assert curves["spin"] == curves["binary"]


def test_recall_spec_recovers_every_pattern(tmp_path):
    out = tmp_path / "hr"
    assert main(["run", str(SPECS / "hopfield-recall.yaml"), "--out", str(out), "--quiet"]) == 0
    recall = json.loads((out / "summary.json").read_text())["recall"]
    assert recall["recalled_exactly"] == 1.0 and recall["spurious"] == 0.0 and recall["converged"] == 1.0


def test_small_capacity_study_finds_the_hebbian_breakdown(tmp_path):
    out = tmp_path / "hc"
    assert main(["run", str(SPECS / "hopfield-capacity.yaml"), "--out", str(out), "--quiet",
                 "--set", "study.capacity.sizes=[100]", "--set", "study.capacity.loads=[0.05, 0.4]"]) == 0
    study = json.loads((out / "summary.json").read_text())["capacity"]
    assert study["hebbian"]["overlap"]["100"][0] > 0.95 and study["hebbian"]["overlap"]["100"][1] < 0.9
    assert study["hebbian"]["critical_load"] == 0.4
    assert (out / "capacity-hebbian.png").is_file()


@pytest.mark.slow
def test_capacity_spec_matches_theory(tmp_path):
    """At N = 1000 the Hebbian critical load lies in [0.12, 0.17] (theory: 0.138 as N → ∞), and the
    Storkey and pseudo-inverse rules store more. The loads stop at 0.2, past the Hebbian
    transition: the recall of a Storkey network at α = 0.5 alone takes some 10 s."""
    out = tmp_path / "hc"
    loads = "[0.1, 0.12, 0.13, 0.14, 0.15, 0.16, 0.18, 0.2]"
    assert main(["run", str(SPECS / "hopfield-capacity.yaml"), "--out", str(out), "--quiet",
                 "--set", "study.capacity.sizes=[1000]", "--set", f"study.capacity.loads={loads}"]) == 0
    study = json.loads((out / "summary.json").read_text())["capacity"]
    hebbian_load = study["hebbian"]["critical_load"]
    assert 0.12 <= hebbian_load <= 0.17
    for rule in ("storkey", "pseudo_inverse"):
        assert study[rule]["critical_load"] is None or study[rule]["critical_load"] > hebbian_load


def test_asynchronous_sweeps_take_a_new_order_each_time():
    """Rng.permutation (the order of an asynchronous sweep) is a new order at every call, the
    first one a function of the key alone (the trainer makes an epoch's order from its key)."""
    rng = Rng(np, 5, 2)
    orders = [tuple(rng.permutation(9).tolist()) for _ in range(30)]
    assert all(sorted(o) == list(range(9)) for o in orders)
    assert len(set(orders)) == len(orders)          # 30 distinct orders of the 9! there are
    assert orders[0] == tuple(Rng(np, 5, 2).permutation(9).tolist())
