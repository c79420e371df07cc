"""The spec language's table for `sweep`: grids of values over dotted spec paths, run by
`ebm sweep` (``runner/sweep.py``) as the product of the grids, each trial an ordinary run."""
from __future__ import annotations

import re

from .constraints import Constraint, Field, Int, ListOf, Section, Str, dotted
from .nodes import Map, to_plain
from .types import SweepSpec

DOTTED_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*")


class AnyValue(Constraint):
    """Any YAML value, kept as plain Python: a grid value is typed later, by the table of the
    path it is set at (as `--set` values are)."""

    def _check(self, node, path, ctx):
        return to_plain(node)

    def describe(self) -> str:
        return "any value"


class PathMap(Constraint):
    """A mapping from dotted spec paths (`train.optimizer.sgd.lr`) to values of one constraint."""

    def __init__(self, value: Constraint, what: str):
        self.value, self.what = value, what

    def _check(self, node, path, ctx):
        if not isinstance(node, Map) or not node.entries:
            return ctx.error(node, f"{dotted(path)} must be {self.describe()}")
        out = {}
        for key, child in node.entries.items():
            if not DOTTED_PATH.fullmatch(key):
                ctx.error(node.key_locs[key], f"{dotted(path)}: '{key}' is not a dotted spec path "
                          "(names joined by '.', e.g. train.optimizer.sgd.lr)")
                continue
            out[key] = self.value.check(child, path + (key,), ctx)
        return out

    def describe(self) -> str:
        return f"a mapping of dotted spec paths to {self.what}"


SWEEP = Section("sweep", {
    "grid": Field(PathMap(ListOf(AnyValue(), 1), "lists of values to try"),
                  doc="the values to try at each spec path (e.g. `train.k: [1, 3, 10]`); the "
                      "trials are the product of the lists, each one `ebm run` with those values "
                      "set"),
    "seeds": Field(Int(1), 1, "runs of every point, with seed = seed, seed + 1, …"),
    "metric": Field(Str(), None, "the summary.json key plotted against each swept value "
                    "(default: the log-likelihood, accuracy, error or rating RMSE the trials "
                    "report)"),
}, lambda **kw: SweepSpec(**kw))
