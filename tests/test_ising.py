"""Ising models: schedules, sampled observables against enumeration, Onsager's magnetisation."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ebmlang import compile_spec, parse_spec
from ebmlang.cli import main
from ebmlang.eval.observables import temperature_scan
from ebmlang.spec.schedules import first_outside, temperatures
from ebmlang.spec.constraints import Choice

import oracle
from strategies import dense_params

SPECS = Path(__file__).resolve().parents[1] / "specs"
ONSAGER_T2 = (1 - math.sinh(2 / 2.0) ** -4) ** (1 / 8)        # 0.91130...


def ising(side: int, temps: list, chains: int, burn_in: int, sweeps: int, field: float = 0.0) -> str:
    return f"""
name: ising
dtype: float64
model:
  layers:
    s: {{size: {side * side}, units: spin, bias: {{constant: {{value: {field}}}}}}}
  couplings:
    - {{between: [s, s], connectivity: {{lattice: {{dims: [{side}, {side}]}}}}, init: {{constant: {{value: 1.0}}}},
       trainable: false}}
sample: {{temperatures: {{list: {{values: {temps}}}}}, chains: {chains}, burn_in: {burn_in}, sweeps: {sweeps},
          start: cold}}
"""


def test_schedules_follow_their_formulas():
    np.testing.assert_allclose(temperatures(Choice("linear", {"start": 3.0, "stop": 1.0, "steps": 5})),
                               [3.0, 2.5, 2.0, 1.5, 1.0])
    np.testing.assert_allclose(temperatures(Choice("geometric", {"start": 8.0, "stop": 1.0, "steps": 4})),
                               [8.0, 4.0, 2.0, 1.0])
    np.testing.assert_allclose(temperatures(Choice("exponential", {"start": 2.0, "rate": 0.5, "steps": 3})),
                               [2.0, 1.0, 0.5])
    np.testing.assert_allclose(temperatures(Choice("list", {"values": (2.0, 1.5)})), [2.0, 1.5])
    wide = temperatures(Choice("geometric", {"start": 1e-300, "stop": 1e300, "steps": 3}))
    np.testing.assert_allclose(wide, [1e-300, 1.0, 1e300])     # stop/start overflows, T_k do not


SCHEDULES = st.one_of(
    st.builds(lambda a, b, n: Choice("linear", {"start": a, "stop": b, "steps": n}),
              st.floats(1e-3, 1e3), st.floats(1e-3, 1e3), st.integers(2, 400)),
    st.builds(lambda a, b, n: Choice("geometric", {"start": a, "stop": b, "steps": n}),
              st.floats(1e-30, 1e30), st.floats(1e-30, 1e30), st.integers(2, 400)),
    st.builds(lambda a, r, n: Choice("exponential", {"start": a, "rate": r, "steps": n}),
              st.floats(1e-30, 1e30), st.floats(0.05, 20.0), st.integers(1, 400)),
    st.builds(lambda v: Choice("list", {"values": tuple(v)}),
              st.lists(st.floats(1e-30, 1e30), min_size=1, max_size=20)))


def test_a_crossing_beyond_float64_is_no_crossing():
    """float64's range for a short linear schedule: the step at which it would leave it is past
    float64 itself (the quotient overflowed to inf, and int(inf) raised; the spec fuzz found it)."""
    f64 = np.finfo(np.float64)
    schedule = Choice("linear", {"start": 0.5, "stop": 1.0, "steps": 2})
    assert first_outside(schedule, float(f64.tiny), float(f64.max)) is None


@given(SCHEDULES, st.floats(1e-20, 1.0), st.floats(1.0, 1e20))
def test_the_first_step_outside_a_range_is_found_without_making_the_schedule(schedule, low, high):
    with np.errstate(all="ignore"):         # a long schedule may leave float64 (0 or inf)
        made = temperatures(schedule)
    found = first_outside(schedule, low, high)

    def inside(t):          # on a bound up to rounding counts as either
        with np.errstate(all="ignore"):
            return low <= t <= high or abs(np.log(t / np.clip(t, low, high))) < 1e-9

    if found is None:
        assert all(inside(t) for t in made)
    else:
        step, value = found
        np.testing.assert_allclose(value, made[step], rtol=1e-9)
        assert not low <= made[step] <= high or inside(made[step])
        assert all(inside(t) for t in made[:step])


def _exact_observables(spec_text: str, t: float) -> dict:
    spec = parse_spec(spec_text, "ising.yaml")
    model = compile_spec(spec)
    layers = {"s": {"size": spec.model.layers["s"].size, "units": "spin"}}
    states = oracle.enumerate_states(layers, ["s"])
    plain = {"model": {"layers": layers, "couplings": [{"between": ["s", "s"]}]}}
    e = oracle.energy(plain, dense_params(model), states)
    w = np.exp(-(e - e.min()) / t)
    p = w / w.sum()
    n = layers["s"]["size"]
    m = states["s"].mean(axis=1)
    mean = lambda f: float((p * f).sum())
    return {"abs_magnetization": mean(np.abs(m)), "energy_per_unit": mean(e) / n,
            "heat_capacity": (mean(e ** 2) - mean(e) ** 2) / (n * t * t),
            "susceptibility": n * (mean(m ** 2) - mean(np.abs(m)) ** 2) / t}


@pytest.mark.parametrize("t,field", [(1.5, 0.0), (2.5, 0.0), (3.5, 0.3)])
def test_sampled_observables_match_enumeration_on_a_3x3_torus(backend, t, field):
    text = ising(3, [t], chains=64, burn_in=100, sweeps=400, field=field)
    exact = _exact_observables(text, t)
    spec = parse_spec(text, "ising.yaml", [f"backend={backend}"])
    model = compile_spec(spec)
    scan = temperature_scan(model.program, model.params, spec.sample, seed=3)
    m, err = scan["abs_magnetization"][0], scan["abs_magnetization_stderr"][0]
    assert abs(m - exact["abs_magnetization"]) < 5 * err + 1e-3
    # the other observables: within 5 % (their estimators' spread is well below that at 25,600 samples)
    for key in ("energy_per_unit", "heat_capacity", "susceptibility"):
        assert scan[key][0] == pytest.approx(exact[key], rel=0.05, abs=0.01), key


def test_onsager_magnetisation_at_t2_on_a_32x32_lattice():
    spec = parse_spec(ising(32, [2.0], chains=4, burn_in=300, sweeps=600), "ising.yaml")
    model = compile_spec(spec)
    scan = temperature_scan(model.program, model.params, spec.sample, seed=0)
    assert abs(scan["abs_magnetization"][0] - ONSAGER_T2) < 0.01


@pytest.mark.slow
def test_ising_2d_spec_matches_onsager_and_peaks_at_tc(tmp_path):
    """The shipped spec (64 × 64): |m| at T = 2.0 within 0.01 of Onsager's value; the heat
    capacity peaks near T_c = 2/ln(1 + √2) ≈ 2.269."""
    out = tmp_path / "ising"
    assert main(["run", str(SPECS / "ising-2d.yaml"), "--out", str(out), "--quiet"]) == 0
    scan = json.loads((out / "summary.json").read_text())["sample"]
    temps = scan["temperature"]
    assert abs(scan["abs_magnetization"][temps.index(2.0)] - ONSAGER_T2) < 0.01
    t_peak = temps[int(np.argmax(scan["heat_capacity"]))]
    assert 2.2 <= t_peak <= 2.35
    assert (out / "observables.png").stat().st_size > 10_000


@pytest.mark.slow
def test_ising_on_a_random_regular_graph_peaks_at_the_bethe_temperature(tmp_path):
    """χ peaks near T_c = 1/atanh(1/2) ≈ 1.820 on a random 3-regular graph (greedy colouring)."""
    out = tmp_path / "irr"
    assert main(["run", str(SPECS / "ising-random-regular.yaml"), "--out", str(out), "--quiet"]) == 0
    scan = json.loads((out / "summary.json").read_text())["sample"]
    t_peak = scan["temperature"][int(np.argmax(scan["susceptibility"]))]
    assert abs(t_peak - 1 / math.atanh(0.5)) <= 0.15


def test_the_batch_standard_error_of_few_sweeps_is_that_of_independent_draws():
    """Fewer sweeps than batches: one batch per sweep, not NaN (was NaN below 20 sweeps)."""
    from ebmlang.eval.observables import _batch_stderr
    series = np.random.default_rng(0).random((10, 400))
    expected = np.sqrt(1 / 12) / np.sqrt(series.size)
    assert 0.8 * expected < _batch_stderr(series) < 1.2 * expected
    assert np.isnan(_batch_stderr(series[:1, :1]))
