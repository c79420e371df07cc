"""The CUDA kernels (counter-based draws, the lattice sweep) against their NumPy references.

Three levels, so that most of it runs where no GPU is:
- always: Philox4x32-10 against Random123's known answers, the references' distributions, and the
  lattice reference's probabilities against the compiled model's conditionals;
- with nvcc, the CUDA compiler (no GPU needed): the sources compile for Hopper (sm_90), and
  nvcc's host build of their __host__ __device__ functions, the code each GPU thread runs,
  computes what the references compute;
- with CuPy and a GPU (marked gpu): the kernels themselves against the references.

Draws compare exactly, except a Bernoulli draw or category whose uniform lies within rounding of
its threshold (the GPU's expf and NumPy's exp may differ in the last bit, and nvcc fuses a·b + c).
"""
from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from ebmlang import compile_spec, parse_spec
from ebmlang.backend import draws, to_numpy
from ebmlang.backend.philox import counters, philox4x32
from ebmlang.kernels import conditional
from ebmlang.kernels.lattice_gpu import (BUILDS, SOURCE as LATTICE, SOURCES as LATTICE_SOURCES,
                                         high_bits, lattice_plan, reference_half_sweep,
                                         reference_probabilities, reference_uniforms, unit_values)
from nvcc import host_program, needs_nvcc, ptx, run

TIE = {np.float32: 1e-5, np.float64: 1e-12}
KEYS = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))

# Random123's kat_vectors for philox4x32 with 10 rounds: (counter, key, output)
KNOWN = [((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
         ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
         ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
          (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]


@pytest.mark.parametrize("counter, key, expected", KNOWN)
def test_philox_matches_the_known_answers(counter, key, expected):
    out = philox4x32(np.array(counter, dtype=np.uint32)[:, None], key)
    assert tuple(int(w) for w in out[:, 0]) == expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reference_draws_have_their_distributions(dtype):
    """Moments and frequencies within 6 standard errors over 200,000 draws (a fixed key: the
    bounds are statistical, not pinned numbers)."""
    n, words = 200_000, (12345, 678)
    u = draws.reference_uniform(n, dtype, words, 3)
    assert u.dtype == dtype and u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 6 * np.sqrt(1 / 12 / n)
    z = draws.reference_normal(n, dtype, words, 4)
    assert abs(z.mean()) < 6 / np.sqrt(n) and abs(z.var() - 1) < 6 * np.sqrt(2 / n)
    logit = np.linspace(-3, 3, n).astype(dtype)
    x = draws.reference_bernoulli(logit, -1.0, words, 5)
    p = 1 / (1 + np.exp(-logit.astype(float)))
    assert set(np.unique(x)) <= {-1.0, 1.0}
    assert abs(((x + 1) / 2).sum() - p.sum()) < 6 * np.sqrt((p * (1 - p)).sum())
    probs = np.tile(np.array([0.1, 0.6, 0.3], dtype=dtype), (n // 3, 1))
    counts = draws.reference_one_hot(probs, words, 6).sum(axis=0)
    assert np.all(np.abs(counts - probs.sum(axis=0)) < 6 * np.sqrt(n / 3 * probs[0] * (1 - probs[0])))


def test_draws_of_one_element_do_not_depend_on_the_others():
    """Element i's bits are philox((i, draw), key) whatever the array's size: the counters."""
    big = draws.reference_uniform(1000, np.float32, (1, 2), 7)
    assert np.array_equal(big[:10], draws.reference_uniform(10, np.float32, (1, 2), 7))
    assert not np.array_equal(big[:10], draws.reference_uniform(10, np.float32, (1, 2), 8))
    assert np.array_equal(counters([2**32 + 5], 2**33 + 1)[:, 0], [5, 1, 1, 2])


# ---- the counter-based Rng (CuPy's), run on NumPy through the references ---------------------------

def test_counter_based_rng_numbers_draws_by_step_and_index():
    from ebmlang.backend import Rng
    a, b = Rng(np, 5, 6, counter_based=True), Rng(np, 5, 6, counter_based=True)
    first = a.uniform((3, 4), np.float32)
    assert np.array_equal(first, b.uniform((3, 4), np.float32))
    words = (int(a.state[0]), int(a.state[1]))
    assert np.array_equal(first.ravel(), draws.reference_uniform(12, np.float32, words, 0))
    a.advance()
    a.uniform(2, np.float32)
    second = a.normal(5, np.float64)                # draw 1 of step 1
    assert np.array_equal(second, draws.reference_normal(5, np.float64, words, (1 << 32) | 1))
    state, start = a.reserve(4)
    assert start == 2 and a.reserve(1)[1] == 6 and int(state[2]) == 1
    a.restart(5, 6)
    assert np.array_equal(a.uniform((3, 4), np.float32), first)
    assert not np.array_equal(Rng(np, 5, 7, counter_based=True).uniform((3, 4), np.float32), first)


def test_counter_based_draws_sample_the_exact_distribution():
    """Gibbs chains of a small RBM with softmax, spin and binary layers drawn through the
    counter-based path follow the exact distribution of the visible layer (chi-square)."""
    from scipy.stats import chisquare
    from ebmlang.backend import Rng
    from ebmlang.kernels import gibbs_sweep, random_state
    model = compile_spec(parse_spec("""name: mixed
dtype: float64
model:
  layers:
    v: {size: 3, units: spin, bias: {normal: {std: 0.5}}}
    c: {size: 3, units: softmax, categories: 3}
    h: {size: 2, units: binary}
  couplings:
    - {between: [v, h], init: {normal: {std: 1.0}}}
    - {between: [c, h], init: {normal: {std: 1.0}}}
""", "mixed.yaml"))
    rng = Rng(np, 4, counter_based=True)
    state = random_state(model.program, model.params, 20000, rng)
    v = gibbs_sweep(model.program, model.params, state, rng, sweeps=25)["v"]
    states = np.array(list(itertools.product([-1.0, 1.0], repeat=3)))
    p = np.exp(to_numpy(model.log_likelihood({"v": states})))
    counts = np.bincount((v > 0).astype(int) @ [4, 2, 1], minlength=8)
    assert p.sum() == pytest.approx(1.0) and chisquare(counts, 20000 * p).pvalue > 1e-6


# ---- the lattice kernel's reference against the model ------------------------------------------

LATTICES = st.tuples(st.sampled_from([(6,), (2,), (4, 4), (1, 6), (3, 5), (2, 3), (4, 2, 6), (2, 2, 2),
                                      (8,), (3, 8), (2, 2, 8),                # d2 % 8 == 0: segments
                                      (2, 16), (4, 3, 16), (48,), (6, 32), (2, 2, 16)]),   # walks
                     st.booleans(), st.sampled_from(["spin", "binary"]),
                     st.floats(-1.5, 1.5), st.booleans()
                     ).filter(lambda c: not (c[1] and any(d % 2 and d > 2 for d in c[0])))  # bipartite


def lattice_model(dims, periodic, units, coupling, biased, dtype="float64"):
    n = int(np.prod(dims))
    bias = "{normal: {std: 0.5}}" if biased else "{constant: {value: 0.4}}"     # one bias: the table
    spec = parse_spec(f"""name: lattice
dtype: {dtype}
model:
  temperature: 1.7
  layers:
    s: {{size: {n}, units: {units}, bias: {bias}}}
  couplings:
    - {{between: [s, s], connectivity: {{lattice: {{dims: {list(dims)}, periodic: {str(periodic).lower()}}}}},
       init: {{constant: {{value: {coupling}}}}}, trainable: false}}
""", "lattice.yaml")
    return compile_spec(spec)


def random_lattice_states(plan, chains, n, seed):
    up = np.random.default_rng(seed).random((chains, n)) < 0.5
    return np.where(up, 1, plan.low).astype(np.int8)


@settings(max_examples=25, deadline=None)
@given(LATTICES, st.integers(0, 2**16))
def test_lattice_reference_draws_from_the_models_conditionals(lattice, seed):
    """σ(scale (J Σ s_j + b)) of every site is the model's p(s_i = 1 | rest), and a half sweep
    changes exactly the sites of its colour, the schedule's checkerboard piece."""
    dims, periodic, units, coupling, biased = lattice
    model = lattice_model(dims, periodic, units, coupling, biased)
    plan = lattice_plan(model.program)
    assert plan is not None and plan.dims[3 - len(dims):] == tuple(dims)
    n = int(np.prod(dims))
    states = random_lattice_states(plan, 3, n, seed)
    bias = model.params[plan.bias_key]
    prob = reference_probabilities(plan, states, coupling, bias, plan.factor / model.program.temperature)
    cond = conditional(model.program, model.params, {"s": states.astype(float)}, "s")
    np.testing.assert_allclose(prob, cond.prob, rtol=1e-12, atol=1e-15)
    pieces = [set(np.flatnonzero(to_numpy(b[0].mask))) if b[0].mask is not None else set(range(n))
              for b in model.program.schedule]
    for colour in (0, 1):
        u = reference_uniforms(plan, 3, colour, (seed, 1), colour, np.float64)
        drawn = set(np.flatnonzero(~np.isnan(u[0])))
        assert drawn in pieces or (not drawn and n == 1)
        assert np.array_equal(np.isnan(u[0]), np.isnan(u[2]))


def test_lattice_plan_refuses_what_the_kernel_cannot_do():
    assert lattice_plan(lattice_model((3, 3), True, "spin", 1.0, False).program) is None   # odd ring
    assert lattice_plan(lattice_model((3, 3), False, "spin", 1.0, False).program) is not None
    assert lattice_plan(lattice_model((2, 2, 2, 2), False, "spin", 1.0, False).program) is None


def test_lattice_reference_half_sweeps_keep_the_boltzmann_distribution():
    """Chains drawn exactly from p(s) ∝ exp(−E/T) of a 2 × 4 periodic spin lattice stay so
    distributed after a sweep of reference half sweeps (chi-square over the 256 states)."""
    model = lattice_model((2, 4), True, "spin", 0.6, True)
    plan = lattice_plan(model.program)
    states = np.array(list(itertools.product([-1.0, 1.0], repeat=8)))  # first unit most significant
    logp = -to_numpy(model.energy({"s": states})) / model.program.temperature
    p = np.exp(logp - logp.max())
    p /= p.sum()
    chains = 40_000
    pick = np.random.default_rng(0).choice(len(p), size=chains, p=p)
    x = states[pick].astype(np.int8)
    bias, scale = model.params[plan.bias_key], plan.factor / model.program.temperature
    for step in range(2):
        x, _ = reference_half_sweep(plan, x, step % 2, 0.6, bias, scale, (99, 7), step)
    index = ((x > 0).astype(int) @ (1 << np.arange(7, -1, -1)))
    counts = np.bincount(index, minlength=256)
    expected = chains * p
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 255 + 6 * np.sqrt(2 * 255)


# ---- nvcc: the CUDA sources compile, and their host build matches the references ---------------

@pytest.fixture(scope="module")
def host(tmp_path_factory):
    """Host programs built by nvcc from each CUDA source and its driver in tests/cuda/, side by
    side (each nvcc runs on one core)."""
    out = tmp_path_factory.mktemp("cuda")
    builds = {"draws": ("draws.cu",), "lattice": LATTICE_SOURCES}
    with ThreadPoolExecutor() as pool:
        done = {name: pool.submit(host_program, sources, out, name)
                for name, sources in builds.items()}
        return {name: future.result() for name, future in done.items()}


@needs_nvcc
def test_the_sources_compile_for_hopper(tmp_path):
    """What NVRTC compiles on the GPU machine, nvcc compiles here to PTX for sm_90."""
    for name, sources in (("draws", ("draws.cu",)), ("lattice", LATTICE_SOURCES)):
        text = ptx(sources, tmp_path, name)
        for suffix in ("f32", "f64"):
            for kernel in (("lattice_half_sweep", "lattice_walk") if name == "lattice" else ("bernoulli",)):
                assert f".entry {kernel}_{suffix}(" in text


def test_every_cuda_source_ships_with_the_package():
    """A .cu file missing from pyproject's package-data would be absent from an installed wheel:
    NVRTC would then fail on the GPU machine, far from the cause."""
    import fnmatch
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")
    root = Path(__file__).resolve().parents[1]
    shipped = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    sources = sorted((root / "ebmlang").rglob("cuda/*.cu*"))
    assert sources
    for source in sources:
        package = ".".join(source.parent.parent.relative_to(root).parts)
        name = source.relative_to(source.parent.parent).as_posix()
        assert any(fnmatch.fnmatch(name, pattern) for pattern in shipped.get(package, ())), source


def _dtype_name(dtype):
    return "f32" if dtype == np.float32 else "f64"


@needs_nvcc
@settings(max_examples=10, deadline=None)
@given(KEYS, st.integers(0, 2**40), st.sampled_from([np.float32, np.float64]))
def test_host_build_of_the_draws_matches_the_references(host, key, draw, dtype):
    n, d = 64, _dtype_name(dtype)
    words = np.array(run(host["draws"], "philox", d, n, *key, draw), dtype=np.uint64).reshape(n, 4)
    assert np.array_equal(words.T, philox4x32(counters(np.arange(n), draw), key))
    u = np.array(run(host["draws"], "uniform", d, n, *key, draw), dtype=float)
    assert np.array_equal(u, draws.reference_uniform(n, dtype, key, draw))
    z = np.array(run(host["draws"], "normal", d, n, *key, draw), dtype=float)
    np.testing.assert_allclose(z, draws.reference_normal(n, dtype, key, draw),
                               rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)
    logit = np.linspace(-4, 4, n).astype(dtype)
    x = np.array(run(host["draws"], "bernoulli", d, n, *key, draw, -1,
                      stdin="\n".join(map(repr, logit.tolist()))), dtype=float)
    ref = draws.reference_bernoulli(logit, -1.0, key, draw)
    tie = np.abs(draws.reference_uniform(n, dtype, key, draw) - 1 / (1 + np.exp(-logit))) < TIE[dtype]
    assert np.all((x == ref) | tie)
    probs = np.random.default_rng(draw % 1000).dirichlet(np.ones(5), size=n).astype(dtype)
    got = np.array(run(host["draws"], "category", d, n, *key, draw, 5,
                        stdin="\n".join(map(repr, probs.ravel().tolist()))), dtype=int)
    assert np.array_equal(got, draws.reference_one_hot(probs, key, draw).argmax(axis=-1))


@needs_nvcc
@settings(max_examples=60, deadline=None)      # 16 shapes × both colours × shared bias or not
@given(LATTICES, st.integers(0, 2**16), st.sampled_from([np.float32, np.float64]),
       st.integers(0, 1), st.integers(1, 3), st.sampled_from([0, 1, 2, 5, 16]))
# every axis open; a pair, wrapped; one segment, both ends wrapped; pairs (m, m+2) and a tail;
# pairs (m, m+2), (m, m+3), open and wrapped; walks of bands of 2 and 3 rows, open and wrapped,
# a plane of one row and one of 2, per-site biases and the table
@example(((2, 2, 8), False, "spin", 0.7, True), 1, np.float64, 0, 1, 0)
@example(((4, 2, 16), True, "binary", -1.2, False), 2, np.float32, 1, 1, 0)
@example(((8,), True, "spin", 1.1, True), 3, np.float64, 1, 1, 0)
@example(((2, 40), True, "spin", 0.9, False), 4, np.float32, 0, 2, 0)
@example(((2, 72), True, "spin", 0.9, False), 5, np.float32, 1, 2, 0)
@example(((2, 48), False, "spin", 0.9, True), 6, np.float64, 0, 2, 0)
@example(((2, 2, 32), True, "binary", 0.8, False), 7, np.float32, 1, 1, 0)
@example(((2, 64), True, "spin", 0.9, False), 8, np.float32, 1, 3, 0)
@example(((7, 32), False, "spin", 1.3, False), 9, np.float32, 0, 1, 2)
@example(((6, 48), True, "spin", -0.7, True), 10, np.float64, 1, 1, 3)
@example(((4, 3, 16), False, "binary", 0.9, True), 11, np.float32, 1, 1, 2)
@example(((4, 2, 32), True, "spin", 1.1, False), 12, np.float64, 0, 1, 1)
@example(((1, 64), True, "binary", 0.6, False), 13, np.float32, 1, 1, 16)
def test_host_build_of_the_lattice_kernel_matches_the_reference(host, lattice, seed, dtype, colour,
                                                                stride, band):
    """Every thread of one launch, run on the CPU, gives the reference's states, whichever quads
    a thread takes: every ``stride``-th of a row, two at once (lattice_row_quads), or, where d2
    is a multiple of 16 and ``band`` > 0, a chunk of ``band`` rows (lattice_walk)."""
    dims, periodic, units, coupling, biased = lattice
    model = lattice_model(dims, periodic, units, coupling, biased, np.dtype(dtype).name)
    plan = lattice_plan(model.program)
    n, chains = int(np.prod(dims)), 3
    states = random_lattice_states(plan, chains, n, seed)
    bias = np.asarray(model.params[plan.bias_key], dtype=dtype)
    shared = not biased
    scale, words, step = dtype(plan.factor / 1.7), (seed, 11), 2 * seed + colour
    stdin = "\n".join(map(str, high_bits(states).ravel().tolist()
                           + (bias[:1] if shared else bias).tolist()))
    got = run(host["lattice"], _dtype_name(dtype), chains, *plan.dims, int(periodic), colour,
               repr(float(dtype(coupling))), repr(float(scale)), plan.low, step, *words, int(not shared),
               stride, band, stdin=stdin)
    got = unit_values(np.array(got, dtype=np.int8).reshape(chains, n), plan.low, np.int8)
    ref, margin = reference_half_sweep(plan, states, colour, dtype(coupling), bias, scale, words, step)
    assert np.all((got == ref) | (margin < TIE[dtype]))


# ---- the kernels themselves, on a GPU -----------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_draws_match_the_references(cp, dtype):
    """The kernels read (k0, k1, step) from the device: draw 5 of step 3 is counter (3 << 32) | 5."""
    key, n = (2024, 11), 10_000
    state, draw = cp.asarray(np.array([*key, 3], dtype=np.uint32)), 5
    counter = (3 << 32) | draw
    assert np.array_equal(to_numpy(draws.uniform(cp, (n,), dtype, state, draw)),
                          draws.reference_uniform(n, dtype, key, counter))
    np.testing.assert_allclose(to_numpy(draws.normal(cp, (n,), dtype, state, draw)),
                               draws.reference_normal(n, dtype, key, counter), rtol=1e-5, atol=1e-5)
    mean, std = np.linspace(-1, 1, n).astype(dtype), np.full(n, 0.5, dtype=dtype)
    np.testing.assert_allclose(to_numpy(draws.gaussian(cp.asarray(mean), cp.asarray(std), state, draw)),
                               mean + std * draws.reference_normal(n, dtype, key, counter),
                               rtol=1e-5, atol=1e-5)
    logit = np.linspace(-4, 4, n).astype(dtype)
    x = to_numpy(draws.bernoulli(cp.asarray(logit), 0.0, state, draw))
    tie = np.abs(draws.reference_uniform(n, dtype, key, counter) - 1 / (1 + np.exp(-logit))) < TIE[dtype]
    assert np.all((x == draws.reference_bernoulli(logit, 0.0, key, counter)) | tie)
    probs = np.random.default_rng(0).dirichlet(np.ones(4), size=(50, 20)).astype(dtype)
    assert np.array_equal(to_numpy(draws.one_hot(cp.asarray(probs), state, draw)),
                          draws.reference_one_hot(probs, key, counter))
    draws.advance(state)
    assert to_numpy(state).tolist() == [*key, 4]


@given(st.integers(1, 5000), st.integers(1, 300), st.integers(1, 64), st.sampled_from([0, 1, 16, 40]))
def test_lattice_launches_fit_cuda_and_keep_their_threads_busy(d2, d1, chains, band):
    """BLOCK threads a block, grid.y within CUDA's 65,535, and at most a warp's width of threads
    idle at the end of a long row: a walk (d2 % 16 == 0, band > 0) gives a thread one 16-site
    chunk of ``band`` rows of a plane, the row path QUADS_PER_THREAD quads of a row (fewer on
    the last)."""
    from ebmlang.kernels.lattice_gpu import (BLOCK, QUADS_PER_THREAD, LatticePlan, launch_shape,
                                             quads_per_row, walks)
    plan = LatticePlan("s", "weight.s.s", "bias.s", (1, d1, d2), False, 2.0, -1)
    (gx, gy), (bx, by), rows = launch_shape(plan, chains, band=band)
    walking = walks(plan, band)
    assert walking == (band > 0 and d2 % 16 == 0)
    threads = d2 // 16 if walking else -(-quads_per_row(d2) // QUADS_PER_THREAD)
    lines = chains * -(-d1 // band) if walking else rows
    assert bx * by == BLOCK and 1 <= gy <= 65535 and rows == chains * d1
    assert (gx - 1) * bx < threads <= gx * bx and (gy == 65535 or (gy - 1) * by < lines <= gy * by)
    assert threads <= 32 or gx * bx - threads < 32
    assert f"__launch_bounds__({BLOCK}," in LATTICE.read_text()       # the kernel's register budget


def test_lattice_launches_refuse_what_their_indices_cannot_count():
    """Rows (chains × d0 × d1) and a chain's sites are counted in 32 bits."""
    from ebmlang.kernels.lattice_gpu import LatticePlan, launch_shape
    with pytest.raises(ValueError, match="rows"):
        launch_shape(LatticePlan("s", "w", "b", (1, 1 << 16, 8), False, 2.0, -1), 1 << 15)
    with pytest.raises(ValueError, match="sites"):
        launch_shape(LatticePlan("s", "w", "b", (1 << 11, 1 << 10, 1 << 10), False, 2.0, -1), 1)
    assert launch_shape(LatticePlan("s", "w", "b", (1, 2048, 2048), True, 2.0, -1), 16)[2] == 32768


def _macro(text: str, name: str) -> str:
    """The body of ``#define name`` in ``text``, its continued lines joined."""
    body = text[text.index(f"#define {name}") + len(f"#define {name}"):]
    lines = []
    for line in body.splitlines():
        lines.append(line.rstrip().rstrip("\\"))
        if not line.rstrip().endswith("\\"):
            break
    return " ".join(lines)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_lattice_kernels_arguments_are_its_parameters(dtype):
    """CuPy hands a RawKernel its arguments as given, unchecked: HalfSweeps's must be the
    kernels' parameters in number, order and C type, read here off cuda/lattice.cu, and the two
    it changes from launch to launch must be the colour and the draw."""
    from ebmlang.kernels.lattice_gpu import HalfSweeps, LatticePlan, kernel_arguments, round_keys
    text = LATTICE.read_text()
    for kernel in ("lattice_half_sweep_##S", "lattice_walk_##S"):       # both take the same
        assert f"{kernel}(LATTICE_PARAMS(T))" in text
    signature = _macro(text, "LATTICE_PARAMS(T)")
    signature = signature.replace("EBM_RNG", _macro((LATTICE.parent.parent.parent / "backend" / "cuda"
                                                     / "draws.cu").read_text(), "EBM_RNG"))
    signature = signature.replace("LATTICE_KEY_PARAMS", _macro(text, "LATTICE_KEY_PARAMS"))
    params = [p.split() for p in signature.split(",")]
    types, names = [" ".join(p[:-1]).replace(" *", "*") for p in params], [p[-1] for p in params]
    plan = LatticePlan("s", "w", "b", (1, 4, 16), True, 2.0, -1)
    bits, bias = np.zeros((2, 64), np.int8), np.zeros(64, dtype)
    args = kernel_arguments(bits, plan, 8, 1, np.ones(1, dtype), bias, np.ones(1, np.int32), 1.0,
                            np.zeros(3, np.uint32), (5, 6), 7, 16)
    array = lambda kind: lambda a: isinstance(a, np.ndarray) and a.dtype == kind
    expected = {"signed char*": array(np.int8), "const T*": array(dtype), "const int*": array(np.int32),
                "const unsigned int*": array(np.uint32), "int": lambda a: type(a) is np.int32,
                "unsigned int": lambda a: type(a) is np.uint32, "T": lambda a: type(a) is dtype}
    assert len(types) == len(args) == 35
    for c_type, arg in zip(types, args):
        assert expected[c_type](arg), (c_type, arg)
    assert (names[HalfSweeps.COLOUR], names[HalfSweeps.DRAW]) == ("colour", "draw_in_step")
    keys = round_keys(5, 6)
    assert keys[0] == 5 and keys[10] == 6 and keys[9] == np.uint32((5 + 9 * 0x9E3779B9) % 2**32)


@pytest.mark.gpu
@pytest.mark.parametrize("dims, periodic", [((64, 64), True), ((6, 5), False), ((4, 2, 6), True),
                                            ((10,), True), ((2, 8, 16), True), ((3, 16), False),
                                            ((9, 48), False), ((2, 4, 32), True)])
@pytest.mark.parametrize("biased", [True, False])
@pytest.mark.parametrize("launch", [{}, {"band": 3}, {"band": 0},
                                    {"band": 0, "quads_per_thread": 1},
                                    {"band": 0, "quads_per_thread": 3,
                                     "defines": BUILDS["3 blocks an SM"]},
                                    {"band": 5, "defines": BUILDS["2 blocks an SM"]}])
def test_gpu_lattice_half_sweeps_match_the_reference(cp, dims, periodic, biased, launch):
    """Both colours, per-site biases and one shared bias (the kernel's table), rows of segments
    (d2 % 8 == 0) and not, walked (d2 % 16 == 0) and not; the default launch and build, and
    those bench/lattice_kernel.py compares with it."""
    from ebmlang.kernels.lattice_gpu import half_sweep
    model = lattice_model(dims, periodic, "spin", 0.8, biased, "float32")
    plan = lattice_plan(model.program)
    n, chains = int(np.prod(dims)), 5
    states = random_lattice_states(plan, chains, n, 1)
    bias = np.asarray(model.params[plan.bias_key], dtype=np.float32)
    scale, rng_state = np.float32(plan.factor / 1.7), cp.asarray(np.array([3, 4, 0], dtype=np.uint32))
    for colour in (0, 1):
        gpu = high_bits(cp.asarray(states), cp)
        half_sweep(gpu, plan, colour, np.float32(0.8), cp.asarray(bias), not biased, scale,
                   rng_state, (3, 4), colour, **launch)
        ref, margin = reference_half_sweep(plan, states, colour, np.float32(0.8), bias, scale, (3, 4), colour)
        got = to_numpy(unit_values(gpu, plan.low, cp.int8))
        assert np.all((got == ref) | (margin < TIE[np.float32]))


@pytest.mark.gpu
def test_tf32_is_opt_in_and_scoped_to_its_block(cp):
    """1.0001 has more mantissa bits than TF32 keeps: a TF32 product of 1024 of them is 1024 (the
    TensorFlow documentation's example), an IEEE one about 1024.1 (1024.11 on an H100: float32
    rounding of the running sum, far below 0.05)."""
    from ebmlang.backend import matmul_precision
    x = cp.full((1024, 1024), 1.0001, dtype=cp.float32)
    y = cp.ones((1024, 1024), dtype=cp.float32)
    with matmul_precision(cp, "ieee"):
        with matmul_precision(cp, "tf32"):
            assert float((x @ y)[0, 0]) == 1024.0
        assert abs(float((x @ y)[0, 0]) - 1024.1024) < 0.05
