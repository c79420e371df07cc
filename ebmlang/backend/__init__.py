"""Array backends: NumPy by default, CuPy when asked for (or `auto` with a usable device).

Kernels never import a backend directly: they take ``xp = namespace_of(array)`` from their
inputs, so one kernel body serves both. CuPy is imported lazily and never required.
"""
from __future__ import annotations

import functools
from types import ModuleType

import numpy as np

from ..errors import BackendError, Location
from .rng import Rng

__all__ = ["Rng", "cupy_usable", "get_namespace", "namespace_of", "set_matmul_precision", "to_numpy"]


@functools.lru_cache(maxsize=1)
def _cupy() -> ModuleType | None:
    try:
        import cupy
        cupy.cuda.runtime.getDeviceCount()
        cupy.zeros(1).sum()          # fails here, not mid-run, when the driver is unusable
        return cupy
    except Exception:
        return None


def cupy_usable() -> bool:
    return _cupy() is not None


def get_namespace(name: str, where: Location | None = None) -> ModuleType:
    """`numpy`, `cupy` or `auto` -> the array module to use."""
    if name == "numpy":
        return np
    cp = _cupy()
    if name == "auto":
        return cp if cp is not None else np
    if cp is None:
        raise BackendError("backend 'cupy' asked for, but CuPy is not installed or no CUDA device is "
                           "usable; install the gpu extra (pip install 'ebmlang[gpu]') or use "
                           "backend: numpy", where)
    return cp


def namespace_of(array) -> ModuleType:
    """The array module (numpy or cupy) that ``array`` belongs to."""
    if isinstance(array, np.ndarray) or np.isscalar(array):
        return np
    cp = _cupy()
    if cp is not None and isinstance(array, cp.ndarray):
        return cp
    return np


def to_numpy(array) -> np.ndarray:
    """A NumPy copy of any backend's array (a no-op for NumPy arrays)."""
    return array.get() if hasattr(array, "get") and not isinstance(array, np.ndarray) else np.asarray(array)


def set_matmul_precision(xp: ModuleType, precision: str) -> None:
    """float32 matrix products in IEEE float32 (``ieee``) or with TensorFloat-32 inputs (``tf32``:
    mantissas rounded to 10 bits, products on the tensor cores, float32 accumulation).

    A no-op on NumPy. On CuPy it sets cuBLAS's compute type for float32, which is process-wide,
    so every model compiled for CuPy sets it, IEEE included, and a TF32 model does not leak its
    choice into the next one."""
    if xp is np:
        return
    from cupy._core import _routines_linalg as linalg     # CuPy's own switch (CUPY_TF32 reads it)
    tf32 = getattr(linalg, "COMPUTE_TYPE_TF32", 7)
    default = getattr(linalg, "COMPUTE_TYPE_DEFAULT", 1)
    linalg.set_compute_type(np.float32, tf32 if precision == "tf32" else default)
