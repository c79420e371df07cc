"""YAML text -> a tree of located nodes.

Every mapping, sequence and scalar keeps the ``Location`` where it starts, so that any later
stage can point at the exact spot of a mistake. Duplicate keys, which PyYAML silently merges,
are reported here.

The reader has limits, each a located error rather than a crash or a machine brought to its
knees: at most MAX_TEXT characters, nesting at most MAX_DEPTH levels deep, at most MAX_NODES
values once aliases are expanded (a "billion laughs" document), and no alias inside itself.
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

MAX_TEXT = 1_000_000        # characters: a spec is a page, not a data file
MAX_DEPTH = 50              # nesting levels; the deepest real spec has fewer than 10
MAX_NODES = 100_000         # values after aliases are expanded


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-3` as a float (YAML 1.1 insists on a dot)."""


FLOAT_WITH_EXPONENT = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT_WITH_EXPONENT, list("-+0123456789"))


def _loc(mark: yaml.Mark, file: str) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


def parse_yaml(text: str, file: str, problems: list[Diagnostic] | None = None) -> Node:
    """Parse YAML ``text`` (read from ``file``) into located nodes; raise SpecError on bad YAML.

    Duplicate keys are appended to ``problems`` when given (so validation can go on and report
    them with everything else), else raised at once.
    """
    if len(text) > MAX_TEXT:
        raise SpecError(Diagnostic(Location(file, 1, 1),
                                   f"the spec has {len(text):,} characters, more than the "
                                   f"{MAX_TEXT:,} a spec may have; is this a data file?"))
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        raise SpecError(_unreadable(text, exc, file)) from None
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
    except yaml.reader.ReaderError as exc:
        raise SpecError(_unreadable(text, exc, file)) from None
    except yaml.YAMLError as exc:
        message = " ".join(str(exc).split())
        raise SpecError(Diagnostic(Location(file, 1, 1), f"YAML error: {message}")) from None
    except RecursionError:
        raise SpecError(Diagnostic(Location(file, 1, 1),
                                   f"the YAML is nested more than {MAX_DEPTH} levels "
                                   "deep")) from None
    finally:
        loader.dispose()
    if root is None:
        raise SpecError(Diagnostic(Location(file, 1, 1), "the spec is empty; expected a mapping"))
    found: list[Diagnostic] = []
    node = _Converter(loader, file, found).convert(root, ())
    if found and problems is None:
        raise SpecError(found)
    (problems if problems is not None else []).extend(found)
    return node


def _unreadable(text: str, exc: yaml.reader.ReaderError, file: str) -> Diagnostic:
    """A character YAML does not allow (a control character, a NUL: a binary file)."""
    before = text[: exc.position]
    where = Location(file, before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1)
    char = exc.character if isinstance(exc.character, int) else ord(exc.character)
    return Diagnostic(where, f"YAML does not allow the character U+{char:04X} in a spec; "
                             "is this a text file?")


class _Converter:
    """YAML nodes -> located nodes, within the reader's limits (see the module's docstring)."""

    def __init__(self, loader: yaml.SafeLoader, file: str, problems: list[Diagnostic]):
        self.loader, self.file, self.problems, self.count = loader, file, problems, 0

    def convert(self, node: yaml.Node, path: tuple) -> Node:
        where = _loc(node.start_mark, self.file)
        self.count += 1
        if self.count > MAX_NODES:
            raise SpecError(Diagnostic(where, f"the spec expands to more than {MAX_NODES:,} values "
                                       "(aliases repeating aliases?)"))
        if any(node is outer for outer in path):
            raise SpecError(Diagnostic(where, "an alias refers to the node that contains it "
                                       "(a recursive YAML structure)"))
        if len(path) >= MAX_DEPTH:
            raise SpecError(Diagnostic(where,
                                       f"the YAML is nested more than {MAX_DEPTH} levels deep"))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, where, path + (node,))
        if isinstance(node, yaml.SequenceNode):
            return Seq([self.convert(item, path + (node,)) for item in node.value], where)
        return Scalar(self._construct(node, where), where, node.value)

    def _construct(self, node: yaml.Node, where: Location):
        """The Python value of a scalar; a tag YAML cannot build (`=`, `!!python/…`) is an error."""
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            raise SpecError(Diagnostic(where, f"cannot read this value: {problem}")) from None

    def _mapping(self, node: yaml.MappingNode, where: Location, path: tuple) -> Map:
        out = Map({}, where)
        for key_node, value_node in node.value:
            key_where = _loc(key_node.start_mark, self.file)
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(Diagnostic(key_where, "mapping keys must be plain names"))
                continue
            key = str(self._construct(key_node, key_where))
            if key in out.entries:
                first = out.key_locs[key]
                self.problems.append(Diagnostic(key_where, f"duplicate key '{key}' "
                                                           f"(first given at line {first.line})"))
                continue
            out.entries[key] = self.convert(value_node, path)
            out.key_locs[key] = key_where
        return out


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
