"""Helpers for tests that compare run folders."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def metrics(path: Path) -> list[dict]:
    """metrics.jsonl without the wall-clock field (the one thing that may differ between runs)."""
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"}
            for line in (path / "metrics.jsonl").read_text().splitlines()]


def assert_same_run(a: Path, b: Path) -> None:
    """Every array of model.npz and every metrics record equal, bit for bit."""
    with np.load(a / "model.npz") as x, np.load(b / "model.npz") as y:
        assert sorted(x.files) == sorted(y.files)
        for key in x.files:
            np.testing.assert_array_equal(x[key], y[key], err_msg=key)
    assert metrics(a) == metrics(b)
