"""Elementwise chains fused into one CuPy kernel each, where a step would otherwise launch one
kernel per NumPy operation. On a GPU at minibatch sizes a launch costs more than the arithmetic
(a CD-1 step of a 784–500 RBM at batch 100 is some 40 launches), so these matter there; on
NumPy the callers keep their plain expressions, which stay the reference.

    sigmoid        y = ½(1 + tanh(z/2))                       (3 launches → 1)
    momentum_step  v ← m·v + a·g − c·w;  w ← w + v            (4 launches per parameter → 1)
    adam_step      d = a·g − c·w;  m ← β₁m + (1 − β₁)d;  s ← β₂s + (1 − β₂)d²;
                   w ← w + lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ) · m/(√s + ε)   (some 12 launches → 1)

The scalars a (the gradient's scale) may be a 0-d device array: a clipped scale computed on the
device (``train.optim.clipped_scale``), so that no step waits for the host. Adam reads its step
count t from the device too, which keeps the bias correction out of the host's hands and the
step replayable as a CUDA graph.
"""
from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=1)
def _kernels():
    import cupy
    sigmoid = cupy.ElementwiseKernel("T z", "T y", "y = (T)0.5 * ((T)1 + tanh((T)0.5 * z))",
                                     "ebmlang_sigmoid")
    momentum = cupy.ElementwiseKernel("T g, T a, T c, T m", "T v, T w",
                                      "v = m * v + a * g - c * w; w += v", "ebmlang_momentum_step")
    adam = cupy.ElementwiseKernel(
        "T g, raw int64 t, T a, T c, float64 lr, float64 b1, float64 b2, T eps", "T m, T s, T w",
        """
        T d = a * g - c * w;
        m = (T)b1 * m + (T)(1 - b1) * d;
        s = (T)b2 * s + (T)(1 - b2) * d * d;
        double step = (double)t[0];
        T k = (T)(lr * sqrt(1 - pow(b2, step)) / (1 - pow(b1, step)));
        w += k * m / (sqrt(s) + eps);
        """, "ebmlang_adam_step")
    return sigmoid, momentum, adam


def sigmoid(z):
    """σ(z) of a CuPy array, in one launch."""
    return _kernels()[0](z)


def momentum_step(g, v, w, a: float, c: float, m: float) -> None:
    """SGD with momentum in one launch, in place on ``v`` and ``w``: v ← m·v + a·g − c·w, w += v
    (a = lr · scale, c = lr · weight decay, m the momentum)."""
    _kernels()[1](g, _typed(a, w.dtype), _typed(c, w.dtype), _typed(m, w.dtype), v, w)


def adam_step(g, t, m, s, w, a, c: float, lr: float, beta1: float, beta2: float, eps: float) -> None:
    """Adam in one launch, in place on the moments ``m``, ``s`` and on ``w``, with the step count
    ``t`` (a 0-d int64 device array, already moved to this step) read on the device: see the
    module docstring (a = scale, c = weight decay)."""
    _kernels()[2](g, t.reshape(1), _typed(a, w.dtype), _typed(c, w.dtype), float(lr), float(beta1),
                  float(beta2), _typed(eps, w.dtype), m, s, w)


def _typed(x, dtype):
    """A kernel's ``T`` scalar: a host number as a scalar of ``dtype``, a 0-d device array cast to
    it (never read on the host)."""
    if isinstance(x, (int, float, np.generic)):
        return dtype.type(x)
    return x.astype(dtype, copy=False)
