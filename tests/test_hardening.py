"""Hardening: inputs nobody listed, resources refused before allocation, damaged files, the run
folder under faults (kill -9, a full disk, a second process, Ctrl-C)."""
from __future__ import annotations

import contextlib
import errno
import gzip
import io
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from ebmlang.cli import main
from ebmlang.errors import DataError, Location
from ebmlang.runner.folder import RunFolder

from runs import assert_same_run, run_spec

LOCATED = re.compile(r"^.+:\d+:\d+: \S.*$")


def _ebm(*args) -> tuple[int, str]:
    """`ebm ARGS` in process: (exit code, stderr)."""
    err = io.StringIO()
    quiet = ("--quiet",) if args[0] in ("run", "eval") else ()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(args) + list(quiet))
    return code, err.getvalue()


def _assert_located(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert lines and all(LOCATED.match(line) for line in lines), err
    for word in words:
        assert word in err, err


# --- the spec file ------------------------------------------------------------------------------

@pytest.mark.parametrize("content, words", [
    (bytes(range(256)) * 4, ("not UTF-8 text",)),
    (b"a: " + b"[" * 5000 + b"]" * 5000, ("nested more than",)),
    (b"a: " + b"[" * 60 + b"]" * 60, ("nested more than",)),
    (b"name: &a [*a]\n", ("refers to the node that contains it",)),
    (b"a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + b"".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n".encode() for p, c in zip("abcdefg", "bcdefgh")),
     ("more than 100,000 values",)),
    (b"name: x\n" + b"#" * 1_100_000, ("characters",)),
    (b"\x00\x01name: x", ("YAML",)),
])
def test_hostile_spec_files_are_located_errors(tmp_path, content, words):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    code, err = _ebm("validate", str(path))
    _assert_located(code, err, "bad.yaml:", *words)


HUGE = """
name: huge
model:
  layers:
    s: {size: 1000000000, units: spin}
  couplings:
    - {between: [s, s], connectivity: {random_regular: {degree: 3}}}
"""


def test_a_huge_model_is_refused_before_anything_is_allocated(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text(HUGE)
    started = time.perf_counter()
    code, err = _ebm("validate", str(path))
    _assert_located(code, err, "huge.yaml:7:", "needs about", "PiB")
    assert time.perf_counter() - started < 5
    code, err = _ebm("run", str(path), "--out", str(tmp_path / "run"))
    _assert_located(code, err, "needs about")
    assert not (tmp_path / "run").exists()


def test_max_memory_sets_the_limit(tmp_path):
    from conftest import ROOT
    spec = str(ROOT / "specs" / "rbm-mnist-small.yaml")
    _assert_located(*_ebm("validate", spec, "--max-memory", "10M"), "more than the 10 MiB allowed")
    assert _ebm("validate", spec, "--max-memory", "10G")[0] == 0
    code, err = _ebm("validate", spec, "--max-memory", "lots")
    assert code == 2 and "--max-memory" in err


@pytest.mark.parametrize("spec, change, what", [
    ("rbm-mnist-small", "evaluate.samples.count=100000000", "samples"),
    ("rbm-mnist-small", "evaluate.log_likelihood={method: ais, runs: 100000000}", "AIS runs"),
    ("rbm-mnist-small", "evaluate.log_likelihood={method: exact}\nmodel.layers.h.size=22",
     "exact evaluation"),
    ("maxcut", "optimize.restarts=100000000", "annealing restarts"),
    ("ising-2d", "sample.chains=100000000", "sampling chains"),
    ("hopfield-capacity", "study.capacity.sizes=[100000]", "a capacity network"),
    ("rbm-bars-and-stripes", "data.samples=9223372036854775807", "bars and stripes"),
    ("gan-grid", "data.samples=10000000000", "a grid of 25 modes"),
    ("grbm-mixture", "data.dim=40\nmodel.layers.v.size=40", "a mixture of 2^40 components"),
    ("grbm-mixture", "data.dim=9223372036854775808", "a mixture of 2^9,223,372,036,854,775,808"),
])
def test_every_size_that_holds_states_counts_in_the_memory_estimate(spec, change, what):
    """Beyond the training chains: a size with a few extra zeros anywhere is refused by validate,
    at the --set that wrote it."""
    from conftest import ROOT
    sets = [arg for line in change.splitlines() for arg in ("--set", line)]
    code, err = _ebm("validate", str(ROOT / "specs" / f"{spec}.yaml"), *sets, "--max-memory", "2G")
    _assert_located(code, err, f"({what}")
    assert err.startswith("--set:1:")


def test_a_capacity_study_counts_its_patterns():
    from conftest import ROOT
    code, err = _ebm("validate", str(ROOT / "specs" / "hopfield-capacity.yaml"), "--set",
                     "study.capacity.loads=[0.05, 1000000000]",
                     "--set", "study.capacity.sizes=[100]")
    _assert_located(code, err, "--set:1:", "(100,000,000,000 patterns of 100 units")


def test_an_exact_enumeration_too_large_is_refused_by_validate(tmp_path):
    path = tmp_path / "exact.yaml"
    path.write_text("""name: exact
model:
  layers:
    v: {size: 30, units: binary}
    h: {size: 30, units: binary}
  couplings:
    - {between: [v, h]}
evaluate: {log_likelihood: {method: exact}}
""")
    _assert_located(*_ebm("validate", str(path)), "exact.yaml:8:", "joint states")


def test_a_dbn_whose_exact_likelihood_is_too_large_is_refused_by_validate():
    """A DBN enumerates its generated layers and the top's interface (eval/belief.py): h1 and
    h2 here, 2^68 states, refused before training rather than after it."""
    from conftest import ROOT
    spec = str(ROOT / "specs" / "dbn-bars-and-stripes.yaml")
    for size, states in (("60", "2^68"), ("1100", "2^1108")):
        code, err = _ebm("validate", spec, "--set", f"model.layers.h2.size={size}")
        _assert_located(code, err, "dbn-bars-and-stripes.yaml:", f"enumerate {states} joint states")


# --- data files and checkpoints -----------------------------------------------------------------

def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


MNIST_SPEC = """name: m
data: {source: mnist, path: MNIST, binarize: 0.5}
model:
  layers:
    v: {size: 784, units: binary}
    h: {size: 8, units: binary}
  couplings:
    - {between: [v, h]}
train: {epochs: 1, batch_size: 10}
evaluate: {samples: false, filters: false}
"""


@pytest.mark.parametrize("cut", [0.5, 0.99])
def test_a_truncated_idx_file_names_itself_and_the_remedy(tmp_path, cut, capsys):
    folder = tmp_path / "mnist"
    folder.mkdir()
    gen = np.random.default_rng(0)
    files = {"train-images-idx3-ubyte": gen.integers(0, 256, (20, 28, 28)), "train-labels-idx1-ubyte": np.arange(20) % 10,
             "t10k-images-idx3-ubyte": gen.integers(0, 256, (10, 28, 28)), "t10k-labels-idx1-ubyte": np.arange(10)}
    for stem, array in files.items():
        (folder / f"{stem}.gz").write_bytes(gzip.compress(_idx(array)))
    spec = MNIST_SPEC.replace("MNIST", str(folder))
    code, _, out = run_spec(tmp_path, spec, "m")
    assert code == 0
    whole = (folder / "t10k-images-idx3-ubyte.gz").read_bytes()
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(whole[: int(cut * len(whole))])
    capsys.readouterr()
    code, _, _ = run_spec(tmp_path, spec, "m2")
    err = capsys.readouterr().err
    _assert_located(code, err, "t10k-images-idx3-ubyte.gz", "ebm fetch mnist")
    assert not (tmp_path / "m2").exists()


SMALL = """name: small
seed: 3
data: {source: bars-and-stripes, samples: 200}
model:
  layers:
    v: {size: 9, units: binary}
    h: {size: 6, units: binary}
  couplings:
    - {between: [v, h]}
train: {rule: pcd, epochs: 40, batch_size: 10, optimizer: {sgd: {lr: 0.05, momentum: 0.5}}}
evaluate: {samples: {count: 4, steps: 3}, filters: false}
"""


def test_a_damaged_checkpoint_is_named_by_resume_and_eval(tmp_path):
    code, _, out = run_spec(tmp_path, SMALL, "small", "train.epochs=2")
    assert code == 0
    whole = (out / "model.npz").read_bytes()
    (out / "model.npz").write_bytes(whole[: len(whole) // 2])
    for args in (("run", "--resume", str(out)), ("eval", str(out))):
        _assert_located(*_ebm(*args), "model.npz", "is damaged")


# --- the run folder under faults ----------------------------------------------------------------

def test_a_second_run_into_a_folder_in_use_is_refused(tmp_path):
    code, _, out = run_spec(tmp_path, SMALL, "small", "train.epochs=1")
    holder = RunFolder(out)
    holder.lock()
    (tmp_path / "small.yaml").write_text(SMALL)
    for args in (("run", str(tmp_path / "small.yaml"), "--out", str(out)), ("run", "--resume", str(out)),
                 ("eval", str(out))):
        _assert_located(*_ebm(*args), "in use by another ebm process", f"pid {os.getpid()}")
    holder._lock.close()                   # the process ends: the kernel drops the lock
    assert _ebm("eval", str(out))[0] == 0


def test_a_rerun_replaces_a_run_folder_but_never_what_a_run_did_not_write(tmp_path):
    code, _, out = run_spec(tmp_path, SMALL, "small", "train.epochs=1")
    args = ("run", str(tmp_path / "small.yaml"), "--out", str(out), "--set", "train.epochs=1")
    assert code == 0 and _ebm(*args)[0] == 0            # a run's own files: replaced
    (out / "notes.txt").write_text("keep me")
    (out / "trials").mkdir()
    _assert_located(*_ebm(*args), "holds more than a run's files (notes.txt, trials)")
    assert (out / "notes.txt").read_text() == "keep me" and (out / "trials").is_dir()


def test_eval_measures_only_a_finished_run_and_keeps_its_spec_until_it_has(tmp_path, monkeypatch):
    code, summary, out = run_spec(tmp_path, SMALL, "small", "train.epochs=1")
    assert code == 0 and "reconstruction_error" in summary
    written = (out / "spec.resolved.yaml").read_text()
    too_big = "evaluate.samples.count=100000000"
    _assert_located(*_ebm("eval", str(out), "--set", too_big), "memory")
    assert (out / "spec.resolved.yaml").read_text() == written

    def fails(*_):
        raise DataError("a measure failed", Location("x.yaml", 1, 1))
    with monkeypatch.context() as patch:                # a failure half-way through the measures
        patch.setattr("ebmlang.runner.execute.final_summary", fails)
        _assert_located(*_ebm("eval", str(out), "--set", "evaluate.samples.count=5"), "failed")
    assert (out / "spec.resolved.yaml").read_text() == written
    assert (out / "samples.png").exists()
    off = ("evaluate.reconstruction=false", "evaluate.samples=false")
    assert _ebm("eval", str(out), "--set", off[0], "--set", off[1])[0] == 0
    again = json.loads((out / "summary.json").read_text())
    assert "reconstruction_error" not in again and again["epochs"] == 1   # no stale measure
    assert "samples.png" not in again["figures"] and not (out / "samples.png").exists()
    (out / "summary.json").write_text('{"epochs": ')        # torn by hand
    _assert_located(*_ebm("eval", str(out)), "summary.json cannot be read")
    RunFolder(out).set_status("running")                # as a killed run leaves it
    _assert_located(*_ebm("eval", str(out)), "holds no finished run (status: running)",
                    f"ebm run --resume {out}")


def test_a_full_disk_is_reported_and_the_last_checkpoint_kept(tmp_path, monkeypatch):
    code, _, out = run_spec(tmp_path, SMALL, "small", "train.epochs=3")
    before = (out / "model.npz").read_bytes()
    real_savez = np.savez

    def full(file, **arrays):
        real_savez(file, **arrays)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    _assert_located(*_ebm("run", "--resume", str(out), "--set", "train.epochs=5"), "model.npz",
                    "no space left on the device")
    assert (out / "model.npz").read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    assert _ebm("run", "--resume", str(out), "--set", "train.epochs=5")[0] == 0


def _spawn(spec_path, out, *extra):
    """`ebm run SPEC --out OUT` (or, with ``spec_path`` None, `ebm run EXTRA`) as a process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    where = [str(spec_path), "--out", str(out)] if spec_path else []
    # SIGINT back to its default in the child: under a test runner started in the background
    # (`cmd &`) it arrives ignored, and Python then installs no KeyboardInterrupt for it
    default_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)   # noqa: E731
    return subprocess.Popen([sys.executable, "-m", "ebmlang.cli", "run", *where, "--quiet", *extra], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=default_sigint)


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume_gives_the_unbroken_run(tmp_path):
    """SIGKILL mid-run (mid-epoch, mid-checkpoint, wherever it lands), resume, kill again, …:
    the finished run equals one that was never stopped, bit for bit."""
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL.replace("epochs: 40", "epochs: 600").replace("samples: 200", "samples: 2000"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    assert subprocess.run([sys.executable, "-m", "ebmlang.cli", "run", str(spec), "--out", str(tmp_path / "whole"),
                           "--quiet"], env=env).returncode == 0
    gen = np.random.default_rng(0)
    out = tmp_path / "killed"
    proc, kills = _spawn(spec, out), 0
    for _ in range(8):
        time.sleep(float(gen.uniform(1.0, 2.5)))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        if not (out / "model.npz").exists():      # killed before the first checkpoint: start again
            proc = _spawn(spec, out)
            continue
        proc = _spawn(None, out, "--resume", str(out))
    assert proc.wait() == 0, proc.stderr.read().decode()
    assert kills >= 3
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    assert_same_run(tmp_path / "whole", out)


def test_ctrl_c_leaves_a_resumable_folder(tmp_path):
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL.replace("epochs: 40", "epochs: 100000"))    # never ends before the signal
    out = tmp_path / "run"
    proc = _spawn(spec, out)
    deadline = time.time() + 60
    while not (out / "metrics.jsonl").exists() or not (out / "metrics.jsonl").read_text().count("\n") >= 2:
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait() == 130, proc.stderr.read().decode()
    status = json.loads((out / "run.json").read_text())
    assert status["status"] == "interrupted" and "--resume" in status["resume"]
    assert _ebm("run", "--resume", str(out), "--set", "train.epochs=5")[0] == 0


def test_a_torn_metrics_line_is_dropped_on_resume(tmp_path):
    code, _, out = run_spec(tmp_path, SMALL, "small", "train.epochs=2")
    with open(out / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 3, "recon_err')
    assert _ebm("run", "--resume", str(out), "--set", "train.epochs=4")[0] == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]


def _cut(path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(keep * len(data))])


FILE_SPEC = """name: f
data: {source: file, path: DATA}
model:
  layers:
    v: {size: 9, units: binary}
    h: {size: 4, units: binary}
  couplings:
    - {between: [v, h], init: INIT}
train: {epochs: 1}
evaluate: {samples: false, filters: false}
"""


@pytest.mark.parametrize("kind", ["npz", "npy"])
def test_a_damaged_data_file_is_named(tmp_path, kind, capsys):
    x = (np.random.default_rng(0).random((50, 9)) < 0.5).astype(float)
    path = tmp_path / f"d.{kind}"
    np.savez(path, train=x) if kind == "npz" else np.save(path, x)
    _cut(path, 0.5)
    code, _, out = run_spec(tmp_path, FILE_SPEC.replace("DATA", path.name).replace("INIT", "{normal: {std: 0.1}}"), "f")
    _assert_located(code, capsys.readouterr().err, "f.yaml:2:", f"d.{kind}")
    assert not out.exists()


def test_an_empty_test_set_says_which_measures_it_skips(tmp_path):
    """Labelled rows with nothing held out: log Z is still estimated, the test measures (the
    linear probe too, which needs test labels) are named as skipped."""
    x = (np.random.default_rng(0).random((50, 9)) < 0.5).astype(float)
    np.savez(tmp_path / "d.npz", train=x, train_labels=np.arange(50) % 2)
    measures = "log_likelihood: {method: exact}, probe: {epochs: 2}"
    spec = (FILE_SPEC.replace("DATA", "d.npz, test_fraction: 0").replace("INIT", "zeros")
            .replace("filters: false}", f"filters: false, {measures}}}"))
    code, summary, _ = run_spec(tmp_path, spec, "f")
    assert code == 0 and "log_z.exact" in summary
    assert not {"log_likelihood.exact", "probe.test_error"} & set(summary)
    assert summary["skipped_without_test_set"] == ["reconstruction", "free_energy_gap",
                                                   "log_likelihood", "probe"]
    held_out = spec.replace("test_fraction: 0", "test_fraction: 0.2")
    code, summary, _ = run_spec(tmp_path, held_out, "g")
    assert code == 0 and "skipped_without_test_set" not in summary
    assert {"log_likelihood.exact", "probe.test_error"} <= set(summary)


def test_validate_reads_initial_weight_files_as_run_does(tmp_path):
    """A damaged `init: {file: ...}` is refused by `ebm validate`, not first by `ebm run`."""
    np.save(tmp_path / "w.npy", np.zeros((9, 4)))
    _cut(tmp_path / "w.npy", 0.4)
    (tmp_path / "d.npy").write_bytes(b"")
    spec = tmp_path / "f.yaml"
    spec.write_text(FILE_SPEC.replace("DATA", "d.npy").replace("INIT", "{file: {path: w.npy}}"))
    _assert_located(*_ebm("validate", str(spec)), "f.yaml:8:", "w.npy", "damaged")


def test_a_read_only_output_folder_is_a_clear_error(tmp_path, monkeypatch):
    """As root no folder is read-only, so the refusal is simulated where the folder is made."""
    import pathlib
    (tmp_path / "small.yaml").write_text(SMALL)

    def refuse(self, *args, **kwargs):
        raise PermissionError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(pathlib.Path, "mkdir", refuse)
    code, err = _ebm("run", str(tmp_path / "small.yaml"), "--out", str(tmp_path / "ro" / "run"))
    _assert_located(code, err, "ro/run:1:1:", "permission denied", "--out")


def test_memory_the_estimate_missed_is_a_located_error(tmp_path, monkeypatch):
    """An allocation the memory estimate did not foresee ends like any other spec error: one
    located line, exit 2, and the run folder says the run failed."""
    import ebmlang.runner.execute as execute

    def exhausted(*args, **kwargs):
        raise MemoryError()
    monkeypatch.setattr(execute, "_train_and_evaluate", exhausted)
    spec = tmp_path / "tiny.yaml"
    spec.write_text("name: tiny\ndata: {source: bars-and-stripes}\nmodel:\n  layers:\n"
                    "    v: {size: 9, units: binary}\n    h: {size: 4, units: binary}\n"
                    "  couplings:\n    - {between: [v, h]}\ntrain: {rule: cd, epochs: 1}\n")
    code, err = _ebm("run", str(spec), "--out", str(tmp_path / "run"))
    _assert_located(code, err, "ran out of memory")
    assert err.startswith(f"{spec}:1:1:")
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "failed"


@pytest.mark.parametrize("content, says", [
    (lambda path: np.savez(path, w=np.zeros((9, 16))), "an .npz archive"),
    (lambda path: np.save(path, np.full((9, 16), "a")), "<U1 values"),
    (lambda path: np.save(path, np.zeros((9, 16)) + 1j), "complex128 values"),
    (lambda path: np.save(path, np.full((9, 16), np.nan)), "NaN or infinite"),
])
def test_an_initial_weight_file_that_is_no_real_array_is_refused_by_validate(tmp_path, content, says):
    from conftest import ROOT
    path = tmp_path / "w.npy"
    content(path)
    path = path if path.exists() else tmp_path / "w.npy.npz"
    code, err = _ebm("validate", str(ROOT / "specs" / "rbm-bars-and-stripes.yaml"), "--set",
                     f"model.couplings.0.init={{file: {{path: {path}}}}}")
    _assert_located(code, err, says)
