"""Conditionals and block Gibbs sampling: pure functions of (program, params, state, rng).

A block's units share no coupling, so given everything else they are independent and are
drawn at once from their conditionals. A sweep visits the program's blocks in order; clamped
layers (data in the positive phase) are skipped. Functions return a new state dict; the input
state is never modified.
"""
from __future__ import annotations

import numpy as np

from ..backend import namespace_of
from ..compile import Piece, Program
from ..units.types import Normal
from .energy import coupling_stats, layer_input, layer_params
from .langevin import langevin_moves
from .lattice_gpu import lattice_plan, lattice_sweeps


def _field(program: Program, params: dict, state: dict, name: str, temperature):
    """(units, input u, layer params, temperature) of layer ``name`` given the others."""
    t = program.temperature if temperature is None else temperature
    neighbours = {n: state[n] for n in program.neighbours[name]}
    batch = next(iter(state.values())).shape[0]
    u = layer_input(program, params, coupling_stats(program, params, neighbours), name, batch)
    info = program.layers[name]
    return info.units, u, layer_params(program, params, name), t / info.gain


def conditional(program: Program, params: dict, state: dict, name: str, temperature: float | None = None):
    """Parameters of p(x_name | all other layers) (unit-type specific NamedTuple).

    A layer with a field gain g (a pretraining stage's doubled layer) takes the conditional of the
    field g·(b + u), i.e. the same conditional at temperature T/g. When ``state`` holds the layer
    itself, the conditional keeps to the units present in it (softmax groups that are missing)."""
    units, u, p, t = _field(program, params, state, name, temperature)
    cond = units.conditional(u, p, t)
    return units.restrict(cond, state[name]) if name in state else cond


def conditional_draw(program: Program, params: dict, state: dict, name: str, rng,
                     temperature: float | None = None, langevin=None):
    """(p(x_name | all other layers), a draw from it): one fused launch on CuPy where the unit
    type has one. With ``langevin`` = (steps, step size), gaussian units instead move from their
    current values by adjusted Langevin steps (see ``langevin.py``)."""
    units, u, p, t = _field(program, params, state, name, temperature)
    current = state.get(name)
    if langevin is not None and not units.discrete:
        cond = units.conditional(u, p, t)
        if isinstance(cond, Normal):
            return cond, langevin_moves(cond, current, rng, *langevin)
        return cond, units.sample(cond, rng)
    return units.conditional_sample(u, p, t, rng, current)


def conditional_mean(program: Program, params: dict, state: dict, name: str, temperature=None):
    return program.layers[name].units.mean(conditional(program, params, state, name, temperature))


def _update_piece(program, params, state, piece: Piece, rng, temperature, mean: bool,
                  langevin=None):
    if mean:
        new = conditional_mean(program, params, state, piece.layer, temperature)
    else:
        new = conditional_draw(program, params, state, piece.layer, rng, temperature, langevin)[1]
    return merge_units(state[piece.layer], new, piece)


def merge_units(old, new, piece: Piece):
    """``new`` on the piece's units, ``old`` elsewhere (one pass, by the piece's bool mask)."""
    if piece.units is None:
        return new
    return namespace_of(new).where(piece.mask, new, old)


def block_update(program: Program, params: dict, state: dict, block, rng, clamp=frozenset(),
                 temperature: float | None = None, mean: bool = False, langevin=None) -> dict:
    """Draw every unclamped piece of ``block`` from its conditional (``mean``: set it to E[x];
    ``langevin``: gaussian units take adjusted Langevin steps instead of an exact draw)."""
    new_state = dict(state)
    for piece in block:
        if piece.layer not in clamp:
            # pieces of one block are independent of each other: read from the old state
            new_state[piece.layer] = _update_piece(program, params, state, piece, rng, temperature,
                                                   mean, langevin)
    return new_state


def gibbs_sweep(program: Program, params: dict, state: dict, rng, clamp=frozenset(), sweeps: int = 1,
                temperature: float | None = None) -> dict:
    """``sweeps`` passes over the block schedule; layers in ``clamp`` keep their values.

    On CuPy, a lattice model (see ``lattice_gpu.py``) takes all its sweeps in one int8 kernel
    per colour instead: the same Gibbs chain, with its random numbers drawn inside the kernel."""
    plan = lattice_plan(program) if program.xp is not np and not clamp else None
    if plan is not None:
        t = program.temperature if temperature is None else temperature
        return {plan.layer: lattice_sweeps(plan, params, state[plan.layer], rng, sweeps, t)}
    for _ in range(sweeps):
        for block in program.schedule:
            state = block_update(program, params, state, block, rng, clamp, temperature)
    return state


def infer_means(program: Program, params: dict, state: dict, layers, temperature=None) -> dict:
    """Replace ``layers`` by their conditional means given the rest.

    Exact (E[x_l | clamped]) when ``layers`` are not coupled to each other, as an RBM's hidden
    layer given the visible one; the trainer checks that before relying on it.
    """
    new_state = dict(state)
    for name in layers:
        new_state[name] = conditional_mean(program, params, state, name, temperature)
    return new_state


def random_state(program: Program, params: dict, batch: int, rng) -> dict:
    """Independent draws of every layer at zero input: starting points for chains."""
    return {name: info.units.random_state(batch, info.size, layer_params(program, params, name), rng,
                                          program.dtype)
            for name, info in program.layers.items()}
