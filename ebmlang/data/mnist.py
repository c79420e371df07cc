"""MNIST in its original IDX files (gzip-compressed or raw).

Path resolution, first hit wins: the spec's ``data.path``, ``$EBMLANG_DATA/mnist``,
``~/.cache/ebmlang/mnist``. ``ebm fetch mnist`` downloads the four files there and checks their
SHA-256 sums.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import urllib.request
import zlib
from pathlib import Path

import numpy as np

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# SHA-256 of the *decompressed* files: gzip bytes differ between mirrors, the content does not
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class IdxError(ValueError):
    pass


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (magic 0x0000TTDD: type code TT, DD dimensions, big-endian sizes)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise IdxError(f"{path} is damaged ({exc}: cut short or corrupt); fetch it again with "
                       "`ebm fetch mnist`") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise IdxError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[raw[2]])
    body = raw[4 + 4 * ndim:]
    if len(body) != int(np.prod(shape)) * dtype.itemsize:
        raise IdxError(f"{path} holds {len(body)} bytes of data, "
                       f"its header promises shape {shape}: the file is "
                       "cut short or corrupt; fetch it again with `ebm fetch mnist`")
    return np.frombuffer(body, dtype=dtype).reshape(shape)


def candidate_dirs(path: str | None) -> list[Path]:
    if path:
        return [Path(path).expanduser()]
    dirs = []
    if os.environ.get("EBMLANG_DATA"):
        dirs.append(Path(os.environ["EBMLANG_DATA"]) / "mnist")
    dirs.append(Path.home() / ".cache" / "ebmlang" / "mnist")
    return dirs


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def locate(path: str | None) -> dict[str, Path]:
    """The four files in the first folder that has them all; FileNotFoundError says where it looked."""
    for folder in candidate_dirs(path):
        found = {key: _find(folder, stem) for key, stem in FILES.items()}
        if all(found.values()):
            return found
    looked = ", ".join(str(d) for d in candidate_dirs(path))
    raise FileNotFoundError(f"MNIST IDX files not found in {looked}; run `ebm fetch mnist` or set data.path")


def cache_root() -> Path:
    """Where decoded data sets and cached helper models live: $EBMLANG_CACHE, else
    ~/.cache/ebmlang."""
    return Path(os.environ.get("EBMLANG_CACHE", Path.home() / ".cache" / "ebmlang"))


def read_idx_cached(path: Path) -> np.ndarray:
    """``read_idx``, its result kept decoded in the cache (keyed by the file's path, size and
    modification time) so that the next run maps it in instead of decompressing it: a run of
    MNIST spends ~1 s in gzip otherwise. A cache that cannot be written is simply not used."""
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|"
                         f"{stat.st_mtime_ns}".encode()).hexdigest()[:24]
    cached = cache_root() / "decoded" / f"{path.name.split('.')[0]}-{key}.npy"
    if cached.is_file():
        try:
            return np.load(cached, mmap_mode="r")
        except (OSError, ValueError, EOFError):
            pass                                    # damaged: decode again below
    array = read_idx(path)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, array)
        os.replace(tmp, cached)
    except OSError:
        pass
    return array


def load_mnist(path: str | None) -> dict[str, np.ndarray]:
    """{'train_images': (60000, 784) uint8, 'train_labels': (60000,), 'test_images', 'test_labels'}."""
    arrays = {key: read_idx_cached(p) for key, p in locate(path).items()}
    for key in ("train_images", "test_images"):
        arrays[key] = arrays[key].reshape(arrays[key].shape[0], -1)
    return arrays


def fetch(dest: Path, mirror: str = MIRROR) -> list[Path]:
    """Download the four .gz files into ``dest``, verifying each one's content; returns their paths."""
    dest.mkdir(parents=True, exist_ok=True)
    done = []
    for stem, digest in SHA256.items():
        target = dest / (stem + ".gz")
        if not (target.is_file() and content_sha256(target) == digest):
            tmp = target.with_name(target.name + ".part")
            with urllib.request.urlopen(mirror.rstrip("/") + "/" + target.name, timeout=60) as r, \
                    open(tmp, "wb") as f:
                shutil.copyfileobj(r, f)
            if content_sha256(tmp) != digest:
                tmp.unlink()
                raise IdxError(f"{target.name}: checksum mismatch (expected {digest[:12]}…); the mirror is bad")
            tmp.replace(target)
        done.append(target)
    return done


def content_sha256(path: Path) -> str:
    """SHA-256 of the decompressed bytes of a .gz file (or of a raw file)."""
    try:
        with gzip.open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except (OSError, EOFError):
        return hashlib.sha256(path.read_bytes()).hexdigest()
