/* The fast CPU backend's max pool (float32, NHWC): the reference's semantics (codegen/ref:
 * padded cells never win; the gradient goes to the first maximal cell of the window in
 * row-major order) with images shared among threads and every loop running along the
 * contiguous channel axis, so it vectorises:
 *   gradient: per output pixel and block of channels, the winning window cell's number and
 *   value; then each window cell adds dy where it won (a select per channel, no scatter).
 * The result does not depend on the pool's size (each image is one task) or on the instruction
 * set the loops are built for (baseline, AVX2, AVX-512: maxima and selects are exact). Checked
 * against the reference by tests/test_cpu_fast.c. */
#include "codegen/cpu/cpu.h"
#include "codegen/cpu/isa.h"

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

/* The loops are written once and built for each instruction set (isa.h; VARIANTS, as
 * conv_winograd.c's). */
#define BODY static inline __attribute__((always_inline)) void
#define VARIANTS(name)                                                                             \
    static void name##_base(void *arg, int64_t b, int worker) { name##_body(arg, b); }             \
    ISA_AVX2 static void name##_avx2(void *arg, int64_t b, int worker) { name##_body(arg, b); }    \
    ISA_AVX512 static void name##_avx512(void *arg, int64_t b, int worker) { name##_body(arg, b); } \
    static const FnPoolTask name##_isa[FN_ISA_COUNT] = {                                           \
        [FN_ISA_BASE] = name##_base, [FN_ISA_AVX2] = name##_avx2, [FN_ISA_AVX512] = name##_avx512};

BODY maxpool_image_body(void *arg, int64_t b) {
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

VARIANTS(maxpool_image)

void cpu_maxpool_f32(const float *x, float *y, const RefWindow *v, FnPool *pool, int isa) {
    Pool a = {x, NULL, y, v};
    fn_pool_run(pool, v->n, maxpool_image_isa[fn_isa_resolve(isa)], &a);
}

BODY maxpool_grad_image_body(void *arg, int64_t b) {
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

VARIANTS(maxpool_grad_image)

void cpu_maxpool_grad_f32(const float *x, const float *dy, float *dx, const RefWindow *v, FnPool *pool, int isa) {
    Pool a = {x, dy, dx, v};
    fn_pool_run(pool, v->n, maxpool_grad_image_isa[fn_isa_resolve(isa)], &a);
}
