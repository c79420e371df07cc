"""Stage 3, lower: the layer graph -> a :class:`Program` the kernels execute.

The Program is what the compiler precomputed, kept apart from the spec the user wrote: per
layer its unit type and size, per coupling the weight key, orientation and 0/1 mask (on the
backend), for every layer the couplings incident to it (the index map the kernels gather
through), and the block schedule. Parameters live outside it, in a plain dict keyed as in
`model.npz` (`bias.<layer>`, `weight.<a>.<b>`, `sigma.<layer>`, `recbias.<layer>`), so kernels
stay pure functions of (program, params, state, rng).

Undirected couplings (``couplings``) make the energy and the Gibbs schedule; directed ones
(``directed``) are feed-forward maps a → b, generative (part of the model p: a DBN's top-down
edges) or recognition (the approximate posterior q, bottom-up), each kind in its own
topological order (``order``) beside the colour schedule.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import ModuleType

import networkx as nx
import numpy as np

from ..graph.builders import bipartite_mask, lateral_mask
from ..spec.constraints import Choice
from ..units import UnitType
from .keys import (ParamKey, bias_key, gain_key, lvbias_key, recbias_key, runmean_key, runvar_key,
                   sigma_key)
from .schedule import Block, Piece, colour_schedule


@dataclass(frozen=True)
class LayerInfo:
    name: str
    size: int
    units: UnitType
    shape: tuple | None
    sigma: float
    learn_sigma: bool
    bias_init: Choice
    gain: float = 1.0       # factor on the field (bias + input) in conditionals; ≠ 1 only in pretraining stages
    bias_key: str = ""      # the parameter used as its bias; a DBN's RBM view reads `recbias.<layer>`
    normalize: Choice | None = None     # `batch`: its directed input field is batch-normalised

    def __post_init__(self):
        if not self.bias_key:
            object.__setattr__(self, "bias_key", bias_key(self.name))

    @property
    def param_keys(self) -> tuple:
        own = (self.bias_key,) + ((sigma_key(self.name),) if self.units.name == "gaussian" else ())
        if self.normalize is not None:
            own += (gain_key(self.name), runmean_key(self.name), runvar_key(self.name))
        return own


@dataclass(frozen=True)
class CouplingInfo:
    """W has shape (size_a, size_b); a lateral W is symmetric with a zero diagonal and enters
    the energy as −½ sᵀWs, so W_ij is the coupling of the pair (i, j)."""

    key: str
    a: str
    b: str
    mask: object            # backend bool array, or None for dense
    mask_np: np.ndarray | None
    trainable: bool
    init: Choice
    stencil: tuple | None = None    # (dims, periodic): W = J · lattice adjacency, stored as J
    kind: str = "undirected"        # or "generative" / "recognition": a directed map a → b
    mirror: str | None = None       # an RBM view's recognition twin, kept equal to Wᵀ (see views.py)
    transposed: bool = False        # a tied directed map a → b: uses the reverse's W (size_b, size_a) as Wᵀ
    head: str = "mean"              # or "log_variance": a recognition map into the log-variance of b's q

    @property
    def lateral(self) -> bool:
        return self.a == self.b

    @property
    def dense(self) -> bool:
        """Every unit of one side coupled to every unit of the other."""
        return self.mask_np is None and self.stencil is None


@dataclass(frozen=True)
class Program:
    name: str
    xp: ModuleType
    dtype: object
    temperature: float
    layers: dict                     # name -> LayerInfo, in declaration order
    couplings: tuple                 # CouplingInfo
    schedule: tuple                  # Block = tuple[Piece, ...], in update order
    incident: dict = field(repr=False)   # layer -> tuple of (CouplingInfo, this layer is side 'a')
    neighbours: dict = field(repr=False)  # layer -> layers its input depends on (itself when lateral)
    keys: dict = field(repr=False)        # parameter key -> ParamKey (its role and layers)
    directed: tuple = ()                  # directed CouplingInfo, generative and recognition
    order: dict = field(default_factory=dict, repr=False)  # kind -> layers it targets, parents first

    def directed_into(self, name: str, kind: str, head: str = "mean") -> tuple:
        """The ``kind`` couplings a → ``name`` (feeding its mean, or with ``head="log_variance"``
        the log-variance of its approximate posterior)."""
        return tuple(c for c in self.directed if c.kind == kind and c.b == name and c.head == head)

    @property
    def stochastic(self) -> tuple:
        """Gaussian layers whose recognition posterior has a log-variance head: a VAE's latents,
        drawn by reparameterisation in rule `elbo`."""
        return tuple(dict.fromkeys(c.b for c in self.directed if c.head == "log_variance"))

    @property
    def generated(self) -> tuple:
        """Layers outside the energy, drawn from their generative parents (a DBN's lower layers)."""
        return tuple(self.order.get("generative", ()))

    def summable(self, names) -> bool:
        """Whether layers ``names`` can be summed out together: no coupling within or among them."""
        names = set(names)
        return not any(c.a in names and c.b in names for c in self.couplings)

    def summable_set(self, candidates, first=()) -> tuple:
        """The layers to sum out in closed form: ``first`` (which must stay summable), then the
        largest of ``candidates`` greedily while no two are coupled; in declaration order.
        The one place where exact enumeration, AIS and free energies choose what to integrate."""
        chosen = list(first)
        for name in sorted((n for n in candidates if n not in chosen), key=lambda n: -self.layers[n].size):
            if self.summable(chosen + [name]):
                chosen.append(name)
        return tuple(n for n in self.layers if n in chosen)


def lower(graph: nx.MultiDiGraph, xp: ModuleType = np, dtype: str = "float32") -> Program:
    layers = {name: LayerInfo(name, d["size"], d["units"], d["shape"], d["sigma"], d["learn_sigma"],
                              d["bias_init"], normalize=d.get("normalize"))
              for name, d in graph.nodes(data=True)}
    everything = [_coupling(graph, {**d, "key": key}, xp) for _, _, key, d in graph.edges(keys=True, data=True)]
    everything = _tie(everything)
    order = list(layers)
    everything.sort(key=lambda c: (order.index(c.a), order.index(c.b)))
    couplings = tuple(c for c in everything if c.kind == "undirected")
    directed = tuple(c for c in everything if c.kind != "undirected")
    return assemble(graph.graph.get("name", "model"), xp, np.dtype(dtype), float(graph.graph.get("temperature", 1.0)),
                    layers, couplings, directed)


def assemble(name, xp, dtype, temperature, layers: dict, couplings: tuple, directed: tuple = ()) -> Program:
    """A Program from its layers and couplings: index maps, schedule, orders and parameter keys."""
    incident = {n: tuple((c, c.a == n) for c in couplings if n in (c.a, c.b)) for n in layers}
    # computed once here: every conditional, in every block of every sweep, reads it
    neighbours = {n: tuple(dict.fromkeys(c.b if is_a else c.a for c, is_a in inc)) for n, inc in incident.items()}
    schedule = tuple(tuple(_on_backend(p, layers[p.layer].size, xp) for p in block)
                     for block in colour_schedule(layers, couplings))
    keys = {k: ParamKey.parse(k) for info in layers.values() for k in info.param_keys}
    keys.update({c.key: ParamKey.parse(c.key) for c in (*couplings, *directed)})
    keys.update({recbias_key(c.b): ParamKey.parse(recbias_key(c.b)) for c in directed if c.kind == "recognition"})
    keys.update({lvbias_key(c.b): ParamKey.parse(lvbias_key(c.b)) for c in directed if c.head == "log_variance"})
    order = {kind: _topological(layers, [c for c in directed if c.kind == kind])
             for kind in ("generative", "recognition")}
    return Program(name, xp, dtype, temperature, layers, couplings, schedule, incident, neighbours, keys,
                   directed, order)


def _tie(couplings: list) -> list:
    """A tied coupling takes its mask (in W's orientation) and trainability from the one it shares W with."""
    owners = {c.key: c for c in couplings if not c.transposed}
    return [dataclasses.replace(c, mask=owners[c.key].mask, mask_np=owners[c.key].mask_np,
                                trainable=owners[c.key].trainable) if c.transposed else c for c in couplings]


def _topological(layers: dict, edges: list) -> tuple:
    """The targets of ``edges`` with every layer after its parents (declaration order breaks ties)."""
    g = nx.DiGraph()
    g.add_nodes_from(layers)
    g.add_edges_from((c.a, c.b) for c in edges)
    targets = {c.b for c in edges}
    ranked = nx.lexicographical_topological_sort(g, key=list(layers).index)
    return tuple(n for n in ranked if n in targets)


def _on_backend(piece: Piece, size: int, xp: ModuleType) -> Piece:
    if piece.units is None:
        return piece
    mask = np.zeros(size, dtype=bool)
    mask[piece.units] = True
    return Piece(piece.layer, xp.asarray(piece.units), xp.asarray(mask))


def _coupling(graph: nx.Graph, d: dict, xp: ModuleType) -> CouplingInfo:
    a, b, unit_graph = d["a"], d["b"], d["unit_graph"]
    n_a, n_b = graph.nodes[a]["size"], graph.nodes[b]["size"]
    if d.get("tied"):
        return CouplingInfo(d["key"], a, b, None, None, d["trainable"], d["init"], kind=d["kind"], transposed=True)
    if d.get("stencil"):
        return CouplingInfo(d["key"], a, b, None, None, d["trainable"], d["init"], d["stencil"])
    if a == b:
        mask = lateral_mask(unit_graph, n_a) if unit_graph is not None else ~np.eye(n_a, dtype=bool)
    else:
        mask = None if unit_graph is None else bipartite_mask(unit_graph, n_a, n_b)
    return CouplingInfo(d["key"], a, b, None if mask is None else xp.asarray(mask), mask,
                        d["trainable"], d["init"], kind=d.get("kind", "undirected"), head=d.get("head", "mean"))


__all__ = ["Block", "CouplingInfo", "LayerInfo", "Piece", "Program", "assemble", "lower"]
