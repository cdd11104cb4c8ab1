/* Per-image augmentation of the input pipeline (SPEC §3, REFERENCE 1.4): bicubic rotation, crop or
 * pad, flip, standardisation, deterministic flip. Contract in image.h.
 *
 * What this is: pure functions of (image, control, size, key); every random draw comes from the
 * counter-based stream rt_uniform(key, 0..3), so the result never depends on the thread.
 * What this is not: decoding (image.c), batching or threads (loader.c). No allocation: the only
 * buffer besides the output is the caller's scratch for the rotation.
 *
 * Geometry: pixel index (x, y) covers [x, x+1) x [y, y+1); its centre is (x + 0.5, y + 0.5). The
 * rotation maps output centres back into the source about the centre (w/2, h/2), then subtracts 0.5
 * to get a sample position in index units. The image covers sample positions [-0.5, w-0.5) x
 * [-0.5, h-0.5) (as PIL's transform tests before subtracting 0.5); anything else is black.
 */
#include "runtime/data/image.h"

#include <math.h>
#include <string.h>

/* ---- rotation ---------------------------------------------------------------------------- */

/* Cubic convolution weights with a = -1 (the kernel of PIL's affine-transform bicubic filter,
 * which the reference's rotation goes through) for the taps at x0-1, x0, x0+1, x0+2 of a sample
 * at x0 + d, d in [0, 1). Exactly (0, 1, 0, 0) at d = 0, so integer positions copy the source. */
static inline void keys_weights(float d, float *wt) {
    float d2 = d * d, d3 = d2 * d;
    wt[0] = -d3 + 2.0f * d2 - d;
    wt[1] = d3 - 2.0f * d2 + 1.0f;
    wt[2] = -d3 + d2 + d;
    wt[3] = d3 - d2;
}

/* Clipped to [0, 255] and rounded to nearest (robust at exact positions; PIL may truncate,
 * a difference of at most one grey level). */
static inline unsigned char round_clip(float v) {
    if (v <= 0.0f) return 0;
    if (v >= 255.0f) return 255;
    return (unsigned char)(v + 0.5f);
}

/* cos and sin of an angle in degrees; exact at multiples of 90 degrees. */
static void cos_sin_deg(double degrees, double *c, double *s) {
    double a = fmod(degrees, 360.0);
    if (a < 0) a += 360.0;
    if (a == 0.0) { *c = 1; *s = 0; return; }
    if (a == 90.0) { *c = 0; *s = 1; return; }
    if (a == 180.0) { *c = -1; *s = 0; return; }
    if (a == 270.0) { *c = 0; *s = -1; return; }
    double r = a * (3.14159265358979323846 / 180.0);
    *c = cos(r);
    *s = sin(r);
}

/* Rotates the output rectangle [x0, x1) x [y0, y1) of a counter-clockwise rotation with cosine c
 * and sine s; dst has the full w*h*3 layout of src (pixels outside the rectangle are untouched). */
static void rotate_region(const RtImage *src, double c, double s, int x0, int y0, int x1, int y1,
                          unsigned char *dst) {
    const int w = src->w, h = src->h;
    const size_t stride = (size_t)w * 3;
    const double cx = w * 0.5, cy = h * 0.5;
    const double lo_x = -0.5, hi_x = w - 0.5, lo_y = -0.5, hi_y = h - 0.5;
    for (int y = y0; y < y1; y++) {
        /* per row: the sample position is (c*dx + rx, s*dx + ry) with dx = x + 0.5 - cx */
        const double dy = y + 0.5 - cy;
        const double rx = cx - s * dy - 0.5, ry = cy + c * dy - 0.5;
        unsigned char *o = dst + (size_t)y * stride + (size_t)x0 * 3; // [x1-x0,3]
        for (int x = x0; x < x1; x++, o += 3) {
            const double dx = x + 0.5 - cx;
            const double sx = c * dx + rx, sy = s * dx + ry;
            if (!(sx >= lo_x && sx < hi_x && sy >= lo_y && sy < hi_y)) {
                o[0] = o[1] = o[2] = 0;
                continue;
            }
            /* floor by truncation: sx, sy >= -0.5 here */
            const int ix = (int)(sx + 1.0) - 1, iy = (int)(sy + 1.0) - 1;
            float wx[4], wy[4];
            keys_weights((float)(sx - ix), wx);
            keys_weights((float)(sy - iy), wy);
            float acc[3] = {0, 0, 0};
            if (ix >= 1 && ix + 2 < w && iy >= 1 && iy + 2 < h) {
                const unsigned char *p = src->pix + (size_t)(iy - 1) * stride + (size_t)(ix - 1) * 3; // [4,4,3]
                for (int j = 0; j < 4; j++, p += stride) {
                    const float r0 = wx[0] * p[0] + wx[1] * p[3] + wx[2] * p[6] + wx[3] * p[9];
                    const float r1 = wx[0] * p[1] + wx[1] * p[4] + wx[2] * p[7] + wx[3] * p[10];
                    const float r2 = wx[0] * p[2] + wx[1] * p[5] + wx[2] * p[8] + wx[3] * p[11];
                    acc[0] += wy[j] * r0;
                    acc[1] += wy[j] * r1;
                    acc[2] += wy[j] * r2;
                }
            } else { /* near the border: taps clamped to the image */
                int tx[4];
                for (int k = 0; k < 4; k++) {
                    int t = ix - 1 + k;
                    tx[k] = (t < 0 ? 0 : t >= w ? w - 1 : t) * 3;
                }
                for (int j = 0; j < 4; j++) {
                    int t = iy - 1 + j;
                    const unsigned char *row = src->pix + (size_t)(t < 0 ? 0 : t >= h ? h - 1 : t) * stride; // [w,3]
                    float r0 = 0, r1 = 0, r2 = 0;
                    for (int k = 0; k < 4; k++) {
                        const unsigned char *q = row + tx[k];
                        r0 += wx[k] * q[0];
                        r1 += wx[k] * q[1];
                        r2 += wx[k] * q[2];
                    }
                    acc[0] += wy[j] * r0;
                    acc[1] += wy[j] * r1;
                    acc[2] += wy[j] * r2;
                }
            }
            o[0] = round_clip(acc[0]);
            o[1] = round_clip(acc[1]);
            o[2] = round_clip(acc[2]);
        }
    }
}

void rt_rotate_bicubic(const RtImage *src, double degrees, unsigned char *dst) {
    double c, s;
    cos_sin_deg(degrees, &c, &s);
    if (c == 1.0 && s == 0.0) {
        memcpy(dst, src->pix, (size_t)src->w * src->h * 3);
        return;
    }
    rotate_region(src, c, s, 0, 0, src->w, src->h, dst);
}

/* ---- crop / pad, flip, standardisation ---------------------------------------------------- */

/* One axis of the crop-or-pad: source [src_off, src_off+len) lands at [dst_off, dst_off+len) of
 * the size-long output axis; the rest of the output axis is zero padding. */
typedef struct {
    int src_off, dst_off, len;
} Axis;

static int plan_axis(int S, int s, int random_crop, double u, Axis *a) {
    if (random_crop) {
        if (S < s) return -1;
        int off = (int)floor(u * (S - s + 1));
        if (off > S - s) off = S - s;
        *a = (Axis){off, 0, s};
    } else if (S >= s) {
        *a = (Axis){(S - s) / 2, 0, s}; /* centre crop */
    } else {
        *a = (Axis){0, (s - S) / 2, S}; /* symmetric zero pad, extra pixel after */
    }
    return 0;
}

int rt_crop_window(int w, int h, int control, int size, uint64_t key, int *x0, int *y0, int *cw,
                   int *ch) {
    const int crop = (control & RT_AUG_CROP) != 0;
    Axis ax, ay;
    if (plan_axis(h, size, crop, rt_uniform(key, 1), &ay) != 0 ||
        plan_axis(w, size, crop, rt_uniform(key, 2), &ax) != 0)
        return -1;
    *x0 = ax.src_off;
    *y0 = ay.src_off;
    *cw = ax.len;
    *ch = ay.len;
    return 0;
}

/* lut[v] = standardised value of byte v. Prewhitening takes the mean and population std over the
 * size x size x 3 frame (crop plus zero padding) from a histogram of its bytes. */
static void make_lut(const unsigned char *src, int w, const Axis *ax, const Axis *ay, int size,
                     int fixed, float *lut) {
    if (fixed) {
        for (int v = 0; v < 256; v++) lut[v] = (float)((v - 127.5) / 128.0);
        return;
    }
    uint32_t hist[4][256];
    memset(hist, 0, sizeof hist);
    const size_t stride = (size_t)w * 3, row_bytes = (size_t)ax->len * 3;
    for (int y = 0; y < ay->len; y++) {
        const unsigned char *p = src + (size_t)(ay->src_off + y) * stride + (size_t)ax->src_off * 3;
        size_t i = 0;
        for (; i + 4 <= row_bytes; i += 4) {
            hist[0][p[i]]++;
            hist[1][p[i + 1]]++;
            hist[2][p[i + 2]]++;
            hist[3][p[i + 3]]++;
        }
        for (; i < row_bytes; i++) hist[0][p[i]]++;
    }
    const double n = (double)size * size * 3;
    double count[256], sum = 0;
    for (int v = 0; v < 256; v++) {
        count[v] = (double)hist[0][v] + hist[1][v] + hist[2][v] + hist[3][v];
        sum += count[v] * v;
    }
    count[0] += n - (double)ax->len * ay->len * 3; /* the padding */
    const double mean = sum / n;
    double ss = 0;
    for (int v = 0; v < 256; v++) ss += count[v] * (v - mean) * (v - mean);
    double sd = sqrt(ss / n);
    const double floor_sd = 1.0 / sqrt(n);
    if (sd < floor_sd) sd = floor_sd;
    for (int v = 0; v < 256; v++) lut[v] = (float)((v - mean) / sd);
}

int rt_augment(const RtImage *img, int control, int size, uint64_t key, unsigned char *scratch,
               float *out, RtStatus *st) {
    if (!img || !img->pix || img->w < 1 || img->h < 1)
        return rt_fail(st, "augment: empty image");
    if (size < 1) return rt_fail(st, "augment: image size %d (must be at least 1)", size);
    if ((control & RT_AUG_ROTATE) && !scratch)
        return rt_fail(st, "augment: rotation needs a scratch buffer");
    const int crop = (control & RT_AUG_CROP) != 0;
    Axis ax, ay;
    if (plan_axis(img->h, size, crop, rt_uniform(key, 1), &ay) != 0 ||
        plan_axis(img->w, size, crop, rt_uniform(key, 2), &ax) != 0)
        return rt_fail(st, "random crop of %dx%d from a %dx%d image (the image must be at least that size)",
                       size, size, img->w, img->h);

    /* rotate: only the pixels the crop keeps */
    const unsigned char *src = img->pix; // [h,w,3]
    if (control & RT_AUG_ROTATE) {
        double c, s;
        cos_sin_deg(-10.0 + 20.0 * rt_uniform(key, 0), &c, &s);
        if (c == 1.0 && s == 0.0) {
            memcpy(scratch, img->pix, (size_t)img->w * img->h * 3);
        } else {
            rotate_region(img, c, s, ax.src_off, ay.src_off, ax.src_off + ax.len, ay.src_off + ay.len,
                          scratch);
        }
        src = scratch;
    }

    float lut[256];
    make_lut(src, img->w, &ax, &ay, size, (control & RT_AUG_FIXED_STD) != 0, lut);

    /* The standardisation is per byte with whole-frame statistics, so a flip after it equals a
     * flip before it: the random flip and the deterministic flip combine into one. */
    int flip = (control & RT_AUG_FLIP) && rt_uniform(key, 3) < 0.5;
    if (control & RT_AUG_FLIP_ALWAYS) flip = !flip;

    const size_t stride = (size_t)img->w * 3;
    const float zero = lut[0];
    /* output columns [c0, c1) come from the image, the rest is padding */
    const int c0 = flip ? size - ax.dst_off - ax.len : ax.dst_off, c1 = c0 + ax.len;
    for (int oy = 0; oy < size; oy++) {
        float *o = out + (size_t)oy * size * 3; // [size,3]
        const int fy = oy - ay.dst_off;
        if (fy < 0 || fy >= ay.len) {
            for (int i = 0; i < size * 3; i++) o[i] = zero;
            continue;
        }
        const unsigned char *row = src + (size_t)(ay.src_off + fy) * stride + (size_t)ax.src_off * 3; // [len,3]
        for (int i = 0; i < c0 * 3; i++) o[i] = zero;
        float *m = o + (size_t)c0 * 3;
        if (!flip) {
            for (int i = 0; i < ax.len * 3; i++) m[i] = lut[row[i]];
        } else {
            const unsigned char *p = row + (size_t)(ax.len - 1) * 3;
            for (int k = 0; k < ax.len; k++, m += 3, p -= 3) {
                m[0] = lut[p[0]];
                m[1] = lut[p[1]];
                m[2] = lut[p[2]];
            }
        }
        for (int i = c1 * 3; i < size * 3; i++) o[i] = zero;
    }
    return 0;
}
