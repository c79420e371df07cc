"""Directed couplings: feed-forward maps a → b, of the generative model p (a DBN's top-down
edges) or of the recognition model q (its bottom-up ones).

For a target layer l with the parents P of one kind (couplings a → l, W_al of shape (size_a, size_l)):

    u_l = Σ_{a∈P} s(x_a) W_al                                  (batch, size_l)
    p(x_l | x_P) = the unit type's conditional at bias + u_l, temperature T
    log p(x_l | x_P) = −(E_self(x_l; b) − s(x_l)·u_l)/T − A_l(u_l)

with b the layer's generative bias `bias.l`, or its recognition bias `recbias.l` in q. A pass
visits the targets in topological order (``program.order[kind]``), parents first.
"""
from __future__ import annotations

from ..compile import Program
from ..units import LayerParams
from .energy import apply_coupling, coupling_stats


def directed_params(program: Program, params: dict, name: str, kind: str) -> LayerParams:
    bias = params[f"recbias.{name}"] if kind == "recognition" else params[program.layers[name].bias_key]
    return LayerParams(bias, params.get(f"sigma.{name}"))


def directed_input(program: Program, params: dict, state: dict, name: str, kind: str):
    """u_l from the parents of ``name`` by couplings of ``kind``: (batch, size)."""
    edges = program.directed_into(name, kind)
    stats = coupling_stats(program, params, {c.a: state[c.a] for c in edges})
    total = None
    for c in edges:
        term = apply_coupling(c, params[c.key], stats[c.a])
        total = term if total is None else total + term
    return total


def directed_conditional(program: Program, params: dict, state: dict, name: str, kind: str):
    """Parameters of p(x_name | its parents) (or q(x_name | parents) for recognition)."""
    units = program.layers[name].units
    return units.conditional(directed_input(program, params, state, name, kind),
                             directed_params(program, params, name, kind), program.temperature)


def directed_pass(program: Program, params: dict, state: dict, kind: str, rng=None, mean: bool = False) -> dict:
    """Fill every target of ``kind`` in order, from ``state``'s layers: draws (or means with
    ``mean``; ``rng`` unused then)."""
    out = dict(state)
    for name in program.order.get(kind, ()):
        units = program.layers[name].units
        cond = directed_conditional(program, params, out, name, kind)
        out[name] = units.mean(cond) if mean else units.sample(cond, rng)
    return out


def directed_log_prob(program: Program, params: dict, state: dict, kind: str):
    """Σ over the targets of ``kind`` of log p(x_l | parents): (batch,)."""
    total = 0
    t = program.temperature
    for name in program.order.get(kind, ()):
        units = program.layers[name].units
        p = directed_params(program, params, name, kind)
        u = directed_input(program, params, state, name, kind)
        x = state[name]
        total = total + (-(units.self_energy(x, p)) + (units.coupling_stat(x, p) * u).sum(axis=-1)) / t \
            - units.log_partition(u, p, t)
    return total


__all__ = ["directed_conditional", "directed_input", "directed_log_prob", "directed_params", "directed_pass"]
