"""Hypothesis strategies: random small specs of mixed unit types and connectivity.

Layer kinds and connectivity options come from the spec language's own tables
(``ebmlang.spec.schema``), so a new unit type or builder is exercised without editing this file.
"""
from __future__ import annotations

import numpy as np
import yaml
from hypothesis import assume
from hypothesis import strategies as st

from ebmlang import compile_spec, parse_spec
from ebmlang.spec.schema import ENERGY_UNIT_TYPES as UNIT_TYPES, WITHIN_CONNECTIVITY

DISCRETE = tuple(u for u in UNIT_TYPES if u != "gaussian")

@st.composite
def layers_strategy(draw, kinds, max_layers=3):
    layers = {}
    for i in range(draw(st.integers(1, max_layers))):
        kind = draw(st.sampled_from(kinds))
        if kind == "softmax":
            k = draw(st.integers(2, 3))
            layers[f"l{i}"] = {"size": k * draw(st.integers(1, 2)), "units": kind, "categories": k}
        elif kind == "gaussian":
            layers[f"l{i}"] = {"size": draw(st.integers(1, 2)), "units": kind,
                               "sigma": draw(st.sampled_from([0.5, 1.0, 1.7]))}
        else:
            layers[f"l{i}"] = {"size": draw(st.integers(1, 4)), "units": kind}
        layers[f"l{i}"]["bias"] = {"normal": {"std": 0.8}}
    return layers

def _lateral_connectivity(draw, size):
    kind = draw(st.sampled_from(WITHIN_CONNECTIVITY))
    if kind == "complete":
        return "complete"
    if kind == "lattice":
        return {"lattice": {"dims": [size], "periodic": draw(st.booleans())}}
    if kind == "random":
        return {"random": {"p": 0.6, "seed": draw(st.integers(0, 99))}}
    if kind == "random_regular":
        return {"random_regular": {"degree": 1 if size % 2 == 0 else 2, "seed": 0}} if size >= 3 else "complete"
    pairs = [(i, j) for i in range(size) for j in range(i + 1, size)]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=len(pairs), unique=True))
    return {"edges": {"list": [list(p) for p in chosen]}}

def _lattice_dims(size: int):
    """Every way of writing ``size`` as a 1-D or 2-D lattice."""
    shapes = [[size]] + [[r, size // r] for r in range(2, size) if size % r == 0]
    return st.sampled_from(shapes)


@st.composite
def spec_dicts(draw, kinds=UNIT_TYPES, max_states=512, lateral=True):
    layers = draw(layers_strategy(kinds))
    names = list(layers)
    couplings = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if {layers[a]["units"], layers[b]["units"]} == {"gaussian"} or not draw(st.booleans()):
                continue
            conn = draw(st.sampled_from(["dense", {"random": {"p": 0.7, "seed": 1}}]))
            couplings.append({"between": [a, b], "connectivity": conn, "init": {"normal": {"std": 1.0}}})
        if lateral and layers[a]["units"] in ("binary", "spin") and layers[a]["size"] >= 2 and draw(st.booleans()):
            conn = _lateral_connectivity(draw, layers[a]["size"])
            coupling = {"between": [a, a], "connectivity": conn, "init": {"normal": {"std": 1.0}}}
            if isinstance(conn, dict) and "lattice" in conn and draw(st.booleans()):   # lowered to a stencil
                coupling.update(init={"constant": {"value": draw(st.sampled_from([-0.7, 0.4, 1.1]))}},
                                trainable=False)
                conn["lattice"]["dims"] = draw(_lattice_dims(layers[a]["size"]))
            couplings.append(coupling)
    assume(discrete_states(layers) <= max_states)
    return {"name": "prop", "seed": draw(st.integers(0, 2**16)), "dtype": "float64",
            "model": {"layers": layers, "couplings": couplings,
                      "temperature": draw(st.sampled_from([1.0, 0.5, 1.9]))},
            "evaluate": {"samples": False, "filters": False}}

def discrete_states(layers: dict) -> int:
    count = 1
    for layer in layers.values():
        if layer["units"] in ("binary", "spin"):
            count *= 2 ** layer["size"]
        elif layer["units"] == "softmax":
            count *= layer["categories"] ** (layer["size"] // layer["categories"])
    return count

def compile_dict(spec: dict, backend: str = "numpy"):
    """The full pipeline from YAML text, as a user would go."""
    return compile_spec(parse_spec(yaml.safe_dump(spec), "prop.yaml"), backend)

def host_params(model) -> dict:
    return model.parameters()

def dense_params(model) -> dict:
    """NumPy parameters with every stencil's scalar J expanded to J × lattice adjacency (the oracle
    knows only matrices)."""
    return densify(model.program, model.parameters())


def densify(program, params: dict) -> dict:
    """``params`` on the host, stencil scalars expanded to matrices."""
    from ebmlang.backend import to_numpy
    from ebmlang.graph.builders import lateral_mask, lattice
    params = {k: to_numpy(v) for k, v in params.items()}
    for c in program.couplings:
        if c.stencil is not None:
            n = program.layers[c.a].size
            params[c.key] = float(params[c.key]) * lateral_mask(lattice(*c.stencil), n).astype(float)
    return params


def random_states(spec: dict, count: int, gen: np.random.Generator) -> dict:
    """Random full states of every layer (gaussian values are standard normal)."""
    out = {}
    for name, layer in spec["model"]["layers"].items():
        n = layer["size"]
        if layer["units"] == "binary":
            out[name] = gen.integers(0, 2, (count, n)).astype(float)
        elif layer["units"] == "spin":
            out[name] = 2.0 * gen.integers(0, 2, (count, n)) - 1
        elif layer["units"] == "softmax":
            k = layer["categories"]
            out[name] = np.eye(k)[gen.integers(0, k, (count, n // k))].reshape(count, n)
        else:
            out[name] = gen.standard_normal((count, n)) * 1.5
    return out

__all__ = ["DISCRETE", "compile_dict", "dense_params", "discrete_states", "random_states", "spec_dicts"]


@st.composite
def dbm_dicts(draw):
    """A chain l0 – l1 – l2 of discrete layers (data, then two latent layers that do not sum out
    together), optionally with a lateral coupling in l1."""
    spec = draw(spec_dicts(kinds=DISCRETE, max_states=10**9, lateral=False))
    layers = {}
    for i in range(3):
        kind = draw(st.sampled_from(DISCRETE))
        size = draw(st.integers(1, 3))
        layers[f"l{i}"] = ({"size": 2 * size, "units": kind, "categories": 2} if kind == "softmax"
                           else {"size": size, "units": kind})
        layers[f"l{i}"]["bias"] = {"normal": {"std": 0.8}}
    couplings = [{"between": ["l0", "l1"], "init": {"normal": {"std": 1.0}}},
                 {"between": ["l1", "l2"], "init": {"normal": {"std": 1.0}}}]
    if layers["l1"]["units"] != "softmax" and layers["l1"]["size"] >= 2 and draw(st.booleans()):
        couplings.append({"between": ["l1", "l1"], "connectivity": "complete", "init": {"normal": {"std": 1.0}}})
    spec["model"] = {"layers": layers, "couplings": couplings, "temperature": spec["model"]["temperature"]}
    return spec
