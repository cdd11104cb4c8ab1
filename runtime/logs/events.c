/* See events.h. */
#include "runtime/logs/events.h"

#include <errno.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "ir/alloc.h"
#include "runtime/logs/proto/tf_event.pb-c.h"

/* ---- CRC-32C -------------------------------------------------------------------------------- */
/* the table for CPUs without SSE 4.2, made by the compiler: CRC_BYTE(i) is the register after
 * eight steps of the reflected polynomial 0x82f63b78 from i */
#define CRC_BIT(c) (((c) >> 1) ^ (0x82f63b78u & (0u - ((c) & 1u))))
#define CRC_BYTE(i) CRC_BIT(CRC_BIT(CRC_BIT(CRC_BIT(CRC_BIT(CRC_BIT(CRC_BIT(CRC_BIT((uint32_t)(i)))))))))
#define CRC_4(i) CRC_BYTE(i), CRC_BYTE((i) + 1), CRC_BYTE((i) + 2), CRC_BYTE((i) + 3)
#define CRC_16(i) CRC_4(i), CRC_4((i) + 4), CRC_4((i) + 8), CRC_4((i) + 12)
#define CRC_64(i) CRC_16(i), CRC_16((i) + 16), CRC_16((i) + 32), CRC_16((i) + 48)
static const uint32_t crc_table[256] = {CRC_64(0), CRC_64(64), CRC_64(128), CRC_64(192)};

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const unsigned char *p, size_t n) {
    uint64_t c64 = c;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c64 = __builtin_ia32_crc32di(c64, v);
    }
    c = (uint32_t)c64;
    for (; n > 0; n--, p++) c = __builtin_ia32_crc32qi(c, *p);
    return c;
}
#endif

uint32_t rt_crc32c(const void *data, size_t n) {
    const unsigned char *p = data;
    uint32_t c = 0xffffffffu;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) return ~crc_hw(c, p, n);
#endif
    for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return ~c;
}

uint32_t rt_crc32c_masked(const void *data, size_t n) {
    uint32_t c = rt_crc32c(data, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

/* ---- the writer ------------------------------------------------------------------------------ */
struct RtEvents {
    FILE *f;
    char path[4096];
    double fixed_time; /* < 0: the clock */
    double edges[1600]; /* histogram bucket edges */
    int n_edges;
    int err; /* the errno of the first failed write: the records after it are dropped */
};

/* A write failed (disk full, quota, I/O error): said once, loudly, on stderr (the callers log
 * summaries without checking each one); later records are dropped rather than written with a
 * gap. */
static void lost(RtEvents *e, int err) {
    if (e->err) return;
    e->err = err ? err : EIO;
    fprintf(stderr, "warning: cannot write TensorBoard events %s: %s; the summaries from here on are lost\n",
            e->path, strerror(e->err));
}

static double wall(const RtEvents *e) {
    if (e->fixed_time >= 0) return e->fixed_time;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}

static void put_le(unsigned char *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* one framed record into the stream; 0 or the errno */
static int put_record(FILE *f, const Tensorboard__Event *ev) {
    size_t len = tensorboard__event__get_packed_size(ev);
    unsigned char *buf = fn_malloc(len + 16);
    if (!buf) return ENOMEM;
    put_le(buf, len, 8);
    put_le(buf + 8, rt_crc32c_masked(buf, 8), 4);
    tensorboard__event__pack(ev, buf + 12);
    put_le(buf + 12 + len, rt_crc32c_masked(buf + 12, len), 4);
    int err = fwrite(buf, 1, len + 16, f) == len + 16 ? 0 : errno ? errno : EIO;
    free(buf);
    return err;
}

static int write_record(RtEvents *e, const Tensorboard__Event *ev) {
    if (e->err) return -1;
    int err = put_record(e->f, ev);
    if (err) lost(e, err);
    return err ? -1 : 0;
}

static int write_value(RtEvents *e, int64_t step, Tensorboard__Summary__Value *v) {
    Tensorboard__Summary s;
    tensorboard__summary__init(&s);
    s.n_value = 1;
    s.value = &v;
    Tensorboard__Event ev;
    tensorboard__event__init(&ev);
    ev.has_wall_time = ev.has_step = 1;
    ev.wall_time = wall(e);
    ev.step = step;
    ev.summary = &s;
    return write_record(e, &ev);
}

/* TensorFlow's default edges: +-1e-12 * 1.1^k up to 1e20, with 0 between. */
static int default_edges(double *edges, int cap) {
    double pos[800];
    int np = 0;
    for (double v = 1e-12; v < 1e20 && np < 800; v *= 1.1) pos[np++] = v;
    int n = 0;
    for (int i = np - 1; i >= 0 && n < cap; i--) edges[n++] = -pos[i];
    if (n < cap) edges[n++] = 0;
    for (int i = 0; i < np && n < cap; i++) edges[n++] = pos[i];
    if (n < cap) edges[n++] = 1.7976931348623157e308;
    return n;
}

RtEvents *rt_events_open(const char *dir, double wall_time, RtStatus *st) {
    RtEvents *e = fn_calloc(1, sizeof *e);
    if (!e) {
        rt_fail(st, "out of memory opening TensorBoard events in %s", dir);
        return NULL;
    }
    e->fixed_time = wall_time;
    e->n_edges = default_edges(e->edges, 1600);
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(e->path, sizeof e->path, "%s/events.out.tfevents.%010lld.%s", dir,
             (long long)(wall_time >= 0 ? wall_time : wall(e)), host);
    e->f = fopen(e->path, "ab");
    if (!e->f) {
        rt_fail(st, "cannot write TensorBoard events %s: %s", e->path, strerror(errno));
        free(e);
        return NULL;
    }
    int fresh = ftell(e->f) == 0;
    Tensorboard__Event ev;
    tensorboard__event__init(&ev);
    ev.has_wall_time = 1;
    ev.wall_time = wall(e);
    ev.file_version = "brain.Event:2";
    int err = put_record(e->f, &ev);
    if (!err && fflush(e->f) != 0) err = errno;
    if (err) { /* written through now: a full disk is an error here, not an empty file */
        rt_fail(st, "cannot write TensorBoard events %s: %s", e->path, strerror(err));
        fclose(e->f);
        if (fresh) unlink(e->path);
        free(e);
        return NULL;
    }
    return e;
}

int rt_events_scalar(RtEvents *e, const char *tag, int64_t step, double value) {
    Tensorboard__Summary__Value v;
    tensorboard__summary__value__init(&v);
    v.tag = (char *)tag;
    v.has_simple_value = 1;
    v.simple_value = (float)value;
    return write_value(e, step, &v);
}

int rt_events_histogram(RtEvents *e, const char *tag, int64_t step, const float *x, int64_t n) {
    const double *edges = e->edges;
    const int n_edges = e->n_edges;
    double *counts = fn_calloc((size_t)n_edges, sizeof *counts);
    if (!counts) { /* as a record that cannot be written (put_record's ENOMEM) */
        if (!e->err) lost(e, ENOMEM);
        return -1;
    }
    double mn = n ? x[0] : 0, mx = n ? x[0] : 0, sum = 0, sum2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
        sum += v;
        sum2 += v * v;
        int lo = 0, hi = n_edges - 1; /* the first edge > v */
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (edges[mid] > v) hi = mid;
            else lo = mid + 1;
        }
        counts[lo] += 1;
    }
    /* keep the non-empty range, as TensorFlow does */
    int first = 0, last = n_edges - 1;
    while (first < last && counts[first] == 0) first++;
    while (last > first && counts[last] == 0) last--;
    Tensorboard__HistogramProto h;
    tensorboard__histogram_proto__init(&h);
    h.has_min = h.has_max = h.has_num = h.has_sum = h.has_sum_squares = 1;
    h.min = mn;
    h.max = mx;
    h.num = (double)n;
    h.sum = sum;
    h.sum_squares = sum2;
    h.n_bucket_limit = h.n_bucket = (size_t)(last - first + 1);
    h.bucket_limit = (double *)edges + first;
    h.bucket = counts + first;
    Tensorboard__Summary__Value v;
    tensorboard__summary__value__init(&v);
    v.tag = (char *)tag;
    v.histo = &h;
    int rc = write_value(e, step, &v);
    free(counts);
    return rc;
}

typedef struct {
    unsigned char *buf;
    size_t len, cap;
} Mem;

static void png_to_mem(png_structp png, png_bytep data, png_size_t n) {
    Mem *m = png_get_io_ptr(png);
    if (m->len + n > m->cap) {
        unsigned char *nb = fn_realloc(m->buf, (m->len + n) * 2);
        if (!nb) png_error(png, "out of memory"); /* rt_events_image's setjmp: frees m->buf */
        m->buf = nb;
        m->cap = (m->len + n) * 2;
    }
    memcpy(m->buf + m->len, data, n);
    m->len += n;
}
static void png_flush_nop(png_structp png) { (void)png; }

int rt_events_image(RtEvents *e, const char *tag, int64_t step, const unsigned char *rgb, int w, int h) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    Mem m = {0};
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(m.buf);
        return -1;
    }
    png_set_write_fn(png, &m, png_to_mem, png_flush_nop);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * w * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    Tensorboard__Summary__Image im;
    tensorboard__summary__image__init(&im);
    im.has_height = im.has_width = im.has_colorspace = im.has_encoded_image_string = 1;
    im.height = h;
    im.width = w;
    im.colorspace = 3;
    im.encoded_image_string.data = m.buf;
    im.encoded_image_string.len = m.len;
    Tensorboard__Summary__Value v;
    tensorboard__summary__value__init(&v);
    v.tag = (char *)tag;
    v.image = &im;
    int rc = write_value(e, step, &v);
    free(m.buf);
    return rc;
}

const char *rt_events_path(const RtEvents *e) { return e->path; }
int rt_events_flush(RtEvents *e) {
    if (!e) return 0;
    if (!e->err && fflush(e->f) != 0) lost(e, errno);
    return e->err ? -1 : 0;
}
void rt_events_set_time(RtEvents *e, double wall_time) { e->fixed_time = wall_time; }

void rt_events_close(RtEvents *e) {
    if (!e) return;
    if (e->f && fclose(e->f) != 0) lost(e, errno);
    free(e);
}
