"""The gradient of a net's output with respect to its input, and the parameter gradient of its
squared norm (double backpropagation), for nets of piecewise-linear units.

A GAN's R1 penalty (Mescheder et al. 2018) makes the discriminator flat on real data: with
ℓ = (b_o + u_o)/T the logit of its output unit (u_o its input field, T the temperature) and x a
given input (B, n),

    g = ∂ℓ/∂x              (B, n): the backward pass seeded with 1/T at u_o
    P = ½ Σ_rows ‖g‖²       and the discriminator ascends J_D − γ P.

When every unit between x and u_o is piecewise linear (rectified, leaky: f'' = 0 almost
everywhere) the masks f'(u_l) do not move under small changes of x or θ, so e_l = ∂ℓ/∂u_l does
not depend on x, and ∂P/∂θ = Σ_i g_i ∂²ℓ/∂θ∂x_i — the derivative of ∂ℓ/∂θ along g — keeps
only the part through the layers' values:

    ∂P/∂W_al = Σ_rows s(ḣ_a)ᵀ e_l          ∂P/∂b_l = 0

where ḣ is the tangent of the forward pass in the direction g: ḣ_x = g, u̇_l = Σ_a s(ḣ_a) W_al,
ḣ_l = f'(u_l) ⊙ u̇_l (times the dropout mask, as the value was). That is the weight gradient of
the ordinary backward pass, seeded with 1/T at u_o, run on a tape whose values are the tangents —
which is how it is computed here: no second-order code. Checked against central finite
differences (tests/test_adversarial.py).
"""
from __future__ import annotations

from ..compile import Program
from .backprop import Tape, backward, directed_field
from .directed import directed_params


def input_gradient(program: Program, params: dict, tape: Tape, output: tuple) -> dict:
    """{given layer: ∂ℓ/∂x (B, n)} for the logit ℓ of the output node ``output`` = (pass index,
    layer) of one unit; the dropout masks are those of ``tape``."""
    at: dict = {}
    backward(program, params, tape, _seed(program, tape, output), wanted=(), inputs=at)
    return at


def squared_input_gradient(program: Program, params: dict, tape: Tape, output: tuple,
                           weights: tuple) -> tuple:
    """(P per row (B,), {key: ∂P/∂W summed over rows} for the weight keys ``weights``) with
    P = ½ ‖∂ℓ/∂x‖² over all given layers; the biases have no gradient (module docstring)."""
    if tape.norms or tape.noise:
        raise ValueError("the input-gradient penalty needs a net without batch normalisation "
                         "or stochastic layers")
    g = input_gradient(program, params, tape, output)
    per_row = sum((v * v).sum(axis=1) for v in g.values()) * 0.5
    if not weights:                     # the value alone (a monitor's)
        return per_row, {}
    tangents = _tangent_tape(program, params, tape, g)
    seed = _seed(program, tape, output)
    return per_row, backward(program, params, tangents, seed, wanted=weights)


def _seed(program: Program, tape: Tape, output: tuple) -> dict:
    """∂ℓ/∂u_o = 1/T at the output node."""
    u = tape.inputs[output]
    return {output: program.xp.full(u.shape, 1.0 / program.temperature, dtype=u.dtype)}


def _tangent_tape(program: Program, params: dict, tape: Tape, direction: dict) -> Tape:
    """``tape``'s forward pass differentiated along ``direction`` ({given layer: (B, n)}): the
    same conditionals and masks, the tangents ḣ as values (module docstring)."""
    out = Tape(tape.passes, dict(direction), conds=tape.conds, masks=tape.masks)
    t = program.temperature
    for index, kind in enumerate(tape.passes):
        for name in program.order.get(kind, ()):
            node = (index, name)
            u_dot = directed_field(program, params, out, index, program.directed_into(name, kind))
            units, p = program.layers[name].units, directed_params(program, params, name, kind)
            value = units.mean_backward(tape.conds[node], u_dot, p, t)   # f' is diagonal: JVP = VJP
            out.inputs[node] = u_dot
            out.values[node] = value * tape.masks[node] if node in tape.masks else value
    return out


__all__ = ["input_gradient", "squared_input_gradient"]
