// Checkerboard heat-bath sweep of a lattice of spin (or binary) units: int8 states, many chains,
// random numbers from Philox in registers. Needs backend/cuda/philox.cuh and draws.cu before it.
// Reference: ebmlang/kernels/lattice_gpu.py, reference_half_sweep (the same arithmetic in NumPy).
//
// A chain's sites are (z, y, x) in C order on dims (d0, d1, d2), a 1-D or 2-D lattice padded with
// leading 1s. Colour = (z + y + x) mod 2, a proper colouring whenever the lattice is bipartite.
// Along an axis of length d: none for d = 1; wrap-around when periodic and d > 2; else the open
// neighbours (so a periodic axis of 2 has one neighbour, as ebmlang.graph.builders.lattice).
//
// One thread updates a quad: 4 sites of one colour, consecutive among that colour's sites of a
// row, with the 4 words of one Philox block, counter (quad index, draw): a launch is one draw.

struct lattice_dims { int d0, d1, d2, periodic; };

__host__ __device__ inline int lattice_quads_per_row(lattice_dims g) {
    return ((g.d2 + 1) / 2 + 3) / 4;
}

__host__ __device__ inline int axis_pair(const signed char* s, int at, int pos, int d, int stride,
                                         int periodic) {
    if (d == 1) return 0;
    if (periodic && d > 2)
        return s[at + (pos == 0 ? d - 1 : -1) * stride]
             + s[at + (pos == d - 1 ? 1 - d : 1) * stride];
    return (pos > 0 ? s[at - stride] : 0) + (pos < d - 1 ? s[at + stride] : 0);
}

// The new state of the site at (z, y, x) of the chain starting at `s`, from uniform bits `bits`:
// 1 with probability sigmoid(scale (J sum + bias)), else `low`.
template <typename T>
__host__ __device__ inline signed char lattice_site(const signed char* s, lattice_dims g, int z, int y,
                                                    int x, T coupling, T bias, T scale, signed char low,
                                                    unsigned int bits) {
    int at = (z * g.d1 + y) * g.d2 + x;
    int sum = axis_pair(s, at, x, g.d2, 1, g.periodic) + axis_pair(s, at, y, g.d1, g.d2, g.periodic)
            + axis_pair(s, at, z, g.d0, g.d1 * g.d2, g.periodic);
    T field = coupling * (T)sum + bias;
    T prob = (T)1 / ((T)1 + ebm_exp(-scale * field));
    return unit<T>::from_bits(bits) < prob ? (signed char)1 : low;
}

// The work of thread `quad` for one colour; `bias_stride` 0 reads one shared bias, 1 a site's own.
template <typename T>
__host__ __device__ inline void lattice_quad(signed char* states, lattice_dims g, unsigned long long quad,
                                             int colour, T coupling, const T* bias, int bias_stride,
                                             T scale, signed char low, unsigned long long draw,
                                             unsigned int k0, unsigned int k1) {
    unsigned long long per_row = lattice_quads_per_row(g);
    unsigned long long row = quad / per_row;                 // (chain, z, y) flattened
    int m0 = (int)(quad % per_row) * 4;
    int y = (int)(row % g.d1), z = (int)((row / g.d1) % g.d0);
    unsigned long long chain = row / ((unsigned long long)g.d1 * g.d0);
    signed char* s = states + chain * (unsigned long long)g.d0 * g.d1 * g.d2;
    int x0 = (colour + z + y) & 1;
    philox4 r = philox_at(quad, draw, k0, k1);
    unsigned int words[4] = {r.x, r.y, r.z, r.w};
    for (int j = 0; j < 4; ++j) {
        int x = x0 + 2 * (m0 + j);
        if (x >= g.d2) break;
        int at = (z * g.d1 + y) * g.d2 + x;
        T b = bias[at * bias_stride];
        s[at] = lattice_site<T>(s, g, z, y, x, coupling, b, scale, low, words[j]);
    }
}

#define EBM_LATTICE_KERNEL(T, S)                                                                   \
extern "C" __global__ void lattice_half_sweep_##S(signed char* states, int d0, int d1, int d2,     \
                                                  int periodic, unsigned long long quads, int colour, T coupling, \
                                                  const T* bias, int bias_stride, T scale,          \
                                                  signed char low, EBM_RNG) {                       \
    lattice_dims g = {d0, d1, d2, periodic};                                                       \
    EBM_GRID_LOOP(q, quads)                                                                        \
        lattice_quad<T>(states, g, q, colour, coupling, bias, bias_stride, scale, low, EBM_KEY);     \
}

EBM_LATTICE_KERNEL(float, f32)
EBM_LATTICE_KERNEL(double, f64)
