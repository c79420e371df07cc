"""The base of the spec language's constraints (:class:`Constraint`, the :class:`Context` that
collects every problem) and its scalar constraints: numbers, booleans, strings, file paths,
identifiers and enumerations. The combinators that build tables from them are in
``constraints.py``.
"""
from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any

from ..errors import Diagnostic, Location
from .nodes import Map, Node, Scalar, Seq

REQUIRED = object()
INVALID = object()
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Context:
    """Collects diagnostics and the location of every validated path."""

    def __init__(self) -> None:
        self.problems: list[Diagnostic] = []
        self.locations: dict[str, Location] = {}
        self.defaulted: set[str] = set()        # paths filled by a default, not written by the user

    def error(self, where: Node | Location, message: str) -> object:
        loc = where if isinstance(where, Location) else where.loc
        self.problems.append(Diagnostic(loc, message))
        return INVALID


def dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path) or "the spec"


def suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _got(node: Node) -> str:
    if isinstance(node, Map):
        return "a mapping"
    if isinstance(node, Seq):
        return "a list"
    return repr(node.value)


class Constraint:
    """A rule for one value. ``check`` returns the typed value, or INVALID after recording why."""

    def check(self, node: Node, path: tuple, ctx: Context) -> Any:
        ctx.locations[dotted(path)] = node.loc
        return self._check(node, path, ctx)

    def _check(self, node: Node, path: tuple, ctx: Context) -> Any:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def fail(self, node: Node, path: tuple, ctx: Context) -> object:
        return ctx.error(node, f"{dotted(path)} must be {self.describe()}, got {_got(node)}")


def scalar_value(node: Node) -> Any:
    return node.value if isinstance(node, Scalar) else INVALID

@dataclass(frozen=True)
class Int(Constraint):
    min: int | None = None
    max: int | None = None

    def _check(self, node, path, ctx):
        v = scalar_value(node)
        if isinstance(v, bool) or not isinstance(v, int):
            return self.fail(node, path, ctx)
        if (self.min is not None and v < self.min) or (self.max is not None and v > self.max):
            return self.fail(node, path, ctx)
        return v

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            return f"an integer in [{self.min}, {self.max}]"
        if self.min is not None:
            return f"an integer ≥ {self.min}"
        return "an integer"


@dataclass(frozen=True)
class Float(Constraint):
    min: float | None = None
    max: float | None = None
    min_open: bool = False      # True: the bound itself is excluded
    max_open: bool = False

    def _check(self, node, path, ctx):
        v = scalar_value(node)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return self.fail(node, path, ctx)
        lo_bad = self.min is not None and (v <= self.min if self.min_open else v < self.min)
        hi_bad = self.max is not None and (v >= self.max if self.max_open else v > self.max)
        return self.fail(node, path, ctx) if lo_bad or hi_bad else float(v)

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            lo, hi = "(" if self.min_open else "[", ")" if self.max_open else "]"
            return f"a number in {lo}{self.min}, {self.max}{hi}"
        if self.min is not None:
            return f"a number {'>' if self.min_open else '≥'} {self.min}"
        return "a number"


@dataclass(frozen=True)
class Bool(Constraint):
    def _check(self, node, path, ctx):
        v = scalar_value(node)
        return v if isinstance(v, bool) else self.fail(node, path, ctx)

    def describe(self) -> str:
        return "true or false"


@dataclass(frozen=True)
class Str(Constraint):
    pattern: str | None = None
    what: str = "a string"

    def _check(self, node, path, ctx):
        if not isinstance(node, Scalar) or node.value is None or isinstance(node.value, bool):
            return self.fail(node, path, ctx)
        v = node.value if isinstance(node.value, str) else node.text   # `name: 007` stays "007"
        if self.pattern and not re.fullmatch(self.pattern, v):
            return self.fail(node, path, ctx)
        return v

    def describe(self) -> str:
        return self.what


@dataclass(frozen=True)
class FilePath(Str):
    """A file or folder the spec names: relative to the spec's folder (``base`` `spec`) or to
    the working directory (`cwd`). ``spec.resolved.yaml`` holds it absolute (``spec/dump.py``),
    so that `ebm eval` and `--resume` find it from the run folder."""

    what: str = "a path"
    base: str = "spec"


class Identifier(Str):
    def __init__(self) -> None:
        super().__init__(IDENTIFIER.pattern, "an identifier (letters, digits, _)")


@dataclass(frozen=True)
class Enum(Constraint):
    choices: tuple

    def __init__(self, *choices: str):
        object.__setattr__(self, "choices", tuple(choices))

    def _check(self, node, path, ctx):
        v = scalar_value(node)
        if v in self.choices and not isinstance(v, bool):
            return v
        hint = suggest(v, self.choices) if isinstance(v, str) else ""
        return ctx.error(node, f"{dotted(path)} must be {self.describe()}, got {_got(node)}{hint}")

    def describe(self) -> str:
        return "one of " + ", ".join(f"`{c}`" for c in self.choices)
