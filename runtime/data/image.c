/* Image decoding (JPEG through libjpeg-turbo's libjpeg API, PNG through libpng's low-level
 * reader), file reading and PNG writing. Every failure returns a reason; nothing here exits,
 * longjmps out of this file or trusts a header's sizes before checking them.
 * Not here: augmentation (augment.c), batching (loader.c). */
#include "runtime/data/image.h"

#include <errno.h>
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ir/alloc.h"

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
    int oom;       /* the jump is ours: a buffer could not be allocated */
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

/* Decodes the window [x0, x0+ww) x [y0, y0+wh); ww < 0 means the whole image. */
static int decode_jpeg(const unsigned char *data, size_t n, int x0, int y0, int ww, int wh,
                       RtImage *img, RtStatus *st) {
    struct jpeg_decompress_struct cinfo;
    JpegErr jerr;
    unsigned char *volatile pix = NULL;
    cinfo.err = jpeg_std_error(&jerr.mgr);
    jerr.mgr.error_exit = jpeg_fail;
    jerr.mgr.emit_message = jpeg_warn;
    jerr.truncated = 0;
    jerr.oom = 0;
    if (setjmp(jerr.jump)) {
        if (jerr.oom) rt_fail(st, "out of memory decoding a JPEG");
        else rt_fail(st, "corrupt JPEG: %s", jerr.msg);
        jpeg_destroy_decompress(&cinfo);
        free(pix);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)n);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.num_components != 1 && cinfo.num_components != 3) {
        rt_fail(st, "unsupported JPEG with %d colour components", cinfo.num_components);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    cinfo.out_color_space = JCS_RGB; /* grey is expanded */
    if (cinfo.image_width > MAX_SIDE || cinfo.image_height > MAX_SIDE) {
        rt_fail(st, "JPEG of %ux%u is too large", cinfo.image_width, cinfo.image_height);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    const int full_w = (int)cinfo.image_width, full_h = (int)cinfo.image_height;
    const int whole = ww < 0; /* the arguments stay untouched across the setjmp */
    const int wx = whole ? 0 : x0, wy = whole ? 0 : y0, wwid = whole ? full_w : ww,
              whei = whole ? full_h : wh;
    if (wx < 0 || wy < 0 || wwid < 1 || whei < 1 || wx + wwid > full_w || wy + whei > full_h) {
        rt_fail(st, "window %dx%d at (%d,%d) is outside the %dx%d JPEG", wwid, whei, wx, wy, full_w,
                full_h);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_start_decompress(&cinfo);
    /* decode only the iMCU columns the window touches; xoff is rounded down to a boundary */
    /* A margin of one iMCU (16 pixels at most) on every side keeps the chroma upsampling at the
     * window's edges fed with real neighbours, so the pixels equal a full decode's. */
    const int m = 16, dx0 = wx > m ? wx - m : 0, dy0 = wy > m ? wy - m : 0;
    const int dx1 = wx + wwid + m < full_w ? wx + wwid + m : full_w;
    JDIMENSION xoff = (JDIMENSION)dx0, xw = (JDIMENSION)(dx1 - dx0);
    if (dx1 - dx0 < full_w) jpeg_crop_scanline(&cinfo, &xoff, &xw);
    const size_t stride = (size_t)cinfo.output_width * 3, out_stride = (size_t)wwid * 3;
    const size_t skip = (size_t)(wx - (int)xoff) * 3;
    unsigned char *row = fn_malloc(stride);
    pix = fn_malloc(out_stride * (size_t)whei);
    if (!pix || !row) {
        free(row);
        jerr.oom = 1;
        longjmp(jerr.jump, 1);
    }
    if (dy0 > 0) jpeg_skip_scanlines(&cinfo, (JDIMENSION)dy0);
    for (int y = dy0; y < wy + whei && !jerr.truncated; y++) {
        JSAMPROW r = row;
        jpeg_read_scanlines(&cinfo, &r, 1);
        if (y >= wy) memcpy(pix + out_stride * (size_t)(y - wy), row + skip, out_stride);
    }
    free(row);
    if (jerr.truncated) {
        rt_fail(st, "truncated JPEG (premature end of data)");
        jpeg_destroy_decompress(&cinfo);
        free(pix);
        return -1;
    }
    jpeg_abort_decompress(&cinfo); /* the rows below the window are not needed */
    img->w = wwid;
    img->h = whei;
    img->pix = pix;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

static int probe_jpeg(const unsigned char *data, size_t n, int *w, int *h, RtStatus *st) {
    struct jpeg_decompress_struct cinfo;
    JpegErr jerr;
    cinfo.err = jpeg_std_error(&jerr.mgr);
    jerr.mgr.error_exit = jpeg_fail;
    jerr.mgr.emit_message = jpeg_warn;
    if (setjmp(jerr.jump)) {
        rt_fail(st, "corrupt JPEG: %s", jerr.msg);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)n);
    jpeg_read_header(&cinfo, TRUE);
    *w = (int)cinfo.image_width;
    *h = (int)cinfo.image_height;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

/* ---- PNG ----------------------------------------------------------------------------------- */
/* libpng's low-level reader, so that samples are taken as stored: 16-bit samples are scaled to
 * 8 bits (rounded v / 257), never gamma-converted (the simplified API treats 16-bit PNGs as
 * linear light and re-encodes them as sRGB); gAMA / sRGB chunks are ignored, as TensorFlow and
 * PIL do. Palette and grey become RGB, alpha is dropped (not composited). */
typedef struct {
    const unsigned char *data;
    size_t n, at;
    char msg[200];
} PngSrc;

static void png_read_mem(png_structp png, png_bytep out, png_size_t n) {
    PngSrc *s = png_get_io_ptr(png);
    if (n > s->n - s->at) png_error(png, "truncated data");
    memcpy(out, s->data + s->at, n);
    s->at += n;
}

static void png_read_fail(png_structp png, png_const_charp msg) {
    PngSrc *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "corrupt PNG: %s", msg);
    png_longjmp(png, 1);
}

static void png_read_warn(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

/* the header, then the transforms to 8-bit RGB; 0, or -1 with a reason in s->msg */
static int png_setup(png_structp png, png_infop info, PngSrc *s, png_uint_32 *w, png_uint_32 *h) {
    png_read_info(png, info);
    *w = png_get_image_width(png, info);
    *h = png_get_image_height(png, info);
    if (*w == 0 || *h == 0 || *w > MAX_SIDE || *h > MAX_SIDE) {
        snprintf(s->msg, sizeof s->msg, "PNG of %ux%u has an unsupported size", *w, *h);
        return -1;
    }
    int ct = png_get_color_type(png, info);
    png_set_expand(png); /* palette to RGB, grey below 8 bits to 8, tRNS to alpha */
    png_set_scale_16(png);
    if (!(ct & PNG_COLOR_MASK_COLOR)) png_set_gray_to_rgb(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)*w * 3) {
        snprintf(s->msg, sizeof s->msg, "PNG of colour type %d does not decode to RGB", ct);
        return -1;
    }
    return 0;
}

static int decode_png(const unsigned char *data, size_t n, RtImage *img, RtStatus *st) {
    PngSrc s = {data, n, 0, ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, png_read_fail, png_read_warn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    unsigned char *volatile pix = NULL;
    png_bytep *volatile rows = NULL;
    int bad = !info;
    if (!bad && setjmp(png_jmpbuf(png)) == 0) {
        png_set_read_fn(png, &s, png_read_mem);
        png_uint_32 w, h;
        bad = png_setup(png, info, &s, &w, &h) < 0;
        if (!bad) {
            pix = fn_malloc((size_t)w * h * 3);
            rows = fn_malloc(h * sizeof *rows);
            bad = !pix || !rows;
            if (bad) snprintf(s.msg, sizeof s.msg, "out of memory");
        }
        for (png_uint_32 y = 0; !bad && y < h; y++) rows[y] = pix + (size_t)y * w * 3;
        if (!bad) {
            png_read_image(png, rows); /* what follows the pixels (IEND, text) is not read */
            img->w = (int)w;
            img->h = (int)h;
        }
    } else {
        bad = 1;
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    if (bad) {
        free(pix);
        rt_fail(st, "%s", s.msg[0] ? s.msg : "out of memory");
        return -1;
    }
    img->pix = pix;
    return 0;
}

typedef enum { FMT_NONE, FMT_JPEG, FMT_PNG } Format;

static Format format_of(const unsigned char *data, size_t n, RtStatus *st) {
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) return FMT_JPEG;
    if (n >= 8 && memcmp(data, png_sig, 8) == 0) return FMT_PNG;
    rt_fail(st, "%s", n == 0 ? "empty file" : "not a JPEG or PNG image");
    return FMT_NONE;
}

int rt_image_decode(const unsigned char *data, size_t n, RtImage *img, RtStatus *st) {
    memset(img, 0, sizeof *img);
    switch (format_of(data, n, st)) {
    case FMT_JPEG: return decode_jpeg(data, n, 0, 0, -1, -1, img, st);
    case FMT_PNG: return decode_png(data, n, img, st);
    default: return -1;
    }
}

int rt_image_probe(const unsigned char *data, size_t n, int *w, int *h, RtStatus *st) {
    switch (format_of(data, n, st)) {
    case FMT_JPEG: return probe_jpeg(data, n, w, h, st);
    case FMT_PNG:
        if (n < 24 || memcmp(data + 12, "IHDR", 4) != 0) return rt_fail(st, "corrupt PNG: no IHDR chunk");
        *w = (int)((uint32_t)data[16] << 24 | (uint32_t)data[17] << 16 | (uint32_t)data[18] << 8 | data[19]);
        *h = (int)((uint32_t)data[20] << 24 | (uint32_t)data[21] << 16 | (uint32_t)data[22] << 8 | data[23]);
        if (*w < 1 || *h < 1 || *w > MAX_SIDE || *h > MAX_SIDE)
            return rt_fail(st, "PNG of %dx%d has an unsupported size", *w, *h);
        return 0;
    default: return -1;
    }
}

int rt_image_decode_window(const unsigned char *data, size_t n, int x0, int y0, int w, int h,
                           RtImage *img, RtStatus *st) {
    memset(img, 0, sizeof *img);
    Format f = format_of(data, n, st);
    if (f == FMT_JPEG) return decode_jpeg(data, n, x0, y0, w, h, img, st);
    if (f != FMT_PNG || decode_png(data, n, img, st) < 0) return -1;
    if (x0 < 0 || y0 < 0 || w < 1 || h < 1 || x0 + w > img->w || y0 + h > img->h) {
        rt_fail(st, "window %dx%d at (%d,%d) is outside the %dx%d PNG", w, h, x0, y0, img->w, img->h);
        rt_image_free(img);
        return -1;
    }
    for (int y = 0; y < h; y++) /* in place: each window row moves to an earlier position */
        memmove(img->pix + (size_t)y * w * 3, img->pix + ((size_t)(y0 + y) * img->w + x0) * 3,
                (size_t)w * 3);
    img->w = w;
    img->h = h;
    return 0;
}

/* The whole file in memory. */
static int read_file(const char *path, unsigned char **data, size_t *n, RtStatus *st) {
    FILE *f = fopen(path, "rb");
    *data = NULL;
    *n = 0;
    if (!f) return rt_fail(st, "cannot read image %s: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            unsigned char *nb = fn_realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return rt_fail(st, "cannot read image %s: out of memory", path);
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return rt_fail(st, "cannot read image %s: read error", path);
    }
    *data = buf;
    *n = len;
    return 0;
}

int rt_image_read(const char *path, RtImage *img, RtStatus *st) {
    return rt_image_load(path, RT_AUG_ROTATE, 1, 0, img, st); /* rotation needs the whole image */
}

int rt_image_load(const char *path, int control, int size, uint64_t key, RtImage *img,
                  RtStatus *st) {
    memset(img, 0, sizeof *img);
    unsigned char *buf;
    size_t len;
    if (read_file(path, &buf, &len, st) < 0) return -1;
    RtStatus why; /* the decoder's reason, then named with the file in st */
    int w, h, x0, y0, cw, ch, rc;
    if (control & RT_AUG_ROTATE) rc = rt_image_decode(buf, len, img, &why);
    else if ((rc = rt_image_probe(buf, len, &w, &h, &why)) == 0) {
        if (rt_crop_window(w, h, control, size, key, &x0, &y0, &cw, &ch) < 0)
            rc = rt_image_decode(buf, len, img, &why); /* rt_augment will say why */
        else
            rc = rt_image_decode_window(buf, len, x0, y0, cw, ch, img, &why);
    }
    free(buf);
    return rc < 0 ? rt_fail(st, "cannot decode image %s: %s", path, why.msg) : 0;
}

int rt_image_write_png(const char *path, const RtImage *img, RtStatus *st) {
    return rt_image_write_png_level(path, img, 6, st);
}

typedef struct {
    FILE *f;
    int err; /* the first write's errno */
    char msg[256];
} PngSink;

static void png_error_jump(png_structp png, png_const_charp msg) {
    PngSink *k = png_get_error_ptr(png);
    snprintf(k->msg, sizeof k->msg, "%s", k->err ? strerror(k->err) : msg);
    png_longjmp(png, 1);
}

static void png_warning_ignore(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void png_write_file(png_structp png, png_bytep data, png_size_t n) {
    PngSink *k = png_get_io_ptr(png);
    if (fwrite(data, 1, n, k->f) != n) {
        k->err = errno ? errno : EIO;
        png_error(png, "write failed");
    }
}

static void png_flush_file(png_structp png) {
    PngSink *k = png_get_io_ptr(png);
    if (fflush(k->f) != 0) {
        k->err = errno;
        png_error(png, "write failed");
    }
}

/* A failed write leaves no file: the message names it with the reason (errno where the system
 * gave one). */
int rt_image_write_png_level(const char *path, const RtImage *img, int level, RtStatus *st) {
    PngSink k = {fopen(path, "wb"), 0, ""};
    if (!k.f) return rt_fail(st, "cannot write %s: %s", path, strerror(errno));
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &k, png_error_jump, png_warning_ignore);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(k.f);
        unlink(path);
        return rt_fail(st, "cannot write %s: %s", path, k.msg[0] ? k.msg : "out of memory");
    }
    png_set_write_fn(png, &k, png_write_file, png_flush_file);
    png_set_compression_level(png, level);
    png_set_IHDR(png, info, (png_uint_32)img->w, (png_uint_32)img->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < img->h; y++) png_write_row(png, img->pix + (size_t)y * img->w * 3);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    int err = fflush(k.f) != 0 ? errno : 0;
    if (fclose(k.f) != 0 && !err) err = errno;
    if (!err) return 0;
    unlink(path);
    return rt_fail(st, "cannot write %s: %s", path, strerror(err));
}
