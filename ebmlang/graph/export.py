"""Show a compiled model: a text summary for `ebm graph`, and GraphML / DOT files of its layer graph."""
from __future__ import annotations

from pathlib import Path

import networkx as nx

from ..compile import Program


def describe(program: Program) -> str:
    directed = f" + {len(program.directed)} directed" if program.directed else ""
    lines = [f"model {program.name}: {len(program.layers)} layers, {len(program.couplings)} couplings{directed}, "
             f"T = {program.temperature:g}", "layers:"]
    for name, info in program.layers.items():
        shape = f"  shape {'x'.join(map(str, info.shape))}" if info.shape else ""
        norm = "  batch-normalised" if info.normalize is not None else ""
        lines.append(f"  {name:<10} {info.units.name:<9} {info.size:>6}{shape}{norm}")
    lines.append("couplings:")
    for c in program.couplings:
        edges = _edge_count(program, c)
        kind = "lattice stencil" if c.stencil else "lateral" if c.lateral else "dense" if c.dense else "masked"
        lines.append(f"  {c.key:<18} {c.a}—{c.b}  {kind}, {edges} weights"
                     f"{'' if c.trainable else ', fixed'}")
    for c in program.directed:
        own = f"tied: the transpose of {c.b}→{c.a}'s" if c.transposed else f"{_edge_count(program, c)}"
        lines.append(f"  {c.key:<18} {c.a}→{c.b}  {c.kind}, {own} weights")
    for kind, order in program.order.items():
        if order:
            lines.append(f"{kind} order: {' → '.join(order)}")
    lines.append(f"schedule ({len(program.schedule)} blocks, units in a block share no coupling):")
    for i, block in enumerate(program.schedule):
        parts = [f"{p.layer}[all {program.layers[p.layer].size}]" if p.units is None
                 else f"{p.layer}[{len(p.units)} of {program.layers[p.layer].size}]" for p in block]
        lines.append(f"  block {i}: " + ", ".join(parts))
    return "\n".join(lines)


def _edge_count(program: Program, c) -> int:
    if c.stencil is not None:
        from .builders import lattice
        return lattice(*c.stencil).number_of_edges()
    if c.mask_np is not None:
        return int(c.mask_np.sum()) // (2 if c.lateral else 1)
    return program.layers[c.a].size * program.layers[c.b].size


def layer_graph(program: Program) -> nx.MultiDiGraph:
    """The layer graph with plain attributes only (what GraphML and DOT can hold)."""
    g = nx.MultiDiGraph(name=program.name)
    for name, info in program.layers.items():
        g.add_node(name, units=info.units.name, size=info.size)
    for c in (*program.couplings, *program.directed):
        g.add_edge(c.a, c.b, key=c.key, kind=c.kind,
                   connectivity="stencil" if c.stencil else "dense" if c.dense else "masked",
                   weights=_edge_count(program, c), trainable=c.trainable)
    return g


def write(program: Program, path: Path) -> None:
    g = layer_graph(program)
    if path.suffix == ".graphml":
        nx.write_graphml(g, path)
    elif path.suffix in (".dot", ".gv"):
        path.write_text(to_dot(g))
    else:
        raise ValueError(f"unknown graph format '{path.suffix}': use .graphml or .dot")


def to_dot(g: nx.Graph) -> str:
    lines = [f'digraph "{g.graph.get("name", "model")}" {{']
    for name, d in g.nodes(data=True):
        lines.append(f'  "{name}" [label="{name}\\n{d["units"]} × {d["size"]}"];')
    for a, b, d in g.edges(data=True):
        arrow = "none" if d["kind"] == "undirected" else "normal"
        lines.append(f'  "{a}" -> "{b}" [label="{d["connectivity"]}", arrowhead={arrow}];')
    lines.append("}")
    return "\n".join(lines) + "\n"
