/* The fast CPU backend's convolutions (float32). Each pass of each window takes the first of:
 *   Winograd F(4x4, 3x3)  (conv_winograd.c)  3x3 stride 1, 64+ channels (32 on large maps);
 *            F(4, 7)                         1x7 and 7x1 stride 1, 64+ channels
 *   direct                (conv_direct.c)    small weights on AVX-512 or AVX2 (cpu_direct_fits)
 *   tiled im2col + sgemm  (this file)
 *   whole-batch im2col + one GEMM (gemm.c)   where tiles do not pay (tiled_rows, tiled_filter)
 *
 * Tiled: im2col one tile of output pixels at a time (1-4 MB of columns), so
 * that the column tile stays in cache between being written and being read by the GEMM,
 * instead of writing and re-reading a column matrix of hundreds of megabytes (the stem layers).
 * Tiles are the pool's tasks, each calling a one-threaded sgemm.
 *
 *   forward      y[tile, o]  = col[tile, K] · w[K, o]               tiles in parallel
 *   bwd_data     col[tile,K] = dy[tile, o] · w[K, o]ᵀ, then col2im  images in parallel (their
 *                                                                   dx are disjoint)
 *   bwd_filter   dw[K, o]    = Σ col[tile, K]ᵀ · dy[tile, o]        a fixed number of tile ranges
 *                                                                   in parallel, each summing
 *                                                                   into its own partial; the
 *                                                                   partials added in order
 *
 * No result depends on the pool's size: each tile's GEMM runs on one thread whatever the pool.
 * 1x1 stride-1
 * unpadded convolutions read x as the column matrix directly. The reference kernels
 * (codegen/ref/conv_impl.h) are the oracle: tests/test_cpu_fast.c.
 */
#include "codegen/cpu/cpu.h"

#include <cblas.h>
#include <string.h>

/* Column values per tile: forward and bwd_data tiles of 4 MB ran faster than 1 MB ones on the
 * stem's 36x36x192 -> 256 (fewer repacks of the weights per sgemm), the filter gradient's not */
enum { ROW_TILE = 1 << 20, FILTER_TILE = 1 << 18, MIN_TILE_ROWS = 96, FILTER_RANGES = 8 };

static int64_t kdim(const RefWindow *v) { return (int64_t)v->kh * v->kw * v->c; }
static int64_t pixels(const RefWindow *v) { return (int64_t)v->oh * v->ow; } /* output pixels per image */

/* Output pixels per tile: about `floats` column values, at least 16 rows. */
static int64_t tile_rows(const RefWindow *v, int64_t floats) {
    int64_t r = floats / kdim(v);
    if (r < 16) r = 16;
    return r < pixels(v) ? r : pixels(v);
}

/* Where tiles pay (measured with bench/cpu/conv_lab): forward and backward-data when a tile
 * still has enough rows for an efficient GEMM (else the whole column matrix and one threaded
 * sgemm, the reference's way, win); backward-filter when the GEMM's long dimension (rows)
 * dwarfs its output [K, o], which a threaded sgemm splits poorly. */
static int tiled_rows(const RefWindow *v) { return !ref_conv_pointwise(v) && tile_rows(v, ROW_TILE) >= MIN_TILE_ROWS; }
static int tiled_filter(const RefWindow *v) { return (int64_t)v->n * pixels(v) >= 32 * kdim(v); }

/* Which kernel runs a pass (CPU_FWD, CPU_BWD_DATA, CPU_BWD_FILTER) of a window: the first that
 * fits, in the order of the table at the top. */
enum { PATH_WINOGRAD, PATH_DIRECT, PATH_TILED, PATH_WHOLE };
static int conv_path(const RefWindow *v, int pass, int paths) {
    if ((paths & CPU_PATH_WINOGRAD) && cpu_winograd_fits(v)) return PATH_WINOGRAD;
    if ((paths & CPU_PATH_DIRECT) && cpu_direct_fits(v, pass, cpu_paths_isa(paths)))
        return PATH_DIRECT;
    return (pass == CPU_BWD_FILTER ? tiled_filter(v) : tiled_rows(v)) ? PATH_TILED : PATH_WHOLE;
}

static size_t path_scratch(const RefWindow *v, int pass, int paths, int threads) {
    size_t per = ref_conv_pointwise(v) ? 0 : (size_t)threads * (size_t)kdim(v); /* column floats per tile row */
    switch (conv_path(v, pass, paths)) {
    case PATH_WINOGRAD: return cpu_winograd_scratch(v, threads);
    case PATH_DIRECT: return cpu_direct_scratch(v, threads);
    case PATH_WHOLE: return ref_conv_scratch(v);
    default:
        if (pass != CPU_BWD_FILTER) return per * (size_t)tile_rows(v, ROW_TILE);
        return per * (size_t)tile_rows(v, FILTER_TILE) + (size_t)FILTER_RANGES * (size_t)kdim(v) * (size_t)v->o;
    }
}

size_t cpu_conv_scratch(const RefWindow *v, int paths, int threads) {
    size_t most = 0;
    for (int pass = CPU_FWD; pass <= CPU_BWD_FILTER; pass++) {
        size_t s = path_scratch(v, pass, paths, threads);
        if (s > most) most = s;
    }
    return most;
}

typedef struct {
    float *dst;
    const float *partials;
    size_t n;
    int count;
} Partials;

static void add_partials_chunk(void *arg, int64_t t, int worker) {
    const Partials *a = arg;
    size_t i0 = (size_t)t * 4096, i1 = i0 + 4096 < a->n ? i0 + 4096 : a->n;
    for (int r = 0; r < a->count; r++) {
        const float *p = a->partials + (size_t)r * a->n;
        for (size_t i = i0; i < i1; i++) a->dst[i] += p[i];
    }
}

void cpu_add_partials(float *dst, const float *partials, size_t n, int count, FnPool *pool) {
    Partials a = {dst, partials, n, count}; /* chunks of 4,096, each partial in order */
    if (count > 0) fn_pool_run(pool, (int64_t)((n + 4095) / 4096), add_partials_chunk, &a);
}

/* The column tile for rows p0..p1 of image b: x itself for a pointwise conv, else built in buf. */
static const float *col_tile(const float *x, float *buf, const RefWindow *v, int b, int64_t p0, int64_t p1) {
    if (ref_conv_pointwise(v)) return x + ((size_t)b * (size_t)pixels(v) + (size_t)p0) * (size_t)v->c;
    ref_im2col_rows_f32(x, buf, v, b, p0, p1);
    return buf;
}

/* One tiled pass: its operands, geometry and per-worker column tiles (T rows of K). */
typedef struct {
    const float *x, *w, *dy; /* forward: x, w; bwd_data: dy, w; bwd_filter: x, dy */
    float *y, *scratch, *partial;
    const RefWindow *v;
    int64_t P, K, T, per_image, tiles;
    int ranges;
    const CpuEpilogue *ep; /* forward: on each tile's rows */
} Tiled;

static float *tile_buf(const Tiled *a, int worker) { return a->scratch + (size_t)worker * (size_t)a->T * (size_t)a->K; }

static void fwd_tile(void *arg, int64_t t, int worker) {
    const Tiled *a = arg;
    const RefWindow *v = a->v;
    int b = (int)(t / a->per_image);
    int64_t p0 = (t % a->per_image) * a->T, p1 = p0 + a->T < a->P ? p0 + a->T : a->P;
    const float *col = col_tile(a->x, tile_buf(a, worker), v, b, p0, p1); // [p1-p0, K]
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(p1 - p0), v->o, (int)a->K, 1, col, (int)a->K, a->w,
                v->o, 0, a->y + ((size_t)b * (size_t)a->P + (size_t)p0) * (size_t)v->o, v->o);
    if (a->ep) a->ep->fn(a->ep->arg, b * a->P + p0, b * a->P + p1, worker);
}

void cpu_conv2d_f32(const float *x, const float *w, float *y, const RefWindow *v, int paths, float *scratch, FnPool *pool,
                    const CpuEpilogue *ep) {
    switch (conv_path(v, CPU_FWD, paths)) {
    case PATH_WINOGRAD: cpu_winograd_conv2d_f32(x, w, y, v, scratch, pool, cpu_paths_isa(paths), ep); return;
    case PATH_DIRECT: cpu_direct_conv2d_f32(x, w, y, v, scratch, pool, cpu_paths_isa(paths), ep); return;
    case PATH_WHOLE: cpu_whole_conv2d_f32(x, w, y, v, scratch, pool, ep); return;
    default: break;
    }
    Tiled a = {.x = x, .w = w, .y = y, .scratch = scratch, .v = v, .P = pixels(v), .K = kdim(v), .T = tile_rows(v, ROW_TILE),
               .ep = ep};
    a.per_image = (a.P + a.T - 1) / a.T;
    fn_pool_run(pool, v->n * a.per_image, fwd_tile, &a);
}

static void bwd_data_image(void *arg, int64_t b, int worker) {
    const Tiled *a = arg;
    const RefWindow *v = a->v;
    const size_t image = (size_t)v->h * (size_t)v->w * (size_t)v->c;
    float *buf = tile_buf(a, worker); // [T, K]
    memset(a->y + (size_t)b * image, 0, image * sizeof(float));
    for (int64_t p0 = 0; p0 < a->P; p0 += a->T) {
        int64_t p1 = p0 + a->T < a->P ? p0 + a->T : a->P;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(p1 - p0), (int)a->K, v->o, 1,
                    a->dy + ((size_t)b * (size_t)a->P + (size_t)p0) * (size_t)v->o, v->o, a->w, v->o, 0, buf, (int)a->K);
        ref_col2im_rows_f32(buf, a->y, v, (int)b, p0, p1);
    }
}

void cpu_conv2d_bwd_data_f32(const float *dy, const float *w, float *dx, const RefWindow *v, int paths, float *scratch,
                             FnPool *pool) {
    switch (conv_path(v, CPU_BWD_DATA, paths)) {
    case PATH_WINOGRAD: cpu_winograd_bwd_data_f32(dy, w, dx, v, scratch, pool, cpu_paths_isa(paths)); return;
    case PATH_DIRECT: cpu_direct_bwd_data_f32(dy, w, dx, v, scratch, pool, cpu_paths_isa(paths)); return;
    case PATH_WHOLE: cpu_whole_bwd_data_f32(dy, w, dx, v, scratch, pool); return;
    default: break;
    }
    Tiled a = {.dy = dy, .w = w, .y = dx, .scratch = scratch, .v = v, .P = pixels(v), .K = kdim(v), .T = tile_rows(v, ROW_TILE)};
    fn_pool_run(pool, v->n, bwd_data_image, &a); /* images: their dx are disjoint */
}

/* Range r of the tiles, summed into dw (r = 0) or its own partial. */
static void bwd_filter_range(void *arg, int64_t r, int worker) {
    const Tiled *a = arg;
    const RefWindow *v = a->v;
    const size_t kw_o = (size_t)a->K * (size_t)v->o;
    float *buf = tile_buf(a, worker);
    float *acc = r == 0 ? a->y : a->partial + (size_t)r * kw_o; // [K, o]
    int64_t t0 = a->tiles * r / a->ranges, t1 = a->tiles * (r + 1) / a->ranges;
    for (int64_t t = t0; t < t1; t++) {
        int b = (int)(t / a->per_image);
        int64_t p0 = (t % a->per_image) * a->T, p1 = p0 + a->T < a->P ? p0 + a->T : a->P;
        const float *col = col_tile(a->x, buf, v, b, p0, p1);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)a->K, v->o, (int)(p1 - p0), 1, col, (int)a->K,
                    a->dy + ((size_t)b * (size_t)a->P + (size_t)p0) * (size_t)v->o, v->o, t == t0 ? 0 : 1, acc, v->o);
    }
}

void cpu_conv2d_bwd_filter_f32(const float *x, const float *dy, float *dw, const RefWindow *v, int paths, float *scratch,
                               FnPool *pool) {
    switch (conv_path(v, CPU_BWD_FILTER, paths)) {
    case PATH_WINOGRAD: cpu_winograd_bwd_filter_f32(x, dy, dw, v, scratch, pool, cpu_paths_isa(paths)); return;
    case PATH_DIRECT: cpu_direct_bwd_filter_f32(x, dy, dw, v, scratch, pool, cpu_paths_isa(paths)); return;
    case PATH_WHOLE: cpu_whole_bwd_filter_f32(x, dy, dw, v, scratch, pool); return;
    default: break;
    }
    Tiled a = {.x = x, .dy = dy, .y = dw, .scratch = scratch, .v = v, .P = pixels(v), .K = kdim(v),
               .T = tile_rows(v, FILTER_TILE)};
    a.per_image = (a.P + a.T - 1) / a.T;
    a.tiles = v->n * a.per_image;
    a.ranges = a.tiles < FILTER_RANGES ? (int)a.tiles : FILTER_RANGES;
    a.partial = scratch + (ref_conv_pointwise(v) ? 0 : (size_t)fn_pool_size(pool) * (size_t)a.T * (size_t)a.K);
    const size_t kw_o = (size_t)a.K * (size_t)v->o;
    fn_pool_run(pool, a.ranges, bwd_filter_range, &a);
    cpu_add_partials(dw, a.partial + kw_o, kw_o, a.ranges - 1, pool);
}
