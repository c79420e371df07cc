"""Matrix products on cuBLAS called through ctypes, so that a CUDA graph can record them.

CuPy refuses every cuBLAS call on a stream that is capturing (its ``setStream`` raises
``NotImplementedError: calling cuBLAS API during stream capture is currently unsupported``),
although cuBLAS records its GEMMs in a capture once the handle has a workspace of its own (the
cuBLAS guide, "CUDA Graphs Support"): the library allocates nothing then. This module keeps one
such handle per device, in the same libcublas that CuPy loaded, and calls ``cublasGemmEx`` on the
current stream, captured or not.

Row-major arrays against a column-major library: C = A·B (m×n, C-contiguous) is, read in
column-major order, Cᵀ = Bᵀ·Aᵀ (n×m, leading dimension n). A C-contiguous operand read in
column-major order is already its transpose (op N); an F-contiguous one (a ``.T`` view) is
itself, so it takes op T. ``gemm_plan`` works that out, on the shapes and flags alone.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from typing import NamedTuple

OP_N, OP_T = 0, 1
DATA_TYPE = {"float32": 0, "float64": 1}                # cudaDataType_t: CUDA_R_32F, CUDA_R_64F
COMPUTE_32F, COMPUTE_32F_FAST_TF32, COMPUTE_64F = 68, 77, 70    # cublasComputeType_t
GEMM_DEFAULT = -1
WORKSPACE_BYTES = 32 << 20          # what cuBLAS itself asks for on Hopper


class GemmPlan(NamedTuple):
    """The arguments of one column-major ``gemm`` that writes a @ b into a C-contiguous (m, n)
    array: op(first)·op(second) with ``first`` = b and ``second`` = a."""
    op_first: int
    op_second: int
    m: int              # rows of the column-major product (the row-major product's columns)
    n: int
    k: int
    ld_first: int
    ld_second: int
    ld_out: int


def _operand(x, rows: int, cols: int) -> tuple[int, int]:
    """(op, leading dimension) of a row-major (rows, cols) operand read in column-major order
    as its transpose (cols, rows)."""
    if x.flags.c_contiguous:
        return OP_N, max(cols, 1)
    return OP_T, max(rows, 1)                       # F-contiguous: stored as itself, (rows, cols)


def gemm_plan(a, b) -> GemmPlan:
    """Column-major GEMM arguments for ``a @ b``: a (m, k) and b (k, n), each C- or
    F-contiguous (2-D, non-empty)."""
    (m, k), (_, n) = a.shape, b.shape
    op_b, ld_b = _operand(b, k, n)
    op_a, ld_a = _operand(a, m, k)
    return GemmPlan(op_b, op_a, n, m, k, ld_b, ld_a, max(n, 1))


def _library_path() -> str | None:
    """The libcublas this process loaded (CuPy's), else the loader's."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "/libcublas.so" in path:
                    return path
    except OSError:
        pass
    return ctypes.util.find_library("cublas")


class Cublas:
    """One cuBLAS handle with its own workspace on the current device, bound to a stream at a
    time. Raises OSError or AttributeError where libcublas or its symbols cannot be found."""

    def __init__(self, cupy):
        cupy.cuda.device.get_cublas_handle()             # makes CuPy load its libcublas first
        path = _library_path()
        if path is None:
            raise OSError("libcublas not found")
        lib = ctypes.CDLL(path)
        self._gemm = lib.cublasGemmEx
        self._gemm.restype = ctypes.c_int
        pointer, number = ctypes.c_void_p, ctypes.c_int
        self._gemm.argtypes = [pointer, number, number, number, number, number,  # handle,ops,m,n,k
                               pointer, pointer, number, number,                 # α, A, type, lda
                               pointer, number, number,                          # B, type, ldb
                               pointer, pointer, number, number,                 # β, C, type, ldc
                               number, number]                                   # compute, algo
        self._set_stream, self._set_workspace = lib.cublasSetStream_v2, lib.cublasSetWorkspace_v2
        self._set_stream.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self._set_workspace.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        self.handle = ctypes.c_void_p()
        _check(lib.cublasCreate_v2(ctypes.byref(self.handle)), "cublasCreate")
        # plain cudaMalloc, outside every memory pool (a capture's pool included), for good
        self.workspace = cupy.cuda.Memory(WORKSPACE_BYTES)
        self.stream = None

    def bind(self, stream: int) -> None:
        """Queue the next products on ``stream`` (a cudaStream_t). cublasSetStream puts the
        handle back on cuBLAS's default workspace pool, so the workspace is set again after it."""
        if stream != self.stream:
            _check(self._set_stream(self.handle, ctypes.c_void_p(stream)), "cublasSetStream")
            _check(self._set_workspace(self.handle, ctypes.c_void_p(self.workspace.ptr),
                                       WORKSPACE_BYTES), "cublasSetWorkspace")
            self.stream = stream

    def gemm(self, plan: GemmPlan, first: int, second: int, out: int, dtype: str,
             tf32: bool, alpha: float = 1.0, beta: float = 0.0) -> None:
        """out ← α·op(first)·op(second) + β·out, device pointers, column-major, per ``plan``.
        α and β are host scalars, read when the call is queued (a capture keeps their values)."""
        if dtype == "float64":
            compute, scalar = COMPUTE_64F, ctypes.c_double
        else:
            compute, scalar = (COMPUTE_32F_FAST_TF32 if tf32 else COMPUTE_32F), ctypes.c_float
        kind, alpha, beta = DATA_TYPE[dtype], scalar(alpha), scalar(beta)
        _check(self._gemm(self.handle, plan.op_first, plan.op_second, plan.m, plan.n, plan.k,
                          ctypes.addressof(alpha), first, kind, plan.ld_first,
                          second, kind, plan.ld_second, ctypes.addressof(beta),
                          out, kind, plan.ld_out, compute, GEMM_DEFAULT), "cublasGemmEx")


def _check(status: int, call: str) -> None:
    if status != 0:
        raise RuntimeError(f"{call} failed with cuBLAS status {status}")
