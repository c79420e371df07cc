// Host-side driver of kernels/cuda/lattice.cu for tests/test_cuda_kernels.py: runs the kernel's
// per-thread functions for every thread of one launch, on the CPU, with the table of thresholds
// the kernel fills when every site has the same bias (BIAS_STRIDE 0).
//   lattice_main DTYPE CHAINS D0 D1 D2 PERIODIC COLOUR J SCALE LOW STEP K0 K1 BIAS_STRIDE STRIDE
//                BAND
// (STRIDE: a thread's quads of a row are m ≡ t mod STRIDE, t < STRIDE, as a launch gx·bx wide;
// BAND > 0 and D2 a multiple of 16: the column walk, BAND rows a thread, as the kernel does)
//     < the chains' high bits (CHAINS*D0*D1*D2 ints, 1 for the state 1, 0 for LOW), then the
//       bias (1 or D0*D1*D2 numbers)
// prints the new high bits, one per line.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <algorithm>

template <typename T>
static int run(char** a) {
    int chains = atoi(a[2]);
    lattice_dims g = {atoi(a[3]), atoi(a[4]), atoi(a[5]), atoi(a[6])};
    int colour = atoi(a[7]), bias_stride = atoi(a[14]);
    T coupling = (T)atof(a[8]), scale = (T)atof(a[9]);
    int low = atoi(a[10]);
    unsigned long long step = strtoull(a[11], 0, 10);
    unsigned int k0 = (unsigned int)strtoul(a[12], 0, 10), k1 = (unsigned int)strtoul(a[13], 0, 10);
    size_t sites = (size_t)g.d0 * g.d1 * g.d2;
    std::vector<signed char> s(chains * sites);
    std::vector<T> bias(bias_stride ? sites : 1);
    for (auto& v : s) { int x; if (scanf("%d", &x) != 1) return 2; v = (signed char)x; }
    for (auto& v : bias) { double x; if (scanf("%lf", &x) != 1) return 2; v = (T)x; }
    typename lattice_threshold<T>::type table[LATTICE_TABLE];
    if (!bias_stride) lattice_fill_table<T>(table, 0, 1, coupling, bias[0], scale);
    lattice_launch<T> launch = {coupling, bias.data(), bias_stride ? nullptr : table, scale, low,
                                step, philox_round_keys(k0, k1)};
    int per_row = lattice_quads_per_row(g), stride = atoi(a[15]), band = atoi(a[16]);
    if (band > 0 && g.d2 % 16 == 0) {
        for (unsigned int plane = 0; plane < (unsigned int)(chains * g.d0); ++plane)
            for (int y0 = 0; y0 < g.d1; y0 += band)
                for (int c = 0; c < g.d2 / 16; ++c)
                    lattice_walk_band<T>(s.data(), g, plane, c, y0, std::min(y0 + band, g.d1),
                                         colour, launch);
    } else {
        for (unsigned int row = 0; row < (unsigned int)(chains * g.d0 * g.d1); ++row) {
            int y = row % g.d1, z = (row / g.d1) % g.d0, chain = row / (g.d1 * g.d0);
            lattice_row r = lattice_row_at(g, z, y, colour);
            for (int first = 0; first < stride; ++first)
                lattice_row_quads<T>(s.data() + (size_t)chain * sites, g, r, first, stride,
                                     (unsigned long long)row * per_row, launch);
        }
    }
    for (auto v : s) printf("%d\n", (int)v);
    return 0;
}

int main(int argc, char** argv) {
    if (argc < 17) return 2;
    return strcmp(argv[1], "f64") ? run<float>(argv) : run<double>(argv);
}
