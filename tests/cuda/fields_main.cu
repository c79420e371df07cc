// Host-side driver of units/cuda/fields.cu for tests/test_fields.py: runs the per-thread
// functions *_field_at for every thread of one launch, on the CPU.
//   fields_main KIND DTYPE N COLS K0 K1 DRAW A B < u (N numbers), bias (COLS), [sigma (COLS)]
//     bernoulli: A = scale, B = low; gaussian: A = root_t; softmax: A = scale, B = k
// prints, per element, its two conditional outputs (logit and prob, or mean and 0) and its draw.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "read_numbers.h"

template <typename T>
static int run(char** a) {
    const char* kind = a[1];
    unsigned long long n = strtoull(a[3], 0, 10), cols = strtoull(a[4], 0, 10);
    unsigned int k0 = (unsigned int)strtoul(a[5], 0, 10), k1 = (unsigned int)strtoul(a[6], 0, 10);
    unsigned long long draw = strtoull(a[7], 0, 10);
    double p = atof(a[8]), q = atof(a[9]);
    std::vector<T> u(n), bias(cols), sigma(cols), first(n), second(n, (T)0), x(n);
    if (!read(u) || !read(bias)) return 2;
    if (!strcmp(kind, "bernoulli")) {
        for (unsigned long long i = 0; i < n; ++i)
            bernoulli_field_at<T, true>(u.data(), bias.data(), first.data(), second.data(),
                                        x.data(), i, cols, (T)p, (T)q, draw, k0, k1);
    } else if (!strcmp(kind, "gaussian")) {
        if (!read(sigma)) return 2;
        for (unsigned long long i = 0; i < n; ++i)
            gaussian_field_at<T, true>(u.data(), bias.data(), sigma.data(), first.data(), x.data(),
                                       i, cols, (T)p, draw, k0, k1);
    } else if (!strcmp(kind, "softmax")) {
        int k = atoi(a[9]);
        for (unsigned long long g = 0; g < n / k; ++g)
            softmax_field_at<T, true>(u.data(), bias.data(), first.data(), second.data(), x.data(),
                                      g, k, cols, (T)p, draw, k0, k1);
    } else {
        return 2;
    }
    for (unsigned long long i = 0; i < n; ++i)
        printf("%.17g %.17g %.17g\n", (double)first[i], (double)second[i], (double)x[i]);
    return 0;
}

int main(int argc, char** argv) {
    if (argc < 10) return 2;
    return strcmp(argv[2], "f64") ? run<float>(argv) : run<double>(argv);
}
