"""Fuzzing the loader and the validator with arbitrary input: text, bytes, and YAML documents of
any nesting, scalar and key (spec words among them, to get past the first table). Every one ends
in exit 0 or in located exit-2 lines: never an exception, never more than a bounded time or memory.

The default run tries a few hundred documents; CI's slow step tries five thousand."""
from __future__ import annotations

import contextlib
import io
import re
import resource
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ebmlang.cli import main
from ebmlang.spec.schema import DATA_SOURCES, UNIT_TYPES

LOCATED = re.compile(r"^.+:\d+:\d+: \S.*$")
WORDS = ["name", "seed", "model", "layers", "couplings", "between", "size", "units", "train", "rule", "epochs",
         "data", "source", "evaluate", "connectivity", "dense", "lattice", "dims", "template", "rbm", "vae",
         "gan", "k", "batch_size", "optimizer", "sgd", "adam", "lr", "v", "h", "categories", "missing",
         "sample", "temperatures", "log_likelihood", "method", "problem", "kind", "init", "normal", "std",
         *UNIT_TYPES, *DATA_SOURCES]
SCALARS = (st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True)
           | st.sampled_from(WORDS) | st.text(max_size=12))
KEYS = st.sampled_from(WORDS) | st.text(max_size=8)
DOCUMENTS = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                         | st.dictionaries(KEYS, inner, max_size=5), max_leaves=40)
SPECISH = st.fixed_dictionaries({"name": st.sampled_from(["f", "x y", ""]), "model": DOCUMENTS},
                                optional={"train": DOCUMENTS, "data": DOCUMENTS, "evaluate": DOCUMENTS})
INPUTS = (st.binary(max_size=600) | st.text(max_size=600).map(str.encode)
          | DOCUMENTS.map(lambda d: yaml.safe_dump(d).encode()) | SPECISH.map(lambda d: yaml.safe_dump(d).encode()))
SECONDS = 5.0                           # per document
MAX_RSS_KIB = 3 * 2 ** 20               # the whole test process stays under 3 GiB


def _validate(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_bytes(content)
        err = io.StringIO()
        started = time.perf_counter()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["validate", str(path)])
        assert time.perf_counter() - started < SECONDS
    assert code in (0, 2), err.getvalue()
    if code == 2:
        lines = err.getvalue().strip().splitlines()
        assert lines and all(LOCATED.match(line) and line.startswith(str(path)) for line in lines), err.getvalue()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < MAX_RSS_KIB


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(INPUTS)
def test_any_input_validates_or_fails_located(content):
    _validate(content)


@pytest.mark.slow
@settings(max_examples=3_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(INPUTS)
def test_any_input_validates_or_fails_located_thoroughly(content):
    _validate(content)
