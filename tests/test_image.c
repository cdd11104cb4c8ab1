/* Image input and output at the edges: PNG sample depths and layouts decoded to the stored
 * 8-bit values (16-bit samples scaled, never gamma-converted), and PNG writes onto a full device
 * failing with the reason and no file left. Not here: JPEG decoding and augmentation
 * (test_augment.c), the decoder under random bytes (tests/fuzz/fuzz_image.c). */
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/data/image.h"
#include "tests/testlib.h"

typedef struct {
    unsigned char *buf;
    size_t len, cap;
} Mem;

static void to_mem(png_structp png, png_bytep data, png_size_t n) {
    Mem *m = png_get_io_ptr(png);
    if (m->len + n > m->cap) m->buf = realloc(m->buf, m->cap = 2 * (m->len + n));
    memcpy(m->buf + m->len, data, n);
    m->len += n;
}
static void no_flush(png_structp png) { (void)png; }

/* A w x h PNG of the given colour type and depth whose channel c of pixel i is sample(i, c)
 * (16-bit samples big-endian, as PNG stores them); interlaced with adam7. gama > 0 adds a gAMA
 * chunk. */
static Mem make_png(int w, int h, int type, int depth, int adam7, double gama,
                    unsigned (*sample)(int i, int c)) {
    Mem m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) abort();
    png_set_write_fn(png, &m, to_mem, no_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, type,
                 adam7 ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (gama > 0) png_set_gAMA(png, info, gama);
    png_write_info(png, info);
    int ch = png_get_channels(png, info), bps = depth / 8;
    unsigned char *row = malloc((size_t)w * ch * bps);
    png_bytep *rows = malloc((size_t)h * sizeof *rows);
    for (int y = 0; y < h; y++) {
        rows[y] = malloc((size_t)w * ch * bps);
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) {
                unsigned v = sample(y * w + x, c);
                unsigned char *p = rows[y] + ((size_t)x * ch + c) * bps;
                if (bps == 2) p[0] = (unsigned char)(v >> 8), p[1] = (unsigned char)v;
                else p[0] = (unsigned char)v;
            }
    }
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    for (int y = 0; y < h; y++) free(rows[y]);
    free(rows);
    free(row);
    return m;
}

/* 16-bit: the pixel 159,96,45 (stored as v * 257 plus a little) and a ramp */
static unsigned rgb16(int i, int c) {
    static const unsigned px[3] = {159, 96, 45};
    return i == 0 ? px[c] * 257 + 100 : (unsigned)(i * 997 + c * 20011) % 65536;
}
static unsigned grey_alpha16(int i, int c) { return c == 0 ? (unsigned)(i * 4099) % 65536 : 0x1234; }
static unsigned rgb8(int i, int c) { return (unsigned)(i * 7 + c * 50) % 256; }

static int round257(unsigned v) { return (int)((v + 128) / 257); }

static void test_decode(const char *what, Mem m, int w, int h, int grey, unsigned (*sample)(int, int),
                        int scale16) {
    RtImage img;
    RtStatus st = {""};
    int rc = rt_image_decode(m.buf, m.len, &img, &st);
    if (!CHECK(rc == 0 && img.w == w && img.h == h, "%s decodes: %s", what, st.msg)) return free(m.buf);
    int bad = 0, first = -1;
    for (int i = 0; i < w * h; i++)
        for (int c = 0; c < 3; c++) {
            unsigned v = sample(i, grey ? 0 : c);
            int want = scale16 ? round257(v) : (int)v;
            if (abs(img.pix[3 * i + c] - want) > 0 && !bad++) first = 3 * i + c;
        }
    CHECK(bad == 0, "%s: %d samples differ, first at %d: %d", what, bad, first, first >= 0 ? img.pix[first] : 0);
    rt_image_free(&img);
    free(m.buf);
}

static void test_png_depths(void) {
    RtImage img;
    RtStatus st = {""};
    Mem m = make_png(5, 3, PNG_COLOR_TYPE_RGB, 16, 0, 0, rgb16);
    if (CHECK(rt_image_decode(m.buf, m.len, &img, &st) == 0, "16-bit RGB: %s", st.msg)) {
        CHECK(img.pix[0] == 159 && img.pix[1] == 96 && img.pix[2] == 45,
              "16-bit pixel 159,96,45 reads as %d,%d,%d", img.pix[0], img.pix[1], img.pix[2]);
        rt_image_free(&img);
    }
    free(m.buf);
    test_decode("16-bit RGB", make_png(37, 11, PNG_COLOR_TYPE_RGB, 16, 0, 0, rgb16), 37, 11, 0, rgb16, 1);
    test_decode("16-bit RGB with gAMA 1.0", make_png(9, 4, PNG_COLOR_TYPE_RGB, 16, 0, 1.0, rgb16), 9, 4, 0, rgb16, 1);
    test_decode("16-bit grey + alpha, interlaced", make_png(13, 9, PNG_COLOR_TYPE_GRAY_ALPHA, 16, 1, 0, grey_alpha16),
                13, 9, 1, grey_alpha16, 1);
    test_decode("8-bit RGB, interlaced", make_png(21, 17, PNG_COLOR_TYPE_RGB, 8, 1, 0, rgb8), 21, 17, 0, rgb8, 0);
    test_decode("8-bit RGB with gAMA 0.8", make_png(6, 6, PNG_COLOR_TYPE_RGB, 8, 0, 0.8, rgb8), 6, 6, 0, rgb8, 0);
    m = make_png(8, 8, PNG_COLOR_TYPE_RGB, 16, 0, 0, rgb16);
    CHECK(rt_image_decode(m.buf, m.len / 2, &img, &st) < 0 && strstr(st.msg, "corrupt PNG"),
          "a truncated PNG is an error: %s", st.msg);
    free(m.buf);
}

/* a PNG written to a full device: an error with the reason, the file removed */
static void test_write_full(void) {
    char dir[] = "/tmp/fn_image_XXXXXX", path[256];
    if (!mkdtemp(dir) || access("/dev/full", W_OK) != 0) {
        printf("  /dev/full unavailable: full-device write skipped\n");
        return;
    }
    snprintf(path, sizeof path, "%s/face.png", dir);
    if (symlink("/dev/full", path) != 0) return;
    RtImage img = {64, 64, calloc(64 * 64 * 3, 1)};
    RtStatus st;
    int rc = rt_image_write_png(path, &img, &st);
    CHECK(rc < 0 && strstr(st.msg, path) && strstr(st.msg, strerror(ENOSPC)),
          "a PNG onto a full device names the file and the reason: %s", rc < 0 ? st.msg : "(no error)");
    struct stat sb;
    CHECK(lstat(path, &sb) != 0, "the failed PNG is removed");
    unlink(path);
    rmdir(dir);
    free(img.pix);
}

int main(void) {
    test_png_depths();
    test_write_full();
    return test_summary("test_image");
}
