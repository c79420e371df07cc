"""Max-cut as an Ising problem: spins s_i = ±1 split the graph's nodes in two; an edge (i, j) is
cut when s_i ≠ s_j, so

    cut(s) = Σ_(ij) w_ij (1 − s_i s_j)/2,    and maximising it is minimising E(s) = Σ_(ij) w_ij s_i s_j

an antiferromagnet on the graph: lateral weights W_ij = −w_ij (E = −½ sᵀWs), no biases.
"""
from __future__ import annotations

import networkx as nx
import numpy as np

from ..graph import builders, resolve


def graph(problem: dict, spec) -> nx.Graph:
    if problem.get("file"):
        pairs = np.loadtxt(resolve(spec, problem["file"]), dtype=int, ndmin=2)
        return builders.from_edges(int(pairs.max()) + 1, pairs)
    return builders.random_regular(problem["nodes"], problem["degree"], problem["seed"])


def cut_value(g: nx.Graph, s: np.ndarray) -> np.ndarray:
    """Cut of each row of spins s (rows, n)."""
    edges = np.array(list(g.edges()))
    return (s[:, edges[:, 0]] != s[:, edges[:, 1]]).sum(axis=1).astype(float)


def best_cut(g: nx.Graph) -> float:
    """Brute force over 2^(n−1) splits (node 0 fixed on one side), in chunks; n ≤ 24."""
    n = g.number_of_nodes()
    best = 0.0
    for chunk in _chunks(n):
        codes = np.asarray(chunk)[:, None]
        s = np.where((codes >> np.arange(n - 1)) & 1, 1.0, -1.0)
        s = np.concatenate([np.ones((len(s), 1)), s], axis=1)
        best = max(best, float(cut_value(g, s).max()))
    return best


def _chunks(n: int):
    total = 2 ** (n - 1)
    for start in range(0, total, 1 << 16):
        yield range(start, min(total, start + (1 << 16)))


def greedy_cut(g: nx.Graph, seed: int) -> float:
    """A baseline: random split, then move single nodes while that raises the cut."""
    rng = np.random.default_rng(seed)
    s = rng.choice([-1.0, 1.0], g.number_of_nodes())
    improved = True
    while improved:
        improved = False
        for i in g.nodes:
            gain = sum(1 if s[i] == s[j] else -1 for j in g.neighbors(i))
            if gain > 0:
                s[i] = -s[i]
                improved = True
    return float(cut_value(g, s[None])[0])
