"""Counter-based random draws on CuPy, one fused launch each, and their NumPy references.

Element i of a draw takes the Philox block philox((i, draw), key) (see ``philox.py``); the kernels
in ``cuda/draws.cu`` compute it in registers and turn it into the sample at once:

    uniform      u = top 24 bits · 2⁻²⁴ (float32), or 53 bits of two words (float64)
    normal       z = √(−2 log u₁) cos(2π u₂)                     (Box–Muller, u₁ ∈ (0, 1])
    gaussian     x = μ + σ z                                      (Gaussian units' draw)
    bernoulli    x = 1 if u < σ(logit) else low                   (binary: low 0; spin: low −1)
    one_hot      per group of k: category #{j : Σ_{i≤j} p_i < u}, capped at k − 1

The key and the step live in the Rng's state array (k0, k1, step), on the device for CuPy, and a
draw's 64-bit counter is (step << 32) | its index within the step: a captured CUDA graph, which
bakes the indices in, draws new numbers at each replay because ``advance`` moves the step.

The ``reference_*`` functions are the same arithmetic in NumPy: the GPU tests hold the kernels to
them element by element, and the CPU tests hold nvcc's host build of the same source to them. The
wrappers run them for a NumPy state, so a counter-based Rng works (slowly) on NumPy too.
"""
from __future__ import annotations

import functools

import numpy as np

from .philox import counters, cuda_source, open_uniform, philox4x32, unit_uniform

SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
BLOCK = 256


@functools.lru_cache(maxsize=1)
def _module():
    import cupy
    return cupy.RawModule(code=cuda_source("draws.cu"))


def launch(module, kernel: str, dtype, n: int, *args) -> None:
    """``kernel``'s variant for ``dtype`` (``kernel_f32`` or ``kernel_f64``; a plain ``kernel``
    when dtype is None) of a RawModule over n elements, grid-stride. A float array of another
    dtype would be read as garbage through the kernel's T*, so it is refused here."""
    if n == 0:
        return
    want = np.dtype(dtype) if dtype else None
    wrong = [a.dtype for a in args
             if want and getattr(a, "ndim", 0) and a.dtype.kind == "f" and a.dtype != want]
    if wrong:
        raise TypeError(f"{kernel}_{SUFFIX[want]} takes {want} arrays, not {wrong[0]}")
    fn = module.get_function(f"{kernel}_{SUFFIX[want]}" if want else kernel)
    fn((max(1, min(-(-n // BLOCK), 1 << 16)),), (BLOCK,), args)


def _launch(kernel: str, dtype, n: int, *args) -> None:
    launch(_module(), kernel, dtype, n, *args)


def counter_of(state, draw: int) -> tuple[tuple[int, int], int]:
    """(key words, 64-bit draw counter) of a NumPy Rng state (k0, k1, step) and a draw index."""
    return (int(state[0]), int(state[1])), (int(state[2]) << 32) | int(draw)


def advance(state) -> None:
    """step += 1 on the Rng state, as a launch on CuPy (so that a captured graph replays it)."""
    if isinstance(state, np.ndarray):
        state[2] += np.uint32(1)
    else:
        _module().get_function("rng_advance")((1,), (1,), (state,))


def _fresh(kernel: str, xp, shape, dtype, state, draw: int):
    """A new array of uniform or normal draws (``kernel``), or its reference on NumPy."""
    if xp is np:
        reference = reference_uniform if kernel == "uniform" else reference_normal
        return reference(int(np.prod(shape)), dtype, *counter_of(state, draw)).reshape(shape)
    out = xp.empty(shape, dtype=dtype)
    _launch(kernel, dtype, out.size, out, np.uint64(out.size), state, np.uint32(draw))
    return out


def uniform(xp, shape, dtype, state, draw: int):
    return _fresh("uniform", xp, shape, dtype, state, draw)


def normal(xp, shape, dtype, state, draw: int):
    return _fresh("normal", xp, shape, dtype, state, draw)


def gaussian(mean, std, state, draw: int):
    """μ + σ z; ``std`` broadcasts to mean's shape (a row (n,) is read once per row)."""
    if isinstance(mean, np.ndarray):
        z = reference_normal(mean.size, mean.dtype, *counter_of(state, draw))
        return mean + std * z.reshape(mean.shape)
    import cupy
    mean = cupy.ascontiguousarray(mean)
    std = cupy.broadcast_to(std, mean.shape)        # a scalar or a row: read as one row
    row = std.ndim == 2 and std.strides[0] == 0
    std = cupy.ascontiguousarray(std[0] if row else std, dtype=mean.dtype)   # σ√T may be float64
    out = cupy.empty_like(mean)
    _launch("gaussian", mean.dtype, mean.size, mean, std, out, np.uint64(mean.size), np.int32(row),
            np.uint64(mean.shape[-1]), state, np.uint32(draw))
    return out


def bernoulli(logit, low: float, state, draw: int):
    if isinstance(logit, np.ndarray):
        return reference_bernoulli(logit, low, *counter_of(state, draw))
    import cupy
    logit = cupy.ascontiguousarray(logit)
    out = cupy.empty_like(logit)
    _launch("bernoulli", logit.dtype, logit.size, logit, out, np.uint64(logit.size),
            logit.dtype.type(low), state, np.uint32(draw))
    return out


def one_hot(probs, state, draw: int):
    """probs (..., k) -> a one-hot draw of the same shape, one category per group."""
    if isinstance(probs, np.ndarray):
        return reference_one_hot(probs, *counter_of(state, draw))
    import cupy
    probs = cupy.ascontiguousarray(probs)
    k = probs.shape[-1]
    out = cupy.empty_like(probs)
    groups = probs.size // k
    _launch("one_hot", probs.dtype, groups, probs, out, np.uint64(groups), np.int32(k), state,
            np.uint32(draw))
    return out


# ---- NumPy references: the kernels' arithmetic, element for element -------------------------

def _blocks(n: int, words, draw: int) -> np.ndarray:
    return philox4x32(counters(np.arange(n), draw), words)


def _unit(r: np.ndarray, dtype, which: str) -> np.ndarray:
    """unit<T>::first / first_open / second of draws.cu, on (4, n) Philox blocks."""
    if np.dtype(dtype) == np.float32:
        return {"first": unit_uniform(r[0]), "first_open": open_uniform(r[0]),
                "second": unit_uniform(r[1])}[which]
    a, b = (r[0], r[1]) if which != "second" else (r[2], r[3])
    add = np.uint32(1 if which == "first_open" else 0)
    return ((a >> np.uint32(5)).astype(np.float64) * 67108864.0
            + ((b >> np.uint32(6)) + add).astype(np.float64)) * 1.1102230246251565e-16


def reference_uniform(n: int, dtype, words, draw: int) -> np.ndarray:
    return _unit(_blocks(n, words, draw), dtype, "first")


def reference_normal(n: int, dtype, words, draw: int) -> np.ndarray:
    r, t = _blocks(n, words, draw), np.dtype(dtype).type
    radius = np.sqrt(t(-2) * np.log(_unit(r, dtype, "first_open")))
    return radius * np.cos(t(6.283185307179586) * _unit(r, dtype, "second"))


def reference_bernoulli(logit: np.ndarray, low: float, words, draw: int) -> np.ndarray:
    t = logit.dtype.type
    prob = t(1) / (t(1) + np.exp(-logit))
    u = reference_uniform(logit.size, logit.dtype, words, draw).reshape(logit.shape)
    return np.where(u < prob, t(1), t(low))


def reference_one_hot(probs: np.ndarray, words, draw: int) -> np.ndarray:
    k = probs.shape[-1]
    flat = probs.reshape(-1, k)
    u = reference_uniform(flat.shape[0], probs.dtype, words, draw)[:, None]
    index = np.minimum((np.cumsum(flat, axis=-1) < u).sum(axis=-1), k - 1)
    return (np.arange(k) == index[:, None]).astype(probs.dtype).reshape(probs.shape)
