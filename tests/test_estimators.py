"""Pseudo-log-likelihood against its definition; the linear probe on data it must separate."""
from __future__ import annotations

import numpy as np
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ebmlang import compile_spec, parse_spec
from ebmlang.backend import get_namespace, to_numpy
from ebmlang.eval.probe import probe_error, train_probe
from ebmlang.eval.pseudo import pseudo_log_likelihood


@given(st.sampled_from(["binary", "spin"]), st.sampled_from(["binary", "spin", "softmax"]), st.integers(2, 7),
       st.integers(2, 5), st.integers(0, 2**16), st.sampled_from([1.0, 0.7]), st.booleans())
def test_pseudo_log_likelihood_is_its_definition(visible, hidden, n_v, n_h, seed, temperature,
                                                 hidden_first):
    """Also with the coupling written hidden-first (`between: [h, v]`): the data layer decides."""
    layers = {"v": {"size": n_v, "units": visible, "bias": {"normal": {"std": 0.5}}},
              "h": {"size": n_h, "units": hidden, "bias": {"normal": {"std": 0.5}}}}
    if hidden == "softmax":
        layers["h"]["categories"] = n_h
    model = compile_spec(parse_spec(yaml.safe_dump({
        "name": "p", "seed": seed, "dtype": "float64",
        "model": {"layers": layers, "temperature": temperature,
                  "couplings": [{"between": ["h", "v"] if hidden_first else ["v", "h"],
                                 "init": {"normal": {"std": 1.0}}}]}}), "p.yaml"))
    gen = np.random.default_rng(seed)
    v = gen.integers(0, 2, (5, n_v)).astype(float)
    v = 2 * v - 1 if visible == "spin" else v
    expected = np.zeros(5)
    for i in range(n_v):       # log p(v_i | v_−i) from the free energies of both values of unit i
        other = v.copy()
        other[:, i] = (1 - v[:, i]) if visible == "binary" else -v[:, i]
        f, g = to_numpy(model.free_energy({"v": v})), to_numpy(model.free_energy({"v": other}))
        expected += -f / temperature - np.logaddexp(-f / temperature, -g / temperature)
    np.testing.assert_allclose(pseudo_log_likelihood(model.program, model.params, v, "v"), expected,
                               atol=1e-9)


def test_probe_separates_separable_classes_and_not_noise(backend):
    xp = get_namespace(backend)
    gen = np.random.default_rng(0)
    centres = gen.standard_normal((3, 10)) * 4
    labels = gen.integers(0, 3, 600)
    x = centres[labels] + gen.standard_normal((600, 10))
    fitted = train_probe(xp, xp.asarray(x[:500]), labels[:500], 3, epochs=30)
    assert probe_error(fitted, xp.asarray(x[500:]), labels[500:]) < 0.03
    noise = gen.integers(0, 3, 600)             # labels unrelated to the inputs: chance level
    fitted = train_probe(xp, xp.asarray(x[:500]), noise[:500], 3, epochs=30)
    assert probe_error(fitted, xp.asarray(x[500:]), noise[500:]) > 0.45
