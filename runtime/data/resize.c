/* See resize.h. */
#include "runtime/data/resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

/* For each of n outputs: cnt[o] taps (source index idx, weight w) from slot o*k. */
typedef struct {
    int n, k;
    int *cnt, *idx;
    double *w;
} Taps;

static void taps_free(Taps *t) {
    free(t->cnt);
    free(t->idx);
    free(t->w);
    t->cnt = t->idx = NULL;
    t->w = NULL;
}

/* -1 when out of memory (t then holds nothing). */
static int taps_alloc(Taps *t, int n, int k) {
    t->n = n;
    t->k = k;
    t->cnt = fn_calloc((size_t)n, sizeof *t->cnt);
    t->idx = fn_malloc((size_t)n * k * sizeof *t->idx);
    t->w = fn_malloc((size_t)n * k * sizeof *t->w);
    if (t->cnt && t->idx && t->w) return 0;
    taps_free(t);
    return -1;
}

static void taps_add(Taps *t, int o, int i, double w) {
    int j = o * t->k + t->cnt[o]++;
    t->idx[j] = i;
    t->w[j] = w;
}

/* OpenCV's area table (computeResizeAreaTab) for shrinking sn -> dn, scale = sn/dn >= 1. */
static int taps_area_down(Taps *t, int sn, int dn, double scale) {
    if (taps_alloc(t, dn, (int)ceil(scale) + 2) < 0) return -1;
    for (int o = 0; o < dn; o++) {
        double f1 = o * scale, f2 = f1 + scale;
        double cell = fmin(scale, sn - f1);
        int s1 = (int)ceil(f1), s2 = (int)floor(f2);
        if (s2 > sn - 1) s2 = sn - 1;
        if (s1 > s2) s1 = s2;
        if (s1 - f1 > 1e-3) taps_add(t, o, s1 - 1, (float)((s1 - f1) / cell));
        for (int s = s1; s < s2; s++) taps_add(t, o, s, (float)(1.0 / cell));
        if (f2 - s2 > 1e-3) taps_add(t, o, s2, (float)(fmin(fmin(f2 - s2, 1.0), cell) / cell));
    }
    return 0;
}

/* OpenCV's INTER_AREA when not shrinking on both axes: linear taps at area-mode positions. */
static int taps_area_linear(Taps *t, int sn, int dn, double scale) {
    if (taps_alloc(t, dn, 2) < 0) return -1;
    for (int o = 0; o < dn; o++) {
        int s = (int)floor(o * scale);
        float f = (float)((o + 1) - (s + 1) / scale);
        f = f <= 0 ? 0.f : f - floorf(f);
        if (s < 0) f = 0, s = 0;
        if (s >= sn - 1) f = 0, s = sn - 1;
        taps_add(t, o, s, 1.0f - f);
        if (f != 0) taps_add(t, o, s + 1, f);
    }
    return 0;
}

/* Pillow's precompute_coeffs for the bilinear (triangle, support 1) filter, window [0, sn). */
static int taps_pil_bilinear(Taps *t, int sn, int dn) {
    double scale = (double)sn / dn, fs = scale < 1 ? 1 : scale, support = fs;
    if (taps_alloc(t, dn, (int)ceil(support) * 2 + 1) < 0) return -1;
    for (int o = 0; o < dn; o++) {
        double centre = (o + 0.5) * scale, sum = 0;
        int lo = (int)(centre - support + 0.5), hi = (int)(centre + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > sn) hi = sn;
        int first = o * t->k;
        for (int s = lo; s < hi; s++) {
            double x = fabs((s - centre + 0.5) / fs), w = x < 1 ? 1 - x : 0;
            taps_add(t, o, s, w);
            sum += w;
        }
        for (int j = 0; j < t->cnt[o]; j++) t->w[first + j] /= sum != 0 ? sum : 1;
    }
    return 0;
}

static float clamp_round(double v) {
    v = nearbyint(v); /* cv2's saturate_cast: round half to even */
    return (float)(v < 0 ? 0 : v > 255 ? 255 : v);
}

int rt_resize_area(const float *src, int sw, int sh, int c, float *dst, int dw, int dh,
                   int round_u8) {
    return rt_resize_area_window(src, sw, sh, c, 0, 0, sw, sh, dst, dw, dh, round_u8);
}

int rt_resize_area_window(const float *src, int sw, int sh, int c, int x0, int y0, int ww, int wh,
                          float *dst, int dw, int dh, int round_u8) {
    double sx = (double)ww / dw, sy = (double)wh / dh;
    Taps tx = {0}, ty = {0};
    int rc = sx >= 1 && sy >= 1 ? taps_area_down(&tx, ww, dw, sx) | taps_area_down(&ty, wh, dh, sy)
                                : taps_area_linear(&tx, ww, dw, sx) | taps_area_linear(&ty, wh, dh, sy);
    double *rows = rc ? NULL : fn_malloc((size_t)wh * dw * c * sizeof *rows);
    char *done = rows ? fn_calloc((size_t)wh, 1) : NULL;
    double *acc = done ? fn_malloc((size_t)dw * c * sizeof *acc) : NULL;
    if (!acc) {
        free(rows);
        free(done);
        taps_free(&tx);
        taps_free(&ty);
        return -1;
    }
    /* taps outside the image read zeros: drop them, and make the rest image columns */
    for (int ox = 0; ox < dw; ox++) {
        int k = 0;
        for (int i = 0; i < tx.cnt[ox]; i++) {
            int j = ox * tx.k + i, x = x0 + tx.idx[j];
            if (x < 0 || x >= sw) continue;
            tx.idx[ox * tx.k + k] = x;
            tx.w[ox * tx.k + k++] = tx.w[j];
        }
        tx.cnt[ox] = k;
    }
    /* columns first, once per window row used (rows outside the image are zero), then rows */
    for (int oy = 0; oy < dh; oy++) {
        memset(acc, 0, (size_t)dw * c * sizeof *acc);
        for (int j = 0; j < ty.cnt[oy]; j++) {
            int r = ty.idx[oy * ty.k + j], y = y0 + r;
            if (y < 0 || y >= sh) continue;
            double wy = ty.w[oy * ty.k + j], *row = rows + (size_t)r * dw * c;
            if (!done[r]) {
                const float *s = src + (size_t)y * sw * c;
                for (int ox = 0; ox < dw && c == 3; ox++) { /* RGB: sums in registers */
                    double a0 = 0, a1 = 0, a2 = 0;
                    for (int i = 0; i < tx.cnt[ox]; i++) {
                        const float *px = s + (size_t)tx.idx[ox * tx.k + i] * 3;
                        double w = tx.w[ox * tx.k + i];
                        a0 += w * px[0];
                        a1 += w * px[1];
                        a2 += w * px[2];
                    }
                    row[(size_t)ox * 3] = a0;
                    row[(size_t)ox * 3 + 1] = a1;
                    row[(size_t)ox * 3 + 2] = a2;
                }
                for (int ox = 0; ox < dw && c != 3; ox++) {
                    double *out = row + (size_t)ox * c;
                    for (int ch = 0; ch < c; ch++) out[ch] = 0;
                    for (int i = 0; i < tx.cnt[ox]; i++) {
                        const float *px = s + (size_t)tx.idx[ox * tx.k + i] * c;
                        double w = tx.w[ox * tx.k + i];
                        for (int ch = 0; ch < c; ch++) out[ch] += w * px[ch];
                    }
                }
                done[r] = 1;
            }
            for (int i = 0; i < dw * c; i++) acc[i] += wy * row[i];
        }
        float *d = dst + (size_t)oy * dw * c;
        for (int i = 0; i < dw * c; i++) d[i] = round_u8 ? clamp_round(acc[i]) : (float)acc[i];
    }
    free(acc);
    free(rows);
    free(done);
    taps_free(&tx);
    taps_free(&ty);
    return 0;
}

/* Pillow's 8-bit arithmetic: weights in fixed point with 22 fraction bits, sums rounded half
 * up; these give its results exactly (a float sum differs by one level in ~8% of pixels). */
#define PIL_BITS 22

static void taps_to_fixed(Taps *t) {
    for (int i = 0; i < t->n * t->k; i++) t->w[i] = floor(t->w[i] * (1 << PIL_BITS) + 0.5);
}

static unsigned char clip8(double v) {
    int64_t q = ((int64_t)v + (1 << (PIL_BITS - 1))) >> PIL_BITS;
    return (unsigned char)(q < 0 ? 0 : q > 255 ? 255 : q);
}

int rt_resize_bilinear(const RtImage *src, int x0, int y0, int cw, int ch, unsigned char *dst,
                       int dw, int dh) {
    Taps tx = {0}, ty = {0};
    int rc = taps_pil_bilinear(&tx, cw, dw) | taps_pil_bilinear(&ty, ch, dh);
    unsigned char *mid = rc ? NULL : fn_malloc((size_t)ch * dw * 3); /* horizontal pass, rounded to 8 bits */
    if (!mid) {
        taps_free(&tx);
        taps_free(&ty);
        return -1;
    }
    taps_to_fixed(&tx);
    taps_to_fixed(&ty);
    for (int y = 0; y < ch; y++) {
        const unsigned char *s = src->pix + ((size_t)(y0 + y) * src->w + x0) * 3;
        for (int ox = 0; ox < dw; ox++)
            for (int c = 0; c < 3; c++) {
                double v = 0; /* exact: integers below 2^53 */
                for (int i = 0; i < tx.cnt[ox]; i++) v += tx.w[ox * tx.k + i] * s[tx.idx[ox * tx.k + i] * 3 + c];
                mid[((size_t)y * dw + ox) * 3 + c] = cw == dw ? s[ox * 3 + c] : clip8(v);
            }
    }
    for (int oy = 0; oy < dh; oy++)
        for (int i = 0; i < dw * 3; i++) {
            double v = 0;
            for (int j = 0; j < ty.cnt[oy]; j++)
                v += ty.w[oy * ty.k + j] * mid[(size_t)ty.idx[oy * ty.k + j] * dw * 3 + i];
            dst[(size_t)oy * dw * 3 + i] = ch == dh ? mid[(size_t)oy * dw * 3 + i] : clip8(v);
        }
    free(mid);
    taps_free(&tx);
    taps_free(&ty);
    return 0;
}
