"""The spec language as a JSON Schema (draft 2020-12), walked from the constraint tables that
validate a spec, so that the two cannot drift apart.

    python -c "import json; from ebmlang.spec.json_schema import json_schema; \\
               print(json.dumps(json_schema(), indent=1))" > ebmlang.schema.json

An editor's YAML language server reads it for completion, hover docs (each key's
`description` is the meaning column of docs/spec.md) and early marks on mistakes. It holds the
tables' local rules — types, ranges, choices, required and unknown keys — and the two rules of
the whole file that ``parse_spec`` and ``expand_template`` add (exactly one of `model`,
`problem`, `template`; a template writes `train` itself). Rules across fields (a coupling names
a declared layer, a lattice fits its layer: ``checks.py``, ``stage_checks.py``) and rules on the
data stay with `ebm validate` and `ebm run`. So the schema may accept a spec the validator
refuses, but must never refuse one it accepts.

Values are as the spec's reader reads them (``nodes.py``: YAML 1.1, with `1e-3` a float). A
language server that reads YAML 1.2 sees the same values for everything a spec normally holds;
it differs on the YAML 1.1 words `yes`/`no`/`on`/`off` (booleans to ebmlang, strings to it) and
on `1_000` (an integer to ebmlang, a string to it), which it would mark although ebmlang reads
them.

Cost: one walk of the tables; the tables shared by several sections (a training stage, an
optimizer, an initialiser, a temperature schedule) are written once, under `$defs`.
"""
from __future__ import annotations

import json
from functools import singledispatchmethod
from typing import Any

from .constraints import (EMPTY, REQUIRED, AnyOf, Bool, Constraint, Discriminated, Enum, Field,
                          Float, Identifier, Int, ListOf, MapOf, OneOrList, Section, Str, Tagged)
from .dump import dump
from .schema import INIT, SPEC
from .train_schema import OPTIMIZER, TEMPERATURES, TRAIN
from .sweep_schema import DOTTED_PATH, AnyValue, PathMap

DRAFT = "https://json-schema.org/draft/2020-12/schema"

# tables used in several places, written once under `$defs` (only the layout depends on this)
SHARED = {"stage": TRAIN, "optimizer": OPTIMIZER, "initialiser": INIT, "temperatures": TEMPERATURES}


def json_schema() -> dict:
    """A JSON Schema for a whole spec file (a fresh dict on each call)."""
    writer = _Writer()
    body = writer.schema(SPEC)
    return {"$schema": DRAFT, "title": "ebmlang spec",
            "description": "A spec of the ebmlang language: a model, its data, how to train it and "
                           "what to measure (docs/spec.md). `ebm validate` checks more than this "
                           "schema: the rules across fields and the data.",
            **body, **_whole_file_rules(), "$defs": writer.defs}


def _whole_file_rules() -> dict:
    """The rules ``parse_spec`` and ``expand_template`` add to the top-level table: the model is
    written (`model`), generated from a problem (`problem`) or from a template (`template`) —
    exactly one of them —, a template generates `train` too, and a problem is solved by
    `optimize` (``checks.check_runnable``: a Python caller may compile
    a problem without it, a spec file may not)."""
    return {"oneOf": [{"required": [key]} for key in ("model", "problem", "template")],
            "dependentSchemas": {"template": {"not": {"required": ["train"]}}},
            "dependentRequired": {"problem": ["optimize"]}}


class _Writer:
    """Constraint -> JSON Schema; the shared tables go to ``defs`` and are referred to."""

    def __init__(self) -> None:
        self.defs: dict[str, dict] = {}
        self._names = {id(c): name for name, c in SHARED.items()}

    def schema(self, c: Constraint) -> dict:
        name = self._names.get(id(c))
        if name is None:
            return self._inline(c)
        if name not in self.defs:
            self.defs[name] = {}                # claimed first, so a table that nests itself ends
            self.defs[name] = self._inline(c)
        return {"$ref": f"#/$defs/{name}"}

    @singledispatchmethod
    def _inline(self, c: Constraint) -> dict:
        # a constraint defined beside its table (not in constraints.py) and not taught to this
        # module: any value passes here, and `ebm validate` still checks it
        return {"$comment": f"{type(c).__name__}: not checked by this schema"}

    @_inline.register(Int)
    def _int(self, c: Int) -> dict:
        # JSON Schema counts 2.0 as an integer, ebmlang does not: a mistake left to the validator
        return {"type": "integer", **_bounds(c.min, c.max, False, False)}

    @_inline.register(Float)
    def _float(self, c: Float) -> dict:
        return {"type": "number", **_bounds(c.min, c.max, c.min_open, c.max_open)}

    @_inline.register(Bool)
    def _bool(self, c: Bool) -> dict:
        return {"type": "boolean"}

    @_inline.register(Str)
    def _str(self, c: Str) -> dict:
        # a number is read as its text (`name: 007` is "007"); its text is not checked here
        out = {"type": ["string", "number"]}
        return {**out, "pattern": _anchored(c.pattern)} if c.pattern else out

    @_inline.register(Identifier)
    def _identifier(self, c: Identifier) -> dict:
        # the text of a YAML number starts with a digit, a sign or '.': never an identifier
        return {"type": "string", "pattern": _anchored(c.pattern)}

    @_inline.register(Enum)
    def _enum(self, c: Enum) -> dict:
        return {"enum": list(c.choices)}

    @_inline.register(AnyOf)
    def _any_of(self, c: AnyOf) -> dict:
        return {"anyOf": [self.schema(o) for o in c.options]}

    @_inline.register(ListOf)
    def _list_of(self, c: ListOf) -> dict:
        out = _array(self.schema(c.item), c.min_len, c.max_len)
        return {**out, "uniqueItems": True} if c.unique else out

    @_inline.register(OneOrList)
    def _one_or_list(self, c: OneOrList) -> dict:
        one = self.schema(c.item)
        return {"anyOf": [one, _array(one, 1, None)]}

    @_inline.register(MapOf)
    def _map_of(self, c: MapOf) -> dict:
        out = {"type": "object", "propertyNames": self._inline(Identifier()),
               "additionalProperties": self.schema(c.value)}
        return {**out, "minProperties": c.min_len} if c.min_len else out

    @_inline.register(Section)
    def _section(self, c: Section) -> dict:
        required = _required(c)
        types = ["object"]
        if not required:
            types.append("null")                # `key:` with no value reads as {}: every default
            if c.switchable:
                types.append("boolean")         # true: the defaults; false: switched off
        out = {"type": types if len(types) > 1 else "object",
               "properties": {name: self._field(f) for name, f in c.fields.items()},
               "additionalProperties": False}
        out.update({"required": required} if required else {})
        out.update({"description": c.doc} if c.doc else {})
        return {"anyOf": [{"const": False}, out]} if c.switchable and required else out

    @_inline.register(Tagged)
    def _tagged(self, c: Tagged) -> dict:
        # a tag alone stands for {tag: {}}, so it is allowed where the tag's options all default
        bare = [tag for tag, s in c.options.items() if s is None or not _required(s)]
        bodies = {tag: {"type": "null"} if s is None else self.schema(s)
                  for tag, s in c.options.items()}
        written = {"type": "object", "properties": bodies, "additionalProperties": False,
                   "minProperties": 1, "maxProperties": 1}
        return {"title": c.title, "anyOf": [{"enum": bare}, written]}

    @_inline.register(Discriminated)
    def _discriminated(self, c: Discriminated) -> dict:
        chosen = [{"if": {"properties": {c.key: {"const": tag}}}, "then": self.schema(s)}
                  for tag, s in c.variants.items()]
        return {"type": "object", "required": [c.key],
                "properties": {c.key: {"enum": list(c.variants)}}, "allOf": chosen}

    @_inline.register(PathMap)
    def _path_map(self, c: PathMap) -> dict:
        return {"type": "object", "minProperties": 1,
                "propertyNames": {"pattern": _anchored(DOTTED_PATH.pattern)},
                "additionalProperties": self.schema(c.value)}

    @_inline.register(AnyValue)
    def _any_value(self, c: AnyValue) -> dict:
        return {}                               # typed later, by the table of the path it is set at

    def _field(self, f: Field) -> dict:
        out = {**self.schema(f.constraint), "description": f.doc or f.constraint.describe()}
        default = _json_default(f)
        return out if default is _NO_DEFAULT else {**out, "default": default}


_NO_DEFAULT = object()


def _json_default(f: Field) -> Any:
    """The default as the value a user would write, or _NO_DEFAULT. A default of None means
    "absent", which is not the same as writing null (null reads as {} for a section and is an
    error elsewhere), so it is left out."""
    if f.default is REQUIRED or f.default is None:
        return _NO_DEFAULT
    value = {} if f.default is EMPTY else dump(f.default, f.constraint)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return _NO_DEFAULT
    return value


def _required(section: Section) -> list[str]:
    return [name for name, f in section.fields.items() if f.default is REQUIRED]


def _bounds(lo, hi, lo_open: bool, hi_open: bool) -> dict:
    out = {}
    if lo is not None:
        out["exclusiveMinimum" if lo_open else "minimum"] = lo
    if hi is not None:
        out["exclusiveMaximum" if hi_open else "maximum"] = hi
    return out


def _array(item: dict, min_len: int, max_len: int | None) -> dict:
    out = {"type": "array", "items": item}
    out.update({"minItems": min_len} if min_len else {})
    out.update({"maxItems": max_len} if max_len is not None else {})
    return out


def _anchored(pattern: str) -> str:
    """The validator matches whole strings; JSON Schema searches, so anchor the pattern."""
    if pattern.startswith("^") and pattern.endswith("$"):
        return pattern
    return f"^(?:{pattern})$"


__all__ = ["json_schema"]
