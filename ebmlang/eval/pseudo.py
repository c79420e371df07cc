"""Pseudo-log-likelihood of an RBM with binary or spin visible units (Besag 1975):

    PLL(v) = Σ_i log p(v_i | v_−i) = Σ_i log σ( (F(v^(i)) − F(v)) / T )

with v^(i) the vector v with unit i flipped and F the free energy (hidden layer summed out).
Flipping unit i changes the hidden input by (v^(i)_i − v_i) W_i, so each F(v^(i)) costs one
rank-1 update of the input instead of a GEMM: O(batch · H) per unit.
"""
from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from ..compile import Program
from ..units import LayerParams, softplus


def rbm_layers(program: Program, visible: str) -> tuple[str, str, object]:
    """(visible, hidden, coupling) of an RBM whose data layer is ``visible``, or ValueError
    saying why the program is not one."""
    if len(program.layers) != 2 or len(program.couplings) != 1 or program.couplings[0].lateral:
        raise ValueError("this needs an RBM: two layers joined by one coupling, no lateral couplings")
    if visible not in program.layers:
        raise ValueError(f"the RBM has no layer {visible!r}")
    c = program.couplings[0]
    hidden = c.b if c.a == visible else c.a
    units = program.layers[hidden].units
    if not units.discrete:
        raise ValueError(f"this needs a discrete hidden layer, but '{hidden}' is {units.name}")
    return visible, hidden, c


def pseudo_log_likelihood(program: Program, params: dict, v, visible: str) -> np.ndarray:
    """Exact PLL of each row of ``v`` (batch, n_visible), the data of layer ``visible``:
    (batch,)."""
    visible, hidden, c = rbm_layers(program, visible)
    vis_units = program.layers[visible].units
    if vis_units.name not in ("binary", "spin"):
        raise ValueError(f"the pseudo-likelihood needs binary or spin visible units, not {vis_units.name}")
    hid_units, t = program.layers[hidden].units, program.temperature
    w = params[c.key] if c.a == visible else params[c.key].T         # (n_v, n_h)
    b, hb = params[f"bias.{visible}"], LayerParams(params[f"bias.{hidden}"])
    u = v @ w
    free = -(v @ b) - t * hid_units.log_partition(u, hb, t)           # F(v)
    total = 0.0
    for i in range(v.shape[1]):
        # new value − old: 1 − 2v_i for binary units (0 ↔ 1), −2v_i for spins (±1 ↔ ∓1)
        delta = 1 - 2 * v[:, i] if vis_units.name == "binary" else -2 * v[:, i]
        flipped_u = u + delta[:, None] * w[i]
        flipped_free = free - delta * b[i] - t * (hid_units.log_partition(flipped_u, hb, t)
                                                  - hid_units.log_partition(u, hb, t))
        total = total - softplus(-(flipped_free - free) / t)          # log σ(x) = −softplus(−x)
    return to_numpy(total).astype(float)
