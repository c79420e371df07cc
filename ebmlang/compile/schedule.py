"""The block schedule: colour the unit-level graph so that units in one block share no coupling.

Units within a layer that has no lateral coupling are always conditionally independent, so such
a layer is one *piece*; a layer with lateral couplings is split into the colour classes of its
own unit graph (a lattice → checkerboard; a complete graph → one unit per piece; otherwise
greedy DSATUR). The pieces are then coloured as a graph of their own (two pieces are adjacent
when any coupling joins a unit of one to a unit of the other). Bipartite layer graphs (RBMs,
layered DBM chains) come out as two blocks, odd and even layers. Colour 0 is the block holding
the first layer (usually the data layer): a sweep from a state whose latent layers are already
filled in then goes v -> h, as CD's (v0, h0) -> v1 -> h1 does.
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np


@dataclass(frozen=True)
class Piece:
    """Units of one layer updated together: ``units`` is an index array, or None for all;
    ``mask`` the same units as a (size,) bool array (set by the lowering, for cheap merges)."""

    layer: str
    units: object = None
    mask: object = None


Block = tuple  # tuple[Piece, ...]: no two units in a block share a coupling


def unit_colours(mask: np.ndarray) -> np.ndarray:
    """A proper colouring (n,) of the graph with adjacency ``mask`` (symmetric, zero diagonal)."""
    n = mask.shape[0]
    if mask.sum() == n * (n - 1):                       # complete: every unit on its own
        return np.arange(n)
    g = nx.from_numpy_array(mask.astype(np.int8))
    if nx.is_bipartite(g):
        colour = nx.bipartite.color(g)
    else:
        colour = nx.greedy_color(g, strategy="DSATUR")
    return np.array([colour[i] for i in range(n)])


def lattice_colours(dims: tuple, periodic: bool) -> np.ndarray:
    """Checkerboard (parity of the coordinate sum) when the lattice is bipartite, else greedy."""
    if not periodic or all(d % 2 == 0 or d <= 2 for d in dims):
        return np.indices(dims).sum(axis=0).reshape(-1) % 2
    from ..graph.builders import lattice
    colour = nx.greedy_color(lattice(dims, periodic), strategy="DSATUR")
    return np.array([colour[i] for i in range(int(np.prod(dims)))])


def _pieces(layers: dict, couplings: tuple) -> list[Piece]:
    lateral = {c.a: c for c in couplings if c.lateral}
    pieces = []
    for name in layers:
        c = lateral.get(name)
        if c is None or c.dense:
            pieces.append(Piece(name))
            continue
        colours = lattice_colours(*c.stencil) if c.stencil else unit_colours(c.mask_np)
        pieces += [Piece(name, np.flatnonzero(colours == c)) for c in np.unique(colours)]
    return pieces


def _adjacent(p: Piece, q: Piece, coupling) -> bool:
    if coupling.mask_np is None:       # dense, or a lattice stencil (its colour classes touch)
        return True
    rows, cols = (p, q) if (coupling.a, coupling.b) == (p.layer, q.layer) else (q, p)
    sub = coupling.mask_np if rows.units is None else coupling.mask_np[rows.units]
    sub = sub if cols.units is None else sub[:, cols.units]
    return bool(sub.any())


def _piece_graph(pieces: list[Piece], couplings: tuple) -> nx.Graph:
    by_pair = {frozenset((c.a, c.b)): c for c in couplings}
    g = nx.empty_graph(len(pieces))
    for i, p in enumerate(pieces):
        for j in range(i + 1, len(pieces)):
            q = pieces[j]
            c = by_pair.get(frozenset((p.layer, q.layer)))
            if c is not None and _adjacent(p, q, c):
                g.add_edge(i, j)
    return g


def _colour(g: nx.Graph) -> dict:
    n = g.number_of_nodes()
    if g.number_of_edges() == n * (n - 1) // 2:
        # complete (a fully connected layer's units): every piece its own colour, as DSATUR would
        # find, and the blocks in piece order either way; networkx's DSATUR takes a minute at n = 1000
        return {i: i for i in g}
    if nx.is_bipartite(g):
        colour = {}
        for component in nx.connected_components(g):     # BFS from the lowest piece: it gets 0
            root = min(component)
            colour.update(nx.bipartite.color(g.subgraph(component)))
            if colour[root] == 1:
                colour.update({k: 1 - colour[k] for k in component})
        return colour
    return nx.greedy_color(g, strategy="DSATUR")


def colour_schedule(layers: dict, couplings: tuple) -> tuple[Block, ...]:
    """Blocks in update order; a layer whose units all share one block gets ``units=None``."""
    pieces = _pieces(layers, couplings)
    colour = _colour(_piece_graph(pieces, couplings))
    order = sorted(set(colour.values()), key=lambda c: min(i for i, k in colour.items() if k == c))
    blocks = []
    for c in order:
        members = [pieces[i] for i in sorted(colour) if colour[i] == c]
        blocks.append(tuple(_merge(members, layers)))
    return tuple(blocks)


def _merge(members: list[Piece], layers: dict) -> list[Piece]:
    """Join the pieces of one layer inside a block into one piece."""
    merged = []
    for name in dict.fromkeys(p.layer for p in members):
        own = [p for p in members if p.layer == name]
        if any(p.units is None for p in own):
            merged.append(Piece(name))
            continue
        units = np.sort(np.concatenate([p.units for p in own]))
        merged.append(Piece(name, None if len(units) == layers[name].size else units))
    return merged
