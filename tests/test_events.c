/* TensorBoard event files: CRC-32C against the RFC 3720 vectors and a bitwise computation, and
 * the records of a fixed small case byte for byte against a construction written here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/events.h"
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

int main(void) {
    test_crc();
    test_records();
    return test_summary("test_events");
}
