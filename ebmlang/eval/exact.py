"""Exact log Z and log-likelihoods by enumeration, for small models.

The layers are split into a set S summed out in closed form (mutually uncoupled; every
gaussian layer must be in S, since it cannot be enumerated) and the rest, whose joint states
are enumerated in chunks so memory stays bounded:

    log Z = logsumexp_{x ∉ S} ( −F(x) / T ),      F from :func:`ebmlang.kernels.free_energy`
    log p(v) = logsumexp_{x ∉ S ∪ {v}} ( −F(v, x) / T ) − log Z
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ..compile import Program
from ..compile.inputs import check_layer, whole_number
from ..kernels import free_energy

MAX_STATES = 2 ** 22


def logsumexp(a: np.ndarray) -> float:
    top = a.max()
    return float(top + np.log(np.exp(a - top).sum()))


def summed_set(program: Program, given=()) -> tuple:
    """Layers to sum out analytically: all gaussian ones, then the largest discrete ones that stay
    mutually uncoupled. Raises ValueError when the gaussian layers alone are coupled."""
    free = [n for n in program.layers if n not in given]
    gaussian = [n for n in free if not program.layers[n].units.discrete]
    if not program.summable(gaussian):
        raise ValueError("gaussian layers coupled to each other cannot be integrated exactly")
    return program.summable_set(free, first=gaussian)


def _state_count(program: Program, names) -> int:
    return math.prod(program.layers[n].units.count_states(program.layers[n].size) for n in names)


def enumerate_states(program: Program, names, chunk: int):
    """Yield dicts layer -> (chunk, size) host arrays covering every joint state of ``names``."""
    tables = [program.layers[n].units.states(program.layers[n].size) for n in names]
    combos = itertools.product(*(range(len(t)) for t in tables))
    while True:
        block = list(itertools.islice(combos, chunk))
        if not block:
            return
        idx = np.array(block, dtype=np.int64).reshape(len(block), len(names))
        yield {n: t[idx[:, i]] for i, (n, t) in enumerate(zip(names, tables))}


def check_size(program: Program, names) -> None:
    count = _state_count(program, names)
    if count > MAX_STATES:
        raise ValueError(f"exact evaluation would enumerate 2^{math.log2(count):.4g} states of "
                         f"layers {list(names)}; the limit is 2^{math.log2(MAX_STATES):g}")


def log_partition(program: Program, params: dict, chunk: int = 4096) -> float:
    """log Z by enumeration of every layer outside the analytically summed set, ``chunk``
    states at a time."""
    whole_number(chunk, "chunk", 1)
    summed = summed_set(program)
    enumerated = [n for n in program.layers if n not in summed]
    check_size(program, enumerated)
    xp, t = program.xp, program.temperature
    if not enumerated:
        return float(-free_energy(program, params, {}, summed)[0] / t) if summed else 0.0
    parts = []
    for states in enumerate_states(program, enumerated, chunk):
        state = {n: xp.asarray(s, dtype=program.dtype) for n, s in states.items()}
        parts.append(_to_host(-free_energy(program, params, state, summed) / t))
    return logsumexp(np.concatenate(parts))


def log_likelihood(program: Program, params: dict, data: dict, log_z: float | None = None,
                   chunk: int = 4096) -> np.ndarray:
    """log p(data) for each row (the data's layers observed, all others marginalised): (batch,)."""
    for name in data:
        check_layer(program, name)
    log_z = log_partition(program, params, chunk) if log_z is None else log_z
    summed = summed_set(program, given=tuple(data))
    hidden = [n for n in program.layers if n not in data and n not in summed]
    check_size(program, hidden)
    xp, t = program.xp, program.temperature
    rows = next(iter(data.values())).shape[0]
    if not hidden:
        return _to_host(-free_energy(program, params, data, summed) / t) - log_z
    out = np.empty(rows)
    for r in range(rows):   # for each example, sum over every state of the hidden layers
        parts = []
        for states in enumerate_states(program, hidden, chunk):
            n = len(next(iter(states.values())))
            state = {k: xp.repeat(v[r:r + 1], n, axis=0) for k, v in data.items()}
            state.update({k: xp.asarray(s, dtype=program.dtype) for k, s in states.items()})
            parts.append(_to_host(-free_energy(program, params, state, summed) / t))
        out[r] = logsumexp(np.concatenate(parts)) - log_z
    return out


def _to_host(a) -> np.ndarray:
    return np.asarray(a.get() if hasattr(a, "get") else a, dtype=np.float64)


def kl_from_data(program: Program, params: dict, layer: str, rows: np.ndarray, log_z: float | None = None) -> float:
    """KL(p̂ ‖ p_model) from the empirical distribution p̂ of ``rows`` (host, discrete) to the
    model's marginal of ``layer``:  Σ_v p̂(v) (log p̂(v) − log p(v))."""
    distinct, counts = np.unique(rows, axis=0, return_counts=True)
    p_hat = counts / counts.sum()
    ll = log_likelihood(program, params, {layer: program.xp.asarray(distinct, dtype=program.dtype)}, log_z)
    return float((p_hat * (np.log(p_hat) - ll)).sum())


def latent_codes(program: Program, params: dict, data: dict) -> dict:
    """The most probable joint state of all layers not in ``data``, for each row: argmin of E
    over every latent state (small latent parts only). Returns layer -> (rows, size) host arrays."""
    from ..kernels import energy
    latent = [n for n in program.layers if n not in data]
    check_size(program, latent)
    rows = next(iter(data.values())).shape[0]
    table = next(enumerate_states(program, latent, _state_count(program, latent)))
    count = len(next(iter(table.values())))
    xp = program.xp
    best = np.empty(rows, dtype=int)
    for r in range(rows):
        state = {k: xp.repeat(v[r:r + 1], count, axis=0) for k, v in data.items()}
        state.update({k: xp.asarray(s, dtype=program.dtype) for k, s in table.items()})
        best[r] = int(np.argmin(_to_host(energy(program, params, state))))
    return {k: s[best] for k, s in table.items()}
