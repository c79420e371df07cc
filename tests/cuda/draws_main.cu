// Host-side driver of backend/cuda/draws.cu for tests/test_cuda_sources.py: nvcc builds the
// kernels' own __host__ __device__ functions into this CPU program, which prints what each one
// computes for element 0..n-1, so the tests compare the CUDA source to the NumPy references on a
// machine without a GPU.
//   draws_main KIND DTYPE N K0 K1 DRAW [LOW|K] < inputs      (inputs: one number per line)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

template <typename T>
static int run(const char* kind, unsigned long long n, unsigned int k0, unsigned int k1,
               unsigned long long draw, double extra) {
    if (!strcmp(kind, "philox")) {
        for (unsigned long long i = 0; i < n; ++i) {
            philox4 r = philox_at(i, draw, k0, k1);
            printf("%u %u %u %u\n", r.x, r.y, r.z, r.w);
        }
    } else if (!strcmp(kind, "uniform") || !strcmp(kind, "normal")) {
        for (unsigned long long i = 0; i < n; ++i)
            printf("%.17g\n", (double)(kind[0] == 'u' ? draw_uniform<T>(i, draw, k0, k1)
                                                       : draw_normal<T>(i, draw, k0, k1)));
    } else if (!strcmp(kind, "bernoulli")) {
        for (unsigned long long i = 0; i < n; ++i) {
            double logit;
            if (scanf("%lf", &logit) != 1) return 2;
            printf("%.17g\n", (double)draw_bernoulli_logit<T>((T)logit, (T)extra, i, draw, k0, k1));
        }
    } else if (!strcmp(kind, "category")) {           // n groups of k = extra probabilities
        int k = (int)extra;
        std::vector<T> p(k);
        for (unsigned long long g = 0; g < n; ++g) {
            for (int j = 0; j < k; ++j) {
                double v;
                if (scanf("%lf", &v) != 1) return 2;
                p[j] = (T)v;
            }
            printf("%d\n", draw_category<T>(p.data(), k, g, draw, k0, k1));
        }
    } else {
        return 2;
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc < 7) return 2;
    unsigned long long n = strtoull(argv[3], 0, 10), draw = strtoull(argv[6], 0, 10);
    unsigned int k0 = (unsigned int)strtoul(argv[4], 0, 10), k1 = (unsigned int)strtoul(argv[5], 0, 10);
    double extra = argc > 7 ? atof(argv[7]) : 0.0;
    return strcmp(argv[2], "f64") ? run<float>(argv[1], n, k0, k1, draw, extra)
                                  : run<double>(argv[1], n, k0, k1, draw, extra);
}
