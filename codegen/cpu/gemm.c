/* The pool's sgemm and the whole-batch convolution on it (cpu.h: cpu_sgemm, cpu_whole_*).
 * What this is: OpenBLAS's one-threaded sgemm over fixed blocks of the result, the blocks the
 * pool's tasks; blocks come from the shapes alone, so a result never depends on the pool's
 * size, and OpenBLAS never starts threads of its own (fn keeps it at one: its OpenMP team had
 * spun against fn's threads). What this is not: a GEMM kernel (OpenBLAS's are better).
 *
 * The whole-batch convolution is the reference's (codegen/ref/conv_impl.h): im2col of the
 * batch, then one GEMM (forward, filter gradient) or GEMM then col2im (data gradient); the
 * fast path takes it where tiles do not pay (1x1 forward, small maps: conv_tiled.c). */
#include "codegen/cpu/cpu.h"

#include <cblas.h>
#include <string.h>

/* Blocks of at least MIN_SIDE rows (or columns), at most MAX_BLOCKS of them; GEMMs below
 * MIN_FLOPS stay whole (a task's claim and its packing of the other operand cost more). */
enum { MIN_SIDE = 128, MAX_BLOCKS = 8, ALIGN = 16 };
#define MIN_FLOPS 2e6

typedef struct {
    int ta, tb, m, n, k, lda, ldb, ldy;
    const float *a, *b;
    float beta, *y;
    int rows, side; /* blocks along the rows (1) or the columns (0), `side` of them each */
    const CpuEpilogue *ep; /* on each block of rows (rows 1) */
} Gemm;

static void gemm_block(void *arg, int64_t t, int worker) {
    const Gemm *g = arg;
    int i0 = (int)t * g->side;
    int len = g->rows ? g->m - i0 : g->n - i0;
    if (len > g->side) len = g->side;
    const float *a = g->a, *b = g->b;
    float *y = g->y;
    int m = g->m, n = g->n;
    if (g->rows) {
        a += g->ta ? (size_t)i0 : (size_t)i0 * (size_t)g->lda;
        y += (size_t)i0 * (size_t)g->ldy;
        m = len;
    } else {
        b += g->tb ? (size_t)i0 * (size_t)g->ldb : (size_t)i0;
        y += (size_t)i0;
        n = len;
    }
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, m, n, g->k, 1, a,
                g->lda, b, g->ldb, g->beta, y, g->ldy);
    if (g->ep && g->rows) g->ep->fn(g->ep->arg, i0, i0 + m, worker);
}

enum { EPILOGUE_ROWS = 64 }; /* rows per task of cpu_epilogue_all */

typedef struct {
    const CpuEpilogue *ep;
    int64_t pixels;
} AllRows;

static void epilogue_task(void *arg, int64_t t, int worker) {
    const AllRows *a = arg;
    int64_t p0 = t * EPILOGUE_ROWS, p1 = p0 + EPILOGUE_ROWS < a->pixels ? p0 + EPILOGUE_ROWS : a->pixels;
    a->ep->fn(a->ep->arg, p0, p1, worker);
}

void cpu_epilogue_all(const CpuEpilogue *ep, int64_t pixels, FnPool *pool) {
    if (!ep || pixels <= 0) return;
    AllRows a = {ep, pixels};
    fn_pool_run(pool, (pixels + EPILOGUE_ROWS - 1) / EPILOGUE_ROWS, epilogue_task, &a);
}

/* Blocks of at least MIN_SIDE, at most MAX_BLOCKS, multiples of ALIGN: the side of each. */
static int block_side(int len) {
    int side = (len + MAX_BLOCKS - 1) / MAX_BLOCKS;
    if (side < MIN_SIDE) side = MIN_SIDE;
    return (side + ALIGN - 1) / ALIGN * ALIGN;
}

void cpu_sgemm(FnPool *pool, int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
               float beta, float *y, int ldy) {
    cpu_sgemm_ep(pool, ta, tb, m, n, k, a, lda, b, ldb, beta, y, ldy, NULL);
}

void cpu_sgemm_ep(FnPool *pool, int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                  float beta, float *y, int ldy, const CpuEpilogue *ep) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { /* an empty sum; BLAS would reject the leading dimension 0 */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                float *yij = y + (size_t)i * (size_t)ldy + (size_t)j;
                *yij = beta == 0 ? 0 : *yij * beta; /* beta 0 overwrites, as BLAS does */
            }
        cpu_epilogue_all(ep, m, pool);
        return;
    }
    Gemm g = {ta, tb, m, n, k, lda, ldb, ldy, a, b, beta, y, 1, m, ep};
    int64_t blocks = 1;
    if (2.0 * m * n * k >= MIN_FLOPS && fn_pool_size(pool) > 1) {
        g.rows = m >= 2 * MIN_SIDE || m >= n;
        g.side = block_side(g.rows ? m : n);
        blocks = ((g.rows ? m : n) + g.side - 1) / g.side;
    }
    if (blocks == 1) g.rows = 1, g.side = m;
    fn_pool_run(pool, blocks, gemm_block, &g);
    if (!g.rows) cpu_epilogue_all(ep, m, pool);
}

typedef struct {
    const float *x; /* im2col's input */
    float *col;     /* [n*oh*ow, kh*kw*c] */
    float *dx;      /* col2im's output */
    const RefWindow *v;
} Cols;

static void im2col_image(void *arg, int64_t b, int worker) {
    const Cols *c = arg;
    const RefWindow *v = c->v;
    size_t rows = (size_t)v->oh * (size_t)v->ow, len = (size_t)v->kh * (size_t)v->kw * (size_t)v->c;
    ref_im2col_rows_f32(c->x, c->col + (size_t)b * rows * len, v, (int)b, 0, (int64_t)rows);
}

static void col2im_image(void *arg, int64_t b, int worker) {
    const Cols *c = arg;
    const RefWindow *v = c->v;
    size_t rows = (size_t)v->oh * (size_t)v->ow, len = (size_t)v->kh * (size_t)v->kw * (size_t)v->c;
    size_t image = (size_t)v->h * (size_t)v->w * (size_t)v->c;
    memset(c->dx + (size_t)b * image, 0, image * sizeof(float));
    ref_col2im_rows_f32(c->col + (size_t)b * rows * len, c->dx, v, (int)b, 0, (int64_t)rows);
}

/* x as the column matrix [n*oh*ow, kh*kw*c]: itself for a pointwise window, else im2col'd into scratch */
static const float *columns(const float *x, const RefWindow *v, float *scratch, FnPool *pool) {
    if (ref_conv_pointwise(v)) return x;
    Cols c = {x, scratch, NULL, v};
    fn_pool_run(pool, v->n, im2col_image, &c);
    return scratch;
}

void cpu_whole_conv2d_f32(const float *x, const float *w, float *y, const RefWindow *v, float *scratch, FnPool *pool,
                          const CpuEpilogue *ep) {
    int m = v->n * v->oh * v->ow, k = v->kh * v->kw * v->c;
    cpu_sgemm_ep(pool, 0, 0, m, v->o, k, columns(x, v, scratch, pool), k, w, v->o, 0, y, v->o, ep); // [n,oh,ow,o]
}

void cpu_whole_bwd_data_f32(const float *dy, const float *w, float *dx, const RefWindow *v, float *scratch,
                            FnPool *pool) {
    int m = v->n * v->oh * v->ow, k = v->kh * v->kw * v->c;
    if (ref_conv_pointwise(v)) {
        cpu_sgemm(pool, 0, 1, m, k, v->o, dy, v->o, w, v->o, 0, dx, k); // [n,h,w,c]
        return;
    }
    cpu_sgemm(pool, 0, 1, m, k, v->o, dy, v->o, w, v->o, 0, scratch, k); // col [m,k]
    Cols c = {NULL, scratch, dx, v};
    fn_pool_run(pool, v->n, col2im_image, &c);
}

void cpu_whole_bwd_filter_f32(const float *x, const float *dy, float *dw, const RefWindow *v, float *scratch,
                              FnPool *pool) {
    int m = v->n * v->oh * v->ow, k = v->kh * v->kw * v->c;
    cpu_sgemm(pool, 1, 0, k, v->o, m, columns(x, v, scratch, pool), k, dy, v->o, 0, dw, v->o); // [kh,kw,c,o]
}
