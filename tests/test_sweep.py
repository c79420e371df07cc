"""`ebm sweep`: grids, trial folders, the table and figure, failures, resuming, Dask clusters,
and the capacity study on the same executors."""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ebmlang.cli import main
from ebmlang.errors import UsageError
from ebmlang.runner.grid import Axis, parse_grid_arg, plan_trials

SPECS = Path(__file__).resolve().parents[1] / "specs"

TINY = """name: tiny
seed: 0
data: {source: bars-and-stripes, side: 2, samples: 200}
model:
  layers:
    v: {size: 4, units: binary}
    h: {size: 3, units: binary}
  couplings:
    - {between: [v, h], init: {normal: {std: 0.1}}}
train: {rule: cd, k: 1, epochs: 5, batch_size: 20, optimizer: {sgd: {lr: 0.1}}}
evaluate:
  log_likelihood: {method: exact}
  samples: false
  filters: false
"""


def write_spec(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY + extra)
    return path


def sweep(*args) -> int:
    return main(["sweep", *map(str, args)])


def rows(folder: Path) -> list[dict]:
    return json.loads((folder / "sweep.json").read_text())["rows"]


# ---------------------------------------------------------------------------------- the grid
def test_grid_argument_splits_at_top_level_commas_and_locates_each_value():
    axis = parse_grid_arg("model.layers.h.size=3, 8,[1, 2]")
    assert axis.key == "model.layers.h.size"
    assert axis.values == ("3", "8", "[1, 2]")
    assert [w.col for w in axis.where] == [21, 24, 26]


@pytest.mark.parametrize("text", ["train.k", "=1,2", "train.k=", "train.k=1,,2"])
def test_malformed_grid_argument_is_a_usage_error(text):
    with pytest.raises(UsageError):
        parse_grid_arg(text)


def test_trials_are_the_product_of_the_axes_named_by_their_values():
    a = Axis("train.k", ("1", "3"), (None, None))
    b = Axis("train.optimizer.sgd.lr", ("0.1", "0.01", "1e-3"), (None,) * 3)
    trials = plan_trials([a, b])
    assert len(trials) == 6
    assert trials[0].name == "k=1_lr=0.1"
    assert trials[-1].overrides == ["train.k=3", "train.optimizer.sgd.lr=1e-3"]
    assert len({t.name for t in trials}) == 6


# ------------------------------------------------------------------------- a sweep, serially
def test_serial_sweep_writes_trial_folders_table_and_figure_and_resumes(tmp_path, capsys):
    spec, out = write_spec(tmp_path), tmp_path / "sw"
    code = sweep(spec, "--grid", "model.layers.h.size=2,4", "--grid", "train.k=1,2",
                 "--seeds", "2", "--scheduler", "serial", "--out", out)
    assert code == 0
    table = rows(out)
    assert len(table) == 8 and all(r["status"] == "done" for r in table)
    assert {(r["model.layers.h.size"], r["train.k"], r["seed"]) for r in table} == {
        (h, k, s) for h in (2, 4) for k in (1, 2) for s in (0, 1)}
    for r in table:
        trial = out / "trials" / r["trial"]
        summary = json.loads((trial / "summary.json").read_text())
        assert r["log_likelihood.exact"] == summary["log_likelihood.exact"] <= 0
        assert f"size: {r['model.layers.h.size']}" in (trial / "spec.resolved.yaml").read_text()
    with open(out / "sweep.csv") as f:
        assert len(list(csv.DictReader(f))) == 8
    assert (out / "sweep.png").stat().st_size > 1000
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("trials/*/model.npz")}
    capsys.readouterr()
    # the same command again, one seed more: the eight finished trials are skipped
    code = sweep(spec, "--grid", "model.layers.h.size=2,4", "--grid", "train.k=1,2",
                 "--seeds", "3", "--scheduler", "serial", "--out", out)
    assert code == 0
    assert capsys.readouterr().out.count("finished before, skipped") == 8
    assert len(rows(out)) == 12
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())


def test_sweep_section_of_the_spec_and_command_line_axes(tmp_path):
    spec = write_spec(tmp_path, "sweep:\n  grid:\n    train.k: [1, 2]\n    train.epochs: [2]\n"
                                "  metric: reconstruction_error\n")
    out = tmp_path / "sw"
    assert sweep(spec, "--grid", "train.epochs=3", "--scheduler", "serial", "--out", out) == 0
    table = rows(out)
    assert [(r["train.k"], r["train.epochs"]) for r in table] == [(1, 3), (2, 3)]
    resolved = (out / "trials" / table[0]["trial"] / "spec.resolved.yaml").read_text()
    assert "\nsweep:" not in resolved                 # a trial is an ordinary run


def test_a_failing_trial_is_a_row_and_never_stops_the_others(tmp_path):
    import numpy as np
    np.save(tmp_path / "good.npy", (np.random.default_rng(0).random((100, 4)) < 0.5).astype(float))
    spec = write_spec(tmp_path)
    text = spec.read_text().replace("{source: bars-and-stripes, side: 2, samples: 200}",
                                    "{source: file, path: good.npy}")
    spec.write_text(text)
    out = tmp_path / "sw"
    code = sweep(spec, "--grid", "data.path=good.npy,missing.npy", "--grid", "train.k=1,2",
                 "--scheduler", "serial", "--out", out)
    assert code == 2                      # the sweep finished; some of its trials did not
    table = {(r["data.path"], r["train.k"]): r for r in rows(out)}
    assert [table["good.npy", k]["status"] for k in (1, 2)] == ["done", "done"]
    for k in (1, 2):
        failed = table["missing.npy", k]
        assert failed["status"] == "failed"
        assert "cannot read data file 'missing.npy'" in failed["error"]
        assert "\n" not in failed["error"]
    assert (out / "sweep.png").exists()


def test_bad_grid_values_are_located_before_anything_runs(tmp_path, capsys):
    spec, out = write_spec(tmp_path), tmp_path / "sw"
    assert sweep(spec, "--grid", "train.k=1,0", "--out", out, "--scheduler", "serial") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["--grid:1:11: train.k must be an integer ≥ 1, got 0"]
    assert not out.exists()
    spec = write_spec(tmp_path, "sweep:\n  grid:\n    train.k: [1, two]\n")
    assert sweep(spec, "--out", out, "--scheduler", "serial") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{spec}:17:") and "train.k" in err[0]
    assert not out.exists()


@pytest.mark.parametrize("grid, message", [
    ("sweep:\n  grid: {}\n", "sweep.grid must be a mapping of dotted spec paths"),
    ("sweep:\n  grid:\n    'train k': [1]\n", "is not a dotted spec path"),
    ("sweep:\n  grid:\n    train.k: []\n", "sweep.grid.train.k must be a non-empty list of"),
    ("sweep:\n  grid:\n    train.k: [1]\n  seeds: 0\n", "sweep.seeds must be an integer ≥ 1"),
])
def test_bad_sweep_sections_are_spec_errors(tmp_path, capsys, grid, message):
    spec = write_spec(tmp_path, grid)
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{spec}:") and message in err[0]


def test_a_value_twice_on_an_axis_or_an_axis_of_the_sweep_itself_is_refused(tmp_path, capsys):
    spec, out = write_spec(tmp_path), tmp_path / "sw"
    assert sweep(spec, "--grid", "train.k=1,01", "--out", out) == 2
    said = "--grid:1:11: train.k: '01' is the value '1' again; give each value once\n"
    assert capsys.readouterr().err == said
    assert sweep(spec, "--grid", "train.optimizer.sgd.lr=1,1.0", "--out", out) == 2
    assert "'1.0' is the value '1' again" in capsys.readouterr().err
    assert sweep(spec, "--grid", "sweep.seeds=1,2", "--out", out) == 2
    assert "sweep.seeds is a setting of the sweep itself" in capsys.readouterr().err
    assert not out.exists()


def test_nothing_to_sweep_and_seed_twice_are_usage_errors(tmp_path, capsys):
    spec = write_spec(tmp_path)
    assert sweep(spec, "--out", tmp_path / "a") == 2
    assert "nothing to sweep" in capsys.readouterr().err
    assert sweep(spec, "--grid", "seed=1,2", "--seeds", "2", "--out", tmp_path / "b") == 2
    assert "choose one" in capsys.readouterr().err


def test_a_folder_of_another_sweep_is_refused(tmp_path, capsys):
    spec, out = write_spec(tmp_path), tmp_path / "sw"
    assert sweep(spec, "--grid", "train.k=1", "--scheduler", "serial", "--out", out) == 0
    assert sweep(spec, "--grid", "train.k=1", "--set", "train.epochs=2", "--scheduler", "serial",
                 "--out", out) == 2
    assert "holds a sweep of another spec" in capsys.readouterr().err


# ------------------------------------------------------------------------------ killed, resumed
def test_a_killed_sweep_resumes_skipping_finished_trials_and_continuing_the_killed_one(tmp_path):
    spec, out = write_spec(tmp_path), tmp_path / "sw"
    args = [sys.executable, "-m", "ebmlang.cli", "sweep", str(spec), "--grid", "train.epochs=2,300",
            "--scheduler", "serial", "--out", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    second = out / "trials" / "epochs=300"
    deadline = time.time() + 120
    while not (second / "model.npz").exists() and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (out / "trials" / "epochs=2" / "summary.json").exists(), proc.stdout.read().decode()
    assert not (second / "summary.json").exists(), "the trial finished before it was killed"
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "epochs=2: finished before, skipped" in done.stdout
    assert "epochs=300: done" in done.stdout and "resumed from its checkpoint" in done.stdout
    metrics = [json.loads(line) for line in (second / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == list(range(1, 301))


# ----------------------------------------------------------------------------------- on Dask
def test_twelve_trials_over_two_grids_on_a_local_cluster(tmp_path):
    pytest.importorskip("dask.distributed")
    spec, out = write_spec(tmp_path), tmp_path / "sw"
    code = sweep(spec, "--grid", "model.layers.h.size=2,3,4", "--grid", "train.k=1,2",
                 "--seeds", "2", "--workers", "2", "--out", out)
    assert code == 0
    table = rows(out)
    assert len(table) == 12 and all(r["status"] == "done" for r in table)
    assert (out / "sweep.png").exists()


def test_a_scheduler_and_worker_started_apart_with_dasks_own_commands(tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    dask = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    if dask is None:
        pytest.skip("the `dask` command is not installed")
    file = tmp_path / "scheduler.json"
    common = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    scheduler = subprocess.Popen([dask, "scheduler", "--scheduler-file", str(file), "--port", "0",
                                  "--no-dashboard", "--host", "127.0.0.1"], **common)
    elsewhere = tmp_path / "worker-home"           # the worker runs in another folder
    elsewhere.mkdir()
    worker = None
    try:
        address = _scheduler_address(file)
        worker = subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--nworkers", "1",
                                   "--no-dashboard"], cwd=elsewhere, **common)
        _wait_for_a_worker(address)
        spec = write_spec(tmp_path)
        monkeypatch.chdir(tmp_path)                 # a relative --out
        code = sweep(spec, "--grid", "train.k=1,2", "--grid", "model.layers.h.size=2,3",
                     "--scheduler", address, "--out", "sw")
        assert code == 0
        assert [r["status"] for r in rows(tmp_path / "sw")] == ["done"] * 4
        assert len(list((tmp_path / "sw" / "trials").glob("*/summary.json"))) == 4
        assert not (elsewhere / "sw").exists()
    finally:
        for proc in (worker, scheduler):
            if proc is not None:
                _stop(proc)


def _scheduler_address(file: Path) -> str:
    """The address in Dask's scheduler file, once it is written whole."""
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            return json.loads(file.read_text())["address"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.2)
    raise AssertionError("the Dask scheduler wrote no scheduler file in 60 s")


def _wait_for_a_worker(address: str) -> None:
    from dask.distributed import Client
    with Client(address, timeout="30s") as client:
        client.wait_for_workers(1, timeout=60)


def _stop(proc) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def test_an_unreachable_scheduler_is_a_usage_error(tmp_path, capsys):
    pytest.importorskip("dask.distributed")
    spec = write_spec(tmp_path)
    assert sweep(spec, "--grid", "train.k=1", "--scheduler", "tcp://127.0.0.1:9",
                 "--out", tmp_path / "sw") == 2
    assert "cannot reach a Dask scheduler" in capsys.readouterr().err


# ---------------------------------------------------------------------- the capacity study
def test_capacity_study_gives_the_same_curves_serially_and_on_a_local_cluster():
    pytest.importorskip("dask.distributed")
    from ebmlang.eval.capacity import capacity_study
    from ebmlang.runner.executors import DaskExecutor
    from ebmlang.spec import load_spec
    spec = load_spec(SPECS / "hopfield-capacity.yaml",
                     ["study.capacity.sizes=[40, 60]", "study.capacity.loads=[0.05, 0.2, 0.5]"])
    serial = capacity_study(spec, spec.study.capacity)
    executor = DaskExecutor(workers=2)
    try:
        parallel = capacity_study(spec, spec.study.capacity, map_tasks=executor.map)
    finally:
        executor.close()
    assert parallel == serial


def test_a_trial_waits_for_a_run_of_a_killed_sweep_still_holding_its_folder(tmp_path):
    from ebmlang.runner.folder import RunFolder
    (tmp_path / "run.lock").write_text("")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
        "print('held', flush=True); time.sleep(3)"), str(tmp_path / "run.lock")],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    t0 = time.perf_counter()
    RunFolder(tmp_path).wait_until_free(poll=0.05)
    assert time.perf_counter() - t0 > 1.5       # it returned only once the holder let go
    holder.wait(timeout=30)


def test_without_dask_trials_run_one_after_another_saying_how_to_get_it(monkeypatch, tmp_path,
                                                                          capsys):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)     # `import` now fails
    from ebmlang.runner.executors import SerialExecutor, make_executor
    notes = []
    assert isinstance(make_executor(None, note=notes.append), SerialExecutor)
    assert "pip install 'ebmlang[sweep]'" in notes[0]
    with pytest.raises(UsageError, match="needs dask.distributed"):
        make_executor("tcp://127.0.0.1:8786")
    spec, out = write_spec(tmp_path), tmp_path / "sw"
    assert sweep(spec, "--grid", "train.k=1,2", "--out", out) == 0
    assert "one after another" in capsys.readouterr().out
    assert [r["status"] for r in rows(out)] == ["done", "done"]


# ------------------------------------------------------------------------ values and identity
def test_values_that_read_alike_get_folders_of_their_own_and_keep_their_type(tmp_path):
    trials = plan_trials([Axis("model.couplings.0.init.normal.mean", ("-1", "1"), (None,) * 2)])
    assert trials[1].name == "mean=1" and trials[0].name.startswith("mean=1~")
    spec, out = write_spec(tmp_path), tmp_path / "sw"
    code = sweep(spec, "--grid", "train.optimizer.sgd.lr=1e-3,0.1", "--grid",
                 "model.layers.h.size=2", "--scheduler", "serial", "--out", out)
    assert code == 0
    assert [r["train.optimizer.sgd.lr"] for r in rows(out)] == [0.001, 0.1]    # floats, not text


def test_a_trial_folder_run_with_another_spec_is_never_reported_as_this_trial(tmp_path):
    spec, out = write_spec(tmp_path), tmp_path / "sw"
    assert sweep(spec, "--grid", "train.k=1", "--scheduler", "serial", "--out", out) == 0
    spec.write_text(spec.read_text().replace("lr: 0.1", "lr: 0.2"))      # edited since
    assert sweep(spec, "--grid", "train.k=1", "--scheduler", "serial", "--out", out) == 2
    (row,) = rows(out)
    assert row["status"] == "failed" and "holds a run of another spec" in row["error"]


def test_list_valued_axes_are_plotted_and_the_fallback_metric_is_no_swept_value(tmp_path):
    from ebmlang.runner.table import choose_metric
    spec, out = write_spec(tmp_path), tmp_path / "sw"
    assert sweep(spec, "--grid", "train.batch_size=10", "--grid",
                 "model.layers.v.shape=[2, 2],[4, 1]", "--scheduler", "serial", "--out", out) == 0
    assert (out / "sweep.png").exists()
    table = [{**r, "log_likelihood.exact": None} for r in rows(out)]
    chosen = choose_metric(table, skip={"train.batch_size", "model.layers.v.shape"})
    assert chosen not in ("train.batch_size", "model.layers.v.shape") and chosen is not None


def test_a_value_that_breaks_another_line_says_which_value_did(tmp_path, capsys):
    spec = write_spec(tmp_path)
    spec.write_text(spec.read_text().replace("v: {size: 4, units: binary}",
                                             "v: {size: 4, units: binary, shape: [2, 2]}"))
    assert sweep(spec, "--grid", "model.layers.v.size=4,5", "--out", tmp_path / "sw",
                 "--scheduler", "serial") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{spec}:") and "with model.layers.v.size=5" in err[0]


def test_validate_checks_every_trial_of_a_sweep_section(tmp_path, capsys):
    spec = write_spec(tmp_path, "sweep:\n  grid:\n    train.k: [1, 0]\n")
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{spec}:17:") and "train.k must be" in err[0]
    assert main(["validate", str(SPECS / "rbm-bars-and-stripes.yaml")]) == 0


def test_seeds_are_checked_once_and_too_many_trials_are_refused(monkeypatch, capsys):
    """A seed changes no size and no rule: validate checks the grid's 6 points, not 6 × 500
    trials; a sweep beyond MAX_TRIALS is refused at the value that made it so."""
    from ebmlang.runner import sweep
    loads = []
    real = sweep._relocated
    monkeypatch.setattr(sweep, "_relocated", lambda *a: loads.append(a) or real(*a))
    spec = str(SPECS / "rbm-bars-and-stripes.yaml")
    assert main(["validate", spec, "--set", "sweep.seeds=500"]) == 0
    assert len(loads) == 3 + 2 + 6                  # each value alone, then each point
    assert main(["validate", spec, "--set", "sweep.seeds=1000000000000"]) == 2
    assert capsys.readouterr().err.startswith(
        "--set:1:13: the sweep has 6,000,000,000,000 trials, more than the 10,000")


def test_a_seed_axis_written_in_the_grid_is_checked_value_by_value(tmp_path, capsys):
    """Only the axis --seeds makes is valid by construction; one the user writes is checked."""
    path = write_spec(tmp_path, "sweep:\n  grid:\n    seed: [0, -1]\n")
    assert main(["validate", str(path)]) == 2
    assert "seed must be an integer ≥ 0, got -1" in capsys.readouterr().err
