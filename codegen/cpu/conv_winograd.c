/* Winograd F(4x4, 3x3) convolutions (Lavin & Gray, "Fast Algorithms for Convolutional Neural
 * Networks", 2016) for 3x3 stride-1 windows, any padding (and F(4, 7) for 1x7 and 7x1, below): 36 multiplications per 4x4 output
 * tile and channel pair instead of 144, so 4x fewer than im2col + GEMM (fewer where the tiles
 * overhang the image: 3.1x at 17x17). float32 rounding grows to about 2e-6 relative (F(2x2, 3x3)
 * gave 5e-7; the reference's im2col about 1e-7).
 *
 * One output tile (4x4 pixels) reads a 6x6 input patch d; a filter g is 3x3. In 1-D:
 *   forward          y  = Aᵀ [ (G g) ⊙ (Bᵀ d) ]
 * and in 2-D with channels, for each of the 36 transformed positions (ξ, ν) one GEMM:
 *   U  = G g Gᵀ  [36][c][o]          V = Bᵀ d B  [36][tiles][c]
 *   M  = V · U   [36][tiles][o]      y tile = Aᵀ M A
 * The two gradients are the same linear maps transposed, so they reuse U and V:
 *   bwd_data     Z = A dy Aᵀ [36][tiles][o]   W = Z · Uᵀ   dx patch += B W Bᵀ
 *   bwd_filter   dU = Σ_tiles Vᵀ · Z  [36][c][o]          dw = Gᵀ dU G
 * Tiles past the output's edge read zeros (dy) or write to a junk row; patch cells in the
 * padding read zeros (x) or add to a junk row (dx).
 *
 * 1x7 and 7x1 windows (block17's) take the 1-D F(4, 7) along their long axis the same way:
 * tiles of 4 pixels from patches of 10, 10 positions (GEMMs) instead of 28 multiplications per
 * 4 outputs, 2.8x fewer; its matrices are built from their points (f47_matrices).
 *
 * Work is split into blocks of consecutive tiles (across images), each transformed, multiplied
 * (36, or 10, one-threaded sgemms) and transformed back by one thread, so no result depends on the
 * team size:
 *   forward      blocks in parallel
 *   bwd_data     groups of whole images in parallel (their dx are disjoint; patches overlap)
 *   bwd_filter   a fixed number of block ranges in parallel, each into its own dU partial,
 *                the partials added in order
 * The transforms take 16 channels (one AVX-512 register) of a whole patch or tile at a time,
 * along the contiguous NHWC channel axis.
 * tests/test_cpu_fast.c checks all three against the reference kernels. */
#include "codegen/cpu/cpu.h"
#include "codegen/cpu/isa.h"

#include <assert.h>
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

/* F(4x4, 3x3): M x M output tiles from A x A input patches, AA transformed positions.
 * F(4, 7) along a 1x7 or 7x1 window's long axis: tiles of M1 = 4 pixels from patches of A1 = 10
 * along that axis (2.8x fewer multiplications than a direct 7-tap sum). */
enum { M = 4, A = 6, MM = M * M, AA = A * A, M1 = 4, R1 = 7, A1 = M1 + R1 - 1 };
enum { BLOCK_BYTES = 3 << 19, MIN_BLOCK = 96, MAX_BLOCK = 512, FILTER_RANGES = 8 };
enum { WG_3X3, WG_1X7, WG_7X1 }; /* the kinds: 1X7 runs along w, 7X1 along h */

typedef struct {
    int kind;
    int mh, mw, ah, aw, p;            /* output tile, input patch, transformed positions */
    int64_t th, tw, per_image, total; /* tiles per column and row of an image, per image, in all */
    int64_t block;                    /* tiles per block */
    size_t c, o;
} Wg;

static int wg_kind(const RefWindow *v) {
    if (v->sh != 1 || v->sw != 1) return -1;
    if (v->kh == 3 && v->kw == 3) return WG_3X3;
    if (v->kh == 1 && v->kw == R1) return WG_1X7;
    if (v->kh == R1 && v->kw == 1) return WG_7X1;
    return -1;
}

int cpu_winograd_fits(const RefWindow *v) {
    /* measured with bench/cpu/conv_lab (FN_WINOGRAD=0 against 1): with 64+ channels in and out
       it wins at every map size of the model; with 32 only on large maps (79x79 and 77x77,
       not block35's 17x17, where the direct kernel is faster). 1x7 and 7x1: block17's 128
       channels on 8x8 maps */
    int kind = wg_kind(v);
    if (kind == WG_1X7 || kind == WG_7X1) return v->c >= 64 && v->o >= 64;
    return kind == WG_3X3 && v->c >= 32 && v->o >= 32 &&
           ((v->c >= 64 && v->o >= 64) || (int64_t)v->oh * v->ow >= 1024);
}

static Wg wg_geom(const RefWindow *v) {
    Wg g;
    /* tile (mh x mw) and patch (ah x aw) of each kind */
    static const int shape[3][4] = {[WG_3X3] = {M, M, A, A}, [WG_1X7] = {1, M1, 1, A1}, [WG_7X1] = {M1, 1, A1, 1}};
    g.kind = wg_kind(v);
    assert(g.kind >= 0); /* callers ask cpu_winograd_fits first */
    g.mh = shape[g.kind][0], g.mw = shape[g.kind][1], g.ah = shape[g.kind][2], g.aw = shape[g.kind][3];
    g.p = g.ah * g.aw;
    g.th = (v->oh + g.mh - 1) / g.mh, g.tw = (v->ow + g.mw - 1) / g.mw, g.per_image = g.th * g.tw,
    g.total = g.per_image * v->n;
    g.c = (size_t)v->c, g.o = (size_t)v->o;
    /* V and M (or Z and W) of a block together about BLOCK_BYTES, so that they stay in L2
       between the transforms and the GEMMs, but at least 96 tiles: with 192 channels the
       GEMMs of 32-tile blocks ran 20-40% slower (bench/cpu/conv_lab) */
    g.block = BLOCK_BYTES / (g.p * 4 * (int64_t)(g.c + g.o));
    if (g.block < MIN_BLOCK) g.block = MIN_BLOCK;
    if (g.block > MAX_BLOCK) g.block = MAX_BLOCK;
    /* then an even number of equal blocks, so that two threads get the same work, even below 96
       tiles: 8x8x256's 128 tiles had run as 96 + 32, now 64 + 64 (fixed by the shape alone, not
       the team: bwd_filter's sums follow the blocks) */
    int64_t blocks = g.block > 0 ? (g.total + g.block - 1) / g.block : 1;
    blocks += blocks & 1;
    g.block = (g.total + blocks - 1) / blocks;
    return g;
}

/* Per-thread block buffers: [p][block][c] and [p][block][o], junk rows [p][max(c,o)], a zero
 * row. */
static size_t thread_floats(const Wg *g) {
    size_t wide = g->c > g->o ? g->c : g->o;
    return (size_t)g->p * (size_t)g->block * (g->c + g->o) + ((size_t)g->p + 1) * wide;
}

size_t cpu_winograd_scratch(const RefWindow *v, int threads) {
    Wg g = wg_geom(v);
    size_t u = (size_t)g.p * g.c * g.o;
    return u + (size_t)threads * thread_floats(&g) + (size_t)FILTER_RANGES * u;
}

typedef struct {
    float *v;    /* [p][block][c] */
    float *m;    /* [p][block][o] */
    float *junk; /* [p][wide] */
    float *zero; /* [wide], zeros */
} Bufs;

static Bufs thread_bufs(const Wg *g, float *base, int worker) {
    size_t wide = g->c > g->o ? g->c : g->o;
    float *p = base + (size_t)worker * thread_floats(g);
    Bufs b = {p, p + (size_t)g->p * (size_t)g->block * g->c, NULL, NULL};
    b.junk = b.m + (size_t)g->p * (size_t)g->block * g->o;
    b.zero = b.junk + (size_t)g->p * wide;
    memset(b.zero, 0, wide * sizeof(float));
    return b;
}

/* The image, top-left output pixel of tile t. */
static void tile_at(const Wg *g, int64_t t, int *b, int *oy, int *ox) {
    *b = (int)(t / g->per_image);
    int64_t r = t % g->per_image;
    *oy = (int)(r / g->tw) * g->mh, *ox = (int)(r % g->tw) * g->mw;
}

/* Rows of the nh x nw rectangle from (y0, x0) in image b of an NHWC tensor [.][h][w][ch]: its
 * pixels, or `outside` + (i * nw + j) * stride for cells off the image. The tile at (b, oy, ox)
 * reads the ah x aw input patch from (oy - pad_t, ox - pad_l) and writes the mh x mw output
 * rectangle from (oy, ox). */
static void rect_rows(float *base, int h, int w, size_t ch, int b, int y0, int x0, int nh, int nw,
                      float *outside, size_t stride, float **rows) {
    for (int i = 0; i < nh; i++)
        for (int j = 0; j < nw; j++) {
            int y = y0 + i, x = x0 + j;
            rows[i * nw + j] =
                y >= 0 && y < h && x >= 0 && x < w
                    ? base + (((size_t)b * (size_t)h + (size_t)y) * (size_t)w + (size_t)x) * ch
                    : outside + (size_t)(i * nw + j) * stride;
        }
}
static void patch_rows(const RefWindow *v, const Wg *g, float *base, int b, int oy, int ox,
                       float *outside, size_t stride, float **rows) {
    rect_rows(base, v->h, v->w, (size_t)v->c, b, oy - v->pad_t, ox - v->pad_l, g->ah, g->aw, outside,
              stride, rows);
}
static void tile_rows(const RefWindow *v, const Wg *g, float *base, int b, int oy, int ox,
                      float *outside, size_t stride, float **rows) {
    rect_rows(base, v->oh, v->ow, (size_t)v->o, b, oy, ox, g->mh, g->mw, outside, stride, rows);
}

/* The transforms work on 16 channels at a time, one vector (GCC's vector extension) per pixel
 * or transformed position: a 6x6 patch is 36 vectors, transformed in registers and stored once.
 * Each loop over tiles is written once (BODY, inlined) and built three times (ISA_VARIANTS at
 * the end of them): for AVX-512, where a vector is one register, AVX2 with FMA (two) and the
 * baseline; the executor picks one when it binds (CPU_PATHS' isa). */
#define INLINE static inline __attribute__((always_inline))
#define BODY INLINE
/* the helpers taking and returning vectors are always inlined, so no call passes one: */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float Vec __attribute__((vector_size(64)));
enum { LANES = 16 };

/* n (<= LANES) channels from p, zeros past them; or the first n lanes of v to p */
INLINE Vec vload(const float *p, int n) {
    Vec v = {0};
    memcpy(&v, p, (size_t)n * sizeof(float));
    return v;
}
INLINE void vstore(float *p, Vec v, int n) { memcpy(p, &v, (size_t)n * sizeof(float)); }

/* The 1-D transforms of F(4, 3) and their adjoints (Lavin & Gray's matrices), vector k of
 * the input at x[k * xs], of the output at t[k * ts]:
 *   Bᵀ = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   G  = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *   Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1] */
#define X(k) x[(k) * xs]
#define T(k) t[(k) * ts]
INLINE void bt6(const Vec *x, int xs, Vec *t, int ts) { /* t = Bᵀ x */
    T(0) = 4.0f * X(0) - 5.0f * X(2) + X(4);
    T(1) = -4.0f * (X(1) + X(2)) + X(3) + X(4);
    T(2) = 4.0f * (X(1) - X(2)) - X(3) + X(4);
    T(3) = 2.0f * (X(3) - X(1)) - X(2) + X(4);
    T(4) = 2.0f * (X(1) - X(3)) - X(2) + X(4);
    T(5) = 4.0f * X(1) - 5.0f * X(3) + X(5);
}
INLINE void b6(const Vec *x, int xs, Vec *t, int ts) { /* t = B x */
    T(0) = 4.0f * X(0);
    T(1) = 4.0f * (X(2) - X(1) + X(5)) + 2.0f * (X(4) - X(3));
    T(2) = -5.0f * X(0) - 4.0f * (X(1) + X(2)) - X(3) - X(4);
    T(3) = X(1) - X(2) + 2.0f * (X(3) - X(4)) - 5.0f * X(5);
    T(4) = X(0) + X(1) + X(2) + X(3) + X(4);
    T(5) = X(5);
}
INLINE void g6(const Vec *x, int xs, Vec *t, int ts) { /* t = G x */
    T(0) = X(0) * (1.0f / 4);
    T(1) = -(X(0) + X(1) + X(2)) * (1.0f / 6);
    T(2) = -(X(0) - X(1) + X(2)) * (1.0f / 6);
    T(3) = X(0) * (1.0f / 24) + X(1) * (1.0f / 12) + X(2) * (1.0f / 6);
    T(4) = X(0) * (1.0f / 24) - X(1) * (1.0f / 12) + X(2) * (1.0f / 6);
    T(5) = X(2);
}
INLINE void gt3(const Vec *x, int xs, Vec *t, int ts) { /* t = Gᵀ x */
    T(0) = X(0) * (1.0f / 4) - (X(1) + X(2)) * (1.0f / 6) + (X(3) + X(4)) * (1.0f / 24);
    T(1) = (X(2) - X(1)) * (1.0f / 6) + (X(3) - X(4)) * (1.0f / 12);
    T(2) = (X(3) + X(4) - X(1) - X(2)) * (1.0f / 6) + X(5);
}
INLINE void at4(const Vec *x, int xs, Vec *t, int ts) { /* t = Aᵀ x */
    T(0) = X(0) + X(1) + X(2) + X(3) + X(4);
    T(1) = X(1) - X(2) + 2.0f * (X(3) - X(4));
    T(2) = X(1) + X(2) + 4.0f * (X(3) + X(4));
    T(3) = X(1) - X(2) + 8.0f * (X(3) - X(4)) + X(5);
}
INLINE void a6(const Vec *x, int xs, Vec *t, int ts) { /* t = A x */
    T(0) = X(0);
    T(1) = X(0) + X(1) + X(2) + X(3);
    T(2) = X(0) - X(1) + X(2) - X(3);
    T(3) = X(0) + 2.0f * X(1) + 4.0f * X(2) + 8.0f * X(3);
    T(4) = X(0) - 2.0f * X(1) + 4.0f * X(2) - 8.0f * X(3);
    T(5) = X(3);
}
#undef X
#undef T

/* A 2-D transform L x Rᵀ of a [rows_in][cols] grid of vectors in x (row-major), columns then
 * rows through the 1-D `f` (rows_in -> rows_out, and cols -> cols_out), into out
 * [rows_out][cols_out]; tmp holds [rows_out][cols]. */
typedef void (*Tr1)(const Vec *, int, Vec *, int);
INLINE void tr2(Tr1 f, int rows_out, int cols, int cols_out, const Vec *x, Vec *tmp, Vec *out) {
    for (int j = 0; j < cols; j++)
        f(x + j, cols, tmp + j, cols);
    for (int i = 0; i < rows_out; i++)
        f(tmp + i * cols, 1, out + i * cols_out, 1);
}

/* Each loop over channels runs in vectors of 16, the last one possibly part full: `body`
 * sees a constant 16 in all but that one, so its loads and stores are single moves. */
#define BY_VECTORS(n, body)                                                                        \
    for (size_t c0 = 0; c0 < (n); c0 += LANES) {                                                   \
        if ((n) - c0 >= LANES) {                                                                   \
            const int nc = LANES;                                                                  \
            body;                                                                                  \
        } else {                                                                                   \
            const int nc = (int)((n) - c0);                                                        \
            body;                                                                                  \
        }                                                                                          \
    }

/* F(4, 7), Cook-Toom: at the points p = 0, 1, -1, 2, -2, 1/2, -1/2, 3/2, -3/2 and infinity,
 *   Aᵀ[i][j] = p_j^i (infinity: 1 in the last row)                      4 x 10
 *   G[j][k]  = p_j^k / Π_{l≠j} (p_j - p_l) (infinity: 1 at the last tap) 10 x 7
 *   Bᵀ[j]    = the coefficients of Π_{l≠j} (x - p_l), and of Π_l (x - p_l) for infinity  10 x 10
 * built in double when the library loads. Its float32 rounding, with 128 channels summed, is
 * about 2e-6 of the output's norm (with 3 and -3 for the last two points: 3e-6; F(2, 7) would
 * give 8e-7 for 1.75x fewer multiplications, not 2.8x); conv_lab's measure (against the sum
 * of the terms' magnitudes, per cell) gives 4-9e-7. */
static float AT1[M1][A1], G1[A1][R1], BT1[A1][A1];

__attribute__((constructor)) static void f47_matrices(void) {
    const double p[A1 - 1] = {0, 1, -1, 2, -2, 0.5, -0.5, 1.5, -1.5};
    for (int i = 0; i < M1; i++) {
        for (int j = 0; j < A1 - 1; j++) {
            double v = 1;
            for (int e = 0; e < i; e++) v *= p[j];
            AT1[i][j] = (float)v;
        }
        AT1[i][A1 - 1] = i == M1 - 1;
    }
    for (int j = 0; j < A1; j++) {
        double f = 1, c[A1 + 1] = {1}; /* Π (x - p_l) over l != j (all l for infinity), ascending */
        int deg = 0;
        for (int l = 0; l < A1 - 1; l++) {
            if (l == j) continue;
            if (j < A1 - 1) f *= p[j] - p[l];
            for (int e = ++deg; e > 0; e--) c[e] = c[e - 1] - p[l] * c[e];
            c[0] *= -p[l];
        }
        for (int k = 0; k < A1; k++) BT1[j][k] = (float)(k <= deg ? c[k] : 0);
        for (int k = 0; k < R1; k++) {
            double v = 1;
            for (int e = 0; e < k && j < A1 - 1; e++) v *= p[j];
            G1[j][k] = (float)(j < A1 - 1 ? v / f : k == R1 - 1);
        }
    }
}

/* t[i] = Σ_j mat[i][j] x[j] (rows x cols, row-major), or its transpose (x has `rows` then) */
INLINE void matvec(const float *mat, int rows, int cols, const Vec *x, Vec *t) {
    for (int i = 0; i < rows; i++) {
        Vec acc = {0};
        for (int j = 0; j < cols; j++) acc += mat[i * cols + j] * x[j];
        t[i] = acc;
    }
}
INLINE void matvec_t(const float *mat, int rows, int cols, const Vec *x, Vec *t) {
    for (int j = 0; j < cols; j++) {
        Vec acc = {0};
        for (int i = 0; i < rows; i++) acc += mat[i * cols + j] * x[i];
        t[j] = acc;
    }
}

/* One tile's transform, 16 channels at a time: nin vectors read (from a pointer table, rows[k] +
 * c0, or from a buffer, buf + k * ld + c0), mapped by f to nout vectors, written the same way
 * (added to the table's rows when add). Every transform below is one map:
 *   input      V = Bᵀ d B  (1-D: Bᵀ d)    patch rows -> V[k][r][:] of the block
 *   grad       Z = A dy Aᵀ (A dy)         tile rows -> Z[k][r][:]
 *   output     y = Aᵀ M A  (Aᵀ M)         M[k][r][:] -> tile rows
 *   adjoint    dx += B W Bᵀ (B W)         W[k][r][:] -> patch rows, added
 *   filter     U = G g Gᵀ (G g), and its adjoint dw = Gᵀ dU G (Gᵀ dU), per input channel */
typedef void (*Map)(const Vec *x, Vec *t);
INLINE void tile_map(Map f, int nin, int nout, float *const *in_rows, const float *in, float *const *out_rows,
                     float *out, int add, size_t n, size_t ld) {
    Vec x[AA], t[AA];
    BY_VECTORS(n, {
        for (int k = 0; k < nin; k++)
            x[k] = vload(in_rows ? in_rows[k] + c0 : in + k * ld + c0, nc);
        f(x, t);
        for (int k = 0; k < nout; k++) {
            float *o = out_rows ? out_rows[k] + c0 : out + k * ld + c0;
            vstore(o, add ? vload(o, nc) + t[k] : t[k], nc);
        }
    })
}
/* the maps: 2-D (3x3) through tr2 and the 1-D transforms above, 1-D (F(4, 7)) through matvec */
INLINE void map_bt2(const Vec *x, Vec *t) { Vec s[AA]; tr2(bt6, A, A, A, x, s, t); }
INLINE void map_a2(const Vec *x, Vec *t) { Vec s[A * M]; tr2(a6, A, M, A, x, s, t); }
INLINE void map_at2(const Vec *x, Vec *t) { Vec s[M * A]; tr2(at4, M, A, M, x, s, t); }
INLINE void map_b2(const Vec *x, Vec *t) { Vec s[AA]; tr2(b6, A, A, A, x, s, t); }
INLINE void map_g2(const Vec *x, Vec *t) { Vec s[A * 3]; tr2(g6, A, 3, A, x, s, t); }
INLINE void map_gt2(const Vec *x, Vec *t) { Vec s[3 * A]; tr2(gt3, 3, A, 3, x, s, t); }
INLINE void map_bt1(const Vec *x, Vec *t) { matvec(&BT1[0][0], A1, A1, x, t); }
INLINE void map_a1(const Vec *x, Vec *t) { matvec_t(&AT1[0][0], M1, A1, x, t); }
INLINE void map_at1(const Vec *x, Vec *t) { matvec(&AT1[0][0], M1, A1, x, t); }
INLINE void map_b1(const Vec *x, Vec *t) { matvec_t(&BT1[0][0], A1, A1, x, t); }
INLINE void map_g1(const Vec *x, Vec *t) { matvec(&G1[0][0], A1, R1, x, t); }
INLINE void map_gt1(const Vec *x, Vec *t) { matvec_t(&G1[0][0], A1, R1, x, t); }

/* U for input channel c and every o: w is [kh][kw][c][o], u [p][c][o]. */
BODY void filter_transform_row_body(const float *w, float *u, const Wg *g, size_t c) {
    const size_t co = g->c * g->o, at = c * g->o;
    if (g->kind == WG_3X3) tile_map(map_g2, 9, AA, NULL, w + at, NULL, u + at, 0, g->o, co);
    else tile_map(map_g1, R1, A1, NULL, w + at, NULL, u + at, 0, g->o, co);
}
/* dw from dU for input channel c and every o: du [p][c][o], dw [kh][kw][c][o]. */
BODY void filter_adjoint_row_body(const float *du, float *dw, const Wg *g, size_t c) {
    const size_t co = g->c * g->o, at = c * g->o;
    if (g->kind == WG_3X3) tile_map(map_gt2, AA, 9, NULL, du + at, NULL, dw + at, 0, g->o, co);
    else tile_map(map_gt1, A1, R1, NULL, du + at, NULL, dw + at, 0, g->o, co);
}

/* V for tiles t0..t1 of x into bufs->v. */
BODY void transform_inputs_body(const RefWindow *v, const Wg *g, const float *x, int64_t t0,
                                    int64_t t1, Bufs *bf) {
    const size_t ld = (size_t)g->block * g->c;
    for (int64_t t = t0; t < t1; t++) {
        int b, oy, ox;
        float *rows[AA];
        tile_at(g, t, &b, &oy, &ox);
        patch_rows(v, g, (float *)x, b, oy, ox, bf->zero, 0, rows);
        float *vr = bf->v + (size_t)(t - t0) * g->c;
        if (g->kind == WG_3X3) tile_map(map_bt2, AA, AA, rows, NULL, NULL, vr, 0, g->c, ld);
        else tile_map(map_bt1, A1, A1, rows, NULL, NULL, vr, 0, g->c, ld);
    }
}

/* Z for tiles t0..t1 of dy into bufs->m. */
BODY void transform_grads_body(const RefWindow *v, const Wg *g, const float *dy, int64_t t0,
                                   int64_t t1, Bufs *bf) {
    const size_t ld = (size_t)g->block * g->o;
    for (int64_t t = t0; t < t1; t++) {
        int b, oy, ox;
        float *rows[MM];
        tile_at(g, t, &b, &oy, &ox);
        tile_rows(v, g, (float *)dy, b, oy, ox, bf->zero, 0, rows);
        float *zr = bf->m + (size_t)(t - t0) * g->o;
        if (g->kind == WG_3X3) tile_map(map_a2, MM, AA, rows, NULL, NULL, zr, 0, g->o, ld);
        else tile_map(map_a1, M1, A1, rows, NULL, NULL, zr, 0, g->o, ld);
    }
}

/* y tiles t0..t1 from bufs->m. */
BODY void transform_outputs_body(const RefWindow *v, const Wg *g, float *y, int64_t t0,
                                     int64_t t1, Bufs *bf) {
    for (int64_t t = t0; t < t1; t++) {
        int b, oy, ox;
        float *rows[MM];
        tile_at(g, t, &b, &oy, &ox);
        tile_rows(v, g, y, b, oy, ox, bf->junk, g->o, rows);
        const float *mr = bf->m + (size_t)(t - t0) * g->o;
        if (g->kind == WG_3X3) tile_map(map_at2, AA, MM, NULL, mr, rows, NULL, 0, g->o, (size_t)g->block * g->o);
        else tile_map(map_at1, A1, M1, NULL, mr, rows, NULL, 0, g->o, (size_t)g->block * g->o);
    }
}

/* dx patches of tiles t0..t1 += their adjoint transforms of bufs->v. */
BODY void add_input_adjoints_body(const RefWindow *v, const Wg *g, float *dx, int64_t t0,
                                      int64_t t1, Bufs *bf) {
    for (int64_t t = t0; t < t1; t++) {
        int b, oy, ox;
        float *rows[AA];
        tile_at(g, t, &b, &oy, &ox);
        patch_rows(v, g, dx, b, oy, ox, bf->junk, g->c > g->o ? g->c : g->o, rows);
        const float *wr = bf->v + (size_t)(t - t0) * g->c;
        if (g->kind == WG_3X3) tile_map(map_b2, AA, AA, NULL, wr, rows, NULL, 1, g->c, (size_t)g->block * g->c);
        else tile_map(map_b1, A1, A1, NULL, wr, rows, NULL, 1, g->c, (size_t)g->block * g->c);
    }
}

/* Each body as a function for each instruction set (isa.h), and the table the passes call through. */
#define ISA_VARIANTS(name, params, args)                                                           \
    static void name##_base params { name##_body args; }                                          \
    ISA_AVX2 static void name##_avx2 params { name##_body args; }                                 \
    ISA_AVX512 static void name##_avx512 params { name##_body args; }
#define ROW_PARAMS(a, b) (a, b, const Wg *g, size_t c)
#define TILE_PARAMS(a) (const RefWindow *v, const Wg *g, a, int64_t t0, int64_t t1, Bufs *bf)
ISA_VARIANTS(filter_transform_row, ROW_PARAMS(const float *w, float *u), (w, u, g, c))
ISA_VARIANTS(filter_adjoint_row, ROW_PARAMS(const float *du, float *dw), (du, dw, g, c))
ISA_VARIANTS(transform_inputs, TILE_PARAMS(const float *x), (v, g, x, t0, t1, bf))
ISA_VARIANTS(transform_grads, TILE_PARAMS(const float *dy), (v, g, dy, t0, t1, bf))
ISA_VARIANTS(transform_outputs, TILE_PARAMS(float *y), (v, g, y, t0, t1, bf))
ISA_VARIANTS(add_input_adjoints, TILE_PARAMS(float *dx), (v, g, dx, t0, t1, bf))

typedef struct {
    void (*filter_transform_row)(const float *w, float *u, const Wg *g, size_t c);
    void (*filter_adjoint_row)(const float *du, float *dw, const Wg *g, size_t c);
    void (*transform_inputs)(const RefWindow *v, const Wg *g, const float *x, int64_t t0, int64_t t1, Bufs *bf);
    void (*transform_grads)(const RefWindow *v, const Wg *g, const float *dy, int64_t t0, int64_t t1, Bufs *bf);
    void (*transform_outputs)(const RefWindow *v, const Wg *g, float *y, int64_t t0, int64_t t1, Bufs *bf);
    void (*add_input_adjoints)(const RefWindow *v, const Wg *g, float *dx, int64_t t0, int64_t t1, Bufs *bf);
} WgKernels;
#define WG_KERNELS(sfx)                                                                            \
    {filter_transform_row_##sfx, filter_adjoint_row_##sfx, transform_inputs_##sfx,                 \
     transform_grads_##sfx,      transform_outputs_##sfx,  add_input_adjoints_##sfx}
static const WgKernels wg_kernels[FN_ISA_COUNT] = {
    [FN_ISA_BASE] = WG_KERNELS(base), [FN_ISA_AVX2] = WG_KERNELS(avx2), [FN_ISA_AVX512] = WG_KERNELS(avx512)};

/* One pass over the tiles: operands, geometry, U, the per-worker buffers and partial sums. */
typedef struct {
    const RefWindow *v;
    const Wg *g;
    const float *x, *w, *dy; /* forward: x, w; bwd_data: dy, w; bwd_filter: x, dy */
    float *y, *u, *per_thread, *partial;
    const WgKernels *k; /* the transforms for the chosen instruction set */
    int64_t blocks;
    int per_group, ranges;
    int64_t fwd_block;     /* forward: tiles per task */
    const CpuEpilogue *ep; /* forward: on each task's pixels (tasks of whole rows of tiles only) */
} Pass;

static void filter_transform_task(void *arg, int64_t c, int worker) {
    const Pass *a = arg;
    a->k->filter_transform_row(a->w, a->u, a->g, (size_t)c);
}
static void filter_transform(Pass *a, FnPool *pool) { fn_pool_run(pool, (int64_t)a->g->c, filter_transform_task, a); }

static void filter_adjoint_task(void *arg, int64_t c, int worker) {
    const Pass *a = arg; /* dU in partial, dw in y */
    a->k->filter_adjoint_row(a->partial, a->y, a->g, (size_t)c);
}

/* The first output pixel of tile t, the first of a row of tiles (or the batch's end) */
static int64_t tile_pixel(const RefWindow *v, const Wg *g, int64_t t) {
    int64_t b = t / g->per_image, ty = t % g->per_image / g->tw;
    return (b * v->oh + ty * g->mh) * v->ow;
}

static void fwd_block(void *arg, int64_t k, int worker) {
    const Pass *a = arg;
    const Wg *g = a->g;
    Bufs bf = thread_bufs(g, a->per_thread, worker);
    int64_t t0 = k * a->fwd_block, t1 = t0 + a->fwd_block < g->total ? t0 + a->fwd_block : g->total;
    a->k->transform_inputs(a->v, g, a->x, t0, t1, &bf);
    for (int e = 0; e < g->p; e++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(t1 - t0), (int)g->o, (int)g->c, 1,
                    bf.v + (size_t)e * (size_t)g->block * g->c, (int)g->c, a->u + (size_t)e * g->c * g->o, (int)g->o, 0,
                    bf.m + (size_t)e * (size_t)g->block * g->o, (int)g->o);
    a->k->transform_outputs(a->v, g, a->y, t0, t1, &bf);
    if (a->ep) a->ep->fn(a->ep->arg, tile_pixel(a->v, g, t0), tile_pixel(a->v, g, t1), worker);
}

/* Tasks of whole rows of tiles, so that each task's outputs are one range of pixels an epilogue
 * can take: no more than a block (its buffers' size), and an even number of nearly equal tasks
 * (two threads get the same work, as wg_geom's blocks do); 0 when a row of tiles is more than a
 * block. The result is the same either way (a tile's sums do not depend on its block). */
static int64_t tile_rows_block(const Wg *g) {
    int64_t per = g->block / g->tw, rows = g->total / g->tw; /* tile rows per block, in all */
    if (per < 1) return 0;
    int64_t tasks = (rows + per - 1) / per;
    tasks += tasks > 1 && tasks % 2;
    return (rows + tasks - 1) / tasks * g->tw;
}

void cpu_winograd_conv2d_f32(const float *x, const float *w, float *y, const RefWindow *v, float *scratch,
                             FnPool *pool, int isa, const CpuEpilogue *ep) {
    const Wg g = wg_geom(v);
    const int64_t rows = tile_rows_block(&g);
    Pass a = {.v = v, .g = &g, .k = &wg_kernels[fn_isa_resolve(isa)], .x = x, .w = w, .y = y, .u = scratch,
              .per_thread = scratch + (size_t)g.p * g.c * g.o, .fwd_block = rows ? rows : g.block,
              .ep = rows ? ep : NULL};
    filter_transform(&a, pool);
    fn_pool_run(pool, (g.total + a.fwd_block - 1) / a.fwd_block, fwd_block, &a);
    if (!rows) cpu_epilogue_all(ep, (int64_t)v->n * v->oh * v->ow, pool);
}

/* Group k of whole images (about a block of tiles each): their dx are disjoint. */
static void bwd_data_group(void *arg, int64_t k, int worker) {
    const Pass *a = arg;
    const Wg *g = a->g;
    const RefWindow *v = a->v;
    const size_t image = (size_t)v->h * (size_t)v->w * g->c;
    Bufs bf = thread_bufs(g, a->per_thread, worker);
    int b0 = (int)k * a->per_group, b1 = b0 + a->per_group < v->n ? b0 + a->per_group : v->n;
    memset(a->y + (size_t)b0 * image, 0, (size_t)(b1 - b0) * image * sizeof(float));
    for (int64_t t0 = b0 * g->per_image, end = b1 * g->per_image; t0 < end; t0 += g->block) {
        int64_t t1 = t0 + g->block < end ? t0 + g->block : end;
        a->k->transform_grads(v, g, a->dy, t0, t1, &bf);
        for (int e = 0; e < g->p; e++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(t1 - t0), (int)g->c, (int)g->o, 1,
                        bf.m + (size_t)e * (size_t)g->block * g->o, (int)g->o, a->u + (size_t)e * g->c * g->o,
                        (int)g->o, 0, bf.v + (size_t)e * (size_t)g->block * g->c, (int)g->c);
        a->k->add_input_adjoints(v, g, a->y, t0, t1, &bf);
    }
}

void cpu_winograd_bwd_data_f32(const float *dy, const float *w, float *dx, const RefWindow *v, float *scratch,
                               FnPool *pool, int isa) {
    const Wg g = wg_geom(v);
    Pass a = {.v = v, .g = &g, .k = &wg_kernels[fn_isa_resolve(isa)],
              .dy = dy, .w = w, .y = dx, .u = scratch, .per_thread = scratch + (size_t)g.p * g.c * g.o};
    filter_transform(&a, pool);
    a.per_group = g.block > g.per_image ? (int)(g.block / g.per_image) : 1;
    fn_pool_run(pool, (v->n + a.per_group - 1) / a.per_group, bwd_data_group, &a);
}

/* Range r of the blocks (a fixed number of ranges), summed into its own dU partial. */
static void bwd_filter_range(void *arg, int64_t r, int worker) {
    const Pass *a = arg;
    const Wg *g = a->g;
    Bufs bf = thread_bufs(g, a->per_thread, worker);
    float *du = a->partial + (size_t)r * (size_t)g->p * g->c * g->o;
    int64_t k0 = a->blocks * r / a->ranges, k1 = a->blocks * (r + 1) / a->ranges;
    for (int64_t k = k0; k < k1; k++) {
        int64_t t0 = k * g->block, t1 = t0 + g->block < g->total ? t0 + g->block : g->total;
        a->k->transform_inputs(a->v, g, a->x, t0, t1, &bf);
        a->k->transform_grads(a->v, g, a->dy, t0, t1, &bf);
        for (int e = 0; e < g->p; e++)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g->c, (int)g->o, (int)(t1 - t0), 1,
                        bf.v + (size_t)e * (size_t)g->block * g->c, (int)g->c,
                        bf.m + (size_t)e * (size_t)g->block * g->o, (int)g->o, k == k0 ? 0 : 1,
                        du + (size_t)e * g->c * g->o, (int)g->o);
    }
}

void cpu_winograd_bwd_filter_f32(const float *x, const float *dy, float *dw, const RefWindow *v, float *scratch,
                                 FnPool *pool, int isa) {
    const Wg g = wg_geom(v);
    const size_t co = (size_t)g.p * g.c * g.o;
    Pass a = {.v = v, .g = &g, .k = &wg_kernels[fn_isa_resolve(isa)],
              .x = x, .dy = dy, .y = dw, .per_thread = scratch + co};
    a.partial = a.per_thread + (size_t)fn_pool_size(pool) * thread_floats(&g);
    a.blocks = (g.total + g.block - 1) / g.block;
    a.ranges = a.blocks < FILTER_RANGES ? (int)a.blocks : FILTER_RANGES;
    fn_pool_run(pool, a.ranges, bwd_filter_range, &a);
    cpu_add_partials(a.partial, a.partial + co, co, a.ranges - 1, pool);
    fn_pool_run(pool, (int64_t)g.c, filter_adjoint_task, &a);
}
