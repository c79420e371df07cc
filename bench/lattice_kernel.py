"""The lattice kernel alone (CuPy only): one launch of one colour, timed by CUDA events, for
several launch shapes and builds, against a copy of the lattice (a memory floor).

    python bench/lattice_kernel.py [--side 2048] [--chains 16] [--launches 200]

`bench/ising_sweep.py` times whole sweeps as a model runs them (the conversions to and from
int8 included); this times what `kernels/cuda/lattice.cu` itself costs, so that its launch
shape and its compile-time settings can be chosen on the card at hand: the column walk's rows a
thread (`lattice_gpu.BAND`; cuda/lattice_walk.cu), the row path's quads a thread with the walk
off (band 0; `QUADS_PER_THREAD`), and blocks an SM (LATTICE_MIN_BLOCKS). Every configuration is checked to give the first one's states after a sweep (the same
draws: they must agree site for site). Prints µs a launch, spin updates per ns and the ratio to
the copy.
"""
from __future__ import annotations

import argparse

import numpy as np

from ebmlang.kernels import lattice_gpu

from common import cupy_on_a_gpu


# (build, quads a thread on the row path, rows a thread walks: 0 for the row path); the first is
# the row path's default (session 18's design), every one's states are checked against it
CONFIGURATIONS = [("default", 16, 0), ("default", 8, 0),
                  *(("default", 16, band) for band in (4, 8, 16, 32, 64)),
                  *(("2 blocks an SM", 16, band) for band in (8, 16, 32)),
                  *(("3 blocks an SM", 16, band) for band in (16, 32))]


def event_time(cp, launch, launches: int, repeats: int = 3) -> float:
    """Best of ``repeats`` of the mean seconds of ``launch(i)`` over ``launches`` calls."""
    launch(0)                                               # compile and warm up, untimed
    best = float("inf")
    for _ in range(repeats):
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        for i in range(launches):
            launch(i)
        end.record()
        end.synchronize()
        best = min(best, cp.cuda.get_elapsed_time(start, end) / 1e3 / launches)
    return best


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--side", type=int, default=2048)
    p.add_argument("--chains", type=int, default=16)
    p.add_argument("--launches", type=int, default=200)
    a = p.parse_args()
    cp = cupy_on_a_gpu("lattice_kernel.py")
    side, chains = a.side, a.chains
    plan = lattice_gpu.LatticePlan("s", "w", "b", (1, side, side), True, 2.0, -1)
    start = lattice_gpu.high_bits(cp.random.default_rng(0).integers(0, 2, (chains, side * side),
                                                                  dtype=cp.int8), cp)
    bias, scale = cp.zeros(side * side, cp.float32), np.float32(2 / 2.3)
    coupling, shared = cp.ones(1, cp.float32), cp.ones(1, cp.int32)     # J = 1, one bias
    rng_state = cp.asarray(np.array([3, 4, 0], dtype=np.uint32))
    sites = chains * side * side / 2                        # one colour a launch

    def launcher(bits, quads, band, defines):
        half = lattice_gpu.HalfSweeps(bits, plan, coupling, bias, shared, scale, rng_state,
                                      (3, 4), quads_per_thread=quads, band=band, defines=defines)
        return lambda i: half(i % 2, 10 + i)

    copy = cp.empty_like(start)
    floor = event_time(cp, lambda i: cp.copyto(copy, start), a.launches)
    print(f"{side}x{side} periodic Ising, {chains} chains, one colour a launch, float32, one bias")
    print(f"  copy of the int8 lattice   {floor * 1e6:8.1f} µs")
    reference = None
    for name, quads, band in CONFIGURATIONS:
        defines = lattice_gpu.BUILDS[name]
        bits = start.copy()
        sweep = launcher(bits, quads, band, defines)
        sweep(0), sweep(1)                                  # one sweep: draws 10 and 11
        if reference is None:
            reference = bits.copy()
        same = bool((bits == reference).all())
        t = event_time(cp, launcher(start.copy(), quads, band, defines), a.launches)
        shape = f"band {band:>2}" if band else f"rows, {quads:>2} quads"
        flag = "" if same else "   STATES DIFFER from the first's"
        print(f"  {name:<18} {shape:<15} {t * 1e6:8.1f} µs {sites / t / 1e9:8.1f} spin updates/ns"
              f"   ratio to the copy = {t / floor:5.2f}{flag}")
    print(f"(the package walks {lattice_gpu.BAND} rows a thread, the default build)")


if __name__ == "__main__":
    main()
