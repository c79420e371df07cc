"""Checkerboard Gibbs sweeps of a periodic L × L Ising lattice: ebmlang against the plain NumPy
loop a user would write, timed in the same run.

    python bench/ising_sweep.py [--backend numpy|cupy] [--side 256] [--chains 1] [--sweeps 200]

Prints spin updates per nanosecond for both and the ratio (ebmlang / plain: above 1 is faster).
On CuPy, ebmlang runs the lattice kernel (int8 spins, Philox in registers; kernels/lattice_gpu.py)
and a third contender, its generic block sweep, shows what the kernel gains.
Each contender runs once untimed, then the repeats alternate, and each keeps its best.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from ebmlang import compile_spec, parse_spec
from ebmlang.backend import Rng, get_namespace
from ebmlang.kernels import block_update, gibbs_sweep, random_state

SPEC = """
name: ising-bench
model:
  layers:
    s: {{size: {n}, units: spin}}
  couplings:
    - {{between: [s, s], connectivity: {{lattice: {{dims: [{side}, {side}]}}}}, init: {{constant: {{value: 1.0}}}},
       trainable: false}}
"""


def plain_sweeps(s, t, sweeps, xp, seed):
    """The loop by hand: (chains, L, L) spins, two colours by coordinate parity, heat-bath updates."""
    gen = xp.random.default_rng(seed)
    side = s.shape[-1]
    parity = (np.add.outer(np.arange(side), np.arange(side)) % 2).astype(bool)
    masks = [xp.asarray(~parity), xp.asarray(parity)]
    for _ in range(sweeps):
        for mask in masks:
            field = (xp.roll(s, 1, 1) + xp.roll(s, -1, 1) + xp.roll(s, 1, 2) + xp.roll(s, -1, 2))
            p_up = 0.5 * (1 + xp.tanh(field / t))          # σ(2·field/T)
            new = xp.where(gen.random(s.shape, dtype=np.float32) < p_up, 1.0, -1.0).astype(np.float32)
            s = xp.where(mask, new, s)
    return s


def _sync(xp):
    if xp is not np:
        xp.cuda.Stream.null.synchronize()


def time_plain(xp, side, chains, sweeps, seed):
    s = xp.ones((chains, side, side), dtype=np.float32)
    _sync(xp)
    t0 = time.perf_counter()
    plain_sweeps(s, 2.3, sweeps, xp, seed)
    _sync(xp)
    return time.perf_counter() - t0


def time_ebmlang(backend, side, chains, sweeps, seed, generic=False):
    """ebmlang's sweep; ``generic``: the block sweep every model takes, even where the lattice
    kernel would (on CuPy a lattice model otherwise runs cuda/lattice.cu, int8 states)."""
    model = compile_spec(parse_spec(SPEC.format(n=side * side, side=side), "bench.yaml"), backend)
    rng = Rng(model.xp, seed)
    state = random_state(model.program, model.params, chains, rng)
    _sync(model.xp)                     # the starting states' draws are not the sweeps' time
    t0 = time.perf_counter()
    if generic:
        for _ in range(sweeps):
            for block in model.program.schedule:
                state = block_update(model.program, model.params, state, block, rng, temperature=2.3)
    else:
        gibbs_sweep(model.program, model.params, state, rng, sweeps=sweeps, temperature=2.3)
    _sync(model.xp)
    return time.perf_counter() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="numpy", choices=("numpy", "cupy"))
    p.add_argument("--side", type=int, default=256)
    p.add_argument("--chains", type=int, default=1)
    p.add_argument("--sweeps", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    xp = get_namespace(a.backend)
    runs = {"ebmlang": lambda r: time_ebmlang(a.backend, a.side, a.chains, a.sweeps, r),
            "plain loop": lambda r: time_plain(xp, a.side, a.chains, a.sweeps, r)}
    if a.backend == "cupy":
        runs["generic"] = lambda r: time_ebmlang(a.backend, a.side, a.chains, a.sweeps, r, generic=True)
    for run in runs.values():
        run(99)
    times = {k: [] for k in runs}
    for r in range(a.repeats):
        for name in (list(runs) if r % 2 == 0 else list(runs)[::-1]):
            times[name].append(runs[name](r))
    updates = a.side * a.side * a.chains * a.sweeps
    print(f"{a.side}x{a.side} periodic Ising, {a.chains} chain(s), {a.sweeps} sweeps, backend {a.backend}")
    for name, ts in times.items():
        print(f"  {name:<11} {min(ts):7.3f} s   {updates / min(ts) / 1e9:8.4f} spin updates/ns")
    print(f"ratio ebmlang speed / plain loop speed = {min(times['plain loop']) / min(times['ebmlang']):.3f}")
    if "generic" in times:
        print(f"ratio lattice kernel speed / generic block sweep speed = "
              f"{min(times['generic']) / min(times['ebmlang']):.3f}")


if __name__ == "__main__":
    main()
