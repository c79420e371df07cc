// Host-side driver of data/cuda/rows.cu for tests/test_sparse_rows.py: runs scatter_row_at for
// every thread of one launch, on the CPU.
//   rows_main DTYPE ROWS WIDTH NNZ BATCH < indptr (ROWS + 1), columns (NNZ), values (NNZ), rows (BATCH)
// prints the dense (BATCH, WIDTH) minibatch, one number per entry.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "read_numbers.h"

template <typename T>
static int run(char** a) {
    unsigned long long rows = strtoull(a[2], 0, 10), width = strtoull(a[3], 0, 10);
    unsigned long long nnz = strtoull(a[4], 0, 10), batch = strtoull(a[5], 0, 10);
    std::vector<long long> indptr(rows + 1), columns(nnz), picked(batch);
    std::vector<T> values(nnz), out(batch * width, (T)0);
    if (!read(indptr) || !read(columns) || !read(values) || !read(picked)) return 2;
    for (unsigned long long b = 0; b < batch; ++b)
        for (unsigned int lane = 0; lane < EBM_ROW_LANES; ++lane)
            scatter_row_at<T>(indptr.data(), columns.data(), values.data(), picked.data(),
                              out.data(), width, b, lane);
    for (auto x : out) printf("%.17g\n", (double)x);
    return 0;
}

int main(int argc, char** argv) {
    if (argc < 6) return 2;
    return strcmp(argv[1], "f64") ? run<float>(argv) : run<double>(argv);
}
