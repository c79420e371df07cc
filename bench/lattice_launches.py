"""What a lattice sweep costs around its kernel (CuPy only): ``lattice_sweeps`` whole, the two
conversions to and from int8 high bits, and per launch the GPU's time against the host's.

    python bench/lattice_launches.py [--side 2048] [--chains 16]

`bench/lattice_kernel.py` times the kernel alone by events. A launch is bound by the host when
issuing it takes the host as long as the GPU takes to run it; this prints both, for the
package's launch (`lattice_gpu.HalfSweeps`, its arguments built once a call) and for a launch
that builds its arguments every time (`lattice_gpu.half_sweep`, as the tests call it).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from ebmlang.backend import Rng
from ebmlang.kernels import lattice_gpu

from common import cupy_on_a_gpu


def wall(cp, run, repeats: int = 5) -> float:
    """Best of ``repeats`` wall-clock seconds of ``run()``, the GPU idle before and after."""
    best = float("inf")
    for _ in range(repeats):
        cp.cuda.Stream.null.synchronize()
        t0 = time.perf_counter()
        run()
        cp.cuda.Stream.null.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best


def per_launch(cp, launch, launches: int = 200) -> tuple[float, float, float]:
    """(wall, GPU by events, host issue) seconds a launch of ``launch(i)``."""
    def run():
        for i in range(launches):
            launch(i)
    run()                                                   # compile and warm up
    total = wall(cp, run)
    start, end = cp.cuda.Event(), cp.cuda.Event()
    cp.cuda.Stream.null.synchronize()
    t0 = time.perf_counter()
    start.record()
    run()
    host = time.perf_counter() - t0
    end.record()
    end.synchronize()
    return total / launches, cp.cuda.get_elapsed_time(start, end) / 1e3 / launches, host / launches


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--side", type=int, default=2048)
    p.add_argument("--chains", type=int, default=16)
    a = p.parse_args()
    cp = cupy_on_a_gpu("lattice_launches.py")
    side, chains, sites = a.side, a.chains, a.side * a.side
    plan = lattice_gpu.LatticePlan("s", "w", "b", (1, side, side), True, 2.0, -1)
    up = cp.random.default_rng(0).random((chains, sites)) < 0.5
    x = cp.where(up, 1.0, -1.0).astype(cp.float32)
    params = {"w": cp.asarray(1.0, cp.float32), "b": cp.zeros(sites, cp.float32)}
    rng = Rng(cp, 5)
    print(f"{side}x{side} periodic Ising, {chains} chains, float32, one bias")
    lattice_gpu.lattice_sweeps(plan, params, x, rng, 1, 2.3)             # compile
    for sweeps in (50, 200):
        t = wall(cp, lambda: lattice_gpu.lattice_sweeps(plan, params, x, rng, sweeps, 2.3))
        print(f"  lattice_sweeps, {sweeps:>3} sweeps  {t * 1e3:8.3f} ms "
              f"{chains * sites * sweeps / t / 1e9:8.1f} spin updates/ns")
    bits = lattice_gpu.high_bits(x, cp)
    back = lattice_gpu.unit_values(bits, -1, cp.float32)
    assert bool((back == x).all()), "high bits and back do not give the states"
    to_bits = wall(cp, lambda: lattice_gpu.high_bits(x, cp))
    to_values = wall(cp, lambda: lattice_gpu.unit_values(bits, -1, cp.float32))
    print(f"  to high bits {to_bits * 1e6:.0f} µs, back to unit values {to_values * 1e6:.0f} µs "
          f"(the {x.nbytes / 1e6:.0f} MB of states)")
    bias, state = params["b"], cp.asarray(np.array([3, 4, 0], np.uint32))
    half = lattice_gpu.HalfSweeps(bits, plan, cp.ones(1, cp.float32), bias, cp.ones(1, cp.int32),
                                  np.float32(0.87), state, (3, 4))
    rebuilt = lambda i: lattice_gpu.half_sweep(bits, plan, i % 2, np.float32(1.0), bias, True,
                                               np.float32(0.87), state, (3, 4), i)
    for name, launch in (("HalfSweeps", lambda i: half(i % 2, i)),
                         ("arguments every launch", rebuilt)):
        t, gpu, host = per_launch(cp, launch)
        print(f"  {name:<24} a launch: {t * 1e6:6.1f} µs wall, GPU {gpu * 1e6:6.1f} µs, "
              f"host issue {host * 1e6:6.1f} µs")


if __name__ == "__main__":
    main()
