"""What the MNIST epoch benchmarks share: their command line, the device sync, and the timing
protocol (one untimed warm-up each, then repeats in alternating order)."""
from __future__ import annotations

import argparse
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
