"""Array backends: NumPy by default, CuPy when asked for (or `auto` with a usable device).

Kernels never import a backend directly: they take ``xp = namespace_of(array)`` from their
inputs, so one kernel body serves both. CuPy is imported lazily and never required.
"""
from __future__ import annotations

import contextlib
import functools
from types import ModuleType

import numpy as np

from ..errors import BackendError, Location
from .rng import Rng

__all__ = ["Rng", "cupy_usable", "get_namespace", "namespace_of", "matmul_precision", "to_numpy"]


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
    if name not in ("numpy", "cupy", "auto"):
        raise ValueError(f"backend is numpy, cupy or auto, got {name!r}")
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


@contextlib.contextmanager
def matmul_precision(xp: ModuleType, precision: str):
    """Within the block, float32 matrix products in IEEE float32 (``ieee``) or with TensorFloat-32
    inputs (``tf32``: mantissas rounded to 10 bits, products on the tensor cores, float32
    accumulation); the setting before is restored after it.

    A no-op on NumPy. On CuPy it is cuBLAS's compute type for float32, which is process-wide:
    hence a block around a whole run (``runner/execute.py``), which helper models compiled inside
    it (a GAN's scoring classifier) do not touch. The spec's value overrides CUPY_TF32."""
    if xp is np:
        yield
        return
    from cupy._core import _routines_linalg as linalg     # CuPy's own switch (CUPY_TF32 sets it)
    tf32 = getattr(linalg, "COMPUTE_TYPE_TF32", 7)
    default = getattr(linalg, "COMPUTE_TYPE_DEFAULT", 1)
    before = linalg.get_compute_type(np.float32)
    linalg.set_compute_type(np.float32, tf32 if precision == "tf32" else default)
    try:
        yield
    finally:
        linalg.set_compute_type(np.float32, before)
