"""Objectives learned by backpropagation through the directed couplings (``kernels.backprop``).

    reconstruction  an autoencoder: the recognition pass encodes the clamped data layer, the
                    generative pass decodes it, and J = Σ_rows log p(x | decoder field): for binary
                    units the negative cross-entropy, for gaussian ones −‖x − x̂‖²/2σ² + const.
    supervised      a classifier (or regressor): the recognition pass from the inputs, and
                    J = Σ_rows log q(y | x) on the clamped layers it computes (softmax
                    cross-entropy for one-hot labels).

Three regularisers:

* **denoising** (Vincent et al. 2008): the input is corrupted — a random fraction of its units
  set to 0 (`mask`), or gaussian noise added (`gaussian`) — while the target stays clean (for a
  classifier: input noise, which keeps it from leaning on single pixels);
* **dropout** (Srivastava et al. 2014): every hidden layer of the net loses a random fraction
  of its units in each forward pass, the rest scaled up to keep its expected value;
* **sparsity** (a KL penalty towards a target activation ρ): J −= cost · B · Σ_j KL(ρ ‖ ρ̂_j),
  with ρ̂_j the batch mean of unit j's activation in the sparse layer, so per row and unit
  ∂J/∂x_j = −cost · (−ρ/ρ̂_j + (1 − ρ)/(1 − ρ̂_j)).

Gradients are batch sums with scale 1/B, like every objective's; the optimizer does the rest.
The forward pass of a step normalises batch-normalised layers with the batch's statistics, and
the step moves their running averages.
"""
from __future__ import annotations

from ..compile import Program
from ..kernels.backprop import Net, backward, gain_keys, update_running_statistics
from ..kernels.directed import directed_bias_key, directed_params
from .state import ObjectiveState

PASSES = {"reconstruction": ("recognition", "generative"), "supervised": ("recognition",),
          "elbo": ("recognition", "generative"), "adversarial": ("generative", "recognition")}


class BackpropObjective:
    def __init__(self, program: Program, stage, clamp: tuple, seed: int):
        self.program = program
        self.net = Net.over(program, PASSES[stage.rule], tuple(clamp))
        self.corruption = stage.corruption
        self.dropout = stage.dropout
        self.sparsity = stage.sparsity
        kinds = set(self.net.passes)
        used = [c for c in program.directed if c.kind in kinds]
        targets = [(kind, n) for kind in self.net.passes for n in program.order.get(kind, ())]
        biases = [directed_bias_key(program, n, kind) for kind, n in targets]
        self.keys = tuple(dict.fromkeys([c.key for c in used if c.trainable] + biases
                                        + gain_keys(program, [n for _, n in targets])))
        if self.sparsity is not None:
            hidden = [n for n in program.order.get("recognition", ()) if n not in clamp]
            self.sparse_node = (0, self.sparsity.layer or hidden[0])

    def init_state(self, params: dict) -> ObjectiveState:
        return ObjectiveState()

    def why_not_captured(self) -> None:
        return None

    def gradient(self, params: dict, state: ObjectiveState, batch: dict, rng) -> tuple[dict, float]:
        tape = self._forward(params, batch, rng)
        update_running_statistics(self.program, params, tape)
        grad_u = self.net.loss_grads(self.program, params, tape, batch)
        if self.sparsity is not None:
            node, penalty = self.sparse_node, self._sparsity_grad(params, tape)
            grad_u[node] = grad_u[node] + penalty if node in grad_u else penalty
        grads = backward(self.program, params, tape, grad_u)
        rows = next(iter(batch.values())).shape[0]
        return {k: g for k, g in grads.items() if k in self.keys}, 1.0 / rows

    def value(self, params: dict, batch: dict, rng) -> float:
        """J on ``batch`` (with the corruption ``rng`` draws): what ``gradient`` ascends."""
        tape = self._forward(params, batch, rng)
        total = float(self.net.log_likelihood(self.program, params, tape, batch).sum())
        if self.sparsity is not None:
            x, xp = self._activity(tape), self.program.xp
            rho, rho_hat = self.sparsity.target, xp.clip(x.mean(axis=0), 1e-6, 1 - 1e-6)
            kl = rho * xp.log(rho / rho_hat) + (1 - rho) * xp.log((1 - rho) / (1 - rho_hat))
            total -= self.sparsity.cost * x.shape[0] * float(kl.sum())
        return total

    def _forward(self, params: dict, batch: dict, rng):
        given = {n: batch[n] for n in self.net.inputs}
        if self.corruption is not None:
            given = {n: corrupt(x, self.corruption, rng) for n, x in given.items()}
        return self.net.run(self.program, params, given, self.dropout, rng, train=True)

    def _activity(self, tape):
        """The sparse layer's activations E[x | u], before any dropout: (B, n)."""
        name = self.sparse_node[1]
        return self.program.layers[name].units.mean(tape.conds[self.sparse_node])

    def _sparsity_grad(self, params: dict, tape):
        """∂J/∂u of the KL penalty on the sparse layer (see the module docstring): the penalty's
        ∂J/∂x through the activation; zero where ρ̂ is clipped away from 0 and 1, as J is flat there."""
        x, xp = self._activity(tape), self.program.xp
        rho, eps = self.sparsity.target, 1e-6
        mean = x.mean(axis=0)
        rho_hat = xp.clip(mean, eps, 1 - eps)
        # B · ∂KL/∂ρ̂ · ∂ρ̂/∂x per row: ∂ρ̂/∂x = 1/B
        per_unit = -self.sparsity.cost * (-rho / rho_hat + (1 - rho) / (1 - rho_hat))
        per_unit = per_unit * ((mean > eps) & (mean < 1 - eps))
        gx = xp.broadcast_to(per_unit.astype(x.dtype), x.shape)
        index, name = self.sparse_node
        p = directed_params(self.program, params, name, self.net.passes[index])
        return self.program.layers[name].units.mean_backward(tape.conds[self.sparse_node], gx, p,
                                                             self.program.temperature)


def corrupt(x, corruption, rng):
    """A denoising autoencoder's input: `mask` zeroes each unit with probability `fraction`;
    `gaussian` adds N(0, std²) noise."""
    if corruption.kind == "mask":
        keep = rng.uniform(x.shape, x.dtype) >= corruption.options["fraction"]
        return x * keep
    return x + corruption.options["std"] * rng.normal(x.shape, x.dtype)


__all__ = ["BackpropObjective", "PASSES", "corrupt"]
