"""Optimisation problems compiled into energies: TSP (Hopfield–Tank) and max-cut (Ising)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ebmlang import compile_spec, parse_spec
from ebmlang.backend import to_numpy
from ebmlang.cli import main
from ebmlang.problems import maxcut, tsp

SPECS = Path(__file__).resolve().parents[1] / "specs"


def hopfield_tank(v: np.ndarray, xy: np.ndarray, a, b, c, d) -> float:
    """The 1985 energy, term by term with explicit loops."""
    n = len(xy)
    dist = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    e = 0.0
    for x in range(n):
        for i in range(n):
            for j in range(n):
                if j != i:
                    e += a / 2 * v[x, i] * v[x, j]
            for y in range(n):
                if y != x:
                    e += b / 2 * v[x, i] * v[y, i]
                    e += d / 2 * dist[x, y] * v[x, i] * (v[y, (i + 1) % n] + v[y, (i - 1) % n])
    return e + c / 2 * (v.sum() - n) ** 2


@given(st.integers(3, 6), st.integers(0, 2**16), st.data())
def test_tsp_energy_is_the_hopfield_tank_energy(n, seed, data):
    a, b, c, d = (data.draw(st.sampled_from([0.5, 1.0, 3.0])) for _ in range(4))
    spec = parse_spec(f"name: t\ndtype: float64\nproblem: {{tsp: {{cities: {n}, seed: {seed}, A: {a}, B: {b}, "
                      f"C: {c}, D: {d}}}}}\n", "t.yaml")
    model = compile_spec(spec)
    xy = tsp.cities(spec.problem.options, spec)
    v = np.random.default_rng(seed).integers(0, 2, (4, n, n)).astype(float)
    got = to_numpy(model.energy({"v": v.reshape(4, -1)}))
    want = np.array([hopfield_tank(s, xy, a, b, c, d) for s in v]) - c / 2 * n * n    # E is defined up to Cn²/2
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_tour_decoding_and_baselines():
    xy = np.random.default_rng(3).random((7, 2))
    opt_tour, opt_len = tsp.optimum(xy)
    assert sorted(opt_tour) == list(range(7))
    assert tsp.nearest_neighbour(xy)[1] >= opt_len - 1e-12
    for perm in np.random.default_rng(4).permuted(np.tile(np.arange(7), (20, 1)), axis=1):
        assert tsp.length(perm, xy) >= opt_len - 1e-12
        v = np.zeros((7, 7))
        v[perm, np.arange(7)] = 1           # city perm[i] at position i
        assert tsp.decode(v) == list(perm)
    v[0, 0] = 1 - v[0, 0]
    assert tsp.decode(v) is None


@given(st.integers(4, 12), st.integers(0, 2**16))
def test_maxcut_energy_counts_uncut_minus_cut_edges(n, seed):
    degree = 3 if n % 2 == 0 else 2
    spec = parse_spec(f"name: m\ndtype: float64\nproblem: {{maxcut: {{nodes: {n}, degree: {degree}, seed: {seed}}}}}\n",
                      "m.yaml")
    model = compile_spec(spec)
    g = maxcut.graph(spec.problem.options, spec)
    s = np.where(np.random.default_rng(seed).random((6, n)) < 0.5, 1.0, -1.0)
    cut = maxcut.cut_value(g, s)
    np.testing.assert_allclose(to_numpy(model.energy({"v": s})), g.number_of_edges() - 2 * cut)


def test_annealing_solves_the_shipped_tsp(tmp_path):
    out = tmp_path / "tsp"
    assert main(["run", str(SPECS / "hopfield-tsp.yaml"), "--out", str(out), "--quiet"]) == 0
    o = json.loads((out / "summary.json").read_text())["optimize"]
    assert o["valid_fraction"] >= 0.5 and o["best_over_optimum"] <= 1.1
    assert (out / "tour.png").is_file()


def test_annealing_finds_good_cuts(tmp_path):
    out = tmp_path / "mc"
    assert main(["run", str(SPECS / "maxcut.yaml"), "--out", str(out), "--quiet"]) == 0
    o = json.loads((out / "summary.json").read_text())["optimize"]
    assert o["best_over_optimum"] >= 0.95 and o["mean_over_optimum"] >= 0.85


def test_a_spec_takes_a_model_or_a_problem_not_both():
    from ebmlang.errors import SpecError
    with pytest.raises(SpecError, match="exactly one of 'model' and 'problem'"):
        parse_spec("name: x\nproblem: {maxcut: {nodes: 6}}\nmodel:\n  layers:\n    v: {size: 2, units: spin}\n", "x.yaml")


@pytest.mark.parametrize("lines, says", [
    ("0 0\n0 0\n1 1\n", "two cities share a position"),
    ("0 0\n1 nan\n0 1\n", "finite number"),
    ("0 0\n1 1e300\n0 1\n", "finite number"),
    ("0 0 1\n1 1 1\n0 1 1\n", "3 to 10 cities as `x y` lines"),
])
def test_a_city_file_with_no_tour_to_measure_is_refused_by_validate(tmp_path, capsys, lines, says):
    cities = tmp_path / "cities.txt"
    cities.write_text(lines)
    spec = Path(__file__).resolve().parents[1] / "specs" / "hopfield-tsp.yaml"
    assert main(["validate", str(spec), "--set", f"problem.tsp.file={cities}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("--set:1:") and err.count("\n") == 1 and says in err


@pytest.mark.parametrize("lines", ["0 1\n1 1\n", "0 1\n1 24\n", "0 1.5\n", "", "0 1 2\n"])
def test_a_maxcut_edge_file_of_other_than_edges_between_two_nodes_is_located(tmp_path, capsys,
                                                                             lines):
    (tmp_path / "edges.txt").write_text(lines)
    (tmp_path / "m.yaml").write_text("name: m\nproblem: {maxcut: {file: edges.txt}}\n"
                                     "optimize: {anneal: {geometric: {start: 5.0, stop: 0.1, "
                                     "steps: 5}}}\n")
    assert main(["validate", str(tmp_path / "m.yaml")]) == 2
    err = capsys.readouterr().err
    assert err == (f"{tmp_path / 'm.yaml'}:2:26: problem.maxcut.file must hold `i j` edges between "
                   "two different nodes of 0..23\n")


def test_a_problem_compiles_without_optimize_but_does_not_run(tmp_path):
    """From Python a problem's energy may be compiled to inspect it; a run of it needs the
    annealing that solves it (a spec file too: `ebm validate` refuses it, see specs/invalid)."""
    from ebmlang import run
    from ebmlang.errors import SpecError
    spec = parse_spec("name: m\nproblem: {maxcut: {nodes: 6, degree: 3}}\n", "m.yaml")
    assert compile_spec(spec).layers["v"].size == 6
    with pytest.raises(SpecError, match="m.yaml:2:10: a problem is solved by annealing its energy"):
        run(spec, out=tmp_path / "m")
    assert not (tmp_path / "m").exists()
