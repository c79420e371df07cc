"""`--set a.b.c=VALUE`: replace or add one value of the located tree before validation.

The value is parsed as YAML and then typed by the constraint table like any other value, so
`--set train.epochs=3` is an integer and `--set name=007` stays the string "007". Errors in an
override point at the command-line argument: ``--set:1:COL``.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from ..errors import Diagnostic, Location, UsageError
from .nodes import Map, Node, Seq, parse_yaml

FILE = "--set"


def override_texts(overrides) -> list[str]:
    """`KEY.PATH=VALUE` strings from what the Python API takes: one such string, a sequence of
    them, or a mapping {path: value} (each value written as JSON, which YAML reads)."""
    if overrides is None:
        return []
    if isinstance(overrides, str):
        return [overrides]
    if isinstance(overrides, Mapping):
        return [f"{key}={yaml_value(value)}" for key, value in overrides.items()]
    if not isinstance(overrides, Iterable):
        raise TypeError(f"overrides are 'KEY.PATH=VALUE' strings or a mapping {{path: value}}, "
                        f"not {type(overrides).__name__} {overrides!r}")
    texts = list(overrides)
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"overrides are 'KEY.PATH=VALUE' strings or a mapping "
                            f"{{path: value}}, not {type(text).__name__} {text!r}")
    return texts


def yaml_value(value) -> str:
    """``value`` as override text: JSON, which YAML reads back (NumPy scalars and arrays, as a
    parameter grid may hold, become plain numbers and lists)."""
    return json.dumps(value, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))


def apply_overrides(root: Node, overrides: list[str]) -> Node:
    for text in overrides:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise UsageError(Diagnostic(Location(FILE, 1, 1), f"--set expects KEY.PATH=VALUE, got '{text}'"))
        # pad so that the value's column is its column within the argument
        node = parse_yaml(" " * (len(key) + 1) + value if value.strip() else "null", FILE)
        _assign(root, key.split("."), node, text)
    return root


def _assign(root: Node, path: list[str], value: Node, text: str) -> None:
    parent = root
    for depth, part in enumerate(path):
        last = depth == len(path) - 1
        where = ".".join(path[: depth + 1])
        if isinstance(parent, Map):
            if last:
                parent.entries[part] = value
                parent.key_locs[part] = value.loc
                return
            if part not in parent.entries:
                parent.entries[part] = Map({}, value.loc)
                parent.key_locs[part] = value.loc
            parent = parent.entries[part]
        elif isinstance(parent, Seq) and part.isdigit() and int(part) < len(parent.items):
            if last:
                parent.items[int(part)] = value
                return
            parent = parent.items[int(part)]
        else:
            raise UsageError(Diagnostic(Location(FILE, 1, 1),
                                        f"--set {text}: '{where}' does not lead to a value in the spec"))
