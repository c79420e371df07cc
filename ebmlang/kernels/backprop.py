"""Backpropagation over the directed couplings of a Program: the feed-forward nets of the
autoencoder family, of DBNs unrolled for fine-tuning, and of classifiers.

A net is a sequence of *passes*, each over the couplings of one kind in their topological order
(``program.order``): an encoder is the recognition pass, a decoder the generative pass that
follows it. Every target l of pass i computes, from the parents a of its couplings,

    u_l = Σ_a s(x_a) W_al      (W_alᵀ for a tied coupling, which shares W_la)     (batch, size_l)
    x_l = E[x_l | u_l]         the unit type's mean at field b_l + u_l: sigmoid (binary),
                               tanh (spin), identity (gaussian), softmax, max(0, ·) (rectified)

where a parent's x_a is its value in pass i if pass i computes it, else in the latest pass
before that does, else the net's given input. Biases are those of the pass's kind (`recbias.l`
in recognition, the layer's own in generative), as in ``directed``.

The backward pass takes ascent directions on the nodes — ∂J/∂u at loss nodes (for a data
log-likelihood, ``units.log_prob_grad``: (s(x) − E[s(x) | u]) / T) and ∂J/∂x at any node (a
penalty on activations) — and returns ∂J/∂θ for every weight and bias the net uses, summed over
the batch and keyed like the parameters:

    ∂J/∂u_l = f'(u_l)ᵀ ∂J/∂x_l  (+ the loss term)      ∂J/∂b_l = Σ_rows ∂J/∂u_l (gaussian: /σ)
    ∂J/∂W_al = s(x_a)ᵀ ∂J/∂u_l                           ∂J/∂x_a += ∂J/∂u_l W_alᵀ (through s)

With dropout, a node's value is x_l ⊙ m_l (m_l: 0 for a dropped unit, 1/(1 − p) for a kept one),
and ∂J/∂x_l is multiplied by m_l on the way back.

A *stochastic* layer z (``program.stochastic``: a gaussian layer with a recognition log-variance
head, a VAE's latents) also gets ℓ_z = lvbias_z + Σ_a s(x_a) V_az in the recognition pass, and
given standard normal noise ε (B, n) its value is the reparameterised draw (Kingma & Welling 2014)

    z = μ + e^{ℓ/2} ⊙ ε,   so   ∂J/∂μ = ∂J/∂z,   ∂J/∂ℓ = ∂J/∂z ⊙ ε ⊙ e^{ℓ/2} / 2  (+ direct terms)

(without noise, z = μ: the posterior mean). A layer declared with `normalize: batch` takes the
batch-normalised field γ ⊙ (u_l − m)/√(v + ε) in place of u_l (``normalization``): with the
batch's statistics when the forward pass is run with ``train=True`` (an objective's step), with
their running averages otherwise; its ∂J/∂u_l then passes back through that map.

All of it is checked against central finite
differences on random nets (tests/test_backprop.py), the noise held fixed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..backend.matmul import batch_sum, matmul
from ..compile import Program
from ..compile.keys import gain_key, lvbias_key, sigma_key
from ..units import LayerParams
from .directed import directed_bias_key, directed_params
from .normalization import normalize, normalize_backward, update_running


@dataclass(frozen=True)
class Net:
    """A feed-forward net over a Program: its ``passes``, the clamped layers it reads (``inputs``)
    and the nodes (pass index, layer) whose clamped data its loss compares against (``targets``)."""

    passes: tuple
    inputs: tuple
    targets: tuple

    @classmethod
    def over(cls, program: Program, passes: tuple, clamp: tuple) -> "Net":
        """The net of ``passes`` on data layers ``clamp``: a clamped layer that the first pass
        does not compute is an input; one that some pass computes is a target, at the last pass
        computing it (an autoencoder's data layer is both)."""
        last = {n: i for i, kind in enumerate(passes) for n in program.order.get(kind, ())}
        first = set(program.order.get(passes[0], ()))
        return cls(tuple(passes), tuple(n for n in clamp if n not in first),
                   tuple((last[n], n) for n in clamp if n in last))

    def run(self, program: Program, params: dict, data: dict, dropout: float = 0.0, rng=None,
            noise: dict | None = None, train: bool = False) -> "Tape":
        """The forward pass on ``data``; with ``dropout``, every hidden node (not a target) loses
        that fraction of its units, drawn from ``rng``; ``noise`` draws the stochastic layers;
        ``train`` normalises with batch statistics."""
        hidden = (lambda node: node not in self.targets) if dropout else None
        return forward(program, params, {n: data[n] for n in self.inputs}, self.passes, dropout, rng, hidden,
                       noise, train)

    def log_likelihood(self, program: Program, params: dict, tape: "Tape", data: dict):
        """Σ of log p(data | u) over the targets, per row: (B,)."""
        return log_likelihood(program, params, tape, {node: data[node[1]] for node in self.targets})

    def loss_grads(self, program: Program, params: dict, tape: "Tape", data: dict) -> dict:
        """∂/∂u of that sum at each target node, for :func:`backward`."""
        return log_likelihood_grads(program, params, tape, {node: data[node[1]] for node in self.targets})


@dataclass
class Tape:
    """What the backward pass needs: the passes, the given inputs, and per node (pass, layer)
    its input u, its conditional and its value E[x | u]."""

    passes: tuple
    given: dict
    inputs: dict = field(default_factory=dict)
    conds: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    masks: dict = field(default_factory=dict)      # dropout: node -> kept/(1 − p), 0 where dropped
    norms: dict = field(default_factory=dict)      # batch-normalised node -> Normalized
    logvar: dict = field(default_factory=dict)     # stochastic node -> ℓ, the log-variance of q
    noise: dict = field(default_factory=dict)      # stochastic node -> ε of its reparameterised draw

    def source(self, index: int, layer: str):
        """The node that supplies ``layer`` to pass ``index``: the latest pass ≤ index computing it,
        or None when it is a given input."""
        for j in range(index, -1, -1):
            if (j, layer) in self.values:
                return j, layer
        return None

    def value(self, index: int, layer: str):
        node = self.source(index, layer)
        return self.given[layer] if node is None else self.values[node]

    def output(self, layer: str):
        """``layer``'s value at the end of the net."""
        return self.value(len(self.passes) - 1, layer)


def _stat_params(program: Program, params: dict, layer: str) -> LayerParams:
    return LayerParams(None, params.get(sigma_key(layer)))


def forward(program: Program, params: dict, given: dict, passes: tuple, dropout: float = 0.0, rng=None,
            droppable=None, noise: dict | None = None, train: bool = False) -> Tape:
    """Run ``passes`` (kinds, e.g. ("recognition", "generative")) from ``given`` ({layer: (B, n)}).

    Dropout (Srivastava et al. 2014): each node for which ``droppable(node)`` holds has a random
    fraction ``dropout`` of its units set to 0 and the rest scaled by 1/(1 − dropout), so that the
    net without dropout (evaluation) sees the same expected input. ``noise`` ({layer: ε (B, n)})
    draws the stochastic layers of the recognition pass as μ + e^{ℓ/2} ε; without it they take μ.
    Batch-normalised layers use the batch's statistics with ``train``, the running ones without."""
    tape, t, noise = Tape(tuple(passes), dict(given)), program.temperature, noise or {}
    stochastic = set(program.stochastic)
    for index, kind in enumerate(passes):
        for name in program.order.get(kind, ()):
            u = directed_field(program, params, tape, index, program.directed_into(name, kind))
            info, node = program.layers[name], (index, name)
            if info.normalize is not None:
                u, tape.norms[node] = normalize(program.xp, params, name, info.normalize.options,
                                                u, train)
            units = info.units
            cond = units.conditional(u, directed_params(program, params, name, kind), t)
            tape.inputs[node], tape.conds[node] = u, cond
            value = units.mean(cond)
            if kind == "recognition" and name in stochastic:
                heads = program.directed_into(name, kind, "log_variance")     # one at least: it is stochastic
                lv = params[lvbias_key(name)] + directed_field(program, params, tape, index, heads)
                tape.logvar[node] = lv
                if name in noise:
                    tape.noise[node] = noise[name]
                    value = value + program.xp.exp(0.5 * lv) * noise[name]
            if dropout and droppable(node):
                kept = rng.uniform(value.shape, value.dtype) >= dropout
                tape.masks[node] = kept / value.dtype.type(1 - dropout)
                value = value * tape.masks[node]
            tape.values[node] = value
    return tape


def directed_field(program: Program, params: dict, tape: Tape, index: int, couplings: tuple):
    """Σ_a s(x_a) W_a· over ``couplings`` into one node of pass ``index``; None without any."""
    u = None
    for c in couplings:
        parent = program.layers[c.a].units
        s_a = parent.coupling_stat(tape.value(index, c.a), _stat_params(program, params, c.a))
        term = matmul(s_a, params[c.key].T if c.transposed else params[c.key])
        u = term if u is None else u + term
    return u


def backward(program: Program, params: dict, tape: Tape, grad_u: dict, grad_x: dict | None = None,
             grad_logvar: dict | None = None, wanted=None, inputs: dict | None = None) -> dict:
    """∂J/∂θ (batch sums, keyed like ``params``) from ascent directions ∂J/∂u (``grad_u``),
    ∂J/∂x (``grad_x``) and, at stochastic nodes, ∂J/∂ℓ (``grad_logvar``) on nodes (pass index,
    layer); see the module docstring. With ``wanted`` (keys), only those parameters' gradients
    are formed (a GAN's generator step needs the discriminator's ∂J/∂x, not its weights'); a dict
    ``inputs`` receives ∂J/∂x of the given layers, {layer: (B, n)}."""
    grad_x, grad_logvar = dict(grad_x or {}), dict(grad_logvar or {})
    grads = _Grads(wanted, inputs)
    t = program.temperature
    for index in reversed(range(len(tape.passes))):
        kind = tape.passes[index]
        for name in reversed(program.order.get(kind, ())):
            node = (index, name)
            units, p = program.layers[name].units, directed_params(program, params, name, kind)
            gu = grad_u.get(node)
            if node in grad_x:
                gx = grad_x.pop(node)
                gx = gx * tape.masks[node] if node in tape.masks else gx
                through = units.mean_backward(tape.conds[node], gx, p, t)
                gu = through if gu is None else gu + through
                if node in tape.noise:          # z = μ + e^{ℓ/2} ε
                    reparam = gx * tape.noise[node] * program.xp.exp(0.5 * tape.logvar[node]) * 0.5
                    grad_logvar[node] = grad_logvar[node] + reparam if node in grad_logvar else reparam
            if node in grad_logvar:
                g_lv = grad_logvar.pop(node)
                grads.add(lvbias_key(name), lambda: batch_sum(g_lv))
                for c in program.directed_into(name, kind, "log_variance"):
                    _into_parent(program, params, tape, index, c, g_lv, grads, grad_x)
            if gu is None:
                continue
            grads.add(directed_bias_key(program, name, kind),
                      lambda: batch_sum(units.bias_grad(gu, p)))
            if node in tape.norms:              # back through γ ⊙ x̂ to the raw field
                gu, gain_grad = normalize_backward(params, tape.norms[node], gu)
                grads.add(gain_key(name), lambda: gain_grad)
            for c in program.directed_into(name, kind):
                _into_parent(program, params, tape, index, c, gu, grads, grad_x)
    return grads.sums


def _into_parent(program, params, tape: Tape, index: int, c, gu, grads: "_Grads", grad_x: dict) -> None:
    """Weight gradient of coupling ``c`` → its target, and ∂J/∂x of its parent's node."""
    parent = program.layers[c.a].units
    sp = _stat_params(program, params, c.a)

    def weight_grad():
        s_a = parent.coupling_stat(tape.value(index, c.a), sp)
        g = matmul(gu.T, s_a) if c.transposed else matmul(s_a.T, gu)
        return g if c.mask is None else g * c.mask

    grads.add(c.key, weight_grad)
    node = tape.source(index, c.a)
    if node is None and grads.inputs is None:
        return
    w = params[c.key]
    gx = parent.stat_backward(matmul(gu, w if c.transposed else w.T), sp)
    into, name = (grads.inputs, c.a) if node is None else (grad_x, node)
    into[name] = into[name] + gx if name in into else gx


class _Grads:
    """Gradient sums by key; a term is computed (``make()``) only for wanted keys."""

    def __init__(self, wanted=None, inputs: dict | None = None):
        self.wanted = None if wanted is None else set(wanted)
        self.sums: dict = {}
        self.inputs = inputs            # ∂J/∂x of given layers, when asked for

    def add(self, key: str, make) -> None:
        if self.wanted is not None and key not in self.wanted:
            return
        g = make()
        self.sums[key] = self.sums[key] + g if key in self.sums else g


def gain_keys(program: Program, layers) -> list:
    """The gains γ of the batch-normalised layers among ``layers``: trained with the weights."""
    return [gain_key(n) for n in dict.fromkeys(layers) if program.layers[n].normalize is not None]


def update_running_statistics(program: Program, params: dict, tape: Tape) -> None:
    """After a training forward pass: the running averages of every batch-normalised node move
    towards its batch statistics (in place; ``normalization.update_running``)."""
    for norm in tape.norms.values():
        options = program.layers[norm.layer].normalize.options
        update_running(params, norm, options["momentum"], norm.centred.shape[0])


def log_likelihood(program: Program, params: dict, tape: Tape, targets: dict):
    """Σ over loss nodes of log p(data | u), per row (B,): ``targets`` maps node -> data (B, n)."""
    total = 0
    for (index, name), x in targets.items():
        units = program.layers[name].units
        p = directed_params(program, params, name, tape.passes[index])
        total = total + units.log_prob(x, tape.inputs[(index, name)], p, program.temperature)
    return total


def log_likelihood_grads(program: Program, params: dict, tape: Tape, targets: dict) -> dict:
    """The ascent directions ∂ log p(data | u)/∂u at each loss node (for :func:`backward`)."""
    grads = {}
    for (index, name), x in targets.items():
        units = program.layers[name].units
        p = directed_params(program, params, name, tape.passes[index])
        grads[(index, name)] = units.log_prob_grad(x, tape.conds[(index, name)], p, program.temperature)
    return grads


__all__ = ["Net", "Tape", "backward", "directed_field", "forward", "gain_keys", "log_likelihood",
           "log_likelihood_grads", "update_running_statistics"]
