"""The two phases every Boltzmann-family rule is made of.

    Δθ ∝ (⟨−∂E/∂θ⟩₊ − ⟨−∂E/∂θ⟩₋) / T

Positive phase: the clamped layers hold data; the latent layers are filled in by their exact
conditional means when they are mutually uncoupled (an RBM), else by Gibbs sweeps with the
clamped layers fixed. Negative phase: chains run ``sweeps`` block-Gibbs sweeps, either restarted
at the positive-phase state (CD-k) or persistent across updates (PCD). The last block of the
last sweep is Rao–Blackwellised: its units enter the statistics as conditional means, which is
exact in expectation since they are independent given the rest, and saves CD a GEMM.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..compile import Program
from ..kernels import block_update, gibbs_sweep, layer_params
from ..kernels.gibbs import conditional, merge_units


@dataclass(frozen=True)
class Phases:
    clamp: tuple            # layers holding data in the positive phase
    latent: tuple           # all other layers
    exact: bool             # latent layers mutually uncoupled: exact positive phase
    chains: str             # "data" (CD) or "persistent" (PCD)
    sweeps: int             # k
    positive_sweeps: int = 10   # Gibbs sweeps of the positive phase when it is not exact


def phases_for(program: Program, rule: str, k: int, clamp: tuple) -> Phases:
    latent = tuple(n for n in program.layers if n not in clamp)
    return Phases(tuple(clamp), latent, program.summable(latent), "persistent" if rule == "pcd" else "data", k)


def _fill(program, params, state, name, rng, temperature=None):
    """(sample, mean) of layer ``name`` given ``state``, from one conditional."""
    units = program.layers[name].units
    cond = conditional(program, params, state, name, temperature)
    return units.sample(cond, rng), units.mean(cond)


def positive(program: Program, params: dict, data: dict, phases: Phases, rng):
    """(state for the statistics, state to start CD chains from): both hold the data."""
    if phases.exact:
        stat_state, chain_state = dict(data), dict(data)
        for name in phases.latent:
            chain_state[name], stat_state[name] = _fill(program, params, data, name, rng)
        return stat_state, chain_state
    start = dict(data)
    batch = next(iter(data.values())).shape[0]
    for name in phases.latent:
        info = program.layers[name]
        start[name] = info.units.random_state(batch, info.size, layer_params(program, params, name), rng,
                                              program.dtype)
    state = gibbs_sweep(program, params, start, rng, clamp=frozenset(phases.clamp), sweeps=phases.positive_sweeps)
    return state, state


def negative(program: Program, params: dict, start: dict, phases: Phases, rng, keep_samples: bool):
    """Run the chains from ``start``: (state for the statistics, chain state after the sweeps).

    ``keep_samples=False`` (CD, whose chains are dropped) skips drawing the last block.
    """
    state, blocks = start, program.schedule
    for sweep in range(phases.sweeps):
        for i, block in enumerate(blocks):
            if sweep == phases.sweeps - 1 and i == len(blocks) - 1:
                return _last_block(program, params, state, block, rng, keep_samples)
            state = block_update(program, params, state, block, rng)
    return state, state          # no blocks at all: nothing to sample


def _last_block(program, params, state, block, rng, keep_samples):
    """The final block: means for the statistics, samples for persistent chains."""
    stat, chain = dict(state), dict(state)
    for piece in block:
        units = program.layers[piece.layer].units
        cond = conditional(program, params, state, piece.layer)
        stat[piece.layer] = merge_units(state[piece.layer], units.mean(cond), piece)
        if keep_samples:
            chain[piece.layer] = merge_units(state[piece.layer], units.sample(cond, rng), piece)
    return stat, chain
