"""scikit-learn estimators built from an ebmlang spec (needs the `sklearn` extra).

    >>> from ebmlang.sklearn import RBMTransformer
    >>> rbm = RBMTransformer(n_components=100, learning_rate=0.06, n_iter=10, random_state=0)
    >>> Pipeline([("rbm", rbm), ("logistic", LogisticRegression())]).fit(X_train, y_train)
    >>> RBMTransformer("specs/rbm-mnist.yaml", overrides={"train.epochs": 5}).fit(X).transform(X)

``specs.py`` turns an estimator's parameters into `--set` overrides of its spec; ``rbm.py`` is
the estimator, trained by the same Trainer and objectives as `ebm run`. ``import ebmlang``
never imports this package, so the core needs no scikit-learn.
"""
try:
    import sklearn  # noqa: F401
except ImportError as exc:
    raise ImportError("ebmlang.sklearn needs scikit-learn: pip install 'ebmlang[sklearn]'") from exc

from .rbm import RBMTransformer

__all__ = ["RBMTransformer"]
