/* The fast CPU backend's max pool (float32, NHWC): the reference's semantics (codegen/ref:
 * padded cells never win; the gradient goes to the first maximal cell of the window in
 * row-major order) with images shared among threads and every loop running along the
 * contiguous channel axis, so it vectorises:
 *   gradient: per output pixel and block of channels, the winning window cell's number and
 *   value; then each window cell adds dy where it won (a select per channel, no scatter).
 * The result does not depend on the pool's size (each image is one task). Checked against
 * the reference by tests/test_cpu_fast.c. */
#include "codegen/cpu/cpu.h"

#include <string.h>

enum { CB = 256 };

/* The in-bounds part [lo, hi) of a window starting at `start`, k wide, over an axis `in` long. */
static void clip(int start, int k, int in, int *lo, int *hi) {
    *lo = start < 0 ? 0 : start;
    *hi = start + k > in ? in : start + k;
}

static const float *at(const float *base, const RefWindow *v, int b, int y, int x) {
    return base +
           (((size_t)b * (size_t)v->h + (size_t)y) * (size_t)v->w + (size_t)x) * (size_t)v->c;
}

typedef struct {
    const float *x, *dy;
    float *y; /* y, or dx */
    const RefWindow *v;
} Pool;

static void maxpool_image(void *arg, int64_t b, int worker) {
    const Pool *a = arg;
    const RefWindow *v = a->v;
    const float *x = a->x;
    float *y = a->y;
    const size_t c = (size_t)v->c;
        for (int oy = 0; oy < v->oh; oy++)
            for (int ox = 0; ox < v->ow; ox++) {
                float *out =
                    y + (((size_t)b * (size_t)v->oh + (size_t)oy) * (size_t)v->ow + (size_t)ox) * c;
                int y0, y1, x0, x1;
                clip(oy * v->sh - v->pad_t, v->kh, v->h, &y0, &y1);
                clip(ox * v->sw - v->pad_l, v->kw, v->w, &x0, &x1);
                memcpy(out, at(x, v, b, y0, x0), c * sizeof(float));
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) {
                        const float *in = at(x, v, b, iy, ix);
#pragma omp simd
                        for (size_t ci = 0; ci < c; ci++) {
                            float xv = in[ci], ov = out[ci];
                            out[ci] = xv > ov ? xv : ov;
                        }
                    }
            }
}

void cpu_maxpool_f32(const float *x, float *y, const RefWindow *v, FnPool *pool) {
    Pool a = {x, NULL, y, v};
    fn_pool_run(pool, v->n, maxpool_image, &a);
}

static void maxpool_grad_image(void *arg, int64_t b, int worker) {
    const Pool *a = arg;
    const RefWindow *v = a->v;
    const float *x = a->x, *dy = a->dy;
    float *dx = a->y;
    const size_t c = (size_t)v->c, image = (size_t)v->h * (size_t)v->w * c;
    {
        memset(dx + (size_t)b * image, 0, image * sizeof(float));
        int won[CB];
        float best[CB];
        for (int oy = 0; oy < v->oh; oy++)
            for (int ox = 0; ox < v->ow; ox++) {
                const float *g =
                    dy +
                    (((size_t)b * (size_t)v->oh + (size_t)oy) * (size_t)v->ow + (size_t)ox) * c;
                int y0, y1, x0, x1;
                clip(oy * v->sh - v->pad_t, v->kh, v->h, &y0, &y1);
                clip(ox * v->sw - v->pad_l, v->kw, v->w, &x0, &x1);
                for (size_t c0 = 0; c0 < c; c0 += CB) {
                    const int nc = c - c0 < CB ? (int)(c - c0) : CB;
                    memcpy(best, at(x, v, b, y0, x0) + c0, (size_t)nc * sizeof(float));
                    memset(won, 0, (size_t)nc * sizeof(int));
                    int cell = 0;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++, cell++) {
                            const float *in = at(x, v, b, iy, ix) + c0;
#pragma omp simd
                            for (int ci = 0; ci < nc; ci++) {
                                float xv = in[ci], bv = best[ci];
                                int better = xv > bv, wv = won[ci];
                                best[ci] = better ? xv : bv;
                                won[ci] = wv + better * (cell - wv); /* a multiply, not a branch */
                            }
                        }
                    cell = 0;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++, cell++) {
                            float *d = (float *)at(dx, v, b, iy, ix) + c0;
#pragma omp simd
                            for (int ci = 0; ci < nc; ci++) {
                                float gv = g[c0 + (size_t)ci];
                                d[ci] += won[ci] == cell ? gv : 0.0f;
                            }
                        }
                }
            }
    }
}

void cpu_maxpool_grad_f32(const float *x, const float *dy, float *dx, const RefWindow *v, FnPool *pool) {
    Pool a = {x, dy, dx, v};
    fn_pool_run(pool, v->n, maxpool_grad_image, &a);
}
