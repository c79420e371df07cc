"""The whole GPU check of issue 13 in one command, sized for a short loan of an H100 or H200:
the CuPy variants of the test suite, then the benchmarks against the plain CuPy loop, the GEMM
and CUDA-graph floors and PyTorch (where installed), each step under its own time limit.

    PYTHONPATH=. python3 bench/gpu_check.py --out $OUT [--mnist .gpu-data/mnist]
    python bench/gpu_check.py --backend numpy --out /tmp/gpu-check      # rehearse it on a CPU

Every step's output goes to OUT/NN-step.log and a table of steps, exit codes and seconds to
OUT/summary.txt (also printed), so whatever finishes before a limit still comes back. With
`--backend numpy` the same steps run with small sizes, to debug the script where no GPU is.

On the lent machine the repository arrives without ../shared: carry MNIST's four .gz files in an
ignored folder (`mkdir -p .gpu-data && cp -r ../shared/data/mnist .gpu-data/`, `carry:
[.gpu-data]`). Its image has CuPy, NumPy, networkx, PyYAML, pytest and hypothesis, so ebmlang
runs from the checkout without installing anything.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def steps(backend: str, mnist: str) -> list[tuple[str, list[str], int]]:
    """(name, command, seconds allowed); the GPU sizes are the issue's targets, and the limits
    add up to 590 s, inside one 10-minute call (the tests and benchmarks took 4.7 minutes on an
    H100, the first time, and 4.5 on an H200 in session 18)."""
    py, gpu = sys.executable, backend == "cupy"
    tests = (["-m", "gpu"] if gpu else ["tests/test_backends_agree.py", "tests/test_stencil.py",
                                        "tests/test_cuda_kernels.py", "tests/test_cuda_graphs.py",
                                        "tests/test_fields.py", "tests/test_sparse_rows.py"])
    mn = ["--mnist", mnist]
    ising = ["--side", "2048", "--chains", "16", "--sweeps", "50"] if gpu else \
        ["--side", "128", "--chains", "2", "--sweeps", "20"]
    ais = ["--runs", "100", "--steps", "14500", "--repeats", "1"] if gpu else \
        ["--runs", "20", "--steps", "200", "--repeats", "1"]
    bench = lambda name, *args: [py, f"bench/{name}.py", "--backend", backend, *args]
    reps = ["--repeats", "3" if gpu else "1"]
    slow = 1 if gpu else 4                  # NumPy takes seconds where the GPU takes tenths
    return [
        ("environment", [py, "-c", ENVIRONMENT], 20),
        # every failure listed, not just the first: the loan is too short to rerun for the next
        # -v: a step cut off by its limit still shows which test it was in
        ("cupy-tests" if gpu else "tests", [py, "-m", "pytest", "-v", "-p", "no:cacheprovider",
                                            "-rfE", "--tb=short", "--durations=10", *tests],
         165 if gpu else 120),
        ("rbm-epoch-batch100", bench("rbm_epoch", "--batch", "100", *reps, *mn), 45 * slow),
        ("rbm-epoch-batch1000", bench("rbm_epoch", "--batch", "1000", *reps, *mn), 35 * slow),
        ("ais", bench("ais_rbm", *ais), 80),
        ("ising", bench("ising_sweep", *ising, "--repeats", "2"), 40),
        # full MNIST through a 784-1000-500-250-30 net: ~23 s an epoch on a 2-core CPU
        ("backprop-epoch", bench("backprop_epoch", "--repeats", "2" if gpu else "1", *mn),
         45 if gpu else 300),
    ] + ([("lattice-kernel", [py, "bench/lattice_kernel.py"], 100),
          ("lattice-launches", [py, "bench/lattice_launches.py"], 25),
          ("step-profile", [py, "bench/step_profile.py", "--batch", "1000"], 35)] if gpu else [])


ENVIRONMENT = """
import platform, numpy, ebmlang
print("python", platform.python_version(), "numpy", numpy.__version__, "ebmlang", ebmlang.__version__)
try:
    import cupy
    props = cupy.cuda.runtime.getDeviceProperties(0)
    print("cupy", cupy.__version__, "device", props["name"].decode(), "CUDA runtime",
          cupy.cuda.runtime.runtimeGetVersion())
except Exception as exc:
    print("cupy: not usable here:", type(exc).__name__, exc)
try:
    import torch
    print("torch", torch.__version__, "cuda", torch.cuda.is_available())
except ImportError:
    print("torch: not installed")
"""


def run_step(index: int, name: str, command: list[str], limit: int, out: Path) -> tuple[int, float]:
    log = out / f"{index:02d}-{name}.log"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "PYTHONUNBUFFERED": "1", "HYPOTHESIS_PROFILE": "quick"}
    t0 = time.perf_counter()
    with open(log, "w") as f:
        f.write("$ " + " ".join(command) + "\n")
        f.flush()
        try:
            code = subprocess.run(command, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT,
                                  timeout=limit).returncode
        except subprocess.TimeoutExpired:
            code = 124
    seconds = time.perf_counter() - t0
    print(f"== {name}: exit {code} in {seconds:.0f} s", flush=True)
    print(log.read_text()[-4000:], flush=True)
    return code, seconds


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="cupy", choices=("cupy", "numpy"))
    p.add_argument("--out", default=os.environ.get("OUT", "gpu-check"))
    p.add_argument("--mnist", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument("--only", nargs="*", help="run just these steps")
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    plan = steps(a.backend, a.mnist)
    unknown = set(a.only or ()) - {name for name, _, _ in plan}
    if unknown:
        p.error(f"no step named {', '.join(sorted(unknown))}; the steps: "
                + ", ".join(name for name, _, _ in plan))
    rows = []
    for i, (name, command, limit) in enumerate(plan):
        if a.only and name not in a.only:
            continue
        code, seconds = run_step(i, name, command, limit, out)
        rows.append(f"{name:<22} exit {code:<4} {seconds:6.0f} s (limit {limit} s)")
        (out / "summary.txt").write_text("\n".join(rows) + "\n")    # kept if a later step is cut off
    print("\n".join(rows))
    return 0 if all(" exit 0 " in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
