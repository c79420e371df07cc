"""Stage 5, train: CD-k and PCD on minibatches, as one step function over a TrainState.

A step is the positive phase, the negative phase, the statistics of both, and an SGD update:

    g_θ = (⟨−∂E/∂θ⟩₊ − ⟨−∂E/∂θ⟩₋) / T   (masked to the coupling's graph)   [+ sparsity term]

optionally in centred coordinates (``centering.py``).

Randomness of epoch e comes from the stream keyed (seed, e), so the state after any epoch —
parameters, velocities, persistent chains, sparsity estimates, centring offsets and the epoch count — is all
that is needed to resume exactly.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..backend import Rng
from ..compile import Program
from ..kernels import param_stats, random_state
from ..spec.schedules import temperatures
from ..spec.schema import SgdSpec, SparsitySpec, TrainSpec
from .centering import centre_gradient, update_offsets
from .optim import learning_rate, momentum, sgd_update
from .phases import Phases, negative, phases_for, positive


@dataclass
class TrainState:
    """Everything that changes during training (the arrays are updated in place)."""

    params: dict
    velocity: dict
    chains: dict | None = None          # persistent chains (PCD)
    activity: dict = field(default_factory=dict)   # running mean activation, for sparsity
    offsets: dict = field(default_factory=dict)    # centring offsets μ_l (empty until the first step)
    epoch: int = 0                      # epochs completed


class Trainer:
    def __init__(self, program: Program, spec: TrainSpec, clamp: tuple, seed: int):
        self.program, self.spec, self.seed = program, spec, seed
        self.phases: Phases = phases_for(
            program, spec.rule, spec.k, clamp, spec.negative.chains, spec.positive.sweeps,
            temperatures(spec.positive.anneal) if spec.positive.anneal else (),
            temperatures(spec.negative.anneal) if spec.negative.anneal else ())
        self.sgd: SgdSpec = spec.optimizer.options
        self.keys = self._trainable_keys()
        self.sparsity: SparsitySpec | None = spec.sparsity
        self.sparse_layer = (self.sparsity.layer or self.phases.latent[0]) if self.sparsity else None

    def _trainable_keys(self) -> tuple:
        keys = []
        for name, info in self.program.layers.items():
            keys.append(f"bias.{name}")
            if info.learn_sigma:
                keys.append(f"sigma.{name}")
        keys += [c.key for c in self.program.couplings if c.trainable]
        return tuple(keys)

    def init_state(self, params: dict) -> TrainState:
        xp = self.program.xp
        velocity = {k: xp.zeros_like(params[k]) for k in self.keys}
        chains = None
        if self.phases.chains == "persistent":
            n = self.spec.chains or self.spec.batch_size
            chains = random_state(self.program, params, n, Rng(xp, self.seed, 0x0C4A1))
        activity = {}
        if self.sparse_layer:
            size = self.program.layers[self.sparse_layer].size
            activity[self.sparse_layer] = xp.full(size, self.sparsity.target, dtype=self.program.dtype)
        return TrainState(params, velocity, chains, activity)

    def step(self, st: TrainState, batch: dict, rng: Rng, lr: float, mom: float) -> None:
        """One update from ``batch`` (layer -> (B, size) data), in place on ``st``."""
        program, params = self.program, st.params
        pos_state, chain_start = positive(program, params, batch, self.phases, rng)
        persistent = self.phases.chains == "persistent"
        neg_state, chains = negative(program, params, st.chains if persistent else chain_start,
                                     self.phases, rng, keep_samples=persistent)
        if persistent:
            st.chains = chains
        grads, scale = self.gradient(params, pos_state, neg_state)
        if self.spec.centering:
            update_offsets(program, params, st.offsets, pos_state, self.spec.centering.rate)
            centre_gradient(program, params, grads, st.offsets)
        if self.sparse_layer:
            self._sparsity(st, pos_state, grads, 1.0 / scale)
        sgd_update(params, st.velocity, grads, lr, mom, self.sgd.weight_decay, program.keys, scale)

    def gradient(self, params: dict, pos_state: dict, neg_state: dict) -> tuple[dict, float]:
        """(g, scale) with g · scale = (⟨−∂E/∂θ⟩₊ − ⟨−∂E/∂θ⟩₋) / T, masked to each coupling's graph.

        g holds batch sums, so 1/(batch·T) costs no pass of its own: the update folds ``scale``
        into its learning rate. Negative sums are rescaled when the chains outnumber the batch."""
        program = self.program
        grads = param_stats(program, params, pos_state, self.keys, total=True)
        neg = param_stats(program, params, neg_state, self.keys, total=True)
        n_pos, n_neg = _rows(pos_state), _rows(neg_state)
        for key, g in grads.items():
            if n_neg == n_pos:
                g -= neg[key]
            else:
                g -= (n_pos / n_neg) * neg[key]
        self._mask(grads)
        return grads, 1.0 / (n_pos * program.temperature)

    def _mask(self, grads: dict) -> None:
        for c in self.program.couplings:
            if c.mask is not None and c.key in grads:
                grads[c.key] *= c.mask

    def _sparsity(self, st: TrainState, pos_state: dict, grads: dict, units: float) -> None:
        """Push the running mean activation q of the sparse layer towards the target p:
        Δb = cost·(p − q), ΔW = cost·x̄ (p − q)ᵀ for couplings to clamped layers (Hinton's guide §11)."""
        name, sp = self.sparse_layer, self.sparsity
        q = st.activity[name]
        q *= sp.decay
        q += (1 - sp.decay) * pos_state[name].mean(axis=0)
        push = (units * sp.cost) * (sp.target - q)      # in the grads' units (batch sums · T)
        grads[f"bias.{name}"] += push
        for c, is_a in self.program.incident[name]:
            other = c.b if is_a else c.a
            if c.key in grads and other in self.phases.clamp:
                mean_other = pos_state[other].mean(axis=0)
                grads[c.key] += (push[:, None] * mean_other[None, :]) if is_a else (mean_other[:, None] * push[None, :])

    def run_epoch(self, st: TrainState, train_x, layer: str, on_batch=None) -> None:
        """One pass over ``train_x`` (N, size) in shuffled minibatches; then ``st.epoch`` += 1."""
        xp, epoch = self.program.xp, st.epoch
        rng = Rng(xp, self.seed, 1 + epoch)
        order = xp.asarray(rng.permutation(train_x.shape[0]))
        shuffled = train_x[order]
        lr = learning_rate(self.sgd, epoch, self.spec.epochs)
        mom = momentum(self.sgd, epoch)
        size, n = self.spec.batch_size, shuffled.shape[0]
        for start in range(0, n, size):
            self.step(st, {layer: shuffled[start:start + size]}, rng, lr, mom)
            if on_batch is not None:
                on_batch(min(start + size, n), n)
        st.epoch += 1


def _rows(state: dict) -> int:
    return next(iter(state.values())).shape[0]
