"""Shared fixtures: every kernel test runs on each available backend (CuPy skipped without a GPU)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

# One BLAS thread a test process, set before NumPy loads OpenBLAS: the tests' products are small,
# and CI runs two pytest processes on two cores, where one's spinning BLAS threads slow the other
# (a pair of test runs side by side: 58 and 185 s with OpenBLAS's threads, 45 and 173 s without).
for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

import numpy as np  # noqa: E402
import pytest
from hypothesis import HealthCheck, settings

from ebmlang.backend import cupy_usable

ROOT = Path(__file__).resolve().parents[1]
# decoded data sets and cached helper models go to a throw-away folder, not the user's ~/.cache
os.environ["EBMLANG_CACHE"] = os.environ.get("EBMLANG_TEST_CACHE") or tempfile.mkdtemp(prefix="ebmlang-cache-")
MNIST_DIR = Path(os.environ.get("EBMLANG_MNIST", ROOT.parent / "shared" / "data" / "mnist"))

settings.register_profile("ci", max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
settings.register_profile("quick", max_examples=15, deadline=None,          # bench/gpu_check.py
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session", params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def backend(request):
    if request.param == "cupy" and not cupy_usable():
        pytest.skip("CuPy with a usable CUDA device is not available")
    return request.param


@pytest.fixture
def cp():
    """The cupy module, for the tests of the CUDA kernels themselves (skipped without a GPU)."""
    if not cupy_usable():
        pytest.skip("CuPy with a usable CUDA device is not available")
    import cupy
    return cupy


@pytest.fixture(autouse=True)
def strict_numerics():
    """Overflow or invalid arithmetic in a kernel is a bug: make it raise (underflow is fine)."""
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        yield


@pytest.fixture
def mnist_dir():
    if not all((MNIST_DIR / f"{s}.gz").exists() for s in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte")):
        pytest.skip(f"full MNIST not found in {MNIST_DIR} (set EBMLANG_MNIST to its folder)")
    return MNIST_DIR
