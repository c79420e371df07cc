"""The fused conditionals (units/fields.py, units/cuda/fields.cu): one launch from a layer's input
to its conditional and a draw.

- always: the references compute each unit type's own conditional, and a counter-based Rng draws
  through them with one draw per call (Gibbs chains drawn that way keep the exact distribution:
  test_cuda_kernels.py and test_gaussian_rbm.py);
- with nvcc: the host build of each thread's code matches the references;
- with CuPy and a GPU (marked gpu): the kernels match the references, and the unit types use them.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ebmlang.backend import Rng, to_numpy
from ebmlang.backend.draws import counter_of, reference_uniform
from ebmlang.units import fields
from ebmlang.units.base import LayerParams
from ebmlang.units.types import Binary, Gaussian, Softmax, Spin
from nvcc import host_program, needs_nvcc, ptx, run

SOURCES = ("draws.cu", fields.SOURCE)
TIE = {np.float32: 1e-5, np.float64: 1e-12}
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}
KEYS = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
DTYPES = st.sampled_from([np.float32, np.float64])


def _layer(kind: str, batch: int, n: int, dtype, seed: int):
    """(units, input u, layer params) of a random layer of ``kind`` (softmax: groups of 3)."""
    gen = np.random.default_rng(seed)
    units = {"binary": Binary(), "spin": Spin(), "gaussian": Gaussian(),
             "softmax": Softmax(3)}[kind]
    u, bias = gen.normal(0, 2, (batch, n)).astype(dtype), gen.normal(0, 1, n).astype(dtype)
    sigma = gen.uniform(0.3, 2, n).astype(dtype) if kind == "gaussian" else None
    return units, u, LayerParams(bias, sigma)


KINDS = ["binary", "spin", "gaussian", "softmax"]


@settings(max_examples=30)
@given(st.sampled_from(KINDS), DTYPES, st.sampled_from([1.0, 0.5, 2.5]), st.integers(0, 999))
def test_the_references_compute_each_unit_types_conditional(kind, dtype, temperature, seed):
    """The fused arithmetic (×1/T, tanh sigmoid, b + σu) is each unit type's own conditional."""
    units, u, p = _layer(kind, 4, 6, dtype, seed)
    plain = units.conditional(u, p, temperature)
    fused_cond, _ = units.conditional_sample(u, p, temperature, Rng(np, seed, counter_based=True))
    for mine, theirs in zip(fused_cond, plain):
        if mine is not None:
            assert mine.dtype == dtype
            np.testing.assert_allclose(mine, theirs, **TOL[dtype])


@settings(max_examples=20)
@given(st.sampled_from(KINDS), DTYPES, st.integers(0, 999))
def test_a_counter_based_draw_is_the_reference_at_the_next_counter(kind, dtype, seed):
    """conditional_sample takes one draw of the stream: the reference at (state, that draw)."""
    units, u, p = _layer(kind, 5, 6, dtype, seed)
    rng = Rng(np, seed, counter_based=True)
    rng.uniform((2,), dtype)                                    # draw 0 taken: the next is 1
    _, x = units.conditional_sample(u, p, 1.5, rng)
    words, counter = counter_of(rng.state, 1)
    if kind == "gaussian":
        ref = fields.reference_gaussian(u, p.bias, p.sigma, np.sqrt(1.5), words, counter)[1]
    elif kind == "softmax":
        ref = fields.reference_softmax(u, p.bias, 1 / 1.5, 3, words, counter)[2].reshape(u.shape)
    else:
        ref = fields.reference_bernoulli(u, p.bias, units.factor / 1.5, units.low, words,
                                         counter)[2]
    assert x.dtype == dtype and x.shape == u.shape and np.array_equal(x, ref)
    assert rng.reserve(0)[1] == 2


@pytest.mark.parametrize("kind", KINDS)
def test_a_pcg64_stream_keeps_the_unfused_path(kind):
    """Without a counter-based stream, conditional_sample is conditional then sample on the same
    stream (the NumPy runs' arithmetic and numbers)."""
    units, u, p = _layer(kind, 50, 6, np.float32, 0)
    cond, x = units.conditional_sample(u, p, 1.3, Rng(np, 3))
    plain = units.conditional(u, p, 1.3)
    assert np.array_equal(x, units.sample(plain, Rng(np, 3))) and x.dtype == np.float32
    for mine, theirs in zip(cond, plain):
        assert mine is theirs or np.array_equal(mine, theirs)


def test_missing_softmax_groups_stay_absent_on_the_counter_based_path():
    units = Softmax(3, missing=True)
    _, u, p = _layer("softmax", 4, 6, np.float64, 1)
    current = np.zeros((4, 6))
    current[:, :3] = np.eye(3)[[0, 1, 2, 0]]                 # group 2 absent in every row
    cond, x = units.conditional_sample(u, p, 1.0, Rng(np, 1, counter_based=True), current)
    assert np.all(x[:, 3:] == 0) and np.all(x[:, :3].sum(axis=1) == 1)
    assert np.all(cond.probs[:, 1] == 0)


def test_takes_only_matrices_with_matching_rows():
    rng = Rng(np, 0, counter_based=True)
    u, row = np.zeros((2, 3), np.float32), np.zeros(3, np.float32)
    assert fields.takes(u, row, rng=rng)
    assert not fields.takes(u, row)                                  # NumPy conditionals: plain
    assert not fields.takes(u, row, rng=Rng(np, 0))                  # a PCG64 stream
    assert not fields.takes(u, row.astype(np.float64), rng=rng)      # another dtype
    assert not fields.takes(u, np.zeros((2, 3), np.float32), rng=rng)    # not a row
    assert not fields.takes(np.zeros(3, np.float32), row, rng=rng)   # not a matrix


# ---- nvcc: the host build of each thread's code --------------------------------------------

@pytest.fixture(scope="module")
def host(tmp_path_factory):
    return host_program(SOURCES, tmp_path_factory.mktemp("fields"), "fields")


@needs_nvcc
def test_the_fields_compile_for_hopper(tmp_path):
    text = ptx(SOURCES, tmp_path, "fields")
    for kernel in ("bernoulli_field", "gaussian_field", "softmax_field"):
        for variant in ("", "_draw"):
            for suffix in ("f32", "f64"):
                assert f".entry {kernel}{variant}_{suffix}(" in text


def _host_fields(host, kind, dtype, u, p, a, b, words, counter):
    sigma = p.sigma.tolist() if kind == "gaussian" else []
    stdin = [*u.ravel().tolist(), *p.bias.tolist(), *sigma]
    kernel = "bernoulli" if kind in ("binary", "spin") else kind
    out = run(host, kernel, "f32" if dtype == np.float32 else "f64", u.size, u.shape[1], *words,
              counter, a, b, stdin="\n".join(map(repr, stdin)))
    return np.array(out, dtype=float).reshape(u.size, 3).T.reshape(3, *u.shape)


@needs_nvcc
@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=5, deadline=None)
@given(dtype=DTYPES, words=KEYS, counter=st.integers(0, 2**40), seed=st.integers(0, 999))
def test_host_build_of_the_fields_matches_the_references(host, kind, dtype, words, counter, seed):
    units, u, p = _layer(kind, 3, 12, dtype, seed)
    t = dtype(0.8)
    if kind == "gaussian":
        first, _, x = _host_fields(host, kind, dtype, u, p, repr(float(t)), 0, words, counter)
        mean, ref = fields.reference_gaussian(u, p.bias, p.sigma, t, words, counter)
        np.testing.assert_allclose(first, mean, **TOL[dtype])           # nvcc may fuse b + σu
        loose = {name: 10 * value for name, value in TOL[dtype].items()}
        np.testing.assert_allclose(x, ref, **loose)
        return
    if kind == "softmax":
        scale = dtype(1 / 0.8)
        first, second, x = _host_fields(host, kind, dtype, u, p, repr(float(scale)), 3, words,
                                        counter)
        logits, probs, ref = fields.reference_softmax(u, p.bias, scale, 3, words, counter)
        uniform = reference_uniform(u.size // 3, dtype, words, counter)
        margin = np.abs(np.cumsum(probs, axis=-1) - uniform.reshape(probs.shape[:-1])[..., None])
        near = (margin < TIE[dtype]).any(axis=-1).repeat(3, axis=-1).reshape(u.shape)
        logits, probs, ref = (a.reshape(u.shape) for a in (logits, probs, ref))
    else:
        scale = dtype(units.factor / 0.8)
        first, second, x = _host_fields(host, kind, dtype, u, p, repr(float(scale)), units.low,
                                        words, counter)
        logits, probs, ref = fields.reference_bernoulli(u, p.bias, scale, units.low, words, counter)
        near = np.abs(reference_uniform(u.size, dtype, words, counter).reshape(u.shape) - probs) \
            < TIE[dtype]
    np.testing.assert_allclose(first, logits, **TOL[dtype])
    np.testing.assert_allclose(second, probs, **TOL[dtype])
    assert np.all((x == ref) | near)


# ---- the kernels themselves, on a GPU -------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_fields_match_the_references(cp, kind, dtype):
    """The unit types on CuPy draw through the kernels: the reference's draw at the same counter
    (but for uniforms within rounding of a threshold), and the same conditional."""
    units, u, p = _layer(kind, 200, 30, dtype, 7)
    gpu_p = LayerParams(cp.asarray(p.bias), None if p.sigma is None else cp.asarray(p.sigma))
    rng = Rng(cp, 5)
    rng.advance()
    cond, x = units.conditional_sample(cp.asarray(u), gpu_p, 1.5, rng)
    ref_cond, ref_x = units.conditional_sample(u, p, 1.5, _stepped(5))
    for mine, theirs in zip(cond, ref_cond):
        if mine is not None:
            np.testing.assert_allclose(to_numpy(mine), theirs, rtol=1e-5, atol=1e-5)
    x = to_numpy(x)
    if kind == "gaussian":
        np.testing.assert_allclose(x, ref_x, rtol=1e-4, atol=1e-4)
    else:
        assert (x != ref_x).mean() < 1e-3            # ties at the threshold only
    plain = units.conditional(cp.asarray(u), gpu_p, 1.5)          # the no-draw kernels
    for mine, theirs in zip(plain, units.conditional(u, p, 1.5)):
        if mine is not None:
            np.testing.assert_allclose(to_numpy(mine), theirs, rtol=1e-5, atol=1e-5)


def _stepped(*key):
    """A counter-based NumPy Rng at step 1, as a CuPy one after one ``advance``."""
    rng = Rng(np, *key, counter_based=True)
    rng.advance()
    return rng
