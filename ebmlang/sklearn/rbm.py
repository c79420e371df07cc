"""RBMTransformer: an RBM written as an ebmlang spec, used as a scikit-learn transformer.

With v the visible (data) layer, h the hidden one, W (n_features, n_components) their weights,
b and c their biases, T the model's temperature and F(v) = −T log Σ_h e^{−E(v,h)/T}:

    transform(X)       E[h | v], the hidden layer's conditional means; for binary hidden
                       units p(h_j = 1 | v) = σ((c_j + Σ_i v_i W_ij) / T)
                                                                  (n_samples, n_components)
    score_samples(X)   by ``sample_score``:                                  (n_samples,)
      "pseudo_likelihood"  PLL(v) = Σ_i log σ((F(v^(i)) − F(v)) / T), v^(i) being v with
                       unit i flipped (v_i → 1 − v_i), summed over every unit: exact and
                       deterministic (BernoulliRBM flips one random unit and scales its term
                       by n_features, a noisy estimate of the same sum)
      "free_energy"    −F(v)/T = log p(v) + log Z, the unnormalised log-probability
    gibbs(X)           one block-Gibbs step: h ~ p(h | v = X), then v' ~ p(v | h)
                                                                    (n_samples, n_features)

Fitting writes the parameters into the spec (``specs.py``), compiles it to a :class:`Model` and
runs the spec's training stages through the same Trainer and objectives as `ebm run`. Cost per
epoch of CD-k or PCD-k: O(n_samples · n_features · n_components · (k + 1)).
"""
from __future__ import annotations

import time
import warnings
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .. import kernels
from ..backend import Rng, to_numpy
from ..data.sparse import on_backend
from ..errors import EbmError
from ..eval.pseudo import pseudo_log_likelihood, rbm_layers
from ..model import Model
from ..runner.training import check_finite
from ..train import Trainer, adopt_averages
from ..train.stages import plan_stages, stage_inputs
from .specs import build_spec, rbm_layer_names

try:
    from sklearn.utils.validation import validate_data
except ImportError:                             # scikit-learn < 1.6
    def validate_data(estimator, X, **kwargs):
        return estimator._validate_data(X, **kwargs)

SCORES = ("auto", "pseudo_likelihood", "free_energy")
PLL_UNITS = ("binary", "spin")                  # the visible units the pseudo-likelihood flips
SPEC_PARAMS = ("n_components", "learning_rate", "batch_size", "n_iter", "rule", "k")
GIBBS_STREAM = 0x61B5                           # the Rng key of gibbs(), apart from training's


class RBMTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """An RBM from an ebmlang spec; a drop-in for ``sklearn.neural_network.BernoulliRBM``.

    Parameters
    ----------
    spec : path, mapping or None
        The spec (a YAML file, or its content as a dict); None: BernoulliRBM's model and
        training (``specs.DEFAULT_SPEC``). It must describe two layers: the data layer
        (``data.layer``, else the first) and the hidden layer. Its size comes from X.
    n_components, learning_rate, batch_size, n_iter, rule, k : optional
        Hidden units, SGD (or Adam) learning rate, examples per update, epochs, ``"cd"`` or
        ``"pcd"``, Gibbs sweeps per update; each None keeps the spec's value.
    overrides : mapping {dotted path: value} or list of "PATH=VALUE", optional
        Any other spec value, as ``ebm run --set`` (e.g. ``{"train.optimizer.sgd.momentum": 0.5}``).
    sample_score : {"auto", "pseudo_likelihood", "free_energy"}
        What ``score_samples`` returns (see the module docstring); "auto": the
        pseudo-likelihood for binary or spin visible units, the free energy otherwise.
    random_state : int, RandomState or None
        The spec's ``seed`` (an int is used as it is); None keeps the spec's seed.
    verbose : int
        Print the mean score and the time of every epoch.

    Attributes
    ----------
    model_ : ebmlang.Model, the compiled model (its parameters as trained)
    spec_ : ebmlang.Spec, the spec it was compiled from, parameters and overrides applied
    components_ : (n_components, n_features) weights; intercept_hidden_ : (n_components,);
    intercept_visible_ : (n_features,); n_features_in_ : int
    """

    def __init__(self, spec=None, *, n_components=None, learning_rate=None, batch_size=None,
                 n_iter=None, rule=None, k=None, overrides=None, sample_score="auto",
                 random_state=None, verbose=0):
        self.spec, self.n_components, self.learning_rate = spec, n_components, learning_rate
        self.batch_size, self.n_iter, self.rule, self.k = batch_size, n_iter, rule, k
        self.overrides, self.sample_score = overrides, sample_score
        self.random_state, self.verbose = random_state, verbose

    def fit(self, X, y=None):
        """Compile the spec for X's width and run all its training stages on X: self."""
        X = self._validate(X, reset=True)
        self._compile(X)
        self._check_range(X)
        plans, data = self._plans(), self._data(X)
        for plan in plans:
            trainer = self._trainer(plan)
            state = trainer.init_state(self.model_.params)
            inputs = stage_inputs(plans, plan.index, self.model_.params, data)
            while state.epoch < plan.spec.epochs:
                self._epoch(plan, trainer, state, inputs, X)
            adopt_averages(self.model_.params, state.slots, plan.program)   # as `ebm run`
            self._training = (plan.index, state)
        return self

    def partial_fit(self, X, y=None):
        """One epoch of the spec's last stage on X, continuing from the parameters, optimizer
        slots and persistent chains left by fit or partial_fit (compiled on the first call).
        Learning-rate schedules see the stage's epoch count, which keeps growing. With a spec's
        `train.average`, fit ends each stage on the averaged parameters (as `ebm run` does);
        partial_fit keeps the average up but goes on from the parameters as they are: self."""
        first = not hasattr(self, "model_")
        X = self._validate(X, reset=first)
        if first:
            self._compile(X)
        self._check_range(X)
        plans = self._plans()
        if not plans:
            raise ValueError(f"{type(self).__name__}: the spec has no `train` section to continue")
        index, state = self._training or (plans[-1].index, None)
        trainer = self._trainer(plans[index])
        if state is None:
            state = trainer.init_state(self.model_.params)
        inputs = stage_inputs(plans, index, self.model_.params, self._data(X))
        self._epoch(plans[index], trainer, state, inputs, X)
        self._training = (index, state)
        return self

    def transform(self, X):
        """E[h | v = X]: (n_samples, n_components), of X's dtype."""
        X = self._fitted_input(X)
        program = self.model_.program
        cond = kernels.conditional(program, self.model_.params, self._data(X), self._hidden)
        return to_numpy(program.layers[self._hidden].units.mean(cond)).astype(X.dtype)

    def score_samples(self, X):
        """PLL(v) or −F(v)/T of each row of X, by ``sample_score``: (n_samples,)."""
        X = self._fitted_input(X)
        program, params = self.model_.program, self.model_.params
        v = self.model_.xp.asarray(X, dtype=program.dtype)
        if self._score == "pseudo_likelihood":
            return pseudo_log_likelihood(program, params, v, self._visible)
        free = kernels.free_energy(program, params, {self._visible: v})
        return -to_numpy(free).astype(float) / program.temperature

    def gibbs(self, X):
        """One block-Gibbs step from X (each call draws afresh): (n_samples, n_features)."""
        X = self._fitted_input(X)
        self._gibbs_calls = getattr(self, "_gibbs_calls", 0) + 1
        model, visible, hidden = self.model_, self._visible, self._hidden
        rng = Rng(model.xp, self.spec_.seed, GIBBS_STREAM, self._gibbs_calls)
        units = {name: info.units for name, info in model.program.layers.items()}
        h = units[hidden].sample(kernels.conditional(model.program, model.params, self._data(X),
                                                     hidden), rng)
        v = units[visible].sample(kernels.conditional(model.program, model.params, {hidden: h},
                                                      visible), rng)
        return to_numpy(v).astype(X.dtype)

    @property
    def components_(self) -> np.ndarray:
        check_is_fitted(self)
        coupling = self.model_.program.couplings[0]
        weights = to_numpy(self.model_.params[coupling.key])
        return weights.T if coupling.a == self._visible else weights

    @property
    def intercept_hidden_(self) -> np.ndarray:
        check_is_fitted(self)
        return to_numpy(self.model_.params[f"bias.{self._hidden}"])

    @property
    def intercept_visible_(self) -> np.ndarray:
        check_is_fitted(self)
        return to_numpy(self.model_.params[f"bias.{self._visible}"])

    @property
    def _n_features_out(self) -> int:          # get_feature_names_out: rbmtransformer0, …
        return self.model_.program.layers[self._hidden].size

    @property
    def _visible(self) -> str:
        return rbm_layer_names(self.spec_)[0]

    @property
    def _hidden(self) -> str:
        return rbm_layer_names(self.spec_)[1]

    def _validate(self, X, reset: bool) -> np.ndarray:
        return validate_data(self, X, reset=reset, dtype=(np.float64, np.float32))

    def _check_range(self, X: np.ndarray, stacklevel: int = 3) -> None:
        """Warn when X is outside the visible units' values (`ebm run` refuses such data; a
        BernoulliRBM takes it unchecked, and so do scikit-learn's estimator checks)."""
        problem = self.model_.program.layers[self._visible].units.check_data(X) if X.size else None
        if problem:
            warnings.warn(f"{type(self).__name__}: {problem}; scale X first (e.g. MinMaxScaler)",
                          UserWarning, stacklevel=stacklevel)

    @property
    def _score(self) -> str:
        """The measure ``sample_score`` names, "auto" resolved for the fitted visible units."""
        _check_score(self.sample_score)
        if self.sample_score != "auto":
            return self.sample_score
        units = self.model_.program.layers[self._visible].units.name
        return "pseudo_likelihood" if units in PLL_UNITS else "free_energy"

    def _fitted_input(self, X) -> np.ndarray:
        """X checked as the fitted model's input (its range only warned, as in fit; the
        kernels below take it unchecked, where the Model's methods would refuse it)."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        self._check_range(X, stacklevel=4)
        return X

    def _compile(self, X: np.ndarray) -> None:
        """spec_ and model_ for X; a spec the parameters make invalid is a ValueError."""
        _check_score(self.sample_score)
        params = {name: getattr(self, name) for name in SPEC_PARAMS}
        try:
            spec = build_spec(self.spec, params, self.overrides, X.shape[1], X.dtype.name,
                              _seed(self.random_state))
            visible, _ = rbm_layer_names(spec)
            model = Model.from_spec(spec, data_mean={visible: X.mean(axis=0)})
        except EbmError as err:
            where = {d.location.file for d in err.diagnostics}
            note = ("\n(`--set` lines come from the estimator's parameters and overrides: "
                    "see ebmlang.sklearn.specs)") if "--set" in where else ""
            raise ValueError(f"{type(self).__name__}: {err}{note}") from err
        except ValueError as err:       # X's mean for `bias: data_rates` (outside the units' range)
            raise ValueError(f"{type(self).__name__}: {err}") from err
        rbm_layers(model.program, visible)      # a ValueError unless two layers, one coupling
        units = model.program.layers[visible].units.name
        if self.sample_score == "pseudo_likelihood" and units not in PLL_UNITS:
            raise ValueError(f"{type(self).__name__}: sample_score='pseudo_likelihood' flips "
                             f"binary or spin units, but layer '{visible}' is {units}: use "
                             "'free_energy' (or 'auto')")
        self.spec_, self.model_, self._training = spec, model, None

    def _plans(self) -> tuple:
        """The spec's training stages on the compiled program, the data on the visible layer."""
        return plan_stages(self.model_.program, self.spec_.stages, (self._visible,))

    def _trainer(self, plan) -> Trainer:
        return Trainer(plan.program, plan.spec, plan.clamp, self.spec_.seed, plan.index)

    def _data(self, X: np.ndarray) -> dict:
        return {self._visible: on_backend(X, self.model_.xp, self.model_.program.dtype)}

    def _epoch(self, plan, trainer: Trainer, state, inputs: dict, X: np.ndarray) -> None:
        start = time.perf_counter()
        trainer.train_epoch(state, inputs)      # X checked by _validate (its range only warned)
        check_finite(self.spec_, plan, state, {}, len(self.spec_.stages) > 1)
        if self.verbose:
            print(f"[{type(self).__name__}] Iteration {state.epoch}, {self._score} = "
                  f"{self.score_samples(X).mean():.2f}, time = {time.perf_counter() - start:.2f}s")

    def __getstate__(self) -> dict:
        """Pickle (and deepcopy) the parameters as NumPy arrays: a Program holds its backend's
        module, which does not pickle; __setstate__ compiles the spec again."""
        state = dict(super().__getstate__())     # may be __dict__ itself
        if "model_" in state:
            state["model_"] = self.model_.parameters()
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        if isinstance(state.get("model_"), dict):
            self.model_ = Model.from_spec(self.spec_)
            self.model_.load_parameters(state["model_"])
            if self._training is not None:      # the optimizer updates model_'s arrays in place
                self._training[1].params = self.model_.params

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _more_tags(self) -> dict:               # scikit-learn < 1.6
        return {"preserves_dtype": [np.float64, np.float32]}


def _check_score(score) -> None:
    if score not in SCORES:
        raise ValueError(f"sample_score must be one of {', '.join(SCORES)}, got {score!r}")


def _seed(random_state) -> int | None:
    """The spec's seed for ``random_state``: None keeps the spec's, an int is the seed, a
    RandomState draws one."""
    if random_state is None or isinstance(random_state, Integral):
        return None if random_state is None else int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
