"""Stage 5a, objectives: every way of learning the model's parameters.

An objective is built for one training stage (its sub-program, its clamped layers) and offers

    keys                                  the parameters it moves
    init_state(params) -> ObjectiveState  what it carries between updates (persistent chains, ...)
    gradient(params, state, batch, rng)   -> (ascent direction as batch sums keyed like params, scale)

or, for objectives of several players (a GAN), ``updates(params, state, batch, rng)``, a generator
of (grads, scale) applied one after another, each computed after the one before was applied;
or, for one-shot rules (Hopfield storage), ``one_shot = True`` and ``store(params, data)``. One
training loop (``ebmlang.train``) runs them all with its stages, optimizers and checkpoints.
Every objective also says whether its step may be captured as a CUDA graph (``train/graph.py``):

    why_not_captured() -> str | None     why a step reads values on the host or decides on the
                                          host what to compute, or None when it does neither
    replayed(state)                       (optional) the host's bookkeeping of one step, which a
                                          replay of the captured step leaves undone (counters)
    step_key(state)                       (optional) what the host decides for the next step
                                          (CD-k's sweeps, a GAN's generator turn): one graph
                                          is captured for each key (default: one for all)

    boltzmann   CD-k, PCD, Boltzmann learning, DBM (mean-field + PCD): phases, centring, sparsity
    storage     Hebbian, Storkey and projection storage of patterns
    updown      up-down fine-tuning of a DBN (contrastive wake-sleep)
    backprop    reconstruction (autoencoders: plain, sparse, denoising, deep) and supervised
                (classifiers) losses, by backpropagation through the directed couplings
    variational the evidence lower bound of a variational autoencoder (rule elbo)
    adversarial a GAN's discriminator and generator, updated in turn (rule adversarial)
"""
from __future__ import annotations

from ..compile import Program
from ..spec.types import BACKPROP_RULES, STORAGE_RULES
from .adversarial import AdversarialObjective
from .backprop import BackpropObjective
from .boltzmann import BoltzmannObjective, phase_difference, trainable_keys
from .phases import PhaseStats
from .state import ObjectiveState
from .storage import StorageObjective
from .updown import UpDownObjective
from .variational import ElboObjective


def make_objective(program: Program, stage, clamp: tuple, seed: int):
    """The objective of one stage (a TrainSpec) on its sub-program ``program``."""
    if stage.rule in STORAGE_RULES:
        return StorageObjective(program, stage.rule, clamp[0])
    if stage.rule == "updown":
        return UpDownObjective(program, stage, clamp, seed)
    if stage.rule == "adversarial":
        return AdversarialObjective(program, stage, clamp, seed)
    if stage.rule == "elbo":
        return ElboObjective(program, stage, clamp, seed)
    if stage.rule in BACKPROP_RULES:
        return BackpropObjective(program, stage, clamp, seed)
    return BoltzmannObjective(program, stage, clamp, seed)


__all__ = ["AdversarialObjective", "BackpropObjective", "BoltzmannObjective", "ElboObjective",
           "ObjectiveState", "PhaseStats",
           "StorageObjective", "UpDownObjective",
           "make_objective",
           "phase_difference", "trainable_keys"]
