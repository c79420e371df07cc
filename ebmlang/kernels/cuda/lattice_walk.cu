// The column walk: the path for a launch whose rows are of 16-byte chunks (d2 a multiple of 16).
// Needs lattice_site.cu before it; lattice.cu's lattice_walk_* kernels call lattice_walk_launch.
//
// A thread takes one chunk (16 sites, 8 of the colour: quads 2c and 2c + 1 of a row) of every
// row of a band of `band` rows of one plane (chain, z), walking down the rows. A row's neighbours
// along y are the rows above and below, so each row is read once for three uses (kept in a
// window of registers, the next one read ahead of the store) instead of three times, and the 8
// counts of a chunk's high neighbours are gathered into two words by byte permutes (PRMT): a
// quad's 4 sites, one byte each. With W bytes a threshold (4 for float32, 8 for float64), a byte
// becomes the site's byte offset into the table: W (sum + 6), where sum = (1 − low) u + low n,
// u of its n neighbours high. So a site costs a permute, a shared load, a compare and a select
// beside its share of one Philox block, and every other instruction is paid once a row.
// The rows alternate their colour's parity (x0 = (colour + z + y) mod 2); each parity is a
// template, so every byte permute's selector is a constant.
//
// Writes race as in lattice.cu's row path, harmlessly: a chunk is stored whole, its other
// colour's bytes with the values they hold, and those are all that other threads read of it.

// 16 sites of a row (16-byte aligned on the device): byte j of the chunk is byte j % 4 of w[j / 4].
struct alignas(16) lattice_chunk { unsigned int w[4]; };

__host__ __device__ inline lattice_chunk load16(const signed char* p) {
#ifdef __CUDA_ARCH__
    return *reinterpret_cast<const lattice_chunk*>(p);
#else
    lattice_chunk c = {{0, 0, 0, 0}};
    for (int j = 0; j < 16; ++j) c.w[j / 4] |= (unsigned int)(unsigned char)p[j] << (8 * (j % 4));
    return c;
#endif
}

__host__ __device__ inline void store16(signed char* p, const lattice_chunk& c) {
#ifdef __CUDA_ARCH__
    *reinterpret_cast<lattice_chunk*>(p) = c;
#else
    for (int j = 0; j < 16; ++j) p[j] = (signed char)(unsigned char)(c.w[j / 4] >> (8 * (j % 4)));
#endif
}

// CUDA's __byte_perm(x, y, s): byte k of the result is byte (s >> 4k) & 7 of the 8 bytes y:x.
__host__ __device__ inline unsigned int lattice_perm(unsigned int x, unsigned int y,
                                                     unsigned int s) {
#ifdef __CUDA_ARCH__
    return __byte_perm(x, y, s);
#else
    unsigned long long v = ((unsigned long long)y << 32) | x;
    unsigned int r = 0;
    for (int k = 0; k < 4; ++k)
        r |= (unsigned int)(v >> (8 * ((s >> (4 * k)) & 7)) & 0xFF) << (8 * k);
    return r;
#endif
}

// Bytes X, X+2, X+4, X+6 of quad q's 8 bytes of a chunk: the sites of parity X.
template <int X>
__host__ __device__ inline unsigned int lattice_parity_bytes(const lattice_chunk& c, int q) {
    return lattice_perm(c.w[2 * q], c.w[2 * q + 1], X ? 0x7531 : 0x6420);
}

// What a thread's walk keeps: the constants of its column and plane, its window of rows, and
// the Philox counter of its chunk's first quad in the current row.
template <typename T>
struct lattice_walk {
    typedef typename lattice_threshold<T>::type threshold;
    signed char* column;            // the chunk in row 0 of the plane
    lattice_dims g;
    int site0;                      // its first site within the chain (row 0)
    int left, right;                // offsets from its first byte to the byte left of it and
    bool has_left, has_right;       // from its first to the byte right of its last; none there
    int front, back;                // offsets to the planes z ∓ 1, 0 where there is none
    bool wrap_y;                    // rows 0 and d1 − 1 neighbours
    unsigned int gain;              // W (1 − low): a high neighbour's weight in a table offset
    unsigned int left_fix, right_fix;  // table-offset corrections of a site missing a neighbour
    unsigned long long quad;        // Philox counter of quad 2c of the current row
    int per_row;                    // quads a row
    lattice_chunk up, mid, down;    // rows y − 1, y, y + 1 of the chunk (zeros where none)
    lattice_launch<T> a;

    __host__ __device__ bool has_up(int y) const { return y > 0 || wrap_y; }
    __host__ __device__ bool has_down(int y) const { return y < g.d1 - 1 || wrap_y; }

    // The chunk of row y + 1 (or of row 0, wrapped; zeros where there is none).
    __host__ __device__ lattice_chunk below(int y) const {
        lattice_chunk none = {{0, 0, 0, 0}};
        if (!has_down(y)) return none;
        return load16(column + (y < g.d1 - 1 ? y + 1 : 0) * g.d2);
    }

    __host__ __device__ lattice_chunk above(int y) const {
        lattice_chunk none = {{0, 0, 0, 0}};
        if (!has_up(y)) return none;
        return load16(column + (y > 0 ? y - 1 : g.d1 - 1) * g.d2);
    }

    // Whether the site with table offset `offset` and Philox word `bits` goes high.
    template <bool TABLE>
    __host__ __device__ bool high(unsigned int offset, unsigned int bits, int site) const {
        if (TABLE)
            return lattice_threshold<T>::below(
                bits, *reinterpret_cast<const threshold*>(
                          reinterpret_cast<const char*>(a.table) + offset));
        int sum = (int)(offset / sizeof(threshold)) - LATTICE_MAX_SUM;
        return unit<T>::from_bits(bits) < lattice_prob<T>(a.coupling, sum, a.bias[site], a.scale);
    }

    // Row y, whose colour's sites have parity X: its new chunk, from the window and the byte
    // beside the chunk's end (left of it when X = 0, right when X = 1). Then the window moves
    // down a row, to `ahead` (row y + 2, read before this row's store).
    template <bool TABLE, bool Z, int X>
    __host__ __device__ void row(int y, int y_end) {
        signed char* at = column + y * g.d2;
        lattice_chunk ahead = y + 1 < y_end ? below(y + 1) : down;
        unsigned int edge = X ? (has_right ? (unsigned char)at[right] : 0u)
                              : (has_left ? (unsigned char)at[left] : 0u);
        // the other parity's bytes: the x-neighbours, shifted a byte to the colour's sites
        unsigned int other[2] = {lattice_parity_bytes<1 - X>(mid, 0),
                                 lattice_parity_bytes<1 - X>(mid, 1)};
        unsigned int shifted[2] = {X ? lattice_perm(other[0], other[1], 0x4321)
                                     : lattice_perm(edge, other[0], 0x6540),
                                   X ? lattice_perm(other[1], edge, 0x4321)
                                     : lattice_perm(other[0], other[1], 0x6543)};
        int n = 2 + has_up(y) + has_down(y);
        lattice_chunk depth[2];
        if (Z) {
            lattice_chunk none = {{0, 0, 0, 0}};
            depth[0] = front ? load16(at + front) : none;
            depth[1] = back ? load16(at + back) : none;
            n += (front != 0) + (back != 0);
        }
        unsigned int base = 0x01010101u * (unsigned int)(sizeof(threshold) * (a.low * n + 6));
        lattice_chunk out;
        #pragma unroll
        for (int q = 0; q < 2; ++q) {
            unsigned int count = other[q] + shifted[q] + lattice_parity_bytes<X>(up, q)
                               + lattice_parity_bytes<X>(down, q);
            if (Z) count += lattice_parity_bytes<X>(depth[0], q)
                          + lattice_parity_bytes<X>(depth[1], q);
            unsigned int offsets = count * gain + base
                                 + (q == X ? (X ? right_fix : left_fix) : 0u);
            unsigned int bits[4];
            lattice_words(bits, quad + q, a);
            unsigned int set[2] = {0, 0};
            #pragma unroll
            for (int i = 0; i < 4; ++i) {
                unsigned int offset = lattice_perm(offsets, 0, 0x4440 + i);
                if (high<TABLE>(offset, bits[i], site0 + y * g.d2 + 8 * q + X + 2 * i))
                    set[i / 2] |= 1u << (8 * (X + 2 * (i % 2)));
            }
            unsigned int keep = ~(0x00FF00FFu << (8 * X));
            out.w[2 * q] = (mid.w[2 * q] & keep) | set[0];
            out.w[2 * q + 1] = (mid.w[2 * q + 1] & keep) | set[1];
        }
        store16(at, out);
        up = mid;
        mid = down;
        down = ahead;
        quad += per_row;
    }

    // Rows y .. y_end − 1, the first of parity X.
    template <bool TABLE, bool Z, int X>
    __host__ __device__ void rows(int y, int y_end) {
        up = above(y);
        mid = load16(column + y * g.d2);
        down = below(y);
        for (; y + 1 < y_end; y += 2) {
            row<TABLE, Z, X>(y, y_end);
            row<TABLE, Z, 1 - X>(y + 1, y_end);
        }
        if (y < y_end) row<TABLE, Z, X>(y, y_end);
    }
};

// The walk of chunk c over rows [y0, y_end) of plane `plane` (chain · d0 + z) of `states`.
template <typename T>
__host__ __device__ inline void lattice_walk_band(signed char* states, lattice_dims g,
                                                  unsigned int plane, int c, int y0, int y_end,
                                                  int colour, const lattice_launch<T>& a) {
    int chunks = g.d2 / 16, z = (int)(plane % (unsigned int)g.d0);
    int plane_sites = g.d1 * g.d2, z_lo, z_hi;
    axis_offsets(z, g.d0, plane_sites, g.periodic, &z_lo, &z_hi);
    lattice_walk<T> w;
    w.site0 = z * plane_sites + 16 * c;
    w.column = states + (unsigned long long)(plane / (unsigned int)g.d0) * g.d0 * plane_sites
             + w.site0;
    w.g = g;
    w.left = c > 0 ? -1 : g.d2 - 1;
    w.right = c < chunks - 1 ? 16 : 16 - g.d2;
    w.has_left = c > 0 || g.periodic;
    w.has_right = c < chunks - 1 || g.periodic;
    w.front = z_lo;
    w.back = z_hi;
    w.wrap_y = g.periodic && g.d1 > 2;
    typedef typename lattice_threshold<T>::type threshold;
    unsigned int missing = (unsigned int)(sizeof(threshold) * -a.low);   // W (n − 1) low − W n low
    w.gain = (unsigned int)(sizeof(threshold) * (1 - a.low));
    w.left_fix = w.has_left ? 0u : missing;
    w.right_fix = w.has_right ? 0u : missing << 24;
    w.per_row = lattice_quads_per_row(g);
    w.quad = ((unsigned long long)plane * g.d1 + y0) * w.per_row + 2 * c;
    w.a = a;
    bool z_axis = g.d0 > 1;
    if ((colour + z + y0) & 1) {
        if (a.table) z_axis ? w.template rows<true, true, 1>(y0, y_end)
                            : w.template rows<true, false, 1>(y0, y_end);
        else z_axis ? w.template rows<false, true, 1>(y0, y_end)
                    : w.template rows<false, false, 1>(y0, y_end);
    } else {
        if (a.table) z_axis ? w.template rows<true, true, 0>(y0, y_end)
                            : w.template rows<true, false, 0>(y0, y_end);
        else z_axis ? w.template rows<false, true, 0>(y0, y_end)
                    : w.template rows<false, false, 0>(y0, y_end);
    }
}

// A launch's walks: chunk c ≡ the thread's x (mod the grid's width in threads) of the bands
// ≡ its y (mod the grid's height); rows = chains · d0 · d1, so planes = rows / d1.
template <typename T>
__device__ inline void lattice_walk_launch(signed char* states, lattice_dims g, unsigned int rows,
                                           int band, int colour, const lattice_launch<T>& a) {
    unsigned int bands = (unsigned int)((g.d1 - 1) / band + 1);   // no overflow for any band > 0
    unsigned int jobs = rows / (unsigned int)g.d1 * bands;
    for (unsigned int job = blockIdx.y * blockDim.y + threadIdx.y; job < jobs;
         job += gridDim.y * blockDim.y) {
        int y0 = (int)(job % bands) * band, y_end = y0 + min(band, g.d1 - y0);
        for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < g.d2 / 16;
             c += gridDim.x * blockDim.x)
            lattice_walk_band<T>(states, g, job / bands, c, y0, y_end, colour, a);
    }
}
