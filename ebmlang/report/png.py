"""A PNG writer for image mosaics, with no plotting library behind it.

Mosaics (samples, filters, reconstructions) are arrays of pixels: writing them needs zlib and
four chunk headers (PNG spec §5), not matplotlib, whose import and rendering cost more than a
short run's training. Grey images are written as 8-bit greyscale, others as 8-bit RGB.
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def write_png(path: Path, pixels: np.ndarray, title: str = "") -> None:
    """``pixels``: (h, w) grey or (h, w, 3) RGB, uint8, with ``title`` as its `Title` text;
    written to a temporary name and renamed."""
    h, w = pixels.shape[:2]
    colour = 2 if pixels.ndim == 3 else 0
    rows = pixels.reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter 0 per row
    header = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    text = _chunk(b"tEXt", b"Title\x00" + title.encode("latin-1", "replace")) if title else b""
    data = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + text
            + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b""))
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def grey(values: np.ndarray, low: float, high: float, missing: int = 0) -> np.ndarray:
    """Values in [low, high] → uint8 grey; NaN (the gaps between tiles) → ``missing``."""
    scaled = np.clip((values - low) / (high - low), 0, 1) * 255
    return np.where(np.isnan(values), missing, scaled).astype(np.uint8)


def diverging(values: np.ndarray) -> np.ndarray:
    """Values in [−1, 1] → RGB from blue through white to red (weights: sign and size);
    NaN white."""
    v = np.clip(np.nan_to_num(values, nan=0.0), -1, 1)[..., None]
    blue, white, red = np.array([33, 102, 172]), np.array([247, 247, 247]), np.array([178, 24, 43])
    rgb = np.where(v < 0, white + (blue - white) * -v, white + (red - white) * v)
    return rgb.round().astype(np.uint8)


def upscale(pixels: np.ndarray, target: int = 600) -> np.ndarray:
    """Nearest-neighbour enlargement so the longer side is about ``target`` pixels."""
    factor = max(1, target // max(pixels.shape[:2]))
    return pixels.repeat(factor, axis=0).repeat(factor, axis=1)
