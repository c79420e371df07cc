"""Helpers for tests: run a spec through the CLI, compare run folders, check gradients."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ebmlang.backend import to_numpy
from ebmlang.cli import main


def run_spec(tmp_path: Path, text: str, name: str, *sets) -> tuple[int, dict, Path]:
    """`ebm run` of spec ``text`` with ``--set`` overrides: (exit code, summary, run folder)."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    out = tmp_path / name
    args = ["run", str(path), "--out", str(out), "--quiet"]
    for s in sets:
        args += ["--set", s]
    code = main(args)
    summary = json.loads((out / "summary.json").read_text()) if code == 0 else {}
    return code, summary, out


def assert_matches_finite_differences(value, params: dict, grads: dict, keys, xp, h: float = 1e-6) -> None:
    """Each of ``grads[key]`` equals the central-difference slope of ``value(params)`` (a float)."""
    for key in keys:
        base = to_numpy(params[key]).copy()
        slope = np.zeros_like(base)
        for i in np.ndindex(base.shape):
            for sign in (1, -1):
                shifted = base.copy()
                shifted[i] += sign * h
                slope[i] += sign * value({**params, key: xp.asarray(shifted)}) / (2 * h)
        np.testing.assert_allclose(to_numpy(grads[key]), slope, rtol=1e-4, atol=1e-5, err_msg=key)


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


def planted_ratings(path, users=80, items=40, seed=0):
    """Ratings with planted structure: two user tastes × two item kinds, 60 % observed."""
    gen = np.random.default_rng(seed)
    taste, kind = gen.integers(0, 2, users), gen.integers(0, 2, items)
    lines = []
    for u in range(users):
        for i in range(items):
            if gen.random() < 0.6:
                rating = np.clip(np.where(taste[u] == kind[i], 5, 1) + gen.integers(-1, 2), 1, 5)
                lines.append(f"{u + 1}\t{i + 101}\t{rating}\t0")
    path.write_text("\n".join(lines) + "\n")
