"""Backpropagation against central finite differences, on random feed-forward nets.

Nets are drawn as specs: a chain of layers of any unit type (rectified included) encoded by
recognition couplings, with random skip connections, decoded by generative couplings that are
tied to the encoder's weights or untied; or a classifier whose top layer is a softmax label.
Every objective built on the backprop kernel (reconstruction with its sparsity and denoising
options, dropout, batch normalisation, supervised) must have a gradient equal to the finite-difference slope of its
value (the noise held fixed), in float64, for every parameter it trains.
"""
from __future__ import annotations

import numpy as np
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ebmlang import compile_spec, parse_spec
from ebmlang.backend import Rng
from ebmlang.objectives import make_objective
from ebmlang.spec.constraints import Choice
from ebmlang.spec.types import SparsitySpec, TrainSpec

from runs import assert_matches_finite_differences

HIDDEN = ("binary", "spin", "gaussian", "rectified", "leaky", "softmax")
DATA = ("binary", "spin", "gaussian", "softmax")


def _layer(kind: str, size: int) -> dict:
    layer = {"size": size, "units": kind, "bias": {"normal": {"std": 0.5}}}
    if kind == "softmax":
        layer.update(size=2 * size, categories=2)
    if kind == "gaussian":
        layer["sigma"] = 0.8
    return layer


@st.composite
def nets(draw):
    """(spec dict, rule): an autoencoder (reconstruction) or a classifier (supervised), some of
    its layers batch-normalised."""
    rule = draw(st.sampled_from(["reconstruction", "supervised"]))
    depth = draw(st.integers(1, 3))
    kinds = [draw(st.sampled_from(DATA))] + [draw(st.sampled_from(HIDDEN)) for _ in range(depth)]
    if rule == "supervised":
        kinds[-1] = "softmax"
    layers = {f"l{i}": _layer(k, draw(st.integers(1, 3))) for i, k in enumerate(kinds)}
    if rule == "supervised":
        layers[f"l{depth}"].update(size=3, categories=3)
    names = list(layers)
    init = {"normal": {"std": 0.7}}
    couplings = [{"between": [a, b], "kind": "recognition", "init": init} for a, b in zip(names, names[1:])]
    for i in range(depth - 1):                               # skip connections upward
        if draw(st.booleans()):
            couplings.append({"between": [names[i], names[i + 2]], "kind": "recognition", "init": init})
    if rule == "reconstruction":
        for a, b in zip(names, names[1:]):
            tied = draw(st.booleans())
            couplings.append({"between": [b, a], "kind": "generative", **({"tied": True} if tied else {"init": init})})
    # batch normalisation where one pass computes the layer: an autoencoder's code and output,
    # any layer above a classifier's input
    for name in (names[1:] if rule == "supervised" else [names[0], names[-1]]):
        if draw(st.booleans()):
            layers[name]["normalize"] = {"batch": {"momentum": 0.3, "epsilon": 1e-3}}
    return {"name": "net", "dtype": "float64", "model": {"layers": layers, "couplings": couplings}}, rule


def _data(program, name: str, rows: int, gen: np.random.Generator) -> np.ndarray:
    layer = program.layers[name]
    kind = layer.units.name
    if kind == "binary":
        return gen.random((rows, layer.size))          # intensities in [0, 1], like MNIST's
    if kind == "spin":
        return gen.choice([-1.0, 1.0], (rows, layer.size))
    if kind == "gaussian":
        return gen.normal(size=(rows, layer.size))
    k = layer.units.k
    return np.eye(k)[gen.integers(0, k, (rows, layer.size // k))].reshape(rows, -1)


@settings(max_examples=200)
@given(nets(), st.booleans(), st.sampled_from([None, "mask", "gaussian"]), st.sampled_from([0.0, 0.4]),
       st.integers(0, 2 ** 16))
def test_gradient_matches_finite_differences(backend, net, sparse, corruption, dropout, seed):
    spec, rule = net
    model = compile_spec(parse_spec(yaml.safe_dump(spec), "net.yaml"), backend)
    program = model.program
    gen = np.random.default_rng(seed)
    # every parameter away from its initial value (recognition biases start at 0: a rectified
    # unit fed only by masked inputs would sit on its kink)
    params = {k: v if k.startswith(("sigma.", "run")) else v + model.xp.asarray(gen.normal(0, 0.3, v.shape))
              for k, v in model.params.items()}
    names = list(program.layers)
    clamp = (names[0],) if rule == "reconstruction" else (names[0], names[-1])
    hidden = [n for n in names[1:] if program.layers[n].units.name == "binary"]
    stage = TrainSpec(
        rule=rule, dropout=dropout,
        sparsity=SparsitySpec(target=0.2, cost=0.3, layer=hidden[0]) if sparse and hidden and rule == "reconstruction" else None,
        corruption={"mask": Choice("mask", {"fraction": 0.3}), "gaussian": Choice("gaussian", {"std": 0.4}),
                    None: None}[corruption] if rule == "reconstruction" else None)
    objective = make_objective(program, stage, clamp, seed)
    batch = {n: model.xp.asarray(_data(program, n, 5, gen)) for n in clamp}

    def value(p):
        return objective.value(p, batch, Rng(model.xp, seed, 7))

    grads, _ = objective.gradient(params, objective.init_state(params), batch, Rng(model.xp, seed, 7))
    assert set(grads) == set(objective.keys)
    assert_matches_finite_differences(value, params, grads, objective.keys, model.xp)


def test_tied_decoder_shares_the_encoder_weights():
    """One array serves both directions: no weight of the decoder's own."""
    spec = {"name": "tied", "model": {"layers": {"v": _layer("binary", 4), "h": _layer("binary", 3)},
                                      "couplings": [{"between": ["v", "h"], "kind": "recognition"},
                                                    {"between": ["h", "v"], "kind": "generative", "tied": True}]}}
    model = compile_spec(parse_spec(yaml.safe_dump(spec), "t.yaml"))
    assert set(model.params) == {"bias.v", "bias.h", "recbias.h", "weight.v.h"}
    decoder = [c for c in model.program.directed if c.kind == "generative"][0]
    assert decoder.key == "weight.v.h" and decoder.transposed
