"""Exact reparametrisations between models.

spin_to_binary: every spin layer s ∈ {−1,+1}ⁿ becomes a binary layer x = (s + 1)/2 with the
energy changed only by a constant, so the two models define the same distribution:

    −bᵀs                 → b' = 2b
    −s_aᵀ W s_b (spins)  → W' = 4W,   b'_a −= 2 W 1,   b'_b −= 2 Wᵀ 1
    −s_aᵀ W t_b (t_b the statistic of a non-spin layer)
                         → W' = 2W,   b'_b −= Wᵀ 1  (gaussian: μ'_b = μ_b − σ_b Wᵀ1)
    −½ sᵀ W s (lateral)  → W' = 4W,   b' −= 2 W 1
"""
from __future__ import annotations

import dataclasses

from ..backend import namespace_of
from ..kernels.stencil import neighbour_sum
from ..spec import Spec


def _binary_spec(spec: Spec) -> Spec:
    layers = {name: dataclasses.replace(l, units="binary") if l.units == "spin" else l
              for name, l in spec.model.layers.items()}
    return spec.replace(model=dataclasses.replace(spec.model, layers=layers))


def _shift_bias(params, kind, name, c):
    """Add the linear term +cᵀt(x) of layer ``name`` to its parameters."""
    if kind == "gaussian":
        params[f"bias.{name}"] = params[f"bias.{name}"] - params[f"sigma.{name}"] * c
    else:
        params[f"bias.{name}"] = params[f"bias.{name}"] - c


def _sums(c, w, n_a: int, axis: int):
    """W·1 (axis=1) or Wᵀ·1 (axis=0); for a stencil, J times each site's neighbour count."""
    if c.stencil is None:
        return w.sum(axis=axis)
    xp = namespace_of(w)
    return w * neighbour_sum(xp.ones((1, n_a), dtype=w.dtype), *c.stencil)[0]


def spin_to_binary(model):
    """The binary twin of ``model`` (a :class:`ebmlang.Model` with spin layers)."""
    from ..model import Model
    kinds = {n: info.units.name for n, info in model.layers.items()}
    params = {k: v.copy() for k, v in model.params.items()}
    for name, kind in kinds.items():
        if kind == "spin":
            params[f"bias.{name}"] = 2 * model.params[f"bias.{name}"]
    for c in model.program.couplings:
        w = model.params[c.key]
        n_a = model.layers[c.a].size
        rows, cols = _sums(c, w, n_a, 1), _sums(c, w, n_a, 0)
        spin_a, spin_b = kinds[c.a] == "spin", kinds[c.b] == "spin"
        if c.lateral and spin_a:
            params[c.key] = 4 * w
            params[f"bias.{c.a}"] = params[f"bias.{c.a}"] - 2 * rows
        elif spin_a and spin_b:
            params[c.key] = 4 * w
            params[f"bias.{c.a}"] = params[f"bias.{c.a}"] - 2 * rows
            params[f"bias.{c.b}"] = params[f"bias.{c.b}"] - 2 * cols
        elif spin_a or spin_b:
            params[c.key] = 2 * w
            other, c_other = (c.b, cols) if spin_a else (c.a, rows)
            _shift_bias(params, kinds[other], other, c_other)
    twin = Model.from_spec(_binary_spec(model.spec), backend=model.xp.__name__)
    twin.params = params
    return twin
