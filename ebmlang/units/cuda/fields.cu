// Fused conditionals of the unit types: one launch turns a layer's input u (batch, n) and its
// per-unit rows (bias, sigma) into the conditional's parameters and, in the *_draw variants, a
// sample from it, with the random numbers computed in registers. Needs backend/cuda/philox.cuh
// and draws.cu before it. Reference: ebmlang/units/fields.py, reference_* (the same arithmetic).
//
//   bernoulli  logit = (u + b)·scale, prob = ½(1 + tanh(logit/2)),
//              x = 1 if uniform < prob else low    (binary: scale 1/T, low 0; spin: 2/T, −1)
//   gaussian   mean = b + σu, x = mean + σ·root_t·z    (root_t = √T; b is the mean μ)
//   softmax    per group of k: logits = (u + b)·scale, probs = softmax(logits), x one-hot
//
// Element i of a (batch, n) array is unit i mod n; softmax group g covers elements k·g .. k·g+k−1,
// never across a row. A draw takes the counters of draws.cu:
// (element or group, (step << 32) | draw).

__host__ __device__ inline float ebm_tanh(float x) { return tanhf(x); }
__host__ __device__ inline double ebm_tanh(double x) { return tanh(x); }

template <typename T>
__host__ __device__ inline T ebm_sigmoid(T z) { return (T)0.5 * ((T)1 + ebm_tanh((T)0.5 * z)); }

// One softmax group of k units: its logits and probabilities (max-shifted exponentials).
template <typename T>
__host__ __device__ inline void softmax_group(const T* u, const T* b, T scale, int k, T* logits,
                                              T* probs) {
    T top = (u[0] + b[0]) * scale, total = 0;
    for (int j = 0; j < k; ++j) {
        logits[j] = (u[j] + b[j]) * scale;
        top = logits[j] > top ? logits[j] : top;
    }
    for (int j = 0; j < k; ++j) {
        probs[j] = ebm_exp(logits[j] - top);
        total += probs[j];
    }
    for (int j = 0; j < k; ++j) probs[j] /= total;
}

// What one thread does for element i (bernoulli, gaussian) or group g (softmax) of a (batch, n)
// input of `cols` = n units. DRAW = false writes no x and ignores the counter (draw, k0, k1).
template <typename T, bool DRAW>
__host__ __device__ inline void bernoulli_field_at(const T* u, const T* bias, T* logit, T* prob,
                                                   T* x, unsigned long long i,
                                                   unsigned long long cols, T scale, T low,
                                                   unsigned long long draw, unsigned int k0,
                                                   unsigned int k1) {
    T l = (u[i] + bias[i % cols]) * scale, p = ebm_sigmoid(l);
    logit[i] = l;
    prob[i] = p;
    if (DRAW) x[i] = draw_uniform<T>(i, draw, k0, k1) < p ? (T)1 : low;
}

template <typename T, bool DRAW>
__host__ __device__ inline void gaussian_field_at(const T* u, const T* bias, const T* sigma,
                                                  T* mean, T* x, unsigned long long i,
                                                  unsigned long long cols, T root_t,
                                                  unsigned long long draw, unsigned int k0,
                                                  unsigned int k1) {
    unsigned long long c = i % cols;
    T m = bias[c] + sigma[c] * u[i];
    mean[i] = m;
    if (DRAW) x[i] = m + sigma[c] * root_t * draw_normal<T>(i, draw, k0, k1);
}

template <typename T, bool DRAW>
__host__ __device__ inline void softmax_field_at(const T* u, const T* bias, T* logits, T* probs,
                                                 T* x, unsigned long long g, int k,
                                                 unsigned long long cols, T scale,
                                                 unsigned long long draw, unsigned int k0,
                                                 unsigned int k1) {
    unsigned long long at = g * k;
    softmax_group<T>(u + at, bias + at % cols, scale, k, logits + at, probs + at);
    if (DRAW) {
        int index = draw_category<T>(probs + at, k, g, draw, k0, k1);
        for (int j = 0; j < k; ++j) x[at + j] = (T)(j == index);
    }
}

// The grid-stride launches: the *_draw variants read the counter from the Rng's state.
#define EBM_NO_KEY 0ull, 0u, 0u
#define EBM_FIELD_KERNELS(T, S)                                                                    \
extern "C" __global__ void bernoulli_field_##S(const T* u, const T* bias, T* logit, T* prob,       \
                                               unsigned long long n, unsigned long long cols,      \
                                               T scale) {                                          \
    EBM_GRID_LOOP(i, n)                                                                            \
        bernoulli_field_at<T, false>(u, bias, logit, prob, 0, i, cols, scale, 0, EBM_NO_KEY);      \
}                                                                                                  \
extern "C" __global__ void bernoulli_field_draw_##S(const T* u, const T* bias, T* logit, T* prob,  \
                                                    T* x, unsigned long long n,                    \
                                                    unsigned long long cols, T scale, T low,       \
                                                    EBM_RNG) {                                     \
    EBM_GRID_LOOP(i, n)                                                                            \
        bernoulli_field_at<T, true>(u, bias, logit, prob, x, i, cols, scale, low, EBM_KEY);        \
}                                                                                                  \
extern "C" __global__ void gaussian_field_##S(const T* u, const T* bias, const T* sigma, T* mean, \
                                              unsigned long long n, unsigned long long cols) {     \
    EBM_GRID_LOOP(i, n)                                                                            \
        gaussian_field_at<T, false>(u, bias, sigma, mean, 0, i, cols, 1, EBM_NO_KEY);              \
}                                                                                                  \
extern "C" __global__ void gaussian_field_draw_##S(const T* u, const T* bias, const T* sigma,      \
                                                   T* mean, T* x, unsigned long long n,            \
                                                   unsigned long long cols, T root_t, EBM_RNG) {   \
    EBM_GRID_LOOP(i, n)                                                                            \
        gaussian_field_at<T, true>(u, bias, sigma, mean, x, i, cols, root_t, EBM_KEY);             \
}                                                                                                  \
extern "C" __global__ void softmax_field_##S(const T* u, const T* bias, T* logits, T* probs,       \
                                             unsigned long long groups, int k,                     \
                                             unsigned long long cols, T scale) {                   \
    EBM_GRID_LOOP(g, groups)                                                                       \
        softmax_field_at<T, false>(u, bias, logits, probs, 0, g, k, cols, scale, EBM_NO_KEY);      \
}                                                                                                  \
extern "C" __global__ void softmax_field_draw_##S(const T* u, const T* bias, T* logits, T* probs,  \
                                                  T* x, unsigned long long groups, int k,          \
                                                  unsigned long long cols, T scale, EBM_RNG) {     \
    EBM_GRID_LOOP(g, groups)                                                                       \
        softmax_field_at<T, true>(u, bias, logits, probs, x, g, k, cols, scale, EBM_KEY);          \
}

EBM_FIELD_KERNELS(float, f32)
EBM_FIELD_KERNELS(double, f64)
