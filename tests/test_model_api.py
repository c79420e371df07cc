"""The Python API refuses plain mistakes with a ValueError or TypeError that names them, and a
chain started from given states starts there."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ebmlang
from ebmlang.backend import to_numpy

SPECS = Path(__file__).resolve().parents[1] / "specs"


@pytest.fixture(scope="module")
def rbm():
    return ebmlang.compile_spec(ebmlang.load_spec(SPECS / "rbm-bars-and-stripes.yaml"))


def test_a_chain_started_from_data_starts_there():
    """The layers a start leaves out are drawn from it first: with no sweep the start comes back
    as it was, and h follows p(h | start) (before, the first block overwrote v unread)."""
    rbm = ebmlang.compile_spec(ebmlang.load_spec(SPECS / "rbm-bars-and-stripes.yaml"))
    rbm.params["weight.v.h"] = rbm.xp.asarray(np.random.default_rng(0).normal(0, 3, (9, 16)))
    v = (np.random.default_rng(1).random((4000, 9)) < 0.5).astype(float)
    out = rbm.sample(4000, sweeps=0, seed=2, start={"v": v})
    np.testing.assert_array_equal(to_numpy(out["v"]), v)
    p_h = to_numpy(rbm.conditional("h", {"v": v}).prob)
    assert np.abs(to_numpy(out["h"]).mean(axis=0) - p_h.mean(axis=0)).max() < 0.04
    zeros, ones = (rbm.sample(50, sweeps=1, seed=3, start={"v": np.full((50, 9), x)})
                   for x in (0.0, 1.0))
    assert not np.array_equal(to_numpy(zeros["h"]), to_numpy(ones["h"]))


@pytest.mark.parametrize("call, says", [
    (lambda m: m.energy({"x": np.zeros((2, 9))}), "unknown layer 'x'; the layers are v, h"),
    (lambda m: m.log_likelihood({"x": np.zeros((2, 9))}), "unknown layer 'x'"),
    (lambda m: m.free_energy({"v": np.zeros((2, 8))}),
     r"layer 'v' takes \(batch, 9\) arrays, got shape \(2, 8\)"),
    (lambda m: m.free_energy({"v": np.zeros(9)}), r"got shape \(9,\)"),
    (lambda m: m.free_energy({"v": np.zeros((2, 9))}, sum_out=["x"]), "unknown layer 'x'"),
    (lambda m: m.energy({"v": np.zeros((1, 9)), "h": np.zeros((3, 16))}),
     "differ in batch size: v 1, h 3"),
    (lambda m: m.conditional("q", {"v": np.zeros((2, 9))}), "unknown layer 'q'"),
    (lambda m: m.sample(2, clamp={"v": np.full((2, 9), np.nan)}), "NaN or infinite"),
    (lambda m: m.sample(4, clamp={"v": np.zeros((1, 9))}), "must hold 4 rows"),
    (lambda m: m.sample(0), "count must be ≥ 1"),
    (lambda m: m.sample(2, sweeps=-1), "sweeps must be ≥ 0"),
    (lambda m: m.sample(2, seed=-1), "seed must be ≥ 0"),
    (lambda m: m.log_likelihood({}), "log_likelihood needs examples of a layer"),
    (lambda m: m.log_likelihood({"v": np.zeros((0, 9))}), r"the examples are empty \(0 rows\)"),
    (lambda m: m.log_likelihood({"v": np.zeros((2, 9))}, log_z=float("nan")),
     "log_z must be finite"),
    (lambda m: m.log_likelihood({"v": np.full((2, 9), 2.0)}),
     r"layer 'v': binary units take values in \[0, 1\], but the data spans \[2, 2\]"),
    (lambda m: m.energy({"v": np.zeros((2, 9))}),
     "energy .of a full state. needs the state of layer h"),
    (lambda m: m.conditional("v", {"v": np.zeros((2, 9))}),
     "the conditional of layer 'v' needs the state of layer h"),
    (lambda m: m.free_energy({"v": np.zeros((2, 9))}, sum_out=["h", "h"]),
     "names layer h more than once"),
    (lambda m: m.free_energy({"v": np.zeros((2, 9)), "h": np.zeros((2, 16))}, sum_out="v"),
     "layer v is both given and summed out"),
    (lambda m: m.free_energy({"v": np.zeros((2, 9))}, sum_out=[]), "needs the state of layer h"),
    (lambda m: m.reconstruct({}), "reconstruct needs examples of a layer"),
    (lambda m: m.reverse_ais({}, steps=5), "reverse_ais needs examples of one layer"),
    (lambda m: m.ais_log_partition(runs=4, steps=5, data={"v": np.zeros((0, 9))}), "0 rows"),
    (lambda m: m.load_parameters({**m.parameters(), "weight.v.h": np.zeros((9, 15)),
                                  "bias.v": np.full(9, np.nan)}),
     r"bias.v holds NaN or infinite values; "
     r"weight.v.h has shape \(9, 15\), the model's is \(9, 16\)"),
    (lambda m: m.load_parameters({}), "bias.v is missing"),
    (lambda m: m.ais_log_partition(runs=0, steps=5), "runs ≥ 2"),
    (lambda m: m.ais_log_partition(runs=4, steps=-5), "steps ≥ 1"),
    (lambda m: m.ais_log_partition(runs=4, steps=5, spacing="foo"), "salakhutdinov or linear"),
    (lambda m: m.reverse_ais({"v": np.zeros((2, 9))}, steps=5, base_data={"h": np.zeros((2, 16))}),
     "same layer as data"),
])
def test_a_plain_mistake_is_a_value_error_that_names_it(rbm, call, says):
    with pytest.raises(ValueError, match=says):
        call(rbm)


@pytest.mark.parametrize("call, says", [
    (lambda m: m.energy(np.zeros((2, 9))), r"state is a dict \{layer: \(batch, size\) array\}"),
    (lambda m: m.conditional(["h"], {"v": np.zeros((2, 9))}), "a layer is named by a string"),
    (lambda m: m.sample(np.int64(2), sweeps=2.5), "sweeps is a whole number, got float 2.5"),
    (lambda m: m.sample(2, seed="1"), "seed is a whole number, got str"),
    (lambda m: m.sample(True), "count is a whole number, got bool"),
    (lambda m: m.free_energy({"v": np.zeros((2, 9), complex)}), "takes real numbers"),
    (lambda m: m.load_parameters("runs/x/model.npz"), "load_parameters takes a dict"),
])
def test_an_argument_of_the_wrong_type_is_a_type_error_that_names_it(rbm, call, says):
    with pytest.raises(TypeError, match=says):
        call(rbm)


def test_a_failed_load_changes_nothing_and_a_load_or_snapshot_is_a_copy(rbm):
    before = rbm.parameters()
    with pytest.raises(ValueError):
        rbm.load_parameters({**before, "bias.v": before["bias.v"] + 5, "bias.h": np.zeros(3)})
    np.testing.assert_array_equal(to_numpy(rbm.params["bias.v"]), before["bias.v"])
    snapshot = rbm.parameters()
    rbm.params["bias.v"] += 1                           # as training does, in place
    np.testing.assert_array_equal(snapshot["bias.v"], before["bias.v"])
    given = {k: v.astype(rbm.program.dtype) for k, v in before.items()}
    rbm.load_parameters(given)
    rbm.params["bias.v"] += 1
    np.testing.assert_array_equal(given["bias.v"], before["bias.v"].astype(rbm.program.dtype))
    rbm.load_parameters(before)


def test_a_dbn_layer_has_no_energy_conditional():
    dbn = ebmlang.compile_spec(ebmlang.load_spec(SPECS / "dbn-bars-and-stripes.yaml"))
    with pytest.raises(ValueError, match="layer 'h1' has directed couplings"):
        dbn.conditional("h1", {"v": np.zeros((2, dbn.layers["v"].size))})


def test_compiling_wants_a_spec_and_the_data_mean_its_biases_need():
    with pytest.raises(TypeError, match="expected a Spec, got str"):
        ebmlang.compile_spec(str(SPECS / "rbm-mnist-small.yaml"))
    spec = ebmlang.load_spec(SPECS / "rbm-mnist-small.yaml")
    needs = r"bias: data_rates.*data_mean=\{'v': array of shape \(784,\)\}"
    with pytest.raises(ValueError, match=needs):
        ebmlang.compile_spec(spec)
    with pytest.raises(ValueError, match=r"got shape \(4,\)"):
        ebmlang.compile_spec(spec, data_mean={"v": np.full(4, 0.5)})


def test_overrides_are_strings_or_a_mapping():
    path = SPECS / "rbm-bars-and-stripes.yaml"
    for given in ("train.epochs=7", ["train.epochs=7"], {"train.epochs": 7},
                  {"train.epochs": np.int64(7)}):
        assert ebmlang.load_spec(path, overrides=given).train.epochs == 7
    with pytest.raises(TypeError, match="'KEY.PATH=VALUE' strings or a mapping"):
        ebmlang.load_spec(path, overrides=[("train.epochs", 7)])


def test_compiling_refuses_a_backend_or_data_mean_that_cannot_be():
    spec = ebmlang.load_spec(SPECS / "rbm-mnist-small.yaml")
    with pytest.raises(ValueError, match="backend is numpy, cupy or auto, got 'torch'"):
        ebmlang.Model.from_spec(spec, backend="torch", data_mean={"v": np.full(784, 0.5)})
    with pytest.raises(ValueError, match="data_mean of layer 'v' holds NaN"):
        ebmlang.compile_spec(spec, data_mean={"v": np.full(784, np.nan)})
    with pytest.raises(ValueError, match=r"data_mean of layer 'v': binary units take values in"):
        ebmlang.compile_spec(spec, data_mean={"v": np.full(784, 1.5)})


def test_the_run_and_data_entry_points_name_a_wrong_argument(tmp_path):
    spec = ebmlang.load_spec(SPECS / "ising-2d.yaml")
    with pytest.raises(TypeError, match="run takes a Spec, got str"):
        ebmlang.run(str(SPECS / "ising-2d.yaml"))
    with pytest.raises(TypeError, match="parse_spec takes the YAML text, got dict"):
        ebmlang.parse_spec({"name": "x"})
    with pytest.raises(TypeError, match="overrides are 'KEY.PATH=VALUE' strings .* not int 3"):
        ebmlang.load_spec(SPECS / "ising-2d.yaml", overrides=3)
    with pytest.raises(ValueError, match="spec ising-2d has no data section"):
        ebmlang.load_data(spec)
    with pytest.raises(TypeError, match="load_data takes a Spec"):
        ebmlang.load_data(str(SPECS / "ising-2d.yaml"))
    with pytest.raises(ebmlang.EbmError, match="has no model.npz to resume from"):
        ebmlang.run(spec, out=tmp_path / "none", resume=True)
    assert not (tmp_path / "none").exists()


def test_the_methods_take_the_backend_s_own_arrays(backend):
    """What the runner hands them on a GPU: states drawn on the device (a CuPy array refuses the
    implicit copy to the host that np.asarray would make)."""
    spec = ebmlang.load_spec(SPECS / "rbm-bars-and-stripes.yaml", [f"backend={backend}"])
    model = ebmlang.compile_spec(spec)
    state = model.sample(8, sweeps=2)
    prob = model.conditional("h", {"v": state["v"]}).prob
    assert prob.shape == (8, 16) and type(prob) is type(state["v"])
    assert model.free_energy({"v": state["v"]}).shape == (8,)
    assert np.allclose(to_numpy(model.energy(state)), to_numpy(model.energy(
        {k: to_numpy(v) for k, v in state.items()})))
    with pytest.raises(ValueError, match="binary units take values in"):
        model.free_energy({"v": 2 * state["v"] + 1})
