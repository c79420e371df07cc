"""Full MNIST (slow; run by CI's second step): a 784–500 RBM learns in a couple of epochs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ebmlang import compile_spec, load_data, load_spec
from ebmlang.cli import main
from ebmlang.eval import reconstruction_error

SPECS = Path(__file__).resolve().parents[1] / "specs"


@pytest.mark.slow
def test_rbm_mnist_trains_on_full_mnist(mnist_dir, tmp_path):
    """Two PCD epochs over all 60,000 images: the test reconstruction error must fall below 0.7×
    of the untrained model's, and held-out free energies stay near the training ones."""
    sets = [f"data.path={mnist_dir}", "train.epochs=2", "evaluate.samples.steps=50"]
    spec = load_spec(SPECS / "rbm-mnist.yaml", sets)
    data = load_data(spec)
    untrained = compile_spec(spec, data_mean={"v": data.train.mean(axis=0)})
    before = reconstruction_error(untrained.program, untrained.params, {"v": untrained.xp.asarray(
        data.test[:1000], dtype=untrained.program.dtype)})
    out = tmp_path / "run"
    args = ["run", str(SPECS / "rbm-mnist.yaml"), "--out", str(out), "--quiet"]
    assert main(args + [a for s in sets for a in ("--set", s)]) == 0
    records = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 2
    assert records[-1]["recon_error_test"] < 0.7 * before
    assert abs(records[-1]["free_energy_gap"]) < 10
    assert (out / "filters.png").stat().st_size > 10_000
