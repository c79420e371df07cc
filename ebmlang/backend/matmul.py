"""The kernels' products: ``matmul(a, b)``, ``accumulate(out, a, b, α)`` (out += α·a b) and
``batch_sum(x)`` (Σ over a minibatch's rows), which a CUDA graph can record on CuPy.

On NumPy they are ``a @ b``, ``out += α·(a @ b)`` and ``x.sum(axis=0)``: the reference. On CuPy
while no stream captures, ``matmul`` is ``a @ b`` too. CuPy's own product refuses to run on a
capturing stream, so there the products call cuBLAS through ``cublas.Cublas`` instead: the same
library and compute type, on a handle of our own (eagerly it costs more host time per call than
CuPy's, which is why it is kept for captures), and ``accumulate`` becomes one GEMM with β = 1
where the eager step takes a GEMM and an add. Operands it does not cover (integers, mixed dtypes,
more than two dimensions) and a process where libcublas cannot be bound go to ``a @ b``; a
capture then fails and the step runs eagerly, ``cublas_unbound()`` saying why.

``batch_sum`` on CuPy is a product with a row of ones, a GEMV: CuPy's reduction over axis 0 of
a (1000, 784) minibatch runs 25 blocks, one per 32 columns, each thread adding 63 rows one load
after another, which leaves most of an H100 idle for longer than the step's GEMMs take.

Inside ``as_captured()`` the products take the capture's path even on a stream that is not
capturing: a captured stage's eager steps (each step key's warm-up, a short last minibatch) then
round exactly as its replays do, so a run resumed in a new process, whose warm-ups fall on other
steps, ends bit for bit where an unbroken one does.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

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
    one_float_dtype = a.dtype == b.dtype and a.dtype.name in DATA_TYPE
    return (one_float_dtype and 1 <= a.ndim <= 2 and 1 <= b.ndim <= 2
            and a.shape[-1] == b.shape[0] and max(a.shape + b.shape) <= LARGEST)


def _dense(xp, x):
    return x if x.flags.c_contiguous or x.flags.f_contiguous else xp.ascontiguousarray(x)


def _capturing(xp) -> bool:
    return bool(xp.cuda.runtime.streamIsCapturing(xp.cuda.get_current_stream().ptr))


_as_captured: ContextVar[bool] = ContextVar("as_captured", default=False)


@contextmanager
def as_captured():
    """Within it, CuPy's products take the arithmetic of a capture, capturing or not (see the
    module docstring)."""
    token = _as_captured.set(True)
    try:
        yield
    finally:
        _as_captured.reset(token)


def _capture_path(xp) -> bool:
    """Whether CuPy's products go through our cuBLAS handle: while capturing, or as if."""
    return _as_captured.get() or _capturing(xp)


def matmul(a, b):
    """a @ b, for 1-D or 2-D operands; recorded by a capturing stream on CuPy."""
    xp = namespace_of(a)
    if xp is np or not _capture_path(xp):
        return a @ b
    return cublas_matmul(a, b)


def accumulate(out, a, b, alpha: float = 1.0):
    """out += α·(a @ b), in place on ``out`` (which it returns): one GEMM with β = 1 on a
    capturing CuPy stream, where ``out`` is C-contiguous in the operands' dtype."""
    xp = namespace_of(out)
    if xp is not np and _capture_path(xp) and _cublas_into(xp, a, b, out, alpha, 1.0):
        return out
    return _add_scaled(out, matmul(a, b), alpha)


def batch_sum(x, out=None, alpha: float = 1.0):
    """α·Σ_rows x of a (B, n) array: (n,), a new array, or added to ``out`` in place. On CuPy a
    product with a row of ones in IEEE arithmetic, TensorFloat-32 or not (see the module
    docstring); elsewhere, and for anything but a 2-D float array, ``x.sum(axis=0)``."""
    xp = namespace_of(x)
    ones = _ones_for(xp, x)
    if ones is None:
        return _combine(out, x.sum(axis=0), alpha)
    if _capture_path(xp):           # cuBLAS, in IEEE arithmetic: into ``out``, or beside it
        if out is not None and _cublas_into(xp, ones, x, out, alpha, 1.0, tf32=False):
            return out
        total = xp.empty(x.shape[1:], dtype=x.dtype)
        if _cublas_into(xp, ones, x, total, 1.0, 0.0, tf32=False):
            return _combine(out, total, alpha)
    elif not _tf32(xp):
        return _combine(out, ones @ x, alpha)
    return _combine(out, x.sum(axis=0), alpha)


def _combine(out, total, alpha: float):
    """α·total, or out + α·total in place on ``out``."""
    if out is None:
        return total if alpha == 1 else total * alpha
    return _add_scaled(out, total, alpha)


def _add_scaled(out, term, alpha: float):
    if alpha == 1:
        out += term
    elif alpha == -1:
        out -= term
    else:
        out += alpha * term
    return out


_ones_held: dict = {}                   # (device, dtype) -> a row of ones, as long as asked yet
_ones_retired: list = []                # shorter rows, never freed: captured graphs may read them


def _ones_for(xp, x):
    """A row of ones of ``x``'s length and dtype for its batch sum on CuPy (a contiguous slice of
    one held row), or None: NumPy, not a 2-D float array, or a longer row to be made while the
    stream captures (a capture cannot fill it)."""
    if xp is np or x.ndim != 2 or x.dtype.name not in DATA_TYPE:
        return None
    rows, key = x.shape[0], (xp.cuda.runtime.getDevice(), x.dtype.name)
    held = _ones_held.get(key)
    if held is None or held.size < rows:
        if _capturing(xp):
            return None
        if held is not None:
            _ones_retired.append(held)
        held = _ones_held[key] = xp.ones(max(rows, 1024), dtype=x.dtype)
        xp.cuda.get_current_stream().synchronize()      # filled before any stream reads it
    return held[:rows]


def cublas_matmul(a, b):
    """a @ b on CuPy through our cuBLAS handle, on the current stream, for 1-D or 2-D a (m, k)
    or (k,) and b (k, n) or (k,) in their common float dtype: a new C-contiguous array from the
    current memory pool. Anything else goes to ``a @ b``."""
    xp = namespace_of(a)
    if _cublas(xp) is None or not _covered(a, b):
        return a @ b
    out = xp.empty(a.shape[:-1] + b.shape[1:], dtype=a.dtype)
    _cublas_into(xp, a, b, out, 1.0, 0.0)
    return out


def _cublas_into(xp, a, b, out, alpha: float, beta: float, tf32: bool = True) -> bool:
    """out ← α·(a @ b) + β·out through our handle, for covered operands and a C-contiguous
    ``out`` of the product's shape and dtype; False (nothing done) otherwise. ``tf32`` False
    keeps float32 in IEEE arithmetic whatever ``matmul_precision`` says."""
    blas = _cublas(xp)
    if (blas is None or not _covered(a, b) or out.dtype != a.dtype or not out.flags.c_contiguous
            or out.shape != a.shape[:-1] + b.shape[1:]):
        return False
    a2 = _dense(xp, a if a.ndim == 2 else a[None, :])
    b2 = _dense(xp, b if b.ndim == 2 else b[:, None])
    (m, k), n = a2.shape, b2.shape[1]
    if m and n:
        if k == 0 and beta == 0:        # an empty sum (out may be uninitialised)
            out.fill(0)
        elif k == 0 and beta != 1:
            out *= beta
        else:
            blas.bind(xp.cuda.get_current_stream().ptr)
            blas.gemm(gemm_plan(a2, b2), b2.data.ptr, a2.data.ptr, out.data.ptr, a.dtype.name,
                      tf32 and a.dtype == np.float32 and _tf32(xp), alpha, beta)
    return True
