"""The checkerboard sweep of a lattice model as one CUDA kernel on int8 states (CuPy only).

A program qualifies when it is a single layer of spin or binary units whose only coupling is a
uniform lattice stencil (J · adjacency, ``stencil.py``) on at most 3 axes, and its checkerboard is
a proper colouring (every periodic axis even, or of length ≤ 2). Then a Gibbs sweep is two
launches of ``cuda/lattice.cu``, one per colour: each site of the colour becomes 1 with
probability σ(g·f·(J Σ_neighbours s_j + b)/T), else its low state (−1 for spins, 0 for binary
units), f = 2 for spins and 1 for binary units, g the layer's gain. Sites of one colour share no
coupling, so updating them in place in any order is exact heat-bath Gibbs sampling. The kernel
holds a site as its high bit (1 for the state 1, 0 for the low state: ``high_bits``), so that it
counts a segment's high neighbours in one register. Where a row's length is a multiple of 16 a
thread walks a 16-site column chunk down a band of rows (``cuda/lattice_walk.cu``); else it takes
quads of one row (``cuda/lattice.cu``). ``HalfSweeps`` prepares a sweep's launches once, and
nothing of a sweep is read back to the host.

``reference_half_sweep`` is the kernel's arithmetic in NumPy, site for site: the tests hold the
kernel (on a GPU) and nvcc's host build of its source (on a CPU) to it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..backend import namespace_of
from ..backend.draws import BLOCK, SUFFIX, launch
from ..backend.philox import counters, cuda_source, key_words, philox4x32, unit_uniform

SOURCE = Path(__file__).with_name("cuda") / "lattice.cu"
# the kernel's translation unit, in this order (what NVRTC and the tests' nvcc compile)
SOURCES = ("draws.cu", SOURCE.with_name("lattice_site.cu"), SOURCE.with_name("lattice_walk.cu"),
           SOURCE)


@dataclass(frozen=True)
class LatticePlan:
    """What the kernel needs of a qualifying program (see the module docstring)."""

    layer: str
    coupling_key: str
    bias_key: str
    dims: tuple        # (d0, d1, d2): the lattice's axes, padded in front with 1s
    periodic: bool
    factor: float      # 2 for spins, 1 for binary units, times the layer's gain
    low: int           # the off state: −1 or 0


def lattice_plan(program) -> LatticePlan | None:
    """The plan for ``program``, or None when it does not qualify for the kernel."""
    if len(program.layers) != 1 or len(program.couplings) != 1 or program.directed:
        return None
    (name, info), (c,) = next(iter(program.layers.items())), program.couplings
    if c.stencil is None or info.units.name not in ("spin", "binary"):
        return None
    dims, periodic = tuple(c.stencil[0]), bool(c.stencil[1])
    if len(dims) > 3 or (periodic and any(d % 2 and d > 2 for d in dims)):
        return None
    spin = info.units.name == "spin"
    return LatticePlan(name, c.key, info.bias_key, (1,) * (3 - len(dims)) + dims, periodic,
                       (2.0 if spin else 1.0) * info.gain, -1 if spin else 0)


def quads_per_row(d2: int) -> int:
    """Threads per row of one colour: its ⌈d2/2⌉ sites, 4 to a thread."""
    return ((d2 + 1) // 2 + 3) // 4


# Quads a thread takes of a row, two at a time, where rows are not walked (below): a row's set-up
# (its coordinates, by divisions) and a block's (its table) are spread over them, and a thread
# has two quads' loads in flight. One launch at L = 2048, 16 chains, on an H200: 2 quads a thread
# 108 µs, 4 91 µs, 8 85 µs, 16 82 µs, 32 83 µs (the kernel before pairs: 1 quad 150 µs, 8 93 µs).
QUADS_PER_THREAD = 16

# Rows a thread walks where d2 is a multiple of 16 (cuda/lattice_walk.cu: a thread takes one
# 16-site chunk of each of BAND consecutive rows); 0 turns the walk off. One launch at L = 2048,
# 16 chains, on an H200 (bench/lattice_kernel.py): 4 rows 66.5 µs, 8 62.5, 16 60.0, 32 56.9, 64
# 64.8 µs (3 blocks an SM at 16 rows 56.6 µs); the row path at its best 74.4 µs.
BAND = 32


def walks(plan: LatticePlan, band: int = BAND) -> bool:
    """Whether a launch walks columns (cuda/lattice_walk.cu) rather than rows."""
    return band > 0 and plan.dims[2] % 16 == 0


def launch_shape(plan: LatticePlan, chains: int, quads_per_thread: int = QUADS_PER_THREAD,
                 band: int = BAND) -> tuple[tuple, tuple, int]:
    """(grid, block, rows) of one launch, rows = chains·d0·d1, BLOCK threads a block. Walking
    columns, a thread takes one 16-site chunk of ``band`` rows: chunks along x, bands of every
    plane along y; else a row's threads (``quads_per_thread`` quads each) along x and the rows
    along y. Short rows share a block; long ones take the block width (32 to BLOCK) that leaves
    the fewest threads idle."""
    d0, d1, d2 = plan.dims
    rows = chains * d0 * d1
    if rows >= 1 << 31:
        raise ValueError(f"{rows} lattice rows (chains × d0 × d1) are more than the kernel's "
                         "32-bit row index counts: run fewer chains at a time")
    if d0 * d1 * d2 >= 1 << 31:
        raise ValueError(f"a lattice of {d0 * d1 * d2} sites is more than the kernel's 32-bit "
                         "site index within a chain counts")
    if walks(plan, band):
        threads, lines = d2 // 16, chains * d0 * -(-d1 // band)
    else:
        threads, lines = -(-quads_per_row(d2) // quads_per_thread), rows
    if threads <= 32:
        bx = 1 << (threads - 1).bit_length()
    else:
        bx = min((32, 64, 128, 256), key=lambda w: (-(-threads // w) * w, -w))
    by = BLOCK // bx
    grid = (-(-threads // bx), max(1, min(-(-lines // by), 65535)))
    return grid, (bx, by), rows


# Builds of cuda/lattice.cu that bench/lattice_kernel.py times (the GPU tests check them): the
# same draws and states, other speeds. The default is the first; the others trade registers a
# thread (64, then 128 and 80) for blocks an SM.
BUILDS = {"default": (),
          "2 blocks an SM": ("-DLATTICE_MIN_BLOCKS=2",),
          "3 blocks an SM": ("-DLATTICE_MIN_BLOCKS=3",)}


@functools.lru_cache(maxsize=8)
def _kernels(defines: tuple = ()):
    """The compiled module; ``defines`` ("-DLATTICE_MIN_BLOCKS=2", ...) build a variant of it
    for ``bench/lattice_kernel.py`` (the same draws, other speeds)."""
    import cupy
    return cupy.RawModule(code=cuda_source(*SOURCES), options=tuple(defines))


@functools.lru_cache(maxsize=32)
def _function(defines: tuple, suffix: str, walk: bool):
    """The kernel for one dtype and path, looked up once rather than at every launch: the
    column walk (``lattice_walk``) or rows of quads (``lattice_half_sweep``)."""
    return _kernels(defines).get_function(f"lattice_{'walk' if walk else 'half_sweep'}_{suffix}")


def high_bits(x, xp=np):
    """(chains, N) unit values (1 or the low state) as the kernel holds them: int8, 1 where 1.
    Float states on CuPy go through one kernel (``lattice_high_bits``); any others through a
    comparison, whose booleans are already bytes of 0 and 1, viewed as int8."""
    x = xp.ascontiguousarray(x)
    if xp is np or x.dtype not in SUFFIX:
        return xp.ascontiguousarray(x > 0).view(xp.int8)
    bits = xp.empty(x.shape, dtype=xp.int8)
    launch(_kernels(), "lattice_high_bits", x.dtype, x.size, x, bits, np.uint64(x.size))
    return bits


def unit_values(bits, low: int, dtype):
    """The inverse of ``high_bits``: 1 where a bit is set, else ``low``, in ``dtype``; float
    states on CuPy by one kernel (``lattice_unit_values``), others by a selection (a bit's byte
    is 0 or 1, so it views as a boolean)."""
    xp, dtype = namespace_of(bits), np.dtype(dtype)
    if bits.dtype != np.int8:
        raise ValueError(f"high bits are int8, not {bits.dtype}")
    bits = xp.ascontiguousarray(bits)
    if xp is np or dtype not in SUFFIX:
        return xp.where(bits.view(xp.bool_), xp.asarray(1, dtype=dtype),
                        xp.asarray(low, dtype=dtype))
    x = xp.empty(bits.shape, dtype=dtype)
    launch(_kernels(), "lattice_unit_values", dtype, bits.size, bits, x, np.uint64(bits.size),
           np.int32(low))
    return x


class HalfSweeps:
    """The launches of one lattice's sweeps, prepared once: the kernel's arguments but a launch's
    colour and draw, so that a launch costs the host little more than CuPy's own call (a sweep
    of a 2048² lattice of 16 chains takes the GPU some 60 µs a launch, as long as the arguments
    took to build every time).

    ``bits``: the (chains, N) CuPy ``high_bits``, updated in place (every byte 0 or 1: the kernel
    adds 8 of them in one register, so unit values of −1 would carry); ``coupling``: J, and
    ``shared``: whether ``bias[0]`` serves every site (int32, 1 or 0), both 1-element device
    arrays that the kernel reads itself, so no launch waits for a read by the host; ``bias``:
    one value a site (N), in the dtype of ``coupling``; ``key``: the (k0, k1) of ``rng_state``,
    whose step the kernel reads. ``quads_per_thread``, ``band`` and ``defines`` choose the launch
    and the build (for benchmarks)."""

    COLOUR, DRAW = 6, 13                # their places among the kernel's arguments

    def __init__(self, bits, plan: LatticePlan, coupling, bias, shared, scale, rng_state, key, *,
                 quads_per_thread: int = QUADS_PER_THREAD, band: int = BAND,
                 defines: tuple = ()):
        sites = int(np.prod(plan.dims))
        if bits.ndim != 2 or bits.shape[1] != sites or bias.size != sites:
            raise ValueError(f"the lattice kernel takes (chains, {sites}) states and {sites} "
                             f"bias values, not {bits.shape} and {bias.size}")
        if bits.dtype != np.int8 or not bits.flags.c_contiguous or bits.data.ptr % 16:
            raise ValueError("the lattice kernel takes C-contiguous int8 states at a 16-byte "
                             "boundary")
        if coupling.dtype != bias.dtype or shared.dtype != np.int32 or not bias.flags.c_contiguous:
            raise ValueError("the lattice kernel takes J in the bias's dtype, an int32 flag and "
                             "a contiguous bias")
        if rng_state.dtype != np.uint32:
            raise ValueError("the lattice kernel takes the Rng's uint32 state")
        band = min(band, plan.dims[1])              # a band is at most a plane's rows
        self.grid, self.block, rows = launch_shape(plan, bits.shape[0], quads_per_thread, band)
        walk = walks(plan, band)
        self.function = _function(tuple(defines), SUFFIX[bias.dtype], walk)
        self.arguments = list(kernel_arguments(bits, plan, rows, 0, coupling, bias, shared,
                                               scale, rng_state, key, 0, band if walk else 0))

    def __call__(self, colour: int, draw: int) -> None:
        """One launch: the sites of ``colour``, with the counter-based stream's draw ``draw``."""
        self.arguments[self.COLOUR], self.arguments[self.DRAW] = np.int32(colour), np.uint32(draw)
        self.function(self.grid, self.block, tuple(self.arguments))


def half_sweep(bits, plan: LatticePlan, colour: int, coupling, bias, shared: bool, scale,
               rng_state, key, draw: int, **options) -> None:
    """One launch of ``HalfSweeps`` with J and ``shared`` given on the host (for tests)."""
    import cupy
    HalfSweeps(bits, plan, cupy.full(1, coupling, dtype=bias.dtype), bias,
               cupy.full(1, int(shared), dtype=cupy.int32), scale, rng_state, key,
               **options)(colour, draw)


def kernel_arguments(bits, plan: LatticePlan, rows: int, colour: int, coupling, bias, shared,
                     scale, rng_state, key, draw: int, band: int) -> tuple:
    """The kernel's parameters in order, each of its C type (a test reads them off the source:
    CuPy checks neither their number nor their types)."""
    t = bias.dtype.type                 # the kernel's T: a Python float would arrive as a double
    return (bits, *(np.int32(d) for d in plan.dims), np.int32(plan.periodic), np.uint32(rows),
            np.int32(colour), coupling, bias, shared, t(scale), np.int32(plan.low), rng_state,
            np.uint32(draw), *round_keys(*key), np.int32(band))


def round_keys(k0: int, k1: int) -> list:
    """Philox's 10 round keys of (k0, k1) as the kernel takes them (cuda philox_round_keys):
    k0 + r·0x9E3779B9 for r = 0..9, then k1 + r·0xBB67AE85, modulo 2^32."""
    return [np.uint32((k + r * w) & 0xFFFFFFFF)
            for k, w in ((int(k0), 0x9E3779B9), (int(k1), 0xBB67AE85)) for r in range(10)]


def lattice_sweeps(plan: LatticePlan, params: dict, x, rng, sweeps: int, temperature: float):
    """``sweeps`` checkerboard sweeps of the chains ``x`` (chains, N), a CuPy array of unit values
    (the kernel holds them as int8); returns the new states in x's dtype. Takes 2·sweeps draws
    of ``rng``'s counter-based stream, one a launch. Nothing is read back to the host: J and
    whether one bias serves every site (then the kernel reads a table of 13 thresholds rather
    than a bias and an exp a site) stay on the device."""
    import cupy
    if sweeps == 0:
        return x
    dtype = x.dtype
    bits = high_bits(x, cupy)
    bias = cupy.ascontiguousarray(params[plan.bias_key], dtype=dtype).reshape(-1)
    coupling = cupy.asarray(params[plan.coupling_key], dtype=dtype).reshape(1)
    shared = (bias == bias[0]).all().astype(cupy.int32).reshape(1)
    rng_state, first = rng.reserve(2 * sweeps)
    half = HalfSweeps(bits, plan, coupling, bias, shared, dtype.type(plan.factor / temperature),
                      rng_state, key_words(*rng.key))
    for step in range(2 * sweeps):
        half(step % 2, first + step)
    return unit_values(bits, plan.low, dtype)


# ---- the NumPy reference ----------------------------------------------------------------------

def _neighbour_sum(s: np.ndarray, periodic: bool) -> np.ndarray:
    """Σ neighbours of every site of (chains, d0, d1, d2) int states, by the kernel's rules."""
    total = np.zeros(s.shape, dtype=np.int32)
    for axis in (1, 2, 3):
        d = s.shape[axis]
        if d == 1:
            continue
        if periodic and d > 2:
            total += np.roll(s, 1, axis) + np.roll(s, -1, axis)
            continue
        lo, hi = [slice(None)] * 4, [slice(None)] * 4
        lo[axis], hi[axis] = slice(0, d - 1), slice(1, d)
        total[tuple(hi)] += s[tuple(lo)]
        total[tuple(lo)] += s[tuple(hi)]
    return total


def reference_probabilities(plan: LatticePlan, states: np.ndarray, coupling, bias,
                            scale) -> np.ndarray:
    """p(site = 1 | its neighbours) = σ(scale · (J Σ_neighbours s_j + b)) of every site of the
    (chains, N) states, in bias's dtype, with the kernel's order of operations."""
    d0, d1, d2 = plan.dims
    t = np.asarray(bias).dtype.type
    s = states.reshape(-1, d0, d1, d2).astype(np.int32)
    field = t(coupling) * _neighbour_sum(s, plan.periodic).astype(t) \
        + np.broadcast_to(np.asarray(bias, dtype=t), (d0 * d1 * d2,)).reshape(d0, d1, d2)
    return (t(1) / (t(1) + np.exp(-t(scale) * field))).reshape(states.shape)


def reference_uniforms(plan: LatticePlan, chains: int, colour: int, words, draw: int, dtype):
    """The uniform each site of ``colour`` draws in a launch with the 64-bit draw counter
    ``draw``: (chains, N), NaN off the colour. A thread's quad takes the 4 words of its Philox
    block, one per site."""
    d0, d1, d2 = plan.dims
    c, z, y, x = np.indices((chains, d0, d1, d2))
    on = (z + y + x) % 2 == colour
    m = (x - ((colour + z + y) & 1)) // 2                    # rank among the row's colour sites
    quad = ((c * d0 + z) * d1 + y) * quads_per_row(d2) + m // 4
    blocks = philox4x32(counters(np.arange(chains * d0 * d1 * quads_per_row(d2)), draw), words)
    bits = blocks[m % 4, np.where(on, quad, 0)]
    u = unit_uniform(bits) if np.dtype(dtype) == np.float32 else bits * 2.3283064365386963e-10
    return np.where(on, u, np.nan).reshape(chains, -1)


def reference_half_sweep(plan: LatticePlan, states: np.ndarray, colour: int, coupling, bias,
                         scale, words, draw: int) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's launch for one colour on (chains, N) unit values ``states`` (1 or the low
    state, as int8), in NumPy: the new states
    and, per site, |u − p| (how near its draw was to the threshold; NaN off the colour)."""
    prob = reference_probabilities(plan, states, coupling, bias, scale)
    u = reference_uniforms(plan, states.shape[0], colour, words, draw, prob.dtype)
    new = np.where(np.isnan(u), states, np.where(u < prob, 1, plan.low)).astype(np.int8)
    return new, np.abs(u - prob)
