"""The run folder: what `ebm run` leaves behind, and what `--resume` reads back.

    spec.resolved.yaml   the spec with every default filled in (valid input to `ebm run`)
    model.npz            bias.<layer>, weight.<a>.<b>, sigma.<layer>; beside them the training
                         state: the optimizers' slots (velocity.<key>; adam_m/adam_s/adam_t.<key>),
                         chains.<layer>, activity.<layer>, offset.<layer>, counter.<name>, rng.seed,
                         rng.epoch (the next epoch's stream key), train.stage, train.epoch (epochs
                         done in that stage) and, in a stage fed by earlier ones, upstream.<key>: the
                         parameters its up-pass is computed from
    metrics.jsonl        one JSON object per epoch
    summary.json         final metrics; written last, so its presence marks a finished run
    *.png                figures
    run.json             status (running / complete / failed / interrupted) and versions
    run.lock             held (flock) by the `ebm` process using the folder; the kernel releases it
                         when that process ends, however it ends

Nothing a run needs is lost: every file is written to a temporary name, flushed to the disk and
renamed over the old one (a rename is atomic), so a kill or a full disk at any moment leaves the
previous complete version; metrics.jsonl is appended and synced one record at a time, and a
record torn by a kill is dropped on reading.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..backend import to_numpy
from ..errors import FolderError, Location, UsageError
from ..train.trainer import TrainState


RUN_FILES = frozenset({"spec.resolved.yaml", "model.npz", "metrics.jsonl", "summary.json",
                       "run.json", "run.lock",
                       "spec.yaml", "model.tmp.npz"})     # written by the first versions


def _written_by_a_run(entry: Path) -> bool:
    """A file `ebm run` writes: one of RUN_FILES, a figure, or a temporary left by a kill."""
    name = entry.name
    return entry.is_file() and (name in RUN_FILES or name.endswith(".png")
                                or (name.startswith(".") and name.endswith(".tmp")))


class RunFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = None

    def file(self, name: str) -> Path:
        return self.path / name

    # ------------------------------------------------------------------------------ locking
    def lock(self) -> None:
        """Hold run.lock for this process; FolderError if another process holds it."""
        try:
            handle = open(self.file("run.lock"), "a+")
        except OSError as exc:
            raise _folder_error(exc, self.file("run.lock")) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise FolderError(f"{self.path} is in use by another ebm process (pid {owner}); "
                              "wait for it, or "
                              "choose another --out", Location(str(self.path), 1, 1)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock = handle

    def wait_until_free(self, poll: float = 0.5) -> None:
        """Return once no other process holds run.lock (a lock dies with its process, so a held
        one means a live run that will end)."""
        while True:
            try:
                with open(self.file("run.lock"), "rb") as handle:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
            except FileNotFoundError:
                return
            except BlockingIOError:
                time.sleep(poll)

    # ----------------------------------------------------------------------------- creation
    def create(self) -> None:
        """Start afresh, holding the lock. An existing folder is emptied only if it is a run
        folder of ours that no other process is using, and holds nothing a run does not write
        (a sweep's trials, a user's notes): those are never deleted."""
        if self.path.exists():
            if not self.path.is_dir() or (any(self.path.iterdir()) and not self.file("run.json").exists()):
                raise UsageError("exists and is not an ebmlang run folder; choose another --out",
                                 Location(str(self.path), 1, 1))
            foreign = sorted(e.name for e in self.path.iterdir() if not _written_by_a_run(e))
            if foreign:
                shown = ", ".join(foreign[:3]) + (", …" if len(foreign) > 3 else "")
                raise UsageError(f"holds more than a run's files ({shown}), which a "
                                 "new run would delete; choose another --out or move them",
                                 Location(str(self.path), 1, 1))
            self.lock()
            with _reported(self.path):
                for entry in self.path.iterdir():
                    if entry.name != "run.lock":
                        entry.unlink()
        else:
            with _reported(self.path):
                self.path.mkdir(parents=True)
            self.lock()
        self.set_status("running")

    def status(self) -> str | None:
        """run.json's status (None if it cannot be read)."""
        try:
            return json.loads(self.file("run.json").read_text()).get("status")
        except (OSError, ValueError, AttributeError):
            return None

    def finished(self) -> bool:
        """Whether the run completed: trained, evaluated, its summary written."""
        return self.status() == "complete" and self.file("summary.json").exists()

    def set_status(self, status: str, **extra) -> None:
        from .. import __version__
        self._write_json("run.json", {"status": status, "ebmlang": __version__, **extra})

    def _write_json(self, name: str, obj) -> None:
        self.write_text(name, json.dumps(obj, indent=2, sort_keys=True) + "\n")

    def write_text(self, name: str, text: str) -> None:
        """The file ``name``, replaced atomically (see the module's docstring)."""
        with self.replacing(name) as tmp:
            tmp.write_text(text)

    @contextmanager
    def replacing(self, name: str):
        """Yields a temporary path to write ``name``'s new content to; then syncs it and renames
        it over ``name``. On any failure the old ``name`` is left as it was."""
        target = self.file(name)
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            yield tmp
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, target)
            _sync_dir(self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _folder_error(exc, target) from None

    def read_summary(self) -> dict:
        """summary.json; a FolderError names a damaged one."""
        path = self.file("summary.json")
        try:
            summary = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise FolderError(f"{path} cannot be read ({exc}); run `ebm run --resume` on the "
                              "folder to write it again", Location(str(path), 1, 1)) from None
        if not isinstance(summary, dict):
            raise FolderError(f"{path} is not a summary (a JSON object)", Location(str(path), 1, 1))
        return summary

    def write_summary(self, summary: dict) -> None:
        """summary.json; a non-finite number (an AIS bound that does not exist) is written as null."""
        self._write_json("summary.json", _finite(summary))

    # ------------------------------------------------------------------------------ metrics
    def append_metrics(self, record: dict) -> None:
        path = self.file("metrics.jsonl")
        try:
            with open(path, "a") as f:
                f.write(json.dumps(record, sort_keys=True) + "\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise _folder_error(exc, path) from None

    def read_metrics(self) -> list[dict]:
        """The records; a last line torn by a kill mid-write is dropped."""
        path = self.file("metrics.jsonl")
        records = []
        for line in path.read_text().splitlines() if path.exists() else ():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
        return records

    def truncate_metrics(self, stage: int, epochs: int) -> None:
        """Keep the records the checkpoint includes: earlier stages, and the first ``epochs``
        epochs of stage ``stage`` (records carry a 1-based "stage" in multi-stage runs)."""
        kept = [r for r in self.read_metrics() if (r.get("stage", 1) - 1, r.get("epoch", 0)) <= (stage, epochs)]
        self.write_text("metrics.jsonl",
                        "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))

    # --------------------------------------------------------------------------- checkpoint
    def save_checkpoint(self, params: dict, state: TrainState | None, seed: int, upstream: dict | None = None) -> None:
        arrays = {k: to_numpy(v) for k, v in params.items()}
        if state is not None:
            arrays.update({k: to_numpy(v) for k, v in state.slots.items()})
            arrays.update({f"chains.{k}": to_numpy(v) for k, v in (state.chains or {}).items()})
            arrays.update({f"activity.{k}": to_numpy(v) for k, v in state.activity.items()})
            arrays.update({f"offset.{k}": to_numpy(v) for k, v in state.offsets.items()})
            arrays.update({f"counter.{k}": np.array(v, dtype=np.int64) for k, v in state.objective.counters.items()})
            arrays.update({"rng.seed": np.array(seed), "rng.epoch": np.array(state.epoch + 1),
                           "train.epoch": np.array(state.epoch), "train.stage": np.array(state.stage)})
        arrays.update({f"upstream.{k}": to_numpy(v) for k, v in (upstream or {}).items()})
        with self.replacing("model.npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)

    def resolved_spec(self) -> Path:
        """The folder's spec.resolved.yaml: a UsageError where there is none (not a run folder)."""
        path = self.file("spec.resolved.yaml")
        if not path.exists():
            raise UsageError("is not a run folder (no spec.resolved.yaml)",
                             Location(str(self.path), 1, 1))
        return path

    def load_checkpoint(self) -> dict:
        path = self.file("model.npz")
        if not path.exists():
            raise UsageError("has no model.npz to resume from", Location(str(self.path), 1, 1))
        try:
            with np.load(path) as z:
                return {k: z[k] for k in z.files}
        except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError) as exc:
            raise FolderError(f"{path} is damaged ({type(exc).__name__}: {exc}); "
                              "it was not written by ebm's "
                              "atomic checkpoint (copied in part, or the disk failed): "
                              "restore the file from a "
                              "copy, or start the run again", Location(str(path), 1, 1)) from None


def _sync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _folder_error(exc: OSError, path: Path) -> FolderError:
    """An OSError while writing the run folder, said plainly: a full disk, no permission."""
    if exc.errno == errno.ENOSPC:
        what = ("no space left on the device; the files written before "
                "(the last checkpoint) are intact")
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        what = "permission denied (a read-only folder or file system?); choose another --out"
    else:
        what = exc.strerror or str(exc)
    return FolderError(f"writing this file failed: {what}", Location(str(path), 1, 1))


@contextmanager
def _reported(path: Path):
    try:
        yield
    except OSError as exc:
        raise _folder_error(exc, path) from None


def restore_state(arrays: dict, state: TrainState, xp) -> TrainState:
    """Put a checkpoint's training state into a freshly initialised ``state``."""
    def pick(prefix):
        return {k[len(prefix):]: xp.asarray(v) for k, v in arrays.items() if k.startswith(prefix)}

    for name, slot in state.slots.items():
        if name in arrays:
            slot[...] = arrays[name] if isinstance(slot, np.ndarray) else xp.asarray(arrays[name])
    objective = state.objective
    if objective.chains is not None:
        objective.chains = {k: v.astype(objective.chains[k].dtype) for k, v in pick("chains.").items()}
    for key, value in pick("activity.").items():
        objective.activity[key][...] = value
    objective.offsets = pick("offset.")
    objective.counters.update({k[len("counter."):]: int(v) for k, v in arrays.items() if k.startswith("counter.")})
    state.epoch = int(arrays.get("train.epoch", 0))
    state.stage = checkpoint_stage(arrays)
    return state


def checkpoint_stage(arrays: dict) -> int:
    return int(arrays.get("train.stage", 0))


def upstream_params(arrays: dict, xp, dtype) -> dict:
    """The parameter snapshot a fed stage's up-pass uses (empty when the checkpoint has none)."""
    prefix = "upstream."
    return {k[len(prefix):]: xp.asarray(v, dtype=dtype) for k, v in arrays.items() if k.startswith(prefix)}


def _finite(value):
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
