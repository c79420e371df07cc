"""Whole processes, as a user times them: `ebm run` of a 784–500 RBM (CD-1, batch 100, float32,
the default evaluation and figures) against the plain NumPy script a user writes
(``process/plain_rbm.py``) and scikit-learn's BernoulliRBM (``process/sklearn_rbm.py``), for 1
and 5 epochs on full MNIST, alternated in one run.

    python bench/rbm_process.py [--mnist DIR] [--repeats 3] [--epochs 1 5]

Each command runs once untimed first (the decoded-MNIST cache of `ebm` gets warm, as on any run
after the first; the page cache too, for everyone); then the timed repeats alternate their order
and each keeps its best. Prints seconds and the ratios; aims (issue 13): `ebm run` ≤ 1.15× the
plain script and ≤ 0.35× scikit-learn. What `ebm run` does beyond the plain script's training:
parses and validates the spec, monitors each epoch on fixed subsets of 1000 training and 1000
test images (reconstruction error, free energies), evaluates the test set, draws samples (64
chains, 200 sweeps), filters and curves, and checkpoints every epoch.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPEC = """
name: bench-process
seed: 0
dtype: float32
data: {source: mnist, binarize: 0.5}
model:
  layers:
    v: {size: 784, units: binary, shape: [28, 28]}
    h: {size: 500, units: binary}
  couplings:
    - {between: [v, h], init: {normal: {std: 0.01}}}
train: {rule: cd, k: 1, epochs: 1, batch_size: 100, optimizer: {sgd: {lr: 0.05, momentum: 0.5}}}
"""


def commands(mnist: str, epochs: int, work: Path) -> dict:
    spec = work / "bench.yaml"
    spec.write_text(SPEC)
    ebm = [sys.executable, "-m", "ebmlang.cli", "run", str(spec), "--out", str(work / "run"), "--quiet",
           "--set", f"data.path={mnist}", "--set", f"train.epochs={epochs}"]
    out = {"ebm run": ebm,
           "plain script": [sys.executable, str(HERE / "process" / "plain_rbm.py"), mnist, str(epochs),
                            str(work / "plain.npy")]}
    try:
        import sklearn  # noqa: F401
        out["scikit-learn"] = [sys.executable, str(HERE / "process" / "sklearn_rbm.py"), mnist, str(epochs),
                               str(work / "sk.npy")]
    except ImportError:
        pass
    return out


def seconds(command: list) -> float:
    t0 = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mnist", default=str(HERE.parent.parent / "shared" / "data" / "mnist"))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, nargs="+", default=[1, 5])
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for epochs in args.epochs:
            cmds = commands(str(Path(args.mnist).resolve()), epochs, Path(tmp))
            for command in cmds.values():
                seconds(command)                                    # warm-up
            best = {name: float("inf") for name in cmds}
            for r in range(args.repeats):
                order = list(cmds.items()) if r % 2 == 0 else list(cmds.items())[::-1]
                for name, command in order:
                    best[name] = min(best[name], seconds(command))
            line = "  ".join(f"{name} {s:.2f} s" for name, s in best.items())
            ratios = f"ebm / plain {best['ebm run'] / best['plain script']:.2f} (aim ≤ 1.15)"
            if "scikit-learn" in best:
                ratios += f"  ebm / scikit-learn {best['ebm run'] / best['scikit-learn']:.2f} (aim ≤ 0.35)"
            print(f"{epochs} epoch{'s' * (epochs > 1)}: {line}  |  {ratios}", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count()))
    main()
