/* Resampling (runtime/data/resize.h) against first principles: OpenCV's INTER_AREA when shrinking is
 * the exact area average (each source pixel weighted by its overlap with the output cell);
 * when enlarging, its area-mode linear taps; Pillow's BILINEAR widens the triangle by the
 * scale when shrinking (taps 1:3:3:1 at 2x) and copies an unchanged axis. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/data/resize.h"
#include "tests/testlib.h"

/* the exact area average of channel c over output cell (ox, oy) */
static double area_oracle(const float *src, int sw, int sh, int ch, int c, int dw, int dh, int ox,
                          int oy) {
    double sx = (double)sw / dw, sy = (double)sh / dh, sum = 0;
    for (int y = 0; y < sh; y++) {
        double wy = fmax(0, fmin(y + 1, (oy + 1) * sy) - fmax(y, oy * sy));
        for (int x = 0; x < sw && wy > 0; x++) {
            double wx = fmax(0, fmin(x + 1, (ox + 1) * sx) - fmax(x, ox * sx));
            sum += wx * wy * src[((size_t)y * sw + x) * ch + c];
        }
    }
    return sum / (sx * sy);
}

static void check_area_down(int sw, int sh, int dw, int dh, uint64_t *rng) {
    float *src = malloc((size_t)sw * sh * 3 * sizeof *src), *dst = malloc((size_t)dw * dh * 3 * sizeof *dst);
    for (int i = 0; i < sw * sh * 3; i++) src[i] = (float)(int)(test_rng_uniform(rng) * 256);
    rt_resize_area(src, sw, sh, 3, dst, dw, dh, 0);
    double worst = 0;
    for (int oy = 0; oy < dh; oy++)
        for (int ox = 0; ox < dw; ox++)
            for (int c = 0; c < 3; c++)
                worst = fmax(worst, fabs(dst[((size_t)oy * dw + ox) * 3 + c] - area_oracle(src, sw, sh, 3, c, dw, dh, ox, oy)));
    CHECK(worst < 1e-3, "area %dx%d -> %dx%d: max |diff| from the exact area average %.2e", sw, sh, dw, dh, worst);
    /* rounded: the nearest integer of the same values */
    float *r = malloc((size_t)dw * dh * 3 * sizeof *r);
    rt_resize_area(src, sw, sh, 3, r, dw, dh, 1);
    int bad = 0;
    for (int i = 0; i < dw * dh * 3; i++) bad += fabsf(r[i] - dst[i]) > 0.5001f || r[i] != floorf(r[i]);
    CHECK(bad == 0, "area %dx%d -> %dx%d rounded: %d values not the nearest integer", sw, sh, dw, dh, bad);
    free(r);
    free(src);
    free(dst);
}

static void check_area_up(void) {
    /* enlarging uses OpenCV's area-mode taps: 2 -> 3 gives [a, (a+b)/2, b]; 2 -> 4 repeats */
    float src[2] = {10, 30}, d3[3], d4[4];
    rt_resize_area(src, 2, 1, 1, d3, 3, 1, 0);
    CHECK(d3[0] == 10 && d3[1] == 20 && d3[2] == 30, "2 -> 3: %g %g %g", d3[0], d3[1], d3[2]);
    rt_resize_area(src, 2, 1, 1, d4, 4, 1, 0);
    CHECK(d4[0] == 10 && d4[1] == 10 && d4[2] == 30 && d4[3] == 30, "2 -> 4: %g %g %g %g", d4[0], d4[1], d4[2], d4[3]);
    /* a constant image stays constant whatever the sizes (the crops of RNet and ONet) */
    float c[7 * 5 * 3], out[24 * 24 * 3];
    for (int i = 0; i < 7 * 5 * 3; i++) c[i] = 77;
    rt_resize_area(c, 7, 5, 3, out, 24, 24, 0);
    int bad = 0;
    for (int i = 0; i < 24 * 24 * 3; i++) bad += fabsf(out[i] - 77) > 1e-4f;
    CHECK(bad == 0, "constant 7x5 -> 24x24: %d values moved", bad);
    float wide[40 * 3 * 3];
    for (int i = 0; i < 40 * 3 * 3; i++) wide[i] = 5;
    rt_resize_area(wide, 40, 3, 3, out, 24, 24, 0); /* shrink x, enlarge y */
    bad = 0;
    for (int i = 0; i < 24 * 24 * 3; i++) bad += fabsf(out[i] - 5) > 1e-4f;
    CHECK(bad == 0, "constant 40x3 -> 24x24: %d values moved", bad);
}

/* a window reaching past the image equals resizing an explicitly zero-padded copy */
static void check_window(uint64_t *rng) {
    enum { SW = 30, SH = 20 };
    float src[SW * SH * 3];
    for (int i = 0; i < SW * SH * 3; i++) src[i] = (float)(int)(test_rng_uniform(rng) * 256);
    static const int win[][4] = {{-5, -7, 40, 33}, {10, 4, 12, 9}, {25, 15, 18, 18}, {-3, 2, 8, 40}};
    for (size_t k = 0; k < sizeof win / sizeof win[0]; k++) {
        int x0 = win[k][0], y0 = win[k][1], ww = win[k][2], wh = win[k][3];
        float *pad = calloc((size_t)ww * wh * 3, sizeof *pad), a[24 * 24 * 3], b[24 * 24 * 3];
        for (int y = 0; y < wh; y++)
            for (int x = 0; x < ww; x++)
                if (x0 + x >= 0 && x0 + x < SW && y0 + y >= 0 && y0 + y < SH)
                    memcpy(pad + ((size_t)y * ww + x) * 3, src + ((size_t)(y0 + y) * SW + x0 + x) * 3, 3 * sizeof(float));
        rt_resize_area(pad, ww, wh, 3, a, 24, 24, 0);
        rt_resize_area_window(src, SW, SH, 3, x0, y0, ww, wh, b, 24, 24, 0);
        double worst = 0;
        for (int i = 0; i < 24 * 24 * 3; i++) worst = fmax(worst, fabs(a[i] - b[i]));
        CHECK(worst < 1e-4, "window (%d,%d) %dx%d: max |diff| from the padded copy %.2e", x0, y0, ww, wh, worst);
        free(pad);
    }
}

static void check_bilinear(void) {
    enum { W = 16, H = 6 };
    RtImage img = {W, H, malloc(W * H * 3)};
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) img.pix[(y * W + x) * 3 + c] = (unsigned char)((x * 37 + y * 11 + c * 5) % 256);
    unsigned char out[W * H * 3];
    rt_resize_bilinear(&img, 0, 0, W, H, out, W, H);
    CHECK(memcmp(out, img.pix, sizeof out) == 0, "same size: a copy");
    /* 2x shrink along x only: taps 1:3:3:1 / 8 (edges renormalised) */
    unsigned char half[(W / 2) * H * 3];
    rt_resize_bilinear(&img, 0, 0, W, H, half, W / 2, H);
    int bad = 0;
    for (int y = 0; y < H; y++)
        for (int o = 0; o < W / 2; o++)
            for (int c = 0; c < 3; c++) {
                double num = 0, den = 0;
                static const double w[4] = {1, 3, 3, 1};
                for (int k = 0; k < 4; k++) {
                    int s = 2 * o - 1 + k;
                    if (s < 0 || s >= W) continue;
                    num += w[k] * img.pix[(y * W + s) * 3 + c];
                    den += w[k];
                }
                bad += half[(y * (W / 2) + o) * 3 + c] != (unsigned char)floor(num / den + 0.5);
            }
    CHECK(bad == 0, "2x shrink: %d values differ from the 1:3:3:1 filter", bad);
    /* a window: the crop of the image, resized */
    unsigned char win[4 * 3 * 3];
    rt_resize_bilinear(&img, 5, 2, 4, 3, win, 4, 3);
    bad = 0;
    for (int y = 0; y < 3; y++) bad += memcmp(win + y * 4 * 3, img.pix + ((y + 2) * W + 5) * 3, 4 * 3) != 0;
    CHECK(bad == 0, "window at (5,2) unresized: %d rows differ from the image", bad);
    /* enlarging a constant image keeps it */
    RtImage flat = {3, 2, malloc(3 * 2 * 3)};
    memset(flat.pix, 200, 3 * 2 * 3);
    unsigned char big[10 * 9 * 3];
    rt_resize_bilinear(&flat, 0, 0, 3, 2, big, 10, 9);
    bad = 0;
    for (int i = 0; i < 10 * 9 * 3; i++) bad += big[i] != 200;
    CHECK(bad == 0, "constant 3x2 -> 10x9: %d values moved", bad);
    free(flat.pix);
    free(img.pix);
}

int main(void) {
    uint64_t rng = 5;
    check_area_down(250, 250, 150, 150, &rng); /* LFW's first pyramid level */
    check_area_down(250, 250, 107, 107, &rng);
    check_area_down(37, 23, 24, 24 - 13, &rng);
    check_area_down(8, 8, 4, 4, &rng); /* integer factor: block means */
    check_area_down(31, 17, 31, 17, &rng); /* same size: a copy */
    check_area_up();
    check_window(&rng);
    check_bilinear();
    return test_summary("test_resize");
}
