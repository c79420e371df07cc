"""Views of a Program that one training stage trains: a sub-program of some layers.

``restrict(program, layers)`` keeps those layers and the undirected couplings among them, with a
block schedule of its own; parameters keep their keys, so a stage trains the whole model's
parameters in place. Two things make greedy training of a stack fit this one mechanism:

* **Field gains.** A layer's field (bias + input) is multiplied by a gain in the stage's
  conditionals: 2 for a layer that will receive input from both sides once the RBMs are joined
  into a DBM (Salakhutdinov & Hinton 2009), i.e. p(h1 | v) = σ(2(vW + b)).
* **RBM views of directed pairs.** A generative coupling a → b (a DBN's top-down edge, W of shape
  (size_a, size_b)) inside the stage is trained as the undirected RBM coupling of (a, b) with the
  same W, which is what greedy layer-wise training does (Hinton, Osindero & Teh 2006). If a
  recognition coupling b → a runs back up, the RBM's bias of a is a's recognition bias
  `recbias.a` (the RBM's hidden bias is the bottom-up one; its visible bias, b's own, is the
  generative one), and the recognition weights are its ``mirror``: kept equal to Wᵀ while the
  stage trains, so the stack ends with tied weights, the start of up-down fine-tuning. A
  generative coupling tied to its recognition twin (``transposed``: one array) is viewed as the
  coupling (b, a) of that array. A recognition coupling a → b with no generative twin (a
  feed-forward classifier's layer) is viewed as the RBM (a, b), b hidden with bias `recbias.b`:
  pretraining a net bottom-up, whose up-pass is the recognition pass.
"""
from __future__ import annotations

import dataclasses

from .keys import recbias_key
from .program import CouplingInfo, Program, assemble


def restrict(program: Program, names, field_gain: dict | None = None) -> Program:
    """The sub-program of layers ``names`` (see the module docstring)."""
    names = set(names)
    gains = field_gain or {}
    inside = [c for c in program.directed if c.a in names and c.b in names and c.head == "mean"]
    down = {(c.a, c.b) for c in inside if c.kind == "generative"}
    up = {(c.a, c.b): c for c in inside if c.kind == "recognition"}
    views = [_rbm_view(c, up.get((c.b, c.a))) for c in inside
             if c.kind == "generative" or (c.b, c.a) not in down]
    # the RBM's hidden layer reads its bottom-up bias when a recognition pass infers it
    recognised = {c.a for c in inside if c.kind == "generative" and (c.b, c.a) in up} | \
                 {c.b for c in inside if c.kind == "recognition" and (c.b, c.a) not in down}
    layers = {n: dataclasses.replace(info, gain=float(gains.get(n, 1.0)),
                                     bias_key=recbias_key(n) if n in recognised else info.bias_key)
              for n, info in program.layers.items() if n in names}
    couplings = tuple(c for c in program.couplings if c.a in names and c.b in names) + tuple(views)
    return assemble(program.name, program.xp, program.dtype, program.temperature, layers, couplings)


def _rbm_view(c: CouplingInfo, back: CouplingInfo | None) -> CouplingInfo:
    """The undirected coupling that trains the directed ``c`` as an RBM (see the module docstring);
    ``back`` is a generative coupling's recognition twin, if any."""
    if c.transposed:
        return dataclasses.replace(c, a=c.b, b=c.a, kind="undirected", transposed=False)
    mirror = back.key if back is not None and back.key != c.key else None
    return dataclasses.replace(c, kind="undirected", mirror=mirror)


def tie_mirrors(program: Program, params: dict) -> None:
    """Set every RBM view's recognition twin to Wᵀ (in place)."""
    for c in program.couplings:
        if c.mirror is not None:
            params[c.mirror][...] = params[c.key].T


__all__ = ["restrict", "tie_mirrors"]
