// Philox4x32-10 (Salmon et al. 2011), as in ebmlang/backend/philox.py, which is its reference.
// Host-and-device functions, so the tests can run them on the CPU through nvcc; no headers, so
// NVRTC compiles this text as it stands.
#ifndef EBMLANG_PHILOX_CUH
#define EBMLANG_PHILOX_CUH

struct philox4 { unsigned int x, y, z, w; };

__host__ __device__ inline unsigned int philox_mulhi(unsigned int a, unsigned int b,
                                                    unsigned int* lo) {
    unsigned long long p = (unsigned long long)a * (unsigned long long)b;
    *lo = (unsigned int)p;
    return (unsigned int)(p >> 32);
}

// Counter (c0, c1, c2, c3) = (index lo, index hi, draw lo, draw hi), key (k0, k1).
__host__ __device__ inline philox4 philox4x32(philox4 c, unsigned int k0, unsigned int k1) {
    for (int r = 0; r < 10; ++r) {
        unsigned int lo0, lo1;
        unsigned int hi0 = philox_mulhi(0xD2511F53u, c.x, &lo0);
        unsigned int hi1 = philox_mulhi(0xCD9E8D57u, c.z, &lo1);
        philox4 n = {hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0};
        c = n;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c;
}

// The 10 round keys of a key (k0, k1): round r adds (k0 + r 0x9E3779B9, k1 + r 0xBB67AE85).
struct philox_keys { unsigned int k0[10], k1[10]; };

__host__ __device__ inline philox_keys philox_round_keys(unsigned int k0, unsigned int k1) {
    philox_keys k;
    for (int r = 0; r < 10; ++r) {
        k.k0[r] = k0 + r * 0x9E3779B9u;
        k.k1[r] = k1 + r * 0xBB67AE85u;
    }
    return k;
}

// philox4x32 with its round keys given: a kernel that takes them as parameters reads each as an
// operand rather than adding it up in a register (a tenth of the lattice sweep's instructions).
__host__ __device__ inline philox4 philox4x32_keyed(philox4 c, const philox_keys& k) {
    #pragma unroll
    for (int r = 0; r < 10; ++r) {
        unsigned int lo0, lo1;
        unsigned int hi0 = philox_mulhi(0xD2511F53u, c.x, &lo0);
        unsigned int hi1 = philox_mulhi(0xCD9E8D57u, c.z, &lo1);
        philox4 n = {hi1 ^ c.y ^ k.k0[r], lo1, hi0 ^ c.w ^ k.k1[r], lo0};
        c = n;
    }
    return c;
}

__host__ __device__ inline philox4 philox_at(unsigned long long index, unsigned long long draw,
                                             unsigned int k0, unsigned int k1) {
    philox4 c = {(unsigned int)index, (unsigned int)(index >> 32),
                 (unsigned int)draw, (unsigned int)(draw >> 32)};
    return philox4x32(c, k0, k1);
}

// Top 24 bits -> [0, 1) and (0, 1], exact in float32.
__host__ __device__ inline float philox_uniform(unsigned int bits) {
    return (float)(bits >> 8) * 5.9604644775390625e-08f;
}

__host__ __device__ inline float philox_open_uniform(unsigned int bits) {
    return (float)((bits >> 8) + 1u) * 5.9604644775390625e-08f;
}

#endif
