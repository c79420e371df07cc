"""The spec language v1: the constraint table of every section (the types are in ``types.py``;
the training stage's tables, with the optimizers and templates, in ``train_schema.py``; shared
value constraints in ``values.py``).

The tables here are the single source of truth: validation walks them, ``docs/spec.md`` is
generated from them (``python -m ebmlang.spec.docs``), and the tests draw specs from them.
Cross-field rules (a coupling names a declared layer, a lattice fits its layer) live in
``checks.py``, which runs on the typed objects built here.
"""
from __future__ import annotations

from .constraints import (EMPTY, AnyOf, Bool, Choice, Discriminated, Enum, Field, FilePath, Float,
                          Identifier, Int, ListOf, MapOf, OneOrList, Section, Str, Tagged)
from .types import (  # noqa: F401 (the types are re-exported: `from ebmlang.spec.schema import Spec` works)
    BACKPROP_RULES, STORAGE_RULES, AdamSpec, CapacitySpec, CenteringSpec, ClassifierScoreSpec,
    CodesSpec, CountSpec, CouplingSpec, DataSpec, Enabled, EvaluateSpec, GroupSpec, LayerSpec,
    LogLikelihoodSpec, ModelSpec, ModesSpec, NegativePhaseSpec, OptimizeSpec, PositivePhaseSpec,
    ProbeSpec, RecallSpec, SampleSpec, SamplesSpec, SgdSpec,
    SparsitySpec, Spec, StudySpec, TrainSpec)
from .values import (BETWEEN_CONNECTIVITY, DATA_SOURCES, ENERGY_UNIT_TYPES, MOMENTUM, POSITIVE,  # noqa: F401
                     PROBABILITY_OPEN, UNIT_TYPES, WITHIN_CONNECTIVITY)
from .train_schema import TEMPERATURES, TEMPLATE, TRAIN  # noqa: F401 (re-exported)
from .sweep_schema import SWEEP

INIT = Tagged("initialiser", {
    "zeros": None,
    "constant": Section("constant", {"value": Field(Float(), doc="every entry takes this value")},
                        lambda **kw: kw),
    "normal": Section("normal", {
        "std": Field(Float(0.0), 0.01, "standard deviation"),
        "mean": Field(Float(), 0.0, "mean")}, lambda **kw: kw),
    "uniform": Section("uniform", {
        "low": Field(Float(), -0.01, "lower end"),
        "high": Field(Float(), 0.01, "upper end")}, lambda **kw: kw),
    "data_rates": None,     # visible biases log(p/(1-p)) of the data's mean (Hinton's guide §8)
    "file": Section("file", {"path": Field(FilePath(), doc="a .npy array of the parameter's "
                                                          "shape, relative to the spec")},
                    lambda **kw: kw),
})

NORMALIZE = Tagged("normalization", {
    "batch": Section("batch", {
        "momentum": Field(Float(0.0, 1.0, min_open=True), 0.1,
                          "weight ρ of each batch in the running averages"),
        "epsilon": Field(POSITIVE, 1e-5, "ε added to the variance"),
    }, lambda **kw: kw),
})

LAYER = Section("layer", {
    "size": Field(Int(1), doc="number of units (for softmax: groups × categories)"),
    "units": Field(Enum(*UNIT_TYPES), doc="unit type"),
    "shape": Field(ListOf(Int(1), 1), None, "display/lattice shape; its product must equal size"),
    "categories": Field(Int(2), None, "softmax only: categories per one-hot group (default: size)"),
    "sigma": Field(POSITIVE, None, "gaussian only: standard deviation of each unit (default 1)"),
    "learn_sigma": Field(Bool(), False, "gaussian only: learn log σ along with the weights"),
    "bias": Field(INIT, Choice("zeros"), "initial biases (`data_rates`: logit of the data's mean)"),
    "normalize": Field(NORMALIZE, None,
                       "`batch`: the layer's directed input field is batch-normalised "
                       "(Ioffe & Szegedy 2015) with a learned gain `gain.<layer>` before its bias, "
                       "using the batch's statistics in training and their running averages "
                       "`runmean.<layer>`, `runvar.<layer>` elsewhere; for layers of feed-forward "
                       "nets trained by backpropagation (e.g. a GAN's generator) that one pass "
                       "computes (a layer has one set of running statistics, so not the hidden "
                       "layers an autoencoder's encoder and decoder share)"),
    "missing": Field(Bool(), False, "softmax only: a group whose data is all zero is absent "
                     "from that example's model — neither sampled nor counted (an item a user "
                     "did not rate: Salakhutdinov, Mnih & Hinton 2007); training must start "
                     "chains at the data (rule cd)"),
}, lambda **kw: LayerSpec(**kw))

CONNECTIVITY = Tagged("connectivity", {
    "dense": None,
    "complete": None,
    "lattice": Section("lattice", {
        "dims": Field(ListOf(Int(1), 1), doc="lattice side lengths; their product must equal the layer size"),
        "periodic": Field(Bool(), True, "wrap around at the edges (a torus)")}, lambda **kw: kw),
    "random": Section("random", {
        "p": Field(PROBABILITY_OPEN, doc="probability of each possible edge (Erdős–Rényi)"),
        "seed": Field(Int(0), 0, "seed of the graph, independent of the run's seed")}, lambda **kw: kw),
    "random_regular": Section("random_regular", {
        "degree": Field(Int(1), doc="every unit gets this many neighbours"),
        "seed": Field(Int(0), 0, "seed of the graph")}, lambda **kw: kw),
    "edges": Section("edges", {
        "list": Field(ListOf(ListOf(Int(0), 2, 2), 1), None, "explicit [i, j] unit pairs"),
        "file": Field(FilePath(), None,
                      "a text file of `i j` pairs, one per line, relative to the spec")},
        lambda **kw: kw),
    "mask": Section("mask", {
        "file": Field(FilePath(),
                      doc="a .npy 0/1 array of shape (size_a, size_b), relative to the spec")},
        lambda **kw: kw),
})

COUPLING = Section("coupling", {
    "between": Field(ListOf(Identifier(), 2, 2), doc="the two layers; the same name twice for lateral couplings"),
    "connectivity": Field(CONNECTIVITY, Choice("dense"),
                          "between layers: " + ", ".join(BETWEEN_CONNECTIVITY) +
                          "; within a layer: " + ", ".join(WITHIN_CONNECTIVITY)),
    "init": Field(INIT, Choice("normal", {"std": 0.01, "mean": 0.0}), "initial weights"),
    "trainable": Field(Bool(), True, "false keeps the weights fixed (e.g. an Ising coupling J)"),
    "kind": Field(Enum("undirected", "generative", "recognition"), "undirected",
                  "`undirected`: a term of the energy (Gibbs sampling); `generative`: a directed map from the "
                  "first layer to the second, part of the model p (a DBN's top-down edges, ancestral "
                  "sampling); `recognition`: a directed map of the approximate posterior q (bottom-up), "
                  "with its own biases `recbias.<layer>`"),
    "tied": Field(Bool(), False, "directed only: use the weights of the directed coupling between the same "
                  "layers the other way, transposed (a tied autoencoder's decoder: W_dec = W_encᵀ); it has "
                  "no weights of its own"),
    "head": Field(Enum("mean", "log_variance"), "mean", "recognition into a gaussian layer only: which "
                  "output of q(z | x) = N(μ, diag e^ℓ) this map feeds, the mean μ or the log-variance ℓ "
                  "(a VAE's encoder, Kingma & Welling 2014); a `log_variance` map has its own weights "
                  "`lvweight.<a>.<b>` and biases `lvbias.<layer>`, and makes the layer stochastic: rule "
                  "`elbo` draws it by reparameterisation"),
}, lambda **kw: CouplingSpec(**kw))

MODEL = Section("model", {
    "layers": Field(MapOf(LAYER, 1, "layers"), doc="layer name → layer"),
    "couplings": Field(ListOf(COUPLING), (), "couplings between or within layers"),
    "temperature": Field(POSITIVE, 1.0, "T in p(x) ∝ exp(−E(x)/T)"),
}, lambda **kw: ModelSpec(**kw))

_DATA_COMMON = {
    "source": Field(Enum(*DATA_SOURCES), doc="where the data comes from"),
    "layer": Field(Identifier(), None, "the layer the data is clamped to (default: the first layer)"),
    "labels": Field(Identifier(), None, "a softmax layer of one group that the class labels are clamped to, "
                    "one-hot (sets with labels: mnist, mnist-embedded, gaussian-mixture, gaussian-grid, file)"),
}
_BINARIZE = Field(AnyOf(Float(0.0, 1.0), Enum("sample", "resample", "none")), "none",
                  "a threshold on intensities in [0, 1], `sample` (one Bernoulli draw of each image, fixed), "
                  "`resample` (the training images drawn afresh each epoch, the test images once: dynamic "
                  "binarisation, as VAE results use), or `none`")
_STANDARDIZE = Field(Bool(), False, "shift and scale each unit to mean 0 and spread 1 over the "
                     "training set (spreads below 0.1 are taken as 0.1), for gaussian visible "
                     "units; figures show the data unstandardised")
_SIZES = {
    "train_size": Field(Int(1), None, "use the first N training examples"),
    "test_size": Field(Int(1), None, "use the first N test examples"),
}


def _data(title: str, extra: dict) -> Section:
    source = title.split(": ")[1]
    return Section(title, {**_DATA_COMMON, **extra}, lambda **kw: DataSpec(**kw),
                   context=f"for source '{source}' (its keys: {', '.join([*_DATA_COMMON, *extra])})")


DATA = Discriminated("data", "source", {
    "mnist": _data("data: mnist", {
        "path": Field(FilePath(base="cwd"), None, "folder of the four IDX files (default: "
                      "$EBMLANG_DATA/mnist, then ~/.cache/ebmlang/mnist)"),
        "binarize": _BINARIZE, "standardize": _STANDARDIZE, **_SIZES}),
    "mnist-embedded": _data("data: mnist-embedded", {
        "binarize": _BINARIZE, "standardize": _STANDARDIZE, **_SIZES}),
    "bars-and-stripes": _data("data: bars-and-stripes", {
        "side": Field(Int(2, 5), 3, "images are side × side; the test set is every distinct pattern once"),
        "samples": Field(Int(1), 1000, "training examples, drawn uniformly from the patterns"),
        "seed": Field(Int(0), 0, "seed of those draws")}),
    "gaussian-mixture": _data("data: gaussian-mixture", {
        "dim": Field(Int(1), 2, "dimension of each point"),
        "components": Field(Int(1), 3, "number of mixture components"),
        "samples": Field(Int(2), 2000, "points generated (train and test each)"),
        "separation": Field(POSITIVE, 4.0, "spread of the component means"),
        "noise": Field(POSITIVE, 1.0, "standard deviation within a component"),
        "layout": Field(Enum("random", "hypercube"), "random",
                        "`random`: `components` means drawn as separation × N(0, I); `hypercube`: "
                        "the 2^dim corners {±separation/2}^dim (`components` is not used), a "
                        "mixture a GRBM with dim hidden units represents exactly"),
        "seed": Field(Int(0), 0, "seed of the generated set")}),
    "gaussian-grid": _data("data: gaussian-grid", {
        "side": Field(Int(1), 5, "modes per side of the square grid (5: the 25 modes of VEEGAN and PacGAN)"),
        "spacing": Field(POSITIVE, 2.0, "distance between neighbouring modes"),
        "std": Field(POSITIVE, 0.05, "standard deviation of each mode"),
        "samples": Field(Int(2), 2000, "points generated (train and test each)"),
        "seed": Field(Int(0), 0, "seed of the generated set")}),
    "patterns": _data("data: patterns", {
        "count": Field(Int(1), 10, "random patterns to store (training set = test set)"),
        "probability": Field(Float(0.0, 1.0, min_open=True, max_open=True), 0.5, "chance of each unit being on"),
        "seed": Field(Int(0), 0, "seed of the patterns")}),
    "file": _data("data: file", {
        "path": Field(FilePath(), doc=".npy (one array) or .npz (`train`, optional `test`), "
                      "relative to the spec"),
        "binarize": _BINARIZE,
        "standardize": _STANDARDIZE,
        "test_fraction": Field(Float(0.0, 1.0, max_open=True), 0.1,
                               "held-out fraction when the file has no test set"),
        **_SIZES}),
    "ratings": _data("data: ratings", {
        "path": Field(FilePath(), None, "one ratings file (`user item rating [timestamp]` per "
                      "line, tab-, `::`-, comma- or space-separated: GroupLens's u.data or ratings.dat), "
                      "split by `test_fraction`; looked for beside the spec, then in $EBMLANG_DATA "
                      "and ~/.cache/ebmlang (`ebm fetch movielens`)"),
        "train": Field(FilePath(), None, "a training ratings file (GroupLens's u1.base); with "
                       "`test`, replaces `path`"),
        "test": Field(FilePath(), None, "the test ratings file (u1.test)"),
        "test_fraction": Field(Float(0.0, 1.0, min_open=True, max_open=True), 0.2,
                               "share of the ratings held out when one file is split"),
        "seed": Field(Int(0), 0, "seed of that split"),
        "orientation": Field(Enum("users", "items"), "users",
                             "`users`: one example per user, one softmax group per item (U-RBM); "
                             "`items`: one example per item over the users (I-RBM, Sedhain et al. "
                             "2015)"),
        "implicit": Field(Identifier(), None, "a binary layer (one unit per group) given which "
                          "groups each example rated, in the training or the test set: the "
                          "conditional RBM's input"),
    }),
})

SAMPLE = Section("sample", {
    "temperatures": Field(TEMPERATURES, doc="where to sample: a schedule of temperatures, visited in order"),
    "layer": Field(Identifier(), None, "the layer whose observables are measured (default: the first)"),
    "chains": Field(Int(1), 1, "independent chains"),
    "burn_in": Field(Int(0), 1000, "sweeps discarded at each temperature"),
    "sweeps": Field(Int(1), 1000, "sweeps measured at each temperature"),
    "start": Field(Enum("random", "cold"), "random", "`cold`: every unit on (+1 or 1); `random`: independent draws"),
    "carry": Field(Bool(), True, "start each temperature from the last state of the previous one (annealing)"),
}, lambda **kw: SampleSpec(**kw))

EVALUATE = Section("evaluate", {
    "reconstruction": Field(Section("reconstruction", {}, lambda: Enabled(), switchable=True), Enabled(),
                            "mean squared error of one up-down pass on the test set"),
    "free_energy_gap": Field(Section("free_energy_gap", {
        "count": Field(Int(1), 1000, "examples from each set")}, lambda **kw: CountSpec(**kw), switchable=True),
        CountSpec(1000), "mean free energy of held-out minus training examples, per epoch (overfitting)"),
    "samples": Field(Section("samples", {
        "count": Field(Int(1), 64, "chains drawn"),
        "steps": Field(Int(1), 200, "Gibbs sweeps before the picture is taken "
                       "(an RBM's chains look alike after 200 and after 1000; "
                       "set more for slowly mixing models)"),
        "start": Field(Enum("random", "data"), "random", "chains start from random states, or from test "
                       "examples")}, lambda **kw: SamplesSpec(**kw),
        switchable=True), SamplesSpec(), "a PNG of model samples (the data layer's conditional means at the last sweep)"),
    "filters": Field(Section("filters", {
        "count": Field(Int(1), 100, "hidden units shown")}, lambda **kw: CountSpec(**kw), switchable=True),
        CountSpec(100), "a PNG of the weights into the first hidden units"),
    "log_likelihood": Field(Section("log_likelihood", {
        "method": Field(Enum("exact", "ais", "importance"), "exact", "`exact`: enumeration (small models); `ais`: "
                        "annealed importance sampling of log Z (any model), with ±3σ bounds; `importance`: a VAE's "
                        "log p(x) by importance sampling from its encoder (the IWAE bound with k draws, Burda et al. "
                        "2015), beside the ELBO"),
        "samples": Field(Int(1), 1000, "importance: draws k per test example"),
        "count": Field(Int(1), None, "importance: test examples used (default: all)"),
        "runs": Field(Int(2), 100, "ais: independent annealing runs"),
        "steps": Field(Int(1), 14500, "ais: intermediate distributions (Salakhutdinov & Murray used 14,500)"),
        "spacing": Field(Enum("salakhutdinov", "linear"), "salakhutdinov", "ais: how the β's are spread"),
        "reverse": Field(Int(0), 100, "ais: held-out examples annealed back to the base model (reverse AIS, "
                         "Burda et al. 2015), the conservative side of the estimate; 0: off"),
        "meanfield_iterations": Field(Int(1), 50, "models whose latent layers do not sum out given the data "
                                      "(DBMs): mean-field updates for the variational lower bound on each "
                                      "test example's log-likelihood")},
        lambda **kw: LogLikelihoodSpec(**kw), switchable=True), None, "mean log-likelihood of test data"),
    "pseudo_log_likelihood": Field(Section("pseudo_log_likelihood", {
        "count": Field(Int(1), 1000, "test examples")}, lambda **kw: CountSpec(**kw), switchable=True), None,
        "exact pseudo-log-likelihood Σ_i log p(v_i | v_−i) of test data (RBMs with binary or spin visible units)"),
    "probe": Field(Section("probe", {
        "epochs": Field(Int(1), 30, "passes of minibatch gradient descent"),
        "lr": Field(POSITIVE, 0.1, "learning rate"),
        "l2": Field(Float(0.0), 1e-4, "L2 penalty on the probe's weights"),
        "raw": Field(Bool(), True, "also fit the same probe on the raw data, for comparison")},
        lambda **kw: ProbeSpec(**kw), switchable=True), None,
        "linear probe: softmax regression from the hidden features E[h | v] to the labels; test error"),
    "codes": Field(Section("codes", {
        "count": Field(Int(1), 5000, "test examples shown"),
        "layer": Field(Identifier(), None, "the layer whose first two units are the code (default: the last)")},
        lambda **kw: CodesSpec(**kw), switchable=True), None,
        "a PNG of 2-D codes of test images (posterior means of a layer) beside their first two principal "
        "components, coloured by class (Hinton & Salakhutdinov 2006, Fig. 3)"),
    "recall": Field(Section("recall", {
        "flip": Field(Float(0.0, 1.0, max_open=True), 0.1, "fraction of each pattern's units flipped in its cue"),
        "mode": Field(Enum("async", "sync"), "async", "`async`: one unit at a time, random order; `sync`: all at once"),
        "max_sweeps": Field(Int(1), 100, "give up after this many sweeps")}, lambda **kw: RecallSpec(**kw),
        switchable=True), None, "associative recall of the test patterns from corrupted cues (Hopfield)"),
    "modes": Field(Section("modes", {
        "count": Field(Int(1), 2500, "generated samples"),
        "radius": Field(POSITIVE, 3.0, "a sample counts for a mode within radius · σ of its mean")},
        lambda **kw: ModesSpec(**kw), switchable=True), None,
        "a generator on gaussian-grid data: the modes its samples cover and the share of high-quality samples "
        "(VEEGAN, PacGAN)"),
    "classifier_score": Field(Section("classifier_score", {
        "count": Field(Int(2), 10000, "generated samples (and real ones for the Fréchet floor)"),
        "hidden": Field(ListOf(Int(1), 1), (512, 256), "hidden layer sizes of the scoring classifier (rectified)"),
        "classes": Field(Int(2), 10, "classes of the labels"),
        "epochs": Field(Int(1), 10, "its training epochs")}, lambda **kw: ClassifierScoreSpec(**kw), switchable=True),
        None, "a generator of labelled images: the classifier score exp(E KL(p(y|x) ‖ p(y))), the Fréchet "
        "distance of the classifier's penultimate features to the test set's (beside the training set's, the "
        "floor) and the class shares of the samples, by a classifier trained by this pipeline on the same data "
        "(cached)"),
}, lambda **kw: EvaluateSpec(**kw))

CAPACITY = Section("capacity", {
    "sizes": Field(ListOf(Int(2), 1, unique=True), doc="network sizes N"),
    "loads": Field(ListOf(Float(0.0, min_open=True), 1), doc="loads α = P/N, in increasing order"),
    "rules": Field(ListOf(Enum(*STORAGE_RULES), 1, unique=True), STORAGE_RULES,
                   "storage rules compared"),
    "trials": Field(Int(1), 1, "independent pattern sets per (rule, N, α)"),
    "max_sweeps": Field(Int(1), 50, "asynchronous sweeps allowed to reach a fixed point"),
    "threshold": Field(Float(0.0, 1.0, min_open=True, max_open=True), 0.9,
                       "critical load: the first α whose mean final overlap falls below this"),
}, lambda **kw: CapacitySpec(**kw))

STUDY = Section("study", {
    "capacity": Field(CAPACITY, None, "Hopfield capacity: start at each stored pattern, relax, record the overlap"),
}, lambda **kw: StudySpec(**kw))

PROBLEM = Tagged("problem", {
    "tsp": Section("tsp", {
        "cities": Field(Int(3, 10), 8, "number of cities (brute force finds the optimum for comparison)"),
        "seed": Field(Int(0), 0, "seed of the city coordinates (uniform in the unit square)"),
        "file": Field(FilePath(), None, "a text file of `x y` lines instead, relative to the spec"),
        "A": Field(Float(0.0), 2.0, "penalty: a city at two positions"),
        "B": Field(Float(0.0), 2.0, "penalty: two cities at one position"),
        "C": Field(Float(0.0), 6.0, "penalty: not exactly n units on (C/2 must exceed D times the longest "
                   "two-edge detour, or switching a unit off pays)"),
        "D": Field(Float(0.0), 1.0, "weight of the tour length")}, lambda **kw: kw),
    "maxcut": Section("maxcut", {
        "nodes": Field(Int(2, 24), 20, "nodes of a random regular graph (brute force finds the best cut)"),
        "degree": Field(Int(1), 3, "its degree"),
        "seed": Field(Int(0), 0, "seed of the graph"),
        "file": Field(FilePath(), None,
                      "an edge-list file (`i j` lines) instead, relative to the spec")},
        lambda **kw: kw),
})

OPTIMIZE = Section("optimize", {
    "anneal": Field(TEMPERATURES, doc="the annealing schedule, hot to cold"),
    "sweeps": Field(Int(1), 1, "Gibbs sweeps at each temperature"),
    "restarts": Field(Int(1), 20, "independent annealing runs (run together as a batch)"),
}, lambda **kw: OptimizeSpec(**kw))

SPEC = Section("spec", {
    # not `.` or `..`: the default run folder would be runs/ itself or its parent
    "name": Field(Str(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", "a name of letters, digits, '.', '_', '-' "
                      "that starts with a letter, digit or '_'"),
                  doc="the run's name; the default run folder is runs/<name>"),
    "seed": Field(Int(0), 0, "seed of every random draw of the run"),
    "backend": Field(Enum("numpy", "cupy", "auto"), "numpy", "`auto`: CuPy when a CUDA device is usable"),
    "dtype": Field(Enum("float32", "float64"), "float32", "floating-point precision of the kernels"),
    "matmul_precision": Field(
        Enum("ieee", "tf32"), "ieee",
        "`tf32`: float32 matrix products on a GPU's tensor cores from inputs rounded to 10-bit "
        "mantissas (TensorFloat-32; faster, about 3 decimal digits); CuPy and float32 only. "
        "`ebm run` and `ebm eval` apply it; in Python, run inside "
        "`ebmlang.backend.matmul_precision`"),
    "data": Field(DATA, None, "training and test data"),
    "model": Field(MODEL, None, "layers, couplings and temperature (or a `problem` that generates them)"),
    "template": Field(TEMPLATE, None, "a model family (autoencoder, classifier) that expands into `model` and "
                      "`train` before validation; spec.resolved.yaml shows the expansion"),
    "train": Field(OneOrList(TRAIN, "stages"), None, "how to train: one stage, or a list of stages run in order "
                   "(greedy pretraining, then fine-tuning), each starting where the last one left the model; "
                   "absent: the model is only compiled and evaluated"),
    "sample": Field(SAMPLE, None, "sample the model over a range of temperatures and measure observables"),
    "study": Field(STUDY, None, "experiments over many instances of the model (e.g. a capacity study)"),
    "sweep": Field(SWEEP, None, "grids of values over spec paths, run by `ebm sweep` (ignored by "
                   "`ebm run`)"),
    "problem": Field(PROBLEM, None, "an optimisation problem compiled into the model's energy (instead of `model`)"),
    "optimize": Field(OPTIMIZE, None, "minimise the energy by simulated annealing, then decode "
                      "the problem's answer (required with `problem`)"),
    "evaluate": Field(EVALUATE, EMPTY, "what to measure and draw after training"),
}, lambda **kw: Spec(**kw))
