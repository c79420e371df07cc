"""Stage 2, build: Spec -> networkx graph of layers and couplings; connectivity builders."""
from . import builders
from .build import build_graph, resolve

__all__ = ["build_graph", "builders", "resolve"]
