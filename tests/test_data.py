"""Data: the IDX reader, fetch with checksums, generated sets, files, binarisation, bad data."""
from __future__ import annotations

import gzip
import shutil
import zipfile

import numpy as np
import pytest

from ebmlang import load_data, parse_spec
from ebmlang.data import bars_and_stripes
from ebmlang.data.mnist import SHA256, IdxError, fetch, load_mnist, read_idx
from ebmlang.errors import DataError


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.mark.parametrize("compressed", [True, False])
def test_idx_round_trip(tmp_path, compressed):
    array = np.random.default_rng(0).integers(0, 256, (5, 3, 4))
    path = tmp_path / ("x.idx.gz" if compressed else "x.idx")
    path.write_bytes(gzip.compress(_idx_bytes(array)) if compressed else _idx_bytes(array))
    np.testing.assert_array_equal(read_idx(path), array)


def test_idx_rejects_bad_magic_and_truncation(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(IdxError, match="bad magic"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(_idx_bytes(np.zeros((4, 4)))[:-3])
    with pytest.raises(IdxError, match="header promises"):
        read_idx(tmp_path / "short")


def test_full_mnist_reads_and_matches_its_checksums(mnist_dir):
    m = load_mnist(str(mnist_dir))
    assert m["train_images"].shape == (60000, 784) and m["test_images"].shape == (10000, 784)
    assert m["train_labels"].max() == 9 and m["train_images"].dtype == np.uint8


def test_fetch_verifies_content_checksums(mnist_dir, tmp_path):
    mirror = tmp_path / "mirror"
    shutil.copytree(mnist_dir, mirror)
    paths = fetch(tmp_path / "dest", mirror.as_uri())
    assert sorted(p.name for p in paths) == sorted(s + ".gz" for s in SHA256)
    (mirror / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"corrupt"))
    (tmp_path / "dest" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(IdxError, match="checksum mismatch"):
        fetch(tmp_path / "dest", mirror.as_uri())


def test_bars_and_stripes_are_all_distinct_bars_or_stripes():
    for side in (2, 3, 4):
        patterns = bars_and_stripes(side).reshape(-1, side, side)
        assert len(patterns) == 2 * 2 ** side - 2
        assert len({p.tobytes() for p in patterns}) == len(patterns)
        for p in patterns:
            assert (p == p[:1]).all() or (p == p[:, :1]).all()


def _spec(data: str, size: int = 784, units: str = "binary") -> str:
    return (f"name: d\ndata: {data}\nmodel:\n  layers:\n    v: {{size: {size}, units: {units}}}\n"
            "    h: {size: 4, units: binary}\n  couplings:\n    - {between: [v, h]}\n")


def test_embedded_mnist_ships_with_the_package():
    ds = load_data(parse_spec(_spec("{source: mnist-embedded, binarize: 0.5}"), "s.yaml"))
    assert ds.train.shape == (5000, 784) and ds.test.shape == (1000, 784)
    assert set(np.unique(ds.train)) == {0.0, 1.0} and ds.shape == (28, 28)


def test_binarize_by_sampling_keeps_the_mean():
    grey = load_data(parse_spec(_spec("{source: mnist-embedded, train_size: 2000}"), "s.yaml"))
    sampled = load_data(parse_spec(_spec("{source: mnist-embedded, binarize: sample, train_size: 2000}"), "s.yaml"))
    assert set(np.unique(sampled.train)) == {0.0, 1.0}
    n = sampled.train.size
    assert abs(sampled.train.mean() - grey.train.mean()) < 5 * 0.5 / np.sqrt(n)


def test_resampled_binarisation_draws_each_epoch_afresh_and_the_test_set_once():
    """`binarize: resample` keeps the training intensities; each epoch's draw is its own (and
    the same again on resume), the test set is drawn once, as with `sample`."""
    from ebmlang import compile_spec
    from ebmlang.train.stages import plan_stages, sampled_inputs
    text = _spec("{source: mnist-embedded, binarize: resample, train_size: 500}") + "train: {epochs: 1}\n"
    spec = parse_spec(text, "s.yaml")
    ds = load_data(spec)
    fixed = load_data(parse_spec(text.replace("resample", "sample"), "s.yaml"))
    assert ds.resample and len(np.unique(ds.train)) > 2
    np.testing.assert_array_equal(ds.test, fixed.test)
    model = compile_spec(spec, data_mean={"v": ds.train.mean(axis=0)})
    plan = plan_stages(model.program, spec.stages, ds.layers)[0]
    grey = {"v": ds.train}
    first, again = (sampled_inputs(plan, grey, spec.seed, 0, ("v",))["v"] for _ in range(2))
    second = sampled_inputs(plan, grey, spec.seed, 1, ("v",))["v"]
    assert set(np.unique(first)) == {0.0, 1.0}
    np.testing.assert_array_equal(first, again)
    assert (first != second).mean() > 0.01
    assert abs(first.mean() - ds.train.mean()) < 5 * 0.5 / np.sqrt(first.size)


def test_user_npz_and_npy_files(tmp_path):
    x = np.random.default_rng(1).random((50, 6))
    np.savez(tmp_path / "d.npz", train=x[:40], test=x[40:])
    np.save(tmp_path / "d.npy", x)
    ds = load_data(parse_spec(_spec("{source: file, path: d.npz}", 6), str(tmp_path / "s.yaml")))
    assert ds.train.shape == (40, 6) and ds.test.shape == (10, 6)
    ds = load_data(parse_spec(_spec("{source: file, path: d.npy, test_fraction: 0.2}", 6), str(tmp_path / "s.yaml")))
    assert ds.train.shape == (40, 6) and ds.test.shape == (10, 6)


@pytest.mark.parametrize("array,message", [
    (np.full((10, 6), np.nan), "NaN"),
    (np.full((10, 6), 2.0), "binary units take values in \\[0, 1\\]"),
    (np.zeros((10, 5)), "has 5 values per example but layer 'v' has size 6"),
])
def test_bad_data_is_a_located_error(tmp_path, array, message):
    np.save(tmp_path / "d.npy", array)
    with pytest.raises(DataError, match=message) as info:
        load_data(parse_spec(_spec("{source: file, path: d.npy}", 6), str(tmp_path / "s.yaml")))
    assert str(info.value).startswith(str(tmp_path / "s.yaml") + ":")


def test_an_npz_member_that_is_no_array_is_a_damaged_file(tmp_path):
    with zipfile.ZipFile(tmp_path / "d.npz", "w") as z:
        z.writestr("train.npy", b"junk")
    with pytest.raises(DataError, match="damaged \\(its member 'train' is not a NumPy array\\)"):
        load_data(parse_spec(_spec("{source: file, path: d.npz}", 6), str(tmp_path / "s.yaml")))


def test_labels_follow_their_rows_when_the_test_set_is_split_off(tmp_path):
    x = np.random.default_rng(1).random((50, 6))
    np.savez(tmp_path / "d.npz", train=x, train_labels=np.arange(50) % 3)
    ds = load_data(parse_spec(_spec("{source: file, path: d.npz, test_fraction: 0.2}", 6),
                              str(tmp_path / "s.yaml")))
    np.testing.assert_array_equal(ds.train_labels, np.arange(40) % 3)
    np.testing.assert_array_equal(ds.test_labels, np.arange(40, 50) % 3)
    assert ds.train_labels.dtype.kind == "i"


@pytest.mark.parametrize("arrays,message", [
    ({"train": np.array([["a", "b"]] * 10)}, "'train' holds str.* values, not numbers"),
    ({"train": np.zeros((10, 6)), "train_labels": np.array(["cat"] * 10)},
     "'train_labels' holds str.* values"),
    ({"train": np.zeros((10, 6)), "train_labels": np.full(10, 0.5)}, "whole numbers 0, 1"),
    ({"train": np.zeros((10, 6)), "train_labels": np.zeros(9)}, "9 labels for 10 examples"),
    ({"train": np.zeros((10, 6)), "test": np.zeros(6)}, "'test' must be 2-D"),
    ({"train": np.zeros((10, 6)), "test": np.zeros((2, 6)).astype("datetime64[s]")},
     "'test' holds datetime64"),
    ({"train": np.zeros((10, 0))}, "has 0 values per example but layer 'v' has size 6"),
])
def test_a_data_file_of_other_values_than_numbers_is_a_located_error(tmp_path, arrays, message):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError, match=message) as info:
        load_data(parse_spec(_spec("{source: file, path: d.npz}", 6), str(tmp_path / "s.yaml")))
    assert str(info.value).startswith(str(tmp_path / "s.yaml") + ":")


def test_softmax_data_must_be_one_hot(tmp_path):
    np.save(tmp_path / "d.npy", np.ones((10, 6)) / 2)
    with pytest.raises(DataError, match="must sum to 1"):
        load_data(parse_spec(_spec("{source: file, path: d.npy}", 6, "softmax, categories: 3"),
                             str(tmp_path / "s.yaml")))
