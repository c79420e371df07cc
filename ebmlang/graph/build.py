"""Stage 2, build: Spec -> a networkx graph of layers (nodes) and couplings (edges).

Node attributes: ``size``, ``units`` (a UnitType), ``kind``, ``shape``, ``sigma``,
``learn_sigma``, ``bias_init``, ``normalize`` (None, or the `batch` choice). Edges run a → b in
the declared order (a MultiDiGraph, since a DBN joins one pair by a generative edge down and a
recognition edge up). Edge attributes:
the multigraph's edge key (`weight.a.b`; a tied directed edge a → b shares `weight.b.a`; a
log-variance head `lvweight.a.b`), ``head`` (`mean` or `log_variance`),
``a``/``b`` (which fix the weight matrix's orientation), ``kind``
(`undirected`, `generative`, `recognition`), ``tied``, ``connectivity``, ``unit_graph`` (the unit-level
networkx graph; None for dense and for stencils), ``init``, ``trainable``, ``stencil`` ((dims,
periodic) for a fixed uniform lattice, else None). A lateral coupling is a self-loop.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import networkx as nx
import numpy as np

from ..compile.keys import weight_key
from ..errors import GraphError
from ..spec import Spec
from ..units import make_units
from . import builders


def build_graph(spec: Spec) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph(name=spec.name, temperature=spec.model.temperature)
    for name, layer in spec.model.layers.items():
        g.add_node(name, size=layer.size, kind=layer.units, shape=layer.shape,
                   units=make_units(layer.units, layer.size, layer.categories, layer.missing),
                   sigma=layer.sigma if layer.sigma is not None else 1.0,
                   learn_sigma=layer.learn_sigma, bias_init=layer.bias, normalize=layer.normalize)
    for i, c in enumerate(spec.model.couplings):
        a, b = c.between
        stencil = _stencil(c)
        key = weight_key(b, a) if c.tied else weight_key(a, b, c.head)
        g.add_edge(a, b, key=key, a=a, b=b, kind=c.kind, tied=c.tied, head=c.head, connectivity=c.connectivity.kind,
                   unit_graph=None if stencil or c.tied else _unit_graph(spec, i, c), init=c.init,
                   trainable=c.trainable, stencil=stencil)
    return g


def _stencil(coupling) -> tuple | None:
    """(dims, periodic) when a lateral lattice has one fixed strength: lowered to a stencil."""
    if coupling.connectivity.kind == "lattice" and coupling.init.kind == "constant" and not coupling.trainable:
        opts = coupling.connectivity.options
        return tuple(opts["dims"]), opts["periodic"]
    return None


def _unit_graph(spec: Spec, index: int, coupling) -> nx.Graph | None:
    kind, opts = coupling.connectivity.kind, coupling.connectivity.options
    n_a, n_b = (spec.model.layers[n].size for n in coupling.between)
    at = f"model.couplings.{index}.connectivity"
    if kind == "dense":
        return None
    if kind == "complete":
        return builders.complete(n_a)
    if kind == "lattice":
        return builders.lattice(tuple(opts["dims"]), opts["periodic"])
    if kind == "random_regular":
        return builders.random_regular(n_a, opts["degree"], opts["seed"])
    if kind == "random":
        if coupling.lateral:
            return builders.erdos_renyi(n_a, opts["p"], opts["seed"])
        return builders.bipartite_random(n_a, n_b, opts["p"], opts["seed"])
    if kind == "mask":
        mask = _read_mask(spec, f"{at}.mask.file", opts["file"], (n_a, n_b))
        return builders.bipartite_from_mask(mask)
    pairs = opts["list"]
    if pairs is None:
        pairs = _read_edges(spec, f"{at}.edges.file", opts["file"], n_a, n_b, coupling.lateral)
    if coupling.lateral:
        return builders.from_edges(n_a, pairs)
    return builders.bipartite_from_pairs(n_a, n_b, pairs)


def resolve(spec: Spec, relative: str) -> Path:
    """A path written in the spec, relative to the spec file's folder."""
    path = Path(relative).expanduser()
    return path if path.is_absolute() else Path(spec.file).parent / path


def _read_edges(spec: Spec, at: str, file: str, n_a: int, n_b: int, lateral: bool) -> np.ndarray:
    """(E, 2) the `i j` lines of an edge file: in range, and no unit joined to itself within a
    layer (as for an inline list)."""
    path = resolve(spec, file)
    try:
        with warnings.catch_warnings():     # an empty file: refused below, by its name
            warnings.simplefilter("ignore", UserWarning)
            pairs = np.loadtxt(path, dtype=np.int64, ndmin=2, comments="#")
    except OSError:
        raise GraphError(f"edge file '{file}' cannot be read", spec.loc(at)) from None
    except ValueError as exc:
        raise GraphError(f"edge file '{file}' is not lines of two integers: {exc}", spec.loc(at)) from None
    if not pairs.size:
        raise GraphError(f"edge file '{file}' holds no edges: write one 'i j' line per edge",
                         spec.loc(at))
    if (pairs.shape[1] != 2 or pairs.min() < 0
            or pairs[:, 0].max() >= n_a or pairs[:, 1].max() >= n_b):
        raise GraphError(f"edge file '{file}' must hold pairs 'i j' with 0 ≤ i < {n_a} and "
                         f"0 ≤ j < {n_b}", spec.loc(at))
    loops = pairs[pairs[:, 0] == pairs[:, 1], 0] if lateral else ()
    if len(loops):
        raise GraphError(f"edge file '{file}': the edge '{loops[0]} {loops[0]}' is a self-loop; "
                         "a unit is not coupled to itself", spec.loc(at))
    return pairs


def _read_mask(spec: Spec, at: str, file: str, shape: tuple) -> np.ndarray:
    path = resolve(spec, file)
    try:
        mask = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise GraphError(f"mask file '{file}' cannot be read as .npy: {exc}", spec.loc(at)) from None
    if mask.shape != shape:
        raise GraphError(f"mask file '{file}' has shape {mask.shape}, expected {shape}", spec.loc(at))
    return mask.astype(bool)
