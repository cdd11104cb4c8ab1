/* Tests of the reference CPU kernels (codegen/ref).
 *
 * What this is: (1) every kernel, in both precisions, against a naive float64 computation
 * written here from the definition (direct 7-loop convolution, direct pooling loops, ...) over
 * the window shapes the models use; the f32 backward kernels against the f64 ones; (2) central-
 * difference gradient checks in float64 of every backward kernel (and of the matmul transpose
 * rules autodiff uses): L = <dy, f(x)>, dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / 2h, h = 1e-6.
 * Inputs are rounded to float so that both precisions see identical values. Outputs are
 * poisoned with NaN before each call so a kernel that skips an element fails.
 * What this is not: a performance test, or a test of the IR, passes or runtime.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/ref/ref.h"
#include "testlib.h"

#define TOL_F64  1e-12
#define TOL_F32  1e-5
#define TOL_GRAD 1e-6
#define FD_STEP  1e-6

static uint64_t rng = 0x5EEDF00Dull;

/* ---- small helpers ------------------------------------------------------------------------ */

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* n uniform values in [lo, hi), rounded to float precision. */
static double *rand_vec(size_t n, double lo, double hi) {
    double *x = xcalloc(n, sizeof(double));
    test_fill_uniform(x, n, &rng, lo, hi);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)x[i];
    return x;
}

/* n distinct negative values 0.01 apart, shuffled: no ties, and zero padding would win. */
static double *distinct_vec(size_t n) {
    double *x = xcalloc(n, sizeof(double));
    for (size_t i = 0; i < n; i++)
        x[i] = -0.01 * (double)(i + 1);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(test_rng_next(&rng) % i);
        double t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = (float)x[i];
    return x;
}

static float *to_f32(const double *x, size_t n) {
    float *y = xcalloc(n, sizeof(float));
    for (size_t i = 0; i < n; i++)
        y[i] = (float)x[i];
    return y;
}

static double *nan_f64(size_t n) {
    double *y = xcalloc(n, sizeof(double));
    for (size_t i = 0; i < n; i++)
        y[i] = NAN;
    return y;
}

static float *nan_f32(size_t n) {
    float *y = xcalloc(n, sizeof(float));
    for (size_t i = 0; i < n; i++)
        y[i] = NAN;
    return y;
}

/* Relative error of a float result against a double reference. */
static double rel_err_f32(const float *got, const double *want, size_t n) {
    double *g = xcalloc(n, sizeof(double));
    for (size_t i = 0; i < n; i++)
        g[i] = got[i];
    double e = test_rel_err(g, want, n);
    free(g);
    return e;
}

static double dot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static double max_d(double a, double b) {
    return a > b ? a : b;
}

/* Max relative error of the central difference of loss() w.r.t. var[0..n) against analytic. */
typedef double (*loss_fn)(void *ctx);
static double grad_check(loss_fn loss, void *ctx, double *var, size_t n, const double *analytic) {
    double *num = xcalloc(n, sizeof(double));
    for (size_t i = 0; i < n; i++) {
        double save = var[i];
        var[i] = save + FD_STEP;
        double lp = loss(ctx);
        var[i] = save - FD_STEP;
        double lm = loss(ctx);
        var[i] = save;
        num[i] = (lp - lm) / (2 * FD_STEP);
    }
    double e = test_rel_err(analytic, num, n);
    free(num);
    return e;
}

/* ---- window geometry ---------------------------------------------------------------------- */

/* Output size and padding-before along one axis, straight from the TensorFlow definition. */
static void naive_axis(int in, int k, int s, int same, int *out, int *pad) {
    if (same) {
        *out = (int)ceil((double)in / s);
        int total = (*out - 1) * s + k - in;
        *pad = total > 0 ? total / 2 : 0;
    } else {
        *out = in < k ? 0 : (int)floor((double)(in - k) / s) + 1;
        *pad = 0;
    }
}

static int window_matches(const RefWindow *win, int same) {
    int oh, ow, pt, pl;
    naive_axis(win->h, win->kh, win->sh, same, &oh, &pt);
    naive_axis(win->w, win->kw, win->sw, same, &ow, &pl);
    return win->oh == oh && win->ow == ow && win->pad_t == pt && win->pad_l == pl;
}

static void test_window(void) {
    static const struct {
        int in, k, s, same, out, pad;
    } axes[] = {
        {7, 3, 2, 1, 4, 1},   {6, 3, 2, 1, 3, 0},   {5, 2, 2, 1, 3, 0},  {6, 2, 2, 1, 3, 0},
        {5, 1, 2, 1, 3, 0},   {8, 7, 1, 1, 8, 3},   {5, 2, 1, 1, 5, 0},  {9, 7, 2, 1, 5, 3},
        {7, 3, 2, 0, 3, 0},   {8, 3, 2, 0, 3, 0},   {2, 3, 2, 0, 0, 0},  {79, 3, 1, 1, 79, 1},
        {79, 3, 1, 0, 77, 0}, {77, 3, 2, 0, 38, 0}, {17, 3, 2, 1, 9, 1}, {5, 5, 1, 0, 1, 0},
    };
    int n = (int)(sizeof axes / sizeof axes[0]);
    for (int i = 0; i < n; i++) {
        RefWindow win;
        ref_window_init(&win, 1, axes[i].in, 1, 1, axes[i].k, 1, axes[i].s, 1, axes[i].same, 1);
        CHECK(win.oh == axes[i].out && win.pad_t == axes[i].pad,
              "window in=%d k=%d s=%d %s: got out=%d pad=%d, want out=%d pad=%d", axes[i].in,
              axes[i].k, axes[i].s, axes[i].same ? "SAME" : "VALID", win.oh, win.pad_t, axes[i].out,
              axes[i].pad);
    }
    RefWindow win; /* the two axes are independent */
    ref_window_init(&win, 2, 7, 6, 3, 3, 1, 2, 1, 1, 5);
    CHECK(win.n == 2 && win.h == 7 && win.w == 6 && win.c == 3 && win.o == 5 && win.oh == 4 &&
              win.pad_t == 1 && win.ow == 6 && win.pad_l == 0,
          "window 7x6 k3x1 s2x1 SAME: oh=%d ow=%d pad_t=%d pad_l=%d", win.oh, win.ow, win.pad_t,
          win.pad_l);
    CHECK(ref_conv_scratch(&win) == (size_t)2 * 4 * 6 * 3 * 1 * 3, "conv scratch %zu",
          ref_conv_scratch(&win));
    printf("window: %d axis cases (SAME/VALID, odd/even, k>in) + non-square, scratch size\n", n);
}

/* ---- matmul ------------------------------------------------------------------------------- */

static void naive_matmul(const double *a, const double *b, double *y, int m, int n, int k, int ta,
                         int tb) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++) {
                double av = ta ? a[p * m + i] : a[i * k + p];
                double bv = tb ? b[j * k + p] : b[p * n + j];
                s += av * bv;
            }
            y[i * n + j] = s;
        }
}

typedef struct {
    double *a, *b, *dy, *y;
    int m, n, k, ta, tb;
} MatmulCtx;

static double matmul_loss(void *p) {
    MatmulCtx *c = p;
    ref_matmul_f64(c->a, c->b, c->y, c->m, c->n, c->k, c->ta, c->tb);
    return dot(c->dy, c->y, (size_t)c->m * (size_t)c->n);
}

/* The gradients of y = op(a) op(b) expressed as matmuls on the stored a, b (autodiff's rule). */
static void matmul_grads(const MatmulCtx *c, double *da, double *db) {
    int m = c->m, n = c->n, k = c->k;
    if (!c->ta && !c->tb) {
        ref_matmul_f64(c->dy, c->b, da, m, k, n, 0, 1);
        ref_matmul_f64(c->a, c->dy, db, k, n, m, 1, 0);
    } else if (!c->ta && c->tb) {
        ref_matmul_f64(c->dy, c->b, da, m, k, n, 0, 0);
        ref_matmul_f64(c->dy, c->a, db, n, k, m, 1, 0);
    } else if (c->ta && !c->tb) {
        ref_matmul_f64(c->b, c->dy, da, k, m, n, 0, 1);
        ref_matmul_f64(c->a, c->dy, db, k, n, m, 0, 0);
    } else {
        ref_matmul_f64(c->b, c->dy, da, k, m, n, 1, 1);
        ref_matmul_f64(c->dy, c->a, db, n, k, m, 1, 1);
    }
}

static void test_matmul(void) {
    static const int shapes[][3] = {{3, 4, 5}, {1, 7, 3}, {6, 1, 2}, {5, 5, 1}, {8, 9, 16}};
    int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    double err64 = 0, err32 = 0, errg = 0;
    int nfwd = 0, ngrad = 0;
    for (int s = 0; s < nshapes; s++)
        for (int t = 0; t < 4; t++) {
            int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], ta = t & 1, tb = t >> 1;
            size_t na = (size_t)m * k, nb = (size_t)k * n, ny = (size_t)m * n;
            double *a = rand_vec(na, -1, 1), *b = rand_vec(nb, -1, 1);
            double *want = xcalloc(ny, sizeof(double)), *y64 = nan_f64(ny);
            float *af = to_f32(a, na), *bf = to_f32(b, nb), *y32 = nan_f32(ny);
            naive_matmul(a, b, want, m, n, k, ta, tb);
            ref_matmul_f64(a, b, y64, m, n, k, ta, tb);
            ref_matmul_f32(af, bf, y32, m, n, k, ta, tb);
            double e64 = test_rel_err(y64, want, ny), e32 = rel_err_f32(y32, want, ny);
            CHECK(e64 < TOL_F64, "matmul_f64 m=%d n=%d k=%d ta=%d tb=%d: rel err %.3g", m, n, k, ta,
                  tb, e64);
            CHECK(e32 < TOL_F32, "matmul_f32 m=%d n=%d k=%d ta=%d tb=%d: rel err %.3g", m, n, k, ta,
                  tb, e32);
            err64 = max_d(err64, e64);
            err32 = max_d(err32, e32);
            nfwd++;
            if (s == 0) { /* gradient check of the transpose rules */
                double *dy = rand_vec(ny, -1, 1);
                double *da = nan_f64(na), *db = nan_f64(nb);
                MatmulCtx c = {a, b, dy, y64, m, n, k, ta, tb};
                matmul_grads(&c, da, db);
                double ea = grad_check(matmul_loss, &c, a, na, da);
                double eb = grad_check(matmul_loss, &c, b, nb, db);
                CHECK(ea < TOL_GRAD && eb < TOL_GRAD, "matmul grad ta=%d tb=%d: da %.3g db %.3g",
                      ta, tb, ea, eb);
                errg = max_d(errg, max_d(ea, eb));
                ngrad++;
                free(dy);
                free(da);
                free(db);
            }
            free(a);
            free(b);
            free(want);
            free(y64);
            free(af);
            free(bf);
            free(y32);
        }
    printf("matmul: %d cases (all ta/tb) vs naive: f64 err %.2g, f32 err %.2g; "
           "%d transpose-rule gradient checks: err %.2g\n",
           nfwd, err64, err32, ngrad, errg);
}

/* ---- convolution -------------------------------------------------------------------------- */

typedef struct {
    int kh, kw, sh, sw, same, h, w, c, o;
} WinCase;

static const WinCase conv_cases[] = {
    {3, 3, 1, 1, 1, 5, 5, 3, 4}, {3, 3, 1, 1, 1, 6, 6, 2, 3}, {3, 3, 2, 2, 1, 6, 6, 3, 2},
    {3, 3, 2, 2, 1, 7, 7, 2, 3}, {3, 3, 2, 2, 0, 7, 7, 3, 2}, {3, 3, 2, 2, 0, 8, 8, 2, 2},
    {3, 3, 1, 1, 0, 6, 5, 2, 3}, {1, 1, 1, 1, 0, 4, 5, 3, 4}, {1, 1, 1, 1, 1, 5, 4, 4, 3},
    {1, 1, 2, 2, 1, 5, 5, 3, 2}, {1, 1, 2, 2, 0, 6, 6, 2, 3}, {1, 7, 1, 1, 1, 6, 9, 2, 3},
    {7, 1, 1, 1, 1, 9, 6, 2, 3}, {1, 3, 1, 1, 1, 5, 6, 3, 2}, {3, 1, 1, 1, 1, 6, 5, 3, 2},
    {2, 2, 1, 1, 1, 5, 5, 2, 3}, {2, 2, 2, 2, 1, 5, 5, 2, 2}, {2, 2, 1, 1, 0, 4, 4, 3, 2},
    {2, 2, 2, 2, 0, 6, 6, 2, 2}, {5, 5, 1, 1, 1, 6, 6, 2, 2}, {7, 7, 2, 2, 1, 9, 9, 3, 2},
    {3, 3, 2, 1, 1, 7, 6, 2, 3}, {3, 3, 1, 2, 0, 6, 7, 2, 2}, {1, 7, 1, 1, 0, 4, 9, 2, 2},
};

#define BATCH 2

static size_t in_size(const RefWindow *w) {
    return (size_t)w->n * w->h * w->w * w->c;
}
static size_t out_size(const RefWindow *w, int ch) {
    return (size_t)w->n * w->oh * w->ow * ch;
}
static size_t filt_size(const RefWindow *w) {
    return (size_t)w->kh * w->kw * w->c * w->o;
}

static void naive_conv(const double *x, const double *w, double *y, const RefWindow *g) {
    for (int b = 0; b < g->n; b++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++)
                for (int o = 0; o < g->o; o++) {
                    double s = 0;
                    for (int ky = 0; ky < g->kh; ky++)
                        for (int kx = 0; kx < g->kw; kx++)
                            for (int ci = 0; ci < g->c; ci++) {
                                int iy = oy * g->sh - g->pad_t + ky;
                                int ix = ox * g->sw - g->pad_l + kx;
                                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
                                s += x[((b * g->h + iy) * g->w + ix) * g->c + ci] *
                                     w[((ky * g->kw + kx) * g->c + ci) * g->o + o];
                            }
                    y[((b * g->oh + oy) * g->ow + ox) * g->o + o] = s;
                }
}

typedef struct {
    const RefWindow *win;
    double *x, *w, *dy, *y, *scratch;
} ConvCtx;

static double conv_loss(void *p) {
    ConvCtx *c = p;
    ref_conv2d_f64(c->x, c->w, c->y, c->win, c->scratch);
    return dot(c->dy, c->y, out_size(c->win, c->win->o));
}

#define CANARY 16

/* Scratch with CANARY guard cells after the ref_conv_scratch reals. */
static double *scratch_f64(size_t n) {
    double *s = xcalloc(n + CANARY, sizeof(double));
    for (int i = 0; i < CANARY; i++)
        s[n + i] = 12345.0;
    return s;
}
static float *scratch_f32(size_t n) {
    float *s = xcalloc(n + CANARY, sizeof(float));
    for (int i = 0; i < CANARY; i++)
        s[n + i] = 12345.0f;
    return s;
}
static int canary_ok_f64(const double *s, size_t n) {
    for (int i = 0; i < CANARY; i++)
        if (s[n + i] != 12345.0) return 0;
    return 1;
}
static int canary_ok_f32(const float *s, size_t n) {
    for (int i = 0; i < CANARY; i++)
        if (s[n + i] != 12345.0f) return 0;
    return 1;
}

static void test_conv(void) {
    int ncases = (int)(sizeof conv_cases / sizeof conv_cases[0]);
    double fwd64 = 0, fwd32 = 0, gdata = 0, gfilt = 0, bwd32 = 0;
    for (int i = 0; i < ncases; i++) {
        const WinCase *k = &conv_cases[i];
        RefWindow win;
        ref_window_init(&win, BATCH, k->h, k->w, k->c, k->kh, k->kw, k->sh, k->sw, k->same, k->o);
        char name[96];
        snprintf(name, sizeof name, "conv %dx%d/%dx%d %s in %dx%dx%d o=%d", k->kh, k->kw, k->sh,
                 k->sw, k->same ? "SAME" : "VALID", k->h, k->w, k->c, k->o);
        CHECK(window_matches(&win, k->same), "%s: geometry oh=%d ow=%d pad %d,%d", name, win.oh,
              win.ow, win.pad_t, win.pad_l);
        size_t nx = in_size(&win), nw = filt_size(&win), ny = out_size(&win, win.o);
        size_t ns = ref_conv_scratch(&win);
        double *x = rand_vec(nx, -1, 1), *w = rand_vec(nw, -1, 1), *dy = rand_vec(ny, -1, 1);
        double *want = xcalloc(ny, sizeof(double)), *sc64 = scratch_f64(ns);
        double *y64 = nan_f64(ny), *dx64 = nan_f64(nx), *dw64 = nan_f64(nw);
        float *xf = to_f32(x, nx), *wf = to_f32(w, nw), *dyf = to_f32(dy, ny);
        float *y32 = nan_f32(ny), *dx32 = nan_f32(nx), *dw32 = nan_f32(nw), *sc32 = scratch_f32(ns);

        /* forward vs the direct loops */
        naive_conv(x, w, want, &win);
        ref_conv2d_f64(x, w, y64, &win, sc64);
        ref_conv2d_f32(xf, wf, y32, &win, sc32);
        double e64 = test_rel_err(y64, want, ny), e32 = rel_err_f32(y32, want, ny);
        CHECK(e64 < TOL_F64, "%s: f64 forward rel err %.3g", name, e64);
        CHECK(e32 < TOL_F32, "%s: f32 forward rel err %.3g", name, e32);

        /* backward: f64 against central differences, f32 against f64 */
        ref_conv2d_bwd_data_f64(dy, w, dx64, &win, sc64);
        ref_conv2d_bwd_filter_f64(x, dy, dw64, &win, sc64);
        ConvCtx c = {&win, x, w, dy, y64, sc64};
        double ed = grad_check(conv_loss, &c, x, nx, dx64);
        double ef = grad_check(conv_loss, &c, w, nw, dw64);
        CHECK(ed < TOL_GRAD, "%s: bwd_data vs finite differences: rel err %.3g", name, ed);
        CHECK(ef < TOL_GRAD, "%s: bwd_filter vs finite differences: rel err %.3g", name, ef);
        ref_conv2d_bwd_data_f32(dyf, wf, dx32, &win, sc32);
        ref_conv2d_bwd_filter_f32(xf, dyf, dw32, &win, sc32);
        double ed32 = rel_err_f32(dx32, dx64, nx), ef32 = rel_err_f32(dw32, dw64, nw);
        CHECK(ed32 < TOL_F32 && ef32 < TOL_F32, "%s: f32 bwd_data err %.3g, bwd_filter err %.3g",
              name, ed32, ef32);
        CHECK(canary_ok_f64(sc64, ns) && canary_ok_f32(sc32, ns),
              "%s: a kernel wrote past ref_conv_scratch", name);

        fwd64 = max_d(fwd64, e64);
        fwd32 = max_d(fwd32, e32);
        gdata = max_d(gdata, ed);
        gfilt = max_d(gfilt, ef);
        bwd32 = max_d(bwd32, max_d(ed32, ef32));
        free(x), free(w), free(dy), free(want), free(sc64), free(y64), free(dx64), free(dw64);
        free(xf), free(wf), free(dyf), free(y32), free(dx32), free(dw32), free(sc32);
    }
    printf("conv2d: %d shapes (batch %d; 1x1..7x7, 1x7/7x1/1x3/3x1/2x2, s1/s2, SAME/VALID, "
           "odd/even) fwd vs direct loops: f64 err %.2g, f32 err %.2g\n",
           ncases, BATCH, fwd64, fwd32);
    printf("conv2d: finite-difference checks: bwd_data err %.2g, bwd_filter err %.2g; "
           "f32 backward vs f64 err %.2g\n",
           gdata, gfilt, bwd32);
}

/* ---- pooling ------------------------------------------------------------------------------ */

static const WinCase maxpool_cases[] = {
    {3, 3, 2, 2, 1, 6, 6, 3, 0}, {3, 3, 2, 2, 1, 7, 7, 2, 0}, {3, 3, 2, 2, 0, 7, 7, 2, 0},
    {3, 3, 2, 2, 0, 8, 8, 2, 0}, {2, 2, 2, 2, 1, 5, 5, 2, 0}, {2, 2, 2, 2, 1, 6, 6, 3, 0},
    {3, 3, 1, 1, 1, 5, 5, 2, 0}, {3, 3, 2, 2, 0, 9, 9, 1, 0}, {3, 3, 2, 2, 1, 5, 8, 2, 0},
};

static const WinCase avgpool_cases[] = {
    {5, 5, 1, 1, 0, 5, 5, 3, 0}, {3, 4, 1, 1, 0, 3, 4, 2, 0}, {3, 3, 1, 1, 1, 5, 5, 2, 0},
    {3, 3, 2, 2, 1, 6, 6, 2, 0}, {3, 3, 2, 2, 1, 7, 7, 2, 0}, {2, 2, 2, 2, 0, 6, 6, 2, 0},
    {2, 2, 2, 2, 1, 5, 5, 2, 0}, {3, 3, 2, 2, 0, 7, 6, 2, 0},
};

/* Direct pooling; also the max-pool gradient (first maximal in-bounds cell in row-major order)
 * or the avg-pool gradient into dx when dy is non-NULL. */
static void naive_pool(const double *x, const double *dy, double *y, double *dx, const RefWindow *g,
                       int is_max) {
    if (dx) memset(dx, 0, in_size(g) * sizeof(double));
    for (int b = 0; b < g->n; b++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++)
                for (int ci = 0; ci < g->c; ci++) {
                    double best = -INFINITY, sum = 0;
                    int arg = -1, count = 0;
                    for (int ky = 0; ky < g->kh; ky++)
                        for (int kx = 0; kx < g->kw; kx++) {
                            int iy = oy * g->sh - g->pad_t + ky;
                            int ix = ox * g->sw - g->pad_l + kx;
                            if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
                            int i = ((b * g->h + iy) * g->w + ix) * g->c + ci;
                            if (x && x[i] > best) best = x[i], arg = i;
                            if (x) sum += x[i];
                            count++;
                        }
                    int o = ((b * g->oh + oy) * g->ow + ox) * g->c + ci;
                    if (y) y[o] = is_max ? best : sum / count;
                    if (!dx) continue;
                    if (is_max) {
                        dx[arg] += dy[o];
                        continue;
                    }
                    for (int ky = 0; ky < g->kh; ky++)
                        for (int kx = 0; kx < g->kw; kx++) {
                            int iy = oy * g->sh - g->pad_t + ky;
                            int ix = ox * g->sw - g->pad_l + kx;
                            if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
                            dx[((b * g->h + iy) * g->w + ix) * g->c + ci] += dy[o] / count;
                        }
                }
}

typedef struct {
    const RefWindow *win;
    double *x, *dy, *y;
    int is_max;
} PoolCtx;

static double pool_loss(void *p) {
    PoolCtx *c = p;
    if (c->is_max)
        ref_maxpool_f64(c->x, c->y, c->win);
    else
        ref_avgpool_f64(c->x, c->y, c->win);
    return dot(c->dy, c->y, out_size(c->win, c->win->c));
}

static void test_pool(int is_max) {
    const WinCase *cases = is_max ? maxpool_cases : avgpool_cases;
    int ncases = is_max ? (int)(sizeof maxpool_cases / sizeof maxpool_cases[0])
                        : (int)(sizeof avgpool_cases / sizeof avgpool_cases[0]);
    const char *op = is_max ? "maxpool" : "avgpool";
    double fwd64 = 0, fwd32 = 0, grad = 0, grad32 = 0;
    for (int i = 0; i < ncases; i++) {
        const WinCase *k = &cases[i];
        RefWindow win;
        ref_window_init(&win, BATCH, k->h, k->w, k->c, k->kh, k->kw, k->sh, k->sw, k->same, 0);
        char name[96];
        snprintf(name, sizeof name, "%s %dx%d/%dx%d %s in %dx%dx%d", op, k->kh, k->kw, k->sh, k->sw,
                 k->same ? "SAME" : "VALID", k->h, k->w, k->c);
        CHECK(window_matches(&win, k->same), "%s: geometry", name);
        size_t nx = in_size(&win), ny = out_size(&win, win.c);
        /* max pool: distinct negative inputs (no ties, and a zero pad would win if counted) */
        double *x = is_max ? distinct_vec(nx) : rand_vec(nx, -1, 1), *dy = rand_vec(ny, -1, 1);
        double *want = xcalloc(ny, sizeof(double)), *dwant = xcalloc(nx, sizeof(double));
        double *y64 = nan_f64(ny), *dx64 = nan_f64(nx);
        float *xf = to_f32(x, nx), *dyf = to_f32(dy, ny), *y32 = nan_f32(ny), *dx32 = nan_f32(nx);

        naive_pool(x, dy, want, dwant, &win, is_max);
        if (is_max) {
            ref_maxpool_f64(x, y64, &win);
            ref_maxpool_f32(xf, y32, &win);
            ref_maxpool_grad_f64(x, dy, dx64, &win);
            ref_maxpool_grad_f32(xf, dyf, dx32, &win);
        } else {
            ref_avgpool_f64(x, y64, &win);
            ref_avgpool_f32(xf, y32, &win);
            ref_avgpool_grad_f64(dy, dx64, &win);
            ref_avgpool_grad_f32(dyf, dx32, &win);
        }
        double e64 = test_rel_err(y64, want, ny), e32 = rel_err_f32(y32, want, ny);
        CHECK(e64 < TOL_F64, "%s: f64 forward rel err %.3g", name, e64);
        CHECK(e32 < TOL_F32, "%s: f32 forward rel err %.3g", name, e32);
        double g64 = test_rel_err(dx64, dwant, nx), g32 = rel_err_f32(dx32, dwant, nx);
        CHECK(g64 < TOL_F64, "%s: f64 grad vs direct loops: rel err %.3g", name, g64);
        CHECK(g32 < TOL_F32, "%s: f32 grad vs direct loops: rel err %.3g", name, g32);
        PoolCtx c = {&win, x, dy, y64, is_max};
        double eg = grad_check(pool_loss, &c, x, nx, dx64);
        CHECK(eg < TOL_GRAD, "%s: grad vs finite differences: rel err %.3g", name, eg);

        fwd64 = max_d(fwd64, e64);
        fwd32 = max_d(fwd32, e32);
        grad = max_d(grad, eg);
        grad32 = max_d(grad32, max_d(g64, g32));
        free(x), free(dy), free(want), free(dwant), free(y64), free(dx64);
        free(xf), free(dyf), free(y32), free(dx32);
    }
    printf("%s: %d shapes (batch %d) fwd vs direct loops: f64 err %.2g, f32 err %.2g; "
           "grad vs direct loops err %.2g, vs finite differences err %.2g\n",
           op, ncases, BATCH, fwd64, fwd32, grad32, grad);
}

/* Ties: the max-pool gradient goes to the first maximal cell of each window. */
static void test_maxpool_ties(void) {
    int ncases = 0;
    for (int i = 0; i < (int)(sizeof maxpool_cases / sizeof maxpool_cases[0]); i++) {
        const WinCase *k = &maxpool_cases[i];
        RefWindow win;
        ref_window_init(&win, BATCH, k->h, k->w, k->c, k->kh, k->kw, k->sh, k->sw, k->same, 0);
        size_t nx = in_size(&win), ny = out_size(&win, win.c);
        for (int fill = 0; fill < 2; fill++) {
            double *x = xcalloc(nx, sizeof(double)); /* constant -1, or integers in [-3, 0] */
            for (size_t j = 0; j < nx; j++)
                x[j] = fill ? -(double)(test_rng_next(&rng) % 4) : -1.0;
            double *dy = rand_vec(ny, -1, 1), *dwant = xcalloc(nx, sizeof(double));
            double *dx64 = nan_f64(nx);
            float *xf = to_f32(x, nx), *dyf = to_f32(dy, ny), *dx32 = nan_f32(nx);
            naive_pool(x, dy, NULL, dwant, &win, 1);
            ref_maxpool_grad_f64(x, dy, dx64, &win);
            ref_maxpool_grad_f32(xf, dyf, dx32, &win);
            double e64 = test_rel_err(dx64, dwant, nx), e32 = rel_err_f32(dx32, dwant, nx);
            CHECK(e64 < TOL_F64 && e32 < TOL_F32,
                  "maxpool ties %dx%d/%d %s in %dx%d (%s): grad err f64 %.3g f32 %.3g", k->kh,
                  k->kw, k->sh, k->same ? "SAME" : "VALID", k->h, k->w,
                  fill ? "random integers" : "constant", e64, e32);
            ncases++;
            free(x), free(dy), free(dwant), free(dx64), free(xf), free(dyf), free(dx32);
        }
    }
    printf("maxpool_grad ties: %d cases (constant and small-integer inputs), first maximum "
           "wins\n",
           ncases);
}

/* ---- softmax, cross-entropy, l2norm, accuracy ---------------------------------------------- */

#define ROWS 4
#define COLS 7

static void naive_softmax(const double *x, double *y, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        double s = 0;
        for (int j = 0; j < cols; j++)
            s += exp(x[r * cols + j]);
        for (int j = 0; j < cols; j++)
            y[r * cols + j] = exp(x[r * cols + j]) / s;
    }
}

static void rand_labels(int32_t *labels, int rows, int cols) {
    for (int r = 0; r < rows; r++)
        labels[r] = (int32_t)(test_rng_next(&rng) % (uint64_t)cols);
}

static void test_softmax(void) {
    size_t n = ROWS * COLS;
    double *x = rand_vec(n, -3, 3), *want = xcalloc(n, sizeof(double)), *y64 = nan_f64(n);
    float *xf = to_f32(x, n), *y32 = nan_f32(n);
    naive_softmax(x, want, ROWS, COLS);
    ref_softmax_f64(x, y64, ROWS, COLS);
    ref_softmax_f32(xf, y32, ROWS, COLS);
    double e64 = test_rel_err(y64, want, n), e32 = rel_err_f32(y32, want, n);
    CHECK(e64 < TOL_F64, "softmax f64 rel err %.3g", e64);
    CHECK(e32 < TOL_F32, "softmax f32 rel err %.3g", e32);

    /* stability: logits near 1000 (exp would overflow) against the naive softmax of the same
     * logits minus 1000 (an exact subtraction) */
    double *big = xcalloc(n, sizeof(double)), *shifted = xcalloc(n, sizeof(double));
    double *bwant = xcalloc(n, sizeof(double)), *ybig = nan_f64(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (float)(x[i] + 1000);
    for (size_t i = 0; i < n; i++)
        shifted[i] = big[i] - 1000;
    naive_softmax(shifted, bwant, ROWS, COLS);
    float *bigf = to_f32(big, n), *ybig32 = nan_f32(n);
    ref_softmax_f64(big, ybig, ROWS, COLS);
    ref_softmax_f32(bigf, ybig32, ROWS, COLS);
    double es64 = test_rel_err(ybig, bwant, n), es32 = rel_err_f32(ybig32, bwant, n);
    CHECK(es64 < TOL_F64, "softmax f64 with logits near 1000: rel err %.3g", es64);
    CHECK(es32 < TOL_F32, "softmax f32 with logits near 1000: rel err %.3g", es32);
    printf("softmax: %dx%d vs naive: f64 err %.2g, f32 err %.2g; logits near 1000: f64 err "
           "%.2g, f32 err %.2g\n",
           ROWS, COLS, e64, e32, es64, es32);
    free(x), free(want), free(y64), free(xf), free(y32), free(big), free(ybig), free(bigf);
    free(ybig32), free(shifted), free(bwant);
}

typedef struct {
    double *x, *g, *loss;
    const int32_t *labels;
    int rows, cols;
} XentCtx;

static double xent_loss(void *p) {
    XentCtx *c = p;
    ref_softmax_xent_f64(c->x, c->labels, c->loss, c->rows, c->cols);
    return dot(c->g, c->loss, (size_t)c->rows);
}

static void test_softmax_xent(void) {
    size_t n = ROWS * COLS;
    int32_t labels[ROWS];
    rand_labels(labels, ROWS, COLS);
    double *x = rand_vec(n, -3, 3), *p = xcalloc(n, sizeof(double));
    double want[ROWS], l64[ROWS], big_l64[ROWS];
    float xl32[ROWS];
    float *xf = to_f32(x, n);
    naive_softmax(x, p, ROWS, COLS);
    for (int r = 0; r < ROWS; r++)
        want[r] = -log(p[r * COLS + labels[r]]);
    ref_softmax_xent_f64(x, labels, l64, ROWS, COLS);
    ref_softmax_xent_f32(xf, labels, xl32, ROWS, COLS);
    double e64 = test_rel_err(l64, want, ROWS), e32 = rel_err_f32(xl32, want, ROWS);
    CHECK(e64 < TOL_F64, "softmax_xent f64 rel err %.3g", e64);
    CHECK(e32 < TOL_F32, "softmax_xent f32 rel err %.3g", e32);

    /* stability: logits near 1000 against the naive loss of the same logits minus 1000 */
    double *big = xcalloc(n, sizeof(double)), *bp = xcalloc(n, sizeof(double)), bwant[ROWS];
    for (size_t i = 0; i < n; i++)
        big[i] = (float)(x[i] + 1000);
    double *shifted = xcalloc(n, sizeof(double));
    for (size_t i = 0; i < n; i++)
        shifted[i] = big[i] - 1000;
    naive_softmax(shifted, bp, ROWS, COLS);
    for (int r = 0; r < ROWS; r++)
        bwant[r] = -log(bp[r * COLS + labels[r]]);
    float *bigf = to_f32(big, n), big_l32[ROWS];
    ref_softmax_xent_f64(big, labels, big_l64, ROWS, COLS);
    ref_softmax_xent_f32(bigf, labels, big_l32, ROWS, COLS);
    double es = test_rel_err(big_l64, bwant, ROWS), es32 = rel_err_f32(big_l32, bwant, ROWS);
    CHECK(es < TOL_F64, "softmax_xent f64 with logits near 1000: rel err %.3g", es);
    CHECK(es32 < TOL_F32, "softmax_xent f32 with logits near 1000: rel err %.3g", es32);

    /* gradient: naive, finite differences, and f32 */
    double g[ROWS], *dwant = xcalloc(n, sizeof(double)), *dx64 = nan_f64(n);
    test_fill_uniform(g, ROWS, &rng, 0.1, 1.0);
    for (int r = 0; r < ROWS; r++)
        g[r] = (float)g[r];
    for (int r = 0; r < ROWS; r++)
        for (int j = 0; j < COLS; j++)
            dwant[r * COLS + j] = g[r] * (p[r * COLS + j] - (j == labels[r]));
    ref_softmax_xent_grad_f64(x, labels, g, dx64, ROWS, COLS);
    float *gf = to_f32(g, ROWS), *dx32 = nan_f32(n);
    ref_softmax_xent_grad_f32(xf, labels, gf, dx32, ROWS, COLS);
    double gn = test_rel_err(dx64, dwant, n), g32 = rel_err_f32(dx32, dwant, n);
    CHECK(gn < TOL_F64, "softmax_xent_grad f64 vs naive: rel err %.3g", gn);
    CHECK(g32 < TOL_F32, "softmax_xent_grad f32 vs naive: rel err %.3g", g32);
    XentCtx c = {x, g, l64, labels, ROWS, COLS};
    double eg = grad_check(xent_loss, &c, x, n, dx64);
    CHECK(eg < TOL_GRAD, "softmax_xent_grad vs finite differences: rel err %.3g", eg);

    /* a label outside [0, cols) gives NaN, not an out-of-bounds read */
    int32_t bad[ROWS] = {0, COLS, -1, 1};
    ref_softmax_xent_f64(x, bad, l64, ROWS, COLS);
    ref_softmax_xent_grad_f64(x, bad, g, dx64, ROWS, COLS);
    CHECK(isfinite(l64[0]) && isnan(l64[1]) && isnan(l64[2]) && isfinite(l64[3]) &&
              isnan(dx64[COLS]) && isfinite(dx64[0]),
          "softmax_xent with out-of-range labels: expected NaN rows 1 and 2");
    printf("softmax_xent: %dx%d vs naive: f64 err %.2g, f32 err %.2g; logits near 1000 f64 %.2g / "
           "f32 %.2g; grad vs naive f64 %.2g / f32 %.2g, vs finite differences %.2g; "
           "bad labels -> NaN\n",
           ROWS, COLS, e64, e32, es, es32, gn, g32, eg);
    free(x), free(p), free(xf), free(big), free(bp), free(shifted), free(bigf);
    free(dwant), free(dx64), free(gf), free(dx32);
}

typedef struct {
    double *x, *dy, *y;
    int rows, cols;
    double eps;
} L2Ctx;

static double l2_loss(void *p) {
    L2Ctx *c = p;
    ref_l2norm_f64(c->x, c->y, c->rows, c->cols, c->eps);
    return dot(c->dy, c->y, (size_t)c->rows * c->cols);
}

static void test_l2norm(void) {
    size_t n = ROWS * COLS;
    /* eps = 1e-10 with ordinary rows (the norm branch), eps = 1 with tiny rows (the clamp) */
    const double eps_of[2] = {1e-10, 1.0}, scale_of[2] = {1.0, 0.1};
    double err[2][4] = {{0}};
    for (int t = 0; t < 2; t++) {
        double eps = eps_of[t];
        double *x = rand_vec(n, -scale_of[t], scale_of[t]), *dy = rand_vec(n, -1, 1);
        double *want = xcalloc(n, sizeof(double)), *y64 = nan_f64(n), *dx64 = nan_f64(n);
        float *xf = to_f32(x, n), *dyf = to_f32(dy, n), *y32 = nan_f32(n), *dx32 = nan_f32(n);
        for (int r = 0; r < ROWS; r++) {
            double s = 0;
            for (int j = 0; j < COLS; j++)
                s += x[r * COLS + j] * x[r * COLS + j];
            for (int j = 0; j < COLS; j++)
                want[r * COLS + j] = x[r * COLS + j] / sqrt(fmax(s, eps));
        }
        ref_l2norm_f64(x, y64, ROWS, COLS, eps);
        ref_l2norm_f32(xf, y32, ROWS, COLS, eps);
        ref_l2norm_grad_f64(x, dy, dx64, ROWS, COLS, eps);
        ref_l2norm_grad_f32(xf, dyf, dx32, ROWS, COLS, eps);
        L2Ctx c = {x, dy, y64, ROWS, COLS, eps};
        err[t][0] = test_rel_err(y64, want, n);
        err[t][1] = rel_err_f32(y32, want, n);
        err[t][2] = grad_check(l2_loss, &c, x, n, dx64);
        err[t][3] = rel_err_f32(dx32, dx64, n);
        CHECK(err[t][0] < TOL_F64, "l2norm f64 eps=%g: rel err %.3g", eps, err[t][0]);
        CHECK(err[t][1] < TOL_F32, "l2norm f32 eps=%g: rel err %.3g", eps, err[t][1]);
        CHECK(err[t][2] < TOL_GRAD, "l2norm_grad eps=%g vs finite differences: rel err %.3g", eps,
              err[t][2]);
        CHECK(err[t][3] < TOL_F32, "l2norm_grad f32 eps=%g vs f64: rel err %.3g", eps, err[t][3]);
        free(x), free(dy), free(want), free(y64), free(dx64), free(xf), free(dyf), free(y32);
        free(dx32);
    }
    printf("l2norm: %dx%d, eps 1e-10 (norm) and eps 1 (clamped): fwd f64 err %.2g/%.2g, f32 err "
           "%.2g/%.2g; grad vs finite differences %.2g/%.2g, f32 grad vs f64 %.2g/%.2g\n",
           ROWS, COLS, err[0][0], err[1][0], err[0][1], err[1][1], err[0][2], err[1][2], err[0][3],
           err[1][3]);
}

static void test_accuracy(void) {
    /* hand-made: rows 0 and 2 hit; row 1 ties (0.9 at 1 and 3) and hits label 1 only if the
     * first maximum wins; row 3 misses; row 4 ties (5 at 0 and 2) and hits label 0 likewise */
    static const double x[5 * 4] = {
        0.9, 0.1, 0.0, 0.2, 0.1, 0.9, 0.3, 0.9, -1, -2, -0.5, -3, 0, 1, 2, 3, 5, 4, 5, 4,
    };
    static const int32_t labels[5] = {0, 1, 2, 1, 0};
    float xf[5 * 4];
    for (int i = 0; i < 20; i++)
        xf[i] = (float)x[i];
    double a64 = ref_accuracy_f64(x, labels, 5, 4);
    float a32 = ref_accuracy_f32(xf, labels, 5, 4);
    CHECK(fabs(a64 - 0.8) < 1e-15, "accuracy f64 hand-made: got %.17g, want 0.8", a64);
    CHECK(fabsf(a32 - 0.8f) < 1e-7f, "accuracy f32 hand-made: got %.9g, want 0.8", (double)a32);

    /* random rows vs a naive argmax */
    enum { R = 64, C = 5 };
    double *xr = rand_vec(R * C, -1, 1);
    int32_t lr[R];
    rand_labels(lr, R, C);
    int hits = 0;
    for (int r = 0; r < R; r++) {
        int best = 0;
        for (int j = 1; j < C; j++)
            if (xr[r * C + j] > xr[r * C + best]) best = j;
        hits += best == lr[r];
    }
    float *xrf = to_f32(xr, R * C);
    double want = (double)hits / R;
    double r64 = ref_accuracy_f64(xr, lr, R, C);
    double r32 = ref_accuracy_f32(xrf, lr, R, C);
    CHECK(fabs(r64 - want) < 1e-15 && fabs(r32 - want) < 1e-7,
          "accuracy random %dx%d: f64 %.9g f32 %.9g, want %.9g", R, C, r64, r32, want);
    printf("accuracy: hand-made 5x4 with ties (first max wins) = 0.8; random %dx%d = %.4f "
           "matches naive\n",
           R, C, want);
    free(xr), free(xrf);
}

int main(void) {
    test_window();
    test_matmul();
    test_conv();
    test_pool(1);
    test_maxpool_ties();
    test_pool(0);
    test_softmax();
    test_softmax_xent();
    test_l2norm();
    test_accuracy();
    return test_summary("test_ref_kernels");
}
