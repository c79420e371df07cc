"""Deep belief networks (Hinton, Osindero & Teh 2006): the model p is an undirected *top* (the
layers outside ``program.generated``, an RBM) and generative couplings below it; q, the
recognition couplings, runs back up.

    p(v, h_1, …, h_L) = p_top(h_top) Π_{l generated} p(x_l | parents)
    log p(v) ≥ E_q(h|v)[log p(v, h)] + H(q(h | v))                     (the variational bound)

p_top(x_I) is the top's marginal on its *interface* I (the layers that parents of generative
couplings come from), the rest of the top summed out. Here: exact log p(v) and the exact bound
by enumeration (small models), and ancestral samples (Gibbs in the top, then one top-down pass);
generative classification is in ``classify.py``.
"""
from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from ..compile import Program, restrict
from ..kernels import gibbs_sweep, random_state
from ..kernels.directed import (directed_conditional, directed_input, directed_log_prob, directed_params,
                                directed_pass)
from . import exact


def top_program(program: Program) -> Program:
    return restrict(program, [n for n in program.layers if n not in program.generated])


def interface(program: Program) -> tuple:
    """The top's layers that generative couplings start from."""
    sources = {c.a for c in program.directed if c.kind == "generative"}
    return tuple(n for n in program.layers if n in sources and n not in program.generated)


def log_prior(program: Program, params: dict, state: dict, log_z_top: float) -> np.ndarray:
    """log p_top(x_I) of the interface layers in ``state`` (host, (batch,)), the rest of the top
    marginalised (summed in closed form where it can be, enumerated otherwise)."""
    top = top_program(program)
    given = {n: state[n] for n in interface(program)}
    return exact.log_likelihood(top, params, given, log_z_top)


def joint_log_prob(program: Program, params: dict, state: dict, log_z_top: float, skip=()) -> np.ndarray:
    """log p(v, h) of full states of the generated layers and the interface: (batch,) host; the
    generated layers in ``skip`` are left out (their terms come from :func:`data_log_prob`)."""
    below = to_numpy(directed_log_prob(program, params, state, "generative", skip)).astype(np.float64)
    return below + log_prior(program, params, state, log_z_top)


def data_log_prob(program: Program, params: dict, data: dict, parents: dict) -> np.ndarray:
    """log p(x_d | parents) of every data row beside every parent state: (rows, states) host.

    With u the parents' input and b the bias: (−E_self(x; b) + s(x)·u)/T − A(u), as a matrix."""
    total, t = 0.0, program.temperature
    for name, x in data.items():
        units = program.layers[name].units
        p = directed_params(program, params, name, "generative")
        u = directed_input(program, params, parents, name, "generative")
        matrix = (-units.self_energy(x, p)[:, None] + units.coupling_stat(x, p) @ u.T) / t \
            - units.log_partition(u, p, t)[None, :]
        total = total + to_numpy(matrix).astype(np.float64)
    return total


def _rows_over(program: Program, row: dict, names, chunk: int = 4096):
    """``row`` (one example per layer) repeated beside every joint state of ``names``."""
    for states in exact.enumerate_states(program, names, chunk):
        n = len(next(iter(states.values())))
        out = {k: program.xp.repeat(v, n, axis=0) for k, v in row.items()}
        out.update({k: program.xp.asarray(s, dtype=program.dtype) for k, s in states.items()})
        yield out


def exact_log_likelihood(program: Program, params: dict, data: dict, chunk: int = 4096) -> np.ndarray:
    """log p(v) per row by enumerating the generated latent layers and the interface; the states'
    own terms are computed once for every row, the data's as one (rows, states) matrix."""
    summed_over = set(program.generated) | set(interface(program))
    hidden = [n for n in program.layers if n not in data and n in summed_over]
    exact.check_size(program, hidden)
    log_z_top = exact.log_partition(top_program(program), params)
    parts = []
    for states in exact.enumerate_states(program, hidden, chunk):
        states = {k: program.xp.asarray(s, dtype=program.dtype) for k, s in states.items()}
        own = joint_log_prob(program, params, states, log_z_top, skip=tuple(data))
        parts.append(data_log_prob(program, params, data, states) + own[None, :])
    joint = np.concatenate(parts, axis=1)
    top = joint.max(axis=1, keepdims=True)
    return (top + np.log(np.exp(joint - top).sum(axis=1, keepdims=True)))[:, 0]


def exact_bound(program: Program, params: dict, data: dict) -> np.ndarray:
    """E_q[log p(v, h)] + H(q) per row, q the recognition model, by enumerating its states."""
    hidden = list(program.order["recognition"])
    exact.check_size(program, hidden)
    log_z_top = exact.log_partition(top_program(program), params)
    rows = next(iter(data.values())).shape[0]
    out = np.empty(rows)
    for r in range(rows):
        row = {k: v[r:r + 1] for k, v in data.items()}
        total = 0.0
        for s in _rows_over(program, row, hidden):
            log_q = to_numpy(directed_log_prob(program, params, s, "recognition")).astype(np.float64)
            log_p = joint_log_prob(program, params, s, log_z_top)
            total += float((np.exp(log_q) * (log_p - log_q)).sum())
        out[r] = total
    return out


def ancestral_sample(program: Program, params: dict, count: int, sweeps: int, rng, clamp: dict | None = None) -> dict:
    """Gibbs ``sweeps`` in the top (layers in ``clamp`` held), then one top-down pass; the last
    generated layers hold their conditional means."""
    top = top_program(program)
    state = random_state(top, params, count, rng)
    state.update(clamp or {})
    state = gibbs_sweep(top, params, state, rng, frozenset(clamp or ()), sweeps)
    drawn = directed_pass(program, params, state, "generative", rng)
    last = program.generated[-1]
    drawn[last] = program.layers[last].units.mean(directed_conditional(program, params, drawn, last, "generative"))
    return drawn


__all__ = ["ancestral_sample", "exact_bound", "exact_log_likelihood", "interface",
           "joint_log_prob", "log_prior", "top_program"]
