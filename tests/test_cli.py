"""`ebm` end to end: run, validate, graph, resume; exit codes and the run folder's contents."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from ebmlang import load_spec
from ebmlang.cli import main
from ebmlang.spec import to_plain
from runs import assert_same_run

SPECS = Path(__file__).resolve().parents[1] / "specs"
FAST = ["train.epochs=3", "data.samples=200", "evaluate.samples.steps=5"]


def _run(tmp_path, spec="rbm-bars-and-stripes.yaml", *sets, name="run"):
    out = tmp_path / name
    args = ["run", str(SPECS / spec), "--out", str(out), "--quiet"]
    for s in sets:
        args += ["--set", s]
    return main(args), out


def test_run_leaves_a_complete_run_folder(tmp_path):
    code, out = _run(tmp_path, "rbm-bars-and-stripes.yaml", *FAST)
    assert code == 0
    for name in ("spec.resolved.yaml", "model.npz", "metrics.jsonl", "summary.json", "run.json",
                 "samples.png", "filters.png", "curves.png"):
        assert (out / name).is_file(), name
    with np.load(out / "model.npz") as z:
        assert z["bias.v"].shape == (9,) and z["bias.h"].shape == (16,) and z["weight.v.h"].shape == (9, 16)
        assert int(z["train.epoch"]) == 3 and "chains.v" in z.files and "velocity.weight.v.h" in z.files
    records = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["log_likelihood.exact"] < 0 and summary["epochs"] == 3
    assert json.loads((out / "run.json").read_text())["status"] == "complete"


def test_resolved_spec_reloads_to_the_same_spec(tmp_path):
    code, out = _run(tmp_path, "grbm-mixture.yaml", "train.epochs=1", "evaluate.samples.steps=2")
    assert code == 0
    original = load_spec(SPECS / "grbm-mixture.yaml", ["train.epochs=1", "evaluate.samples.steps=2"])
    assert load_spec(out / "spec.resolved.yaml") == original
    assert yaml.safe_load((out / "spec.resolved.yaml").read_text()) == to_plain(original)


def test_resumed_run_equals_an_unbroken_one(tmp_path):
    """Stop after 2 epochs, resume to 4: parameters, chains, velocities, sparsity estimates, centring
    offsets and metrics match exactly."""
    sets = ["data.samples=200", "evaluate.samples.steps=5", "train.optimizer.sgd.schedule=constant",
            "train.sparsity={target: 0.2}", "train.centering=true"]
    _, whole = _run(tmp_path, "rbm-bars-and-stripes.yaml", *sets, "train.epochs=4", name="whole")
    _, broken = _run(tmp_path, "rbm-bars-and-stripes.yaml", *sets, "train.epochs=2", name="broken")
    assert main(["run", "--resume", str(broken), "--set", "train.epochs=4", "--quiet"]) == 0
    assert_same_run(whole, broken)


def test_eval_and_resume_find_the_files_the_spec_names(tmp_path, monkeypatch):
    """A spec's files are relative to the spec; the run folder's spec.resolved.yaml names them
    absolutely, so `ebm eval` and `--resume` find them from anywhere."""
    code, out = _run(tmp_path, "bm-encoder-4-2-4.yaml", "train.epochs=2")     # data/….npz
    assert code == 0
    monkeypatch.chdir(tmp_path)
    assert main(["eval", str(out), "--quiet"]) == 0
    assert main(["run", "--resume", str(out), "--set", "train.epochs=3", "--quiet"]) == 0


def test_resume_refuses_a_set_that_would_make_another_run(tmp_path, capsys):
    code, out = _run(tmp_path, "rbm-bars-and-stripes.yaml", *FAST)
    assert code == 0
    capsys.readouterr()
    for change in ("model.layers.h.units=spin", "data.side=4", "seed=5", "train.optimizer.sgd.lr=1"):
        assert main(["run", "--resume", str(out), "--set", change, "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("--set:1:1: --resume changes only the epochs") and err.count("\n") == 1
    assert main(["run", "--resume", str(out), "--set", "evaluate.samples.steps=3", "--quiet"]) == 0


def test_validate_accepts_every_shipped_spec(capsys):
    shipped = sorted(str(p) for p in [*SPECS.glob("*.yaml"), *(SPECS.parent / "examples").glob("*.yaml")])
    assert main(["validate", *shipped]) == 0
    assert f"{len(shipped)} spec(s) valid" in capsys.readouterr().out


def test_set_overrides_are_typed_by_the_table(tmp_path):
    spec = load_spec(SPECS / "rbm-mnist-small.yaml", ["name=007", "train.epochs=2", "model.temperature=2"])
    assert spec.name == "007" and spec.train.epochs == 2 and spec.model.temperature == 2.0


def test_bad_override_points_at_the_argument(capsys):
    assert main(["validate", str(SPECS / "rbm-mnist-small.yaml"), "--set", "train.epochs=many"]) == 2
    assert capsys.readouterr().err == "--set:1:14: train.epochs must be an integer ≥ 0, got 'many'\n"


def test_graph_prints_the_schedule_and_writes_files(tmp_path, capsys):
    for suffix in (".graphml", ".dot"):
        target = tmp_path / f"g{suffix}"
        assert main(["graph", str(SPECS / "rbm-mnist.yaml"), "--write", str(target)]) == 0
        assert target.stat().st_size > 0
    text = capsys.readouterr().out
    assert "schedule (2 blocks" in text and "block 0: v[all 784]" in text and "block 1: h[all 500]" in text
    nowhere = tmp_path / "no-such-folder" / "g.dot"
    assert main(["graph", str(SPECS / "rbm-mnist.yaml"), "--write", str(nowhere)]) == 2
    assert capsys.readouterr().err == f"--write:1:1: cannot write '{nowhere}': No such file or directory\n"
    for odd in ("", str(tmp_path / "g.png")):          # no format, or one it does not write
        assert main(["graph", str(SPECS / "rbm-mnist.yaml"), "--write", odd]) == 2
        assert capsys.readouterr().err.startswith("--write:1:1: unknown graph format")


def test_graph_colours_a_lattice_as_a_checkerboard(tmp_path, capsys):
    spec = tmp_path / "ising.yaml"
    spec.write_text("name: ising\nmodel:\n  layers:\n    s: {size: 16, units: spin}\n  couplings:\n"
                    "    - {between: [s, s], connectivity: {lattice: {dims: [4, 4]}}, init: {constant: {value: 1}}}\n")
    assert main(["graph", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "block 0: s[8 of 16]" in out and "block 1: s[8 of 16]" in out


def test_run_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    code = main(["run", str(SPECS / "rbm-bars-and-stripes.yaml"), "--out", str(tmp_path / "mine"), "--quiet"])
    assert code == 2 and (tmp_path / "mine" / "notes.txt").exists()


def test_resume_of_a_non_run_folder_is_a_usage_error(tmp_path, capsys):
    assert main(["run", "--resume", str(tmp_path)]) == 2
    assert "is not a run folder" in capsys.readouterr().err


def test_missing_spec_file_is_exit_2(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert capsys.readouterr().err.startswith(f"{tmp_path / 'nope.yaml'}:1:1: cannot read the spec")


def test_cupy_backend_without_a_device_is_a_clear_error(tmp_path, capsys):
    from ebmlang.backend import cupy_usable
    if cupy_usable():
        pytest.skip("a GPU is present")
    code, out = _run(tmp_path, "rbm-bars-and-stripes.yaml", "backend=cupy")
    err = capsys.readouterr().err
    assert code == 2 and "backend 'cupy' asked for" in err and err.count("\n") == 1 and not out.exists()


def test_examples_run(tmp_path):
    import subprocess
    import sys
    root = SPECS.parent
    proc = subprocess.run([sys.executable, "examples/python_api.py"], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "log p(v) after" in proc.stdout
    assert main(["run", str(root / "examples" / "lateral-rbm.yaml"), "--out", str(tmp_path / "lat"), "--quiet",
                 "--set", "train.epochs=2"]) == 0
    assert json.loads((tmp_path / "lat" / "summary.json").read_text())["log_likelihood.exact"] < 0


def test_eval_measures_a_finished_run_again(tmp_path, capsys):
    code, out = _run(tmp_path, "rbm-bars-and-stripes.yaml", *FAST)
    before = json.loads((out / "summary.json").read_text())
    with np.load(out / "model.npz") as z:
        weights = z["weight.v.h"].copy()
    assert main(["eval", str(out), "--quiet", "--set", "evaluate.log_likelihood={method: ais, runs: 50, steps: 200}",
                 "--set", "evaluate.pseudo_log_likelihood=true"]) == 0
    after = json.loads((out / "summary.json").read_text())
    assert after["epochs"] == before["epochs"] and "log_z.ais" in after and after["pseudo_log_likelihood"] < 0
    with np.load(out / "model.npz") as z:
        np.testing.assert_array_equal(z["weight.v.h"], weights)      # nothing was retrained
    assert main(["eval", str(out), "--set", "train.epochs=9"]) == 2
    assert "would need retraining" in capsys.readouterr().err


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_spec_survives_the_resolved_round_trip(path):
    """spec.resolved.yaml (stages, directed couplings, labels included) reloads to the same Spec."""
    from ebmlang import parse_spec
    from ebmlang.spec import to_yaml
    spec = load_spec(path)
    assert parse_spec(to_yaml(spec), "resolved.yaml") == spec
