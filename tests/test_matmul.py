"""The kernels' products (backend/matmul.py): cuBLAS through ctypes where a CUDA graph records
them, since CuPy's own product refuses capture; accumulating products and batch sums.

On any machine: the column-major GEMM arguments that ``gemm_plan`` derives, read back from the
operands' memory as cuBLAS reads it, give a @ b for every shape and memory order; ``accumulate``
and ``batch_sum`` are their NumPy expressions. On a GPU: the ctypes product against NumPy's, its
fallbacks, TensorFloat-32 honoured (and kept out of batch sums), and the products and sums
recorded in a CUDA graph that follows its inputs when replayed."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ebmlang.backend.cublas import OP_T, gemm_plan
from ebmlang.backend.matmul import accumulate, batch_sum

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


SMALL_INTS = st.integers(-3, 3)


@given(m=st.integers(0, 5), k=st.integers(0, 5), n=st.integers(1, 5), alpha=SMALL_INTS,
       seed=st.integers(0, 2**16))
def test_accumulating_products_and_batch_sums_are_their_numpy_expressions(m, k, n, alpha, seed):
    """Small integers in floats: every sum is exact, so the identities hold exactly."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(-4, 5, (m, k)).astype(float), rng.integers(-4, 5, (k, n)).astype(float)
    out = rng.integers(-4, 5, (m, n)).astype(float)
    expected = out + alpha * (a @ b)
    assert accumulate(out, a, b, alpha) is out
    np.testing.assert_array_equal(out, expected)
    total = rng.integers(-4, 5, m).astype(float)
    expected = total + alpha * a.sum(axis=1)
    assert batch_sum(a.T, out=total, alpha=alpha) is total          # an F-contiguous (k, m)
    np.testing.assert_array_equal(total, expected)
    np.testing.assert_array_equal(batch_sum(b, alpha=alpha), alpha * b.sum(axis=0))


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


@pytest.mark.gpu
@given(m=st.integers(0, 40), k=st.integers(0, 40), n=st.integers(1, 40), seed=st.integers(0, 2**16),
       alpha=st.sampled_from([1.0, -1.0, 0.5]), dtype=st.sampled_from(["float32", "float64"]))
def test_accumulate_and_batch_sum_match_numpy_eager_and_captured(cp, m, k, n, seed, alpha, dtype):
    """On CuPy, eagerly (CuPy's product and an add) and recorded in a graph (one GEMM with
    β = 1, a GEMV with a row of ones), for every operand layout: NumPy's values."""
    from ebmlang.backend.graphs import Capture
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    start = rng.standard_normal((m, n)).astype(dtype)
    tolerance = 1e-12 if dtype == "float64" else 1e-5
    want_product = start + alpha * (a @ b)
    want_sum = start[0] + alpha * b.sum(axis=0) if m else None
    capture = Capture(cp)
    for ga in layouts(cp, a):
        for gb in layouts(cp, b):
            for recorded in (False, True):
                out = cp.asarray(start)
                total = cp.asarray(start[0]) if m else None

                def step():
                    accumulate(out, ga, gb, alpha)
                    if total is not None:
                        batch_sum(gb, out=total, alpha=alpha)

                capture.follow()                # the copies above, on the caller's stream
                with capture.stream:
                    if recorded:
                        capture.launch(capture.record(step))
                    else:
                        step()
                    capture.synchronize()
                np.testing.assert_allclose(cp.asnumpy(out), want_product, rtol=tolerance,
                                           atol=tolerance * max(k, 1))
                if total is not None:
                    np.testing.assert_allclose(cp.asnumpy(total), want_sum, rtol=tolerance,
                                               atol=tolerance * max(k, 1))


@pytest.mark.gpu
def test_batch_sums_stay_ieee_under_tf32_and_without_a_row_of_ones(cp):
    """A batch sum is a product with ones, but not a matrix product of the model's: TF32 leaves it
    alone (1.0001 would round to 1). A capture that needs a longer row of ones than any made so
    far sums with CuPy's reduction instead, which it can record."""
    from ebmlang.backend import matmul_precision
    from ebmlang.backend import matmul as products
    from ebmlang.backend.graphs import Capture
    x = cp.full((1024, 8), 1.0001, dtype=cp.float32)
    exact = 1024 * float(np.float32(1.0001))
    capture = Capture(cp)
    capture.follow()
    with matmul_precision(cp, "tf32"):
        control = cp.empty(8, dtype=cp.float32)           # the same product, TF32 allowed
        products._cublas_into(cp, products._ones_for(cp, x), x, control, 1.0, 0.0, tf32=True)
        if float(control[0]) != 1024.0:
            pytest.skip("cuBLAS takes no tensor cores for a product of this shape, TF32 or not")
    with matmul_precision(cp, "tf32"), capture.stream:
        assert abs(float(batch_sum(x)[0]) - exact) < 0.05
        out = cp.empty(8, dtype=cp.float32)
        out[...] = batch_sum(x)                 # compiles what the captures record
        graph = capture.record(lambda: out.__setitem__(Ellipsis, batch_sum(x)))
        out.fill(0)
        capture.launch(graph)
        capture.synchronize()
        assert abs(float(out[0]) - exact) < 0.05
        long = cp.ones((3000, 3), dtype=cp.float32)
        out[:3] = long.sum(axis=0)
        products._ones_held.clear()
        graph = capture.record(lambda: out[:3].__setitem__(Ellipsis, batch_sum(long)))
        assert not products._ones_held          # nothing made inside the capture
        out.fill(0)
        capture.launch(graph)
        capture.synchronize()
        assert (out[:3] == 3000).all()
