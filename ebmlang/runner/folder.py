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
    run.json             status (running / complete / failed) and versions
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from ..backend import to_numpy
from ..errors import UsageError
from ..train.trainer import TrainState



class RunFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def file(self, name: str) -> Path:
        return self.path / name

    # ----------------------------------------------------------------------------- creation
    def create(self) -> None:
        """Start afresh. An existing folder is replaced only if it is a run folder of ours."""
        if self.path.exists():
            if not self.path.is_dir() or (any(self.path.iterdir()) and not self.file("run.json").exists()):
                raise UsageError(f"{self.path} exists and is not an ebmlang run folder; choose another --out")
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        self.set_status("running")

    def set_status(self, status: str, **extra) -> None:
        from .. import __version__
        self._write_json("run.json", {"status": status, "ebmlang": __version__, **extra})

    def _write_json(self, name: str, obj) -> None:
        tmp = self.file(name + ".tmp")
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.file(name))

    def write_summary(self, summary: dict) -> None:
        """summary.json; a non-finite number (an AIS bound that does not exist) is written as null."""
        self._write_json("summary.json", _finite(summary))

    # ------------------------------------------------------------------------------ metrics
    def append_metrics(self, record: dict) -> None:
        with open(self.file("metrics.jsonl"), "a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")

    def read_metrics(self) -> list[dict]:
        path = self.file("metrics.jsonl")
        return [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []

    def truncate_metrics(self, stage: int, epochs: int) -> None:
        """Keep the records the checkpoint includes: earlier stages, and the first ``epochs``
        epochs of stage ``stage`` (records carry a 1-based "stage" in multi-stage runs)."""
        kept = [r for r in self.read_metrics() if (r.get("stage", 1) - 1, r.get("epoch", 0)) <= (stage, epochs)]
        self.file("metrics.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))

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
        tmp = self.file("model.tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, self.file("model.npz"))

    def load_checkpoint(self) -> dict:
        path = self.file("model.npz")
        if not path.exists():
            raise UsageError(f"{self.path} has no model.npz to resume from")
        with np.load(path) as z:
            return {k: z[k] for k in z.files}


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
