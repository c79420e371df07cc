"""The Boltzmann objective: the log-likelihood gradient of every rule of the family, from phases.

    g_θ = (⟨−∂E/∂θ⟩₊ − ⟨−∂E/∂θ⟩₋) / T   (masked to each coupling's graph)   [+ sparsity term]

optionally in centred coordinates (``centering.py``). The positive phase clamps the stage's data
layers (exact means, Gibbs sweeps or mean field), the negative phase runs chains from the data
(CD), persistent chains (PCD, DBM) or fresh ones (Boltzmann learning): see ``phases.py``.
Gradients are batch sums with the factor 1/(batch·T) returned beside them as ``scale``, which the
optimizer folds into its learning rate (a pass over every weight matrix saved per update).
"""
from __future__ import annotations

from dataclasses import replace

from ..backend import Rng
from ..backend.matmul import batch_sum
from ..compile import Program
from ..kernels import param_stats, random_state
from ..spec.schedules import temperatures
from .centering import centre_gradient, update_offsets
from .phases import MeanField, Phases, PhaseStats, negative, phases_for, positive
from .state import ObjectiveState


class BoltzmannObjective:
    def __init__(self, program: Program, stage, clamp: tuple, seed: int):
        """``stage``: a TrainSpec (rule, k, phases, chains, sparsity, centering)."""
        pos, neg = stage.positive, stage.negative
        self.program, self.seed = program, seed
        self.phases: Phases = phases_for(
            program, stage.rule, stage.k, clamp, neg.chains, pos.infer, pos.sweeps,
            temperatures(pos.anneal) if pos.anneal else (), temperatures(neg.anneal) if neg.anneal else (),
            MeanField(pos.iterations, pos.damping, pos.tolerance), neg.clamp,
            (neg.langevin_steps, neg.step_size) if neg.sampler == "langevin" else None)
        self.k, self.k_schedule = stage.k, tuple(stage.k_schedule)
        self.chain_count = stage.chains or stage.batch_size
        self.sparsity, self.centering = stage.sparsity, stage.centering
        self.sparse_layer = (self.sparsity.layer or self.phases.latent[0]) if self.sparsity else None
        self.keys = trainable_keys(program)

    def at_epoch(self, epoch: int) -> None:
        """Set the sweeps of the negative phase for ``epoch``: k, or the last [epoch, k] of
        ``k_schedule`` reached (CD-T with T growing)."""
        sweeps = self.k
        for start, k in self.k_schedule:
            if epoch >= start:
                sweeps = k
        if sweeps != self.phases.sweeps:
            self.phases = replace(self.phases, sweeps=sweeps)

    def step_key(self, state: ObjectiveState) -> Phases:
        """The phases: their sweeps follow ``k_schedule`` from epoch to epoch."""
        return self.phases

    def why_not_captured(self) -> str | None:
        if self.phases.infer == "meanfield" and self.phases.meanfield.tolerance > 0:
            return ("the mean-field positive phase tests convergence on the host "
                    "(`tolerance: 0` runs a fixed number of iterations, which can be captured)")
        return None

    @property
    def persistent(self) -> bool:
        return self.phases.chains == "persistent"

    def init_state(self, params: dict) -> ObjectiveState:
        xp = self.program.xp
        chains = None
        if self.persistent:
            chains = random_state(self.program, params, self.chain_count, Rng(xp, self.seed, 0x0C4A1))
        activity = {}
        if self.sparse_layer:
            size = self.program.layers[self.sparse_layer].size
            activity[self.sparse_layer] = xp.full(size, self.sparsity.target, dtype=self.program.dtype)
        return ObjectiveState(chains, activity)

    def gradient(self, params: dict, state: ObjectiveState, batch: dict, rng) -> tuple[dict, float]:
        """(g, scale) for one minibatch ``batch`` (layer -> (B, size)); updates ``state`` in place."""
        program = self.program
        pos, chain_start = positive(program, params, batch, self.phases, rng)
        neg, chains = negative(program, params, state.chains if self.persistent else chain_start,
                               self.phases, rng, keep_samples=self.persistent)
        if self.persistent:
            state.chains = chains
        grads, scale = phase_difference(program, params, pos, neg, self.keys)
        if self.centering:
            update_offsets(program, params, state.offsets, pos.state, self.centering.rate)
            centre_gradient(program, params, grads, state.offsets)
        if self.sparse_layer:
            self._sparsity(state, pos.state, grads, 1.0 / scale)
        return grads, scale

    def _sparsity(self, state: ObjectiveState, pos_state: dict, grads: dict, units: float) -> None:
        """Push the running mean activation q of the sparse layer towards the target p:
        Δb = cost·(p − q), ΔW = cost·x̄ (p − q)ᵀ for couplings to clamped layers (Hinton's guide
        §11), on the coupling's graph only (a masked-out weight stays zero)."""
        name, sp = self.sparse_layer, self.sparsity
        q = state.activity[name]
        q *= sp.decay
        batch_sum(pos_state[name], out=q, alpha=(1 - sp.decay) / max(pos_state[name].shape[0], 1))
        push = (units * sp.cost) * (sp.target - q)      # in the grads' units (batch sums · T)
        grads[self.program.layers[name].bias_key] += push
        for c, is_a in self.program.incident[name]:
            other = c.b if is_a else c.a
            if c.key in grads and other in self.phases.clamp:
                rows = max(pos_state[other].shape[0], 1)
                mean_other = batch_sum(pos_state[other], alpha=1 / rows)
                pair = (push, mean_other) if is_a else (mean_other, push)
                term = pair[0][:, None] * pair[1][None, :]
                grads[c.key] += term if c.mask is None else term * c.mask


def trainable_keys(program: Program) -> tuple:
    """Every bias, the σ of gaussian layers that learn it, and every trainable coupling."""
    keys = []
    for name, info in program.layers.items():
        keys.append(info.bias_key)
        if info.learn_sigma:
            keys.append(f"sigma.{name}")
    keys += [c.key for c in program.couplings if c.trainable]
    return tuple(keys)


def phase_difference(program: Program, params: dict, pos: PhaseStats, neg: PhaseStats,
                     keys) -> tuple[dict, float]:
    """(g, scale) with g · scale = (⟨−∂E/∂θ⟩₊ − ⟨−∂E/∂θ⟩₋) / T, masked to each coupling's graph.

    g holds batch sums; negative sums are rescaled when the chains outnumber the batch, and
    subtracted where the positive ones lie."""
    grads = param_stats(program, params, pos.state, keys, total=True, means=pos.means)
    n_pos, n_neg = _rows(pos.state), _rows(neg.state)
    ratio = 1.0 if n_neg == n_pos else n_pos / n_neg
    param_stats(program, params, neg.state, keys, total=True, into=grads, weight=-ratio,
                means=neg.means)
    for c in program.couplings:
        if c.mask is not None and c.key in grads:
            grads[c.key] *= c.mask
    return grads, 1.0 / (n_pos * program.temperature)


def _rows(state: dict) -> int:
    return next(iter(state.values())).shape[0]
