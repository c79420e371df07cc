"""Ratings: (user, item, rating) triples as GroupLens distributes MovieLens, kept sparse.

Files: ML-100K's `u.data`, `u1.base`, `u1.test`, … (tab-separated `user item rating timestamp`)
and ML-1M's `ratings.dat` (`user::item::rating::timestamp`); commas and spaces also separate.
Ratings are integers 1 … K, K being the softmax layer's categories.

An RBM for collaborative filtering (Salakhutdinov, Mnih & Hinton 2007) has one row per user and
one softmax group of K units per item; the item-based orientation (Sedhain et al. 2015's I-RBM)
swaps the two. Row r of the visible data holds a one-hot group for each item r rated — column
g·K + (rating − 1) — and nothing for the rest (a missing group). A conditional RBM's implicit
layer holds 1 for every group a row rated in the training *or* the test set: which, not how.

Users and items are numbered by their sorted distinct ids over both sets. ``ebm fetch movielens``
downloads the 100K and 1M sets (MD5 of GroupLens's zip files, SHA-256 of the 100K ratings).
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .sparse import SparseRows

GROUPLENS = "https://files.grouplens.org/datasets/movielens/"
ARCHIVES = {        # name: (zip, its MD5, the members kept)
    "ml-100k": ("ml-100k.zip", "0e33842e24a9c977be4e0107933c0723",
                ("u.data",) + tuple(f"u{i}.{s}" for i in range(1, 6) for s in ("base", "test"))),
    "ml-1m": ("ml-1m.zip", "c4d9eecfca2ab87c1945afe126590906", ("ratings.dat",)),
}
SHA256 = {"ml-100k/u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"}


class RatingsError(ValueError):
    pass


def read_triples(path: Path, shown: str | None = None) -> np.ndarray:
    """(n, 3) int64 (user, item, rating) from a ratings file; RatingsError names the bad line
    (and the file as ``shown``, by default its path)."""
    name = shown or str(path)
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise RatingsError(f"{name} is not a text file of ratings") from None
    text = text.replace("::", "\t").replace(",", "\t")
    try:
        table = np.loadtxt(io.StringIO(text), dtype=np.float64, usecols=(0, 1, 2), ndmin=2)
    except ValueError:
        raise RatingsError(_first_bad_line(name, text)) from None
    if table.size == 0:
        raise RatingsError(f"{name} holds no ratings")
    whole = np.isfinite(table) & (table == np.round(table)) & (np.abs(table) < 2.0 ** 53)
    if not whole.all():
        row = int(np.argmax(~whole.all(axis=1)))
        raise RatingsError(f"{name}, line {_line_numbers(text)[row]}: user, item and rating must "
                           "be integers")
    return table.astype(np.int64)


def _rows(text: str):
    """(line number, fields) of each line NumPy reads as a row: not blank once its `#` comment
    is cut (the text has "\n" line ends: read_text translates the others)."""
    for number, line in enumerate(text.split("\n"), 1):
        fields = line.split("#")[0].split()
        if fields:
            yield number, fields


def _line_numbers(text: str) -> list[int]:
    """The file's line number of each row NumPy read."""
    return [number for number, _ in _rows(text)]


def _first_bad_line(name: str, text: str) -> str:
    for number, fields in _rows(text):
        line = " ".join(fields)
        if len(fields) < 3:
            return (f"{name}, line {number}: expected `user item rating [timestamp]`, "
                    f"got {line[:40]!r}")
        try:
            [float(f) for f in fields[:3]]
        except ValueError:
            return (f"{name}, line {number}: user, item and rating must be numbers, "
                    f"got {line[:40]!r}")
    return f"{name}: not a ratings file (`user item rating [timestamp]` per line)"


@dataclass(frozen=True)
class Ratings:
    """Triples in index space: (row, group, rating 1 … levels) for the training and test sets."""

    train: np.ndarray           # (n, 3) int64
    test: np.ndarray            # (m, 3) int64
    rows: int
    groups: int
    levels: int
    orientation: str            # "users": rows are users; "items": rows are items

    def one_hot(self, triples: np.ndarray) -> SparseRows:
        """The visible rows: column g·K + rating − 1 for each (row, group, rating)."""
        columns = triples[:, 1] * self.levels + triples[:, 2] - 1
        return SparseRows.from_entries(triples[:, 0], columns, np.ones(len(triples)), self.rows,
                                       self.groups * self.levels)

    def implicit(self) -> SparseRows:
        """1 where a row rated a group, in the training or the test set (the conditional RBM's
        input)."""
        pairs = np.unique(np.concatenate([self.train[:, :2], self.test[:, :2]]), axis=0)
        return SparseRows.from_entries(pairs[:, 0], pairs[:, 1], np.ones(len(pairs)), self.rows,
                                       self.groups)

    def per_row(self, triples: np.ndarray) -> SparseRows:
        """The ratings themselves (1 … K) by row, columns = groups."""
        return SparseRows.from_entries(triples[:, 0], triples[:, 1], triples[:, 2].astype(float),
                                       self.rows, self.groups)


def repeated_pair(triples: np.ndarray, within: str) -> str | None:
    """Why the (user, item) pairs of ``triples`` are not distinct, or None: a pair rated twice
    would enter a user's row twice, or be both a training rating and a held-out one (its rating
    leaking into its own prediction). ``within`` names where the triples come from."""
    pairs, counts = np.unique(triples[:, :2], axis=0, return_counts=True)
    twice = counts > 1
    if not twice.any():
        return None
    user, item = pairs[np.argmax(twice)]
    count = int(twice.sum())
    return (f"{count} (user, item) pair{'s are' if count > 1 else ' is'} rated more than once "
            f"{within}, e.g. user {user}, item {item}: each pair must be rated once")


def index_ratings(train: np.ndarray, test: np.ndarray, levels: int, orientation: str) -> Ratings:
    """Raw (user, item, rating) triples → index space; rows are users, or items if ``orientation``
    is `items`. RatingsError when a rating lies outside 1 … ``levels``."""
    for name, t in (("training", train), ("test", test)):
        if len(t) and (t[:, 2].min() < 1 or t[:, 2].max() > levels):
            raise RatingsError(f"the {name} ratings span {t[:, 2].min()} … {t[:, 2].max()}, "
                               f"but the softmax layer has {levels} categories: "
                               f"ratings must be 1 … {levels}")
    both = np.concatenate([train, test])
    users, items = np.unique(both[:, 0]), np.unique(both[:, 1])

    def index(t):
        u, i = np.searchsorted(users, t[:, 0]), np.searchsorted(items, t[:, 1])
        rows, groups = (u, i) if orientation == "users" else (i, u)
        return np.stack([rows, groups, t[:, 2]], axis=1)

    rows, groups = (len(users), len(items)) if orientation == "users" else (len(items), len(users))
    return Ratings(index(train), index(test), rows, groups, levels, orientation)


def split_triples(triples: np.ndarray, test_fraction: float,
                  seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of the ratings (not of the users): (train, test)."""
    order = np.random.default_rng([seed, 0x5A71]).permutation(len(triples))
    cut = int(round(test_fraction * len(triples)))
    return triples[np.sort(order[cut:])], triples[np.sort(order[:cut])]


def candidate_paths(relative: str, spec_dir: Path) -> list[Path]:
    """Where a ratings file named in a spec is looked for: beside the spec, $EBMLANG_DATA,
    ~/.cache/ebmlang (an absolute path: only itself)."""
    path = Path(relative).expanduser()
    if path.is_absolute():
        return [path]
    out = [spec_dir / path]
    if os.environ.get("EBMLANG_DATA"):
        out.append(Path(os.environ["EBMLANG_DATA"]) / path)
    out.append(Path.home() / ".cache" / "ebmlang" / path)
    return out


def default_root() -> Path:
    """Where `ebm fetch movielens` puts ml-100k/ and ml-1m/: $EBMLANG_DATA, else
    ~/.cache/ebmlang."""
    return (Path(os.environ["EBMLANG_DATA"]) if os.environ.get("EBMLANG_DATA")
            else Path.home() / ".cache" / "ebmlang")


def locate(relative: str, spec_dir: Path) -> Path:
    candidates = candidate_paths(relative, spec_dir)
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(str(p) for p in candidates)
    raise FileNotFoundError(f"ratings file '{relative}' not found (looked in {looked}); "
                            f"run `ebm fetch movielens` or set data.path")


def fetch(dest: Path, mirror: str = GROUPLENS, names=tuple(ARCHIVES)) -> list[Path]:
    """Download and unpack the MovieLens sets ``names`` into ``dest``/<name>/, checking each zip's
    MD5 (and the 100K ratings' SHA-256); returns the ratings files written."""
    written = []
    for name in names:
        archive, md5, members = ARCHIVES[name]
        folder = dest / name
        if all((folder / m).is_file() for m in members) and _content_ok(dest, name):
            written += [folder / m for m in members]
            continue
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dest) as tmp:
            zip_path = Path(tmp) / archive
            with urllib.request.urlopen(mirror.rstrip("/") + "/" + archive, timeout=120) as r, \
                    open(zip_path, "wb") as f:
                shutil.copyfileobj(r, f)
            if hashlib.md5(zip_path.read_bytes()).hexdigest() != md5:
                raise RatingsError(f"{archive}: checksum mismatch (expected MD5 {md5}); "
                                   f"the download is bad")
            with zipfile.ZipFile(zip_path) as z:
                for member in members:
                    part = folder / (member + ".part")
                    part.write_bytes(z.read(f"{name}/{member}"))
                    part.replace(folder / member)
        if not _content_ok(dest, name):
            raise RatingsError(f"{name}: the unpacked ratings fail their SHA-256 check")
        written += [folder / m for m in members]
    return written


def _content_ok(dest: Path, name: str) -> bool:
    return all(hashlib.sha256((dest / key).read_bytes()).hexdigest() == digest
               for key, digest in SHA256.items() if key.startswith(name + "/"))
