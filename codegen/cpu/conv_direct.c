/* Direct ("indirect", Dukhan 2019) convolutions for small weights, with AVX-512 or AVX2 (the
 * instruction set the caller picks, no more than the host's): the output is computed 12 pixels x
 * 32 channels at a time, in 24 zmm registers (AVX-512) or as four 6 x 16 sub-tiles in 12 ymm
 * (AVX2: the same sums in the same order, so the same bits),
 * reading the input through a table of row pointers (one per pixel and window cell; a cell in
 * the padding points at zeros), so there is no column matrix and nothing is packed. im2col +
 * sgemm runs such shapes (32 output channels: GEMMs N = 32 wide; the 8x8 images of the 1x7
 * windows) below the sgemm ceiling. cpu_direct_fits says where it is used.
 *
 *   forward    y[p, o]  = Σ_cells Σ_c x[cell(p), c] w[cell, c, o]        out width o
 *   bwd_data   dx[q, c] = Σ_cells Σ_o dy[cell'(q), o] w[cell, c, o]      out width c; cell'(q)
 *              is the output pixel whose window puts q at that cell (none if the stride skips it)
 *   bwd_filter dw[cell, c, o] = Σ_p x[cell(p), c] dy[p, o]               8 x 32 tiles of dw in
 *              registers over blocks of 48 pixels; a fixed number of pixel ranges in parallel,
 *              each into its own partial sum, the partials added in order
 *
 * bwd_data reads w transposed per cell ([cell][o][c], built into scratch), and writes every dx
 * cell once (no col2im), so blocks of pixels run in parallel over all images. Each block's sums
 * run in one fixed order on one thread: no result depends on the team size. */
#include "codegen/cpu/cpu.h"
#include "codegen/cpu/isa.h"

#include <string.h>

#if CPU_X86
#include <immintrin.h>
#endif

enum { PIX = 12, WIDTH = 32, MAX_CELLS = 64, FPIX = 48, CT = 8, FILTER_RANGES = 8 };

/* The pointer table of a block of pixels: in[cell][p] is the row that pixel p reads at that
 * window cell (NULL: zeros); live[cell] says whether any is not NULL. Its bound is fixed
 * (MAX_CELLS x FPIX pointers, 24.6 KB), so each thread keeps one on its own stack: a kernel of
 * the step cannot report an error, and this way it has no allocation that could fail. */
typedef struct {
    const float *in[MAX_CELLS][FPIX];
    char live[MAX_CELLS];
} Rows;

/* One block: out[p][0..32) = Σ_cell Σ_k in[cell][p][k] w[cell][k][0..32), w's rows `ld` apart
 * and cells `cell_stride` apart; a cell that is not live is skipped. `halves` 1 computes the
 * first 16 columns only (the last chunk of an output 16 wider than a multiple of 32). */

#if CPU_X86
ISA_AVX512 static inline __attribute__((always_inline)) void
block_body(const Rows *r, int cells, int k, const float *w, size_t cell_stride, size_t ld, const float *zero,
           float *const out[PIX], const int halves) {
    __m512 acc[PIX][2];
#pragma GCC unroll 12
    for (int p = 0; p < PIX; p++)
        acc[p][0] = acc[p][1] = _mm512_setzero_ps();
    for (int cell = 0; cell < cells; cell++) {
        if (!r->live[cell]) continue;
        const float *in[PIX];
        for (int p = 0; p < PIX; p++)
            in[p] = r->in[cell][p] ? r->in[cell][p] : zero;
        const float *wc = w + (size_t)cell * cell_stride;
        for (int c = 0; c < k; c++) {
            __m512 w0 = _mm512_loadu_ps(wc + (size_t)c * ld),
                   w1 = halves == 2 ? _mm512_loadu_ps(wc + (size_t)c * ld + 16) : w0;
#pragma GCC unroll 12
            for (int p = 0; p < PIX; p++) {
                __m512 x = _mm512_set1_ps(in[p][c]);
                acc[p][0] = _mm512_fmadd_ps(x, w0, acc[p][0]);
                if (halves == 2) acc[p][1] = _mm512_fmadd_ps(x, w1, acc[p][1]);
            }
        }
    }
#pragma GCC unroll 12
    for (int p = 0; p < PIX; p++) {
        _mm512_storeu_ps(out[p], acc[p][0]);
        if (halves == 2) _mm512_storeu_ps(out[p] + 16, acc[p][1]);
    }
}
ISA_AVX512 static void block_avx512(const Rows *r, int cells, int k, const float *w, size_t cell_stride,
                                    size_t ld, const float *zero, float *const out[PIX]) {
    block_body(r, cells, k, w, cell_stride, ld, zero, out, 2);
}
ISA_AVX512 static void block16_avx512(const Rows *r, int cells, int k, const float *w, size_t cell_stride,
                                      size_t ld, const float *zero, float *const out[PIX]) {
    block_body(r, cells, k, w, cell_stride, ld, zero, out, 1);
}

/* dw[i][0..32) (rows `ld` apart) += Σ_p in[p][c0 + i] dy[p][0..32) for i < 8, pixels p < np,
 * dy's rows dy_ld apart; a NULL row reads zeros. */
ISA_AVX512 static void filter_avx512(const float *const *in, int np, int c0, const float *dy,
                                     size_t dy_ld, const float *zero, float *dw, size_t ld) {
    __m512 acc[CT][2];
#pragma GCC unroll 8
    for (int i = 0; i < CT; i++) {
        acc[i][0] = _mm512_loadu_ps(dw + (size_t)i * ld);
        acc[i][1] = _mm512_loadu_ps(dw + (size_t)i * ld + 16);
    }
    for (int p = 0; p < np; p++) {
        const float *d = dy + (size_t)p * dy_ld, *x = in[p] ? in[p] + c0 : zero;
        __m512 d0 = _mm512_loadu_ps(d), d1 = _mm512_loadu_ps(d + 16);
#pragma GCC unroll 8
        for (int i = 0; i < CT; i++) {
            __m512 b = _mm512_set1_ps(x[i]);
            acc[i][0] = _mm512_fmadd_ps(b, d0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(b, d1, acc[i][1]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < CT; i++) {
        _mm512_storeu_ps(dw + (size_t)i * ld, acc[i][0]);
        _mm512_storeu_ps(dw + (size_t)i * ld + 16, acc[i][1]);
    }
}

/* AVX2 (16 ymm registers): the same blocks as sub-tiles of 6 pixels x 16 channels (12
 * accumulators), each over every cell and channel in the same order, so every output is the
 * same sum, in the same order, as the AVX-512 kernel's: the same bits. */
enum { PIX2 = 6 };
ISA_AVX2 static inline __attribute__((always_inline)) void
block_body_avx2(const Rows *r, int cells, int k, const float *w, size_t cell_stride, size_t ld, const float *zero,
                float *const out[PIX], const int halves) {
    for (int p0 = 0; p0 < PIX; p0 += PIX2)
        for (int h = 0; h < halves; h++) {
            __m256 acc[PIX2][2];
#pragma GCC unroll 6
            for (int p = 0; p < PIX2; p++)
                acc[p][0] = acc[p][1] = _mm256_setzero_ps();
            for (int cell = 0; cell < cells; cell++) {
                if (!r->live[cell]) continue;
                const float *in[PIX2];
                for (int p = 0; p < PIX2; p++)
                    in[p] = r->in[cell][p0 + p] ? r->in[cell][p0 + p] : zero;
                const float *wc = w + (size_t)cell * cell_stride + 16 * h;
                for (int c = 0; c < k; c++) {
                    __m256 w0 = _mm256_loadu_ps(wc + (size_t)c * ld), w1 = _mm256_loadu_ps(wc + (size_t)c * ld + 8);
#pragma GCC unroll 6
                    for (int p = 0; p < PIX2; p++) {
                        __m256 x = _mm256_broadcast_ss(in[p] + c);
                        acc[p][0] = _mm256_fmadd_ps(x, w0, acc[p][0]);
                        acc[p][1] = _mm256_fmadd_ps(x, w1, acc[p][1]);
                    }
                }
            }
#pragma GCC unroll 6
            for (int p = 0; p < PIX2; p++) {
                _mm256_storeu_ps(out[p0 + p] + 16 * h, acc[p][0]);
                _mm256_storeu_ps(out[p0 + p] + 16 * h + 8, acc[p][1]);
            }
        }
}
ISA_AVX2 static void block_avx2(const Rows *r, int cells, int k, const float *w, size_t cell_stride, size_t ld,
                                const float *zero, float *const out[PIX]) {
    block_body_avx2(r, cells, k, w, cell_stride, ld, zero, out, 2);
}
ISA_AVX2 static void block16_avx2(const Rows *r, int cells, int k, const float *w, size_t cell_stride, size_t ld,
                                  const float *zero, float *const out[PIX]) {
    block_body_avx2(r, cells, k, w, cell_stride, ld, zero, out, 1);
}

/* filter_avx512's sums as 4 quarters (4 input channels x 16 outputs: 8 accumulators), each
 * over the pixels in order: the same sums, the same bits. */
ISA_AVX2 static void filter_avx2(const float *const *in, int np, int c0, const float *dy, size_t dy_ld,
                                 const float *zero, float *dw, size_t ld) {
    for (int i0 = 0; i0 < CT; i0 += 4)
        for (int h = 0; h < 2; h++) {
            __m256 acc[4][2];
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                acc[i][0] = _mm256_loadu_ps(dw + (size_t)(i0 + i) * ld + 16 * h);
                acc[i][1] = _mm256_loadu_ps(dw + (size_t)(i0 + i) * ld + 16 * h + 8);
            }
            for (int p = 0; p < np; p++) {
                const float *d = dy + (size_t)p * dy_ld + 16 * h, *x = in[p] ? in[p] + c0 + i0 : zero;
                __m256 d0 = _mm256_loadu_ps(d), d1 = _mm256_loadu_ps(d + 8);
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++) {
                    __m256 b = _mm256_broadcast_ss(x + i);
                    acc[i][0] = _mm256_fmadd_ps(b, d0, acc[i][0]);
                    acc[i][1] = _mm256_fmadd_ps(b, d1, acc[i][1]);
                }
            }
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                _mm256_storeu_ps(dw + (size_t)(i0 + i) * ld + 16 * h, acc[i][0]);
                _mm256_storeu_ps(dw + (size_t)(i0 + i) * ld + 16 * h + 8, acc[i][1]);
            }
        }
}

/* The kernels of an instruction set: a block 32 wide, one 16 wide, a filter tile. */
typedef void BlockFn(const Rows *r, int cells, int k, const float *w, size_t cell_stride, size_t ld,
                     const float *zero, float *const out[PIX]);
typedef void FilterFn(const float *const *in, int np, int c0, const float *dy, size_t dy_ld, const float *zero,
                      float *dw, size_t ld);
typedef struct {
    BlockFn *block, *block16;
    FilterFn *filter;
} Kernels;
static const Kernels kernels_avx512 = {block_avx512, block16_avx512, filter_avx512},
                     kernels_avx2 = {block_avx2, block16_avx2, filter_avx2};
/* AVX-512 or AVX2; callers ask cpu_direct_fits first, which refuses the baseline */
static const Kernels *kernels_for(int isa) { return isa == FN_ISA_AVX512 ? &kernels_avx512 : &kernels_avx2; }
#endif

int cpu_direct_fits(const RefWindow *v, int pass, int isa) {
#if CPU_X86
    /* out: the width computed, 32 at a time (16 for a last chunk); red: the sum's width per
       window cell (bwd_filter sums over pixels, its tiles are 8 input x 32 output channels). Measured against im2col
       + sgemm on every layer of Inception-ResNet-v1 (bench/cpu/conv_lab), this kernel wins
       where the weights are at most 512 KB (they stay in L2 beside the rows) and the output at
       most 256 wide, at stride 1 (a stride of 2 skips 3/4 of the cells of a bwd_data table,
       and the forward's strided rows lose too), with a sum at least 16 wide per cell (not the
       stem's 3 channels) and enough pixels to pay for the table and bwd_data's weight
       transpose. */
    int data = pass == CPU_BWD_DATA, out = data ? v->c : v->o, red = data ? v->o : v->c,
        cells = v->kh * v->kw;
    int64_t pixels = (int64_t)v->n * (data ? (int64_t)v->h * v->w : (int64_t)v->oh * v->ow);
    /* bwd_filter wins on windows with 128 or fewer outputs (block17's 1x7 and 7x1: 2x); a 1x1
       window's is one plain sgemm over the pixels (x is its column matrix), which runs as fast */
    if (pass == CPU_BWD_FILTER && (v->c % CT || cells == 1 || v->o > 128 || v->o % WIDTH)) return 0;
    return out % (WIDTH / 2) == 0 && out <= 256 && red >= 16 && (int64_t)cells * red * out <= 131072 &&
           v->sh == 1 && v->sw == 1 && pixels >= 1024 && cells <= MAX_CELLS && isa >= FN_ISA_AVX2 &&
           isa <= fn_isa_host();
#else
    (void)v, (void)pass, (void)isa;
    return 0;
#endif
}

size_t cpu_direct_scratch(const RefWindow *v, int threads) {
    /* w transposed per cell (bwd_data) or bwd_filter's partial sums; per thread a zero row and
       junk output rows */
    size_t wide = (size_t)(v->c > v->o ? v->c : v->o);
    return (size_t)v->kh * v->kw * (size_t)v->c * (size_t)v->o * (FILTER_RANGES - 1) +
           (size_t)threads * (wide + PIX * WIDTH);
}

#if CPU_X86
/* Pixel (y, x) of image b in an NHWC tensor [.][h][w][ch]. */
static const float *px(const float *base, int b, int h, int w, int ch, int y, int x) {
    return base + (((size_t)b * (size_t)h + (size_t)y) * (size_t)w + (size_t)x) * (size_t)ch;
}

/* Forward: output pixels p0..p0+np of the whole batch (n*oh*ow, raster order); past the end:
 * NULL. */
static void fwd_rows(const RefWindow *v, const float *x, int64_t p0, int np, Rows *r) {
    int64_t total = (int64_t)v->n * v->oh * v->ow;
    memset(r->live, 0, sizeof r->live);
    for (int p = 0; p < np; p++) {
        int64_t q = p0 + p;
        int b = -1, oy = 0, ox = 0;
        if (q < total)
            b = (int)(q / ((int64_t)v->oh * v->ow)), oy = (int)(q / v->ow % v->oh),
            ox = (int)(q % v->ow);
        for (int ky = 0; ky < v->kh; ky++)
            for (int kx = 0; kx < v->kw; kx++) {
                int cell = ky * v->kw + kx, iy = oy * v->sh - v->pad_t + ky,
                    ix = ox * v->sw - v->pad_l + kx;
                int in = b >= 0 && iy >= 0 && iy < v->h && ix >= 0 && ix < v->w;
                r->in[cell][p] = in ? px(x, b, v->h, v->w, v->c, iy, ix) : NULL;
                r->live[cell] |= (char)in;
            }
    }
}

/* bwd_data: input pixels q0..q0+PIX of the batch (n*h*w); cell (ky, kx) of output pixel
 * (oy, ox) covers input (oy*sh - pad_t + ky, ...). */
static void bwd_rows(const RefWindow *v, const float *dy, int64_t q0, Rows *r) {
    int64_t total = (int64_t)v->n * v->h * v->w;
    memset(r->live, 0, sizeof r->live);
    for (int p = 0; p < PIX; p++) {
        int64_t q = q0 + p;
        int b = -1, iy = 0, ix = 0;
        if (q < total)
            b = (int)(q / ((int64_t)v->h * v->w)), iy = (int)(q / v->w % v->h),
            ix = (int)(q % v->w);
        for (int ky = 0; ky < v->kh; ky++)
            for (int kx = 0; kx < v->kw; kx++) {
                int cell = ky * v->kw + kx, ny = iy + v->pad_t - ky, nx = ix + v->pad_l - kx;
                int in = b >= 0 && ny >= 0 && nx >= 0 && ny % v->sh == 0 && nx % v->sw == 0 &&
                         ny / v->sh < v->oh && nx / v->sw < v->ow;
                r->in[cell][p] = in ? px(dy, b, v->oh, v->ow, v->o, ny / v->sh, nx / v->sw) : NULL;
                r->live[cell] |= (char)in;
            }
    }
}

/* out rows of pixels p0..p0+PIX (width `width` floats each), junk past `total` */
static void out_rows(float *y, int64_t p0, int64_t total, size_t width, float *junk,
                     float *out[PIX]) {
    for (int p = 0; p < PIX; p++)
        out[p] = p0 + p < total ? y + (size_t)(p0 + p) * width : junk;
}

/* A pass's blocks of PIX pixels of an output [total][width]: operands, geometry and per-worker
 * buffers (a zero row `wide` long, then PIX junk rows of WIDTH). */
typedef struct {
    const RefWindow *v;
    const float *in, *w, *dy;
    float *y, *per_thread, *partial;
    size_t cell_stride, ld, width, wide;
    int64_t total, blocks;
    int k, bwd, ranges;
    const CpuEpilogue *ep; /* forward: on each block's pixels */
    const Kernels *kern;   /* the instruction set's */
} Direct;

enum { TASK_BLOCKS = 8 }; /* blocks per task: a task's claim and zero row cost nothing beside 8 */

static float *zero_row(const Direct *d, int worker) {
    float *zero = d->per_thread + (size_t)worker * (d->wide + PIX * WIDTH);
    memset(zero, 0, d->wide * sizeof(float));
    return zero;
}

/* Blocks TASK_BLOCKS * t onwards: rows() fills the table, then one block per WIDTH-channel chunk. */
static void blocks_task(void *arg, int64_t t, int worker) {
    const Direct *d = arg;
    const RefWindow *v = d->v;
    float *zero = zero_row(d, worker), *junk = zero + d->wide;
    Rows rows, *r = &rows; /* on the task's stack (see Rows): the step allocates nothing */
    int64_t end = (t + 1) * TASK_BLOCKS < d->blocks ? (t + 1) * TASK_BLOCKS : d->blocks;
    for (int64_t blk = t * TASK_BLOCKS; blk < end; blk++) {
        int64_t p0 = blk * PIX;
        if (d->bwd)
            bwd_rows(v, d->in, p0, r);
        else
            fwd_rows(v, d->in, p0, PIX, r);
        for (size_t o0 = 0; o0 < d->width; o0 += WIDTH) {
            float *out[PIX];
            out_rows(d->y + o0, p0, d->total, d->width, junk, out);
            (d->width - o0 >= WIDTH ? d->kern->block : d->kern->block16)(r, v->kh * v->kw, d->k, d->w + o0,
                                                                       d->cell_stride, d->ld, zero, out);
        }
        if (d->ep && p0 < d->total) /* the block's pixels, every channel written, in L1 */
            d->ep->fn(d->ep->arg, p0, p0 + PIX < d->total ? p0 + PIX : d->total, worker);
    }
}

static void run_blocks(Direct *d, FnPool *pool) {
    d->blocks = (d->total + PIX - 1) / PIX;
    d->wide = (size_t)(d->v->c > d->v->o ? d->v->c : d->v->o);
    fn_pool_run(pool, (d->blocks + TASK_BLOCKS - 1) / TASK_BLOCKS, blocks_task, d);
}

/* w [cell][c][o] transposed into y [cell][o][c], one cell a task */
static void transpose_cell(void *arg, int64_t cell, int worker) {
    const Direct *d = arg;
    const RefWindow *v = d->v;
    const size_t co = (size_t)v->c * (size_t)v->o;
    float *wt = d->y;
    for (size_t c = 0; c < (size_t)v->c; c++)
        for (size_t o = 0; o < (size_t)v->o; o++)
            wt[(size_t)cell * co + o * (size_t)v->c + c] = d->w[(size_t)cell * co + c * (size_t)v->o + o];
}

/* Pixel range r (a fixed number of them), summed into dw (r = 0) or its own partial. */
static void filter_range(void *arg, int64_t k, int worker) {
    const Direct *d = arg;
    const RefWindow *v = d->v;
    const size_t cells = (size_t)v->kh * v->kw, c = (size_t)v->c, o = (size_t)v->o, size = cells * c * o;
    float *zero = zero_row(d, worker);
    Rows rows, *r = &rows; /* on the task's stack (see Rows) */
    float *acc = k == 0 ? d->y : d->partial + (size_t)(k - 1) * size;
    memset(acc, 0, size * sizeof(float));
    for (int64_t blk = d->blocks * k / d->ranges; blk < d->blocks * (k + 1) / d->ranges; blk++) {
        int64_t p0 = blk * FPIX;
        int np = d->total - p0 < FPIX ? (int)(d->total - p0) : FPIX;
        fwd_rows(v, d->in, p0, np, r);
        for (size_t cell = 0; cell < cells; cell++) {
            if (!r->live[cell]) continue;
            for (size_t c0 = 0; c0 < c; c0 += CT)
                for (size_t o0 = 0; o0 < o; o0 += WIDTH)
                    d->kern->filter(r->in[cell], np, (int)c0, d->dy + (size_t)p0 * o + o0, o, zero,
                                  acc + (cell * c + c0) * o + o0, o);
        }
    }
}
#endif

void cpu_direct_conv2d_f32(const float *x, const float *w, float *y, const RefWindow *v, float *scratch,
                           FnPool *pool, int isa, const CpuEpilogue *ep) {
#if CPU_X86
    size_t co = (size_t)v->c * (size_t)v->o;
    Direct d = {.v = v, .in = x, .w = w, .y = y, .per_thread = scratch + (size_t)v->kh * v->kw * co, .cell_stride = co,
                .ld = (size_t)v->o, .width = (size_t)v->o, .total = (int64_t)v->n * v->oh * v->ow, .k = v->c, .ep = ep,
                .kern = kernels_for(isa)};
    run_blocks(&d, pool);
#else
    (void)x, (void)w, (void)y, (void)v, (void)scratch, (void)pool, (void)isa, (void)ep;
#endif
}

void cpu_direct_bwd_data_f32(const float *dy, const float *w, float *dx, const RefWindow *v, float *scratch,
                             FnPool *pool, int isa) {
#if CPU_X86
    const size_t co = (size_t)v->c * (size_t)v->o, cells = (size_t)v->kh * v->kw;
    Direct t = {.v = v, .w = w, .y = scratch}; /* wt: [cell][o][c] at the scratch's start */
    fn_pool_run(pool, (int64_t)cells, transpose_cell, &t);
    Direct d = {.v = v, .in = dy, .w = scratch, .y = dx, .per_thread = scratch + cells * co, .cell_stride = co,
                .ld = (size_t)v->c, .width = (size_t)v->c, .total = (int64_t)v->n * v->h * v->w, .k = v->o, .bwd = 1,
                .kern = kernels_for(isa)};
    run_blocks(&d, pool);
#else
    (void)dy, (void)w, (void)dx, (void)v, (void)scratch, (void)pool, (void)isa;
#endif
}

void cpu_direct_bwd_filter_f32(const float *x, const float *dy, float *dw, const RefWindow *v, float *scratch,
                               FnPool *pool, int isa) {
#if CPU_X86
    const size_t size = (size_t)v->kh * v->kw * (size_t)v->c * (size_t)v->o;
    Direct d = {.v = v, .in = x, .dy = dy, .y = dw, .partial = scratch,
                .per_thread = scratch + (size_t)(FILTER_RANGES - 1) * size,
                .wide = (size_t)(v->c > v->o ? v->c : v->o), .total = (int64_t)v->n * v->oh * v->ow,
                .kern = kernels_for(isa)};
    d.blocks = (d.total + FPIX - 1) / FPIX;
    d.ranges = d.blocks < FILTER_RANGES ? (int)d.blocks : FILTER_RANGES;
    fn_pool_run(pool, d.ranges, filter_range, &d);
    cpu_add_partials(dw, scratch, size, d.ranges - 1, pool);
#else
    (void)x, (void)dy, (void)dw, (void)v, (void)scratch, (void)pool, (void)isa;
#endif
}
