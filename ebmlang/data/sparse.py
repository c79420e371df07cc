"""Sparse rows: a data set too wide to hold dense, densified one minibatch at a time.

Ratings are the case in point: a user's row of the visible layer has one softmax group of K
units per item, and she rated a few dozen of thousands of items. Stored dense, MovieLens 100K
would be 943 × 1682 × 5 numbers (Netflix: 480k × 18k × 5); stored as (row, column) entries it is
the 100,000 ratings. The trainer shuffles rows and asks for each minibatch dense (B × width),
where the absent groups are zeros.

    SparseRows(indptr (N+1,), columns (nnz,), values (nnz,), width)
        CSR: row r's entries are columns[indptr[r]:indptr[r+1]]

On a GPU the rows move to the device once (``DeviceRows``) and each minibatch is made dense there,
in two launches that read nothing back: the host has no part in a step, which can then be
captured as a CUDA graph (``train/graph.py``).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..backend import namespace_of
from ..backend.draws import launch
from ..backend.philox import cuda_source

SOURCE = Path(__file__).with_name("cuda") / "rows.cu"
LANES = 32          # threads per row in cuda/rows.cu (EBM_ROW_LANES)


@dataclass(frozen=True)
class SparseRows:
    indptr: np.ndarray          # (N + 1,) int64
    columns: np.ndarray         # (nnz,) int64, within each row in increasing order
    values: np.ndarray          # (nnz,) float64
    width: int

    @classmethod
    def from_entries(cls, rows: np.ndarray, columns: np.ndarray, values: np.ndarray, count: int,
                     width: int) -> "SparseRows":
        """Rows 0 … count−1 from (row, column, value) entries in any order."""
        order = np.lexsort((columns, rows))
        rows, columns, values = rows[order], columns[order], values[order]
        indptr = np.zeros(count + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=count), out=indptr[1:])
        return cls(indptr, columns.astype(np.int64), values.astype(float), width)

    @property
    def shape(self) -> tuple:
        return (len(self.indptr) - 1, self.width)

    @property
    def size(self) -> int:
        return self.shape[0] * self.width

    def __len__(self) -> int:
        return self.shape[0]

    def row_ids(self) -> np.ndarray:
        """(nnz,) the row of each stored entry."""
        return np.repeat(np.arange(len(self)), np.diff(self.indptr))

    def __getitem__(self, rows) -> "SparseRows":
        """The rows ``rows`` (a slice or an index array), in that order."""
        rows = (np.arange(len(self))[rows] if isinstance(rows, slice)
                else np.asarray(rows, dtype=np.int64))
        starts, counts = self.indptr[rows], np.diff(self.indptr)[rows]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        # positions of the kept entries: each row's run start + 0 … count−1
        take = np.repeat(starts - indptr[:-1], counts) + np.arange(indptr[-1])
        return SparseRows(indptr, self.columns[take], self.values[take], self.width)

    def dense(self, xp=np, dtype=np.float64):
        """(N, width) on the backend ``xp``, zeros where no entry is stored."""
        out = np.zeros(self.shape, dtype=dtype)
        out[self.row_ids(), self.columns] = self.values
        return xp.asarray(out)

    def mean(self, axis: int = 0) -> np.ndarray:
        """Column means over all rows (absent entries count as 0), as a dense array's would be."""
        if axis != 0:
            raise ValueError("SparseRows.mean supports axis=0 only")
        return np.bincount(self.columns, self.values, minlength=self.width) / max(len(self), 1)


@dataclass(frozen=True)
class DeviceRows:
    """SparseRows held by a backend (on CuPy its device, on NumPy the host), densified there one
    minibatch at a time.

    ``dense_into(rows, out)`` writes out[b, columns[j]] = values[j] for the entries j of CSR row
    rows[b], over zeros: on CuPy one ``fill`` and one launch of ``cuda/rows.cu`` (a warp per row),
    on NumPy the reference of the same scatter."""

    indptr: object              # (N + 1,) int64, on the device
    columns: object             # (nnz,) int64
    values: object              # (nnz,) in the training dtype
    width: int

    @classmethod
    def of(cls, rows: SparseRows, xp, dtype) -> "DeviceRows":
        return cls(xp.asarray(rows.indptr), xp.asarray(rows.columns),
                   xp.asarray(rows.values, dtype=dtype), rows.width)

    @property
    def shape(self) -> tuple:
        return (len(self.indptr) - 1, self.width)

    @property
    def dtype(self):
        return self.values.dtype

    def __len__(self) -> int:
        return self.shape[0]

    def dense_into(self, rows, out) -> None:
        """``out`` (len(rows), width) ← the rows ``rows`` (an int64 index array on the device),
        dense."""
        out.fill(0)
        if isinstance(out, np.ndarray):
            reference_scatter(self.indptr, self.columns, self.values, rows, out)
            return
        n = len(rows) * LANES
        launch(_module(), "scatter_rows", out.dtype, n, self.indptr, self.columns, self.values,
               rows.astype(np.int64, copy=False), out, np.uint64(self.width), np.uint64(n))

    def dense(self, rows):
        """The rows ``rows``, dense: a new (len(rows), width) array on the device."""
        xp = namespace_of(self.values)
        out = xp.empty((len(rows), self.width), dtype=self.values.dtype)
        self.dense_into(rows, out)
        return out


def reference_scatter(indptr, columns, values, rows, out) -> None:
    """cuda/rows.cu on NumPy: out[b, columns[j]] = values[j] for the entries j of row rows[b]."""
    starts = indptr[rows]
    counts = indptr[rows + 1] - starts
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    take = np.repeat(starts, counts) + within           # each row's run start + 0 … count − 1
    out[np.repeat(np.arange(len(rows)), counts), columns[take]] = values[take]


@functools.lru_cache(maxsize=1)
def _module():
    import cupy
    return cupy.RawModule(code=cuda_source(SOURCE))


def take_rows(x, rows, out=None):
    """Rows ``rows`` (an index array on the backend) of a backend array or of DeviceRows, dense,
    into ``out`` when it is given."""
    if isinstance(x, DeviceRows):
        if out is None:
            return x.dense(rows)
        x.dense_into(rows, out)
        return out
    return namespace_of(x).take(x, rows, axis=0, out=out)


def is_sparse(x) -> bool:
    """Sparse rows, on the host (SparseRows) or on a device (DeviceRows)."""
    return isinstance(x, (SparseRows, DeviceRows))


def on_backend(x, xp, dtype):
    """Dense arrays go to the backend now; sparse rows stay on the host until a minibatch asks."""
    return x if is_sparse(x) else xp.asarray(x, dtype=dtype)


def dense_rows(x, rows, xp, dtype):
    """Rows ``rows`` of ``x`` as a dense backend array (``x`` dense on the backend, or sparse)."""
    return x[rows].dense(xp, dtype) if is_sparse(x) else x[rows]
