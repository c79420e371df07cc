"""Constraint combinators: the tables of the spec language are built from these.

One table per spec section (see ``schema.py``) drives three things at once: validation of the
located YAML tree into frozen dataclasses, the reference in ``docs/spec.md`` (``describe``), and
the hypothesis strategies of the tests (which walk the same objects). Validation never stops at
the first mistake: every problem is recorded in a :class:`Context` and reported together.
The base class, the context and the scalar constraints are in ``scalars.py`` (and importable
from here, as every table does).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from .nodes import Map, Node, Scalar, Seq, from_plain
from .scalars import (IDENTIFIER, INVALID, REQUIRED, Bool, Constraint, Context, Enum, FilePath,
                      Float, Identifier, Int, Str, scalar_value, dotted, suggest)


@dataclass(frozen=True)
class AnyOf(Constraint):
    """The first alternative that accepts the value wins (e.g. a threshold or the word `sample`)."""

    options: tuple

    def __init__(self, *options: Constraint):
        object.__setattr__(self, "options", tuple(options))

    def _check(self, node, path, ctx):
        for option in self.options:
            scratch = Context()
            value = option.check(node, path, scratch)
            if value is not INVALID:
                return value
        return self.fail(node, path, ctx)

    def describe(self) -> str:
        return " or ".join(o.describe() for o in self.options)


@dataclass(frozen=True)
class ListOf(Constraint):
    item: Constraint
    min_len: int = 0
    max_len: int | None = None
    unique: bool = False        # no item twice (layer names: a repeat is a slip, never a meaning)

    def _check(self, node, path, ctx):
        if not isinstance(node, Seq):
            return self.fail(node, path, ctx)
        n = len(node.items)
        if n < self.min_len or (self.max_len is not None and n > self.max_len):
            return ctx.error(node, f"{dotted(path)} must be {self.describe()}, got {n} items")
        values = [self.item.check(x, path + (i,), ctx) for i, x in enumerate(node.items)]
        if any(v is INVALID for v in values):
            return INVALID
        if self.unique:
            for i, value in enumerate(values):
                if value in values[:i]:
                    return ctx.error(node.items[i], f"{dotted(path + (i,))}: '{value}' is "
                                     "already in the list; name each once")
        return tuple(values)

    def describe(self) -> str:
        one_or_more = self.min_len == 1 and self.max_len is None
        start = "a non-empty list of " if one_or_more else "a list of "
        if self.max_len == self.min_len:
            start += f"{self.min_len} "
        elif self.min_len > 1:
            start += f"at least {self.min_len} "
        distinct = "distinct " if self.unique else ""
        return f"{start}{distinct}{_plural(self.item.describe())}"


class OneOrList(Constraint):
    """One value of ``item``, or a list of at least one (e.g. `train`: one stage or a list of stages).
    A single value stays single (not a 1-tuple), so the resolved spec reads as it was written."""

    def __init__(self, item: Constraint, what: str = "them"):
        self.item, self.what = item, what

    def _check(self, node, path, ctx):
        if isinstance(node, Seq):
            return ListOf(self.item, 1).check(node, path, ctx)
        return self.item.check(node, path, ctx)

    def describe(self) -> str:
        return f"{self.item.describe()}, or a list of {self.what}"


def _plural(text: str) -> str:
    """'an integer ≥ 2' → 'integers ≥ 2', 'a mapping (group)' → 'mappings (group)': the noun
    phrase before its first qualifier takes the s; 'one of `a`, `b`' → 'items, each one of …'."""
    match = re.match(r"an? (.+?)( \(| [≥>≤<] | or | of | in |$)", text)
    return f"items, each {text}" if match is None else match[1] + "s" + text[match.end(1):]


@dataclass(frozen=True)
class Field:
    constraint: Constraint
    default: Any = REQUIRED
    doc: str = ""


EMPTY = object()    # a Field default meaning: validate an empty mapping (the section's own defaults)


class Section(Constraint):
    """A mapping with a fixed set of keys, built into the frozen dataclass ``build``.

    ``switchable``: the section may be written as `false` (disabled: None) or `true` (defaults).
    """

    def __init__(self, title: str, fields: dict[str, Field], build: Callable, doc: str = "",
                 switchable: bool = False, context: str = ""):
        self.title, self.fields, self.build, self.doc, self.switchable = title, fields, build, doc, switchable
        self.context = context      # e.g. "for source 'bars-and-stripes'", shown with unknown keys

    def _check(self, node, path, ctx):
        if self.switchable and isinstance(node, Scalar) and isinstance(node.value, bool):
            return self.check(Map({}, node.loc), path, ctx) if node.value else None
        if isinstance(node, Scalar) and node.value is None:
            node = Map({}, node.loc)
        if not isinstance(node, Map):
            return self.fail(node, path, ctx)
        for key in node.entries:
            if key not in self.fields:
                ctx.error(node.key_locs.get(key, node.loc),
                          f"unknown key '{key}' in {dotted(path)}{' ' + self.context if self.context else ''}"
                          f"{suggest(key, self.fields)}")
        values = {name: self._field(name, f, node, path, ctx) for name, f in self.fields.items()}
        if any(v is INVALID for v in values.values()) or any(k not in self.fields for k in node.entries):
            return INVALID
        return self.build(**values)

    def _field(self, name: str, f: Field, node: Map, path: tuple, ctx: Context) -> Any:
        if name in node.entries:
            return f.constraint.check(node.entries[name], path + (name,), ctx)
        if f.default is REQUIRED:
            return ctx.error(node, f"{dotted(path)} is missing the required key '{name}'")
        ctx.locations[dotted(path + (name,))] = node.loc
        ctx.defaulted.add(dotted(path + (name,)))
        if f.default is EMPTY:
            return f.constraint.check(Map({}, node.loc), path + (name,), ctx)
        return f.default

    def describe(self) -> str:
        return f"a mapping ({self.title})"


@dataclass(frozen=True)
class Choice:
    """A value of a tagged union: `kind` is the tag, `options` its validated section (or None)."""

    kind: str
    options: Any = None


class Tagged(Constraint):
    """`tag` alone, or `{tag: {options}}`; e.g. `init: {normal: {std: 0.01}}` or `init: zeros`."""

    def __init__(self, title: str, options: dict[str, Section | None]):
        self.title, self.options = title, options

    def _check(self, node, path, ctx):
        if isinstance(node, Scalar) and isinstance(node.value, str):
            tag, body = node.value, None
        elif isinstance(node, Map) and len(node.entries) == 1:
            (tag, body), = node.entries.items()
        else:
            return self.fail(node, path, ctx)
        if tag not in self.options:
            where = node.key_locs.get(tag, node.loc) if isinstance(node, Map) else node.loc
            return ctx.error(where, f"{dotted(path)}: unknown {self.title} '{tag}'; expected "
                             f"{self._tags()}{suggest(tag, self.options)}")
        section = self.options[tag]
        if section is None:
            if body is not None and not (isinstance(body, Scalar) and body.value is None):
                return ctx.error(body, f"{dotted(path)}.{tag} takes no options")
            return Choice(tag)
        value = section.check(body if body is not None else Map({}, node.loc), path + (tag,), ctx)
        return INVALID if value is INVALID else Choice(tag, value)

    def _tags(self) -> str:
        return ", ".join(f"`{t}`" for t in self.options)

    def describe(self) -> str:
        return f"a {self.title}: one of {self._tags()}"


class Discriminated(Constraint):
    """A mapping whose `key` field picks which section validates it (e.g. `data.source`)."""

    def __init__(self, title: str, key: str, variants: dict[str, Section]):
        self.title, self.key, self.variants = title, key, variants

    def _check(self, node, path, ctx):
        if not isinstance(node, Map):
            return self.fail(node, path, ctx)
        if self.key not in node.entries:
            return ctx.error(node, f"{dotted(path)} is missing the required key '{self.key}'")
        tag_node = node.entries[self.key]
        Enum(*self.variants).check(tag_node, path + (self.key,), ctx)
        tag = scalar_value(tag_node)
        if tag not in self.variants:
            return INVALID
        return self.variants[tag].check(node, path, ctx)

    def describe(self) -> str:
        return f"a mapping ({self.title}) chosen by `{self.key}`"


class MapOf(Constraint):
    """A mapping from user-chosen identifiers (e.g. layer names) to values of one constraint."""

    def __init__(self, value: Constraint, min_len: int = 0, what: str = "entries"):
        self.value, self.min_len, self.what = value, min_len, what

    def _check(self, node, path, ctx):
        if not isinstance(node, Map):
            return self.fail(node, path, ctx)
        if len(node.entries) < self.min_len:
            return ctx.error(node, f"{dotted(path)} must declare at least {self.min_len} {self.what}")
        out = {}
        for key, child in node.entries.items():
            if not IDENTIFIER.match(key):
                ctx.error(node.key_locs[key], f"{dotted(path)}: '{key}' is not an identifier "
                          "(letters, digits and _, not starting with a digit)")
                out[key] = INVALID
                continue
            out[key] = self.value.check(child, path + (key,), ctx)
        return INVALID if any(v is INVALID for v in out.values()) else out

    def describe(self) -> str:
        return f"a mapping of names to {self.what}"


def validate(constraint: Constraint, node: Node, ctx: Context) -> Any:
    """Entry point: validate a whole tree; the caller raises if ``ctx.problems``."""
    return constraint.check(node, (), ctx)


__all__ = [
    "AnyOf", "Bool", "Choice", "Constraint", "Context", "Discriminated", "EMPTY", "Enum", "Field",
    "FilePath", "Float", "INVALID", "Identifier", "Int", "ListOf", "MapOf", "OneOrList", "REQUIRED",
    "Section", "Str", "Tagged", "dotted", "from_plain", "suggest", "validate",
]
