"""``matmul(a, b)``: the kernels' matrix product, which a CUDA graph can record on CuPy.

On NumPy it is ``a @ b``, and on CuPy too while no stream captures. CuPy's own product refuses
to run on a capturing stream, so there ``cublas_matmul`` calls cuBLAS through ``cublas.Cublas``
instead: the same library and compute type, on a handle of our own (eagerly it costs more host
time per call than CuPy's, which is why it is kept for captures). Operands it does not cover
(integers, mixed dtypes, more than two dimensions) and a process where libcublas cannot be bound
go to ``a @ b``; a capture then fails and the step runs eagerly, ``cublas_unbound()`` saying why.
"""
from __future__ import annotations

import numpy as np

from . import namespace_of
from .cublas import DATA_TYPE, Cublas, gemm_plan

_handles: dict[int, Cublas | None] = {}          # per device id; None where binding failed
_why_unbound: dict[int, str] = {}
LARGEST = (1 << 31) - 1                          # cuBLAS takes dimensions as C ints


def _cublas(cupy) -> Cublas | None:
    device = cupy.cuda.runtime.getDevice()
    if device not in _handles:
        try:
            _handles[device] = Cublas(cupy)
        except (OSError, AttributeError, RuntimeError, MemoryError) as exc:
            _handles[device] = None
            _why_unbound[device] = ("cuBLAS could not be bound through ctypes: "
                                    f"{type(exc).__name__}: {exc}")
    return _handles[device]


def cublas_unbound(cupy) -> str | None:
    """Why CuPy's products cannot be captured on the current device, or None when they can."""
    _cublas(cupy)
    return _why_unbound.get(cupy.cuda.runtime.getDevice())


def prepare_capture(cupy, stream) -> None:
    """Make the handle and bind it to ``stream`` before a capture on it begins: cublasCreate,
    the workspace's cudaMalloc and cublasSetStream are no calls to make while capturing."""
    blas = _cublas(cupy)
    if blas is not None:
        blas.bind(stream.ptr)


def _tf32(cupy) -> bool:
    """Whether float32 products use TensorFloat-32 now (``matmul_precision`` or CUPY_TF32)."""
    from cupy._core import _routines_linalg as linalg
    return linalg.get_compute_type(np.float32) == getattr(linalg, "COMPUTE_TYPE_TF32", 7)


def _covered(a, b) -> bool:
    """Float operands of one dtype, 1-D or 2-D, whose dimensions fit cuBLAS's C ints."""
    return (a.dtype == b.dtype and a.dtype.name in DATA_TYPE and 1 <= a.ndim <= 2 and 1 <= b.ndim <= 2
            and a.shape[-1] == b.shape[0] and max(a.shape + b.shape) <= LARGEST)


def _dense(xp, x):
    return x if x.flags.c_contiguous or x.flags.f_contiguous else xp.ascontiguousarray(x)


def matmul(a, b):
    """a @ b, for 1-D or 2-D operands; recorded by a capturing stream on CuPy."""
    xp = namespace_of(a)
    if xp is np or not xp.cuda.runtime.streamIsCapturing(xp.cuda.get_current_stream().ptr):
        return a @ b
    return cublas_matmul(a, b)


def cublas_matmul(a, b):
    """a @ b on CuPy through our cuBLAS handle, on the current stream, for 1-D or 2-D a (m, k)
    or (k,) and b (k, n) or (k,) in their common float dtype: a new C-contiguous array from the
    current memory pool. Anything else goes to ``a @ b``."""
    xp = namespace_of(a)
    blas = _cublas(xp)
    if blas is None or not _covered(a, b):
        return a @ b
    shape = a.shape[:-1] + b.shape[1:]
    a2 = _dense(xp, a if a.ndim == 2 else a[None, :])
    b2 = _dense(xp, b if b.ndim == 2 else b[:, None])
    (m, k), n = a2.shape, b2.shape[1]
    out = xp.empty((m, n), dtype=a.dtype)
    if m and n:
        if k == 0:
            out.fill(0)
        else:
            blas.bind(xp.cuda.get_current_stream().ptr)
            blas.gemm(gemm_plan(a2, b2), b2.data.ptr, a2.data.ptr, out.data.ptr, a.dtype.name,
                      a.dtype == np.float32 and _tf32(xp))
    return out.reshape(shape)
