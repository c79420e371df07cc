"""The lattice stencil equals the dense product with the lattice's adjacency matrix."""
from __future__ import annotations

import numpy as np
import pytest

from ebmlang import compile_spec, parse_spec
from ebmlang.backend import get_namespace, to_numpy
from ebmlang.graph.builders import lateral_mask, lattice
from ebmlang.kernels.stencil import neighbour_sum


@pytest.mark.parametrize("dims", [(5,), (2,), (1, 4), (4, 4), (3, 5), (2, 3), (3, 3, 2), (6, 2, 5)])
@pytest.mark.parametrize("periodic", [True, False])
def test_neighbour_sum_is_the_adjacency_product(backend, dims, periodic):
    xp = get_namespace(backend)
    n = int(np.prod(dims))
    x = np.random.default_rng(n).standard_normal((3, n))
    adjacency = lateral_mask(lattice(dims, periodic), n).astype(float)
    np.testing.assert_allclose(to_numpy(neighbour_sum(xp.asarray(x), dims, periodic)), x @ adjacency, atol=1e-12)


def test_fixed_uniform_lattice_is_lowered_to_a_scalar_stencil():
    spec = parse_spec("name: ising\nmodel:\n  layers:\n    s: {size: 4096, units: spin}\n  couplings:\n"
                      "    - {between: [s, s], connectivity: {lattice: {dims: [64, 64]}},"
                      " init: {constant: {value: 1.0}}, trainable: false}\n", "ising.yaml")
    model = compile_spec(spec)
    (c,) = model.program.couplings
    assert c.stencil == ((64, 64), True) and model.params["weight.s.s"].shape == ()
    assert [len(b[0].units) for b in model.program.schedule] == [2048, 2048]       # checkerboard
    x = np.ones((1, 4096))
    assert float(model.energy({"s": x})[0]) == pytest.approx(-2 * 4096)           # −J per bond, 2N bonds
