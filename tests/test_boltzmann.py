"""Fully connected Boltzmann machines: Boltzmann learning's gradient and its effect on the KL."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from ebmlang import compile_spec, parse_spec
from ebmlang.backend import Rng, to_numpy
from ebmlang.cli import main
from ebmlang.kernels import param_stats
from ebmlang.train import Trainer
from ebmlang.objectives.phases import negative, positive

import oracle
from strategies import dense_params

SPECS = Path(__file__).resolve().parents[1] / "specs"

BM = {"name": "bm", "seed": 0, "dtype": "float64",
      "data": {"source": "bars-and-stripes", "side": 2},
      "model": {"layers": {"v": {"size": 4, "units": "binary", "bias": {"normal": {"std": 0.5}}},
                           "h": {"size": 2, "units": "binary", "bias": {"normal": {"std": 0.5}}}},
                "couplings": [{"between": ["v", "v"], "connectivity": "complete", "init": {"normal": {"std": 0.8}}},
                              {"between": ["v", "h"], "init": {"normal": {"std": 0.8}}},
                              {"between": ["h", "h"], "connectivity": "complete", "init": {"normal": {"std": 0.8}}}]},
      "train": {"rule": "boltzmann", "k": 30, "positive": {"sweeps": 30}}}


def _exact_gradient(model, trainer, data: np.ndarray) -> dict:
    """(⟨stat⟩_{p(h|v) p̂(v)} − ⟨stat⟩_{p(v,h)}) / T by enumerating every state."""
    layers = {n: {"size": i.size, "units": i.units.name} for n, i in model.layers.items()}
    states = oracle.enumerate_states(layers, ["v", "h"])
    plain = {"model": {"layers": layers, "couplings": [{"between": list(k.split(".")[1:])}
                                                       for k in model.params if k.startswith("weight.")]}}
    e = oracle.energy(plain, dense_params(model), states)
    joint = np.exp(-(e - e.min()))
    joint /= joint.sum()
    keys = trainer.keys
    # the statistics of each state (a one-row batch)
    rows = [param_stats(model.program, model.params, {n: s[i:i + 1] for n, s in states.items()}, trainer.keys,
                        total=True) for i in range(len(joint))]
    negative_mean = {k: sum(joint[i] * to_numpy(rows[i][k]) for i in range(len(joint))) for k in keys}
    positive_mean = {k: 0.0 for k in keys}
    for v in data:              # the data's conditional p(h | v), also by enumeration
        match = np.all(states["v"] == v, axis=1)
        cond = joint * match
        cond /= cond.sum()
        for k in keys:
            positive_mean[k] = positive_mean[k] + sum(cond[i] * to_numpy(rows[i][k]) for i in np.flatnonzero(match))
    masks = {c.key: c.mask_np for c in model.program.couplings if c.mask_np is not None}
    return {k: (positive_mean[k] / len(data) - negative_mean[k]) * masks.get(k, 1) for k in keys}


def test_boltzmann_learning_gradient_matches_the_exact_gradient_within_sampling_error():
    spec = parse_spec(yaml.safe_dump(BM), "bm.yaml")
    model = compile_spec(spec)
    trainer = Trainer(model.program, spec.train, ("v",), 0)
    data = np.array([[1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0], [0, 1, 0, 1]], dtype=float)
    n = 20_000                          # independent chains in each phase
    batch = {"v": np.repeat(data, n // len(data), axis=0)}
    rng = Rng(np, 7)
    pos, _ = positive(model.program, model.params, batch, trainer.phases, rng)
    neg, _ = negative(model.program, model.params, batch, trainer.phases, rng, keep_samples=False)
    grads, scale = trainer.gradient(model.params, pos, neg)
    exact = _exact_gradient(model, trainer, data)
    for key in trainer.keys:
        estimate = to_numpy(grads[key]) * scale
        # each statistic is a product of units in [0, 1]: its standard deviation is at most 1/2
        bound = 5 * np.sqrt(0.25 / n + 0.25 / n) + 1e-9
        np.testing.assert_array_less(np.abs(estimate - exact[key]), bound, err_msg=key)


@pytest.mark.parametrize("name", ["bm-encoder-4-2-4", "bm-bars-and-stripes"])
def test_boltzmann_learning_drives_the_exact_kl_well_down(name, tmp_path):
    out = tmp_path / name
    assert main(["run", str(SPECS / f"{name}.yaml"), "--out", str(out), "--quiet"]) == 0
    records = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    start, end = records[0]["kl_divergence"], json.loads((out / "summary.json").read_text())["kl_divergence.exact"]
    assert end < 0.6 * start
