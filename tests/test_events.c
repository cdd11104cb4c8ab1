/* TensorBoard event files: CRC-32C against the RFC 3720 vectors and a bitwise computation, and
 * the records of a fixed small case byte for byte against a construction written here. The logs
 * on a full filesystem (a 64 KiB tmpfs, skipped where mount is not permitted): the event file,
 * stat.h5, the figures and a PNG fail with the file and the reason, leaving no file behind.
 * `fnrun plot`'s figures: a missing output folder is created, the smoothing window stated is the
 * one used, the dashed mean's legend sample is dashed. */
#include <cairo.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/logs/events.h"
#include "runtime/data/image.h"
#include "runtime/logs/plot.h"
#include "runtime/logs/stats.h"
#include "tests/testlib.h"

static uint32_t crc_bitwise(const unsigned char *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    }
    return ~c;
}

static uint32_t masked(const unsigned char *p, size_t n) {
    uint32_t c = crc_bitwise(p, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

static size_t record(unsigned char *out, const unsigned char *payload, size_t len) {
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)len >> (8 * i));
    uint32_t c = masked(out, 8);
    for (int i = 0; i < 4; i++) out[8 + i] = (unsigned char)(c >> (8 * i));
    memcpy(out + 12, payload, len);
    c = masked(payload, len);
    for (int i = 0; i < 4; i++) out[12 + len + i] = (unsigned char)(c >> (8 * i));
    return len + 16;
}

static void test_crc(void) {
    unsigned char zeros[32] = {0}, ones[32], inc[32];
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 32; i++) inc[i] = (unsigned char)i;
    CHECK(rt_crc32c("123456789", 9) == 0xe3069283u, "crc32c(\"123456789\") = %08x", rt_crc32c("123456789", 9));
    CHECK(rt_crc32c(zeros, 32) == 0x8a9136aau, "RFC 3720: 32 zero bytes");
    CHECK(rt_crc32c(ones, 32) == 0x62a8ab43u, "RFC 3720: 32 0xff bytes");
    CHECK(rt_crc32c(inc, 32) == 0x46dd794eu, "RFC 3720: 0..31");
    CHECK(rt_crc32c("", 0) == 0, "empty input");
    uint64_t rng = 9;
    unsigned char buf[1000];
    int bad = 0;
    for (int len = 0; len < 1000; len += 37) {
        for (int i = 0; i < len; i++) buf[i] = (unsigned char)test_rng_next(&rng);
        bad += rt_crc32c(buf, (size_t)len) != crc_bitwise(buf, (size_t)len);
    }
    CHECK(bad == 0, "hardware/table CRC equals the bitwise one on random lengths: %d differ", bad);
}

static void test_records(void) {
    char dir[] = "/tmp/fn_test_events_XXXXXX";
    if (!mkdtemp(dir)) return;
    RtStatus st;
    RtEvents *e = rt_events_open(dir, 1234567890.5, &st);
    if (!CHECK(e != NULL, "open: %s", st.msg)) return;
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    char want_name[512];
    snprintf(want_name, sizeof want_name, "%s/events.out.tfevents.1234567890.%s", dir, host);
    CHECK(strcmp(rt_events_path(e), want_name) == 0, "file name %s", rt_events_path(e));
    rt_events_scalar(e, "loss", 3, 0.5);
    rt_events_close(e);
    /* the expected bytes: Event{wall_time, file_version} then Event{wall_time, step 3,
     * summary{value{tag "loss", simple_value 0.5}}} */
    unsigned char ev1[64], ev2[64], want[256];
    double t = 1234567890.5;
    size_t n1 = 0, n2 = 0, nw = 0;
    ev1[n1++] = 0x09;
    memcpy(ev1 + n1, &t, 8), n1 += 8;
    ev1[n1++] = 0x1a, ev1[n1++] = 13;
    memcpy(ev1 + n1, "brain.Event:2", 13), n1 += 13;
    ev2[n2++] = 0x09;
    memcpy(ev2 + n2, &t, 8), n2 += 8;
    ev2[n2++] = 0x10, ev2[n2++] = 3;
    const unsigned char summary[] = {0x2a, 13, 0x0a, 11, 0x0a, 4, 'l', 'o', 's', 's', 0x15, 0, 0, 0, 0x3f};
    memcpy(ev2 + n2, summary, sizeof summary), n2 += sizeof summary;
    nw += record(want + nw, ev1, n1);
    nw += record(want + nw, ev2, n2);
    FILE *f = fopen(want_name, "rb");
    unsigned char got[256];
    size_t ng = f ? fread(got, 1, sizeof got, f) : 0;
    if (f) fclose(f);
    CHECK(ng == nw && memcmp(got, want, nw) == 0, "records are byte-exact (%zu bytes written, %zu expected)", ng, nw);
    unlink(want_name);
    rmdir(dir);
}

/* names in dir other than keep, counted; the first in first */
static int others(const char *dir, const char *keep, char *first, size_t cap) {
    DIR *d = opendir(dir);
    int n = 0;
    first[0] = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, keep)) continue;
        if (!n++) snprintf(first, cap, "%s", e->d_name);
    }
    if (d) closedir(d);
    return n;
}

/* writes dir/name until the filesystem is full; 1 when it is */
static int fill(const char *dir, const char *name) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "ab");
    if (!f) return 0;
    static char block[4096];
    while (fwrite(block, 1, sizeof block, f) == sizeof block) {}
    int full = errno == ENOSPC;
    fclose(f);
    return full;
}

static void test_full_fs(void) {
    char dir[] = "/tmp/fn_test_full_XXXXXX", p[256], left[256];
    if (!mkdtemp(dir)) return;
    if (mount("tmpfs", dir, "tmpfs", 0, "size=64k") != 0) {
        printf("  cannot mount a tmpfs (%s): full-filesystem checks skipped\n", strerror(errno));
        rmdir(dir);
        return;
    }
    const char *nospc = strerror(ENOSPC);
    RtStatus st;
    /* a stream that fills up after opening: one warning, then flush says so */
    RtEvents *e = rt_events_open(dir, 1234567890.5, &st);
    if (CHECK(e != NULL, "open on an empty tmpfs: %s", st.msg)) {
        CHECK(fill(dir, "filler"), "the tmpfs fills up");
        float x[1000];
        for (int i = 0; i < 1000; i++) x[i] = (float)(i - 500) * 0.37f; /* many buckets: ~2 KB a record */
        int failed = 0;
        for (int i = 0; i < 40 && !failed; i++) failed = rt_events_histogram(e, "h", i, x, 1000) < 0;
        CHECK(failed, "writes onto a full filesystem fail (the page the file had is 4 KiB)");
        CHECK(rt_events_flush(e) < 0, "a flush onto a full filesystem fails");
        rt_events_close(e);
    }
    e = rt_events_open(dir, 1234567891.5, &st);
    CHECK(!e && strstr(st.msg, "tfevents") && strstr(st.msg, nospc), "the events file on a full filesystem: %s",
          e ? "(opened)" : st.msg);
    rt_events_close(e);
    RtStats *s = rt_stats_new(10, 1000, 1, 10);
    snprintf(p, sizeof p, "%s/stat.h5", dir);
    CHECK(rt_stats_write(s, p, &st) < 0 && strstr(st.msg, "stat.h5") && strstr(st.msg, nospc),
          "stat.h5 on a full filesystem: %s", st.msg);
    rt_stats_free(s);
    double xs[3] = {1, 2, 3}, ys[3] = {1, 3, 2};
    RtSeries ser = {xs, ys, 3, "y", 0, 0, 1, 0, 1};
    snprintf(p, sizeof p, "%s/fig", dir);
    CHECK(rt_plot(p, "t", "x", "y", &ser, 1, &st) < 0 && strstr(st.msg, "fig.png") && strstr(st.msg, nospc),
          "a figure on a full filesystem: %s", st.msg);
    RtImage img = {64, 64, calloc(64 * 64 * 3, 1)};
    snprintf(p, sizeof p, "%s/face.png", dir);
    CHECK(rt_image_write_png(p, &img, &st) < 0 && strstr(st.msg, "face.png") && strstr(st.msg, nospc),
          "a PNG on a full filesystem: %s", st.msg);
    free(img.pix);
    int n = others(dir, "filler", left, sizeof left);
    /* the first events file (written before the disk filled) stays */
    CHECK(n == 1 && strstr(left, "1234567890"), "no file is left by the failed writes: %d, first %s", n, left);
    umount2(dir, MNT_DETACH);
    rmdir(dir);
}

/* fontconfig (under cairo's text) keeps its configuration for the life of the process */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfontconfig\n"; }

static int count(const char *text, const char *what) {
    int n = 0;
    for (const char *t = text; text && (t = strstr(t, what)); t++) n++;
    return n;
}

static void test_plot(void) {
    char dir[] = "/tmp/fn_test_plot_XXXXXX", p[256], out[256];
    if (!mkdtemp(dir)) return;
    RtStatus st;
    RtStats *s = rt_stats_new(2, 15, 1, 10);
    for (int i = 0; i < 15; i++) rt_stats_step(s, i, 1, 3.0 - 0.1 * i, 0, 0, 2.0 - 0.1 * i, 1, 0.1 * i, NULL, 0);
    snprintf(p, sizeof p, "%s/stat.h5", dir);
    CHECK(rt_stats_write(s, p, &st) == 0, "stat.h5: %s", st.msg);
    rt_stats_free(s);
    snprintf(p, sizeof p, "%s/lfw_result.txt", dir);
    FILE *f = fopen(p, "w");
    fprintf(f, "5\t0.61\t0.1\n10\t0.65\t0.2\n15\t0.70\t0.3\n");
    fclose(f);
    snprintf(out, sizeof out, "%s/figs/new", dir);
    char *log = NULL;
    size_t loglen = 0;
    FILE *lf = open_memstream(&log, &loglen);
    int rc = rt_plot_run(dir, out, lf, &st);
    fclose(lf);
    CHECK(rc == 0, "plot into a missing folder (created): %s", rc ? st.msg : "");
    CHECK(strstr(log, "mean of 15 steps") && !strstr(log, "500"), "the window stated is the one used:\n%s", log);
    snprintf(p, sizeof p, "%s/lfw_accuracy.svg", out);
    char *svg = test_read_file(p);
    CHECK(count(svg, "stroke-dasharray") == 2, "the dashed mean and its legend sample are dashed: %d dashed paths",
          count(svg, "stroke-dasharray"));
    free(svg);
    free(log);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "clean up");
}

int main(void) {
    test_crc();
    test_records();
    test_full_fs();
    test_plot();
    cairo_debug_reset_static_data(); /* cairo's font caches, for the leak check */
    return test_summary("test_events");
}
