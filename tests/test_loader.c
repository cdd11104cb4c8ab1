/* The input pipeline end to end: decoding (JPEG, PNG, grey, alpha), a folder of deliberately
 * broken files, byte-identical batches for 1, 2 and 4 threads, and the --max_bad_images rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>

#include "runtime/data/loader.h"
#include "tests/testlib.h"

static char root[] = "/tmp/fn_test_loader_XXXXXX";

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(p, 1, n, f);
    fclose(f);
}

static unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n + 1);
    if (fread(b, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return b;
}

static void write_jpeg(const char *path, const RtImage *img, int quality) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char *buf = NULL;
    unsigned long len = 0;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &len);
    c.image_width = (JDIMENSION)img->w;
    c.image_height = (JDIMENSION)img->h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = img->pix + (size_t)c.next_scanline * (size_t)img->w * 3;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    write_bytes(path, buf, len);
    free(buf);
}

static RtImage pattern(int w, int h, int seed) {
    RtImage img = {w, h, malloc((size_t)w * (size_t)h * 3)};
    for (int i = 0; i < w * h * 3; i++) img.pix[i] = (unsigned char)((i * 7 + seed * 31 + (i / 3) % w * 3) & 0xff);
    return img;
}

/* 3 classes x 5 images: JPEGs and PNGs of several sizes. */
static void make_dataset(const char *dir) {
    mkdir(dir, 0777);
    for (int c = 0; c < 3; c++) {
        char cdir[600], path[700];
        snprintf(cdir, sizeof cdir, "%s/class%d", dir, c);
        mkdir(cdir, 0777);
        for (int i = 0; i < 5; i++) {
            RtImage img = pattern(40 + 3 * i, 44 + c, c * 5 + i);
            RtStatus st;
            if (i % 2) {
                snprintf(path, sizeof path, "%s/img%d.jpg", cdir, i);
                write_jpeg(path, &img, 90);
            } else {
                snprintf(path, sizeof path, "%s/img%d.png", cdir, i);
                rt_image_write_png(path, &img, &st);
            }
            rt_image_free(&img);
        }
    }
}

static void test_decode(void) {
    char path[600];
    RtStatus st;
    RtImage src = pattern(17, 9, 3), got;
    snprintf(path, sizeof path, "%s/p.png", root);
    rt_image_write_png(path, &src, &st);
    CHECK(rt_image_read(path, &got, &st) == 0 && got.w == 17 && got.h == 9 &&
              memcmp(got.pix, src.pix, 17 * 9 * 3) == 0,
          "PNG round trip is exact");
    rt_image_free(&got);
    snprintf(path, sizeof path, "%s/p.jpg", root);
    write_jpeg(path, &src, 100);
    int close = rt_image_read(path, &got, &st) == 0 && got.w == 17 && got.h == 9;
    double err = 0;
    for (int i = 0; close && i < 17 * 9 * 3; i++) err += abs(got.pix[i] - src.pix[i]);
    CHECK(close && err / (17 * 9 * 3) < 12, "JPEG decodes near its source (mean abs err %.2f)", err / (17 * 9 * 3));
    rt_image_free(&got);
    rt_image_free(&src);
    /* grey and RGBA PNGs, written with libpng's simplified API */
    unsigned char grey[6] = {0, 50, 100, 150, 200, 250}, rgba[8] = {10, 20, 30, 0, 40, 50, 60, 255};
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = 3;
    pi.height = 2;
    pi.format = PNG_FORMAT_GRAY;
    snprintf(path, sizeof path, "%s/g.png", root);
    png_image_write_to_file(&pi, path, 0, grey, 0, NULL);
    CHECK(rt_image_read(path, &got, &st) == 0 && got.pix[3 * 4] == 200 && got.pix[3 * 4 + 1] == 200 &&
              got.pix[3 * 4 + 2] == 200,
          "grey PNG becomes RGB");
    rt_image_free(&got);
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = 2;
    pi.height = 1;
    pi.format = PNG_FORMAT_RGBA;
    snprintf(path, sizeof path, "%s/a.png", root);
    png_image_write_to_file(&pi, path, 0, rgba, 0, NULL);
    CHECK(rt_image_read(path, &got, &st) == 0 && got.pix[0] == 10 && got.pix[1] == 20 && got.pix[2] == 30 &&
              got.pix[3] == 40,
          "alpha is dropped, not composited (a transparent pixel keeps its colour)");
    rt_image_free(&got);
}

/* A folder of deliberately broken files: each must fail with a message naming the file. */
static void test_broken(void) {
    char dir[600], path[700], good[700];
    snprintf(dir, sizeof dir, "%s/broken", root);
    mkdir(dir, 0777);
    snprintf(good, sizeof good, "%s/data/class0/img1.jpg", root);
    size_t nj;
    unsigned char *jpg = read_bytes(good, &nj);
    snprintf(good, sizeof good, "%s/data/class0/img0.png", root);
    size_t np;
    unsigned char *png = read_bytes(good, &np);
    uint64_t rng = 5;
    unsigned char noise[512];
    for (size_t i = 0; i < sizeof noise; i++) noise[i] = (unsigned char)test_rng_next(&rng);
    unsigned char fake_jpg[600], fake_png[600];
    memcpy(fake_jpg, jpg, 3), memcpy(fake_jpg + 3, noise, 512);
    memcpy(fake_png, png, 8), memcpy(fake_png + 8, noise, 512);
    struct { const char *name; const void *data; size_t n; } cases[] = {
        {"zero_bytes.jpg", "", 0},
        {"truncated_half.jpg", jpg, nj / 2},
        {"truncated_header.jpg", jpg, 20},
        {"truncated.png", png, np / 2},
        {"png_signature_only.png", png, 8},
        {"text_file.jpg", "this is not an image\n", 21},
        {"random_bytes.png", noise, sizeof noise},
        {"jpeg_magic_then_noise.jpg", fake_jpg, 515},
        {"png_magic_then_noise.png", fake_png, 520},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, cases[i].name);
        write_bytes(path, cases[i].data, cases[i].n);
        RtImage img;
        RtStatus st;
        int rc = rt_image_read(path, &img, &st);
        CHECK(rc < 0 && strstr(st.msg, cases[i].name), "%s: rejected with a message naming it: %s", cases[i].name,
              rc < 0 ? st.msg : "(decoded!)");
        if (rc == 0) rt_image_free(&img);
    }
    RtImage img;
    RtStatus st;
    snprintf(path, sizeof path, "%s/does_not_exist.png", dir);
    CHECK(rt_image_read(path, &img, &st) < 0 && strstr(st.msg, "does_not_exist.png"), "missing file: %s", st.msg);
    free(jpg);
    free(png);
}

/* Decoding only the crop window gives the pixels of a full decode, so the augmented output is
 * the same either way. */
static void test_window_decode(void) {
    char path[700];
    RtStatus st;
    RtImage big = pattern(93, 71, 9);
    for (int i = 0; i < 93 * 71 * 3; i++) big.pix[i] = (unsigned char)(big.pix[i] ^ (i * 131 % 251)); /* texture */
    snprintf(path, sizeof path, "%s/window.jpg", root);
    write_jpeg(path, &big, 85); /* 4:2:0 chroma: the window edges need neighbouring samples */
    rt_image_free(&big);
    RtImage full, win;
    if (!CHECK(rt_image_read(path, &full, &st) == 0, "decode: %s", st.msg)) return;
    int mismatches = 0, cases = 0;
    for (int x0 = 0; x0 < 40; x0 += 7)
        for (int y0 = 0; y0 < 30; y0 += 5)
            for (int w = 1; w <= 50; w += 17) {
                int h = 40 - y0 % 13;
                cases++;
                size_t n = 0;
                unsigned char *data = read_bytes(path, &n);
                if (rt_image_decode_window(data, n, x0, y0, w, h, &win, &st) < 0) {
                    mismatches++;
                    free(data);
                    continue;
                }
                for (int y = 0; y < h; y++)
                    mismatches += memcmp(win.pix + (size_t)y * w * 3, full.pix + ((size_t)(y0 + y) * 93 + x0) * 3,
                                         (size_t)w * 3) != 0;
                rt_image_free(&win);
                free(data);
            }
    CHECK(mismatches == 0, "window decodes equal the full decode's pixels: %d mismatched rows in %d windows",
          mismatches, cases);
    /* and the loader's path (window decode + augment) equals full decode + augment */
    float *a = malloc(32 * 32 * 3 * sizeof(float)), *b = malloc(32 * 32 * 3 * sizeof(float));
    unsigned char *scratch = malloc(93 * 71 * 3);
    int diff = 0;
    for (uint64_t key = 0; key < 50; key++) {
        int control = RT_AUG_CROP | RT_AUG_FLIP | (key % 2 ? RT_AUG_FIXED_STD : 0);
        RtImage part;
        if (rt_image_load(path, control, 32, key, &part, &st) < 0) {
            diff++;
            continue;
        }
        rt_augment(&part, control, 32, key, scratch, a, &st);
        rt_augment(&full, control, 32, key, scratch, b, &st);
        diff += memcmp(a, b, 32 * 32 * 3 * sizeof(float)) != 0;
        rt_image_free(&part);
    }
    CHECK(diff == 0, "window decode + augment equals full decode + augment: %d of 50 keys differ", diff);
    free(a);
    free(b);
    free(scratch);
    rt_image_free(&full);
}

/* n_batches batches of 4 (or samples slice_first.. of each, slice_len of them), each as its
 * images then its labels */
static unsigned char *run_slices(const RtDataset *ds, int threads, int n_batches, int64_t first_batch, int *bad,
                                 int slice_first, int slice_len) {
    RtLoaderOpts o = {ds, 4, 32, RT_AUG_ROTATE | RT_AUG_CROP | RT_AUG_FLIP | RT_AUG_FIXED_STD, threads, 2,
                      RT_ORDER_SHUFFLE, 5, 10, 0, first_batch, NULL, slice_first, slice_len};
    FILE *quiet = fopen("/dev/null", "w");
    o.log = quiet;
    RtStatus st;
    RtLoader *l = rt_loader_new(&o, &st);
    size_t take = slice_len ? (size_t)slice_len : 4, per = take * (32 * 32 * 3 * sizeof(float) + sizeof(int32_t));
    unsigned char *all = calloc((size_t)n_batches, per);
    for (int b = 0; l && b < n_batches; b++) {
        unsigned char *p = all + (size_t)b * per;
        if (rt_loader_next(l, (float *)p, (int32_t *)(p + take * 32 * 32 * 3 * sizeof(float)), NULL, &st) < 0) {
            CHECK(0, "loader: %s", st.msg);
            break;
        }
    }
    if (bad) *bad = l ? rt_loader_bad_images(l) : -1;
    rt_loader_free(l);
    fclose(quiet);
    return all;
}

/* the fixture's dataset (root/data) into ds; 0 after a failed check */
static int scan_data(RtDataset *ds) {
    char dir[600];
    RtStatus st;
    snprintf(dir, sizeof dir, "%s/data", root);
    return CHECK(rt_dataset_scan(dir, ds, &st) == 0, "scan: %s", st.msg);
}

static unsigned char *run_loader(const RtDataset *ds, int threads, int n_batches, int64_t first_batch, int *bad) {
    return run_slices(ds, threads, n_batches, first_batch, bad, 0, 0);
}

/* A data-parallel rank's share: samples 1 and 2 of every batch of 4, the same bytes and labels
 * as the whole batches' (per-sample streams), from the start and resumed at batch 4. */
static void test_slices(void) {
    RtDataset ds;
    RtStatus st;
    if (!scan_data(&ds)) return;
    const int n = 6;
    const size_t img = 32 * 32 * 3 * sizeof(float), per = 4 * (img + sizeof(int32_t)), half = 2 * (img + sizeof(int32_t));
    unsigned char *whole = run_loader(&ds, 2, n, 0, NULL), *mid = run_slices(&ds, 3, n, 0, NULL, 1, 2),
                  *later = run_slices(&ds, 1, n - 4, 4, NULL, 1, 2);
    int same = 1;
    for (int b = 0; b < n; b++) {
        const unsigned char *w = whole + (size_t)b * per, *s = mid + (size_t)b * half;
        same &= memcmp(s, w + img, 2 * img) == 0;                                  /* images 1, 2 */
        same &= memcmp(s + 2 * img, w + 4 * img + sizeof(int32_t), 2 * sizeof(int32_t)) == 0; /* labels 1, 2 */
        if (b >= 4) same &= memcmp(later + (size_t)(b - 4) * half, s, half) == 0;
    }
    CHECK(same, "a slice of each batch is those samples of the whole batch, resumed or not");
    RtLoaderOpts o = {&ds, 4, 32, 0, 1, 2, RT_ORDER_SHUFFLE, 5, 10, 0, 0, NULL, 3, 2};
    CHECK(rt_loader_new(&o, &st) == NULL && strstr(st.msg, "slice 3+2"), "a slice past the batch: %s", st.msg);
    free(whole);
    free(mid);
    free(later);
    rt_dataset_free(&ds);
}

static void test_threads(void) {
    RtDataset ds;
    if (!scan_data(&ds)) return;
    const int n = 9;
    size_t bytes = (size_t)n * (4 * 32 * 32 * 3 * sizeof(float) + 4 * sizeof(int32_t));
    unsigned char *one = run_loader(&ds, 1, n, 0, NULL), *two = run_loader(&ds, 2, n, 0, NULL),
                  *four = run_loader(&ds, 4, n, 0, NULL);
    CHECK(memcmp(one, two, bytes) == 0, "batches with 1 and 2 threads are byte-identical");
    CHECK(memcmp(one, four, bytes) == 0, "batches with 1 and 4 threads are byte-identical");
    size_t per = bytes / (size_t)n;
    unsigned char *later = run_loader(&ds, 2, n - 4, 4, NULL); /* 15 images: crosses a pass */
    CHECK(memcmp(later, one + 4 * per, per * (size_t)(n - 4)) == 0,
          "a loader started at batch 4 continues the sequence (resume)");
    free(later);
    int32_t *labels = (int32_t *)(one + 4 * 32 * 32 * 3 * sizeof(float));
    CHECK(labels[0] >= 0 && labels[0] < 3, "labels are classes");
    float *x = (float *)one;
    int in_range = 1;
    for (int i = 0; i < 4 * 32 * 32 * 3; i++) in_range &= x[i] >= -1.0f && x[i] <= 1.0f;
    CHECK(in_range, "fixed standardisation keeps values in [-1, 1]");
    free(one);
    free(two);
    free(four);
    rt_dataset_free(&ds);
}

static void test_bad_images(void) {
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/data", root);
    /* add two broken files to a class: they are skipped and counted */
    snprintf(path, sizeof path, "%s/class1/zz_broken1.jpg", dir);
    write_bytes(path, "garbage", 7);
    snprintf(path, sizeof path, "%s/class2/zz_broken2.png", dir);
    write_bytes(path, "", 0);
    RtDataset ds;
    RtStatus st;
    rt_dataset_scan(dir, &ds, &st);
    int bad = 0;
    unsigned char *a = run_loader(&ds, 2, 20, 0, &bad), *b = run_loader(&ds, 3, 20, 0, &bad);
    CHECK(bad == 2, "two bad files counted once each, got %d", bad);
    CHECK(memcmp(a, b, (size_t)20 * (4 * 32 * 32 * 3 * sizeof(float) + 4 * sizeof(int32_t))) == 0,
          "substitutes for bad files are deterministic");
    free(a);
    free(b);
    RtLoaderOpts o = {&ds, 4, 32, RT_AUG_FIXED_STD, 2, 2, RT_ORDER_SEQUENTIAL, 5, 1, 0, 0, NULL, 0, 0};
    FILE *quiet = fopen("/dev/null", "w");
    o.log = quiet;
    RtLoader *l = rt_loader_new(&o, &st);
    float *img = malloc(4 * 32 * 32 * 3 * sizeof(float));
    int32_t lab[4];
    int rc = 0;
    for (int k = 0; k < 10 && rc == 0; k++) rc = rt_loader_next(l, img, lab, NULL, &st);
    CHECK(rc < 0 && strstr(st.msg, "zz_broken") && strstr(st.msg, "--max_bad_images 1"),
          "beyond --max_bad_images the loader stops with a message naming a file: %s", st.msg);
    rt_loader_free(l);
    fclose(quiet);
    free(img);
    rt_dataset_free(&ds);
}

int main(void) {
    if (!mkdtemp(root)) return 1;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/data", root);
    make_dataset(dir);
    test_decode();
    test_broken();
    test_window_decode();
    test_threads();
    test_slices();
    test_bad_images();
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0) printf("could not remove %s\n", root);
    return test_summary("test_loader");
}
