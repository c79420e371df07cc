"""ebmlang.sklearn: scikit-learn's estimator checks, training through the project's Trainer,
partial_fit as exact continuation, scores against exact enumeration, and a digits pipeline."""
from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402  (a dependency of scikit-learn)

import ebmlang  # noqa: E402
from ebmlang.backend import to_numpy  # noqa: E402
from ebmlang.data.synthetic import bars_and_stripes  # noqa: E402
from ebmlang.sklearn import RBMTransformer  # noqa: E402
from ebmlang.train import Trainer  # noqa: E402

from conftest import ROOT  # noqa: E402

BARS = ROOT / "specs" / "rbm-bars-and-stripes.yaml"


def bars_data(count: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(training draws, the 14 distinct patterns) of 3×3 bars and stripes, float64."""
    patterns = bars_and_stripes(3).astype(float)
    return patterns[np.random.default_rng(seed).integers(0, len(patterns), count)], patterns


# Every check applies and passes, including those that feed data outside [0, 1] (fit warns
# then, as `ebm run` would refuse such data on binary units; BernoulliRBM takes it silently).
# The array-API check skips itself unless SCIPY_ARRAY_API=1: the estimator computes with the
# spec's backend (NumPy or CuPy), not the input's namespace.
@pytest.mark.filterwarnings("ignore:RBMTransformer. binary units:UserWarning")
@parametrize_with_checks([RBMTransformer(n_components=8, n_iter=2, random_state=0)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_core_package_needs_no_scikit_learn():
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import ebmlang, ebmlang.runner\n"
            "try:\n    import ebmlang.sklearn\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=True).stdout
    assert "pip install 'ebmlang[sklearn]'" in out


def test_fit_is_the_trainer_of_ebm_run():
    """Fitting the spec file gives bit for bit the parameters of the Python API's loop."""
    spec = ebmlang.load_spec(BARS, overrides=["train.epochs=3"])
    model = ebmlang.compile_spec(spec)
    X = np.asarray(ebmlang.load_data(spec).train, np.float32)     # X's dtype is the model's
    trainer = Trainer(model.program, spec.train, clamp=("v",), seed=spec.seed)
    state = trainer.init_state(model.params)
    while state.epoch < spec.train.epochs:
        trainer.run_epoch(state, X, "v")
    rbm = RBMTransformer(BARS, n_iter=3).fit(X)
    for key, value in model.parameters().items():
        np.testing.assert_array_equal(rbm.model_.parameters()[key], value, err_msg=key)


def test_training_raises_the_exact_likelihood():
    """Exact log p(pattern) by enumeration: the untrained RBM is near uniform on 2⁹ states
    (−6.24); trained, the 14 patterns hold most of the mass (at best log 1/14 = −2.64)."""
    X, patterns = bars_data()
    params = dict(n_components=16, learning_rate=0.1, n_iter=40, rule="cd", random_state=1,
                  overrides={"train.optimizer.sgd.momentum": 0.5})    # −3.7 to −3.4 over seeds
    untrained = RBMTransformer(**{**params, "n_iter": 0}).fit(X)
    trained = RBMTransformer(**params).fit(X)
    before = untrained.model_.log_likelihood({"v": patterns}).mean()
    after = trained.model_.log_likelihood({"v": patterns}).mean()
    assert before < -6.0 and after > -4.5, (before, after)
    assert trained.score_samples(patterns).mean() > untrained.score_samples(patterns).mean() + 1


def test_free_energy_score_is_the_log_likelihood_up_to_log_z():
    X, patterns = bars_data(100)
    rbm = RBMTransformer(n_components=6, n_iter=3, sample_score="free_energy").fit(X)
    exact = rbm.model_.log_likelihood({"v": patterns})
    np.testing.assert_allclose(rbm.score_samples(patterns) - rbm.model_.log_partition(), exact,
                               rtol=1e-9, atol=1e-9)


def test_pseudo_likelihood_is_its_definition():
    """Σ_i log p(v_i | v_−i), each term from the exact conditional of unit i."""
    X, patterns = bars_data(100)
    rbm = RBMTransformer(n_components=5, n_iter=2).fit(X)
    expected = np.zeros(len(patterns))
    joint = np.exp(rbm.model_.log_likelihood({"v": patterns}))
    for i in range(patterns.shape[1]):
        flipped = patterns.copy()
        flipped[:, i] = 1 - flipped[:, i]
        other = np.exp(rbm.model_.log_likelihood({"v": flipped}))
        expected += np.log(joint / (joint + other))
    np.testing.assert_allclose(rbm.score_samples(patterns), expected, rtol=1e-8)


def test_transform_and_attributes_are_bernoulli_rbm_s():
    X, patterns = bars_data(100)
    rbm = RBMTransformer(n_components=7, n_iter=2).fit(X)
    assert rbm.components_.shape == (7, 9) and rbm.intercept_visible_.shape == (9,)
    logits = patterns @ rbm.components_.T + rbm.intercept_hidden_
    np.testing.assert_allclose(rbm.transform(patterns), 1 / (1 + np.exp(-logits)), rtol=1e-10)
    v = rbm.gibbs(patterns)
    assert v.shape == patterns.shape and set(np.unique(v)) <= {0.0, 1.0}


def test_partial_fit_continues_exactly():
    """Two partial_fit calls are fit with n_iter=2; fit then partial_fit, through a pickle, too."""
    X, _ = bars_data(200)
    params = dict(n_components=8, learning_rate=0.05, rule="pcd", random_state=3)
    whole = RBMTransformer(**params, n_iter=2).fit(X)
    steps = RBMTransformer(**params, n_iter=2)
    steps.partial_fit(X).partial_fit(X)
    resumed = pickle.loads(pickle.dumps(RBMTransformer(**params, n_iter=1).fit(X))).partial_fit(X)
    for other in (steps, resumed):
        np.testing.assert_array_equal(other.components_, whole.components_)
        np.testing.assert_array_equal(other.intercept_visible_, whole.intercept_visible_)


def test_params_round_trip_and_clone():
    rbm = RBMTransformer(n_components=4, overrides={"train.optimizer.sgd.momentum": 0.5})
    copy = clone(rbm)
    assert copy.get_params() == rbm.get_params()
    copy.set_params(n_components=3, k=2, rule="cd")
    assert copy.get_params()["n_components"] == 3 and rbm.n_components == 4
    X, _ = bars_data(50)
    copy.fit(X)
    stage = copy.spec_.train
    assert (copy.components_.shape, stage.k, stage.rule) == ((3, 9), 2, "cd")
    assert stage.optimizer.options.momentum == 0.5


def test_a_spec_mapping_with_its_own_layer_names():
    spec = {"name": "named", "data": {"source": "file", "path": "-", "layer": "pixels"},
            "model": {"layers": {"code": {"size": 3, "units": "binary"},
                                 "pixels": {"size": 1, "units": "binary"}},
                      "couplings": [{"between": ["code", "pixels"]}]},
            "train": {"rule": "cd", "epochs": 2, "batch_size": 5,
                      "optimizer": {"adam": {"lr": 0.01}}}}
    X, _ = bars_data(50)
    rbm = RBMTransformer(spec, learning_rate=0.02).fit(X)
    assert rbm.transform(X).shape == (50, 3) and rbm.components_.shape == (3, 9)
    assert rbm.spec_.train.optimizer.options.lr == 0.02


def test_mistakes_are_value_errors_that_name_the_spec_path():
    X, _ = bars_data(20)
    with pytest.raises(ValueError, match=r"model\.layers\.h\.size"):
        RBMTransformer(n_components=0).fit(X)
    with pytest.raises(TypeError, match="did you mean n_components=100"):
        RBMTransformer(100).fit(X)
    with pytest.raises(ValueError, match="sample_score"):
        RBMTransformer(sample_score="likelihood").fit(X)
    with pytest.raises(ValueError, match="two layers"):
        RBMTransformer(ROOT / "specs" / "dbm-bars-and-stripes.yaml").fit(X)
    with pytest.warns(UserWarning, match=r"\[0, 1\]"):
        RBMTransformer(n_components=2, n_iter=1).fit(X * 3)
    with pytest.warns(UserWarning, match=r"\[0, 1\]"):
        RBMTransformer(n_components=2, n_iter=1).fit(X).transform(X * 3)
    with pytest.raises(ValueError, match=r"shape \[28, 28\] \(784 units\), but X has 9 features"):
        RBMTransformer(ROOT / "specs" / "rbm-mnist-small.yaml").fit(X)
    with pytest.raises(NotFittedError):
        RBMTransformer().components_


def test_a_spec_mapping_needs_no_name():
    spec = {"model": {"layers": {"v": {"size": 1, "units": "binary"},
                                 "h": {"size": 3, "units": "binary"}},
                      "couplings": [{"between": ["v", "h"]}]}, "train": {"rule": "cd", "epochs": 1}}
    X, _ = bars_data(20)
    assert RBMTransformer(spec).fit(X).components_.shape == (3, 9)


def test_gaussian_visible_units_are_scored_by_their_free_energy():
    """"auto" scores binary or spin data by the pseudo-likelihood and other visible units by
    −F(v)/T; asking for the pseudo-likelihood of gaussian units fails at fit, not at scoring."""
    X = np.random.default_rng(0).normal(size=(40, 2))
    spec = ROOT / "specs" / "grbm-mixture.yaml"
    rbm = RBMTransformer(spec, n_iter=1).fit(X)
    free = -to_numpy(rbm.model_.free_energy({rbm._visible: X})) / rbm.model_.program.temperature
    np.testing.assert_allclose(rbm.score_samples(X), free, rtol=1e-6)
    with pytest.raises(ValueError, match="sample_score='pseudo_likelihood' flips binary or spin"):
        RBMTransformer(spec, n_iter=1, sample_score="pseudo_likelihood").fit(X)


def test_the_visible_size_comes_from_x_before_the_spec_is_checked():
    """A softmax layer's placeholder size need not divide by its categories, and the size may
    not be overridden (the estimator sets it from X)."""
    spec = {"name": "t", "model": {
        "layers": {"v": {"size": 1, "units": "softmax", "categories": 3},
                   "h": {"size": 3, "units": "binary"}},
        "couplings": [{"between": ["v", "h"]}]}, "train": {"rule": "cd", "epochs": 1}}
    X = np.eye(3)[np.random.default_rng(0).integers(0, 3, (20, 2))].reshape(20, 6)
    assert RBMTransformer(spec).fit(X).transform(X).shape == (20, 3)
    with pytest.raises(ValueError, match="model.layers.v.size is X's number of features"):
        RBMTransformer(overrides={"model.layers.v.size": 99}).fit(X)


def test_digits_pipeline_with_logistic_regression():
    """RBM features of the 8×8 digits feed a linear classifier (scikit-learn's example, small):
    0.905 to 0.915 over seeds (BernoulliRBM alike; the raw pixels give 0.96)."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.25, random_state=0)
    rbm = RBMTransformer(n_components=64, learning_rate=0.06, n_iter=10, random_state=0)
    model = Pipeline([("rbm", rbm), ("logistic", LogisticRegression(C=100, max_iter=1000))])
    # one thread: on a busy 2-core machine threaded lbfgs runs 100 times slower
    with threadpool_limits(1):
        accuracy = model.fit(X_train, y_train).score(X_test, y_test)
    assert accuracy > 0.85, accuracy
