/* See framed.h. */
#include "runtime/core/framed.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "ir/alloc.h"

#include "runtime/core/files.h"

enum { HEADER = 24 };

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t crc(const unsigned char *p, size_t n) {
    uLong c = crc32(0, Z_NULL, 0);
    while (n > 0) { /* zlib takes uInt lengths */
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

int rt_framed_write(const char *path, const char magic[8], uint32_t version, const void *payload,
                    size_t len, int kill_midwrite, RtStatus *st) {
    unsigned char hdr[HEADER];
    memcpy(hdr, magic, 8);
    put32(hdr + 8, version);
    put32(hdr + 12, crc(payload, len));
    put32(hdr + 16, (uint32_t)len);
    put32(hdr + 20, (uint32_t)((uint64_t)len >> 32));
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return rt_fail(st, "cannot write %s: %s", tmp, strerror(errno));
    int ok = fwrite(hdr, 1, HEADER, f) == HEADER;
    if (ok && kill_midwrite) {
        ok = fwrite(payload, 1, len / 2, f) == len / 2;
        fflush(f);
        kill(getpid(), SIGKILL);
    }
    ok = ok && fwrite(payload, 1, len, f) == len;
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0) ok = 0;
    if (!ok) {
        int e = errno;
        unlink(tmp);
        return rt_fail(st, "cannot write %s: %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return rt_fail(st, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    return 0;
}

/* The header's checks, shared by the file and the memory reader: got is how many header bytes
 * there are (less than HEADER: truncated); gives the payload length and CRC. */
static int check_header(const unsigned char *hdr, size_t got, const char magic[8], uint32_t version,
                        const char *what, const char *path, const char *hint, uint64_t *n, uint32_t *c,
                        RtStatus *st) {
    if (got < 8 || memcmp(hdr, magic, 8) != 0) return rt_fail(st, "%s is not an fn %s (bad magic)", path, what);
    if (got < HEADER)
        return rt_fail(st, "%s %s is truncated (header is %zu of %d bytes)", what, path, got, HEADER);
    uint32_t v = get32(hdr + 8);
    *c = get32(hdr + 12);
    *n = (uint64_t)get32(hdr + 16) | (uint64_t)get32(hdr + 20) << 32;
    if (v != version)
        return rt_fail(st, "%s %s has format version %u but this fn reads version %u: %s", what, path, v,
                       version, hint);
    if (*n > ((uint64_t)1 << 36))
        return rt_fail(st, "%s %s is corrupt (payload length %llu)", what, path, (unsigned long long)*n);
    return 0;
}

int rt_framed_read(const char *path, const char magic[8], uint32_t version, const char *what,
                   const char *hint, unsigned char **payload, size_t *len, RtStatus *st) {
    *payload = NULL;
    *len = 0;
    if (rt_is_dir(path)) return rt_fail(st, "%s %s is a directory", what, path);
    FILE *f = fopen(path, "rb");
    if (!f) return rt_fail(st, "cannot open %s %s: %s", what, path, strerror(errno));
    unsigned char hdr[HEADER];
    size_t got = fread(hdr, 1, HEADER, f);
    uint64_t n;
    uint32_t c;
    if (check_header(hdr, got, magic, version, what, path, hint, &n, &c, st) < 0) {
        fclose(f);
        return -1;
    }
    unsigned char *buf = fn_malloc(n ? (size_t)n : 1);
    if (!buf) {
        fclose(f);
        return rt_fail(st, "out of memory reading %s %s", what, path);
    }
    got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    if (got != n) {
        free(buf);
        return rt_fail(st, "%s %s is truncated (%zu of %llu payload bytes)", what, path, got,
                       (unsigned long long)n);
    }
    if (crc(buf, (size_t)n) != c) {
        free(buf);
        return rt_fail(st, "%s %s is corrupt (checksum mismatch)", what, path);
    }
    *payload = buf;
    *len = (size_t)n;
    return 0;
}

int rt_framed_parse(const unsigned char *data, size_t size, const char magic[8], uint32_t version,
                    const char *what, const char *name, const char *hint, const unsigned char **payload,
                    size_t *len, RtStatus *st) {
    *payload = NULL;
    *len = 0;
    uint64_t n;
    uint32_t c;
    if (check_header(data, size < HEADER ? size : HEADER, magic, version, what, name, hint, &n, &c, st) < 0)
        return -1;
    if (size - HEADER < n)
        return rt_fail(st, "%s %s is truncated (%zu of %llu payload bytes)", what, name, size - HEADER,
                       (unsigned long long)n);
    if (crc(data + HEADER, (size_t)n) != c) return rt_fail(st, "%s %s is corrupt (checksum mismatch)", what, name);
    *payload = data + HEADER;
    *len = (size_t)n;
    return 0;
}
