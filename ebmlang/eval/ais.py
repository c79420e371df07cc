"""Annealed importance sampling (Neal 2001): log Z of any compiled model, from both sides.

**Forward** (Salakhutdinov & Murray 2008). Each run starts from an exact draw x_0 of the base
model A and moves along the path of ``annealing.py`` with β_0 = 0 < β_1 < ... < β_K = 1:

    log w = Σ_{k=1..K} [log f_{β_k}(x_{k−1}) − log f_{β_{k−1}}(x_{k−1})],   x_k ~ T_k(· | x_{k−1})

E[w] = Z_B / Z_A, so log Ẑ_B = log Z_A + log mean(w), with ±3σ bounds log(Ẑ ± 3 σ̂_Ẑ), σ̂_Ẑ the
standard error of mean(w). By Jensen E[log Ẑ] ≤ log Z: forward AIS *under*-estimates log Z on
average, so the log-likelihood it implies is optimistic.

**Reverse** (Burda, Grosse & Salakhutdinov 2015, RAISE). The forward runs define a proper
generative model q(v) (the law of x_K). Started at a held-out v and run backwards through the
reversed transitions, the same accumulation gives an unbiased estimate of q(v) itself:

    log q̂(v) = log f_1(v) − log Ẑ_rev(v),   log Ẑ_rev(v) = log Z_A + Σ_k [log f_{β_k}(x_{k−1}) − log f_{β_{k−1}}(x_{k−1})]

with x_K = v and x_{k−1} drawn by the time-reversal of T_k. E[q̂(v)] = q(v), so E[log q̂(v)] ≤
log q(v), and on data drawn from the model E[log q] ≤ E[log p] (Gibbs' inequality): the reverse
side is conservative, the mirror of the forward one. It needs the path to live on the data
alone (every other layer summed out given it: the RBM family).
"""
from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np

from ..backend import Rng, to_numpy
from ..backend.graphs import graphs_disabled
from ..compile import Program
from .annealing import AnnealingPath


@dataclass(frozen=True)
class AisResult:
    log_z: float
    lower: float            # log(Ẑ − 3σ̂); −inf when the spread exceeds a third of Ẑ
    upper: float            # log(Ẑ + 3σ̂)
    log_weights: np.ndarray  # (runs,), for the spread figure
    log_z_base: float


@dataclass(frozen=True)
class ReverseResult:
    log_z: float                  # mean over the examples of log Ẑ_rev(v)
    lower: float                  # ∓ 3 standard errors of that mean
    upper: float
    log_z_each: np.ndarray        # (examples,) log Ẑ_rev(v)
    log_likelihood: np.ndarray    # (examples,) log q̂(v) = log f_1(v) − log Ẑ_rev(v)


SPACINGS = ("salakhutdinov", "linear")


def _whole(n) -> bool:
    return isinstance(n, numbers.Integral) and not isinstance(n, bool)


def betas(count: int, spacing: str = "salakhutdinov") -> np.ndarray:
    """count + 1 inverse temperatures from 0 to 1. `salakhutdinov`: the 2008 paper's proportions
    (1/29 of the steps in [0, 0.5], 8/29 in [0.5, 0.9], 20/29 in [0.9, 1]); `linear` otherwise,
    and for fewer than 3 steps (which cannot give each part one)."""
    if spacing not in SPACINGS or not _whole(count) or count < 1:
        raise ValueError(f"AIS needs steps ≥ 1 and a spacing of {' or '.join(SPACINGS)}, "
                         f"got {count!r} and {spacing!r}")
    if spacing == "linear" or count < 3:
        return np.linspace(0.0, 1.0, count + 1)
    a, b = max(1, count // 29), max(1, 8 * count // 29)
    c = max(1, count - a - b)
    return np.concatenate([np.linspace(0, 0.5, a, endpoint=False), np.linspace(0.5, 0.9, b, endpoint=False),
                           np.linspace(0.9, 1.0, c + 1)])


def ais_log_partition(program: Program, params: dict, runs: int = 100, steps: int = 1000,
                      spacing: str = "salakhutdinov", data_mean=None, seed: int = 0,
                      data_layer: str | None = None) -> AisResult:
    """Forward AIS. ``data_layer`` gets ``data_mean``'s base rates; it is summed out with the
    layers of its colour where the latent layers do not sum out given it (a DBM)."""
    if data_mean is not None and data_layer is None:
        raise ValueError("data_mean needs the data_layer it describes")
    if not _whole(runs) or runs < 2:
        raise ValueError(f"AIS needs runs ≥ 2 (their spread gives the bounds), got {runs!r}")
    path = AnnealingPath.for_model(program, params, data_layer, data_mean, keep_data=False)
    log_w = forward_log_weights(path, runs, betas(steps, spacing), Rng(program.xp, seed, 0xA15))
    return _estimate(log_w, path.log_z_base())


def reverse_ais(program: Program, params: dict, data: dict, steps: int = 1000, spacing: str = "salakhutdinov",
                data_mean=None, seed: int = 0) -> ReverseResult:
    """Reverse AIS from the examples ``data`` ({data layer: (examples, size)}), one run each."""
    (data_layer,) = data
    path = AnnealingPath.for_model(program, params, data_layer, data_mean)
    each, log_f1 = reverse_log_z(path, data, betas(steps, spacing), Rng(program.xp, seed, 0xA15, 1))
    spread = 3 * each.std(ddof=1) / math.sqrt(len(each)) if len(each) > 1 else float("inf")
    mean = float(each.mean())
    return ReverseResult(mean, mean - spread, mean + spread, each, log_f1 - each)


def forward_log_weights(path: AnnealingPath, runs: int, bs: np.ndarray, rng) -> np.ndarray:
    """log w of ``runs`` forward runs over the β's ``bs``: (runs,) on the host. On CuPy the step
    between two β's is one CUDA graph, replayed (``_replayed``), when it can be captured."""
    x = path.sample_base(runs, rng)
    log_w = path.program.xp.zeros(runs, dtype=np.float64)
    if _capturable(path, bs) and _replayed(path, x, log_w, bs, rng):
        return to_numpy(log_w)
    for k in range(1, len(bs)):
        rng.advance()
        x = _forward_step(path, x, log_w, float(bs[k]), float(bs[k - 1]), rng, move=bs[k] < 1.0)
    return to_numpy(log_w)


def _forward_step(path: AnnealingPath, x: dict, log_w, beta, prev, rng, move: bool) -> dict:
    """log w += log f_β(x) − log f_prev(x) (in place), then x moved by T_β (unless not ``move``).
    ``beta`` and ``prev`` are floats, or 0-d device arrays in a captured step."""
    terms = path.terms(x)           # one set of GEMMs serves both weights and the move
    log_w += (path.log_f(x, beta, terms) - path.log_f(x, prev, terms)).astype(np.float64)
    return path.transition(x, beta, rng, terms) if move else x


def reverse_log_z(path: AnnealingPath, data: dict, bs: np.ndarray,
                  rng) -> tuple[np.ndarray, np.ndarray]:
    """(log Ẑ_rev(v), log f_1(v)) for each example of ``data``, one reverse run each: host arrays.
    On CuPy the step between two β's is one CUDA graph, replayed, as in the forward direction."""
    if set(path.kept) != set(data):
        raise ValueError("reverse AIS starts from data, so every other layer must be summable "
                         "given it (an RBM: latent layers coupled only to the data layer)")
    x = {n: v.copy() for n, v in data.items()}          # the chains move in place
    terms = path.terms(x)
    log_f1 = to_numpy(path.log_f(x, 1.0, terms)).astype(np.float64)
    log_w = path.program.xp.zeros(next(iter(data.values())).shape[0], dtype=np.float64)
    if not (_capturable(path, bs) and _reverse_replayed(path, x, terms, log_w, bs, rng)):
        for k in range(len(bs) - 1, 0, -1):                    # k = K .. 1
            rng.advance()
            x, terms = _reverse_step(path, x, terms, log_w, float(bs[k]), float(bs[k - 1]), rng)
    return path.log_z_base() + to_numpy(log_w), log_f1


def _reverse_step(path: AnnealingPath, x: dict, terms, log_w, beta, prev, rng):
    """x moved by the time-reversal of T_β, then log w += log f_β(x) − log f_prev(x) (in place):
    (the new x, its terms)."""
    x = path.transition(x, beta, rng, terms, reverse=True)
    terms = path.terms(x)
    log_w += (path.log_f(x, beta, terms) - path.log_f(x, prev, terms)).astype(np.float64)
    return x, terms


# ---- CuPy: one graph per direction, replayed for every β ----------------------------------------

def _capturable(path: AnnealingPath, bs: np.ndarray) -> bool:
    return path.program.xp is not np and len(bs) > 3 and not graphs_disabled()


def _replayed(path: AnnealingPath, x: dict, log_w, bs: np.ndarray, rng) -> bool:
    """The forward loop with the step between β_{k−1} and β_k captured once as a CUDA graph that
    reads k from the device and moves it on, so one graph replays every step: the chains ``x``
    are moved in place, ``log_w`` accumulated in place. The first step runs eagerly (it compiles
    the kernels), and so does the last (β_K = 1, no move). False, with nothing changed, when the
    capture fails: the caller then runs the plain loop from the start."""
    from ..backend.graphs import Capture, run_replayed         # CuPy only
    xp = path.program.xp
    at, k = xp.asarray(bs, dtype=path.program.dtype), xp.ones((), dtype=np.int64)

    def step():
        rng.advance()
        new = _forward_step(path, x, log_w, xp.take(at, k), xp.take(at, k - 1), rng, move=True)
        _write(x, new)
        xp.add(k, 1, out=k)

    if _failed(run_replayed(Capture(xp), step, len(bs) - 2, [*x.values(), log_w, rng.state])):
        return False
    rng.advance()
    _forward_step(path, x, log_w, float(bs[-1]), float(bs[-2]), rng, move=False)
    return True


def _reverse_replayed(path: AnnealingPath, x: dict, terms, log_w, bs: np.ndarray, rng) -> bool:
    """The reverse loop as one replayed graph, k counting down from K on the device; the chains
    ``x`` and their ``terms`` are kept in place. False, with nothing changed, when the capture
    fails."""
    from ..backend.graphs import Capture, run_replayed         # CuPy only
    xp = path.program.xp
    at, k = xp.asarray(bs, dtype=path.program.dtype), xp.full((), len(bs) - 1, dtype=np.int64)
    coupling = [terms.coupling] if hasattr(terms.coupling, "shape") else []

    def step():
        rng.advance()
        new, new_terms = _reverse_step(path, x, terms, log_w, xp.take(at, k), xp.take(at, k - 1),
                                       rng)
        _write(x, new)
        _write(terms.inputs, new_terms.inputs)
        for c in coupling:
            c[...] = new_terms.coupling
        xp.subtract(k, 1, out=k)

    written = [*x.values(), *terms.inputs.values(), *coupling, log_w, rng.state]
    return not _failed(run_replayed(Capture(xp), step, len(bs) - 1, written))


def _failed(why_not: str | None) -> bool:
    """Whether the replay failed; it is said, since the plain loop that follows is slower."""
    if why_not is not None:
        warnings.warn(f"AIS steps without a CUDA graph: {why_not}", RuntimeWarning, stacklevel=5)
    return why_not is not None


def _write(fixed: dict, new: dict) -> None:
    """Copy ``new``'s arrays into ``fixed``'s, key by key (a captured step's fixed buffers)."""
    for n, v in new.items():
        fixed[n][...] = v


def _estimate(log_w: np.ndarray, log_z_a: float) -> AisResult:
    top = log_w.max()
    w = np.exp(log_w - top)                      # weights up to the factor e^top
    mean = w.mean()
    sigma = w.std(ddof=1) / math.sqrt(len(w)) if len(w) > 1 else float("inf")
    log_z = log_z_a + top + math.log(mean)
    upper = log_z_a + top + math.log(mean + 3 * sigma)
    lower = log_z_a + top + math.log(mean - 3 * sigma) if mean > 3 * sigma else float("-inf")
    return AisResult(log_z, lower, upper, log_w, log_z_a)
