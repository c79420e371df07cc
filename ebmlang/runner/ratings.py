"""`ebm run` on ratings: the test RMSE each epoch, and the summary beside the baselines.

summary.json: `rating.rmse.test`, `rating.mae.test`, `rating.rmse.baseline` (the bias baseline
μ + b_user + b_item), `rating.rmse.global_mean`, and the counts of training and test ratings.
"""
from __future__ import annotations

from ..data import Dataset
from ..eval.ratings import baseline_errors, errors, predict_ratings


class RatingsProbe:
    """What `ebm run` measures on ratings data; the same for every stage."""

    def __init__(self, model, data: Dataset):
        self.model, self.data = model, data

    def for_stage(self, plans, plan, params) -> "RatingsProbe":
        return self

    def test_errors(self) -> dict:
        r, data = self.data.ratings, self.data
        rows = {n: x for n, x in data.arrays("train").items()}
        predicted = predict_ratings(self.model.program, self.model.params, data.layer, rows, r.test,
                                    r.levels)
        return errors(predicted, r.test[:, 2].astype(float))

    def epoch_metrics(self) -> dict:
        if not len(self.data.ratings.test):
            return {}
        e = self.test_errors()
        return {"rmse_test": round(e["rmse"], 5), "mae_test": round(e["mae"], 5)}

    def summary(self) -> dict:
        r = self.data.ratings
        out = {"rating.train_count": int(len(r.train)), "rating.test_count": int(len(r.test))}
        if not len(r.test):
            return out
        by_user = (lambda t: t) if r.orientation == "users" else (lambda t: t[:, [1, 0, 2]])
        users, items = (r.rows, r.groups) if r.orientation == "users" else (r.groups, r.rows)
        e, base = (self.test_errors(),
                   baseline_errors(by_user(r.train), by_user(r.test), users, items))
        return {**out, "rating.rmse.test": e["rmse"], "rating.mae.test": e["mae"],
                "rating.rmse.baseline": base["biases"],
                "rating.rmse.global_mean": base["global_mean"]}
