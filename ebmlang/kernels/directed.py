"""Directed couplings: feed-forward maps a → b, of the generative model p (a DBN's top-down
edges) or of the recognition model q (its bottom-up ones).

For a target layer l with the parents P of one kind (couplings a → l, W_al of shape (size_a, size_l)):

    u_l = Σ_{a∈P} s(x_a) W_al                                  (batch, size_l)
    p(x_l | x_P) = the unit type's conditional at bias + u_l, temperature T
    log p(x_l | x_P) = −(E_self(x_l; b) − s(x_l)·u_l)/T − A_l(u_l)

with b the layer's generative bias `bias.l`, or its recognition bias `recbias.l` in q; a
batch-normalised layer's u_l is normalised with its running statistics (``normalization``). A pass
visits the targets in topological order (``program.order[kind]``), parents first.
"""
from __future__ import annotations

from ..backend.matmul import batch_sum, matmul
from ..compile import Program
from ..compile.keys import recbias_key, sigma_key
from ..units import LayerParams
from .energy import apply_coupling, coupling_stats
from .normalization import normalize_running


def directed_bias_key(program: Program, name: str, kind: str) -> str:
    """The bias of layer ``name`` in the ``kind`` pass: `recbias.<name>` in q, its own in p."""
    return recbias_key(name) if kind == "recognition" else program.layers[name].bias_key


def directed_params(program: Program, params: dict, name: str, kind: str) -> LayerParams:
    return LayerParams(params[directed_bias_key(program, name, kind)], params.get(sigma_key(name)))


def directed_input(program: Program, params: dict, state: dict, name: str, kind: str):
    """u_l from the parents of ``name`` by couplings of ``kind``: (batch, size); for a
    batch-normalised layer, normalised with its running statistics."""
    edges = program.directed_into(name, kind)
    stats = coupling_stats(program, params, {c.a: state[c.a] for c in edges})
    total = None
    for c in edges:
        term = apply_coupling(c, params[c.key], stats[c.a], into_b=not c.transposed)
        total = term if total is None else total + term
    info = program.layers[name]
    if info.normalize is not None:
        total = normalize_running(program.xp, params, name, info.normalize.options, total)
    return total


def _directed_field(program: Program, params: dict, state: dict, name: str, kind: str):
    """(units, input from the parents, layer params) of a target of ``kind``."""
    return (program.layers[name].units, directed_input(program, params, state, name, kind),
            directed_params(program, params, name, kind))


def directed_conditional(program: Program, params: dict, state: dict, name: str, kind: str):
    """Parameters of p(x_name | its parents) (or q(x_name | parents) for recognition)."""
    units, u, p = _directed_field(program, params, state, name, kind)
    return units.conditional(u, p, program.temperature)


def directed_pass(program: Program, params: dict, state: dict, kind: str, rng=None, mean: bool = False) -> dict:
    """Fill every target of ``kind`` in order, from ``state``'s layers: draws (or means with
    ``mean``; ``rng`` unused then)."""
    out, t = dict(state), program.temperature
    for name in program.order.get(kind, ()):
        units, u, p = _directed_field(program, params, out, name, kind)
        out[name] = units.mean(units.conditional(u, p, t)) if mean else \
            units.conditional_sample(u, p, t, rng)[1]
    return out


def directed_log_prob(program: Program, params: dict, state: dict, kind: str, skip=()):
    """Σ over the targets of ``kind`` (but ``skip``) of log p(x_l | parents): (batch,)."""
    total = 0
    for name in (n for n in program.order.get(kind, ()) if n not in skip):
        units = program.layers[name].units
        p = directed_params(program, params, name, kind)
        u = directed_input(program, params, state, name, kind)
        total = total + units.log_prob(state[name], u, p, program.temperature)
    return total


def directed_gradient(program: Program, params: dict, state: dict, kind: str) -> dict:
    """∂/∂θ of Σ_rows Σ_l log p(x_l | parents) for every weight and bias of ``kind`` (batch sums):

        ∂/∂W_al = s(x_a)ᵀ (s(x_l) − E[s(x_l) | parents]) / T,   ∂/∂b_l = Σ (t(x_l) − E[t(x_l)]) / T

    with t the bias statistic (x; (x − μ)/σ² for gaussian units). The wake phase of up-down
    learning is this for the generative kind on recognition samples, the sleep phase for the
    recognition kind on generated ones (the delta rule of Hinton et al. 1995)."""
    grads = {}
    t = program.temperature
    for name in program.order.get(kind, ()):
        units = program.layers[name].units
        p = directed_params(program, params, name, kind)
        cond = units.conditional(directed_input(program, params, state, name, kind), p, t)
        delta_s = units.log_prob_grad(state[name], cond, p, t)          # ∂ log p / ∂u
        grads[directed_bias_key(program, name, kind)] = batch_sum(units.bias_grad(delta_s, p))
        for c in program.directed_into(name, kind):
            s_a = program.layers[c.a].units.coupling_stat(state[c.a], LayerParams(None, params.get(sigma_key(c.a))))
            g = matmul(delta_s.T, s_a) if c.transposed else matmul(s_a.T, delta_s)
            g = g if c.mask is None else g * c.mask
            grads[c.key] = grads[c.key] + g if c.key in grads else g
    return grads


__all__ = ["directed_bias_key", "directed_conditional", "directed_gradient", "directed_input", "directed_log_prob",
           "directed_params", "directed_pass"]
