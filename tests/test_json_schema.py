"""The JSON Schema of a spec (``ebmlang.spec.json_schema``) against the validator it is walked from.

The schema may accept a spec that `ebm validate` refuses (a rule across fields, or on the data,
that JSON Schema cannot hold), but must never refuse one it accepts. Specs are read as the
validator reads them (its YAML reader: `1e-3` is a float there, a string to yaml.safe_load), then
passed through JSON, which is what an editor hands the schema.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import event, given
from hypothesis import strategies as st

from ebmlang import parse_spec
from ebmlang.errors import EbmError, SpecError
from ebmlang.spec.checks import check_runnable
from ebmlang.spec.json_schema import json_schema
from ebmlang.spec.nodes import parse_yaml, to_plain
from ebmlang.spec.schema import SPEC
from strategies import spec_dicts

jsonschema = pytest.importorskip("jsonschema")

try:    # specs drawn from the tables, most of them invalid across fields (test_spec_fuzz.py)
    from test_spec_fuzz import from_table
    TABLE_DRAWN = from_table(SPEC)
except TypeError:       # a table holds a constraint that module cannot draw yet
    TABLE_DRAWN = None

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(ROOT.glob("specs/*.yaml")) + sorted(ROOT.glob("examples/*.yaml"))
INVALID = sorted((ROOT / "specs" / "invalid").glob("*.yaml"))

# specs/invalid cases whose one mistake the schema holds: a wrong type, a number out of range,
# an unknown key, an unknown choice, a missing required key, a name that is not an identifier,
# and the whole file's rules (exactly one of model/problem/template; a template writes `train`;
# a problem has `optimize`)
EXPRESSIBLE = {3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 26, 28, 29, 30, 31, 32, 41, 43, 44, 52,
               53, 78, 81, 83, 109, 125, 127, 128, 138}
# the rest, by why JSON Schema cannot hold them (they are left to `ebm validate` / `ebm run`)
NOT_EXPRESSIBLE = {
    # found by the YAML reader before there are values to check: syntax, a duplicate key (which
    # a JSON object cannot even hold), an empty file
    "yaml": {1, 2, 34},
    # a name that must refer to a declared layer, or to a layer of a given type or role
    "reference": {8, 40, 54, 55, 56, 59, 73, 82, 97, 99, 104, 124, 126},
    # one key's allowed values depend on another key's value (checks.py, stage_checks.py):
    # possible as hand-written if/then rules, which would no longer come from the tables
    "combination": {16, 17, 23, 27, 33, 42, 51, 58, 70, 77, 84, 90, 92, 94, 96, 102, 105, 108, 111, 112,
                    116, 117, 129, 130, 132, 133, 137},
    # sizes, products, orders and counts that must agree (shape × shape = size, loads increase)
    "arithmetic": {18, 19, 20, 21, 22, 49, 50, 79, 101, 118, 134, 135},
    # the model's graph of layers, couplings, unit types and rules as a whole (25: one pair
    # coupled twice, however the two entries differ otherwise)
    "structure": {24, 25, 47, 48, 57, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 71, 72, 74, 75, 76,
                  80, 85, 86, 87, 88, 89, 91, 93, 95, 98, 100, 103, 106, 107, 110, 113, 114, 115,
                  119, 120, 121, 131, 139},
    # files and the data read from them (`ebm run`)
    "data": {35, 36, 37, 38, 39, 45, 46, 122, 123, 136},
}


def _number(path: Path) -> int:
    return int(path.name.split("-")[0])


def _as_json(value):
    """What an editor hands the schema: JSON (a YAML date becomes its text)."""
    return json.loads(json.dumps(value, default=str))


def _read(path: Path):
    return _as_json(to_plain(parse_yaml(path.read_text(), str(path))))


@pytest.fixture(scope="module")
def validator():
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(validator, value) -> list[str]:
    return [f"{e.json_path}: {e.message[:300]}" for e in validator.iter_errors(value)]


def test_the_schema_is_valid_draft_2020_12():
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert json.loads(json.dumps(schema)) == schema


def _keyed(schema, fields_only=False):
    """Every (key, schema) in a `properties` anywhere in ``schema``; ``fields_only``: those of
    the tables' sections, not a tag's body (`normal:` in `init: {normal: …}`)."""
    if isinstance(schema, dict):
        tagged = schema.get("maxProperties") == 1
        if not (fields_only and tagged) and schema.get("additionalProperties") is False:
            yield from schema["properties"].items()
        for sub in schema.values():
            yield from _keyed(sub, fields_only)
    elif isinstance(schema, list):
        for sub in schema:
            yield from _keyed(sub, fields_only)


def test_every_field_has_a_description_for_hover_docs():
    fields = list(_keyed(json_schema(), fields_only=True))
    assert len(fields) > 200
    assert [key for key, sub in fields if not sub.get("description")] == []


def test_every_default_is_valid_where_it_stands():
    schema = json_schema()
    defaults = [(key, sub) for key, sub in _keyed(schema) if "default" in sub]
    assert len(defaults) > 100
    for key, sub in defaults:
        # a default is a value a user could write: it passes its own key's schema
        alone = {**{k: v for k, v in sub.items() if k != "default"}, "$defs": schema["$defs"]}
        valid = jsonschema.Draft202012Validator(alone).is_valid(sub["default"])
        assert valid, (key, sub["default"])


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_spec_passes(validator, path):
    assert _errors(validator, _read(path)) == []


def test_the_invalid_cases_are_all_classified():
    numbers = {_number(p) for p in INVALID}
    groups = list(NOT_EXPRESSIBLE.values())
    assert sum(map(len, groups)) == len(set().union(*groups)), "a case is in two groups"
    assert EXPRESSIBLE.isdisjoint(set().union(*groups))
    assert EXPRESSIBLE | set().union(*groups) == numbers


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_an_invalid_case_is_refused_exactly_when_the_schema_can_express_it(validator, path):
    number = _number(path)
    if number in NOT_EXPRESSIBLE["yaml"]:
        with pytest.raises(SpecError):
            _read(path)
        return
    refused = _errors(validator, _read(path))
    if number in EXPRESSIBLE:
        assert refused, f"{path.name}: the schema should refuse it"
    else:   # if the schema learns to refuse it, move it to EXPRESSIBLE
        assert refused == [], f"{path.name} is refused now: {refused}"


@given(spec_dicts())
def test_generated_valid_specs_pass(validator, spec):
    assert _errors(validator, _as_json(spec)) == []


@pytest.mark.skipif(TABLE_DRAWN is None, reason="test_spec_fuzz cannot draw from every table")
@given(st.nothing() if TABLE_DRAWN is None else TABLE_DRAWN)
def test_whatever_the_validator_accepts_the_schema_accepts(validator, plain):
    text = yaml.safe_dump(plain)
    try:
        check_runnable(parse_spec(text, "drawn.yaml"))     # what a spec file must pass
    except EbmError:
        event("refused by the validator")
        return
    event("accepted by the validator")
    assert _errors(validator, _as_json(to_plain(parse_yaml(text, "drawn.yaml")))) == []


def test_the_sweep_section_is_checked(validator):
    base = _read(ROOT / "specs" / "rbm-bars-and-stripes.yaml")
    good = {**base, "sweep": {"grid": {"train.k": [1, 3], "model.layers.h.size": [8]},
                              "seeds": 2, "metric": "log_likelihood.exact"}}
    assert _errors(validator, good) == []
    for bad in ({"grid": {"train k": [1]}}, {"grid": {"train.k": []}}, {"grid": {}},
                {"grid": {"train.k": [1]}, "seeds": 0}, {"grid": {"train.k": [1]}, "x": 1}):
        assert _errors(validator, {**base, "sweep": bad}), bad


def test_ebm_schema_prints_the_schema(capsys):
    from ebmlang.cli import main
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == _as_json(json_schema())


def test_ebm_schema_into_a_pipe_closed_early_is_no_error():
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, "-m", "ebmlang.cli", "schema"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()                         # gone before a line is written, as `| head` may be
    assert proc.wait(timeout=60) == 0
    assert b"internal error" not in proc.stderr.read()
