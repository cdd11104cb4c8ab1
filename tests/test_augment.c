/* Per-image augmentation (runtime/data/augment.c, contract in image.h): bicubic rotation against an
 * independent float64 evaluation of the documented formula, 0 and 90 degree rotations, centre crop
 * / zero pad / random crop offsets, random and deterministic flips, fixed standardisation and
 * prewhitening against float64, errors, determinism in the key. Images are built in memory; no
 * decoding is involved. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/data/image.h"
#include "tests/testlib.h"

static const double PI = 3.14159265358979323846;

static RtImage new_image(int w, int h) {
    RtImage im = {w, h, calloc((size_t)w * h * 3, 1)};
    return im;
}

static RtImage random_image(int w, int h, uint64_t *rng) {
    RtImage im = new_image(w, h);
    for (int i = 0; i < w * h * 3; i++) im.pix[i] = (unsigned char)(test_rng_next(rng) >> 56);
    return im;
}

/* Pixel (x, y) = (x + 1, y + 1, 200): coordinates readable after a crop; padding reads (0, 0, 0). */
static RtImage coord_image(int w, int h) {
    RtImage im = new_image(w, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *p = im.pix + ((size_t)y * w + x) * 3;
            p[0] = (unsigned char)(x + 1);
            p[1] = (unsigned char)(y + 1);
            p[2] = 200;
        }
    return im;
}

/* The byte behind a fixed-standardised value, or -1000 if it is not one. */
static int unfix(float v) {
    double b = v * 128.0 + 127.5;
    double r = floor(b + 0.5);
    return fabs(b - r) < 1e-4 ? (int)r : -1000;
}

/* ---- independent float64 rotation, straight from the contract ------------------------------ */

static double keys_w(double t) {
    const double a = -1.0; /* PIL's affine-transform bicubic */
    t = fabs(t);
    if (t <= 1) return (a + 2) * t * t * t - (a + 3) * t * t + 1;
    if (t < 2) return a * t * t * t - 5 * a * t * t + 8 * a * t - 4 * a;
    return 0;
}

static int clampi(int v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

static void ref_rotate(const RtImage *src, double degrees, unsigned char *dst) {
    const int w = src->w, h = src->h;
    const double th = degrees * PI / 180, c = cos(th), s = sin(th);
    const double cx = w / 2.0, cy = h / 2.0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            /* inverse of a counter-clockwise rotation (y pointing down) of the pixel centre */
            double px = x + 0.5 - cx, py = y + 0.5 - cy;
            double sx = cx + (c * px - s * py) - 0.5;
            double sy = cy + (s * px + c * py) - 0.5;
            unsigned char *o = dst + ((size_t)y * w + x) * 3;
            if (sx + 0.5 < 0 || sx + 0.5 >= w || sy + 0.5 < 0 || sy + 0.5 >= h) {
                o[0] = o[1] = o[2] = 0;
                continue;
            }
            int ix = (int)floor(sx), iy = (int)floor(sy);
            for (int ch = 0; ch < 3; ch++) {
                double v = 0;
                for (int j = iy - 1; j <= iy + 2; j++)
                    for (int i = ix - 1; i <= ix + 2; i++) {
                        double p = src->pix[((size_t)clampi(j, 0, h - 1) * w + clampi(i, 0, w - 1)) * 3 + ch];
                        v += keys_w(sx - i) * keys_w(sy - j) * p;
                    }
                v = floor(v + 0.5);
                o[ch] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
}

static void test_rotation_vs_reference(void) {
    uint64_t rng = 11;
    const int sizes[][2] = {{9, 7}, {12, 12}, {7, 10}, {31, 24}};
    const double angles[] = {7.3, -10, 3, 90, -4.71, 45, 180, -90, 9.999};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        RtImage im = random_image(sizes[si][0], sizes[si][1], &rng);
        size_t nb = (size_t)im.w * im.h * 3;
        unsigned char *got = malloc(nb), *want = malloc(nb);
        for (size_t ai = 0; ai < sizeof angles / sizeof angles[0]; ai++) {
            rt_rotate_bicubic(&im, angles[ai], got);
            ref_rotate(&im, angles[ai], want);
            int maxd = 0, ndiff = 0;
            for (size_t i = 0; i < nb; i++) {
                int d = abs(got[i] - want[i]);
                if (d > maxd) maxd = d;
                ndiff += d != 0;
            }
            CHECK(maxd <= 1, "%dx%d at %g degrees: byte differs by %d from float64", im.w, im.h, angles[ai], maxd);
            CHECK(ndiff * 100 <= (int)nb, "%dx%d at %g degrees: %d of %zu bytes differ (rounding only)", im.w, im.h,
                  angles[ai], ndiff, nb);
        }
        rt_rotate_bicubic(&im, 0.0, got);
        CHECK(memcmp(got, im.pix, nb) == 0, "%dx%d: 0 degrees is the identity", im.w, im.h);
        rt_rotate_bicubic(&im, 360.0, got);
        CHECK(memcmp(got, im.pix, nb) == 0, "%dx%d: 360 degrees is the identity", im.w, im.h);
        free(got);
        free(want);
        free(im.pix);
    }
}

/* Smooth image: small angles move it a little, bicubic stays close to the exact rotated function. */
static void test_rotation_geometry(void) {
    const int n = 40;
    RtImage im = new_image(n, n);
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++)
            for (int ch = 0; ch < 3; ch++) im.pix[((size_t)y * n + x) * 3 + ch] = (unsigned char)(50 + 3 * x + ch);
    unsigned char *got = malloc((size_t)n * n * 3);
    rt_rotate_bicubic(&im, 8.0, got);
    /* counter-clockwise: at the centre column, moving up the value (3x in the source) grows when
     * the source is sampled to the right, i.e. for output rows above the centre. */
    const double th = 8.0 * PI / 180;
    int bad = 0;
    for (int y = 5; y < n - 5; y++)
        for (int x = 5; x < n - 5; x++) {
            double px = x + 0.5 - n / 2.0, py = y + 0.5 - n / 2.0;
            double sx = n / 2.0 + cos(th) * px - sin(th) * py - 0.5;
            double want = 50 + 3 * sx;
            bad += fabs(got[((size_t)y * n + x) * 3] - want) > 1.0;
        }
    CHECK(bad == 0, "linear ramp rotated by 8 degrees: %d interior pixels off the exact ramp", bad);
    CHECK(got[((size_t)5 * n + n / 2) * 3] > got[((size_t)(n - 6) * n + n / 2) * 3],
          "positive angle is counter-clockwise: the ramp rises towards the top of the centre column");
    CHECK(got[0] == 0 && got[1] == 0 && got[2] == 0, "corner outside the rotated image is black");
    free(got);
    free(im.pix);
}

static void test_rotation_90(void) {
    uint64_t rng = 5;
    const int ns[] = {12, 8, 9};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        const int n = ns[k];
        RtImage im = random_image(n, n, &rng);
        unsigned char *got = malloc((size_t)n * n * 3);
        rt_rotate_bicubic(&im, 90.0, got);
        /* counter-clockwise: out[y][x] = src[x][n-1-y], so the top-right corner goes to the top left */
        int wrong = 0;
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
                for (int ch = 0; ch < 3; ch++)
                    wrong += got[((size_t)y * n + x) * 3 + ch] != im.pix[((size_t)x * n + (n - 1 - y)) * 3 + ch];
        CHECK(wrong == 0, "n=%d, 90 degrees: %d bytes are not the exact permutation out[y][x] = src[x][n-1-y]", n,
              wrong);
        CHECK(!memcmp(got, im.pix + (size_t)(n - 1) * 3, 3), "n=%d: out(0,0) is src top-right", n);
        CHECK(!memcmp(got + (size_t)(n - 1) * n * 3, im.pix, 3), "n=%d: out(0,n-1) is src top-left", n);
        CHECK(!memcmp(got + ((size_t)(n - 1) * n + n - 1) * 3, im.pix + (size_t)(n - 1) * n * 3, 3),
              "n=%d: out(n-1,n-1) is src bottom-left", n);
        /* four quarter turns are the identity */
        unsigned char *a = malloc((size_t)n * n * 3);
        RtImage t = {n, n, got};
        for (int r = 0; r < 3; r++) {
            rt_rotate_bicubic(&t, 90.0, a);
            memcpy(got, a, (size_t)n * n * 3);
        }
        CHECK(!memcmp(got, im.pix, (size_t)n * n * 3), "n=%d: four quarter turns are the identity", n);
        free(a);
        free(got);
        free(im.pix);
    }
}

/* ---- crop / pad ---------------------------------------------------------------------------- */

/* Checks that the fixed-standardised out[size,size,3] of a coord_image is the source shifted:
 * output (ox, oy) shows source (ox + sx, oy + sy), with the x axis mirrored first if flipped, and
 * padding (all zero bytes) where the source is outside [0, w) x [0, h). Returns 1 if it all holds. */
static int matches_shift(const float *out, int size, int w, int h, int sx, int sy, int flipped) {
    for (int oy = 0; oy < size; oy++)
        for (int ox = 0; ox < size; ox++) {
            const float *p = out + ((size_t)oy * size + ox) * 3;
            int fx = flipped ? size - 1 - ox : ox;
            int x = fx + sx, y = oy + sy;
            int want[3] = {0, 0, 0};
            if (x >= 0 && x < w && y >= 0 && y < h) {
                want[0] = x + 1;
                want[1] = y + 1;
                want[2] = 200;
            }
            for (int ch = 0; ch < 3; ch++)
                if (unfix(p[ch]) != want[ch]) return 0;
        }
    return 1;
}

static void test_centre_crop_and_pad(void) {
    struct {
        int w, h, size, sx, sy; /* source offset of output (0,0); negative = padding */
    } cs[] = {
        {182, 182, 160, 11, 11}, /* the reference's example */
        {13, 13, 8, 2, 2},       {14, 9, 8, 3, 0},  {8, 8, 8, 0, 0},
        {5, 5, 8, -1, -1},       {7, 7, 8, 0, 0},   {6, 3, 9, -1, -3},
        {20, 6, 8, 6, -1},       /* each axis on its own: crop in x, pad in y */
        {4, 30, 9, -2, 10},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        RtImage im = coord_image(cs[i].w, cs[i].h);
        int s = cs[i].size;
        float *out = malloc((size_t)s * s * 3 * sizeof *out);
        RtStatus st = {{0}};
        for (int variant = 0; variant < 2; variant++) {
            uint64_t key = 1234 + (uint64_t)variant * 77;
            int rc = rt_augment(&im, RT_AUG_FIXED_STD, s, key, NULL, out, &st);
            CHECK(rc == 0, "%dx%d -> %d: %s", cs[i].w, cs[i].h, s, st.msg);
            CHECK(rc == 0 && matches_shift(out, s, cs[i].w, cs[i].h, cs[i].sx, cs[i].sy, 0),
                  "%dx%d -> %d: output (0,0) shows source (%d,%d), padding zero (key %llu)", cs[i].w, cs[i].h, s,
                  cs[i].sx, cs[i].sy, (unsigned long long)key);
        }
        free(out);
        free(im.pix);
    }
    /* padding value: byte 0 before standardisation */
    RtImage im = coord_image(5, 5);
    float out[8 * 8 * 3];
    RtStatus st = {{0}};
    rt_augment(&im, RT_AUG_FIXED_STD, 8, 9, NULL, out, &st);
    int pad_ok = 1;
    for (int oy = 0; oy < 8; oy++)
        for (int ox = 0; ox < 8; ox++) {
            int inside = ox >= 1 && ox < 6 && oy >= 1 && oy < 6;
            for (int ch = 0; ch < 3; ch++)
                if (!inside) pad_ok &= out[(oy * 8 + ox) * 3 + ch] == (float)(-127.5 / 128.0);
        }
    CHECK(pad_ok, "5 -> 8: image at offset 1, padding exactly -127.5/128");
    free(im.pix);
}

static void test_random_crop(void) {
    const int w = 20, h = 17, s = 8;
    RtImage im = coord_image(w, h);
    float out[8 * 8 * 3];
    int seen_x[32] = {0}, seen_y[32] = {0}, bad = 0, bad_flip = 0;
    for (uint64_t k = 0; k < 3000; k++) {
        uint64_t key = rt_hash(42, k, 7);
        int oy = (int)floor(rt_uniform(key, 1) * (h - s + 1));
        int ox = (int)floor(rt_uniform(key, 2) * (w - s + 1));
        RtStatus st = {{0}};
        if (rt_augment(&im, RT_AUG_CROP | RT_AUG_FIXED_STD, s, key, NULL, out, &st) != 0 ||
            !matches_shift(out, s, w, h, ox, oy, 0)) {
            bad++;
            continue;
        }
        seen_x[ox]++;
        seen_y[oy]++;
        /* with random flip too: the same crop, mirrored when rt_uniform(key, 3) < 0.5 */
        int flip = rt_uniform(key, 3) < 0.5;
        if (rt_augment(&im, RT_AUG_CROP | RT_AUG_FLIP | RT_AUG_FIXED_STD, s, key, NULL, out, &st) != 0 ||
            !matches_shift(out, s, w, h, ox, oy, flip))
            bad_flip++;
    }
    CHECK(bad == 0, "random crop lands at (floor(u2*(S-s+1)), floor(u1*(S-s+1))): %d keys wrong", bad);
    CHECK(bad_flip == 0, "random crop + flip (flip iff u3 < 0.5): %d keys wrong", bad_flip);
    int cover = 1;
    for (int i = 0; i <= w - s; i++) cover &= seen_x[i] > 0;
    for (int i = 0; i <= h - s; i++) cover &= seen_y[i] > 0;
    CHECK(cover, "random crop offsets cover [0, S-s] on both axes");
    int outside = 0;
    for (int i = w - s + 1; i < 32; i++) outside += seen_x[i];
    for (int i = h - s + 1; i < 32; i++) outside += seen_y[i];
    CHECK(outside == 0, "no random crop offset beyond S-s");

    /* image exactly the crop size: the only offset is 0 */
    RtImage eq = coord_image(8, 8);
    RtStatus st = {{0}};
    CHECK(rt_augment(&eq, RT_AUG_CROP | RT_AUG_FIXED_STD, 8, 99, NULL, out, &st) == 0 &&
              matches_shift(out, 8, 8, 8, 0, 0, 0),
          "random crop of an image exactly the size is the image");
    free(eq.pix);
    free(im.pix);
}

static void test_errors(void) {
    RtImage im = coord_image(10, 6);
    float out[8 * 8 * 3];
    RtStatus st = {{0}};
    CHECK(rt_augment(&im, RT_AUG_CROP, 8, 1, NULL, out, &st) == -1 && st.msg[0],
          "random crop of 8 from a 10x6 image fails with a message");
    CHECK(strstr(st.msg, "10x6") != NULL, "the message names the image size: %s", st.msg);
    st.msg[0] = 0;
    CHECK(rt_augment(&im, 0, 0, 1, NULL, out, &st) == -1 && st.msg[0], "size 0 fails");
    st.msg[0] = 0;
    CHECK(rt_augment(&im, RT_AUG_ROTATE, 8, 1, NULL, out, &st) == -1 && st.msg[0], "rotation without scratch fails");
    RtImage empty = {0, 0, NULL};
    CHECK(rt_augment(&empty, 0, 8, 1, NULL, out, &st) == -1, "empty image fails");
    free(im.pix);
}

/* ---- flips and standardisation -------------------------------------------------------------- */

static void test_flip(void) {
    const int w = 10, h = 10, s = 8;
    RtImage im = coord_image(w, h);
    float out[8 * 8 * 3];
    int n_flip = 0, bad = 0;
    for (uint64_t k = 0; k < 400; k++) {
        uint64_t key = rt_hash(3, k, 0);
        int flip = rt_uniform(key, 3) < 0.5;
        n_flip += flip;
        RtStatus st = {{0}};
        rt_augment(&im, RT_AUG_FLIP | RT_AUG_FIXED_STD, s, key, NULL, out, &st);
        bad += !matches_shift(out, s, w, h, 1, 1, flip);
        /* a random flip and a deterministic flip cancel */
        rt_augment(&im, RT_AUG_FLIP | RT_AUG_FLIP_ALWAYS | RT_AUG_FIXED_STD, s, key, NULL, out, &st);
        bad += !matches_shift(out, s, w, h, 1, 1, !flip);
    }
    CHECK(bad == 0, "random flip iff rt_uniform(key, 3) < 0.5: %d wrong", bad);
    CHECK(n_flip > 150 && n_flip < 250, "about half the keys flip: %d of 400", n_flip);
    RtStatus st = {{0}};
    rt_augment(&im, RT_AUG_FIXED_STD | RT_AUG_FLIP_ALWAYS, s, 5, NULL, out, &st);
    CHECK(matches_shift(out, s, w, h, 1, 1, 1), "FLIP_ALWAYS mirrors the centre crop");
    rt_augment(&im, RT_AUG_FIXED_STD, s, 5, NULL, out, &st);
    CHECK(matches_shift(out, s, w, h, 1, 1, 0), "no flip bit: never mirrored");
    free(im.pix);

    /* with prewhitening and padding: FLIP_ALWAYS output is the mirror of the plain output */
    uint64_t rng = 77;
    RtImage r = random_image(6, 11, &rng);
    float a[9 * 9 * 3], b[9 * 9 * 3];
    rt_augment(&r, 0, 9, 1, NULL, a, &st);
    rt_augment(&r, RT_AUG_FLIP_ALWAYS, 9, 1, NULL, b, &st);
    int mirror = 1;
    for (int y = 0; y < 9; y++)
        for (int x = 0; x < 9; x++)
            for (int ch = 0; ch < 3; ch++) mirror &= a[(y * 9 + x) * 3 + ch] == b[(y * 9 + (8 - x)) * 3 + ch];
    CHECK(mirror, "FLIP_ALWAYS after prewhitening: exact mirror of the unflipped output");
    free(r.pix);
}

/* The size x size x 3 frame (crop and zero padding, no flip) as doubles, from known offsets. */
static void frame(const RtImage *im, int s, int sx, int sy, double *f) {
    for (int oy = 0; oy < s; oy++)
        for (int ox = 0; ox < s; ox++)
            for (int ch = 0; ch < 3; ch++) {
                int x = ox + sx, y = oy + sy;
                f[((size_t)oy * s + ox) * 3 + ch] =
                    x >= 0 && x < im->w && y >= 0 && y < im->h ? im->pix[((size_t)y * im->w + x) * 3 + ch] : 0;
            }
}

static void test_standardisation(void) {
    uint64_t rng = 99;
    struct {
        int w, h, s, sx, sy;
    } cs[] = {{9, 11, 8, 0, 1}, {30, 30, 16, 7, 7}, {5, 6, 8, -1, -1}, {40, 3, 12, 14, -4}};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        RtImage im = random_image(cs[i].w, cs[i].h, &rng);
        const int s = cs[i].s;
        const size_t n = (size_t)s * s * 3;
        double *f = malloc(n * sizeof *f), *got = malloc(n * sizeof *got), *want = malloc(n * sizeof *want);
        float *out = malloc(n * sizeof *out);
        frame(&im, s, cs[i].sx, cs[i].sy, f);
        RtStatus st = {{0}};

        rt_augment(&im, RT_AUG_FIXED_STD, s, 3, NULL, out, &st);
        double maxd = 0;
        for (size_t k = 0; k < n; k++) maxd = fmax(maxd, fabs(out[k] - (f[k] - 127.5) / 128.0));
        CHECK(maxd == 0, "%dx%d -> %d fixed: max diff %g from (x-127.5)/128", cs[i].w, cs[i].h, s, maxd);

        double mean = 0, var = 0;
        for (size_t k = 0; k < n; k++) mean += f[k];
        mean /= n;
        for (size_t k = 0; k < n; k++) var += (f[k] - mean) * (f[k] - mean);
        double sd = fmax(sqrt(var / n), 1 / sqrt((double)n));
        rt_augment(&im, 0, s, 3, NULL, out, &st);
        double m2 = 0, v2 = 0;
        for (size_t k = 0; k < n; k++) {
            want[k] = (f[k] - mean) / sd;
            got[k] = out[k];
            m2 += got[k];
        }
        m2 /= n;
        for (size_t k = 0; k < n; k++) v2 += (got[k] - m2) * (got[k] - m2);
        double err = test_rel_err(got, want, n);
        CHECK(err < 1e-6, "%dx%d -> %d prewhiten: rel err %g vs float64", cs[i].w, cs[i].h, s, err);
        CHECK(fabs(m2) < 1e-5 && fabs(v2 / n - 1) < 1e-5, "prewhitened frame has mean 0 (%g) and std 1 (%g)", m2,
              sqrt(v2 / n));
        free(f);
        free(got);
        free(want);
        free(out);
        free(im.pix);
    }

    /* constant image: std 0, the floor keeps it finite (all zero) */
    RtImage c = new_image(10, 10);
    memset(c.pix, 173, 300);
    float out[16 * 16 * 3];
    RtStatus st = {{0}};
    rt_augment(&c, 0, 10, 1, NULL, out, &st);
    int zero = 1;
    for (int k = 0; k < 300; k++) zero &= out[k] == 0.0f;
    CHECK(zero, "prewhitened constant image is all zero (finite)");
    /* one byte off by one: std = sqrt(n-1)/n, just under the floor 1/sqrt(n), so the floor is used */
    c.pix[17] = 174;
    rt_augment(&c, 0, 10, 1, NULL, out, &st);
    const double n = 300;
    double want_hi = (1 - 1 / n) * sqrt(n), want_lo = (-1 / n) * sqrt(n);
    CHECK(fabs(out[17] - want_hi) < 1e-5 * want_hi && fabs(out[0] - want_lo) < 1e-6,
          "near-constant image divides by 1/sqrt(n): %g (want %g), %g (want %g)", out[17], want_hi, out[0], want_lo);
    free(c.pix);
}

/* ---- the whole pipeline -------------------------------------------------------------------- */

static void test_pipeline_and_determinism(void) {
    uint64_t rng = 31;
    const int w = 40, h = 36, s = 32;
    RtImage im = random_image(w, h, &rng);
    const size_t n = (size_t)s * s * 3;
    unsigned char *scratch = malloc((size_t)w * h * 3), *rot = malloc((size_t)w * h * 3);
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    const int ctl = RT_AUG_ROTATE | RT_AUG_CROP | RT_AUG_FLIP | RT_AUG_FIXED_STD;
    RtStatus st = {{0}};
    int bad = 0;
    for (uint64_t k = 0; k < 20; k++) {
        uint64_t key = rt_hash(1, k, 2);
        /* predicted: full rotation by -10 + 20*u0, then the crop and flip of the stream */
        double deg = -10 + 20 * rt_uniform(key, 0);
        rt_rotate_bicubic(&im, deg, rot);
        int oy = (int)floor(rt_uniform(key, 1) * (h - s + 1)), ox = (int)floor(rt_uniform(key, 2) * (w - s + 1));
        int flip = rt_uniform(key, 3) < 0.5;
        if (rt_augment(&im, ctl, s, key, scratch, a, &st) != 0) {
            bad++;
            continue;
        }
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
                for (int ch = 0; ch < 3; ch++) {
                    int sx = (flip ? s - 1 - x : x) + ox;
                    float want = (float)((rot[((size_t)(y + oy) * w + sx) * 3 + ch] - 127.5) / 128.0);
                    bad += a[((size_t)y * s + x) * 3 + ch] != want;
                }
    }
    CHECK(bad == 0, "rotate+crop+flip+fixed equals rt_rotate_bicubic then the predicted crop and flip (%d off)", bad);

    rt_augment(&im, ctl, s, 1001, scratch, a, &st);
    memset(scratch, 0xab, (size_t)w * h * 3);
    rt_augment(&im, ctl, s, 1001, scratch, b, &st);
    CHECK(!memcmp(a, b, n * sizeof *a), "same key, same output (whatever the scratch held)");
    rt_augment(&im, ctl, s, 1002, scratch, b, &st);
    CHECK(memcmp(a, b, n * sizeof *a) != 0, "different keys, different outputs");
    rt_augment(&im, RT_AUG_ROTATE, s, 1001, scratch, a, &st);
    rt_augment(&im, RT_AUG_ROTATE, s, 1002, scratch, b, &st);
    CHECK(memcmp(a, b, n * sizeof *a) != 0, "rotation alone depends on the key");
    rt_augment(&im, RT_AUG_FIXED_STD, s, 1001, NULL, a, &st);
    rt_augment(&im, RT_AUG_FIXED_STD, s, 1002, NULL, b, &st);
    CHECK(!memcmp(a, b, n * sizeof *a), "no random bits: the key does not matter");
    free(scratch);
    free(rot);
    free(a);
    free(b);
    free(im.pix);
}

int main(void) {
    test_rotation_vs_reference();
    test_rotation_geometry();
    test_rotation_90();
    test_centre_crop_and_pad();
    test_random_crop();
    test_errors();
    test_flip();
    test_standardisation();
    test_pipeline_and_determinism();
    return test_summary("test_augment");
}
