// Checkerboard heat-bath sweep of a lattice of spin (or binary) units: int8 states, many chains,
// random numbers from Philox in registers. Needs backend/cuda/philox.cuh, draws.cu,
// lattice_site.cu (one site's arithmetic and memory) and lattice_walk.cu (the column walk, the
// path where d2 is a multiple of 16) before it. This file holds the row path and the kernel.
// Reference: ebmlang/kernels/lattice_gpu.py, reference_half_sweep (the same arithmetic in NumPy).
//
// A chain's sites are (z, y, x) in C order on dims (d0, d1, d2), a lattice of up to 3 axes padded
// with leading 1s. Colour = (z + y + x) mod 2, a proper colouring whenever the lattice is
// bipartite. Along an axis of length d: none for d = 1; wrap-around when periodic and d > 2; else
// the open neighbours (so a periodic axis of 2 has one neighbour, as graph.builders.lattice).
// A site holds its high bit: 1 for the high state (+1), 0 for the low one (`low`: −1 for spins,
// 0 for binary units). With u of its n neighbours high, their values sum to (1 − low) u + low n.
//
// The unit of work is a quad: 4 sites of one colour, consecutive among that colour's sites of a
// row (chain, z, y), drawn with the 4 words of one Philox block, counter (quad index, draw): a
// launch is one draw. The launch is 2-D, a row's threads along x and rows along y, so a thread
// finds its row without 64-bit divisions; it takes several quads of the row (QUADS_PER_THREAD in
// lattice_gpu.py), LATTICE_GROUP at once, so that a row's set-up is paid once for them and their
// loads are in flight together. The sweep is bound by the instructions a site costs (an H200
// issues about 70 of them a site at 500 flips/ns), so the common case is kept short:
// - when d2 is a multiple of 8, a quad's sites lie in one 8-byte segment of its row: the segment
//   and those above and below are read as words, and the 8 counts of high neighbours are added
//   in one register, a byte a site (a count is at most 6, so no byte carries into the next);
// - when every site has the same bias, p(high) = σ(scale (J s + b)) takes one of 13 values
//   (s = −6..6), and the test u < p of a uniform u from bits takes one of 13 integer thresholds
//   on the bits (lattice_threshold), put in a table once per block.
// Both give the same states as the plain path: the same comparison of the same numbers. The
// column walk (lattice_walk.cu) gives them too: the same quads, counters and comparisons.

// A row (chain, z, y) of one colour: `at` its first site within the chain, `x0` the x of its
// first site of the colour, `cross` the offsets of the neighbours along y and z (0: none), `n`
// how many neighbours a site has away from the row's ends when the row is one of segments
// (d2 >= 8, so 2 along x). Computed once a row, not a quad.
struct lattice_row { int at, x0, n; int cross[4]; };

__host__ __device__ inline lattice_row lattice_row_at(lattice_dims g, int z, int y, int colour) {
    lattice_row r;
    r.at = (z * g.d1 + y) * g.d2;
    r.x0 = (colour + z + y) & 1;
    axis_offsets(y, g.d1, g.d2, g.periodic, &r.cross[0], &r.cross[1]);
    axis_offsets(z, g.d0, g.d1 * g.d2, g.periodic, &r.cross[2], &r.cross[3]);
    r.n = 2;
    for (int k = 0; k < 4; ++k) r.n += r.cross[k] != 0;
    return r;
}

#define LATTICE_EVEN_BYTES 0x00FF00FF00FF00FFULL

// Quads of a row of segments updated at once (their loads in flight together), and blocks an SM
// (-DLATTICE_MIN_BLOCKS=…: bench/lattice_kernel.py times 2 and 3 beside the default). Session 19
// measured and removed two more builds of the row path: the Philox words of a group drawn before
// its loads, and groups of adjacent segments read 16 bytes at a time, which the walk supersedes.
#define LATTICE_GROUP 2
#ifndef LATTICE_MIN_BLOCKS
#define LATTICE_MIN_BLOCKS 4
#endif

// The new word of a segment of a row of segments (d2 a multiple of 8): its sites of the colour,
// bytes x0, x0+2, x0+4, x0+6, drawn with `bits`, from its word `mid`, the words `cross` of its
// neighbours along y and z (ignored where r.cross is 0) and the bytes beside its ends (`left`,
// `right`; ignored where there is none). Its other colour's bytes are kept. `at`: its first site.
template <typename T>
__host__ __device__ inline unsigned long long lattice_segment_word(
        unsigned long long mid, const unsigned long long cross[4], unsigned int left,
        bool has_left, unsigned int right, bool has_right, const lattice_row& r,
        const unsigned int bits[4], int at, const lattice_launch<T>& a) {
    // byte j: how many of site j's neighbours are high
    unsigned long long high = (mid << 8) + (mid >> 8) + (has_left ? left : 0u)
                            + ((unsigned long long)(has_right ? right : 0u) << 56);
    #pragma unroll
    for (int k = 0; k < 4; ++k) high += r.cross[k] ? cross[k] : 0ULL;
    high >>= 8 * r.x0;
    unsigned long long out = 0;
    #pragma unroll
    for (int i = 0; i < 4; ++i) {
        int j = r.x0 + 2 * i;
        int sites = r.n - (j == 0 && !has_left) - (j == 7 && !has_right);
        int sum = (1 - a.low) * (int)((high >> (16 * i)) & 0xFF) + a.low * sites;
        T b = a.table ? (T)0 : a.bias[at + j];
        out |= (unsigned long long)lattice_high<T>(sum, a.table, a.coupling, b, a.scale, bits[i])
               << (16 * i);
    }
    return (mid & ~(LATTICE_EVEN_BYTES << (8 * r.x0))) | (out << (8 * r.x0));
}

// The offsets from a segment's first byte to the byte left of it and from its last byte to the
// byte right of it, 0 where there is none (d2 >= 8: axis_offsets, shortened).
__host__ __device__ inline int left_of_segment(lattice_dims g, int m) {
    return m > 0 ? -1 : (g.periodic ? g.d2 - 1 : 0);
}

__host__ __device__ inline int right_of_segment(lattice_dims g, int m) {
    return 8 * m + 8 < g.d2 ? 1 : (g.periodic ? 1 - g.d2 : 0);
}

// Quads m[0..Q) of a row of segments (any quads of it): quad m is the segment at r.at + 8m. Every
// load of the Q quads is issued before any is used, and none behind a branch (a missing
// neighbour, offset 0, loads the segment itself and is masked out); Philox runs while they are
// in flight. A segment goes back as one word: its other colour's bytes are rewritten with the
// values they hold, which the threads reading them as neighbours see either way.
template <typename T, int Q>
__host__ __device__ inline void lattice_segments(signed char* s, lattice_dims g,
                                                 const lattice_row& r, const int m[Q],
                                                 unsigned long long first_quad,
                                                 const lattice_launch<T>& a) {
    int at[Q], left_at[Q], right_at[Q];
    unsigned long long mid[Q], cross[Q][4];
    unsigned int left[Q], right[Q], bits[Q][4];
    #pragma unroll
    for (int q = 0; q < Q; ++q) {
        at[q] = r.at + 8 * m[q];
        left_at[q] = left_of_segment(g, m[q]);
        right_at[q] = right_of_segment(g, m[q]);
        mid[q] = load8(s + at[q]);
        #pragma unroll
        for (int k = 0; k < 4; ++k) cross[q][k] = load8(s + at[q] + r.cross[k]);
        left[q] = (unsigned char)s[at[q] + left_at[q]];
        right[q] = (unsigned char)s[at[q] + 7 + right_at[q]];
    }
    #pragma unroll
    for (int q = 0; q < Q; ++q) {
        lattice_words(bits[q], first_quad + m[q], a);
        store8(s + at[q], lattice_segment_word<T>(mid[q], cross[q], left[q], left_at[q] != 0,
                                                  right[q], right_at[q] != 0, r, bits[q], at[q],
                                                  a));
    }
}

// A neighbour's value (1 or `low`) at `offset` from `at`, 0 where there is none.
__host__ __device__ inline int neighbour(const signed char* s, int at, int offset, int low) {
    return offset ? (s[at + offset] ? 1 : low) : 0;
}

// The thread of quad `m` of row `r` (its 4 sites of the colour); `s` is the chain's first site.
template <typename T>
__host__ __device__ inline void lattice_quad(signed char* s, lattice_dims g, const lattice_row& r,
                                             int m, unsigned long long quad,
                                             const lattice_launch<T>& a) {
    if ((g.d2 & 7) == 0) {
        lattice_segments<T, 1>(s, g, r, &m, quad - m, a);
        return;
    }
    unsigned int bits[4];
    lattice_words(bits, quad, a);
    for (int i = 0; i < 4; ++i) {
        int x = r.x0 + 2 * (4 * m + i);
        if (x >= g.d2) break;
        int at = r.at + x, lo, hi;
        axis_offsets(x, g.d2, 1, g.periodic, &lo, &hi);
        int sum = neighbour(s, at, lo, a.low) + neighbour(s, at, hi, a.low);
        for (int k = 0; k < 4; ++k) sum += neighbour(s, at, r.cross[k], a.low);
        T b = a.table ? (T)0 : a.bias[at];
        s[at] = (signed char)lattice_high<T>(sum, a.table, a.coupling, b, a.scale, bits[i]);
    }
}

// The quads first, first + stride, ... of row r, whose quad m has the Philox counter
// first_quad + m; where the row is of segments, LATTICE_GROUP at once.
template <typename T>
__host__ __device__ inline void lattice_row_quads(signed char* s, lattice_dims g,
                                                  const lattice_row& r, int first, int stride,
                                                  unsigned long long first_quad,
                                                  const lattice_launch<T>& a) {
    int m = first, per_row = lattice_quads_per_row(g);
    if ((g.d2 & 7) == 0)
        for (; m + (LATTICE_GROUP - 1) * stride < per_row; m += LATTICE_GROUP * stride) {
            int group[LATTICE_GROUP];
            #pragma unroll
            for (int q = 0; q < LATTICE_GROUP; ++q) group[q] = m + q * stride;
            lattice_segments<T, LATTICE_GROUP>(s, g, r, group, first_quad, a);
        }
    for (; m < per_row; m += stride) lattice_quad<T>(s, g, r, m, first_quad + m, a);
}

// Launch: block (bx, by) of 256 threads (lattice_gpu.BLOCK), grid (gx, gy); a thread takes the
// quads m ≡ its x (mod gx·bx) of the rows ≡ its y (mod gy·by), rows = chains·d0·d1, so that a
// row's work (its coordinates, by 32-bit divisions, and lattice_row) is spread over several
// quads. LATTICE_MIN_BLOCKS (4) blocks an SM: at most 64 registers; the row kernels spill
// nothing, the walk's spill a little (nvcc 13.0, sm_90: a few local loads a pair of rows).
// J and whether one bias serves every site are read from the device (*coupling_at; *shared_at
// 1: bias[0] is every site's bias, and the table is used; 0: bias has one per site), so a
// sweep's launches need no read by the host.
// Philox's 10 round keys (philox_keys; lattice_gpu.round_keys), as 20 parameters: the rounds
// take them from the parameter bank (as operands or uniform registers), none adds them up.
#define LATTICE_KEY_PARAMS                                                                    \
    unsigned int ka0, unsigned int ka1, unsigned int ka2, unsigned int ka3, unsigned int ka4, \
    unsigned int ka5, unsigned int ka6, unsigned int ka7, unsigned int ka8, unsigned int ka9, \
    unsigned int kb0, unsigned int kb1, unsigned int kb2, unsigned int kb3, unsigned int kb4, \
    unsigned int kb5, unsigned int kb6, unsigned int kb7, unsigned int kb8, unsigned int kb9
#define LATTICE_KEYS                                                                          \
    {{ka0, ka1, ka2, ka3, ka4, ka5, ka6, ka7, ka8, ka9},                                      \
     {kb0, kb1, kb2, kb3, kb4, kb5, kb6, kb7, kb8, kb9}}

// What both kernels do first: read J and the shared-bias flag, fill the table when one bias
// serves every site (the flag is the same for every thread, so all reach the barrier), and
// gather what every thread of the launch shares.
template <typename T>
__device__ inline lattice_launch<T> lattice_prologue(typename lattice_threshold<T>::type* table,
                                                     const T* coupling_at, const T* bias,
                                                     const int* shared_at, T scale, int low,
                                                     unsigned long long draw,
                                                     const philox_keys& keys) {
    T coupling = *coupling_at;
    int shared_bias = *shared_at;
    if (shared_bias) {
        lattice_fill_table<T>(table, threadIdx.y * blockDim.x + threadIdx.x,
                              blockDim.x * blockDim.y, coupling, bias[0], scale);
        __syncthreads();
    }
    // read once: a byte store may alias any pointer, so what is read through one is reread
    lattice_launch<T> a = {coupling, bias, shared_bias ? table : 0, scale, low, draw, keys};
    return a;
}

// The parameters of both kernels (lattice_gpu.kernel_arguments passes them in this order).
#define LATTICE_PARAMS(T)                                                                     \
    signed char* states, int d0, int d1, int d2, int periodic, unsigned int rows, int colour, \
    const T* coupling_at, const T* bias, const int* shared_at, T scale, int low, EBM_RNG,     \
    LATTICE_KEY_PARAMS, int band

#define LATTICE_PROLOGUE(T)                                                                   \
    __shared__ lattice_threshold<T>::type table[LATTICE_TABLE];                               \
    lattice_dims g = {d0, d1, d2, periodic};                                                  \
    philox_keys keys = LATTICE_KEYS;                                                          \
    lattice_launch<T> a = lattice_prologue<T>(table, coupling_at, bias, shared_at, scale, low, \
                                              rng_draw(rng, draw_in_step), keys)

// Two kernels, so that each has its own registers: lattice_half_sweep (rows of quads, any d2;
// `band` unused) and lattice_walk (the column walk: d2 a multiple of 16, `band` rows a thread).
#define EBM_LATTICE_KERNEL(T, S)                                                              \
extern "C" __global__ void __launch_bounds__(256, LATTICE_MIN_BLOCKS)                         \
lattice_half_sweep_##S(LATTICE_PARAMS(T)) {                                                   \
    LATTICE_PROLOGUE(T);                                                                      \
    (void)band;                                                                               \
    int per_row = lattice_quads_per_row(g);                                                   \
    unsigned int u1 = (unsigned int)d1, u0 = (unsigned int)d0;                                \
    for (unsigned int row = blockIdx.y * blockDim.y + threadIdx.y; row < rows;                \
         row += gridDim.y * blockDim.y) {                                                     \
        lattice_row r = lattice_row_at(g, (int)((row / u1) % u0), (int)(row % u1), colour);   \
        signed char* s = states + (unsigned long long)(row / (u1 * u0)) * d0 * d1 * d2;       \
        lattice_row_quads<T>(s, g, r, blockIdx.x * blockDim.x + threadIdx.x,                 \
                             gridDim.x * blockDim.x, (unsigned long long)row * per_row, a);   \
    }                                                                                         \
}                                                                                             \
extern "C" __global__ void __launch_bounds__(256, LATTICE_MIN_BLOCKS)                         \
lattice_walk_##S(LATTICE_PARAMS(T)) {                                                         \
    LATTICE_PROLOGUE(T);                                                                      \
    lattice_walk_launch<T>(states, g, rows, band, colour, a);                                 \
}

EBM_LATTICE_KERNEL(float, f32)
EBM_LATTICE_KERNEL(double, f64)

// The conversions around a sweep's launches (lattice_gpu.high_bits and unit_values on CuPy), one
// pass each: a site's unit value x (1 or `low`) and its high bit (x > 0).
#define EBM_LATTICE_CONVERSIONS(T, S)                                                         \
extern "C" __global__ void lattice_high_bits_##S(const T* x, signed char* bits,               \
                                                 unsigned long long n) {                      \
    EBM_GRID_LOOP(i, n) bits[i] = x[i] > (T)0;                                                \
}                                                                                             \
extern "C" __global__ void lattice_unit_values_##S(const signed char* bits, T* x,             \
                                                   unsigned long long n, int low) {           \
    EBM_GRID_LOOP(i, n) x[i] = bits[i] ? (T)1 : (T)low;                                       \
}

EBM_LATTICE_CONVERSIONS(float, f32)
EBM_LATTICE_CONVERSIONS(double, f64)
