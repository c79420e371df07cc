"""Rows of many runs as a table: the numbers of a summary, the CSV file, the metric to plot."""
from __future__ import annotations

import csv
import io

from .folder import RunFolder

# the figure a sweep plots when none is named: the first of these its trials report
PREFERRED_METRICS = (
    "log_likelihood.test", "log_likelihood.exact", "log_likelihood.test_iwae",
    "log_likelihood.test_exact",
    "accuracy.test", "error_rate.test", "rating.rmse.test", "reconstruction_error.test",
    "gan.classifier_score", "gan.modes", "mixture.kl", "energy.best",
)


def flat_numbers(summary: dict, prefix: str = "") -> dict:
    """The numbers of a (possibly nested) summary under dotted keys; lists and text left out."""
    out = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_numbers(value, name + "."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = value
    return out


def choose_metric(rows: list[dict], skip: set = frozenset()) -> str | None:
    """A preferred metric that some row has, else the first number of the first finished row
    that is neither bookkeeping (epochs, seconds) nor in ``skip`` (the swept values)."""
    present = set().union(*(r.keys() for r in rows)) if rows else set()
    for key in PREFERRED_METRICS:
        if key in present:
            return key
    skip = {"seconds", "train_seconds", "epochs", "seed", *skip}
    for row in rows:
        if row["status"] != "done":
            continue
        for key, value in row.items():
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            if numeric and key not in skip and key.count(".") >= 1:
                return key
    return None


def write_csv(folder: RunFolder, name: str, rows: list[dict]) -> None:
    """Columns in first-seen order across all rows; a missing value is an empty cell."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    folder.write_text(name, text.getvalue())
