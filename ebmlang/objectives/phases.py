"""The two phases every Boltzmann-family rule is made of.

    Δθ ∝ (⟨−∂E/∂θ⟩₊ − ⟨−∂E/∂θ⟩₋) / T

Positive phase: the clamped layers hold data; the latent layers get their exact conditional
means when they are mutually uncoupled (an RBM), else they are filled in by Gibbs sweeps with
the clamped layers fixed (a Boltzmann machine with hidden–hidden couplings), optionally after
annealing from a higher temperature, or by their mean-field fixed point (a DBM: the statistics
are then those of the variational posterior, Salakhutdinov & Hinton 2009). Negative phase:
chains run ``sweeps`` block-Gibbs sweeps, started at the positive-phase state (CD-k), kept
from the last update (PCD), or drawn afresh at random (the free phase of Boltzmann learning,
usually annealed).

Both phases end the same way: the last block of the last sweep is Rao–Blackwellised, its units
entering the statistics as conditional means. That is exact in expectation for the statistics
linear in a unit (they are independent given the rest) and spares CD a GEMM. The one statistic
that is not, a gaussian unit's −∂E/∂log σ = (x − μ)²/σ² − x·u/σ, takes its conditional
variance besides: each phase says which units it gives as means (``PhaseStats.means``) and
``kernels.stats.param_stats`` adds E[(x − x̄)²]/σ² = T/g for them.

The rules are shorthands for phases:

| rule        | positive                         | negative                              |
|-------------|----------------------------------|---------------------------------------|
| `cd`        | exact means (or Gibbs sweeps)    | k sweeps from the data                |
| `pcd`       | same                             | k sweeps of persistent chains         |
| `boltzmann` | same, annealed if asked          | fresh random chains, annealed, k sweeps |
| `dbm`       | mean-field fixed point           | k sweeps of persistent chains         |
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ..compile import Program
from ..kernels import block_update, layer_params
from ..kernels.gibbs import conditional, conditional_draw, merge_units
from ..kernels.meanfield import mean_field

CHAINS_OF_RULE = {"cd": "data", "pcd": "persistent", "boltzmann": "fresh", "dbm": "persistent"}


@dataclass(frozen=True)
class MeanField:
    """Settings of the mean-field positive phase (see :mod:`ebmlang.kernels.meanfield`)."""

    iterations: int = 30
    damping: float = 0.0
    tolerance: float = 1e-6


@dataclass(frozen=True)
class Phases:
    clamp: tuple                    # layers holding data in the positive phase
    latent: tuple                   # all other layers
    infer: str                      # "exact" (latent layers mutually uncoupled), "gibbs" or "meanfield"
    chains: str                     # "data" (CD), "persistent" (PCD) or "fresh" (Boltzmann learning)
    sweeps: int                     # negative-phase sweeps at the model's temperature (k)
    positive_sweeps: int = 10       # positive-phase sweeps (gibbs)
    positive_anneal: tuple = ()     # temperatures swept once each before those sweeps
    negative_anneal: tuple = ()
    meanfield: MeanField = MeanField()
    negative_clamp: tuple = ()      # layers the free chains keep at their data (a conditional
                                    # RBM's)
    langevin: tuple | None = None   # (steps, step size): gaussian layers move by Langevin, not
                                    # exact draws


class PhaseStats(NamedTuple):
    """A phase's state for the statistics: ``state`` (layer -> (B, size)) holds data, draws or
    conditional means; ``means`` names the units it gives as conditional means at the model's
    temperature, {layer: None (every unit) or a (size,) bool mask} (``param_stats``'s ``means``)."""

    state: dict
    means: dict


def phases_for(program: Program, rule: str, k: int, clamp: tuple, chains: str | None = None,
               infer: str = "auto", positive_sweeps: int = 10, positive_anneal=(), negative_anneal=(),
               meanfield: MeanField = MeanField(), negative_clamp=(), langevin=None) -> Phases:
    """The phases of ``rule`` on ``program``; ``infer`` `auto` picks exact means where the latent
    layers are mutually uncoupled, mean field for `dbm`, Gibbs sweeps otherwise."""
    latent = tuple(n for n in program.layers if n not in clamp)
    if program.summable(latent):
        infer = "exact"             # mean field and Gibbs would only approximate the exact means
    elif infer == "auto":
        infer = "meanfield" if rule == "dbm" else "gibbs"
    return Phases(tuple(clamp), latent, infer, chains or CHAINS_OF_RULE[rule], k, positive_sweeps,
                  tuple(positive_anneal), tuple(negative_anneal), meanfield, tuple(negative_clamp),
                  langevin)


def random_fill(program: Program, params: dict, state: dict, names, batch: int, rng) -> dict:
    """``state`` plus independent random draws for the layers ``names``."""
    out = dict(state)
    for name in names:
        info = program.layers[name]
        out[name] = info.units.random_state(batch, info.size, layer_params(program, params, name), rng, program.dtype)
    return out


def run_chains(program: Program, params: dict, start: dict, rng, sweeps: int, clamp=frozenset(),
               anneal=(), keep_samples: bool = True, langevin=None) -> tuple[PhaseStats, dict]:
    """Sweep once at each temperature of ``anneal``, then ``sweeps`` times at the model's own:
    (statistics, chain state). The last block enters the statistics as means;
    ``keep_samples=False`` (chains about to be dropped) skips drawing it. ``langevin``: gaussian
    layers move by adjusted Langevin steps (Gibbs–Langevin)."""
    state = start
    for t in anneal:
        for block in program.schedule:
            state = block_update(program, params, state, block, rng, clamp, float(t))
    blocks = [b for b in program.schedule if any(p.layer not in clamp for p in b)]
    for sweep in range(sweeps):
        for i, block in enumerate(blocks):
            if sweep == sweeps - 1 and i == len(blocks) - 1:
                return _last_block(program, params, state, block, rng, clamp, keep_samples,
                                   langevin)
            state = block_update(program, params, state, block, rng, clamp, langevin=langevin)
    return PhaseStats(state, {}), state          # nothing to sweep


def _last_block(program, params, state, block, rng, clamp, keep_samples, langevin=None):
    stat, chain, means = dict(state), dict(state), {}
    for piece in (p for p in block if p.layer not in clamp):
        units = program.layers[piece.layer].units
        if keep_samples:
            cond, x = conditional_draw(program, params, state, piece.layer, rng, langevin=langevin)
            chain[piece.layer] = merge_units(state[piece.layer], x, piece)
        else:
            cond = conditional(program, params, state, piece.layer)
        stat[piece.layer] = merge_units(state[piece.layer], units.mean(cond), piece)
        means[piece.layer] = piece.mask if piece.units is not None else None
    return PhaseStats(stat, means), chain


def sample_from_means(program: Program, params: dict, means: dict, names, rng) -> dict:
    """A state with ``names`` drawn from their conditionals given the others at their means."""
    out = dict(means)
    for name in names:
        out[name] = conditional_draw(program, params, means, name, rng)[1]
    return out


def positive(program: Program, params: dict, data: dict, phases: Phases,
             rng) -> tuple[PhaseStats, dict]:
    """(statistics, state to start CD chains from): both hold the data."""
    every_latent = dict.fromkeys(phases.latent)             # each layer's every unit a mean
    if phases.infer == "exact":
        stat_state, chain_state = dict(data), dict(data)
        for name in phases.latent:
            cond, chain_state[name] = conditional_draw(program, params, data, name, rng)
            stat_state[name] = program.layers[name].units.mean(cond)
        return PhaseStats(stat_state, every_latent), chain_state
    if phases.infer == "meanfield":
        mf = phases.meanfield
        means, _ = mean_field(program, params, data, phases.latent, mf.iterations, mf.damping, mf.tolerance)
        return (PhaseStats(means, every_latent),
                sample_from_means(program, params, means, phases.latent, rng))
    batch = next(iter(data.values())).shape[0]
    start = random_fill(program, params, data, phases.latent, batch, rng)
    return run_chains(program, params, start, rng, phases.positive_sweeps, frozenset(phases.clamp),
                      phases.positive_anneal)


def negative(program: Program, params: dict, start: dict, phases: Phases, rng,
             keep_samples: bool) -> tuple[PhaseStats, dict]:
    """Run the free chains from ``start`` (fresh chains: from random states instead), the layers of
    ``phases.negative_clamp`` held at their values in ``start``."""
    held = {n: start[n] for n in phases.negative_clamp}
    if phases.chains == "fresh":
        batch = next(iter(start.values())).shape[0]
        start = random_fill(program, params, held, [n for n in program.layers if n not in held],
                            batch, rng)
    return run_chains(program, params, start, rng, phases.sweeps, frozenset(held),
                      phases.negative_anneal, keep_samples, phases.langevin)
