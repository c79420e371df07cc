"""YAML text -> a tree of located nodes.

Every mapping, sequence and scalar keeps the ``Location`` where it starts, so that any later
stage can point at the exact spot of a mistake. Duplicate keys, which PyYAML silently merges,
are reported here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Union

import yaml

from ..errors import Diagnostic, Location, SpecError


@dataclass
class Scalar:
    value: Any
    loc: Location
    text: str = ""          # the raw text, so a string field can take `--set name=007` verbatim


@dataclass
class Seq:
    items: list["Node"]
    loc: Location


@dataclass
class Map:
    entries: dict[str, "Node"]
    loc: Location
    key_locs: dict[str, Location] = field(default_factory=dict)


Node = Union[Scalar, Seq, Map]


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-3` as a float (YAML 1.1 insists on a dot)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _loc(mark: yaml.Mark, file: str) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


def parse_yaml(text: str, file: str, problems: list[Diagnostic] | None = None) -> Node:
    """Parse YAML ``text`` (read from ``file``) into located nodes; raise SpecError on bad YAML.

    Duplicate keys are appended to ``problems`` when given (so validation can go on and report
    them with everything else), else raised at once.
    """
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _loc(mark, file) if mark else Location(file, 1, 1)
        context = ""
        if exc.context and exc.context_mark and exc.problem_mark:   # where the open construct began
            started = _loc(exc.context_mark, file)
            context = f" ({exc.context} started at line {started.line}, column {started.col})"
        raise SpecError(Diagnostic(where, f"YAML syntax error: {exc.problem or exc.context}{context}")) from None
    except yaml.YAMLError as exc:
        raise SpecError(Diagnostic(Location(file, 1, 1), f"YAML error: {exc}")) from None
    finally:
        loader.dispose()
    if root is None:
        raise SpecError(Diagnostic(Location(file, 1, 1), "the spec is empty; expected a mapping"))
    found: list[Diagnostic] = []
    node = _convert(root, loader, file, found)
    if found and problems is None:
        raise SpecError(found)
    (problems if problems is not None else []).extend(found)
    return node


def _convert(node: yaml.Node, loader: yaml.SafeLoader, file: str, problems: list[Diagnostic]) -> Node:
    where = _loc(node.start_mark, file)
    if isinstance(node, yaml.MappingNode):
        out = Map({}, where)
        for key_node, value_node in node.value:
            key_where = _loc(key_node.start_mark, file)
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Diagnostic(key_where, "mapping keys must be plain names"))
                continue
            key = str(loader.construct_object(key_node))
            if key in out.entries:
                first = out.key_locs[key]
                problems.append(Diagnostic(key_where, f"duplicate key '{key}' (first given at line {first.line})"))
                continue
            out.entries[key] = _convert(value_node, loader, file, problems)
            out.key_locs[key] = key_where
        return out
    if isinstance(node, yaml.SequenceNode):
        return Seq([_convert(item, loader, file, problems) for item in node.value], where)
    value = loader.construct_object(node, deep=True)
    return Scalar(value, where, node.value)


def to_plain(node: Node) -> Any:
    """Strip locations: nodes -> plain Python dicts, lists and scalars."""
    if isinstance(node, Map):
        return {k: to_plain(v) for k, v in node.entries.items()}
    if isinstance(node, Seq):
        return [to_plain(v) for v in node.items]
    return node.value


def from_plain(value: Any, loc: Location) -> Node:
    """Wrap a plain Python value as nodes that all point at ``loc``."""
    if isinstance(value, dict):
        return Map({str(k): from_plain(v, loc) for k, v in value.items()}, loc, {str(k): loc for k in value})
    if isinstance(value, (list, tuple)):
        return Seq([from_plain(v, loc) for v in value], loc)
    return Scalar(value, loc, "" if value is None else str(value))
