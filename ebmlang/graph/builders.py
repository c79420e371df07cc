"""Connectivity builders: plain functions returning ``networkx.Graph`` on unit indices.

Lateral (within-layer) builders return a graph on nodes 0..n-1. Between-layer builders return a
bipartite graph whose nodes are ``("a", i)`` and ``("b", j)``; `dense` is never expanded into
edges (784 × 500 of them would cost seconds and hundreds of MB for nothing).
"""
from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np


def complete(n: int) -> nx.Graph:
    return nx.complete_graph(n)


def lattice(dims: tuple, periodic: bool = True) -> nx.Graph:
    """Nearest-neighbour lattice of any dimension; site (i0, i1, ...) is index ravel_multi_index."""
    g = nx.empty_graph(math.prod(dims))
    for site in itertools.product(*(range(d) for d in dims)):
        here = int(np.ravel_multi_index(site, dims))
        for axis, d in enumerate(dims):
            step = site[axis] + 1
            if step == d:
                if not periodic or d <= 2:      # d = 2 wraps onto the neighbour it already has
                    continue
                step = 0
            there = int(np.ravel_multi_index(site[:axis] + (step,) + site[axis + 1:], dims))
            if there != here:
                g.add_edge(here, there)
    return g


def erdos_renyi(n: int, p: float, seed: int) -> nx.Graph:
    return nx.fast_gnp_random_graph(n, p, seed=seed) if p < 0.2 else nx.gnp_random_graph(n, p, seed=seed)


def random_regular(n: int, degree: int, seed: int) -> nx.Graph:
    return nx.random_regular_graph(degree, n, seed=seed)


def from_edges(n: int, pairs) -> nx.Graph:
    g = nx.empty_graph(n)
    g.add_edges_from((int(i), int(j)) for i, j in pairs)
    return g


def bipartite_from_pairs(n_a: int, n_b: int, pairs) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from((("a", i) for i in range(n_a)), side=0)
    g.add_nodes_from((("b", j) for j in range(n_b)), side=1)
    g.add_edges_from((("a", int(i)), ("b", int(j))) for i, j in pairs)
    return g


def bipartite_random(n_a: int, n_b: int, p: float, seed: int) -> nx.Graph:
    """Each of the n_a × n_b possible edges independently with probability p."""
    keep = np.random.default_rng(seed).random((n_a, n_b)) < p
    return bipartite_from_pairs(n_a, n_b, zip(*np.nonzero(keep)))


def bipartite_from_mask(mask: np.ndarray) -> nx.Graph:
    return bipartite_from_pairs(mask.shape[0], mask.shape[1], zip(*np.nonzero(mask)))


def lateral_mask(g: nx.Graph, n: int) -> np.ndarray:
    """Symmetric 0/1 adjacency (n, n) with zero diagonal."""
    mask = np.zeros((n, n), dtype=bool)
    if g.number_of_edges():
        i, j = np.array(list(g.edges())).T
        mask[i, j] = mask[j, i] = True
    np.fill_diagonal(mask, False)
    return mask


def bipartite_mask(g: nx.Graph, n_a: int, n_b: int) -> np.ndarray:
    mask = np.zeros((n_a, n_b), dtype=bool)
    for u, v in g.edges():
        (_, i), (_, j) = sorted((u, v))      # ("a", i) sorts before ("b", j)
        mask[i, j] = True
    return mask
