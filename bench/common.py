"""What the benchmarks share: the MNIST epoch benchmarks' command line, the device sync and the
timing protocol (one untimed warm-up each, then repeats in alternating order; ebmlang's trainer
kept from run to run, each timing its next epoch), and the GPU-only ones' CuPy."""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from ebmlang.backend.memory import keep_freed_memory

HERE = Path(__file__).resolve().parent


def parse_args(doc: str) -> argparse.Namespace:
    """--backend, --batch, --repeats, --mnist; then the allocator setting `ebm` uses, for every
    contender alike."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--backend", default="numpy", choices=("numpy", "cupy"))
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--mnist", default=str(HERE.parent.parent / "shared" / "data" / "mnist"))
    args = p.parse_args()
    keep_freed_memory()
    return args


def cupy_on_a_gpu(script: str):
    """CuPy, for a benchmark that runs only on a GPU; without CuPy, a driver or a device, the
    benchmark ends with a line that says so."""
    try:
        import cupy
        cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:                       # no CuPy, no driver or no device
        raise SystemExit(f"bench/{script} needs CuPy and a GPU ({type(exc).__name__})")
    return cupy


def sync(xp) -> None:
    if xp is not np:
        xp.cuda.Stream.null.synchronize()


def time_alternating(contenders: list, repeats: int, times: dict) -> None:
    """Append to ``times[name]`` the seconds of each ``(name, run)`` over ``repeats`` rounds.
    An untimed warm-up first (BLAS threads, memory first touched by someone), then the order
    alternates so that no contender always runs first."""
    for _, run in contenders:
        run(99)
    for r in range(repeats):
        for name, run in (contenders if r % 2 == 0 else contenders[::-1]):
            times[name].append(run(r))


def time_trainer_epoch(trainer, state, x, layer: str, graphs: bool, precision: str = "ieee") -> float:
    """Seconds of one ``trainer.run_epoch`` on ``x``, the steps replayed as a CUDA graph on CuPy
    unless ``graphs`` is False (train/graph.py); says so when a step that should have been
    captured was not."""
    from ebmlang.backend import matmul_precision
    from ebmlang.backend.graphs import DISABLE
    xp = trainer.program.xp
    os.environ[DISABLE] = "1" if graphs else "0"
    try:
        with matmul_precision(xp, precision):
            t0 = time.perf_counter()
            trainer.train_epoch(state, {layer: x})     # as the runner does: x is checked data
            sync(xp)
            seconds = time.perf_counter() - t0
    finally:
        os.environ.pop(DISABLE)
    if xp is not np and trainer.graph_status != ("captured" if graphs else f"{DISABLE}=0"):
        print(f"  (the step was not captured: {trainer.graph_status})")
    return seconds


class NextEpoch:
    """ebmlang as a contender: one trainer kept between timed runs, each of which times its next
    epoch. That is what an epoch of a many-epoch run costs, once the first (the untimed warm-up)
    has compiled the kernels and, on CuPy, captured the step, which later epochs replay.
    ``make()`` gives (trainer, state)."""

    def __init__(self, make, layer: str, graphs: bool = True, precision: str = "ieee"):
        self.make, self.layer, self.graphs, self.precision = make, layer, graphs, precision
        self.held = None

    def __call__(self, x) -> float:
        if self.held is None:
            self.held = self.make()
        return time_trainer_epoch(*self.held, x, self.layer, self.graphs, self.precision)
