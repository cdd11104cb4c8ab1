/* Winograd F(2x2, 3x3) convolutions (Lavin & Gray, "Fast Algorithms for Convolutional Neural
 * Networks", 2016) for 3x3 stride-1 windows, any padding: 16 multiplications per 2x2 output
 * tile and channel pair instead of 36, so 2.25x fewer than im2col + GEMM.
 *
 * One output tile (2x2 pixels) reads a 4x4 input patch d; a filter g is 3x3. In 1-D:
 *   forward          y  = Aᵀ [ (G g) ⊙ (Bᵀ d) ]
 * and in 2-D with channels, for each of the 16 transformed positions (ξ, ν) one GEMM:
 *   U  = G g Gᵀ  [16][c][o]          V = Bᵀ d B  [16][tiles][c]
 *   M  = V · U   [16][tiles][o]      y tile = Aᵀ M A
 * The two gradients are the same linear maps transposed, so they reuse U and V:
 *   bwd_data     Z = A dy Aᵀ [16][tiles][o]   W = Z · Uᵀ   dx patch += B W Bᵀ
 *   bwd_filter   dU = Σ_tiles Vᵀ · Z  [16][c][o]          dw = Gᵀ dU G
 * Tiles past the output's edge read zeros (dy) or write to a junk row; patch cells in the
 * padding read zeros (x) or add to a junk row (dx).
 *
 * Work is split into blocks of consecutive tiles (across images), each transformed, multiplied
 * (16 one-threaded sgemms) and transformed back by one thread, so no result depends on the
 * team size:
 *   forward      blocks in parallel
 *   bwd_data     groups of whole images in parallel (their dx are disjoint; patches overlap)
 *   bwd_filter   a fixed number of block ranges in parallel, each into its own dU partial,
 *                the partials added in order
 * The per-channel transform loops are `omp simd` over the contiguous NHWC channel axis.
 * tests/test_cpu_fast.c checks all three against the reference kernels. */
#include "codegen/cpu/cpu.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

enum { BLOCK_BYTES = 3 << 19, MIN_BLOCK = 32, MAX_BLOCK = 512, FILTER_RANGES = 8 };

typedef struct {
    int64_t th, tw, per_image, total; /* tiles per column and row of an image, per image, in all */
    int64_t block;                    /* tiles per block */
    size_t c, o;
} Wg;

int cpu_winograd_fits(const RefWindow *v) {
    const char *env = getenv("FN_WINOGRAD");
    if (env && env[0] == '0') return 0;
    /* both GEMM widths (c and o) at least 64: narrower GEMMs run so far below the ceiling that
       the 2.25x fewer multiplications do not pay (bench/cpu/conv_lab, FN_WINOGRAD=0 against 1) */
    return v->kh == 3 && v->kw == 3 && v->sh == 1 && v->sw == 1 && v->c >= 64 && v->o >= 64;
}

static Wg wg_geom(const RefWindow *v) {
    Wg g;
    g.th = (v->oh + 1) / 2, g.tw = (v->ow + 1) / 2, g.per_image = g.th * g.tw, g.total = g.per_image * v->n;
    g.c = (size_t)v->c, g.o = (size_t)v->o;
    /* V and M (or Z and W) of a block together about BLOCK_BYTES: they stay in L2 between the
       transforms and the GEMMs */
    g.block = BLOCK_BYTES / (16 * 4 * (int64_t)(g.c + g.o));
    if (g.block < MIN_BLOCK) g.block = MIN_BLOCK;
    if (g.block > MAX_BLOCK) g.block = MAX_BLOCK;
    if (g.block > g.total) g.block = g.total;
    return g;
}

/* Per-thread block buffers: [16][block][c] and [16][block][o], junk rows [16][max(c,o)], a zero row. */
static size_t thread_floats(const Wg *g) {
    size_t wide = g->c > g->o ? g->c : g->o;
    return 16 * (size_t)g->block * (g->c + g->o) + 17 * wide;
}

size_t cpu_winograd_scratch(const RefWindow *v, int threads) {
    Wg g = wg_geom(v);
    size_t u = 16 * g.c * g.o;
    return u + (size_t)threads * thread_floats(&g) + (size_t)FILTER_RANGES * u;
}

typedef struct {
    float *v;    /* [16][block][c] */
    float *m;    /* [16][block][o] */
    float *junk; /* [16][wide] */
    float *zero; /* [wide], zeros */
} Bufs;

static Bufs thread_bufs(const Wg *g, float *base) {
    size_t wide = g->c > g->o ? g->c : g->o;
    float *p = base + (size_t)omp_get_thread_num() * thread_floats(g);
    Bufs b = {p, p + 16 * (size_t)g->block * g->c, NULL, NULL};
    b.junk = b.m + 16 * (size_t)g->block * g->o;
    b.zero = b.junk + 16 * wide;
    memset(b.zero, 0, wide * sizeof(float));
    return b;
}

/* The image, top-left output pixel of tile t. */
static void tile_at(const Wg *g, int64_t t, int *b, int *oy, int *ox) {
    *b = (int)(t / g->per_image);
    int64_t r = t % g->per_image;
    *oy = (int)(r / g->tw) * 2, *ox = (int)(r % g->tw) * 2;
}

/* Rows of the 4x4 input patch of the tile at (b, oy, ox): x's pixels, else `outside` + i*stride. */
static void patch_rows(const RefWindow *v, float *base, int b, int oy, int ox, float *outside, size_t stride,
                       float *rows[16]) {
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            int iy = oy - v->pad_t + i, ix = ox - v->pad_l + j;
            int in = iy >= 0 && iy < v->h && ix >= 0 && ix < v->w;
            rows[i * 4 + j] = in ? base + (((size_t)b * (size_t)v->h + (size_t)iy) * (size_t)v->w + (size_t)ix) * (size_t)v->c
                                 : outside + (size_t)(i * 4 + j) * stride;
        }
}

/* Rows of the 2x2 output tile: y's pixels, else `outside` + i*stride. */
static void tile_rows(const RefWindow *v, float *base, int b, int oy, int ox, float *outside, size_t stride,
                      float *rows[4]) {
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            int y = oy + i, x = ox + j;
            rows[i * 2 + j] = y < v->oh && x < v->ow
                                  ? base + (((size_t)b * (size_t)v->oh + (size_t)y) * (size_t)v->ow + (size_t)x) * (size_t)v->o
                                  : outside + (size_t)(i * 2 + j) * stride;
        }
}

/* V[k][r][:] = (Bᵀ d B)[k] for one patch (rows[16] of n channels); ld = block * n. */
static void input_transform(float *const rows[16], float *vr, size_t n, size_t ld) {
#pragma omp simd
    for (size_t c = 0; c < n; c++) {
        float t[4][4];
        for (int j = 0; j < 4; j++) {
            float d0 = rows[j][c], d1 = rows[4 + j][c], d2 = rows[8 + j][c], d3 = rows[12 + j][c];
            t[0][j] = d0 - d2, t[1][j] = d1 + d2, t[2][j] = d2 - d1, t[3][j] = d1 - d3;
        }
        for (int i = 0; i < 4; i++) {
            float *p = vr + (size_t)i * 4 * ld + c;
            p[0] = t[i][0] - t[i][2], p[ld] = t[i][1] + t[i][2], p[2 * ld] = t[i][2] - t[i][1], p[3 * ld] = t[i][1] - t[i][3];
        }
    }
}

/* Z[k][r][:] = (A dy Aᵀ)[k] for one output tile (rows[4] of n channels); ld = block * n. */
static void grad_transform(float *const rows[4], float *zr, size_t n, size_t ld) {
#pragma omp simd
    for (size_t c = 0; c < n; c++) {
        float y00 = rows[0][c], y01 = rows[1][c], y10 = rows[2][c], y11 = rows[3][c];
        float u[4][2] = {{y00, y01}, {y00 + y10, y01 + y11}, {y00 - y10, y01 - y11}, {-y10, -y11}};
        for (int i = 0; i < 4; i++) {
            float *p = zr + (size_t)i * 4 * ld + c;
            p[0] = u[i][0], p[ld] = u[i][0] + u[i][1], p[2 * ld] = u[i][0] - u[i][1], p[3 * ld] = -u[i][1];
        }
    }
}

/* y tile = Aᵀ M A, M[k][r][:] (n channels, ld = block * n), into rows[4]. */
static void output_transform(const float *mr, float *const rows[4], size_t n, size_t ld) {
#pragma omp simd
    for (size_t c = 0; c < n; c++) {
        float s[2][4];
        for (int j = 0; j < 4; j++) {
            float m0 = mr[(size_t)j * ld + c], m1 = mr[(size_t)(4 + j) * ld + c], m2 = mr[(size_t)(8 + j) * ld + c],
                  m3 = mr[(size_t)(12 + j) * ld + c];
            s[0][j] = m0 + m1 + m2, s[1][j] = m1 - m2 - m3;
        }
        for (int i = 0; i < 2; i++) {
            rows[i * 2][c] = s[i][0] + s[i][1] + s[i][2];
            rows[i * 2 + 1][c] = s[i][1] - s[i][2] - s[i][3];
        }
    }
}

/* dx patch += B W Bᵀ, W[k][r][:] (n channels, ld = block * n), into rows[16]. */
static void input_adjoint(const float *wr, float *const rows[16], size_t n, size_t ld) {
#pragma omp simd
    for (size_t c = 0; c < n; c++) {
        float q[4][4];
        for (int j = 0; j < 4; j++) {
            float w0 = wr[(size_t)j * ld + c], w1 = wr[(size_t)(4 + j) * ld + c], w2 = wr[(size_t)(8 + j) * ld + c],
                  w3 = wr[(size_t)(12 + j) * ld + c];
            q[0][j] = w0, q[1][j] = w1 - w2 + w3, q[2][j] = w1 + w2 - w0, q[3][j] = -w3;
        }
        for (int i = 0; i < 4; i++) {
            rows[i * 4][c] += q[i][0];
            rows[i * 4 + 1][c] += q[i][1] - q[i][2] + q[i][3];
            rows[i * 4 + 2][c] += q[i][1] + q[i][2] - q[i][0];
            rows[i * 4 + 3][c] -= q[i][3];
        }
    }
}

/* U = G g Gᵀ for every (c, o): w is [3][3][c][o], u [16][c][o]. */
static void filter_transform(const float *w, float *u, const Wg *g, int threads) {
    const size_t co = g->c * g->o;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t c = 0; c < g->c; c++) {
        const float *wc = w + c * g->o;
        float *uc = u + c * g->o;
#pragma omp simd
        for (size_t o = 0; o < g->o; o++) {
            float t[4][3];
            for (int j = 0; j < 3; j++) {
                float g0 = wc[(size_t)j * co + o], g1 = wc[(size_t)(3 + j) * co + o], g2 = wc[(size_t)(6 + j) * co + o];
                t[0][j] = g0, t[1][j] = 0.5f * (g0 + g1 + g2), t[2][j] = 0.5f * (g0 - g1 + g2), t[3][j] = g2;
            }
            for (int i = 0; i < 4; i++) {
                float *p = uc + (size_t)i * 4 * co + o;
                p[0] = t[i][0], p[co] = 0.5f * (t[i][0] + t[i][1] + t[i][2]), p[2 * co] = 0.5f * (t[i][0] - t[i][1] + t[i][2]),
                p[3 * co] = t[i][2];
            }
        }
    }
}

/* dw = Gᵀ dU G for every (c, o): du [16][c][o], dw [3][3][c][o]. */
static void filter_adjoint(const float *du, float *dw, const Wg *g, int threads) {
    const size_t co = g->c * g->o;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t c = 0; c < g->c; c++) {
        const float *uc = du + c * g->o;
        float *wc = dw + c * g->o;
#pragma omp simd
        for (size_t o = 0; o < g->o; o++) {
            float t[3][4];
            for (int j = 0; j < 4; j++) {
                float u0 = uc[(size_t)j * co + o], u1 = uc[(size_t)(4 + j) * co + o], u2 = uc[(size_t)(8 + j) * co + o],
                      u3 = uc[(size_t)(12 + j) * co + o];
                t[0][j] = u0 + 0.5f * (u1 + u2), t[1][j] = 0.5f * (u1 - u2), t[2][j] = 0.5f * (u1 + u2) + u3;
            }
            for (int i = 0; i < 3; i++) {
                float *p = wc + (size_t)i * 3 * co + o;
                p[0] = t[i][0] + 0.5f * (t[i][1] + t[i][2]), p[co] = 0.5f * (t[i][1] - t[i][2]),
                p[2 * co] = 0.5f * (t[i][1] + t[i][2]) + t[i][3];
            }
        }
    }
}

/* V for tiles t0..t1 of x into bufs->v. */
static void transform_inputs(const RefWindow *v, const Wg *g, const float *x, int64_t t0, int64_t t1, Bufs *bf) {
    const size_t ld = (size_t)g->block * g->c;
    for (int64_t t = t0; t < t1; t++) {
        int b, oy, ox;
        float *rows[16];
        tile_at(g, t, &b, &oy, &ox);
        patch_rows(v, (float *)x, b, oy, ox, bf->zero, 0, rows);
        input_transform(rows, bf->v + (size_t)(t - t0) * g->c, g->c, ld);
    }
}

/* Z for tiles t0..t1 of dy into bufs->m. */
static void transform_grads(const RefWindow *v, const Wg *g, const float *dy, int64_t t0, int64_t t1, Bufs *bf) {
    const size_t ld = (size_t)g->block * g->o;
    for (int64_t t = t0; t < t1; t++) {
        int b, oy, ox;
        float *rows[4];
        tile_at(g, t, &b, &oy, &ox);
        tile_rows(v, (float *)dy, b, oy, ox, bf->zero, 0, rows);
        grad_transform(rows, bf->m + (size_t)(t - t0) * g->o, g->o, ld);
    }
}

void cpu_winograd_conv2d_f32(const float *x, const float *w, float *y, const RefWindow *v, float *scratch, int threads) {
    const Wg g = wg_geom(v);
    float *u = scratch, *per_thread = scratch + 16 * g.c * g.o;
    filter_transform(w, u, &g, threads);
    const int64_t blocks = (g.total + g.block - 1) / g.block;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t k = 0; k < blocks; k++) {
        Bufs bf = thread_bufs(&g, per_thread);
        int64_t t0 = k * g.block, t1 = t0 + g.block < g.total ? t0 + g.block : g.total;
        int nr = (int)(t1 - t0);
        transform_inputs(v, &g, x, t0, t1, &bf);
        for (int e = 0; e < 16; e++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, (int)g.o, (int)g.c, 1,
                        bf.v + (size_t)e * (size_t)g.block * g.c, (int)g.c, u + (size_t)e * g.c * g.o, (int)g.o, 0,
                        bf.m + (size_t)e * (size_t)g.block * g.o, (int)g.o);
        for (int64_t t = t0; t < t1; t++) {
            int b, oy, ox;
            float *rows[4];
            tile_at(&g, t, &b, &oy, &ox);
            tile_rows(v, y, b, oy, ox, bf.junk, g.o, rows);
            output_transform(bf.m + (size_t)(t - t0) * g.o, rows, g.o, (size_t)g.block * g.o);
        }
    }
}

void cpu_winograd_bwd_data_f32(const float *dy, const float *w, float *dx, const RefWindow *v, float *scratch,
                               int threads) {
    const Wg g = wg_geom(v);
    float *u = scratch, *per_thread = scratch + 16 * g.c * g.o;
    filter_transform(w, u, &g, threads);
    /* groups of whole images, about a block of tiles each */
    const int per_group = g.block > g.per_image ? (int)(g.block / g.per_image) : 1;
    const int groups = (v->n + per_group - 1) / per_group;
    const size_t image = (size_t)v->h * (size_t)v->w * g.c;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int k = 0; k < groups; k++) {
        Bufs bf = thread_bufs(&g, per_thread);
        int b0 = k * per_group, b1 = b0 + per_group < v->n ? b0 + per_group : v->n;
        memset(dx + (size_t)b0 * image, 0, (size_t)(b1 - b0) * image * sizeof(float));
        for (int64_t t0 = b0 * g.per_image, end = b1 * g.per_image; t0 < end; t0 += g.block) {
            int64_t t1 = t0 + g.block < end ? t0 + g.block : end;
            transform_grads(v, &g, dy, t0, t1, &bf);
            for (int e = 0; e < 16; e++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(t1 - t0), (int)g.c, (int)g.o, 1,
                            bf.m + (size_t)e * (size_t)g.block * g.o, (int)g.o, u + (size_t)e * g.c * g.o, (int)g.o, 0,
                            bf.v + (size_t)e * (size_t)g.block * g.c, (int)g.c);
            for (int64_t t = t0; t < t1; t++) {
                int b, oy, ox;
                float *rows[16];
                tile_at(&g, t, &b, &oy, &ox);
                patch_rows(v, dx, b, oy, ox, bf.junk, g.c > g.o ? g.c : g.o, rows);
                input_adjoint(bf.v + (size_t)(t - t0) * g.c, rows, g.c, (size_t)g.block * g.c);
            }
        }
    }
}

void cpu_winograd_bwd_filter_f32(const float *x, const float *dy, float *dw, const RefWindow *v, float *scratch,
                                 int threads) {
    const Wg g = wg_geom(v);
    const size_t co = 16 * g.c * g.o;
    float *per_thread = scratch + co, *partial = per_thread + (size_t)threads * thread_floats(&g);
    const int64_t blocks = (g.total + g.block - 1) / g.block;
    const int ranges = blocks < FILTER_RANGES ? (int)blocks : FILTER_RANGES;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int r = 0; r < ranges; r++) {
        Bufs bf = thread_bufs(&g, per_thread);
        float *du = partial + (size_t)r * co;
        for (int64_t k = blocks * r / ranges; k < blocks * (r + 1) / ranges; k++) {
            int64_t t0 = k * g.block, t1 = t0 + g.block < g.total ? t0 + g.block : g.total;
            transform_inputs(v, &g, x, t0, t1, &bf);
            transform_grads(v, &g, dy, t0, t1, &bf);
            for (int e = 0; e < 16; e++)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g.c, (int)g.o, (int)(t1 - t0), 1,
                            bf.v + (size_t)e * (size_t)g.block * g.c, (int)g.c, bf.m + (size_t)e * (size_t)g.block * g.o,
                            (int)g.o, k == blocks * r / ranges ? 0 : 1, du + (size_t)e * g.c * g.o, (int)g.o);
        }
    }
    float *du = partial;
    for (int r = 1; r < ranges; r++) {
        const float *p = partial + (size_t)r * co;
        for (size_t i = 0; i < co; i++) du[i] += p[i];
    }
    filter_adjoint(du, dw, &g, threads);
}
