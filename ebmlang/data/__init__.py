"""Data: load what the spec's `data` section names, preprocess it, and check it fits the model.

Every problem (a missing file, NaN, a width that does not match the layer, values outside the
unit type's range) is a :class:`DataError` pointing at the spec line to fix.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..graph import resolve
from ..spec import Spec
from ..units import make_units
from .mnist import IdxError, load_mnist
from .ratings import (Ratings, RatingsError, index_ratings, locate, read_triples, repeated_pair,
                      split_triples)
from .sparse import SparseRows, is_sparse
from .synthetic import bars_and_stripes, gaussian_grid, gaussian_mixture

EMBEDDED = Path(__file__).with_name("mnist_embedded.npz")


@dataclass(frozen=True)
class Dataset:
    """Rows are examples: train (N, d), test (M, d), on the host (float64; images in the spec's
    dtype); labels may be None."""

    name: str
    layer: str
    train: np.ndarray
    test: np.ndarray
    train_labels: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    shape: tuple | None = None          # image shape of one row, for figures
    label_layer: str | None = None      # the softmax layer the labels are clamped to, one-hot
    classes: int = 0                    # its size
    resample: bool = False              # train holds intensities, binarised afresh each epoch by the trainer
    ratings: Ratings | None = None      # ratings data: train and test are SparseRows, these the
                                        # triples
    implicit_layer: str | None = None   # the layer told which groups each row rated (a conditional
                                        # RBM)
    generator: tuple | None = None      # a generated mixture's (means (C, d), std (d,)), equal
                                        # weights
    scale: tuple | None = None          # (mean, spread) per unit that standardised the data;
                                        # figures undo it

    @property
    def layers(self) -> tuple:
        """The layers this data set fills: the data layer, then the label or implicit layer if
        any."""
        return (self.layer,) + tuple(n for n in (self.label_layer, self.implicit_layer) if n)

    def arrays(self, split: str) -> dict:
        """{layer: (N, size)} for ``split`` (`train` or `test`): the data, one-hot labels, and which
        groups each row rated (the same in both splits: test items count as implicit feedback)."""
        out = {self.layer: getattr(self, split)}
        if self.label_layer:
            labels = getattr(self, f"{split}_labels")
            out[self.label_layer] = np.eye(self.classes)[labels.astype(int)]
        if self.implicit_layer:
            out[self.implicit_layer] = self.ratings.implicit()
        return out


def load_data(spec: Spec) -> Dataset:
    """The data set of ``spec``'s `data` section: read, subset, binarised or standardised as
    it says, and checked against its layer."""
    if not isinstance(spec, Spec):
        raise TypeError(f"load_data takes a Spec, got {type(spec).__name__}")
    if spec.data is None:
        raise ValueError(f"spec {spec.name} has no data section to load")
    d = spec.data
    layer = d.layer or next(iter(spec.model.layers))
    loader = {"mnist": _mnist, "mnist-embedded": _mnist, "bars-and-stripes": _bars,
              "gaussian-mixture": _mixture, "gaussian-grid": _grid, "file": _file,
              "patterns": _patterns, "ratings": _ratings}[d.source]
    ds = loader(spec, layer)
    ds = _standardize(spec, _binarize(spec, _subset(spec, ds)))
    if d.labels:
        ds = _replace(ds, label_layer=d.labels, classes=spec.model.layers[d.labels].size)
    check_fits(spec, ds)
    return ds


def _mnist(spec: Spec, layer: str) -> Dataset:
    try:
        if spec.data.source == "mnist-embedded":
            with np.load(EMBEDDED) as z:
                arrays = {k: z[k] for k in z.files}
        else:
            arrays = load_mnist(spec.data.path)
    except (FileNotFoundError, IdxError, OSError) as exc:
        raise DataError(str(exc), spec.loc("data.path" if spec.data.path else "data.source")) from None
    return Dataset(spec.data.source, layer, _pixels(arrays["train_images"], spec),
                   _pixels(arrays["test_images"], spec), arrays["train_labels"],
                   arrays["test_labels"], (28, 28))


def _pixels(images: np.ndarray, spec: Spec) -> np.ndarray:
    """uint8 pixels → intensities x/255 in the spec's dtype; with `binarize: t`, thresholded at
    once on the bytes (x/255 > t ⟺ x ≥ the first byte value above t), which ``_binarize`` then
    leaves alone: one pass over MNIST's 55 million pixels instead of three in float64 (a run spent
    a second here)."""
    if isinstance(spec.data.binarize, float):
        first_on = int(np.searchsorted(np.arange(256) / 255.0, spec.data.binarize, side="right"))
        return (images >= first_on).astype(spec.dtype)
    return np.divide(images, 255.0, dtype=spec.dtype)


def _bars(spec: Spec, layer: str) -> Dataset:
    side = spec.data.side
    patterns = bars_and_stripes(side)
    # train on the distribution itself: `samples` uniform draws; test on each distinct pattern once
    draws = np.random.default_rng([spec.data.seed, 0xBA55]).integers(0, len(patterns), spec.data.samples)
    return Dataset("bars-and-stripes", layer, patterns[draws], patterns, shape=(side, side))


def _mixture(spec: Spec, layer: str) -> Dataset:
    d = spec.data
    train, train_labels, test, test_labels, means = gaussian_mixture(d.dim, d.components, d.samples,
                                                                     d.separation, d.noise, d.seed,
                                                                     d.layout)
    return Dataset("gaussian-mixture", layer, train, test, train_labels, test_labels,
                   generator=(means, np.full(d.dim, d.noise)))


def _grid(spec: Spec, layer: str) -> Dataset:
    d = spec.data
    train, train_labels, test, test_labels = gaussian_grid(d.side, d.spacing, d.std, d.samples, d.seed)
    return Dataset("gaussian-grid", layer, train, test, train_labels, test_labels)


def _patterns(spec: Spec, layer: str) -> Dataset:
    """Random patterns to store: on with probability p; spin layers get ±1, others 0/1."""
    d, info = spec.data, spec.model.layers[layer]
    gen = np.random.default_rng([d.seed, 0x9A77])
    on = gen.random((d.count, info.size)) < d.probability
    x = np.where(on, 1.0, -1.0) if info.units == "spin" else on.astype(float)
    return Dataset("patterns", layer, x, x, shape=tuple(info.shape) if info.shape else None)


def _file(spec: Spec, layer: str) -> Dataset:
    path = resolve(spec, spec.data.path)
    try:
        loaded = np.load(path, allow_pickle=False)
        arrays = {"train": loaded} if isinstance(loaded, np.ndarray) else _npz_arrays(loaded)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"data file '{spec.data.path}' is damaged ({exc}): "
                        "cut short or corrupt; write it again",
                        spec.loc("data.path")) from None
    except OSError as exc:
        raise DataError(f"cannot read data file '{spec.data.path}': {exc.strerror or exc}", spec.loc("data.path")) from None
    except ValueError as exc:
        raise DataError(f"data file '{spec.data.path}' is not a .npy or .npz array file: {exc}", spec.loc("data.path")) from None
    if "train" not in arrays:
        raise DataError(f"data file '{spec.data.path}' has no array named 'train' "
                        f"(found: {', '.join(arrays)})",
                        spec.loc("data.path"))
    train, test = _rows(arrays, "train", spec), _rows(arrays, "test", spec)
    labels = {split: _labels(arrays, f"{split}_labels", spec) for split in ("train", "test")}
    for split, rows in (("train", train), ("test", test)):
        if labels[split] is not None and rows is not None and len(labels[split]) != len(rows):
            raise DataError(f"data file '{spec.data.path}': '{split}_labels' has "
                            f"{len(labels[split])} labels for {len(rows)} examples",
                            spec.loc("data.path"))
    if test is not None:
        return Dataset("file", layer, train, test, labels["train"], labels["test"])
    cut = len(train) - int(round(spec.data.test_fraction * len(train)))
    # the labels follow their rows into the split
    given = labels["train"]
    split = (None, None) if given is None else (given[:cut], given[cut:])
    return Dataset("file", layer, train[:cut], train[cut:], *split)


def _rows(arrays: dict, name: str, spec: Spec) -> np.ndarray | None:
    """The examples ``name`` of a data file, (N, units) float64 (None if absent)."""
    rows = _numeric(arrays, name, spec)
    if rows is not None and rows.ndim != 2:
        raise DataError(f"data file '{spec.data.path}': '{name}' must be 2-D (examples × units), "
                        f"got shape {rows.shape}", spec.loc("data.path"))
    return rows


def _numeric(arrays: dict, name: str, spec: Spec) -> np.ndarray | None:
    """The array ``name`` of a data file as float64 (None if absent); a DataError for strings,
    dates and other values that are not numbers."""
    if name not in arrays:
        return None
    array = arrays[name]
    if array.dtype.kind not in "biuf":
        raise DataError(f"data file '{spec.data.path}': '{name}' holds {array.dtype.name} values, "
                        "not numbers; store numbers (labels as integers 0, 1, …)",
                        spec.loc("data.path"))
    return np.asarray(array, dtype=float)


def _labels(arrays: dict, name: str, spec: Spec) -> np.ndarray | None:
    """The class labels ``name`` of a data file as int64 (None if absent): whole numbers ≥ 0."""
    labels = _numeric(arrays, name, spec)
    if labels is None:
        return None
    whole = np.isfinite(labels) & (labels == np.round(labels)) & (labels >= 0)
    if labels.ndim != 1 or not whole.all():
        raise DataError(f"data file '{spec.data.path}': '{name}' must be one class number per "
                        "example: whole numbers 0, 1, …", spec.loc("data.path"))
    return labels.astype(np.int64)


def _ratings(spec: Spec, layer: str) -> Dataset:
    """Ratings as sparse rows of one-hot groups: the training rows, and the test ratings by row."""
    d, info = spec.data, spec.model.layers[layer]
    levels = info.categories or info.size
    files = {"train": d.train, "test": d.test} if d.train else {"path": d.path}
    triples = {}
    for key, name in files.items():
        try:
            triples[key] = read_triples(locate(name, Path(spec.file).parent), name)
        except (FileNotFoundError, RatingsError) as exc:
            raise DataError(str(exc), spec.loc(f"data.{key}")) from None
        except OSError as exc:
            raise DataError(f"cannot read ratings file '{name}': {exc.strerror or exc}",
                            spec.loc(f"data.{key}")) from None
    one_file = "path" in triples
    problem = repeated_pair(np.concatenate(list(triples.values())),
                            "in the ratings file" if one_file else "in the training and test files")
    if problem:
        raise DataError(problem, spec.loc("data.path" if one_file else "data.train"))
    if "path" in triples:
        triples["train"], triples["test"] = split_triples(triples.pop("path"), d.test_fraction,
                                                          d.seed)
    try:
        ratings = index_ratings(triples["train"], triples["test"], levels, d.orientation)
    except RatingsError as exc:
        raise DataError(str(exc), spec.loc(f"model.layers.{layer}.categories")) from None
    _check_width(spec, layer, ratings.groups * levels, ratings, "ratings")
    if d.implicit:
        _check_width(spec, d.implicit, ratings.groups, ratings, "implicit feedback")
    return Dataset("ratings", layer, ratings.one_hot(ratings.train), ratings.one_hot(ratings.test),
                   ratings=ratings, implicit_layer=d.implicit)


def _check_width(spec: Spec, layer: str, width: int, ratings: Ratings, what: str) -> None:
    size = spec.model.layers[layer].size
    if size != width:
        rows, groups = ("users", "items") if ratings.orientation == "users" else ("items", "users")
        per = (f"{ratings.groups} {groups} × {ratings.levels} ratings" if what == "ratings"
               else f"{ratings.groups} {groups}")
        raise DataError(f"the {what} need layer '{layer}' of size {width} ({per}; "
                        f"{ratings.rows} {rows} are the examples), but it has size {size}",
                        spec.loc(f"model.layers.{layer}.size"))


def _npz_arrays(loaded) -> dict:
    with loaded:
        arrays = {k: loaded[k] for k in loaded.files}
    for name, value in arrays.items():      # NumPy hands back the raw bytes of a member that is
        if not isinstance(value, np.ndarray):   # no .npy
            raise zipfile.BadZipFile(f"its member '{name}' is not a NumPy array")
    return arrays


def _subset(spec: Spec, ds: Dataset) -> Dataset:
    d, out = spec.data, ds
    for split, size in (("train", d.train_size), ("test", d.test_size)):
        if size is None:
            continue
        have = len(getattr(ds, split))
        if size > have:
            raise DataError(f"data.{split}_size is {size} but the {split} set has only {have} examples",
                            spec.loc(f"data.{split}_size"))
        labels = getattr(ds, f"{split}_labels")
        out = _replace(out, **{split: getattr(ds, split)[:size],
                               f"{split}_labels": None if labels is None else labels[:size]})
    return out


def _replace(ds: Dataset, **changes) -> Dataset:
    return Dataset(**{**ds.__dict__, **changes})


def _binarize(spec: Spec, ds: Dataset) -> Dataset:
    how = spec.data.binarize if spec.data.source in ("mnist", "mnist-embedded", "file") else "none"
    if how == "none" or (isinstance(how, float) and spec.data.source != "file"):
        return ds                       # nothing to do, or thresholded as the images were decoded
    if how in ("sample", "resample"):   # drawn once, as in Salakhutdinov & Murray (2008): a fixed binary set
        gen = np.random.default_rng([spec.seed, 0xB1])
        train = (gen.random(ds.train.shape) < ds.train).astype(float)
        test = (gen.random(ds.test.shape) < ds.test).astype(float)
        if how == "resample":           # the training intensities stay; each epoch draws its own binary set
            return _replace(ds, test=test, resample=True)
        return _replace(ds, train=train, test=test)
    return _replace(ds, train=(ds.train > how).astype(ds.train.dtype),
                    test=(ds.test > how).astype(ds.test.dtype))


SPREAD_FLOOR = 0.1      # intensity units: MNIST's border pixels barely vary and must not be
                        # blown up


def _standardize(spec: Spec, ds: Dataset) -> Dataset:
    """x → (x − mean) / max(spread, 0.1), mean and spread per unit from the training set."""
    if not getattr(spec.data, "standardize", False):
        return ds
    mean, spread = ds.train.mean(axis=0), np.maximum(ds.train.std(axis=0), SPREAD_FLOOR)
    return _replace(ds, train=(ds.train - mean) / spread, test=(ds.test - mean) / spread,
                    scale=(mean, spread))


def check_fits(spec: Spec, ds: Dataset) -> None:
    """The data's width, finiteness and range must suit the layer it is clamped to (ratings are
    checked as they are read)."""
    if ds.ratings is not None:
        if len(ds.ratings.train) == 0:
            raise DataError("the training set holds no ratings", spec.loc("data"))
        return
    layer = spec.model.layers[ds.layer]
    for split in ("train", "test"):
        x = getattr(ds, split)
        if x.shape[1] != layer.size:
            raise DataError(f"the {ds.name} data has {x.shape[1]} values per example but layer "
                            f"'{ds.layer}' has size {layer.size}", spec.loc(f"model.layers.{ds.layer}.size"))
        if not np.isfinite(x).all():
            raise DataError(f"the {split} data contains NaN or infinite values", spec.loc("data"))
        problem = make_units(layer.units, layer.size, layer.categories).check_data(x) if x.size else None
        if problem:
            raise DataError(f"the {split} data does not suit layer '{ds.layer}': {problem}", spec.loc("data"))
    if len(ds.train) == 0:
        raise DataError("the training set is empty", spec.loc("data"))
    if ds.label_layer:
        _check_labels(spec, ds)


def _check_labels(spec: Spec, ds: Dataset) -> None:
    where = spec.loc("data.labels")
    for split in ("train", "test"):
        labels = getattr(ds, f"{split}_labels")
        if labels is None or len(labels) != len(getattr(ds, split)):
            raise DataError(f"data.labels: the {ds.name} data has no labels for its {split} set", where)
        if len(labels) and (labels.min() < 0 or labels.max() >= ds.classes or not np.all(labels == np.round(labels))):
            raise DataError(f"data.labels: the {split} labels must be integers in [0, {ds.classes}) for layer "
                            f"'{ds.label_layer}' of size {ds.classes}", where)


__all__ = ["Dataset", "Ratings", "SparseRows", "load_data", "check_fits", "bars_and_stripes",
           "gaussian_mixture", "is_sparse"]
