"""Rule `adversarial`: a generative adversarial network (Goodfellow et al. 2014).

The generator is the generative pass: latents z drawn from their prior (``eval.generative``) are
mapped to the data layer's conditional mean, G(z). The discriminator is the recognition pass from
its input layer to a layer of one binary unit, D(x) = q(d = 1 | x). Two parameter groups, each
ascending its own objective (per example, batch sums with scale 1/B):

    discriminator   J_D = s log D(x) + (1 − s) log(1 − D(x)) + log(1 − D(G(z)))
                                                              on real x and fresh fakes G(z)
    generator       J_G = log D(G(z))                         the non-saturating loss (ibid., §3)

with s = `real_label`, 1 unless one-sided label smoothing lowers it (Salimans et al. 2016: a
discriminator that may not be certain of real data sends the generator gentler gradients).
With `r1_penalty: γ` the discriminator ascends J_D − (γ/2) ‖∂ℓ(x)/∂x‖² on each real x, ℓ the
logit of D (the R1 penalty, Mescheder et al. 2018: a discriminator flat on the data has no
gradient to push the generator past it, so the game converges instead of circling); its
gradient is ``kernels.input_gradient``'s, exact for the rectified and leaky units it needs.
Both are data log-likelihoods of the discriminator's unit — target s for real, 0 for fake — so
their gradients are ``units.log_prob_grad`` at d sent back by ``kernels.backprop``: J_D through
the discriminator only (the fakes are fixed inputs), J_G through the discriminator to its input
(∂J/∂x of a given layer) and from there through the generator. Updates alternate: each minibatch
takes a discriminator step, and every ``discriminator_steps``-th one is followed by a generator
step on fresh latents, computed after the discriminator has moved (``updates`` yields one update
at a time). Dropout, when set, drops units of the discriminator's hidden layers.

Packing (PacGAN, Lin et al. 2018): with `pack: m` the discriminator judges m samples at once —
its input layer has m times the data layer's size and takes m consecutive rows side by side,
(B, n) → (B/m, m·n), all real or all fake — which lets it see a lack of diversity and so
penalises mode collapse. Checked against central finite differences of ``value_d`` and
``value_g`` (tests/test_adversarial.py).
"""
from __future__ import annotations

from ..backend import Rng
from ..compile import Program
from ..kernels.backprop import backward, forward, gain_keys, update_running_statistics
from ..kernels.directed import directed_bias_key, directed_params
from ..kernels.input_gradient import squared_input_gradient
from ..kernels.prior import latents, prior_draws
from .state import ObjectiveState


class AdversarialObjective:
    def __init__(self, program: Program, stage, clamp: tuple, seed: int):
        self.program, self.data = program, clamp[0]
        self.latent = latents(program, tuple(clamp))
        self.judge, self.input = critic_layer(program), critic_input(program)
        self.pack = program.layers[self.input].size // program.layers[self.data].size
        self.dropout, self.every = stage.dropout, stage.discriminator_steps
        self.real_label, self.r1 = stage.real_label, stage.r1_penalty
        self.penalised = tuple(c.key for c in program.directed
                               if c.kind == "recognition" and c.trainable)
        self.generator = _keys(program, "generative")
        self.discriminator = _keys(program, "recognition")
        self.keys = self.generator + self.discriminator

    def init_state(self, params: dict) -> ObjectiveState:
        return ObjectiveState(counters={"discriminator_steps": 0})

    def why_not_captured(self) -> None:
        return None

    def step_key(self, state: ObjectiveState) -> bool:
        """Whether the next step ends with the generator's turn (every ``discriminator_steps``-th
        minibatch): the host decides it, so each of the two kinds of step has its own graph."""
        return (state.counters["discriminator_steps"] + 1) % self.every == 0

    def replayed(self, state: ObjectiveState) -> None:
        """A replayed step's count: the discriminator took one step (and the generator one)."""
        state.counters["discriminator_steps"] += 1

    def updates(self, params: dict, state: ObjectiveState, batch: dict, rng: Rng):
        """Yields (grads, scale): a discriminator step, then, every ``discriminator_steps``-th
        call, a generator step computed from the parameters as the first left them."""
        real = self.trim(batch[self.data])
        rows = real.shape[0]
        if rows == 0:           # a last minibatch smaller than one pack
            return
        yield (self.discriminator_gradient(params, real, self.draw(params, rows, rng), rng,
                                           step=True),
               1.0 / rows)
        state.counters["discriminator_steps"] += 1
        if state.counters["discriminator_steps"] % self.every == 0:
            yield (self.generator_gradient(params, self.draw(params, rows, rng), rng, step=True),
                   1.0 / rows)

    def trim(self, x):
        """The rows of ``x`` that fill whole packs."""
        return x[: x.shape[0] - x.shape[0] % self.pack]

    def draw(self, params: dict, rows: int, rng: Rng) -> dict:
        """Latents from their prior: {latent: (rows, n)}."""
        return prior_draws(self.program, params, rows, rng, (self.data,))

    def generate(self, params: dict, z: dict, train: bool = False):
        """G(z): the data layer's conditional mean, (rows, n); ``train`` normalises with batch
        statistics (as a training step does), else with the running ones."""
        return self._generator_tape(params, z, train).output(self.data)

    def _generator_tape(self, params: dict, z: dict, train: bool, step: bool = False):
        tape = forward(self.program, params, z, ("generative",), train=train)
        if step:
            update_running_statistics(self.program, params, tape)
        return tape

    def _critic_tape(self, params: dict, x, rng: Rng | None, train: bool, step: bool = False):
        """The discriminator's tape on ``x`` (B, n), packed to (B/m, m·n); dropout on its hidden
        layers when it is set and ``rng`` is given; batch statistics with ``train``, moved into
        the running averages with ``step``."""
        packed = x.reshape(x.shape[0] // self.pack, -1)
        dropout = self.dropout if rng else 0.0
        tape = forward(self.program, params, {self.input: packed}, ("recognition",), dropout, rng,
                       lambda node: node[1] != self.judge, train=train)
        if step:
            update_running_statistics(self.program, params, tape)
        return tape

    def _verdict_grad(self, params: dict, tape, target: float) -> dict:
        """{output node: ∂ log q(d = target | u)/∂u}."""
        node, units = (0, self.judge), self.program.layers[self.judge].units
        cond = tape.conds[node]
        x = self.program.xp.full(units.mean(cond).shape, target, dtype=self.program.dtype)
        p = directed_params(self.program, params, self.judge, "recognition")
        return {node: units.log_prob_grad(x, cond, p, self.program.temperature)}

    def discriminator_gradient(self, params: dict, real, z: dict, rng: Rng | None = None,
                               step: bool = False) -> dict:
        """∂J_D/∂θ_D, batch sums; the fakes G(z) enter as fixed inputs. Batch-normalised layers
        see the real and the fake batch apart; with ``step`` (a training step, not a check) the
        discriminator's running averages move (the generator's move in its own steps)."""
        grads: dict = {}
        fake = self.generate(params, z, train=True)
        for x, target in ((real, self.real_label), (fake, 0.0)):
            tape = self._critic_tape(params, x, rng, True, step)
            verdict = self._verdict_grad(params, tape, target)
            _accumulate(grads, backward(self.program, params, tape, verdict, wanted=self.discriminator))
            if self.r1 and x is real:         # − γ ∂P/∂W on the real packs
                _accumulate(grads, self._penalty(params, tape, self.penalised)[1], -self.r1)
        return grads

    def _penalty(self, params: dict, tape, weights: tuple = ()):
        """(P summed over the packs of ``tape``, a 0-d array that a training step never reads,
        {key: ∂P/∂W} for ``weights``) with P = ½ ‖∂ℓ/∂x‖² per pack, ℓ the logit of D
        (``kernels.input_gradient``)."""
        output = (0, self.judge)
        per_row, grads = squared_input_gradient(self.program, params, tape, output, weights)
        return per_row.sum(), grads

    def generator_gradient(self, params: dict, z: dict, rng: Rng | None = None,
                           step: bool = False) -> dict:
        """∂J_G/∂θ_G, batch sums: ∂J_G/∂x at the discriminator's input, unpacked, then back
        through the generator."""
        made = self._generator_tape(params, z, True, step)
        fake = made.output(self.data)
        judged = self._critic_tape(params, fake, rng, True, step)
        at_input: dict = {}
        verdict = self._verdict_grad(params, judged, 1.0)
        backward(self.program, params, judged, verdict, wanted=(), inputs=at_input)
        node = made.source(0, self.data)
        return backward(self.program, params, made, {}, grad_x={node: at_input[self.input].reshape(fake.shape)},
                        wanted=self.generator)

    def value_d(self, params: dict, real, z: dict, rng: Rng | None = None,
                train: bool = True) -> float:
        """J_D summed over the batch, less γP with an R1 penalty: what ``discriminator_gradient``
        ascends, or with ``train`` False the same with running statistics (a monitor's view of
        the trained nets)."""
        fake = self.generate(params, z, train=train)
        real_tape = self._critic_tape(params, real, rng, train)
        penalty = self.r1 * float(self._penalty(params, real_tape)[0]) if self.r1 else 0.0
        real = self._log_verdict(params, real_tape, self.real_label)
        fake_tape = self._critic_tape(params, fake, rng, train)
        return real + self._log_verdict(params, fake_tape, 0.0) - penalty

    def value_g(self, params: dict, z: dict, rng: Rng | None = None, train: bool = True) -> float:
        """J_G summed over the batch (what ``generator_gradient`` ascends; ``train`` as in
        ``value_d``)."""
        fake = self.generate(params, z, train=train)
        return self._log_verdict(params, self._critic_tape(params, fake, rng, train), 1.0)

    def verdict(self, params: dict, x) -> float:
        """The mean of D over the packs of ``x``."""
        return float(self._critic_tape(params, self.trim(x), None, train=False)
                     .output(self.judge).mean())

    def _log_verdict(self, params: dict, tape, target: float) -> float:
        """Σ over the packs of a critic's ``tape`` of log q(d = target | pack)."""
        units, u = self.program.layers[self.judge].units, tape.inputs[(0, self.judge)]
        x = self.program.xp.full(u.shape, target, dtype=self.program.dtype)
        p = directed_params(self.program, params, self.judge, "recognition")
        return float(units.log_prob(x, u, p, self.program.temperature).sum())


def _accumulate(total: dict, part: dict, factor: float = 1.0) -> None:
    """total += factor · part, key by key (in place)."""
    for k, g in part.items():
        g = g if factor == 1.0 else factor * g
        total[k] = total[k] + g if k in total else g


def critic_layer(program: Program) -> str:
    """The discriminator's output: the recognition pass's layer that feeds no other."""
    feeding = {c.a for c in program.directed if c.kind == "recognition"}
    return next(n for n in reversed(program.order["recognition"]) if n not in feeding)


def critic_input(program: Program) -> str:
    """The discriminator's input: the layer its recognition couplings start from (the data layer,
    or with packing a layer of m times its size)."""
    computed = set(program.order["recognition"])
    return next(c.a for c in program.directed if c.kind == "recognition" and c.a not in computed)


def _keys(program: Program, kind: str) -> tuple:
    """The trainable weights, the biases and the gains of the ``kind`` pass."""
    weights = [c.key for c in program.directed if c.kind == kind and c.trainable]
    biases = [directed_bias_key(program, n, kind) for n in program.order.get(kind, ())]
    return tuple(dict.fromkeys(weights + biases + gain_keys(program, program.order.get(kind, ()))))


__all__ = ["AdversarialObjective", "critic_input", "critic_layer"]
