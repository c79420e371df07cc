"""The autoencoder family and feed-forward classifiers, end to end through `ebm run`.

Templates expand into the spec a user could write by hand; pretraining then fine-tuning lowers
the reconstruction error; the sparse penalty holds the mean activation near its target; a
denoising autoencoder repairs masked inputs that a plain one cannot; a pretrained classifier
classifies; a fine-tuning stage resumed mid-way (Adam's slots included) equals an unbroken one;
Adam and parameter groups do what their formulas say.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from ebmlang import compile_spec, load_data, parse_spec
from ebmlang.backend import Rng, to_numpy
from ebmlang.cli import main
from ebmlang.compile.keys import ParamKey
from ebmlang.errors import SpecError
from ebmlang.eval.feedforward import autoencode
from ebmlang.eval.metrics import latent_means
from ebmlang.objectives.backprop import corrupt
from ebmlang.spec.constraints import Choice
from ebmlang.spec.types import renamed
from ebmlang.spec.types import AdamSpec, GroupSpec, SgdSpec
from ebmlang.train import Optimizers

from runs import assert_same_run, run_spec

TEMPLATE = """
name: ae
seed: 3
data: {source: mnist-embedded, train_size: 600, test_size: 200}
template:
  autoencoder:
    layers: [784, 64, 8]
    shape: [28, 28]
    pretrain: [{epochs: 2, optimizer: {sgd: {lr: 0.1, momentum: 0.5}}},
               {epochs: 2, optimizer: {sgd: {lr: 0.001, momentum: 0.5}}}]
    finetune: {epochs: 6, batch_size: 20, optimizer: {adam: {lr: 0.003}}}
evaluate: {filters: false, codes: {count: 200}}
"""

EXPANDED = """
name: ae
seed: 3
data: {source: mnist-embedded, train_size: 600, test_size: 200}
model:
  layers:
    v: {size: 784, units: binary, shape: [28, 28], bias: data_rates}
    h1: {size: 64, units: binary}
    code: {size: 8, units: gaussian}
  couplings:
    - {between: [v, h1], kind: recognition, init: {normal: {std: 0.1}}}
    - {between: [h1, code], kind: recognition, init: {normal: {std: 0.1}}}
    - {between: [h1, v], kind: generative, init: {normal: {std: 0.1}}}
    - {between: [code, h1], kind: generative, init: {normal: {std: 0.1}}}
train:
  - {name: rbm-1, layers: [v, h1], epochs: 2, optimizer: {sgd: {lr: 0.1, momentum: 0.5}}}
  - {name: rbm-2, layers: [h1, code], epochs: 2, optimizer: {sgd: {lr: 0.001, momentum: 0.5}}}
  - {name: fine-tune, rule: reconstruction, epochs: 6, batch_size: 20, optimizer: {adam: {lr: 0.003}}}
evaluate: {filters: false, codes: {count: 200}}
"""


def _trained(text: str, out):
    """(spec, data, the run's model) of a finished run folder."""
    spec = parse_spec(text, "t.yaml")
    data = load_data(spec)
    model = compile_spec(spec, data_mean={"v": data.train.mean(axis=0)})
    with np.load(out / "model.npz") as z:
        model.load_parameters({k: z[k] for k in model.params})
    return spec, data, model


def test_a_template_expands_into_the_spec_written_by_hand():
    assert parse_spec(TEMPLATE, "t.yaml") == parse_spec(EXPANDED, "e.yaml")


@pytest.mark.parametrize("change, says", [
    (("pretrain: [{epochs: 2,", "pretrain: [{epochs: 2, layers: [v, v],"),
     "t.yaml:9:40: template.autoencoder.pretrain.0.layers.1: 'v' is already in the list"),
    (("pretrain: [{epochs: 2, optimizer: {sgd: {lr: 0.1, momentum: 0.5}}},\n"
      "               {epochs: 2, optimizer: {sgd: {lr: 0.001, momentum: 0.5}}}]",
      "pretrain: {epochs: 2, sparsity: {target: 0.1, layer: h1}}"),
     "t.yaml:9:58: template.autoencoder.pretrain.sparsity.layer must be a latent layer, not the "
     "clamped 'h1' (in the h1-code RBM)"),
    (("finetune: {epochs: 6,", "finetune: {epochs: 6, negative: {chains: fresh},"),
     "t.yaml:11:37: template.autoencoder.finetune.negative does not apply to rule reconstruction"),
])
def test_a_mistake_in_a_template_stage_is_named_as_written(change, says):
    """Not by the stage's generated path (`train.1…`), which the file does not show."""
    text = TEMPLATE.replace(*change)
    assert text != TEMPLATE
    with pytest.raises(SpecError) as info:
        parse_spec(text, "t.yaml")
    assert says in str(info.value) and not re.search(r"(?<![\w.])train\.", str(info.value))


def test_only_the_path_a_message_starts_with_is_renamed():
    aliases = parse_spec(TEMPLATE, "t.yaml").aliases
    assert renamed("train.2.groups.0.params.0: 'train.0*' matches no parameter", aliases) == (
        "template.autoencoder.finetune.groups.0.params.0: 'train.0*' matches no parameter")
    for untouched in ("train.20: …", "data.train.0 …", "a file data/train.0.npz", "pretrain.0: …"):
        assert renamed(untouched, aliases) == untouched


def test_fine_tuning_the_unrolled_stack_lowers_its_reconstruction_error(tmp_path):
    code, tuned, out = run_spec(tmp_path, TEMPLATE, "tuned")
    assert code == 0
    _, unrolled, _ = run_spec(tmp_path, TEMPLATE, "unrolled", "template.autoencoder.finetune.epochs=0")
    assert tuned["reconstruction_error.test"] < 0.8 * unrolled["reconstruction_error.test"]
    assert tuned["reconstruction_error.code_size"] == 8 and tuned["reconstruction_error.pca"] > 0
    assert {"reconstructions.png", "codes.png", "curves.png"} <= set(tuned["figures"])
    records = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert all("loss_test" in r and "recon_error_test" in r for r in records if r["stage"] == 3)


TIED = """
name: tied
seed: SEED
dtype: float64
data: {source: bars-and-stripes, side: 4, samples: 800, seed: SEED}
template:
  autoencoder:
    layers: [16, 24]
    hidden: binary
    code: binary
    tied: true
    finetune: {epochs: 60, batch_size: 20, optimizer: {adam: {lr: 0.02}}}
evaluate: {filters: false, reconstruction: true}
"""


@pytest.mark.parametrize("seed", [0, 1])
def test_a_denoising_autoencoder_repairs_masked_inputs_better_than_a_plain_one(tmp_path, seed):
    text = TIED.replace("SEED", str(seed))
    errors = {}
    for name, sets in (("plain", ()), ("denoising", ("template.autoencoder.finetune.corruption={mask: {fraction: 0.3}}",))):
        code, _, out = run_spec(tmp_path, text, name, *sets)
        assert code == 0
        _, data, model = _trained(text, out)
        test = data.train[:400]
        masked = to_numpy(corrupt(test, Choice("mask", {"fraction": 0.3}), Rng(np, 99)))
        recon = to_numpy(autoencode(model.program, model.params, {"v": masked})["v"])
        errors[name] = float(((recon - test) ** 2).sum(axis=1).mean())
    assert errors["denoising"] < 0.7 * errors["plain"]


def test_the_sparsity_penalty_holds_the_mean_activation_near_its_target(tmp_path):
    sparse = "template.autoencoder.finetune.sparsity={target: 0.1, cost: 5.0}"
    means = {}
    for name, sets in (("free", ()), ("sparse", (sparse,))):
        text = TIED.replace("SEED", "0")
        code, _, out = run_spec(tmp_path, text, name, *sets)
        assert code == 0
        _, data, model = _trained(text, out)
        means[name] = float(to_numpy(latent_means(model.program, model.params, {"v": data.train})["code"]).mean())
    assert abs(means["sparse"] - 0.1) < 0.03 < abs(means["free"] - 0.1)


CLASSIFIER = """
name: clf
seed: 0
data: {source: mnist-embedded, train_size: 1000, test_size: 300}
template:
  classifier:
    layers: [784, 100, 100]
    pretrain: {epochs: 3, optimizer: {sgd: {lr: 0.1, momentum: 0.5}}}
    finetune: {epochs: 8, batch_size: 20, optimizer: {sgd: {lr: 0.1, momentum: 0.9}}}
evaluate: {filters: false}
"""


def test_a_pretrained_classifier_fine_tuned_by_backprop_classifies(tmp_path):
    code, summary, out = run_spec(tmp_path, CLASSIFIER, "clf")
    assert code == 0
    assert summary["classification.test_error"] < 0.2           # chance: 0.9
    records = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    tuned = [r for r in records if r["stage"] == 3]
    assert tuned[-1]["loss_train"] < tuned[0]["loss_train"]


def test_a_fine_tuning_stage_resumed_mid_way_equals_an_unbroken_one(tmp_path):
    quick = ("template.autoencoder.finetune.epochs=3",)
    code, _, whole = run_spec(tmp_path, TEMPLATE, "whole", *quick)
    assert code == 0
    code, _, broken = run_spec(tmp_path, TEMPLATE, "broken", "template.autoencoder.finetune.epochs=1")
    assert code == 0
    with np.load(broken / "model.npz") as z:
        assert "adam_m.weight.v.h1" in z.files and int(z["adam_t.weight.v.h1"]) == 30
    # the run folder holds the expanded spec: its fine-tuning is stage train.2
    assert main(["run", "--resume", str(broken), "--quiet", "--set", "train.2.epochs=3"]) == 0
    assert_same_run(whole, broken)


def test_adam_follows_its_formula():
    gen = np.random.default_rng(0)
    w = gen.normal(size=(3, 2))
    params, roles = {"weight.a.b": w.copy()}, {"weight.a.b": ParamKey.parse("weight.a.b")}
    spec = AdamSpec(lr=0.01, beta1=0.8, beta2=0.95, eps=1e-6, weight_decay=0.1)
    opt = Optimizers(Choice("adam", spec), (), ("weight.a.b",))
    slots = opt.init_slots(params, np)
    m = s = np.zeros_like(w)
    for t in range(1, 4):
        g = gen.normal(size=w.shape)
        opt.update(params, slots, {"weight.a.b": g.copy() * 4}, roles, 0.25)
        d = g - 0.1 * w
        m, s = 0.8 * m + 0.2 * d, 0.95 * s + 0.05 * d * d
        w = w + 0.01 * np.sqrt(1 - 0.95 ** t) / (1 - 0.8 ** t) * m / (np.sqrt(s) + 1e-6)
        np.testing.assert_allclose(params["weight.a.b"], w, rtol=1e-5, atol=1e-7)


def test_parameter_groups_take_their_own_optimizer():
    keys = ("weight.a.b", "bias.b", "recbias.b")
    params = {k: np.ones(2) for k in keys}
    roles = {k: ParamKey.parse(k) for k in keys}
    frozen = GroupSpec(params=("bias.*", "recbias.b"), optimizer=Choice("sgd", SgdSpec(lr=1e-12)))
    opt = Optimizers(Choice("sgd", SgdSpec(lr=1.0)), (frozen,), keys)
    slots = opt.init_slots(params, np)
    opt.update(params, slots, {k: np.ones(2) for k in keys}, roles, 1.0)
    np.testing.assert_allclose(params["weight.a.b"], 2.0)
    np.testing.assert_allclose(params["bias.b"], 1.0, atol=1e-9)
    np.testing.assert_allclose(params["recbias.b"], 1.0, atol=1e-9)


RECOGNITION_ONLY = """
name: up
seed: 1
dtype: float64
data: {source: bars-and-stripes, side: 3, samples: 200}
model:
  layers:
    v: {size: 9, units: binary}
    h: {size: 6, units: binary}
  couplings:
    - {between: [v, h], kind: recognition}
train: {layers: [v, h], epochs: 3, optimizer: {sgd: {lr: 0.1}}}
"""


def test_a_recognition_coupling_alone_is_pretrained_as_an_rbm(tmp_path):
    """A classifier's bottom pair: the CD stage trains W and the hidden layer's recognition bias."""
    code, _, out = run_spec(tmp_path, RECOGNITION_ONLY, "up")
    assert code == 0
    start = compile_spec(parse_spec(RECOGNITION_ONLY, "up.yaml")).params       # the same seed's initial values
    with np.load(out / "model.npz") as z:
        assert np.abs(z["weight.v.h"] - start["weight.v.h"]).max() > 1e-3
        assert np.abs(z["recbias.h"]).max() > 0 and np.all(z["bias.h"] == start["bias.h"])
