"""Energy, layer inputs and free energy: pure functions of (program, params, state).

``state`` maps layer name -> array (batch, size). With s_l = s(x_l) the coupling statistic of
layer l (x, or x/σ for gaussian units):

    E(x) = Σ_l E_self,l(x_l) − Σ_{a≠b} s_aᵀ W_ab s_b − Σ_lateral ½ s_lᵀ W_ll s_l

    input to layer l:  u_l = Σ_{(l,b)} s_b W_lbᵀ + Σ_{(a,l)} s_a W_al + s_l W_ll     (batch, size_l)

    F(x_rest) = −T log Σ_{x_S} exp(−E/T)
              = E(x_rest, with S's terms dropped) − T Σ_{l∈S} A_l(u_l)

for a set S of layers with no coupling within or among them (an RBM's hidden layer).
"""
from __future__ import annotations

from ..backend.matmul import matmul
from ..compile import Program
from ..units import LayerParams
from .stencil import neighbour_sum


def layer_params(program: Program, params: dict, name: str) -> LayerParams:
    return LayerParams(params[program.layers[name].bias_key], params.get(f"sigma.{name}"))


def coupling_stats(program: Program, params: dict, state: dict) -> dict:
    """s(x_l) for every layer present in ``state``."""
    return {name: program.layers[name].units.coupling_stat(x, layer_params(program, params, name))
            for name, x in state.items()}


def apply_coupling(c, w, x, into_b: bool = True):
    """x W (x from side a, result on side b) or x Wᵀ (``into_b=False``); stencils use J·Σ_nbrs."""
    if c.stencil is not None:
        return w * neighbour_sum(x, *c.stencil)
    return matmul(x, w if into_b else w.T)


def layer_input(program: Program, params: dict, stats: dict, name: str, batch: int | None = None):
    """u_l from the coupling statistics ``stats`` of the other layers: (batch, size_l).

    ``batch`` sizes the zero input of a layer with no couplings (default: taken from ``stats``)."""
    total = None
    for c, is_a in program.incident[name]:
        w = params[c.key]
        if c.lateral:
            term = apply_coupling(c, w, stats[name])
        elif is_a:
            term = apply_coupling(c, w, stats[c.b], into_b=False)
        else:
            term = apply_coupling(c, w, stats[c.a])
        total = term if total is None else total + term
    if total is None:
        batch = batch if batch is not None else next(iter(stats.values())).shape[0]
        total = program.xp.zeros((batch, program.layers[name].size), dtype=program.dtype)
    return total


def coupling_energy(program: Program, params: dict, stats: dict, skip=frozenset()):
    """−Σ s_aᵀ W s_b over the couplings not touching ``skip`` (½ for lateral ones): (batch,) or 0."""
    total = 0
    for c in program.couplings:
        if c.a in skip or c.b in skip:
            continue
        pair = (apply_coupling(c, params[c.key], stats[c.a]) * stats[c.b]).sum(axis=1)
        total = total - (pair / 2 if c.lateral else pair)
    return total


def energy(program: Program, params: dict, state: dict):
    """E(x) for a full state: (batch,)."""
    stats = coupling_stats(program, params, state)
    total = coupling_energy(program, params, stats)
    for name, info in program.layers.items():
        total = total + info.units.self_energy(state[name], layer_params(program, params, name))
    return total


def free_energy(program: Program, params: dict, state: dict, sum_out=None, temperature: float | None = None):
    """F of the layers in ``state`` with ``sum_out`` (default: all others) summed out: (batch,)."""
    t = program.temperature if temperature is None else temperature
    sum_out = tuple(n for n in program.layers if n not in state) if sum_out is None else tuple(sum_out)
    if not program.summable(sum_out):
        raise ValueError(f"layers {sum_out} are coupled to each other and cannot be summed out in closed form")
    kept = {n: state[n] for n in program.layers if n not in sum_out}
    stats = coupling_stats(program, params, kept)
    total = coupling_energy(program, params, stats, skip=frozenset(sum_out))
    for name in kept:
        total = total + program.layers[name].units.self_energy(kept[name], layer_params(program, params, name))
    for name in sum_out:
        u = layer_input(program, params, stats, name, _batch(state))
        total = total - t * program.layers[name].units.log_partition(u, layer_params(program, params, name), t)
    return total


def _batch(state: dict) -> int:
    return next(iter(state.values())).shape[0] if state else 1
