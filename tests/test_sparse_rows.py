"""Sparse rows held by the backend (data/sparse.py, DeviceRows): each minibatch made dense where
the model lives, against SparseRows' own dense form. On NumPy the reference scatter; with nvcc
the host build of every thread's code in data/cuda/rows.cu; on a GPU the kernel itself."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ebmlang.backend import to_numpy
from ebmlang.data.sparse import SOURCE, DeviceRows, SparseRows, take_rows

from nvcc import host_program, needs_nvcc, ptx, run


@st.composite
def sparse_batches(draw):
    """(dense (N, W) matrix with empty rows likely, SparseRows of it, a minibatch of row indices
    with repeats)."""
    n, width = draw(st.integers(1, 12)), draw(st.integers(1, 70))
    gen = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    dense = (gen.random((n, width)) < draw(st.floats(0.0, 0.6))) * gen.integers(1, 6, (n, width))
    r, c = np.nonzero(dense)
    order = gen.permutation(len(r))
    rows = SparseRows.from_entries(r[order], c[order], dense[r, c][order].astype(float), n, width)
    batch = gen.integers(0, n, draw(st.integers(1, 2 * n)))
    return dense.astype(float), rows, batch


@given(sparse_batches(), st.sampled_from(["float32", "float64"]))
def test_held_rows_give_the_dense_rows(case, dtype):
    dense, rows, batch = case
    held = DeviceRows.of(rows, np, dtype)
    assert held.shape == dense.shape and held.dtype == np.dtype(dtype)
    got = take_rows(held, batch)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, dense[batch])
    out = np.full((len(batch), dense.shape[1]), 7.0, dtype)         # stale values are cleared
    take_rows(held, batch, out=out)
    np.testing.assert_array_equal(out, dense[batch])
    np.testing.assert_array_equal(rows[batch].dense(np, dtype), dense[batch])


def test_dense_rows_are_taken_as_they_are():
    x = np.arange(12.0).reshape(4, 3)
    np.testing.assert_array_equal(take_rows(x, np.array([3, 1])), x[[3, 1]])


# ---- nvcc: the host build of each thread's code --------------------------------------------

@needs_nvcc
def test_the_scatter_compiles_for_hopper(tmp_path):
    text = ptx([SOURCE], tmp_path, "rows")
    assert ".entry scatter_rows_f32(" in text and ".entry scatter_rows_f64(" in text


@needs_nvcc
@given(sparse_batches(), st.sampled_from(["f32", "f64"]))
def test_every_thread_of_the_scatter_writes_the_dense_rows(host, case, suffix):
    dense, rows, batch = case
    words = [*rows.indptr, *rows.columns, *rows.values, *batch]
    out = run(host, suffix, len(rows), rows.width, len(rows.columns), len(batch),
              stdin=" ".join(map(str, words)))
    np.testing.assert_array_equal(np.array(out, float).reshape(len(batch), -1), dense[batch])


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    return host_program([SOURCE], tmp_path_factory.mktemp("rows"), "rows")


# ---- on a GPU -------------------------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_kernel_gives_the_dense_rows(cp, dtype):
    gen = np.random.default_rng(5)
    dense = (gen.random((300, 900)) < 0.05) * gen.integers(1, 6, (300, 900)).astype(float)
    r, c = np.nonzero(dense)
    held = DeviceRows.of(SparseRows.from_entries(r, c, dense[r, c], 300, 900), cp, dtype)
    batch = gen.integers(0, 300, 128)
    out = cp.full((128, 900), 7, dtype)
    take_rows(held, cp.asarray(batch), out=out)
    np.testing.assert_array_equal(to_numpy(out), dense[batch])
    np.testing.assert_array_equal(to_numpy(take_rows(held, cp.asarray(batch[:5]))), dense[batch[:5]])
