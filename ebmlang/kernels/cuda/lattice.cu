// Checkerboard heat-bath sweep of a lattice of spin (or binary) units: int8 states, many chains,
// random numbers from Philox in registers. Needs backend/cuda/philox.cuh and draws.cu before it.
// Reference: ebmlang/kernels/lattice_gpu.py, reference_half_sweep (the same arithmetic in NumPy).
//
// A chain's sites are (z, y, x) in C order on dims (d0, d1, d2), a lattice of up to 3 axes padded
// with leading 1s. Colour = (z + y + x) mod 2, a proper colouring whenever the lattice is
// bipartite. Along an axis of length d: none for d = 1; wrap-around when periodic and d > 2; else
// the open neighbours (so a periodic axis of 2 has one neighbour, as graph.builders.lattice).
//
// One thread updates a quad: 4 sites of one colour, consecutive among that colour's sites of a
// row (chain, z, y), with the 4 words of one Philox block, counter (quad index, draw): a launch is
// one draw. The launch is 2-D, quads of a row along x and rows along y, so a thread finds its row
// and quad without 64-bit divisions. Two things keep a thread's instruction count near its
// memory traffic, which is what bounds the sweep:
// - when d2 is a multiple of 8, a quad's sites lie in one 8-byte segment of its row, read with
//   the segments above and below (and the 2 bytes at its ends) in 5 loads instead of 16;
// - when every site has the same bias, σ(scale (J s + b)) takes one of 13 values (s = −6..6,
//   the neighbour sums of up to 3 axes), put in a table once per block instead of an exp a site.
// Both give the same numbers as the plain path: the same expression of the same sum.

struct lattice_dims { int d0, d1, d2, periodic; };

#define LATTICE_MAX_SUM 6
#define LATTICE_TABLE (2 * LATTICE_MAX_SUM + 1)

__host__ __device__ inline int lattice_quads_per_row(lattice_dims g) {
    return ((g.d2 + 1) / 2 + 3) / 4;
}

// p(site = 1) = σ(scale (J sum + b)): one expression for the table and the per-site path alike.
template <typename T>
__host__ __device__ inline T lattice_prob(T coupling, int sum, T bias, T scale) {
    T field = coupling * (T)sum + bias;
    return (T)1 / ((T)1 + ebm_exp(-scale * field));
}

// table[s + LATTICE_MAX_SUM] = lattice_prob(s) for s = −6..6, entries i ≡ start (mod step).
template <typename T>
__host__ __device__ inline void lattice_fill_table(T* table, int start, int step, T coupling,
                                                   T bias, T scale) {
    for (int i = start; i < LATTICE_TABLE; i += step)
        table[i] = lattice_prob<T>(coupling, i - LATTICE_MAX_SUM, bias, scale);
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

__host__ __device__ inline int neighbour(const signed char* s, int at, int offset) {
    return offset ? s[at + offset] : 0;
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

__host__ __device__ inline int byte_at(unsigned long long w, int j) {
    return (int)(signed char)(unsigned char)(w >> (8 * j));
}

template <typename T>
__host__ __device__ inline signed char lattice_draw(int sum, const T* table, T coupling, T bias,
                                                    T scale, signed char low, unsigned int bits) {
    T prob = table ? table[sum + LATTICE_MAX_SUM] : lattice_prob<T>(coupling, sum, bias, scale);
    return unit<T>::from_bits(bits) < prob ? (signed char)1 : low;
}

// The sums along y and z of the quad's 4 sites, bytes x0, x0+2, x0+4, x0+6 of the segment at `at`.
__host__ __device__ inline void cross_sums(const signed char* s, lattice_dims g, int z, int y,
                                           int at, int x0, int sums[4]) {
    int offsets[4];
    axis_offsets(y, g.d1, g.d2, g.periodic, &offsets[0], &offsets[1]);
    axis_offsets(z, g.d0, g.d1 * g.d2, g.periodic, &offsets[2], &offsets[3]);
    for (int i = 0; i < 4; ++i) sums[i] = 0;
    for (int k = 0; k < 4; ++k) {
        if (!offsets[k]) continue;
        unsigned long long w = load8(s + at + offsets[k]) >> (8 * x0);
        for (int i = 0; i < 4; ++i) sums[i] += byte_at(w, 2 * i);
    }
}

// The thread of quad `m` of row (chain, z, y) for one colour; `s` is the chain's first site.
// `table` is lattice_fill_table's (one bias for all sites) or null (`bias` per site).
template <typename T>
__host__ __device__ inline void lattice_quad(signed char* s, lattice_dims g, int z, int y, int m,
                                             unsigned long long quad, int colour, T coupling,
                                             const T* bias, const T* table, T scale, signed char low,
                                             unsigned long long draw, unsigned int k0, unsigned int k1) {
    int x0 = (colour + z + y) & 1, row = (z * g.d1 + y) * g.d2;
    philox4 r = philox_at(quad, draw, k0, k1);
    unsigned int words[4] = {r.x, r.y, r.z, r.w};
    if ((g.d2 & 7) == 0) {             // the quad's sites: bytes x0, x0+2, .. of one segment
        int at = row + 8 * m, lo, hi, sums[4];
        cross_sums(s, g, z, y, at, x0, sums);
        unsigned long long mid = load8(s + at);
        axis_offsets(8 * m, g.d2, 1, g.periodic, &lo, &hi);
        int left = neighbour(s, at, lo);
        axis_offsets(8 * m + 7, g.d2, 1, g.periodic, &lo, &hi);
        int right = neighbour(s, at + 7, hi);
        for (int i = 0; i < 4; ++i) {
            int j = x0 + 2 * i;
            int sum = sums[i] + (j > 0 ? byte_at(mid, j - 1) : left)
                    + (j < 7 ? byte_at(mid, j + 1) : right);
            T b = table ? (T)0 : bias[at + j];
            s[at + j] = lattice_draw<T>(sum, table, coupling, b, scale, low, words[i]);
        }
        return;
    }
    for (int i = 0; i < 4; ++i) {
        int x = x0 + 2 * (4 * m + i);
        if (x >= g.d2) break;
        int at = row + x, sum = 0, lo, hi;
        axis_offsets(x, g.d2, 1, g.periodic, &lo, &hi);
        sum += neighbour(s, at, lo) + neighbour(s, at, hi);
        axis_offsets(y, g.d1, g.d2, g.periodic, &lo, &hi);
        sum += neighbour(s, at, lo) + neighbour(s, at, hi);
        axis_offsets(z, g.d0, g.d1 * g.d2, g.periodic, &lo, &hi);
        sum += neighbour(s, at, lo) + neighbour(s, at, hi);
        T b = table ? (T)0 : bias[at];
        s[at] = lattice_draw<T>(sum, table, coupling, b, scale, low, words[i]);
    }
}

// Launch: block (bx, by) of 256 threads (lattice_gpu.BLOCK), grid (⌈quads per row / bx⌉, up to
// ⌈rows / by⌉); rows = chains·d0·d1. 4 blocks an SM: 64 registers, no spills (sm_90).
// `shared_bias` 1: bias[0] is every site's bias (the table is used), 0: bias has one per site.
#define EBM_LATTICE_KERNEL(T, S)                                                              \
extern "C" __global__ void __launch_bounds__(256, 4)                                          \
lattice_half_sweep_##S(signed char* states, int d0, int d1, int d2, int periodic,             \
                       unsigned int rows, int colour, T coupling, const T* bias,              \
                       int shared_bias, T scale, signed char low, EBM_RNG) {                  \
    __shared__ T table[LATTICE_TABLE];                                                        \
    lattice_dims g = {d0, d1, d2, periodic};                                                  \
    if (shared_bias) {                                                                        \
        lattice_fill_table<T>(table, threadIdx.y * blockDim.x + threadIdx.x,                 \
                              blockDim.x * blockDim.y, coupling, bias[0], scale);             \
        __syncthreads();                                                                      \
    }                                                                                         \
    int per_row = lattice_quads_per_row(g);                                                   \
    unsigned long long draw = rng_draw(rng, draw_in_step);                                    \
    const T* probs = shared_bias ? table : (const T*)0;                                       \
    unsigned int u1 = (unsigned int)d1, u0 = (unsigned int)d0;                                \
    for (unsigned int row = blockIdx.y * blockDim.y + threadIdx.y; row < rows;                \
         row += gridDim.y * blockDim.y) {                                                     \
        int y = (int)(row % u1), z = (int)((row / u1) % u0);                                  \
        signed char* s = states + (unsigned long long)(row / (u1 * u0)) * d0 * d1 * d2;       \
        for (int m = blockIdx.x * blockDim.x + threadIdx.x; m < per_row;                      \
             m += gridDim.x * blockDim.x)                                                     \
            lattice_quad<T>(s, g, z, y, m, (unsigned long long)row * per_row + m, colour,     \
                            coupling, bias, probs, scale, low, draw, rng[0], rng[1]);         \
    }                                                                                         \
}

EBM_LATTICE_KERNEL(float, f32)
EBM_LATTICE_KERNEL(double, f64)
