"""Typed spec -> plain data, walking the same constraint tables that built it.

The result is what `spec.resolved.yaml` holds: every default filled in, and valid input to
:func:`ebmlang.spec.load_spec` again (a test checks the round trip).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import yaml

from .constraints import (Choice, Constraint, Discriminated, FilePath, ListOf, MapOf, OneOrList,
                          Section, Tagged)
from .schema import SPEC, Spec

Paths = Callable[[str, str], str] | None       # (path as written, its base) -> path as dumped


def dump(value: Any, constraint: Constraint, paths: Paths = None) -> Any:
    """``value`` as plain data; ``paths`` rewrites every FilePath (None: as written)."""
    if isinstance(constraint, Discriminated):
        return dump(value, constraint.variants[value.source], paths)
    if isinstance(constraint, Section):
        return _section(value, constraint, paths)
    if isinstance(constraint, Tagged):
        return _choice(value, constraint, paths)
    if isinstance(constraint, ListOf):
        return [dump(v, constraint.item, paths) for v in value]
    if isinstance(constraint, OneOrList):
        if isinstance(value, tuple):
            return [dump(v, constraint.item, paths) for v in value]
        return dump(value, constraint.item, paths)
    if isinstance(constraint, MapOf):
        return {k: dump(v, constraint.value, paths) for k, v in value.items()}
    if isinstance(constraint, FilePath) and paths is not None:
        return paths(value, constraint.base)
    return value


def _section(value: Any, section: Section, paths: Paths) -> dict:
    out = {}
    for name, f in section.fields.items():
        v = value.get(name) if isinstance(value, dict) else getattr(value, name)
        if v is None:
            if isinstance(f.constraint, Section) and f.constraint.switchable and f.default is not None:
                out[name] = False          # switched off; omitting it would switch it back on
            continue
        out[name] = dump(v, f.constraint, paths)
    return out


def _choice(value: Choice, tagged: Tagged, paths: Paths) -> Any:
    section = tagged.options[value.kind]
    if section is None:
        return value.kind
    return {value.kind: _section(value.options, section, paths)}


def absolute_paths(spec: Spec) -> Callable[[str, str], str]:
    """The FilePath rewrite of a run folder's spec: a path made absolute (from the spec's folder,
    or the working directory) where it names something there; one found elsewhere (a ratings
    file in $EBMLANG_DATA) stays as written, to be looked up the same way again."""
    folder = Path(spec.file).parent

    def absolute(written: str, base: str) -> str:
        path = Path(written).expanduser()
        if not path.is_absolute():
            path = (folder if base == "spec" else Path.cwd()) / path
        return str(path.resolve()) if path.exists() else written
    return absolute


def to_plain(spec: Spec, absolute: bool = False) -> dict:
    """The spec as plain data; ``absolute``: its paths as ``absolute_paths`` writes them."""
    out = dump(spec, SPEC, absolute_paths(spec) if absolute else None)
    if spec.problem is not None:       # the model was generated from the problem: not written twice
        out.pop("model", None)
    return out


def to_yaml(spec: Spec, absolute: bool = False) -> str:
    return yaml.safe_dump(to_plain(spec, absolute), sort_keys=False, default_flow_style=None,
                          width=100)
