"""Elementwise chains fused into one CuPy kernel each, where a step would otherwise launch one
kernel per NumPy operation. On a GPU at minibatch sizes a launch costs more than the arithmetic
(a CD-1 step of a 784–500 RBM at batch 100 is some 40 launches), so these matter there; on
NumPy the callers keep their plain expressions, which stay the reference.

    sigmoid        y = ½(1 + tanh(z/2))                       (3 launches → 1)
    momentum_step  v ← m·v + lr·(s·g − λw);  w ← w + v        (4 launches per parameter → 1)
    adam_step      t ← t + 1;  d = a·g − c·w;  m ← β₁m + (1 − β₁)d;  s ← β₂s + (1 − β₂)d²;
                   w ← w + lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ) · m/(√s + ε)   (some 13 launches → 2)

The gradient's scale (s, a) may be a 0-d device array: a clipped scale computed on the device
(``train.optim.clipped_scale``), so that no step waits for the host. lr and m may be 0-d float64
device arrays: an epoch's values, which the optimizers hold on the device so that one captured
step serves every epoch. Adam reads its step count t from the device too, which keeps the bias
correction out of the host's hands and the step replayable as a CUDA graph.
"""
from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=1)
def _kernels():
    import cupy
    sigmoid = cupy.ElementwiseKernel("T z", "T y", "y = (T)0.5 * ((T)1 + tanh((T)0.5 * z))",
                                     "ebmlang_sigmoid")
    momentum = cupy.ElementwiseKernel(
        "T g, T s, float64 lr, T c, float64 m", "T v, T w",
        "v = (T)m * v + ((T)lr * s) * g - ((T)lr * c) * w; w += v", "ebmlang_momentum_step")
    # one thread: t += 1 and the step size, so that no thread of the update computes a pow
    count = cupy.ElementwiseKernel(
        "float64 lr, float64 b1, float64 b2", "int64 t, float64 k",
        "t += 1; k = lr * sqrt(1 - pow(b2, (double)t)) / (1 - pow(b1, (double)t));",
        "ebmlang_adam_count")
    adam = cupy.ElementwiseKernel(
        "T g, float64 k, T a, T c, float64 b1, float64 b2, T eps", "T m, T s, T w",
        """
        T d = a * g - c * w;
        m = (T)b1 * m + (T)(1 - b1) * d;
        s = (T)b2 * s + (T)(1 - b2) * d * d;
        w += (T)k * m / (sqrt(s) + eps);
        """, "ebmlang_adam_step")
    return sigmoid, momentum, count, adam


def sigmoid(z):
    """σ(z) of a CuPy array, in one launch."""
    return _kernels()[0](z)


def momentum_step(g, v, w, scale, lr, decay: float, m) -> None:
    """SGD with momentum in one launch, in place on ``v`` and ``w``: v ← m·v + lr·(s·g − λ·w),
    w += v (s the gradient's scale, λ the weight decay). lr and m are numbers or 0-d float64
    device arrays (an epoch's values, which a captured step reads from the device)."""
    t = w.dtype
    _kernels()[1](g, _typed(scale, t), _float64(lr), _typed(decay, t), _float64(m), v, w)


def adam_step(g, t, m, s, w, a, c: float, lr, beta1: float, beta2: float, eps: float) -> None:
    """Adam in two launches, in place on the step count ``t`` (a 0-d int64 device array), the
    moments ``m``, ``s`` and on ``w``: t += 1 with the step size lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ) as a
    0-d array, then the update (see the module docstring; a = scale, c = weight decay; lr a
    number or a 0-d float64 device array)."""
    import cupy
    size = cupy.empty((), dtype=np.float64)
    _kernels()[2](_float64(lr), float(beta1), float(beta2), t, size)
    _kernels()[3](g, size, _typed(a, w.dtype), _typed(c, w.dtype), float(beta1), float(beta2),
                  _typed(eps, w.dtype), m, s, w)


def _float64(x):
    """A ``float64`` scalar argument: a host number (or NumPy scalar) as a float, a 0-d device
    array in float64."""
    if isinstance(x, (int, float, np.generic, np.ndarray)):
        return float(x)
    return x.astype(np.float64, copy=False)


def _typed(x, dtype):
    """A kernel's ``T`` scalar: a host number as a scalar of ``dtype``, a 0-d device array cast to
    it (never read on the host)."""
    if isinstance(x, (int, float, np.generic, np.ndarray)):
        return dtype.type(x)
    return x.astype(dtype, copy=False)
