"""Training stages: sub-programs, field gains, the up-pass between stages, labels, exact resume."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ebmlang import compile_spec, load_data, load_spec, parse_spec
from ebmlang.backend import to_numpy
from ebmlang.cli import main
from ebmlang.compile import restrict
from ebmlang.kernels import conditional
from ebmlang.train.stages import plan_stages, stage_inputs
from runs import assert_same_run

SPECS = Path(__file__).resolve().parents[1] / "specs"
FAST = ["train.0.epochs=3", "train.1.epochs=3", "train.2.epochs=4", "data.samples=200",
        "evaluate.samples.steps=5"]


def test_a_field_gain_doubles_bias_and_input():
    spec = load_spec(SPECS / "dbm-bars-and-stripes.yaml", ["dtype=float64"])
    model = compile_spec(spec)
    sub = restrict(model.program, ["v", "h1"], {"h1": 2.0})
    v = np.random.default_rng(0).integers(0, 2, (5, 9)).astype(float)
    p = model.parameters()
    expected = 1 / (1 + np.exp(-2 * (v @ p["weight.v.h1"] + p["bias.h1"])))
    got = to_numpy(conditional(sub, model.params, {"v": v}, "h1").prob)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert set(sub.layers) == {"v", "h1"} and [c.key for c in sub.couplings] == ["weight.v.h1"]
    assert len(sub.schedule) == 2


def test_stages_clamp_what_data_reaches_and_feed_the_up_pass():
    spec = load_spec(SPECS / "dbm-bars-and-stripes.yaml", ["dtype=float64"])
    model = compile_spec(spec)
    plans = plan_stages(model.program, spec.stages, ("v",))
    assert [p.clamp for p in plans] == [("v",), ("h1",), ("v",)]
    assert [p.fed for p in plans] == [(), ("h1",), ()]
    data = load_data(spec)
    inputs = stage_inputs(plans, 1, model.params, {"v": data.train})
    p = model.parameters()
    expected = 1 / (1 + np.exp(-2 * (data.train @ p["weight.v.h1"] + p["bias.h1"])))    # doubled up-pass
    np.testing.assert_allclose(to_numpy(inputs["h1"]), expected, rtol=1e-12)


def _run(tmp_path, name, *sets):
    out = tmp_path / name
    args = ["run", str(SPECS / "dbm-bars-and-stripes.yaml"), "--out", str(out), "--quiet"]
    for s in [*FAST, *sets]:
        args += ["--set", s]
    return main(args), out


def test_stages_run_in_order_and_record_their_index(tmp_path):
    code, out = _run(tmp_path, "run")
    assert code == 0
    records = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["epoch"]) for r in records] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3),
                                                           (3, 1), (3, 2), (3, 3), (3, 4)]
    with np.load(out / "model.npz") as z:
        assert int(z["train.stage"]) == 2 and int(z["train.epoch"]) == 4
        assert "chains.h2" in z.files                  # the DBM stage's persistent chains


@pytest.mark.parametrize("stop", ["train.1.epochs=2", "train.2.epochs=1"])
def test_a_run_resumed_mid_stage_equals_an_unbroken_one(tmp_path, stop):
    """Killed in the middle of the top RBM (a fed stage: its up-pass must be recomputed from the
    snapshot) or of the DBM stage, then resumed: every array and metric matches."""
    _, whole = _run(tmp_path, "whole")
    stage = int(stop.split(".")[1])
    partial = [s for s in FAST if not s.startswith(f"train.{stage}.")] + [stop]
    broken = tmp_path / "broken"
    args = ["run", str(SPECS / "dbm-bars-and-stripes.yaml"), "--out", str(broken), "--quiet"]
    for s in partial:
        args += ["--set", s]
    if stage == 1:      # stop after the top RBM's 2nd epoch: stage 3 must not have started
        args += ["--set", "train.2.epochs=0"]
    assert main(args) == 0
    resume = ["run", "--resume", str(broken), "--quiet"]
    for s in FAST:
        resume += ["--set", s]
    assert main(resume) == 0
    assert_same_run(whole, broken)


LABELLED = """
name: labelled
dtype: float64
data: {source: mnist-embedded, binarize: 0.5, labels: y, train_size: 300, test_size: 100}
model:
  layers:
    v: {size: 784, units: binary}
    h: {size: 20, units: binary}
    y: {size: 10, units: softmax}
  couplings:
    - {between: [v, h]}
    - {between: [y, h]}
train: {rule: cd, epochs: 1, batch_size: 50}
evaluate: {samples: false, filters: false}
"""


def test_labels_are_clamped_one_hot_beside_the_data(tmp_path):
    spec = parse_spec(LABELLED, "labelled.yaml")
    data = load_data(spec)
    arrays = data.arrays("train")
    assert data.layers == ("v", "y") and arrays["y"].shape == (300, 10)
    np.testing.assert_array_equal(arrays["y"].argmax(axis=1), data.train_labels)
    assert plan_stages(compile_spec(spec).program, spec.stages, data.layers)[0].clamp == ("v", "y")
    path = tmp_path / "labelled.yaml"
    path.write_text(LABELLED)
    assert main(["run", str(path), "--out", str(tmp_path / "r"), "--quiet"]) == 0


GAUSSIAN_DBN = """
name: gauss-dbn
dtype: float64
data: {source: gaussian-mixture, dim: 2, components: 3, samples: 300}
model:
  layers:
    v: {size: 2, units: gaussian, sigma: 1.0}
    h1: {size: 6, units: binary}
    h2: {size: 4, units: binary}
  couplings:
    - {between: [h1, v], kind: generative, init: {normal: {std: 0.1}}}
    - {between: [v, h1], kind: recognition}
    - {between: [h1, h2], init: {normal: {std: 0.1}}}
train:
  - {layers: [v, h1], rule: cd, epochs: 3, batch_size: 20, optimizer: {sgd: {lr: 0.01}}}
  - {layers: [h1, h2], rule: cd, epochs: 2, batch_size: 20, optimizer: {sgd: {lr: 0.01}}}
  - {rule: updown, epochs: EPOCHS, batch_size: 20, optimizer: {sgd: {lr: 0.01}}}
evaluate: {samples: {count: 50, steps: 20}, filters: false}
"""


def test_a_dbn_with_a_gaussian_bottom_layer_trains_greedily_then_unties(tmp_path):
    """Greedy stages train the directed pair as a Gaussian–Bernoulli RBM and leave the recognition
    weights tied to it (Wᵀ); up-down then moves them apart."""
    path = tmp_path / "g.yaml"
    path.write_text(GAUSSIAN_DBN.replace("EPOCHS", "0"))
    assert main(["run", str(path), "--out", str(tmp_path / "greedy"), "--quiet"]) == 0
    with np.load(tmp_path / "greedy" / "model.npz") as z:
        np.testing.assert_array_equal(z["weight.v.h1"], z["weight.h1.v"].T)
        assert np.abs(z["recbias.h1"]).max() > 0       # the RBM's hidden bias was trained as q's
    path.write_text(GAUSSIAN_DBN.replace("EPOCHS", "2"))
    assert main(["run", str(path), "--out", str(tmp_path / "tuned"), "--quiet"]) == 0
    with np.load(tmp_path / "tuned" / "model.npz") as z:
        assert not np.allclose(z["weight.v.h1"], z["weight.h1.v"].T)
    assert (tmp_path / "tuned" / "samples.png").exists()


DBM_WITH_LABELS = """
name: dbm-labels
data: {source: mnist-embedded, binarize: 0.5, labels: y, train_size: 200, test_size: 50}
model:
  layers:
    v: {size: 784, units: binary}
    h1: {size: 12, units: binary}
    h2: {size: 8, units: binary}
    y: {size: 10, units: softmax}
  couplings:
    - {between: [v, h1]}
    - {between: [h1, h2]}
    - {between: [y, h2]}
train:
  - {layers: [v, h1], epochs: 1, batch_size: 50}
  - {layers: [h1, h2, y], epochs: 1, batch_size: 50}
  - {rule: dbm, epochs: 1, batch_size: 50, chains: 20}
evaluate: {samples: false, filters: false, probe: {epochs: 1}}
"""


def test_a_dbm_with_labels_classifies_by_its_mean_field_posterior(tmp_path):
    """Labels inside a DBM (they do not sum out given v): classification by argmax q(y | v)."""
    path = tmp_path / "dbm.yaml"
    path.write_text(DBM_WITH_LABELS)
    assert main(["run", str(path), "--out", str(tmp_path / "r"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert 0 <= summary["classification.test_error"] <= 1 and summary["epochs"] == 3
    records = [json.loads(l) for l in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert all("classification_error_test" in r for r in records)
