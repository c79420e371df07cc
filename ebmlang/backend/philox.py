"""Philox4x32-10, the counter-based generator of the CUDA kernels, and its NumPy reference.

A counter-based generator is a keyed bijection of a 128-bit counter (Salmon, Moraes, Dror &
Shaw 2011): the random bits of element i of draw d are philox(counter = (i, 0, d, 0), key), a
pure function of the run's key and position. A kernel computes them in registers, with no
generator state in memory, and a resumed run reproduces them exactly.

One round maps (c0, c1, c2, c3) with the key (k0, k1) to

    (hi(M1·c2) ⊕ c1 ⊕ k0,  lo(M1·c2),  hi(M0·c0) ⊕ c3 ⊕ k1,  lo(M0·c0))

and the key is bumped by the Weyl constants (W0, W1) between rounds; ten rounds. The CUDA source
(``cuda/philox.cuh``) and this module implement the same function, checked against Random123's
known-answer vectors; the kernels' tests compare the two bit for bit.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = 0x9E3779B9, 0xBB67AE85
ROUNDS = 10
CUDA_DIR = Path(__file__).with_name("cuda")
_LOW = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)


def philox4x32(counter, key) -> np.ndarray:
    """Philox4x32-10 of ``counter`` (4, n) under ``key`` (k0, k1): (4, n) uint32."""
    c = [np.asarray(w, dtype=np.uint64) for w in np.asarray(counter, dtype=np.uint32)]
    k0, k1 = int(key[0]) & 0xFFFFFFFF, int(key[1]) & 0xFFFFFFFF
    for r in range(ROUNDS):
        p0, p1 = M0 * c[0], M1 * c[2]
        c = [(p1 >> _SHIFT) ^ c[1] ^ np.uint64(k0), p1 & _LOW,
             (p0 >> _SHIFT) ^ c[3] ^ np.uint64(k1), p0 & _LOW]
        k0, k1 = (k0 + W0) & 0xFFFFFFFF, (k1 + W1) & 0xFFFFFFFF
    return np.stack(c).astype(np.uint32)


def counters(index, draw: int) -> np.ndarray:
    """The counter layout every kernel uses: (index lo, index hi, draw lo, draw hi): (4, n)."""
    index = np.asarray(index, dtype=np.uint64).reshape(-1)
    draw = np.full_like(index, np.uint64(draw))
    return np.stack([index & _LOW, index >> _SHIFT, draw & _LOW, draw >> _SHIFT]).astype(np.uint32)


def unit_uniform(bits) -> np.ndarray:
    """The top 24 bits as a float32 in [0, 1), exactly as the kernels' ``philox_uniform``."""
    top = np.asarray(bits, dtype=np.uint32) >> np.uint32(8)
    return top.astype(np.float32) * np.float32(2.0 ** -24)


def open_uniform(bits) -> np.ndarray:
    """(top 24 bits + 1) · 2⁻²⁴, in (0, 1]: safe under a logarithm (``philox_open_uniform``)."""
    return ((np.asarray(bits, dtype=np.uint32) >> np.uint32(8)) + np.uint32(1)).astype(np.float32) \
        * np.float32(2.0 ** -24)


def key_words(*key: int) -> tuple[int, int]:
    """Two 32-bit key words from an Rng key tuple (through SeedSequence, as the NumPy streams)."""
    words = np.random.SeedSequence([int(k) for k in key]).generate_state(2, np.uint32)
    return int(words[0]), int(words[1])


def cuda_source(*names: str) -> str:
    """The text of ``cuda/philox.cuh`` followed by the named files of ``cuda/``: one translation
    unit for NVRTC (which sees no include path) and for the host-side tests' nvcc alike."""
    return "\n".join((CUDA_DIR / n).read_text() for n in ("philox.cuh", *names))
