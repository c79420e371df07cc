"""The VAE and GAN templates end to end through `ebm run`: each expands into the spec written by
hand, trains, reports its measures and figures, and resumes bit for bit; the classifier that
scores generated MNIST images is trained by the same pipeline, cached, and scores real data near
the top and a collapsed generator near one.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from ebmlang import parse_spec
from ebmlang.cli import main
from ebmlang.eval.sample_quality import classifier_score, frechet_distance
from ebmlang.runner.generators import score_classifier

from runs import assert_same_run, run_spec

VAE = """
name: vae
seed: 2
data: {source: mnist-embedded, binarize: resample, train_size: 1000, test_size: 200}
template:
  vae:
    layers: [784, 32, 4]
    hidden: rectified
    shape: [28, 28]
    train: {epochs: 4, batch_size: 50, optimizer: {adam: {lr: 0.003}}}
evaluate: {filters: false, samples: {count: 16}, log_likelihood: {method: importance, samples: 64}}
"""

VAE_EXPANDED = """
name: vae
seed: 2
data: {source: mnist-embedded, binarize: resample, train_size: 1000, test_size: 200}
model:
  layers:
    v: {size: 784, units: binary, shape: [28, 28], bias: data_rates}
    h1: {size: 32, units: rectified}
    z: {size: 4, units: gaussian}
  couplings:
    - {between: [v, h1], kind: recognition, init: {normal: {std: 0.050508}}}
    - {between: [h1, z], kind: recognition, init: {normal: {std: 0.235702}}}
    - {between: [h1, z], kind: recognition, head: log_variance, init: {normal: {std: 0.001}}}
    - {between: [z, h1], kind: generative, init: {normal: {std: 0.707107}}}
    - {between: [h1, v], kind: generative, init: {normal: {std: 0.049507}}}
train:
  - {name: elbo, rule: elbo, epochs: 4, batch_size: 50, optimizer: {adam: {lr: 0.003}}}
evaluate: {filters: false, samples: {count: 16}, log_likelihood: {method: importance, samples: 64}}
"""

GAN = """
name: gan
seed: 1
data: {source: gaussian-grid, side: 3, samples: 2000}
template:
  gan:
    size: 2
    visible: gaussian
    latent: 2
    generator: [32]
    discriminator: [32]
    pack: 2
    train: {epochs: 4, batch_size: 50, discriminator_steps: 2, optimizer: {adam: {lr: 0.001, beta1: 0.5}}}
evaluate: {samples: {count: 500}, modes: {count: 500}}
"""

GAN_EXPANDED = """
name: gan
seed: 1
data: {source: gaussian-grid, side: 3, samples: 2000}
model:
  layers:
    v: {size: 2, units: gaussian, bias: data_rates}
    z: {size: 2, units: gaussian}
    g1: {size: 32, units: leaky}
    packed: {size: 4, units: gaussian}
    d1: {size: 32, units: leaky}
    d: {size: 1, units: binary}
  couplings:
    - {between: [z, g1], kind: generative, init: {normal: {std: 1.0}}}
    - {between: [g1, v], kind: generative, init: {normal: {std: 0.242536}}}
    - {between: [packed, d1], kind: recognition, init: {normal: {std: 0.707107}}}
    - {between: [d1, d], kind: recognition, init: {normal: {std: 0.246183}}}
train:
  - name: gan
    rule: adversarial
    groups: [{params: [weight.packed.d1, weight.d1.d, recbias.*],
              optimizer: {adam: {lr: 0.0002, beta1: 0.5}}}]
    epochs: 4
    batch_size: 50
    discriminator_steps: 2
    optimizer: {adam: {lr: 0.001, beta1: 0.5}}
evaluate: {samples: {count: 500}, modes: {count: 500}}
"""


@pytest.mark.parametrize("template, expanded", [(VAE, VAE_EXPANDED), (GAN, GAN_EXPANDED)], ids=["vae", "gan"])
def test_a_template_expands_into_the_spec_written_by_hand(template, expanded):
    assert parse_spec(template, "t.yaml") == parse_spec(expanded, "e.yaml")


def test_groups_written_in_a_gan_template_come_before_the_discriminator_group():
    """The user's groups join the generated one, first (so they take their keys first); before,
    they replaced it and the discriminator silently trained with the generator's optimizer."""
    own = "{params: [weight.z.g1], optimizer: {sgd: {lr: 0.01}}}"
    text = GAN.replace("discriminator_steps: 2,", f"discriminator_steps: 2, groups: [{own}],")
    by_hand = GAN_EXPANDED.replace("    groups: [{params", f"    groups: [{own}, {{params")
    stage = parse_spec(text, "t.yaml").stages[0]
    assert [g.params for g in stage.groups] == [("weight.z.g1",),
                                                ("weight.packed.d1", "weight.d1.d", "recbias.*")]
    assert parse_spec(text, "t.yaml") == parse_spec(by_hand, "e.yaml")


def test_a_vae_trains_and_reports_its_bounds(tmp_path):
    code, summary, out = run_spec(tmp_path, VAE, "vae")
    assert code == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["elbo_test"] > records[0]["elbo_test"]
    # the IWAE bound (k = 64) is tighter than the ELBO, and both are log-likelihoods of 784 bits
    assert -784 * np.log(2) < summary["elbo.test"] < summary["log_likelihood.test_iwae"] < 0
    assert summary["log_likelihood.test_iwae_k"] == 64
    assert {"samples.png", "interpolations.png", "reconstructions.png"} <= set(summary["figures"])


def test_a_vae_with_a_2d_latent_draws_its_manifold(tmp_path):
    code, summary, _ = run_spec(tmp_path, VAE, "vae2", "template.vae.layers=[784, 32, 2]", "template.vae.train.epochs=1")
    assert code == 0 and "manifold.png" in summary["figures"]


@pytest.mark.parametrize("batch_norm, r1", [("none", 0.0), ("both", 0.0), ("none", 1.0)])
def test_a_gan_trains_reports_its_measures_and_resumes_bit_for_bit(tmp_path, batch_norm, r1):
    text = GAN.replace("    pack: 2\n", f"    pack: 2\n    batch_norm: {batch_norm}\n")
    text = text.replace("discriminator_steps: 2,", f"discriminator_steps: 2, r1_penalty: {r1},")
    code, summary, whole = run_spec(tmp_path, text, "whole")
    assert code == 0
    assert summary["gan.modes_of"] == 9 and 0 <= summary["gan.modes"] <= 9 and "samples.png" in summary["figures"]
    records = [json.loads(line) for line in (whole / "metrics.jsonl").read_text().splitlines()]
    assert {"loss_d", "loss_g", "d_real", "d_fake", "modes", "high_quality"} <= set(records[-1])
    code, _, broken = run_spec(tmp_path, text, "broken", "template.gan.train.epochs=2")
    assert code == 0
    with np.load(broken / "model.npz") as z:
        assert int(z["counter.discriminator_steps"]) == 2 * 40
    assert main(["run", "--resume", str(broken), "--quiet", "--set", "train.0.epochs=4"]) == 0
    assert_same_run(whole, broken)      # the running statistics too: they are in model.npz
    with np.load(whole / "model.npz") as z:
        assert ("runmean.g1" in z.files and "runvar.d1" not in z.files) == (batch_norm == "both")


def test_the_scoring_classifier_rates_real_digits_high_and_one_digit_low(tmp_path, monkeypatch):
    monkeypatch.setenv("EBMLANG_CACHE", str(tmp_path / "cache"))
    spec = parse_spec(GAN_MNIST, "g.yaml")
    judge, accuracy = score_classifier(spec, spec.evaluate.classifier_score)
    assert accuracy > 0.85
    from ebmlang import load_data
    data = load_data(spec)
    probs, features = judge(data.test)
    assert classifier_score(probs) > 6.0                 # 10 evenly spread, mostly confident classes
    same = judge(np.repeat(data.test[:1], 500, axis=0))[0]
    assert classifier_score(same) < 1.01                 # a generator collapsed to one image
    _, train_features = judge(data.train[:1000])
    assert frechet_distance(train_features, features) < frechet_distance(judge(data.test[:1000] * 0.3)[1], features)
    cached = sorted(p.name for p in (tmp_path / "cache").iterdir())
    score_classifier(spec, spec.evaluate.classifier_score)              # the second call reads the cache
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == cached and len(cached) == 1


GAN_MNIST = """
name: gan-mnist-small
seed: 0
data: {source: mnist-embedded, test_size: 1000}
template:
  gan:
    size: 784
    shape: [28, 28]
    latent: 8
    generator: [32]
    discriminator: [32]
    train: {epochs: 1}
evaluate: {classifier_score: {count: 1000, hidden: [256, 128], epochs: 10}}
"""
