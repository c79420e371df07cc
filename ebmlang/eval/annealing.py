"""The annealing path of AIS, for any compiled model: from a tractable base model A to the model B.

The intermediate models interpolate the parameters, θ_β = (biases (1 − β) b_A + β b_B, couplings
β W_B, the same σ), so p_0 = A (no couplings: independent units) and p_1 = B. A set S of mutually
uncoupled layers is summed out in closed form (an RBM's hidden layer; a DBM's v and h2, or other
layers of one colour), and the path lives on the remaining layers x:

    log f_β(x) = −[Σ_{l∉S} E_self,l(x_l; b_β) + β C(x)] / T + Σ_{l∈S} A_l(β u_l(x); b_β)

with C(x) the coupling energy among the kept layers and u_l the input layer l ∈ S receives at
β = 1 (so the GEMMs are done once per state, and each β costs only elementwise work). The
transition at β draws S exactly given x, then sweeps the model's block schedule over the kept
layers under θ_β. It leaves p_β(x) invariant; run with the blocks in reverse order it is the
time-reversal that reverse AIS needs. log Z_A = Σ_l A_l(0; b_A) over every layer, S included.

Base biases: the data layer's match its base rates (Salakhutdinov & Murray 2008), scaled by T so
that A's marginals equal them; all other layers are uniform (zero bias).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import to_numpy
from ..compile import Program, data_rate_bias
from ..kernels import block_update, coupling_stats, layer_input
from ..kernels.energy import coupling_energy
from ..units import LayerParams


@dataclass
class Terms:
    """What a state contributes at every β, computed once: inputs into S and C(x)."""

    inputs: dict            # l ∈ S -> (batch, size_l), at β = 1
    coupling: object        # C(x): (batch,), or 0 when the kept layers share no coupling


class AnnealingPath:
    def __init__(self, program: Program, params: dict, base_bias: dict, summed: tuple):
        self.program, self.params, self.t = program, params, program.temperature
        self.summed = tuple(summed)
        self.kept = tuple(n for n in program.layers if n not in self.summed)
        self.base_bias, self.sigma = base_bias, {n: params.get(f"sigma.{n}") for n in program.layers}
        self.blocks = tuple(b for b in (tuple(p for p in block if p.layer not in self.summed)
                                        for block in program.schedule) if b)

    @classmethod
    def for_model(cls, program: Program, params: dict, data_layer: str | None = None,
                  data_mean=None, keep_data: bool = True):
        """The path of ``program``; ``keep_data`` False lets the data layer be summed out too
        (forward AIS; reverse AIS starts from data, so it keeps it)."""
        return cls(program, params, base_biases(program, data_layer, data_mean),
                   summed_layers(program, data_layer, keep_data))

    # ------------------------------------------------------------------ the path
    def layer_params(self, name: str, beta: float) -> LayerParams:
        bias = (1 - beta) * self.base_bias[name] + beta * self.params[f"bias.{name}"]
        return LayerParams(bias, self.sigma[name])

    def params_at(self, beta: float) -> dict:
        """θ_β as a parameter dict the kernels accept."""
        out = {f"bias.{n}": self.layer_params(n, beta).bias for n in self.program.layers}
        out.update({f"sigma.{n}": s for n, s in self.sigma.items() if s is not None})
        out.update({c.key: beta * self.params[c.key] for c in self.program.couplings})
        return out

    def terms(self, state: dict) -> Terms:
        stats = coupling_stats(self.program, self.params, state)
        batch = next(iter(state.values())).shape[0]
        inputs = {n: layer_input(self.program, self.params, stats, n, batch) for n in self.summed}
        return Terms(inputs, coupling_energy(self.program, self.params, stats, skip=frozenset(self.summed)))

    def log_f(self, state: dict, beta: float, terms: Terms):
        """log f_β(x), the unnormalised path density: (batch,)."""
        layers = self.program.layers
        energy = beta * terms.coupling
        for n in self.kept:
            energy = energy + layers[n].units.self_energy(state[n], self.layer_params(n, beta))
        total = -energy / self.t
        for n in self.summed:
            total = total + layers[n].units.log_partition(beta * terms.inputs[n], self.layer_params(n, beta), self.t)
        return total

    def transition(self, state: dict, beta: float, rng, terms: Terms, reverse: bool = False) -> dict:
        """Draw S | x under p_β, then one sweep of the kept layers' blocks (reversed: backwards)."""
        full = dict(state)
        for n in self.summed:
            units = self.program.layers[n].units
            full[n] = units.conditional_sample(beta * terms.inputs[n], self.layer_params(n, beta),
                                               self.t, rng)[1]
        theta = self.params_at(beta)
        for block in (reversed(self.blocks) if reverse else self.blocks):
            full = block_update(self.program, theta, full, block, rng)
        return {n: full[n] for n in self.kept}

    # ------------------------------------------------------------------ the base model A
    def log_z_base(self) -> float:
        total = 0.0
        for name, info in self.program.layers.items():
            zero = self.program.xp.zeros((1, info.size), dtype=self.program.dtype)
            total += float(to_numpy(info.units.log_partition(zero, self.layer_params(name, 0.0), self.t))[0])
        return total

    def sample_base(self, runs: int, rng) -> dict:
        out = {}
        for n in self.kept:
            info = self.program.layers[n]
            zero = self.program.xp.zeros((runs, info.size), dtype=self.program.dtype)
            out[n] = info.units.conditional_sample(zero, self.layer_params(n, 0.0), self.t, rng)[1]
        return out


def summed_layers(program: Program, data_layer: str | None, keep_data: bool = True) -> tuple:
    """S: the latent layers when they are mutually uncoupled (an RBM family: the path then lives on
    the data alone), else the largest layers that stay so, greedily: latent ones only while
    ``keep_data``, else the data layer may be among them (a DBM's v and h2, so that the path
    lives on h1 alone, as in Salakhutdinov & Hinton 2009: the fewer layers the chains carry, the
    less the importance weights spread)."""
    latent = [n for n in program.layers if n != data_layer]
    chosen = program.summable_set(latent)
    if len(chosen) < len(latent) and not keep_data:
        chosen = program.summable_set(list(program.layers))
    if len(chosen) == len(program.layers):          # nothing left to carry the path
        smallest = min(reversed(chosen), key=lambda n: program.layers[n].size)
        chosen = tuple(n for n in chosen if n != smallest)
    return chosen


def base_biases(program: Program, data_layer: str | None, data_mean) -> dict:
    """A's biases: base rates on the data layer (times T, for discrete units), zero elsewhere."""
    xp, out = program.xp, {}
    for name, info in program.layers.items():
        bias = np.zeros(info.size)
        if name == data_layer and data_mean is not None:
            bias = data_rate_bias(info.units, np.asarray(data_mean, dtype=float))
            bias = bias * program.temperature if info.units.discrete else bias
        out[name] = xp.asarray(bias, dtype=program.dtype)
    return out
