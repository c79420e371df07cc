// Checkerboard heat-bath sweep of a lattice of spin (or binary) units: int8 states, many chains,
// random numbers from Philox in registers. Needs backend/cuda/philox.cuh and draws.cu before it.
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
// Both give the same states as the plain path: the same comparison of the same numbers.

struct lattice_dims { int d0, d1, d2, periodic; };

#define LATTICE_MAX_SUM 6
#define LATTICE_TABLE (2 * LATTICE_MAX_SUM + 1)

__host__ __device__ inline int lattice_quads_per_row(lattice_dims g) {
    return ((g.d2 + 1) / 2 + 3) / 4;
}

// p(high) = σ(scale (J sum + b)): one expression for the table and the per-site path alike.
template <typename T>
__host__ __device__ inline T lattice_prob(T coupling, int sum, T bias, T scale) {
    T field = coupling * (T)sum + bias;
    return (T)1 / ((T)1 + ebm_exp(-scale * field));
}

// The draw u = unit<T>::from_bits(bits) is below p exactly when the bits are below an integer
// threshold of p: float32 takes u = (bits >> 8) 2^-24, so u < p ⇔ (bits >> 8) < ⌈p 2^24⌉;
// float64 takes u = bits 2^-32, so u < p ⇔ bits < ⌈p 2^32⌉ (up to 2^32: 64 bits). The products
// are exact (a power of 2), and so is ⌈·⌉ of a float.
template <typename T> struct lattice_threshold;
template <> struct lattice_threshold<float> {
    typedef unsigned int type;
    __host__ __device__ static type of(float p) { return (type)ceilf(p * 16777216.0f); }
    __host__ __device__ static bool below(unsigned int bits, type t) { return (bits >> 8) < t; }
};
template <> struct lattice_threshold<double> {
    typedef unsigned long long type;
    __host__ __device__ static type of(double p) { return (type)ceil(p * 4294967296.0); }
    __host__ __device__ static bool below(unsigned int bits, type t) { return bits < t; }
};

// table[s + LATTICE_MAX_SUM] = the threshold of lattice_prob(s) for s = −6..6, entries
// i ≡ start (mod step).
template <typename T>
__host__ __device__ inline void lattice_fill_table(typename lattice_threshold<T>::type* table,
                                                   int start, int step, T coupling, T bias,
                                                   T scale) {
    for (int i = start; i < LATTICE_TABLE; i += step)
        table[i] = lattice_threshold<T>::of(
            lattice_prob<T>(coupling, i - LATTICE_MAX_SUM, bias, scale));
}

// Whether a site whose neighbours' values sum to `sum` goes high: by the table (one bias for
// all sites) or, where `table` is null, by its own bias.
template <typename T>
__host__ __device__ inline bool lattice_high(int sum,
                                             const typename lattice_threshold<T>::type* table,
                                             T coupling, T bias, T scale, unsigned int bits) {
    if (table) return lattice_threshold<T>::below(bits, table[sum + LATTICE_MAX_SUM]);
    return unit<T>::from_bits(bits) < lattice_prob<T>(coupling, sum, bias, scale);
}

// The offsets (in sites) of the two neighbours of position `pos` along an axis of length `d` and
// stride `stride`, 0 where there is none (a site is never its own neighbour, so 0 is free).
__host__ __device__ inline void axis_offsets(int pos, int d, int stride, int periodic, int* lo,
                                             int* hi) {
    *lo = *hi = 0;
    if (d == 1) return;
    if (periodic && d > 2) {
        *lo = (pos == 0 ? d - 1 : -1) * stride;
        *hi = (pos == d - 1 ? 1 - d : 1) * stride;
        return;
    }
    if (pos > 0) *lo = -stride;
    if (pos < d - 1) *hi = stride;
}

// 8 bytes at p (8-byte aligned on the device), as one word: byte j is site j of a segment.
__host__ __device__ inline unsigned long long load8(const signed char* p) {
#ifdef __CUDA_ARCH__
    return *reinterpret_cast<const unsigned long long*>(p);
#else
    unsigned long long w = 0;
    for (int j = 0; j < 8; ++j) w |= (unsigned long long)(unsigned char)p[j] << (8 * j);
    return w;
#endif
}

// 8 bytes to p (8-byte aligned on the device) as one word.
__host__ __device__ inline void store8(signed char* p, unsigned long long w) {
#ifdef __CUDA_ARCH__
    *reinterpret_cast<unsigned long long*>(p) = w;
#else
    for (int j = 0; j < 8; ++j) p[j] = (signed char)(unsigned char)(w >> (8 * j));
#endif
}

// What every thread of a launch shares: the rule of a draw (coupling, bias or table, scale, the
// low state) and the key and counter of its random numbers.
template <typename T>
struct lattice_launch {
    T coupling;
    const T* bias;                                      // one a site, where table is null
    const typename lattice_threshold<T>::type* table;   // lattice_fill_table's, or null
    T scale;
    int low;
    unsigned long long draw;
    unsigned int k0, k1;
};

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

// Build settings (-D…=…) that bench/lattice_kernel.py times beside the default: quads updated at
// once where a row is of segments (their loads in flight together), the Philox words of all of
// them drawn before any uses its loads (more work to cover the loads' latency), blocks an SM.
#ifndef LATTICE_GROUP
#define LATTICE_GROUP 2
#endif
#ifndef LATTICE_PHILOX_FIRST
#define LATTICE_PHILOX_FIRST 0
#endif
#ifndef LATTICE_MIN_BLOCKS
#define LATTICE_MIN_BLOCKS 4
#endif

// The 4 words of quad `quad`'s Philox block.
template <typename T>
__host__ __device__ inline void lattice_words(unsigned int words[4], unsigned long long quad,
                                              const lattice_launch<T>& a) {
    philox4 r = philox_at(quad, a.draw, a.k0, a.k1);
    words[0] = r.x;
    words[1] = r.y;
    words[2] = r.z;
    words[3] = r.w;
}

// Quads m[0..Q) of a row whose length is a multiple of 8: quad m's sites are bytes x0, x0+2,
// x0+4, x0+6 of the segment at r.at + 8m. Every load of the Q quads is issued before any is used,
// and none behind a branch (a missing neighbour, offset 0, loads the segment itself and is
// masked out); Philox runs while they are in flight. A segment goes back as one word: its other
// colour's bytes are rewritten with the values they hold, which the threads reading them as
// neighbours see either way.
template <typename T, int Q>
__host__ __device__ inline void lattice_segments(signed char* s, lattice_dims g,
                                                 const lattice_row& r, const int m[Q],
                                                 unsigned long long first_quad,
                                                 const lattice_launch<T>& a) {
    int at[Q], left_at[Q], right_at[Q];
    unsigned long long mid[Q], cross[Q][4];
    unsigned int left[Q], right[Q];
    #pragma unroll
    for (int q = 0; q < Q; ++q) {
        at[q] = r.at + 8 * m[q];
        // the neighbours of the segment's end bytes along x (d2 >= 8: axis_offsets, shortened)
        left_at[q] = m[q] > 0 ? -1 : (g.periodic ? g.d2 - 1 : 0);
        right_at[q] = 8 * m[q] + 8 < g.d2 ? 1 : (g.periodic ? 1 - g.d2 : 0);
        mid[q] = load8(s + at[q]);
        #pragma unroll
        for (int k = 0; k < 4; ++k) cross[q][k] = load8(s + at[q] + r.cross[k]);
        left[q] = (unsigned char)s[at[q] + left_at[q]];
        right[q] = (unsigned char)s[at[q] + 7 + right_at[q]];
    }
    unsigned int bits[Q][4];
    #pragma unroll
    for (int q = 0; q < Q; ++q)
        if (LATTICE_PHILOX_FIRST) lattice_words(bits[q], first_quad + m[q], a);
    #pragma unroll
    for (int q = 0; q < Q; ++q) {
        if (!LATTICE_PHILOX_FIRST) lattice_words(bits[q], first_quad + m[q], a);
        // byte j: how many of site j's neighbours are high
        unsigned long long high = (mid[q] << 8) + (mid[q] >> 8) + (left_at[q] ? left[q] : 0u)
                                + ((unsigned long long)(right_at[q] ? right[q] : 0u) << 56);
        #pragma unroll
        for (int k = 0; k < 4; ++k) high += r.cross[k] ? cross[q][k] : 0ULL;
        high >>= 8 * r.x0;
        unsigned long long out = 0;
        #pragma unroll
        for (int i = 0; i < 4; ++i) {
            int j = r.x0 + 2 * i;
            int sites = r.n - (j == 0 && !left_at[q]) - (j == 7 && !right_at[q]);
            int sum = (1 - a.low) * (int)((high >> (16 * i)) & 0xFF) + a.low * sites;
            T b = a.table ? (T)0 : a.bias[at[q] + j];
            out |= (unsigned long long)lattice_high<T>(sum, a.table, a.coupling, b, a.scale,
                                                       bits[q][i]) << (16 * i);
        }
        store8(s + at[q], (mid[q] & ~(LATTICE_EVEN_BYTES << (8 * r.x0))) | (out << (8 * r.x0)));
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
    philox4 rnd = philox_at(quad, a.draw, a.k0, a.k1);
    unsigned int bits[4] = {rnd.x, rnd.y, rnd.z, rnd.w};
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
// first_quad + m: LATTICE_GROUP at a time where the row is of segments.
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
// quads. LATTICE_MIN_BLOCKS (4) blocks an SM: at most 64 registers, no spills (sm_90).
// `shared_bias` 1: bias[0] is every site's bias (the table is used), 0: bias has one per site.
#define EBM_LATTICE_KERNEL(T, S)                                                              \
extern "C" __global__ void __launch_bounds__(256, LATTICE_MIN_BLOCKS)                         \
lattice_half_sweep_##S(signed char* states, int d0, int d1, int d2, int periodic,             \
                       unsigned int rows, int colour, T coupling, const T* bias,              \
                       int shared_bias, T scale, int low, EBM_RNG) {                          \
    __shared__ lattice_threshold<T>::type table[LATTICE_TABLE];                               \
    lattice_dims g = {d0, d1, d2, periodic};                                                  \
    if (shared_bias) {                                                                        \
        lattice_fill_table<T>(table, threadIdx.y * blockDim.x + threadIdx.x,                 \
                              blockDim.x * blockDim.y, coupling, bias[0], scale);             \
        __syncthreads();                                                                      \
    }                                                                                         \
    /* read once: a byte store may alias any pointer, so what is read through one is reread */ \
    lattice_launch<T> a = {coupling, bias, shared_bias ? table : 0, scale, low,               \
                           rng_draw(rng, draw_in_step), rng[0], rng[1]};                      \
    int per_row = lattice_quads_per_row(g);                                                   \
    unsigned int u1 = (unsigned int)d1, u0 = (unsigned int)d0;                                \
    for (unsigned int row = blockIdx.y * blockDim.y + threadIdx.y; row < rows;                \
         row += gridDim.y * blockDim.y) {                                                     \
        lattice_row r = lattice_row_at(g, (int)((row / u1) % u0), (int)(row % u1), colour);   \
        signed char* s = states + (unsigned long long)(row / (u1 * u0)) * d0 * d1 * d2;       \
        lattice_row_quads<T>(s, g, r, blockIdx.x * blockDim.x + threadIdx.x,                 \
                             gridDim.x * blockDim.x, (unsigned long long)row * per_row, a);   \
    }                                                                                         \
}

EBM_LATTICE_KERNEL(float, f32)
EBM_LATTICE_KERNEL(double, f64)
