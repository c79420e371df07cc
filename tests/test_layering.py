"""The pipeline runs one way: each package imports only the stages before it (DESIGN.md).

Read from the source with ``ast`` (imports inside functions count too), so a shortcut taken
anywhere in a module is caught.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ebmlang"

# package -> the packages (or top-level modules) of ebmlang it must never import
FORBIDDEN = {
    "backend": {"spec", "graph", "compile", "kernels", "objectives", "train", "eval", "runner", "model", "problems"},
    "units": {"spec", "graph", "compile", "kernels", "objectives", "train", "eval", "runner", "model", "problems"},
    "kernels": {"spec", "objectives", "train", "eval", "runner", "model", "problems"},
    "compile": {"kernels", "objectives", "train", "eval", "runner", "model"},
    "objectives": {"train", "eval", "runner", "model"},
    "train": {"eval", "runner", "model"},
    "eval": {"train", "runner", "model"},
}
KNOWN = {
    # compile/transforms.py rewrites a whole Model (spin -> binary twin) with the stencil kernel
    ("compile/transforms.py", "kernels"), ("compile/transforms.py", "model"),
    # spec expands problems/ into a model (to become a template step the runner calls)
    # eval/capacity.py builds Models of many sizes for the capacity study
    ("eval/capacity.py", "model"),
}


def _imports(path: Path) -> set:
    """The ebmlang packages (first component after `ebmlang`) that ``path`` imports."""
    tree = ast.parse(path.read_text())
    depth = len(path.relative_to(PACKAGE).parts) - 1       # folders below ebmlang/
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:                                  # relative: resolve against the package
                base = list(path.relative_to(PACKAGE).parts[:-1])[: depth - node.level + 1]
                parts = base + (node.module.split(".") if node.module else [])
                if not parts:
                    parts = [alias.name for alias in node.names]
                found.add(parts[0].removesuffix(".py"))
            elif node.module and node.module.startswith("ebmlang."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("ebmlang.")}
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] in FORBIDDEN)


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_no_module_imports_a_later_stage(path):
    rel = path.relative_to(PACKAGE)
    package = rel.parts[0]
    bad = {m for m in _imports(path) & FORBIDDEN[package] if (rel.as_posix(), m) not in KNOWN}
    assert not bad, f"{rel} imports {sorted(bad)}, a later stage of the pipeline"
