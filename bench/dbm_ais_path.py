"""Forward AIS on a trained DBM along its two paths: the chains carrying v and h1 (h2 summed out,
``keep_data``) or h1 alone (v and h2 summed out, Salakhutdinov & Hinton 2009, the default).

    python bench/dbm_ais_path.py RUN_FOLDER [--steps 1000] [--runs 100] [--seeds 3] [--mnist DIR]

RUN_FOLDER is an `ebm run specs/dbm-mnist.yaml` folder (its spec.resolved.yaml and model.npz).
Prints, for each path and seed, log Ẑ with its ±3σ interval and the spread (standard deviation)
of the runs' log-weights, then the ratio of the mean spreads: the path with the smaller spread
gives the sharper estimate for the same work.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ebmlang import compile_spec, load_spec
from ebmlang.backend import Rng
from ebmlang.data import load_data
from ebmlang.eval.ais import _estimate, betas, forward_log_weights
from ebmlang.eval.annealing import AnnealingPath

HERE = Path(__file__).resolve().parent


def trained_dbm(folder: Path, mnist: str):
    """(model with the run's parameters, the training data's pixel means)."""
    spec = load_spec(folder / "spec.resolved.yaml", [f"data.path={mnist}"])
    mean = load_data(spec).train.mean(axis=0)
    model = compile_spec(spec, data_mean={"v": mean})
    with np.load(folder / "model.npz") as saved:
        for key, value in model.params.items():
            value[...] = saved[key]
    return model, mean


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--mnist", default=str(HERE.parent.parent / "shared" / "data" / "mnist"))
    a = p.parse_args()
    model, mean = trained_dbm(a.folder, a.mnist)
    spreads = {}
    for keep_data in (True, False):
        path = AnnealingPath.for_model(model.program, model.params, "v", mean, keep_data=keep_data)
        spreads[keep_data] = []
        for seed in range(a.seeds):
            log_w = forward_log_weights(path, a.runs, betas(a.steps), Rng(np, seed, 0xA15))
            r = _estimate(log_w, path.log_z_base())
            spreads[keep_data].append(log_w.std())
            print(f"chains on {'+'.join(path.kept):<6} seed {seed}: log Z {r.log_z:.2f} "
                  f"[{r.lower:.2f}, {r.upper:.2f}]  spread of log w {log_w.std():.2f}", flush=True)
    ratio = np.mean(spreads[False]) / np.mean(spreads[True])
    print(f"ratio spread(h1 alone) / spread(v and h1) = {ratio:.3f}   ({a.steps} β's, {a.runs} runs)")


if __name__ == "__main__":
    main()
