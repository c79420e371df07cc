"""docs/spec.md must agree with the constraint tables it documents."""
from pathlib import Path

from ebmlang.spec.docs import BEGIN, END, reference
from ebmlang.spec.schema import SPEC

DOC = Path(__file__).resolve().parents[1] / "docs" / "spec.md"


def test_reference_in_docs_matches_the_tables():
    text = DOC.read_text()
    generated = text[text.index(BEGIN): text.index(END) + len(END)] + "\n"
    assert generated == reference(), "docs/spec.md is stale: run `python -m ebmlang.spec.docs` and paste it in"


def test_every_top_level_key_is_documented():
    text = DOC.read_text()
    for key in SPEC.fields:
        assert f"| `{key}` |" in text
