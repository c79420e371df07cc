"""Typed spec -> plain data, walking the same constraint tables that built it.

The result is what `spec.resolved.yaml` holds: every default filled in, and valid input to
:func:`ebmlang.spec.load_spec` again (a test checks the round trip).
"""
from __future__ import annotations

from typing import Any

import yaml

from .constraints import Choice, Constraint, Discriminated, ListOf, MapOf, OneOrList, Section, Tagged
from .schema import SPEC, Spec


def dump(value: Any, constraint: Constraint) -> Any:
    if isinstance(constraint, Discriminated):
        return dump(value, constraint.variants[value.source])
    if isinstance(constraint, Section):
        return _section(value, constraint)
    if isinstance(constraint, Tagged):
        return _choice(value, constraint)
    if isinstance(constraint, ListOf):
        return [dump(v, constraint.item) for v in value]
    if isinstance(constraint, OneOrList):
        return [dump(v, constraint.item) for v in value] if isinstance(value, tuple) else dump(value, constraint.item)
    if isinstance(constraint, MapOf):
        return {k: dump(v, constraint.value) for k, v in value.items()}
    return value


def _section(value: Any, section: Section) -> dict:
    out = {}
    for name, f in section.fields.items():
        v = value.get(name) if isinstance(value, dict) else getattr(value, name)
        if v is None:
            if isinstance(f.constraint, Section) and f.constraint.switchable and f.default is not None:
                out[name] = False          # switched off; omitting it would switch it back on
            continue
        out[name] = dump(v, f.constraint)
    return out


def _choice(value: Choice, tagged: Tagged) -> Any:
    section = tagged.options[value.kind]
    if section is None:
        return value.kind
    return {value.kind: _section(value.options, section)}


def to_plain(spec: Spec) -> dict:
    out = dump(spec, SPEC)
    if spec.problem is not None:       # the model was generated from the problem: not written twice
        out.pop("model", None)
    return out


def to_yaml(spec: Spec) -> str:
    return yaml.safe_dump(to_plain(spec), sort_keys=False, default_flow_style=None, width=100)
