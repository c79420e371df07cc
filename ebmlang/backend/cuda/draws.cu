// Fused random draws: each element's bits are philox(counter = (element, draw), key), computed
// in registers, so one launch turns a field into a sample with no stored random numbers.
// Reference: ebmlang/backend/draws.py, reference_* (the same arithmetic in NumPy).
//
// A kernel reads the key and the step from the Rng's device state `rng` = (k0, k1, step): the
// 64-bit draw counter is (step << 32) | draw, with `draw` the launch's index within the step.
// A CUDA graph captured once then draws fresh numbers at each replay, as the step advances.

__host__ __device__ inline float ebm_exp(float x) { return expf(x); }
__host__ __device__ inline double ebm_exp(double x) { return exp(x); }
__host__ __device__ inline float ebm_log(float x) { return logf(x); }
__host__ __device__ inline double ebm_log(double x) { return log(x); }
__host__ __device__ inline float ebm_sqrt(float x) { return sqrtf(x); }
__host__ __device__ inline double ebm_sqrt(double x) { return sqrt(x); }
__host__ __device__ inline float ebm_cos(float x) { return cosf(x); }
__host__ __device__ inline double ebm_cos(double x) { return cos(x); }

// Uniforms from one Philox block: float32 takes 24 bits of one word, float64 53 bits of two.
template <typename T> struct unit;
template <> struct unit<float> {
    __host__ __device__ static float first(philox4 r) { return philox_uniform(r.x); }          // [0, 1)
    __host__ __device__ static float first_open(philox4 r) { return philox_open_uniform(r.x); } // (0, 1]
    __host__ __device__ static float second(philox4 r) { return philox_uniform(r.y); }
    __host__ __device__ static float from_bits(unsigned int bits) { return philox_uniform(bits); }
};
template <> struct unit<double> {
    __host__ __device__ static double bits53(unsigned int a, unsigned int b, unsigned int add) {
        return ((double)(a >> 5) * 67108864.0 + (double)((b >> 6) + add)) * 1.1102230246251565e-16;
    }
    __host__ __device__ static double first(philox4 r) { return bits53(r.x, r.y, 0u); }
    __host__ __device__ static double first_open(philox4 r) { return bits53(r.x, r.y, 1u); }
    __host__ __device__ static double second(philox4 r) { return bits53(r.z, r.w, 0u); }
    __host__ __device__ static double from_bits(unsigned int bits) {       // one word: 32 bits
        return (double)bits * 2.3283064365386963e-10;
    }
};

template <typename T>
__host__ __device__ inline T draw_uniform(unsigned long long i, unsigned long long draw,
                                          unsigned int k0, unsigned int k1) {
    return unit<T>::first(philox_at(i, draw, k0, k1));
}

// Box-Muller: sqrt(-2 log u1) cos(2 pi u2), u1 in (0, 1].
template <typename T>
__host__ __device__ inline T draw_normal(unsigned long long i, unsigned long long draw,
                                         unsigned int k0, unsigned int k1) {
    philox4 r = philox_at(i, draw, k0, k1);
    T radius = ebm_sqrt((T)-2 * ebm_log(unit<T>::first_open(r)));
    return radius * ebm_cos((T)6.283185307179586 * unit<T>::second(r));
}

// x = 1 with probability sigmoid(logit), else `low` (0 for binary units, -1 for spins).
template <typename T>
__host__ __device__ inline T draw_bernoulli_logit(T logit, T low, unsigned long long i,
                                                  unsigned long long draw, unsigned int k0,
                                                  unsigned int k1) {
    T prob = (T)1 / ((T)1 + ebm_exp(-logit));
    return draw_uniform<T>(i, draw, k0, k1) < prob ? (T)1 : low;
}

// Index of the category of group g: the number of cumulative probabilities below u, at most k-1.
template <typename T>
__host__ __device__ inline int draw_category(const T* probs, int k, unsigned long long g,
                                             unsigned long long draw, unsigned int k0,
                                             unsigned int k1) {
    T u = draw_uniform<T>(g, draw, k0, k1), total = 0;
    int index = 0;
    for (int j = 0; j < k; ++j) {
        total += probs[j];
        index += total < u;
    }
    return index < k - 1 ? index : k - 1;
}

__host__ __device__ inline unsigned long long rng_draw(const unsigned int* rng, unsigned int draw) {
    return ((unsigned long long)rng[2] << 32) | draw;
}

#define EBM_RNG const unsigned int* rng, unsigned int draw_in_step
#define EBM_KEY rng_draw(rng, draw_in_step), rng[0], rng[1]

#define EBM_GRID_LOOP(i, n) \
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (unsigned long long)gridDim.x * blockDim.x)

#define EBM_DRAW_KERNELS(T, S)                                                                     \
extern "C" __global__ void uniform_##S(T* out, unsigned long long n, EBM_RNG) {                    \
    EBM_GRID_LOOP(i, n) out[i] = draw_uniform<T>(i, EBM_KEY);                                      \
}                                                                                                  \
extern "C" __global__ void gaussian_##S(const T* mean, const T* std, T* out, unsigned long long n, \
                                        int std_is_row, unsigned long long row, EBM_RNG) {         \
    EBM_GRID_LOOP(i, n) {                                                                          \
        T s = std_is_row ? std[i % row] : std[i];                                                  \
        out[i] = mean[i] + s * draw_normal<T>(i, EBM_KEY);                                         \
    }                                                                                              \
}                                                                                                  \
extern "C" __global__ void normal_##S(T* out, unsigned long long n, EBM_RNG) {                     \
    EBM_GRID_LOOP(i, n) out[i] = draw_normal<T>(i, EBM_KEY);                                       \
}                                                                                                  \
extern "C" __global__ void bernoulli_##S(const T* logit, T* out, unsigned long long n, T low,      \
                                         EBM_RNG) {                                                \
    EBM_GRID_LOOP(i, n) out[i] = draw_bernoulli_logit<T>(logit[i], low, i, EBM_KEY);               \
}                                                                                                  \
extern "C" __global__ void one_hot_##S(const T* probs, T* out, unsigned long long groups, int k,   \
                                       EBM_RNG) {                                                  \
    EBM_GRID_LOOP(g, groups) {                                                                     \
        int index = draw_category<T>(probs + g * k, k, g, EBM_KEY);                                \
        for (int j = 0; j < k; ++j) out[g * k + j] = (T)(j == index);                              \
    }                                                                                              \
}

EBM_DRAW_KERNELS(float, f32)
EBM_DRAW_KERNELS(double, f64)

// The Rng's step += 1 (one thread): inside a captured graph it advances the stream per replay.
extern "C" __global__ void rng_advance(unsigned int* rng) { rng[2] += 1u; }
