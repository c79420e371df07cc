"""Up-down fine-tuning of a deep belief net: contrastive wake-sleep (Hinton, Osindero & Teh 2006,
appendix B), with untied recognition and generative weights and the labels in the top RBM.

For a minibatch of data (and labels):

    wake    h ~ q(h | v), bottom-up through the recognition couplings (samples);
            generative couplings move towards predicting each layer from the one above:
            ΔG_al ∝ s(x_a)ᵀ (x_l − E_p[x_l | x_a])                   (on the wake states)
    top     the top RBM, its interface and labels clamped to the wake states, takes a CD-k step
            (``phases``): Δθ_top ∝ ⟨−∂E/∂θ⟩₊ − ⟨−∂E/∂θ⟩_k
    sleep   from the top's negative state, one top-down generative pass (samples);
            recognition couplings move towards inferring each layer from the one below:
            ΔR_al ∝ s(x_a)ᵀ (x_l − E_q[x_l | x_a])                   (on the sleep states)

Both delta rules are exact gradients of log-probabilities of the sampled states
(``kernels.directed.directed_gradient``, checked against finite differences); the top's step is
the Boltzmann objective's. Cost per update: two passes through the stack plus k top sweeps.
"""
from __future__ import annotations

from ..compile import Program, restrict
from ..kernels.directed import directed_bias_key, directed_gradient, directed_pass
from .boltzmann import phase_difference, trainable_keys
from .phases import negative, phases_for, positive
from .state import ObjectiveState


class UpDownObjective:
    def __init__(self, program: Program, stage, clamp: tuple, seed: int):
        self.program = program
        generated = set(program.generated)
        self.top = restrict(program, [n for n in program.layers if n not in generated])
        sources = {c.a for c in program.directed if c.kind == "generative"}
        top_clamp = tuple(n for n in self.top.layers if n in sources or n in clamp)
        self.phases = phases_for(self.top, "cd", stage.k, top_clamp)
        directed = [k for c in program.directed if c.trainable
                    for k in (c.key, directed_bias_key(program, c.b, c.kind))]
        self.keys = tuple(dict.fromkeys([*trainable_keys(self.top), *directed]))

    def init_state(self, params: dict) -> ObjectiveState:
        return ObjectiveState()

    def why_not_captured(self) -> None:
        return None

    def gradient(self, params: dict, state: ObjectiveState, batch: dict, rng) -> tuple[dict, float]:
        program = self.program
        wake = directed_pass(program, params, batch, "recognition", rng)
        grads = self._owned(directed_gradient(program, params, wake, "generative"))
        top_data = {n: wake[n] for n in self.phases.clamp}
        pos, start = positive(self.top, params, top_data, self.phases, rng)
        neg, chains = negative(self.top, params, start, self.phases, rng, keep_samples=True)
        top_grads, scale = phase_difference(self.top, params, pos, neg, trainable_keys(self.top))
        rows = next(iter(batch.values())).shape[0]
        for key, g in top_grads.items():      # g·scale is the batch mean over T: as a batch sum, g/T
            g = g / program.temperature
            grads[key] = grads[key] + g if key in grads else g
        sleep = directed_pass(program, params, {n: chains[n] for n in self.top.layers}, "generative", rng)
        for key, g in self._owned(directed_gradient(program, params, sleep, "recognition")).items():
            grads[key] = grads[key] + g if key in grads else g
        return grads, 1.0 / rows

    def _owned(self, grads: dict) -> dict:
        """Only the parameters this objective trains (couplings declared `trainable: false` stay)."""
        return {k: g for k, g in grads.items() if k in self.keys}
