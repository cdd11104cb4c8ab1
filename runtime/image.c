/* Image decoding (JPEG through libjpeg-turbo's libjpeg API, PNG through libpng's simplified
 * API), file reading and PNG writing. Every failure returns a reason; nothing here exits,
 * longjmps out of this file or trusts a header's sizes before checking them.
 * Not here: augmentation (augment.c), batching (loader.c). */
#include "runtime/image.h"

#include <errno.h>
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SIDE = 1 << 14 }; /* refuse absurd sizes before allocating */

void rt_image_free(RtImage *img) {
    free(img->pix);
    memset(img, 0, sizeof *img);
}

/* ---- JPEG ---------------------------------------------------------------------------------- */
typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
    int truncated; /* libjpeg warns (and pads with grey) when the data ends early */
} JpegErr;

static void jpeg_fail(j_common_ptr c) {
    JpegErr *e = (JpegErr *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jump, 1);
}
/* Warnings are not printed; premature end of data makes the image bad (as TensorFlow's
 * decoder does), other warnings (e.g. extraneous bytes) are tolerated. */
static void jpeg_warn(j_common_ptr c, int level) {
    if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) ((JpegErr *)c->err)->truncated = 1;
}

static int decode_jpeg(const unsigned char *data, size_t n, RtImage *img, char *err, size_t cap) {
    struct jpeg_decompress_struct cinfo;
    JpegErr jerr;
    unsigned char *volatile pix = NULL;
    cinfo.err = jpeg_std_error(&jerr.mgr);
    jerr.mgr.error_exit = jpeg_fail;
    jerr.mgr.emit_message = jpeg_warn;
    jerr.truncated = 0;
    if (setjmp(jerr.jump)) {
        snprintf(err, cap, "corrupt JPEG: %s", jerr.msg);
        jpeg_destroy_decompress(&cinfo);
        free(pix);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)n);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.num_components != 1 && cinfo.num_components != 3) {
        snprintf(err, cap, "unsupported JPEG with %d colour components", cinfo.num_components);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    cinfo.out_color_space = JCS_RGB; /* grey is expanded */
    if (cinfo.image_width > MAX_SIDE || cinfo.image_height > MAX_SIDE) {
        snprintf(err, cap, "JPEG of %ux%u is too large", cinfo.image_width, cinfo.image_height);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * 3;
    pix = malloc(stride * cinfo.output_height);
    if (!pix) longjmp(jerr.jump, 1);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pix + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    if (jerr.truncated) {
        snprintf(err, cap, "truncated JPEG (premature end of data)");
        jpeg_destroy_decompress(&cinfo);
        free(pix);
        return -1;
    }
    jpeg_finish_decompress(&cinfo);
    img->w = (int)cinfo.output_width;
    img->h = (int)cinfo.output_height;
    img->pix = pix;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

/* ---- PNG ----------------------------------------------------------------------------------- */
static int decode_png(const unsigned char *data, size_t n, RtImage *img, char *err, size_t cap) {
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&pi, data, n)) {
        snprintf(err, cap, "corrupt PNG: %s", pi.message);
        return -1;
    }
    if (pi.width == 0 || pi.height == 0 || pi.width > MAX_SIDE || pi.height > MAX_SIDE) {
        snprintf(err, cap, "PNG of %ux%u has an unsupported size", pi.width, pi.height);
        png_image_free(&pi);
        return -1;
    }
    pi.format = PNG_FORMAT_RGBA; /* read with alpha, then drop it (no compositing) */
    unsigned char *rgba = malloc(PNG_IMAGE_SIZE(pi));
    if (!rgba || !png_image_finish_read(&pi, NULL, rgba, 0, NULL)) {
        snprintf(err, cap, "corrupt PNG: %s", rgba ? pi.message : "out of memory");
        free(rgba);
        png_image_free(&pi);
        return -1;
    }
    size_t np = (size_t)pi.width * pi.height;
    img->w = (int)pi.width;
    img->h = (int)pi.height;
    img->pix = malloc(np * 3);
    if (!img->pix) {
        free(rgba);
        snprintf(err, cap, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < np; i++) memcpy(img->pix + 3 * i, rgba + 4 * i, 3);
    free(rgba);
    return 0;
}

int rt_image_decode(const unsigned char *data, size_t n, RtImage *img, char *err, size_t cap) {
    memset(img, 0, sizeof *img);
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n == 0) {
        snprintf(err, cap, "empty file");
        return -1;
    }
    if (n >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        return decode_jpeg(data, n, img, err, cap);
    if (n >= 8 && memcmp(data, png_sig, 8) == 0) return decode_png(data, n, img, err, cap);
    snprintf(err, cap, "not a JPEG or PNG image");
    return -1;
}

int rt_image_read(const char *path, RtImage *img, RtStatus *st) {
    memset(img, 0, sizeof *img);
    FILE *f = fopen(path, "rb");
    if (!f) return rt_fail(st, "cannot read image %s: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) break;
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    char err[256];
    int rc = bad ? (snprintf(err, sizeof err, "read error"), -1)
                 : rt_image_decode(buf, len, img, err, sizeof err);
    free(buf);
    return rc < 0 ? rt_fail(st, "cannot decode image %s: %s", path, err) : 0;
}

int rt_image_write_png(const char *path, const RtImage *img, RtStatus *st) {
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = (png_uint_32)img->w;
    pi.height = (png_uint_32)img->h;
    pi.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&pi, path, 0, img->pix, 0, NULL))
        return rt_fail(st, "cannot write %s: %s", path, pi.message);
    return 0;
}
