"""Optimisation by simulated annealing: anneal many restarts at once, quench each to a local
minimum of the energy (zero-temperature asynchronous sweeps), decode, and compare with exact
and heuristic answers."""
from __future__ import annotations

import numpy as np

from ..backend import Rng, to_numpy
from ..kernels import random_state
from ..kernels.anneal import anneal
from ..spec.schedules import temperatures
from ..kernels.recall import relax
from ..problems import LAYER, maxcut, tsp


def anneal_restarts(model, spec) -> np.ndarray:
    """Final states (restarts, size) after annealing and a zero-temperature quench."""
    opt = spec.optimize
    rng = Rng(model.xp, spec.seed, 0x0A7)
    state = random_state(model.program, model.params, opt.restarts, rng)
    state = anneal(model.program, model.params, state, rng, temperatures(opt.anneal), opt.sweeps)
    state, _, _ = relax(model.program, model.params, state, LAYER, "async", 100, Rng(np, spec.seed, 0x0A8))
    return to_numpy(state[LAYER]).astype(float)


def tsp_report(spec, finals: np.ndarray) -> tuple[dict, list | None]:
    xy = tsp.cities(spec.problem.options, spec)
    n = len(xy)
    tours = [tsp.decode(f.reshape(n, n)) for f in finals]
    lengths = [tsp.length(t, xy) for t in tours if t is not None]
    best_tour = min((t for t in tours if t is not None), key=lambda t: tsp.length(t, xy), default=None)
    opt_tour, opt_len = tsp.optimum(xy)
    nn_tour, nn_len = tsp.nearest_neighbour(xy)
    report = {"cities": n, "restarts": len(finals), "valid_fraction": len(lengths) / len(finals),
              "optimum_length": opt_len, "nearest_neighbour_length": nn_len,
              "best_length": min(lengths) if lengths else None,
              "mean_valid_length": float(np.mean(lengths)) if lengths else None}
    if lengths:
        report["best_over_optimum"] = report["best_length"] / opt_len
        report["mean_over_optimum"] = report["mean_valid_length"] / opt_len
        report["nearest_neighbour_over_optimum"] = nn_len / opt_len
        report["best_tour"] = best_tour
    return report, best_tour


def maxcut_report(spec, finals: np.ndarray) -> dict:
    g = maxcut.graph(spec.problem.options, spec)
    cuts = maxcut.cut_value(g, finals)
    best = maxcut.best_cut(g)
    greedy = maxcut.greedy_cut(g, spec.seed)
    return {"nodes": g.number_of_nodes(), "edges": g.number_of_edges(), "restarts": len(finals),
            "best_cut": float(cuts.max()), "mean_cut": float(cuts.mean()), "optimum_cut": best,
            "best_over_optimum": float(cuts.max()) / best, "mean_over_optimum": float(cuts.mean()) / best,
            "fraction_optimal": float((cuts == best).mean()), "greedy_cut": greedy}
