// One site of the lattice sweep (lattice.cu): the lattice's shape, the probability that a site
// goes high, as a float and as an integer threshold on Philox bits, what a launch shares, a
// site's neighbours' offsets along an axis, and the words in which the sweep reads and writes
// sites. Needs backend/cuda/philox.cuh and draws.cu before it, lattice_walk.cu and lattice.cu
// after it.

struct lattice_dims { int d0, d1, d2, periodic; };

__host__ __device__ inline int lattice_quads_per_row(lattice_dims g) {
    return ((g.d2 + 1) / 2 + 3) / 4;
}

#define LATTICE_MAX_SUM 6
#define LATTICE_TABLE (2 * LATTICE_MAX_SUM + 1)

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
    philox_keys keys;
};

// The 4 Philox words of quad `quad` (its counter (quad, draw)), one a site.
template <typename T>
__host__ __device__ inline void lattice_words(unsigned int words[4], unsigned long long quad,
                                              const lattice_launch<T>& a) {
    philox4 c = {(unsigned int)quad, (unsigned int)(quad >> 32), (unsigned int)a.draw,
                 (unsigned int)(a.draw >> 32)};
    philox4 r = philox4x32_keyed(c, a.keys);
    words[0] = r.x;
    words[1] = r.y;
    words[2] = r.z;
    words[3] = r.w;
}

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
