"""Keep freed host memory for reuse, so the arrays of one minibatch step reuse the last one's.

Each training step allocates and frees arrays of a few MB (gradients, activations). glibc's
malloc serves those from fresh mmaps or trims them from the heap when freed, so the next step
faults the same pages in again: measured on the 784-1000-500-250-30 autoencoder, that costs up to
40 % of an epoch, and more or less from run to run, depending on the order of allocations.
Raising the mmap and trim thresholds keeps the pages mapped (PyTorch's caching allocator does the
same for its tensors). Process-wide, so only `ebm` and the benchmarks call it; elsewhere (not
glibc) it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold: int = 64 << 20, trim_threshold: int = 256 << 20) -> bool:
    """Ask glibc to serve allocations below ``mmap_threshold`` bytes from its heap and to return
    heap memory to the system only above ``trim_threshold`` free bytes. True when applied."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(M_TRIM_THRESHOLD, trim_threshold))


__all__ = ["keep_freed_memory"]
