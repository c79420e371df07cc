"""The grid of Gaussians and the measures of mode coverage judged on it (issue 10's GAN benchmark)."""
from __future__ import annotations

import numpy as np
import yaml

from ebmlang import load_data, parse_spec
from ebmlang.data.synthetic import grid_means
from ebmlang.eval.generative import mode_coverage

GRID = {"name": "grid", "data": {"source": "gaussian-grid", "samples": 5000, "labels": "y"},
        "model": {"layers": {"v": {"size": 2, "units": "gaussian"}, "y": {"size": 25, "units": "softmax"}},
                  "couplings": [{"between": ["v", "y"]}]}}


def test_the_grid_is_the_benchmarks_25_modes():
    means = grid_means(5, 2.0)
    assert means.shape == (25, 2) and means.min() == -4 and means.max() == 4
    assert sorted(set(means[:, 0])) == [-4, -2, 0, 2, 4]


def test_samples_of_the_mixture_itself_cover_every_mode_within_three_sigma():
    data = load_data(parse_spec(yaml.safe_dump(GRID), "grid.yaml"))
    measured = mode_coverage(data.test, grid_means(5, 2.0), 0.05)
    assert measured["modes"] == 25 and measured["of"] == 25
    assert abs(measured["high_quality"] - (1 - np.exp(-4.5))) < 0.01     # P(‖z‖ ≤ 3) in 2-D
    assert np.all(np.linalg.norm(data.test - grid_means(5, 2.0)[data.test_labels], axis=1) < 1)   # labels = modes


def test_a_collapsed_generator_covers_one_mode():
    means = grid_means(5, 2.0)
    collapsed = means[7] + 0.01 * np.random.default_rng(0).standard_normal((500, 2))
    measured = mode_coverage(collapsed, means, 0.05)
    assert measured == {"modes": 1, "of": 25, "high_quality": 1.0}
    spread = np.random.default_rng(1).uniform(-5, 5, (2000, 2))     # mass off the modes
    assert mode_coverage(spread, means, 0.05)["high_quality"] < 0.1
