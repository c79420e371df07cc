"""The unit types' conditionals as one CUDA launch each, draw included, and their NumPy references.

On a GPU at minibatch sizes a layer update costs launches, not arithmetic: a binary layer's
conditional and draw were b + u, ÷T, σ and the draw, four passes over (batch, n); a softmax layer's
some eight. Each is one launch of ``cuda/fields.cu`` here, with the random numbers computed in
registers from the Rng's counter-based stream (``backend/draws.py``):

    bernoulli  logit = (u + b)·scale, prob = ½(1 + tanh(logit/2)); x = 1 if U < prob else low
               (binary: scale 1/T, low 0; spin: scale 2/T, low −1)
    gaussian   mean = b + σu;  x = mean + σ·√T·z                   (b is the mean μ)
    softmax    per group of k: logits = (u + b)·scale, probs = softmax(logits); x one-hot

u is a (batch, n) input and b, σ are rows (n,) of its dtype (``takes``). Without an Rng a call
computes the conditional only. On NumPy the ``reference_*`` functions do the same arithmetic: the
GPU tests hold the kernels to them, the CPU tests hold nvcc's host build of the source to them,
and a counter-based Rng on NumPy draws through them, so the CPU tests run the GPU's wiring.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ..backend.draws import (SUFFIX, counter_of, launch, reference_normal, reference_one_hot,
                             reference_uniform)
from ..backend.philox import cuda_source

SOURCE = Path(__file__).with_name("cuda") / "fields.cu"


@functools.lru_cache(maxsize=1)
def _module():
    import cupy
    return cupy.RawModule(code=cuda_source("draws.cu", SOURCE))


def takes(u, *rows, rng=None) -> bool:
    """Whether the fused path applies: u a (batch, n) float matrix with rows (n,) of its dtype, on
    CuPy; with ``rng``, only when the Rng is counter-based, and then on NumPy too (it draws the
    same numbers through the references)."""
    if rng is not None and not rng.counter_based:
        return False
    if isinstance(u, np.ndarray) and rng is None:
        return False
    return (getattr(u, "ndim", 0) == 2 and u.dtype in SUFFIX
            and all(getattr(r, "shape", None) == u.shape[1:] and r.dtype == u.dtype
                    for r in rows))


def _counter(rng):
    """(key words, draw counter) of the Rng's next draw, for the references; (None, None)
    without one."""
    return counter_of(*rng.reserve(1)) if rng is not None else (None, None)


def _gpu_args(rng):
    state, draw = rng.reserve(1)
    return state, np.uint32(draw)


def bernoulli(u, bias, scale: float, low: float = 0.0, rng=None):
    """(logit, prob, x) of binary (low 0) or spin (low −1) units; x is None without ``rng``."""
    if isinstance(u, np.ndarray):
        return reference_bernoulli(u, bias, scale, low, *_counter(rng))
    import cupy
    u, bias, t = cupy.ascontiguousarray(u), cupy.ascontiguousarray(bias), u.dtype.type
    logit, prob = cupy.empty_like(u), cupy.empty_like(u)
    shape = (np.uint64(u.size), np.uint64(u.shape[1]), t(scale))
    if rng is None:
        launch(_module(), "bernoulli_field", u.dtype, u.size, u, bias, logit, prob, *shape)
        return logit, prob, None
    x = cupy.empty_like(u)
    launch(_module(), "bernoulli_field_draw", u.dtype, u.size, u, bias, logit, prob, x, *shape,
           t(low), *_gpu_args(rng))
    return logit, prob, x


def gaussian(u, bias, sigma, root_t: float = 1.0, rng=None):
    """(mean, x) of gaussian units, x drawn with standard deviation σ·root_t; None without
    ``rng``."""
    if isinstance(u, np.ndarray):
        return reference_gaussian(u, bias, sigma, root_t, *_counter(rng))
    import cupy
    u, bias, sigma = (cupy.ascontiguousarray(a) for a in (u, bias, sigma))
    mean, shape = cupy.empty_like(u), (np.uint64(u.size), np.uint64(u.shape[1]))
    if rng is None:
        launch(_module(), "gaussian_field", u.dtype, u.size, u, bias, sigma, mean, *shape)
        return mean, None
    x = cupy.empty_like(u)
    launch(_module(), "gaussian_field_draw", u.dtype, u.size, u, bias, sigma, mean, x, *shape,
           u.dtype.type(root_t), *_gpu_args(rng))
    return mean, x


def softmax(u, bias, scale: float, k: int, rng=None):
    """(logits, probs, x) of softmax units in groups of k, each (batch, n/k, k); x is None
    without ``rng``."""
    if isinstance(u, np.ndarray):
        return reference_softmax(u, bias, scale, k, *_counter(rng))
    import cupy
    u, bias = cupy.ascontiguousarray(u), cupy.ascontiguousarray(bias)
    grouped = (u.shape[0], u.shape[1] // k, k)
    logits, probs = cupy.empty(grouped, u.dtype), cupy.empty(grouped, u.dtype)
    groups = u.size // k
    shape = (np.uint64(groups), np.int32(k), np.uint64(u.shape[1]), u.dtype.type(scale))
    if rng is None:
        launch(_module(), "softmax_field", u.dtype, groups, u, bias, logits, probs, *shape)
        return logits, probs, None
    x = cupy.empty(grouped, u.dtype)
    launch(_module(), "softmax_field_draw", u.dtype, groups, u, bias, logits, probs, x, *shape,
           *_gpu_args(rng))
    return logits, probs, x


# ---- NumPy references: the kernels' arithmetic, element for element -------------------------

def reference_bernoulli(u, bias, scale, low, words=None, draw=None):
    t = u.dtype.type
    logit = (u + bias) * t(scale)
    prob = t(0.5) * (t(1) + np.tanh(t(0.5) * logit))
    if words is None:
        return logit, prob, None
    uniform = reference_uniform(u.size, u.dtype, words, draw).reshape(u.shape)
    return logit, prob, np.where(uniform < prob, t(1), t(low))


def reference_gaussian(u, bias, sigma, root_t, words=None, draw=None):
    mean = bias + sigma * u
    if words is None:
        return mean, None
    z = reference_normal(u.size, u.dtype, words, draw).reshape(u.shape)
    return mean, mean + sigma * u.dtype.type(root_t) * z


def reference_softmax(u, bias, scale, k, words=None, draw=None):
    t = u.dtype.type
    logits = ((u + bias) * t(scale)).reshape(u.shape[0], -1, k)
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs = e / e.sum(axis=-1, keepdims=True)
    if words is None:
        return logits, probs, None
    return logits, probs, reference_one_hot(probs, words, draw)
