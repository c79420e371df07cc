"""Optimisation problems compiled into an energy: the `problem` section expands into a model
(layers, couplings) and fixes its parameters; `optimize` anneals it and decodes the answer."""
from __future__ import annotations


import numpy as np

from ..errors import SpecError
from ..graph import resolve
from ..spec.constraints import Choice
from ..spec.schema import CouplingSpec, LayerSpec, ModelSpec
from . import maxcut, tsp

LAYER = "v"


def _check(spec) -> None:
    """Problem inputs the tables cannot judge alone: raise a located SpecError."""
    kind, o = spec.problem.kind, spec.problem.options
    at = f"problem.{kind}"
    if o.get("file"):
        try:
            rows = np.loadtxt(resolve(spec, o["file"]), ndmin=2)
        except (OSError, ValueError) as exc:
            raise SpecError(f"{at}.file '{o['file']}' cannot be read as rows of numbers: "
                            f"{getattr(exc, 'strerror', None) or exc}", spec.loc(f"{at}.file")) from None
        if kind == "tsp" and not (3 <= len(rows) <= 10 and rows.shape[1] == 2):
            raise SpecError(f"{at}.file must hold 3 to 10 cities as `x y` lines, got {rows.shape}", spec.loc(f"{at}.file"))
        if kind == "tsp" and not (np.isfinite(rows).all() and np.abs(rows).max() < 1e100):
            raise SpecError(f"{at}.file: every coordinate must be a finite number of a sensible "
                            "size", spec.loc(f"{at}.file"))
        if kind == "tsp" and len(np.unique(rows, axis=0)) < len(rows):
            raise SpecError(f"{at}.file: two cities share a position; every city needs its own",
                            spec.loc(f"{at}.file"))
        if kind == "maxcut" and not _edges_of_nodes(rows, 24):
            raise SpecError(f"{at}.file must hold `i j` edges between two different nodes of "
                            "0..23", spec.loc(f"{at}.file"))
    elif kind == "maxcut" and (o["degree"] >= o["nodes"] or o["nodes"] * o["degree"] % 2):
        raise SpecError(f"{at}: no {o['degree']}-regular graph on {o['nodes']} nodes exists (need degree < nodes "
                        "and nodes × degree even)", spec.loc(f"{at}.degree"))


def _edges_of_nodes(rows: np.ndarray, nodes: int) -> bool:
    """Whether ``rows`` are `i j` pairs of distinct whole numbers in 0..nodes−1."""
    return (rows.ndim == 2 and rows.shape[1] == 2 and len(rows) > 0
            and bool(np.all((rows >= 0) & (rows < nodes) & (rows == np.round(rows))))
            and not np.any(rows[:, 0] == rows[:, 1]))


def expand(spec):
    """The spec with ``model`` generated from ``problem``: one layer, coupled within itself."""
    _check(spec)
    kind, o = spec.problem.kind, spec.problem.options
    if kind == "tsp":
        n = len(tsp.cities(o, spec))
        layer = LayerSpec(size=n * n, units="binary", shape=(n, n))
        connectivity = Choice("complete")
    else:
        g = maxcut.graph(o, spec)
        layer = LayerSpec(size=g.number_of_nodes(), units="spin")
        connectivity = Choice("edges", {"list": tuple(tuple(e) for e in g.edges()), "file": None})
    coupling = CouplingSpec(between=(LAYER, LAYER), connectivity=connectivity, init=Choice("zeros"), trainable=False)
    model = ModelSpec(layers={LAYER: layer}, couplings=(coupling,))
    return spec.replace(model=model)


def parameters(spec) -> dict:
    """Host arrays {bias.v, weight.v.v} that encode the problem."""
    kind, o = spec.problem.kind, spec.problem.options
    if kind == "tsp":
        w, b = tsp.energy_terms(tsp.cities(o, spec), o["A"], o["B"], o["C"], o["D"])
        return {f"bias.{LAYER}": b, f"weight.{LAYER}.{LAYER}": w}
    g = maxcut.graph(o, spec)
    n = g.number_of_nodes()
    w = np.zeros((n, n))
    for i, j in g.edges():
        w[i, j] = w[j, i] = -1.0
    return {f"bias.{LAYER}": np.zeros(n), f"weight.{LAYER}.{LAYER}": w}
