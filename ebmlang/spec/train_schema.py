"""The spec language's tables for training: optimizers and their schedules, parameter groups,
regularisers, the Gibbs phases, a training stage (`train`), and the templates that write stages
for a family (`template`). ``schema.py`` assembles them into the whole spec's table.
"""
from __future__ import annotations

from .constraints import (EMPTY, Bool, Choice, Enum, Field, Float, Identifier, Int, ListOf, MapOf, OneOrList, Section,
                          Str, Tagged)
from .types import (AdamSpec, BACKPROP_RULES, CenteringSpec, GroupSpec, NegativePhaseSpec, PositivePhaseSpec, SgdSpec,
                    SparsitySpec, STORAGE_RULES, TrainSpec)
from .values import ENERGY_UNIT_TYPES, MOMENTUM, POSITIVE, PROBABILITY_OPEN, UNIT_TYPES

SCHEDULE = Tagged("learning-rate schedule", {
    "constant": None,
    "linear": Section("linear", {"end_factor": Field(Float(0.0), 0.0,
                                                     "lr at the end / lr at the start, over the "
                                                     "stage's `epochs` (resuming with more epochs "
                                                     "stretches the schedule)")},
                      lambda **kw: kw),
    "exponential": Section("exponential", {"gamma": Field(Float(0.0, 1.0, min_open=True), doc="lr × gamma each epoch")},
                           lambda **kw: kw),
    "step": Section("step", {
        "every": Field(Int(1), doc="epochs between drops"),
        "gamma": Field(Float(0.0, 1.0, min_open=True), 0.1, "factor at each drop")}, lambda **kw: kw),
})

OPTIMIZER = Tagged("optimizer", {
    "sgd": Section("sgd", {
        "lr": Field(POSITIVE, doc="learning rate"),
        "momentum": Field(MOMENTUM, 0.0, "momentum"),
        "final_momentum": Field(MOMENTUM, None, "momentum from `momentum_switch_epoch` on"),
        "momentum_switch_epoch": Field(Int(0), 5, "epoch at which `final_momentum` takes over, "
                                                  "counted from 0 (5: the sixth epoch, `epoch 6` "
                                                  "in the progress lines)"),
        "weight_decay": Field(Float(0.0), 0.0, "L2 penalty on the weights (not the biases)"),
        "schedule": Field(SCHEDULE, Choice("constant"), "learning-rate schedule over epochs"),
    }, lambda **kw: SgdSpec(**kw)),
    "adam": Section("adam", {
        "lr": Field(POSITIVE, 0.001, "learning rate"),
        "beta1": Field(MOMENTUM, 0.9, "decay of the running mean of gradients"),
        "beta2": Field(MOMENTUM, 0.999, "decay of the running mean of squared gradients"),
        "eps": Field(POSITIVE, 1e-8, "added to the root of the second moment"),
        "weight_decay": Field(Float(0.0), 0.0, "L2 penalty on the weights (not the biases), added to the gradient"),
        "schedule": Field(SCHEDULE, Choice("constant"), "learning-rate schedule over epochs"),
    }, lambda **kw: AdamSpec(**kw)),
})

GROUP = Section("group", {
    "params": Field(ListOf(Str(r"[A-Za-z0-9_.*?\[\]-]+",
                                   "a parameter key (or a pattern of keys, as weight.*)"), 1),
                    doc="parameter keys (`weight.h3.code`) or shell-style patterns (`*.code`, `recbias.*`)"),
    "optimizer": Field(OPTIMIZER, doc="the optimizer of these parameters"),
}, lambda **kw: GroupSpec(**kw))

CORRUPTION = Tagged("corruption", {
    "mask": Section("mask", {"fraction": Field(Float(0.0, 1.0, max_open=True), doc="share of input units set "
                                               "to 0, drawn afresh for every example")}, lambda **kw: kw),
    "gaussian": Section("gaussian", {"std": Field(POSITIVE, doc="standard deviation of the noise added to "
                                                  "every input unit")}, lambda **kw: kw),
})

SPARSITY = Section("sparsity", {
    "target": Field(PROBABILITY_OPEN, doc="desired mean activation of the hidden units"),
    "cost": Field(Float(0.0), 0.1, "strength of the penalty"),
    "decay": Field(Float(0.0, 1.0, max_open=True), 0.9, "decay of the running activation estimate"),
    "layer": Field(Identifier(), None, "the layer kept sparse (default: the first unclamped layer)"),
}, lambda **kw: SparsitySpec(**kw))

_T_ENDS = {"start": Field(POSITIVE, doc="first temperature"), "stop": Field(POSITIVE, doc="last temperature"),
           "steps": Field(Int(2), doc="number of temperatures")}
TEMPERATURES = Tagged("temperature schedule", {
    "list": Section("list", {"values": Field(ListOf(POSITIVE, 1), doc="the temperatures, in order")},
                    lambda **kw: kw),
    "linear": Section("linear", dict(_T_ENDS), lambda **kw: kw),
    "geometric": Section("geometric", dict(_T_ENDS), lambda **kw: kw),
    "exponential": Section("exponential", {
        "start": Field(POSITIVE, doc="first temperature"),
        "rate": Field(Float(0.0, 1.0, min_open=True, max_open=True), doc="T_k = start · rate^k"),
        "steps": Field(Int(2), doc="number of temperatures")}, lambda **kw: kw),
})

PHASE_POSITIVE = Section("positive", {
    "infer": Field(Enum("auto", "gibbs", "meanfield"), "auto", "how the latent layers are filled in given the "
                   "data: `auto` takes their exact means when they are mutually uncoupled (an RBM) and Gibbs "
                   "sweeps otherwise (rule `dbm`: mean field); `meanfield`: the damped fixed point of the "
                   "factorised posterior (Salakhutdinov & Hinton 2009)"),
    "sweeps": Field(Int(1), 10, "gibbs: sweeps with the data clamped"),
    "anneal": Field(TEMPERATURES, None, "gibbs: temperatures swept once each before those sweeps"),
    "iterations": Field(Int(1), 30, "meanfield: at most this many updates of every latent layer"),
    "damping": Field(Float(0.0, 1.0, max_open=True), 0.0, "meanfield: μ ← d·μ + (1 − d)·E[x | μ_rest]"),
    "tolerance": Field(Float(0.0), 1e-6, "meanfield: stop when no mean moves by more than this; "
                       "0: always run `iterations`, with no check on the host (a step a GPU can "
                       "replay as a CUDA graph)"),
}, lambda **kw: PositivePhaseSpec(**kw))

PHASE_NEGATIVE = Section("negative", {
    "chains": Field(Enum("data", "persistent", "fresh"), None, "where the free chains start: at the data "
                    "(CD), where they stopped (PCD), at random (Boltzmann learning); default: by the rule"),
    "anneal": Field(TEMPERATURES, None, "temperatures swept once each before the k sweeps"),
    "clamp": Field(ListOf(Identifier(), unique=True), (), "layers the free chains keep at their "
                   "data: the conditioning layers of a conditional RBM (the implicit feedback of "
                   "Salakhutdinov et al. 2007)"),
    "sampler": Field(Enum("gibbs", "langevin"), "gibbs", "how the free chains update gaussian "
                     "layers: an exact draw from their conditional (block Gibbs), or "
                     "`langevin_steps` Metropolis-adjusted Langevin steps from where they are (the "
                     "Gibbs–Langevin sampler of Liao et al. 2022); discrete layers are drawn by "
                     "Gibbs either way"),
    "langevin_steps": Field(Int(1), 10, "sampler langevin: Langevin steps per sweep"),
    "step_size": Field(Float(0.0, 1.0, min_open=True), 0.5, "sampler langevin: ε, the step as a "
                       "fraction of each unit's conditional variance"),
}, lambda **kw: NegativePhaseSpec(**kw))

TRAIN = Section("train", {
    "rule": Field(Enum("cd", "pcd", "boltzmann", "dbm", "updown", *BACKPROP_RULES, *STORAGE_RULES), "cd",
                  "`cd`: chains restart at the data; `pcd`: persistent chains; `boltzmann`: fresh random "
                  "chains (Ackley, Hinton & Sejnowski 1985); `dbm`: mean-field positive phase and persistent "
                  "chains (Salakhutdinov & Hinton 2009); `updown`: up-down fine-tuning of a DBN, its top "
                  "RBM by CD-k (Hinton, Osindero & Teh 2006); `reconstruction`: backpropagation through "
                  "the recognition pass (encoder) and the generative pass (decoder) to the data (an "
                  "autoencoder; Hinton & Salakhutdinov 2006); `supervised`: backpropagation through the "
                  "recognition pass to the labels (a classifier); `elbo`: the evidence lower bound of a variational "
                  "autoencoder, by reparameterisation (Kingma & Welling 2014); `adversarial`: a GAN, the generative "
                  "pass from latents against the recognition pass as discriminator (Goodfellow et al. 2014); `hebbian`, `storkey`, `pseudo_inverse`: "
                  "Hopfield storage of the data as patterns (one shot)"),
    "name": Field(Str(r"[A-Za-z0-9_.-]+", "a name of letters, digits, '.', '_', '-'"), None,
                  "a name for this stage in progress lines and metrics"),
    "layers": Field(ListOf(Identifier(), 1, unique=True), None, "the layers this stage trains, "
                    "with the couplings among them (the rest of the model sits out); layers with "
                    "no data get it from the stages before (their conditional means given it: the "
                    "up-pass); default: every layer"),
    "field_gain": Field(MapOf(POSITIVE, 1, "gains"), None, "layer → factor on its field (bias + input) in "
                        "this stage's conditionals: 2 for a layer that will get input from both sides once the "
                        "stack is joined into a DBM (Salakhutdinov & Hinton 2009)"),
    "input": Field(Enum("means", "samples"), "means", "layers fed by earlier stages' up-pass are clamped to "
                   "its means, or to a fresh binary sample of them each epoch"),
    "k": Field(Int(1), 1, "Gibbs sweeps of the negative phase per update"),
    "k_schedule": Field(ListOf(ListOf(Int(0), 2, 2)), (), "pairs [epoch, k]: from that epoch on, "
                        "k sweeps (CD-T with T growing over training, Salakhutdinov et al. 2007)"),
    "epochs": Field(Int(0), 10, "passes over the training set"),
    "batch_size": Field(Int(1), 100, "examples per update"),
    "chains": Field(Int(1), None, "pcd: number of persistent chains (default: batch_size)"),
    "optimizer": Field(OPTIMIZER, Choice("sgd", SgdSpec(lr=0.05)), "parameter update rule"),
    "groups": Field(ListOf(GROUP), (), "parameter groups with optimizers of their own (the first group "
                    "whose patterns match a parameter takes it; the rest use `optimizer`)"),
    "sparsity": Field(SPARSITY, None, "sparsity target on a hidden layer (Lee et al. 2008; Hinton's guide); "
                      "rule reconstruction: a KL penalty towards the target on the layer's mean activation"),
    "corruption": Field(CORRUPTION, None, "rules reconstruction, supervised: corrupt the input, not the target "
                        "(a denoising autoencoder, Vincent et al. 2008; input noise as a classifier's regulariser)"),
    "dropout": Field(Float(0.0, 1.0, max_open=True), 0.0, "rules reconstruction, supervised, adversarial: the "
                     "fraction of every hidden layer's units (a GAN: the discriminator's) dropped in each training "
                     "pass (Srivastava et al. 2014)"),
    "clip_norm": Field(POSITIVE, None, "rescale each update's gradient so that its L2 norm over "
                       "all the stage's parameters is at most this (Liao et al. 2022 train "
                       "Gaussian RBMs with large learning rates this way)"),
    "average": Field(Float(0.0, 1.0, min_open=True, max_open=True), None,
                     "decay β of an exponential moving average of the trained parameters, "
                     "θ̄ ← βθ̄ + (1 − β)θ after every update; the stage ends with its parameters "
                     "set to θ̄, which the evaluation and any later stage use (Polyak & Juditsky "
                     "1992; for GANs Yazıcı et al. 2019); the per-epoch measures see the raw θ"),
    "discriminator_steps": Field(Int(1), 1, "rule adversarial: discriminator updates (one per minibatch) per "
                                 "generator update"),
    "real_label": Field(Float(0.5, 1.0, min_open=True), 1.0,
                        "rule adversarial: the discriminator's target on real data; below 1, "
                        "one-sided label smoothing (Salimans et al. 2016)"),
    "r1_penalty": Field(Float(0.0), 0.0,
                        "rule adversarial: γ of the R1 penalty (Mescheder et al. 2018): the "
                        "discriminator ascends J_D − γ/2 ‖∂ logit D(x)/∂x‖² on real data, which "
                        "keeps it flat where the data lie and lets the game converge; needs "
                        "rectified or leaky hidden units in the discriminator, not batch-normalised"),
    "centering": Field(Section("centering", {
        "rate": Field(Float(0.0, 1.0, min_open=True), 0.01, "sliding-average rate ν of the offsets: "
                      "μ ← (1 − ν) μ + ν ⟨s⟩₊")}, lambda **kw: CenteringSpec(**kw), switchable=True), None,
        "centred gradient (Melchior, Fischer & Wiskott 2016): every layer's statistic enters the update "
        "minus an offset that tracks its positive-phase mean; the model itself stays uncentred"),
    "clamp": Field(ListOf(Identifier(), 1, unique=True), None, "layers clamped to data in the "
                   "positive phase (default: the data layer)"),
    "positive": Field(PHASE_POSITIVE, EMPTY, "the positive (clamped) phase"),
    "negative": Field(PHASE_NEGATIVE, EMPTY, "the negative (free) phase"),
}, lambda **kw: TrainSpec(**kw))


_STAGE_KEYS = "keys of a training stage (epochs, batch_size, optimizer, …)"


def _family(title: str, extra: dict, doc: str) -> Section:
    return Section(title, {
        "layers": Field(ListOf(Int(1), 2), doc="layer sizes from the data layer up, e.g. [784, 1000, 500, 250, 30]"),
        "visible": Field(Enum(*ENERGY_UNIT_TYPES), "binary", "unit type of the data layer `v`"),
        "hidden": Field(Enum(*UNIT_TYPES), "binary", "unit type of the hidden layers `h1`, `h2`, …"),
        "shape": Field(ListOf(Int(1), 1), None, "display shape of the data layer (e.g. [28, 28])"),
        "pretrain": Field(OneOrList(TRAIN, "stages, one per RBM"), None, "greedy pretraining of each pair of "
                          f"layers as an RBM, bottom-up: {_STAGE_KEYS}; absent: no pretraining"),
        "finetune": Field(TRAIN, doc=f"fine-tuning of the whole net by backpropagation: {_STAGE_KEYS}"),
        **extra}, lambda **kw: kw, doc=doc)


TEMPLATE = Tagged("template", {
    "autoencoder": _family("autoencoder", {
        "code": Field(Enum(*UNIT_TYPES), "gaussian", "unit type of the code layer `code` (the last size); "
                      "gaussian units are linear"),
        "tied": Field(Bool(), False, "decoder weights tied to the encoder's (W_dec = W_encᵀ)"),
    }, "encoder and decoder; optional RBM pretraining, then fine-tuning by rule reconstruction"),
    "vae": Section("vae", {
        "layers": Field(ListOf(Int(1), 2), doc="layer sizes from the data layer up to the latent, e.g. "
                        "[784, 200, 200, 50]"),
        "visible": Field(Enum(*ENERGY_UNIT_TYPES), "binary", "unit type of the data layer `v` (binary: a "
                         "Bernoulli decoder; gaussian: a Gaussian one with the layer's σ)"),
        "hidden": Field(Enum(*UNIT_TYPES), "spin", "unit type of the deterministic hidden layers `h1`, `h2`, … "
                        "(spin: tanh, as in Burda et al. 2015; rectified: ReLU; binary: sigmoid)"),
        "shape": Field(ListOf(Int(1), 1), None, "display shape of the data layer (e.g. [28, 28])"),
        "train": Field(TRAIN, doc=f"the training stage, rule elbo: {_STAGE_KEYS}"),
    }, lambda **kw: kw, doc="a variational autoencoder: encoder v → h… → z with a log-variance head, gaussian "
       "latent z with prior N(0, I), decoder z → h… → v; trained by rule elbo"),
    "gan": Section("gan", {
        "size": Field(Int(1), doc="size of the data layer `v`"),
        "visible": Field(Enum("binary", "gaussian"), "binary", "unit type of `v`: the generator's output is its "
                         "conditional mean (binary: sigmoid; gaussian: linear)"),
        "shape": Field(ListOf(Int(1), 1), None, "display shape of the data layer (e.g. [28, 28])"),
        "latent": Field(Int(1), 100, "size of the noise layer `z`, gaussian with prior N(0, I)"),
        "generator": Field(ListOf(Int(1), 1), doc="hidden layer sizes of the generator z → g1 → … → v"),
        "discriminator": Field(ListOf(Int(1), 1), doc="hidden layer sizes of the discriminator v → d1 → … → d"),
        "hidden": Field(Enum(*UNIT_TYPES), "leaky", "unit type of the generator's hidden layers "
                        "(leaky: max(φ, 0.2φ), as in most GANs)"),
        "discriminator_hidden": Field(Enum(*UNIT_TYPES), None,
                                      "unit type of the discriminator's hidden layers "
                                      "(default: `hidden`)"),
        "batch_norm": Field(Enum("none", "generator", "both"), "none",
                            "batch-normalised hidden layers (`normalize: batch`): the generator's "
                            "(as PacGAN's), or also the discriminator's after its first "
                            "(as DCGAN's)"),
        "pack": Field(Int(1), 1, "samples the discriminator judges together (PacGAN, Lin et al. 2018): with m > 1 "
                      "it reads a layer `packed` of m × size units, m real or m generated samples side by side"),
        "train": Field(TRAIN, doc=f"the training stage, rule adversarial (its optimizer is the generator's): "
                       f"{_STAGE_KEYS}"),
        "discriminator_optimizer": Field(OPTIMIZER, Choice("adam", AdamSpec(lr=0.0002, beta1=0.5)),
                                         "the discriminator's optimizer (a parameter group of its own)"),
    }, lambda **kw: kw, doc="a generative adversarial network: generator z → g… → v by generative couplings, "
       "discriminator v → d… → d (one binary unit) by recognition couplings; trained by rule adversarial"),
    "classifier": _family("classifier", {
        "classes": Field(Int(2), 10, "size of the softmax label layer `y` on top (data.labels is set to y)"),
    }, "a stack of layers with a softmax on top; optional RBM pretraining, then fine-tuning by rule supervised"),
})
