"""Specs drawn from the constraint tables themselves (the third use of the one table).

Whatever the tables allow, validation must end in a Spec or in located SpecErrors — never in
another exception — and a wrong-typed value anywhere must be reported at a line of the file.
"""
from __future__ import annotations

import yaml
from hypothesis import event, given
from hypothesis import strategies as st

from ebmlang import parse_spec
from ebmlang.errors import EbmError
from ebmlang.spec.constraints import (AnyOf, Bool, Discriminated, Enum, Float, Identifier, Int, ListOf, MapOf,
                                      OneOrList, REQUIRED, Section, Str, Tagged)
from ebmlang.spec.schema import SPEC
from ebmlang.spec.sweep_schema import AnyValue, PathMap

NAMES = st.sampled_from(["v", "h", "h2", "x"])


def from_table(c, depth=0):
    """A hypothesis strategy of plain values that the constraint ``c`` accepts (mostly)."""
    if isinstance(c, Int):
        lo = c.min if c.min is not None else -3
        return st.integers(lo, c.max if c.max is not None else lo + 6)
    if isinstance(c, Float):
        lo = c.min if c.min is not None else -2.0
        hi = c.max if c.max is not None else lo + 4.0
        return st.floats(lo, hi, exclude_min=c.min_open, exclude_max=c.max_open, allow_nan=False)
    if isinstance(c, Bool):
        return st.booleans()
    if isinstance(c, Identifier):
        return NAMES
    if isinstance(c, Str):
        return st.sampled_from(["run", "a.b", "x_1"])
    if isinstance(c, Enum):
        return st.sampled_from(c.choices)
    if isinstance(c, AnyOf):
        return st.one_of([from_table(o, depth) for o in c.options])
    if isinstance(c, ListOf):
        hi = c.max_len if c.max_len is not None else c.min_len + 2
        return st.lists(from_table(c.item, depth + 1), min_size=c.min_len, max_size=hi)
    if isinstance(c, OneOrList):
        one = from_table(c.item, depth + 1)
        return st.one_of(one, st.lists(one, min_size=1, max_size=2))
    if isinstance(c, MapOf):
        return st.dictionaries(NAMES, from_table(c.value, depth + 1), min_size=max(1, c.min_len), max_size=3)
    if isinstance(c, PathMap):
        paths = st.sampled_from(["train.k", "seed", "model.layers.h.size"])
        return st.dictionaries(paths, from_table(c.value, depth + 1), min_size=1, max_size=2)
    if isinstance(c, AnyValue):
        return st.one_of(st.integers(-3, 3), st.sampled_from(["a", 0.5, None]))
    if isinstance(c, Tagged):
        return st.sampled_from(sorted(c.options)).flatmap(
            lambda tag: st.just(tag) if c.options[tag] is None else
            from_table(c.options[tag], depth + 1).map(lambda body: {tag: body}))
    if isinstance(c, Discriminated):
        return st.sampled_from(sorted(c.variants)).flatmap(
            lambda tag: from_table(c.variants[tag], depth + 1).map(lambda body: {**body, c.key: tag}))
    if isinstance(c, Section):
        return _section(c, depth)
    raise TypeError(f"no strategy for {type(c).__name__}")


def _section(c: Section, depth: int):
    required = {k: from_table(f.constraint, depth + 1) for k, f in c.fields.items() if f.default is REQUIRED}
    optional = {k: from_table(f.constraint, depth + 1) for k, f in c.fields.items() if f.default is not REQUIRED}
    return st.fixed_dictionaries(required, optional=optional)


def _check_located(exc: EbmError, lines: int):
    for d in exc.diagnostics:
        assert d.location.file == "fuzz.yaml" and 1 <= d.location.line <= max(lines, 1), str(d)


@given(from_table(SPEC))
def test_table_drawn_specs_validate_or_fail_with_located_errors(plain):
    text = yaml.safe_dump(plain)
    try:
        spec = parse_spec(text, "fuzz.yaml")
    except EbmError as exc:
        _check_located(exc, text.count("\n"))
        event("rejected, with located errors")
    else:
        assert spec.name == plain["name"]
        event("valid")


def _leaves(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, path + (i,))
    else:
        yield path


@given(from_table(SPEC), st.data())
def test_a_wrong_typed_value_is_always_reported_at_a_line(plain, data):
    # A `sweep.grid` value is any YAML value to parse_spec (`AnyValue`): it is typed by the table
    # of the path it sets, when `ebm validate` or `ebm sweep` loads each trial (test_sweep.py).
    paths = [p for p in _leaves(plain) if p and p[:2] != ("sweep", "grid")]
    path = data.draw(st.sampled_from(paths))
    target = plain
    for key in path[:-1]:
        target = target[key]
    old = target[path[-1]]
    target[path[-1]] = [["not", "a", "scalar"]] if not isinstance(old, list) else {"oops": 1}
    text = yaml.safe_dump(plain)
    try:
        parse_spec(text, "fuzz.yaml")
    except EbmError as exc:
        _check_located(exc, text.count("\n"))
    else:
        raise AssertionError(f"{'.'.join(map(str, path))} = {target[path[-1]]!r} was accepted")
