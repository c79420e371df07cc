"""Published-style targets that are cheap enough for every CI run."""
from __future__ import annotations

import json
import math
from pathlib import Path

from ebmlang.cli import main

SPECS = Path(__file__).resolve().parents[1] / "specs"


def test_rbm_comes_within_half_a_nat_of_the_bars_and_stripes_entropy(tmp_path):
    """3 × 3 bars and stripes: 14 equally likely patterns, so no model beats −log 14 ≈ −2.639
    nats per pattern; the shipped spec must come within 0.5 nats of it (exact likelihood)."""
    out = tmp_path / "bs"
    assert main(["run", str(SPECS / "rbm-bars-and-stripes.yaml"), "--out", str(out), "--quiet",
                 "--set", "evaluate.samples=false"]) == 0
    ll = json.loads((out / "summary.json").read_text())["log_likelihood.exact"]
    assert -math.log(14) - 0.5 <= ll <= -math.log(14) + 1e-9


def _exact_run(tmp_path, spec: str) -> tuple[float, float, Path]:
    """(exact test log-likelihood, its lower bound, run folder) of a shipped deep spec."""
    out = tmp_path / spec
    assert main(["run", str(SPECS / f"{spec}.yaml"), "--out", str(out), "--quiet", "--set", "evaluate.samples=false"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    return summary["log_likelihood.exact"], summary["log_likelihood.exact_lower_bound"], out


def test_dbm_comes_within_half_a_nat_of_the_bars_and_stripes_entropy(tmp_path):
    """The two-layer DBM (pretrained RBMs with doubled fields, then mean field + PCD): exact
    log-likelihood within 0.5 nats of −log 14, and the mean-field lower bound below it."""
    ll, bound, _ = _exact_run(tmp_path, "dbm-bars-and-stripes")
    assert -math.log(14) - 0.5 <= ll <= -math.log(14) + 1e-9
    assert bound <= ll + 1e-9


def test_dbn_comes_within_half_a_nat_of_the_bars_and_stripes_entropy(tmp_path):
    """Greedy RBMs, then up-down: exact log-likelihood within 0.5 nats of −log 14, the
    recognition model's bound below it, and up-down no worse than where greedy training left it."""
    ll, bound, out = _exact_run(tmp_path, "dbn-bars-and-stripes")
    assert -math.log(14) - 0.5 <= ll <= -math.log(14) + 1e-9
    assert bound <= ll + 1e-9
    records = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    greedy = [r["log_likelihood_test"] for r in records if r["stage"] == 3][-1]
    assert ll >= greedy - 0.1
