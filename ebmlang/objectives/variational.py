"""Rule `elbo`: the variational autoencoder (Kingma & Welling 2014; Rezende et al. 2014).

The recognition pass is the encoder q(z | x) = N(μ(x), diag e^{ℓ(x)}) into the stochastic layers
z (``program.stochastic``: gaussian layers with a log-variance head), the generative pass the
decoder p(x | z); z's prior is its own generative conditional with no parents, N(b_z, σ_z² T)
(bias `bias.z`, σ `sigma.z`: N(0, I) as initialised, and kept fixed since no pass computes z).
Per example the objective is the evidence lower bound

    L(x) = E_q[log p(x | z)] − KL(q(z | x) ‖ p(z))  ≤  log p(x)

with the expectation estimated by one reparameterised draw z = μ + e^{ℓ/2} ε, ε ~ N(0, I), and the
KL in closed form, per latent unit j (s² = σ_z² T, m = b_z):

    KL_j = log s − ℓ_j/2 + (e^{ℓ_j} + (μ_j − m_j)²) / (2 s²) − ½
    ∂(−KL)/∂μ_j = −(μ_j − m_j)/s²          ∂(−KL)/∂ℓ_j = ½ − e^{ℓ_j}/(2 s²)

The decoder's log-likelihood reaches z through the reparameterisation (``kernels.backprop``), so
one backward pass gives ∂L/∂θ for encoder and decoder together. Checked against central finite
differences of ``value`` with the noise held fixed (tests/test_variational.py).
"""
from __future__ import annotations

from ..backend import namespace_of
from ..compile import Program
from ..compile.keys import bias_key, lvbias_key, sigma_key
from ..kernels.backprop import Net, backward, gain_keys, update_running_statistics
from ..kernels.directed import directed_bias_key, directed_params
from .backprop import PASSES as NET_PASSES
from .state import ObjectiveState

PASSES = NET_PASSES["elbo"]


def prior(program: Program, params: dict, layer: str) -> tuple:
    """(mean, variance) of the stochastic ``layer``'s prior N(b, σ² T): (n,), (n,)."""
    sigma = params[sigma_key(layer)]
    return params[bias_key(layer)], sigma * sigma * program.temperature


def kl_divergence(mu, logvar, prior_mean, prior_var):
    """KL(N(μ, e^ℓ) ‖ N(m, s²)) summed over units: (B, n) -> (B,)."""
    xp = namespace_of(mu)
    return (0.5 * xp.log(prior_var) - 0.5 * logvar + (xp.exp(logvar) + (mu - prior_mean) ** 2) / (2 * prior_var)
            - 0.5).sum(axis=-1)


class ElboObjective:
    def __init__(self, program: Program, stage, clamp: tuple, seed: int):
        self.program = program
        self.net = Net.over(program, PASSES, tuple(clamp))
        self.latent = program.stochastic
        used = [c for c in program.directed if c.trainable]
        targets = [(kind, n) for kind in PASSES for n in program.order.get(kind, ())]
        biases = [directed_bias_key(program, n, kind) for kind, n in targets]
        self.keys = tuple(dict.fromkeys([c.key for c in used] + biases
                                        + [lvbias_key(z) for z in self.latent]
                                        + gain_keys(program, [n for _, n in targets])))

    def init_state(self, params: dict) -> ObjectiveState:
        return ObjectiveState()

    def why_not_captured(self) -> None:
        return None

    def noise(self, rows: int, rng) -> dict:
        """ε ~ N(0, I) for every stochastic layer: {layer: (rows, n)}."""
        dtype = self.program.dtype
        return {z: rng.normal((rows, self.program.layers[z].size), dtype) for z in self.latent}

    def gradient(self, params: dict, state: ObjectiveState, batch: dict, rng) -> tuple[dict, float]:
        rows = next(iter(batch.values())).shape[0]
        return self.gradient_with(params, batch, self.noise(rows, rng)), 1.0 / rows

    def gradient_with(self, params: dict, batch: dict, noise: dict) -> dict:
        """∂L/∂θ summed over the batch, for the given draws ``noise``."""
        program, t = self.program, self.program.temperature
        tape = self.net.run(program, params, batch, noise=noise, train=True)
        update_running_statistics(program, params, tape)
        grad_u = self.net.loss_grads(program, params, tape, batch)
        grad_logvar = {}
        for z in self.latent:
            node, units = (0, z), program.layers[z].units
            mu, lv = units.mean(tape.conds[node]), tape.logvar[node]
            mean, var = prior(program, params, z)
            g_mu = -(mu - mean) / var
            p = directed_params(program, params, z, "recognition")
            through = units.mean_backward(tape.conds[node], g_mu, p, t)
            grad_u[node] = grad_u[node] + through if node in grad_u else through
            grad_logvar[node] = 0.5 - program.xp.exp(lv) / (2 * var)
        grads = backward(program, params, tape, grad_u, grad_logvar=grad_logvar)
        return {k: g for k, g in grads.items() if k in self.keys}

    def value(self, params: dict, batch: dict, noise: dict) -> float:
        """Σ over the batch of log p(x | z) − KL(q ‖ p) at the draws ``noise``: what ``gradient``
        ascends."""
        return float(self.elbo(params, batch, noise, train=True).sum())

    def elbo(self, params: dict, batch: dict, noise: dict, train: bool = False):
        """The one-draw ELBO of each row: (B,); ``train`` normalises with batch statistics, as a
        training step does."""
        program = self.program
        tape = self.net.run(program, params, batch, noise=noise, train=train)
        total = self.net.log_likelihood(program, params, tape, batch)
        for z in self.latent:
            node = (0, z)
            mu = program.layers[z].units.mean(tape.conds[node])
            total = total - kl_divergence(mu, tape.logvar[node], *prior(program, params, z))
        return total


__all__ = ["ElboObjective", "PASSES", "kl_divergence", "prior"]
