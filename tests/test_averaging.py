"""`train.average`: an exponential moving average of the trained parameters, taken after every
update, adopted when the stage ends, kept apart from θ in the checkpoint (so a longer rerun
continues from θ), and the parameters `ebm eval` measures again."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import ebmlang

from ebmlang.cli import main
from ebmlang.spec.types import AdamSpec, SgdSpec
from ebmlang.spec.constraints import Choice
from ebmlang.train import Optimizers, adopt_averages

from runs import assert_same_run, run_spec

RBM = """
name: avg
seed: 3
data: {source: bars-and-stripes}
model:
  layers:
    v: {size: 9, units: binary, shape: [3, 3]}
    h: {size: 6, units: binary}
  couplings:
    - {between: [v, h]}
train: {rule: pcd, k: 1, epochs: 6, batch_size: 4, average: 0.8, optimizer: {adam: {lr: 0.05}}}
evaluate: {log_likelihood: {method: exact}}
"""


def test_the_average_follows_every_update_of_its_parameter():
    """After updates θ_1 … θ_n from θ_0: θ̄_n = βⁿθ_0 + (1 − β) Σ_t β^{n−t} θ_t; a key without a
    gradient in a step (a GAN's resting player) keeps its average."""
    gen = np.random.default_rng(0)
    params = {"weight.a.b": gen.normal(size=(3, 2)), "bias.b": gen.normal(size=2)}
    beta = 0.7
    for choice in (Choice("sgd", SgdSpec(lr=0.1, momentum=0.5)), Choice("adam", AdamSpec(lr=0.1))):
        p = {k: v.copy() for k, v in params.items()}
        opt = Optimizers(choice, (), tuple(p), average=beta)
        slots = opt.init_slots(p, np)
        trajectory = [p["weight.a.b"].copy()]
        bias_before = slots["average.bias.b"].copy()
        for _ in range(5):
            opt.update(p, slots, {"weight.a.b": gen.normal(size=(3, 2))}, _roles(p), 1.0)
            trajectory.append(p["weight.a.b"].copy())
        n = len(trajectory) - 1
        expected = beta ** n * trajectory[0] + (1 - beta) * sum(beta ** (n - t) * trajectory[t]
                                                                for t in range(1, n + 1))
        np.testing.assert_allclose(slots["average.weight.a.b"], expected, rtol=1e-12)
        np.testing.assert_array_equal(slots["average.bias.b"], bias_before)
        adopt_averages(p, slots)
        np.testing.assert_allclose(p["weight.a.b"], expected, rtol=1e-12)


def _roles(params):
    from ebmlang.compile.keys import ParamKey
    return {k: ParamKey.parse(k) for k in params}


def test_a_run_evaluates_the_average_and_ebm_eval_measures_it_again(tmp_path):
    code, summary, whole = run_spec(tmp_path, RBM, "whole")
    assert code == 0
    with np.load(whole / "model.npz") as z:
        raw, mean = z["weight.v.h"], z["average.weight.v.h"]
    assert not np.allclose(raw, mean)           # θ and θ̄ both kept
    assert main(["eval", str(whole), "--quiet"]) == 0
    again = json.loads((whole / "summary.json").read_text())
    assert again["log_likelihood.exact"] == summary["log_likelihood.exact"]
    # and what it measured is θ̄: the same folder without the averages measures θ, differently
    copy = tmp_path / "raw"
    shutil.copytree(whole, copy)
    with np.load(whole / "model.npz") as z:
        np.savez(copy / "model.npz", **{k: z[k] for k in z.files if not k.startswith("average.")})
    assert main(["eval", str(copy), "--quiet"]) == 0
    assert json.loads((copy / "summary.json").read_text())["log_likelihood.exact"] != summary["log_likelihood.exact"]
    # a longer rerun continues from θ, not θ̄: the same as one unbroken run
    code, _, broken = run_spec(tmp_path, RBM, "broken", "train.epochs=3")
    assert code == 0
    assert main(["run", "--resume", str(broken), "--quiet", "--set", "train.epochs=6"]) == 0
    assert_same_run(whole, broken)
    assert json.loads((broken / "summary.json").read_text())["log_likelihood.exact"] == summary["log_likelihood.exact"]


def test_without_average_nothing_changes(tmp_path):
    code, _, folder = run_spec(tmp_path, RBM.replace(" average: 0.8,", ""), "plain")
    assert code == 0
    with np.load(folder / "model.npz") as z:
        assert not any(k.startswith("average.") for k in z.files)


DBN = """
name: dbn-avg
seed: 1
data: {source: bars-and-stripes, side: 3, samples: 100}
model:
  layers:
    v: {size: 9, units: binary}
    h1: {size: 6, units: binary}
    h2: {size: 4, units: binary}
  couplings:
    - {between: [h1, v], kind: generative, init: {normal: {std: 0.1}}}
    - {between: [v, h1], kind: recognition}
    - {between: [h1, h2], init: {normal: {std: 0.1}}}
train:
  - {layers: [v, h1], rule: cd, epochs: 3, batch_size: 10, average: 0.5, optimizer: {sgd: {lr: 0.1}}}
  - {layers: [h1, h2], input: samples, rule: cd, epochs: 1, batch_size: 10, optimizer: {sgd: {lr: 0.1}}}
"""


def test_an_averaged_rbm_view_hands_on_tied_weights(tmp_path):
    """The recognition twin of a greedy stage's W is not trained and has no average: when the
    stage adopts θ̄, the twin follows as θ̄ᵀ, so the next stage's up-pass (kept in the
    checkpoint as `upstream.`) uses the averaged weights both ways."""
    code, _, folder = run_spec(tmp_path, DBN, "dbn")
    assert code == 0
    with np.load(folder / "model.npz") as z:
        generative, recognition = z["upstream.weight.h1.v"], z["upstream.weight.v.h1"]
        assert np.array_equal(recognition, generative.T)


def test_load_run_gives_the_model_the_run_measured(tmp_path):
    """ebmlang.load_run: the averaged parameters (θ̄), whose exact log-likelihood is the run's."""
    code, summary, folder = run_spec(tmp_path, RBM, "loaded")
    assert code == 0
    model = ebmlang.load_run(folder)
    with np.load(folder / "model.npz") as z:
        np.testing.assert_array_equal(model.parameters()["weight.v.h"], z["average.weight.v.h"])
    test = ebmlang.load_data(model.spec).test
    assert np.isclose(model.log_likelihood({"v": test}).mean(), summary["log_likelihood.exact"],
                      rtol=1e-6)
    with pytest.raises(ebmlang.EbmError, match="is not a run folder"):
        ebmlang.load_run(tmp_path)
