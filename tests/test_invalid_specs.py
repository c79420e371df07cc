"""Every file in specs/invalid/ holds one mistake and ends with the one line it must produce:

    # expect: LINE:COL: message          (checked by `ebm validate`, or by `ebm run` when
    # command: run                        the mistake is in the data, which only a run loads)

The error must be exactly that one line, exit code 2, no traceback, and no run folder.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ebmlang.cli import main

INVALID = sorted((Path(__file__).resolve().parents[1] / "specs" / "invalid").glob("*.yaml"))


def _expectation(path: Path) -> tuple[str, bool]:
    lines = path.read_text().splitlines()
    expect = [l[len("# expect: "):] for l in lines if l.startswith("# expect: ")]
    assert len(expect) == 1, f"{path.name} needs exactly one '# expect:' line"
    return expect[0], "# command: run" in lines


def test_there_are_at_least_25_distinct_mistakes():
    messages = {_expectation(p)[0].split(": ", 1)[1] for p in INVALID}
    assert len(INVALID) >= 25 and len(messages) == len(INVALID)


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_spec_gives_its_one_line_error(path, tmp_path, capsys):
    expect, by_run = _expectation(path)
    out = tmp_path / "run"
    args = ["run", str(path), "--out", str(out), "--quiet"] if by_run else ["validate", str(path)]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"{path}:{expect}\n"
    assert not out.exists(), "a bad input must not leave a run folder behind"


@pytest.mark.parametrize("path", INVALID[:3] + [p for p in INVALID
                                                if "width" in p.name or "empty" in p.name])
def test_invalid_spec_from_a_real_process(path, tmp_path):
    """The installed entry point: exit 2, a single line on stderr, no traceback."""
    expect, by_run = _expectation(path)
    args = ["run", str(path), "--out", str(tmp_path / "r"), "--quiet"] if by_run else ["validate", str(path)]
    proc = subprocess.run([sys.executable, "-m", "ebmlang.cli", *args], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == f"{path}:{expect}\n"
    assert "Traceback" not in proc.stderr + proc.stdout
