"""The kernels' matrix product (backend/matmul.py): cuBLAS through ctypes where a CUDA graph
records it, since CuPy's own product refuses capture.

On any machine: the column-major GEMM arguments that ``gemm_plan`` derives, read back from the
operands' memory as cuBLAS reads it, give a @ b for every shape and memory order. On a GPU: the
ctypes product against NumPy's, its fallbacks, TensorFloat-32 honoured, and ``matmul`` recorded
in a CUDA graph that follows its inputs when replayed."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ebmlang.backend.cublas import OP_T, gemm_plan

ORDERS = st.sampled_from(["C", "F"])


def read_column_major(x, op: int, rows: int, cols: int, ld: int) -> np.ndarray:
    """op(X) where X is what a column-major library finds at ``x``'s memory: stored (rows, cols)
    for op N, (cols, rows) for op T, leading dimension ``ld``."""
    memory = x.ravel(order="K")                            # memory order, C- or F-contiguous x
    r, c = (cols, rows) if op == OP_T else (rows, cols)
    assert ld >= max(r, 1) and (c - 1) * ld + r <= memory.size
    stored = np.array([[memory[i + j * ld] for j in range(c)] for i in range(r)])
    return stored.T if op == OP_T else stored


@given(m=st.integers(1, 6), k=st.integers(1, 6), n=st.integers(1, 6), order_a=ORDERS, order_b=ORDERS,
       seed=st.integers(0, 2**16))
def test_the_plan_read_column_major_is_the_row_major_product(m, k, n, order_a, order_b, seed):
    rng = np.random.default_rng(seed)
    a = np.array(rng.integers(-4, 5, (m, k)), dtype=float, order=order_a)
    b = np.array(rng.integers(-4, 5, (k, n)), dtype=float, order=order_b)
    plan = gemm_plan(a, b)
    first = read_column_major(b, plan.op_first, plan.m, plan.k, plan.ld_first)
    second = read_column_major(a, plan.op_second, plan.k, plan.n, plan.ld_second)
    assert plan.ld_out == n                 # C, column-major (n, m), is the C-contiguous (m, n)
    np.testing.assert_array_equal((first @ second).T, a @ b)


def layouts(cp, x):
    """x as C-contiguous, F-contiguous and strided (a slice) CuPy arrays."""
    wide = cp.zeros((x.shape[0], 2 * x.shape[1]), dtype=x.dtype)
    wide[:, ::2] = cp.asarray(x)
    return [cp.asarray(x), cp.asfortranarray(cp.asarray(x)), wide[:, ::2]]


@pytest.mark.gpu
@given(m=st.integers(0, 40), k=st.integers(0, 40), n=st.integers(1, 40), seed=st.integers(0, 2**16),
       dtype=st.sampled_from(["float32", "float64"]))
def test_products_match_numpy_in_every_layout(cp, m, k, n, seed, dtype):
    from ebmlang.backend.matmul import cublas_matmul as matmul
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    tolerance = 1e-12 if dtype == "float64" else 1e-5
    for ga in layouts(cp, a):
        for gb in layouts(cp, b):
            got = matmul(ga, gb)
            assert got.dtype == dtype and got.shape == (m, n) and got.flags.c_contiguous
            np.testing.assert_allclose(cp.asnumpy(got), a @ b, rtol=tolerance, atol=tolerance * max(k, 1))
    v = rng.standard_normal(k).astype(dtype)
    np.testing.assert_allclose(cp.asnumpy(matmul(cp.asarray(v), cp.asarray(b))), v @ b, rtol=tolerance,
                               atol=tolerance * max(k, 1))
    np.testing.assert_allclose(cp.asnumpy(matmul(cp.asarray(a), cp.asarray(v))), a @ v, rtol=tolerance,
                               atol=tolerance * max(k, 1))


@pytest.mark.gpu
def test_what_it_does_not_cover_goes_to_cupy(cp):
    from ebmlang.backend.matmul import cublas_matmul as matmul
    ints = cp.arange(6).reshape(2, 3)
    assert (matmul(ints, ints.T) == ints @ ints.T).all()
    mixed = matmul(cp.ones((2, 3), cp.float32), cp.ones((3, 2), cp.float64))
    assert mixed.dtype == cp.float64 and float(mixed[0, 0]) == 3.0


@pytest.mark.gpu
def test_a_captured_product_follows_its_inputs_on_replay(cp):
    from ebmlang.backend.graphs import Capture
    from ebmlang.backend.matmul import cublas_unbound, matmul
    assert cublas_unbound(cp) is None
    rng = np.random.default_rng(0)
    a, b = cp.asarray(rng.standard_normal((64, 48))), cp.asarray(rng.standard_normal((48, 32)))
    out = cp.empty((64, 32))

    def step():
        out[...] = matmul(a, b) + matmul(b.T, a.T).T        # C- and F-contiguous operands

    capture = Capture(cp)
    capture.follow()
    with capture.stream:
        step()                                  # the handle is made and bound outside the capture
        graph = capture.record(step)
        for scale in (1.0, -3.0):
            a *= scale
            capture.launch(graph)
            capture.synchronize()
            np.testing.assert_allclose(cp.asnumpy(out), 2 * cp.asnumpy(a) @ cp.asnumpy(b), rtol=1e-12)


@pytest.mark.gpu
def test_tf32_applies_to_float32_products_only_inside_its_block(cp):
    """1.0001 rounds to 1 in TF32's 10-bit mantissa: 1024 such products sum to 1024 exactly;
    in IEEE float32 to about 1024.10 (rounding errors of the sum are far below 0.05)."""
    from ebmlang.backend import matmul_precision
    from ebmlang.backend.matmul import cublas_matmul as matmul
    x = cp.full((1024, 1024), 1.0001, dtype=cp.float32)
    y = cp.ones((1024, 1024), dtype=cp.float32)
    with matmul_precision(cp, "ieee"):
        with matmul_precision(cp, "tf32"):
            assert float(matmul(x, y)[0, 0]) == 1024.0
        assert abs(float(matmul(x, y)[0, 0]) - 1024.1024) < 0.05
        exact = 1024 * float(np.float32(1.0001))
        assert abs(float(matmul(x.astype(cp.float64), y.astype(cp.float64))[0, 0]) - exact) < 1e-9
