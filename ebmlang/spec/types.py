"""The typed, frozen spec objects that validation builds (the tables are in ``schema.py``).

Every section of the spec language becomes one of these dataclasses; tagged choices (an
initialiser, a connectivity, a schedule) become :class:`Choice` values. ``Spec.where`` maps each
dotted path to the file:line:col it was written at, for errors raised by later stages.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import Location
from .constraints import Choice

STORAGE_RULES = ("hebbian", "storkey", "pseudo_inverse")
BACKPROP_RULES = ("reconstruction", "supervised", "elbo", "adversarial")
REGULARISED_RULES = ("reconstruction", "supervised")     # with corruption
DROPOUT_RULES = REGULARISED_RULES + ("adversarial",)      # dropout: in a GAN, the discriminator's

@dataclass(frozen=True)
class LayerSpec:
    size: int
    units: str
    shape: tuple | None = None
    categories: int | None = None
    sigma: float | None = None
    learn_sigma: bool = False
    bias: Choice = Choice("zeros")
    missing: bool = False
    normalize: Choice | None = None


@dataclass(frozen=True)
class CouplingSpec:
    between: tuple
    connectivity: Choice = Choice("dense")
    init: Choice = Choice("normal")
    trainable: bool = True
    kind: str = "undirected"
    tied: bool = False
    head: str = "mean"

    @property
    def lateral(self) -> bool:
        return self.between[0] == self.between[1]

    @property
    def directed(self) -> bool:
        return self.kind != "undirected"


@dataclass(frozen=True)
class ModelSpec:
    layers: dict
    couplings: tuple = ()
    temperature: float = 1.0


@dataclass(frozen=True)
class DataSpec:
    source: str
    layer: str | None = None
    labels: str | None = None
    path: str | None = None
    binarize: Any = "none"
    train_size: int | None = None
    test_size: int | None = None
    test_fraction: float = 0.1
    side: int = 3
    dim: int = 2
    components: int = 3
    samples: int = 2000
    separation: float = 4.0
    noise: float = 1.0
    spacing: float = 2.0
    std: float = 0.05
    seed: int = 0
    count: int = 10
    probability: float = 0.5
    train: str | None = None
    test: str | None = None
    orientation: str = "users"
    layout: str = "random"
    standardize: bool = False
    implicit: str | None = None

    @property
    def layers(self) -> tuple:
        """The layers besides the data layer that the data fills: labels, implicit feedback."""
        return tuple(n for n in (self.labels, self.implicit) if n)


@dataclass(frozen=True)
class SgdSpec:
    lr: float
    momentum: float = 0.0
    final_momentum: float | None = None
    momentum_switch_epoch: int = 5
    weight_decay: float = 0.0
    schedule: Choice = Choice("constant")


@dataclass(frozen=True)
class AdamSpec:
    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    schedule: Choice = Choice("constant")


@dataclass(frozen=True)
class GroupSpec:
    """Parameters (by key patterns) trained by an optimizer of their own."""

    params: tuple
    optimizer: Choice


@dataclass(frozen=True)
class SparsitySpec:
    target: float
    cost: float = 0.1
    decay: float = 0.9
    layer: str | None = None


@dataclass(frozen=True)
class CenteringSpec:
    rate: float = 0.01


@dataclass(frozen=True)
class PositivePhaseSpec:
    infer: str = "auto"
    sweeps: int = 10
    anneal: Choice | None = None
    iterations: int = 30
    damping: float = 0.0
    tolerance: float = 1e-6


@dataclass(frozen=True)
class NegativePhaseSpec:
    chains: str | None = None
    anneal: Choice | None = None
    clamp: tuple = ()
    sampler: str = "gibbs"
    langevin_steps: int = 10
    step_size: float = 0.5


@dataclass(frozen=True)
class TrainSpec:
    """One training stage (a spec's `train` is one of these, or a list of them)."""

    rule: str = "cd"
    name: str | None = None
    layers: tuple | None = None
    field_gain: dict | None = None
    input: str = "means"
    k: int = 1
    k_schedule: tuple = ()
    epochs: int = 10
    batch_size: int = 100
    chains: int | None = None
    optimizer: Choice = Choice("sgd", SgdSpec(lr=0.05))
    groups: tuple = ()
    sparsity: SparsitySpec | None = None
    corruption: Choice | None = None
    dropout: float = 0.0
    discriminator_steps: int = 1
    real_label: float = 1.0
    r1_penalty: float = 0.0
    clip_norm: float | None = None
    average: float | None = None
    centering: CenteringSpec | None = None
    clamp: tuple | None = None
    positive: PositivePhaseSpec = PositivePhaseSpec()
    negative: NegativePhaseSpec = NegativePhaseSpec()


def default_clamp(layers, data_layers: tuple, available) -> tuple:
    """The layers a stage clamps when its `clamp` is not given: with the data layer (the first of
    ``data_layers``) among its ``layers``, the data layers (the stage is fed from the data: an RBM
    of the bottom, or the joint model); without it, every layer that earlier stages or the data
    reach (``available``): the up-pass into the bottom of a higher RBM, and labels if present."""
    if data_layers[0] in layers:
        return tuple(n for n in layers if n in data_layers)
    return tuple(n for n in layers if n in available)


@dataclass(frozen=True)
class Enabled:
    """A switchable evaluation with no options of its own."""


@dataclass(frozen=True)
class CountSpec:
    count: int = 64


@dataclass(frozen=True)
class SamplesSpec:
    count: int = 64
    steps: int = 200
    start: str = "random"


@dataclass(frozen=True)
class LogLikelihoodSpec:
    method: str = "exact"
    runs: int = 100
    steps: int = 14500
    spacing: str = "salakhutdinov"
    reverse: int = 100
    meanfield_iterations: int = 50
    samples: int = 1000
    count: int | None = None


@dataclass(frozen=True)
class ProbeSpec:
    epochs: int = 30
    lr: float = 0.1
    l2: float = 1e-4
    raw: bool = True


@dataclass(frozen=True)
class CodesSpec:
    count: int = 5000
    layer: str | None = None


@dataclass(frozen=True)
class RecallSpec:
    flip: float = 0.1
    mode: str = "async"
    max_sweeps: int = 100


@dataclass(frozen=True)
class CapacitySpec:
    sizes: tuple
    loads: tuple
    rules: tuple = STORAGE_RULES
    trials: int = 1
    max_sweeps: int = 50
    threshold: float = 0.9


@dataclass(frozen=True)
class StudySpec:
    capacity: CapacitySpec | None = None


@dataclass(frozen=True)
class SweepSpec:
    grid: dict                      # dotted spec path -> tuple of plain values to try
    seeds: int = 1
    metric: str | None = None


@dataclass(frozen=True)
class EvaluateSpec:
    reconstruction: Enabled | None = Enabled()
    free_energy_gap: CountSpec | None = CountSpec(1000)
    samples: SamplesSpec | None = SamplesSpec()
    filters: CountSpec | None = CountSpec(100)
    log_likelihood: LogLikelihoodSpec | None = None
    recall: RecallSpec | None = None
    pseudo_log_likelihood: CountSpec | None = None
    probe: ProbeSpec | None = None
    codes: CodesSpec | None = None
    modes: "ModesSpec | None" = None
    classifier_score: "ClassifierScoreSpec | None" = None


@dataclass(frozen=True)
class ModesSpec:
    count: int = 2500
    radius: float = 3.0


@dataclass(frozen=True)
class ClassifierScoreSpec:
    count: int = 10000
    hidden: tuple = (512, 256)
    classes: int = 10
    epochs: int = 10


@dataclass(frozen=True)
class SampleSpec:
    temperatures: Choice
    layer: str | None = None
    chains: int = 1
    burn_in: int = 1000
    sweeps: int = 1000
    start: str = "random"
    carry: bool = True


@dataclass(frozen=True)
class OptimizeSpec:
    anneal: Choice
    sweeps: int = 1
    restarts: int = 20


def renamed(message: str, aliases: dict) -> str:
    """``message`` with the generated stage path it starts with (`train.1…`) named as written
    (`template.autoencoder.pretrain…`), so the user finds it in the file; ``aliases`` as
    ``expand_template`` makes them."""
    for generated, (written, stage) in sorted(aliases.items(), key=lambda a: -len(a[0])):
        # only the path a message starts with: a value quoted later may look like one
        if re.match(rf"{re.escape(generated)}(?![\w])", message):
            return written + message[len(generated):] + (f" (in {stage})" if stage else "")
    return message


@dataclass(frozen=True)
class Spec:
    name: str
    model: ModelSpec | None = None
    seed: int = 0
    backend: str = "numpy"
    dtype: str = "float32"
    matmul_precision: str = "ieee"
    data: DataSpec | None = None
    train: TrainSpec | None = None
    sample: SampleSpec | None = None
    study: StudySpec | None = None
    sweep: SweepSpec | None = None
    problem: Choice | None = None
    template: Any = None            # always None once parsed: a template expands into model and train
    optimize: OptimizeSpec | None = None
    evaluate: EvaluateSpec = EvaluateSpec()
    # where each dotted path was written (file:line:col); not part of the spec's value
    where: dict = field(default_factory=dict, compare=False, repr=False)
    file: str = field(default="<spec>", compare=False, repr=False)
    defaulted: frozenset = field(default=frozenset(), compare=False, repr=False)   # paths filled by defaults
    # a template's generated paths -> (the path written, the stage it stands for or None)
    aliases: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def stages(self) -> tuple:
        """The training stages in order: `train` written as one mapping is one stage."""
        if self.train is None:
            return ()
        return self.train if isinstance(self.train, tuple) else (self.train,)

    def stage_path(self, index: int) -> str:
        """The dotted path of stage ``index`` in the spec (`train` or `train.<index>`)."""
        return f"train.{index}" if isinstance(self.train, tuple) else "train"

    def replace(self, **changes) -> "Spec":
        """A copy with ``changes``, keeping where each path was written."""
        return dataclasses.replace(self, **changes)     # `where` and the rest are fields too

    def renamed(self, message: str) -> str:
        """``message`` with this spec's template stages named as written (:func:`renamed`)."""
        return renamed(message, self.aliases)

    def written(self, path: str) -> bool:
        """Whether the user wrote ``path`` (or one of its parents), rather than a default filling it."""
        parts = path.split(".")
        prefixes = (".".join(parts[:i]) for i in range(1, len(parts) + 1))
        return path in self.where and not any(p in self.defaulted for p in prefixes)

    def loc(self, path: str) -> Location:
        """The location of ``path``, or of its nearest written ancestor."""
        while path:
            if path in self.where:
                return self.where[path]
            path = path.rpartition(".")[0]
        return Location(self.file, 1, 1)
