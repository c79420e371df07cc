// A minibatch of sparse rows made dense on the device (data/sparse.py, DeviceRows). Row b of the
// batch is CSR row r = rows[b]: its entries indptr[r] ... indptr[r + 1] - 1 go to
// out[b, columns[j]] = values[j], over an `out` already zeroed. A warp of LANES threads shares a
// row, each taking every LANES-th entry, so a row's writes are one coalesced sweep.

#define EBM_ROW_LANES 32

template <typename T>
__host__ __device__ inline void scatter_row_at(const long long* indptr, const long long* columns,
                                               const T* values, const long long* rows, T* out,
                                               unsigned long long width, unsigned long long b,
                                               unsigned int lane) {
    long long r = rows[b];
    for (long long j = indptr[r] + lane; j < indptr[r + 1]; j += EBM_ROW_LANES)
        out[b * width + (unsigned long long)columns[j]] = values[j];
}

// n = batch rows × EBM_ROW_LANES threads, grid-stride
#define EBM_ROWS_KERNEL(T, S)                                                                      \
extern "C" __global__ void scatter_rows_##S(const long long* indptr, const long long* columns,     \
                                            const T* values, const long long* rows, T* out,        \
                                            unsigned long long width, unsigned long long n) {      \
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;  \
         i += (unsigned long long)gridDim.x * blockDim.x)                                          \
        scatter_row_at<T>(indptr, columns, values, rows, out, width, i / EBM_ROW_LANES,            \
                          (unsigned int)(i % EBM_ROW_LANES));                                      \
}

EBM_ROWS_KERNEL(float, f32)
EBM_ROWS_KERNEL(double, f64)
