"""Where a CD-1 step of the 784–500 RBM spends its GPU time, kernel by kernel (CuPy).

    python bench/step_profile.py [--batch 1000] [--steps 20]

Runs the step under PyTorch's profiler, whose CUPTI tracing sees every kernel of the process,
CuPy's and cuBLAS's included (and each node of a CUDA graph), twice: eagerly (each kernel its
own launch) and as the trainer replays it (an epoch of ``steps`` minibatches after a first,
untimed one). For each it prints per step: each kernel's count and GPU microseconds, their sum
(the GPU's busy time) and the GEMMs' share of it. Bench-only: needs CuPy and PyTorch.
"""
from __future__ import annotations

import argparse
import os

import numpy as np

from ebmlang import compile_spec, parse_spec
from ebmlang.backend import Rng
from ebmlang.backend.graphs import DISABLE
from ebmlang.train import Trainer

from rbm_epoch import SPEC


def kernel_times(step, steps: int) -> dict:
    """{kernel name: (launches, GPU µs)} per step, over ``steps`` calls of ``step``."""
    import cupy
    import torch
    from torch.profiler import ProfilerActivity, profile
    torch.zeros(1, device="cuda")           # the profiler's CUPTI needs torch's CUDA set up
    cupy.cuda.Device().synchronize()
    from torch.autograd import DeviceType
    # CPU activity too: with CUDA's alone some torch versions record no kernel events
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            step()
        cupy.cuda.Device().synchronize()
    return {e.key: (e.count / steps, e.self_device_time_total / steps)   # kernels, copies, sets
            for e in prof.key_averages()
            if e.device_type == DeviceType.CUDA and e.self_device_time_total > 0}


GEMM_NAMES = ("gemm", "gemv", "nvjet", "cutlass", "xmma", "sm90_")     # cuBLAS's kernels on Hopper


def report(title: str, times: dict) -> None:
    total = sum(us for _, us in times.values())
    gemm = sum(us for name, (_, us) in times.items() if any(g in name.lower() for g in GEMM_NAMES))
    print(title)
    for name, (n, us) in sorted(times.items(), key=lambda kv: -kv[1][1]):
        print(f"  {us:8.1f} µs  {n:4.1f}×  {name[:90]}")
    print(f"GPU busy per step {total:.1f} µs, of which GEMMs {gemm:.1f} µs "
          f"({gemm / max(total, 1e-9):.0%}); {sum(n for n, _ in times.values()):.0f} launches\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=20)
    a = ap.parse_args()
    spec = parse_spec(SPEC.replace("BATCH", str(a.batch)), "bench.yaml", ["backend=cupy"])
    model = compile_spec(spec, "cupy")
    xp = model.xp
    trainer = Trainer(model.program, spec.train, ("v",), 0)
    st = trainer.init_state(model.params)
    x = xp.asarray((np.random.default_rng(0).random((a.batch * a.steps, 784)) < 0.13)
                   .astype(np.float32))
    rng = Rng(xp, 1, counter_based=True)

    def step():
        rng.advance()
        trainer.step(st, {"v": x[:a.batch]}, rng)

    os.environ[DISABLE] = "0"
    for _ in range(3):                      # compiles every kernel first
        step()
    eager = kernel_times(step, a.steps)
    if not eager:
        raise SystemExit("the profiler recorded no GPU activity (CUPTI unavailable here?)")
    report(f"784-500 RBM, CD-1, batch {a.batch}: GPU time per step, eager, kernel by kernel", eager)
    os.environ[DISABLE] = "1"
    trainer.run_epoch(st, x, "v")           # warms up and captures the step
    replayed = kernel_times(lambda: trainer.run_epoch(st, x, "v"), 1)
    status = trainer.graph_status
    report(f"the same, as the trainer runs it ({status}), per step of an epoch of {a.steps}",
           {name: (n / a.steps, us / a.steps) for name, (n, us) in replayed.items()})


if __name__ == "__main__":
    main()
