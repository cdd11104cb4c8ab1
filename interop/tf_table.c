/* The LevelDB table format of a TensorFlow checkpoint's .index (see tf_table.h).
 *
 * What this is: the footer (metaindex and index block handles, each two varint64s, zero padding
 * to 40 bytes, then the magic 0xdb4775248b80fb57 little-endian), blocks (contents, then a
 * 5-byte trailer: compression type and the masked CRC-32C of contents + type), and entries
 * (varint32 shared, non-shared and value lengths, the key's non-shared tail, the value), then the
 * restart array (uint32 offsets, then their count). Data blocks must follow one another in the
 * file, so no input makes it read a byte twice. What this is not: a writer, or a reader of
 * compressed blocks.
 */
#include "interop/tf_table.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "interop/crc32c.h"
#include "ir/alloc.h"

#define FOOTER_SIZE  48
#define TRAILER_SIZE 5
static const uint64_t TABLE_MAGIC = 0xdb4775248b80fb57ull;

typedef struct {
    const unsigned char *d;
    size_t n;
    const char *name;
    RtStatus *st;
    IxTableVisit visit;
    void *ctx;
    char *prev; /* the last key visited, for the order check */
    size_t nprev;
    int have_prev;
    uint64_t next_data; /* where the next data block may start */
} Table;

typedef int (*EntryFn)(Table *t, const char *key, size_t nkey, const unsigned char *val,
                       size_t nval);

static uint64_t le_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t le_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A varint of at most max_bits bits from *p (before end); advances *p. -1 if malformed. */
static int get_varint(const unsigned char **p, const unsigned char *end, int max_bits,
                      uint64_t *v) {
    uint64_t r = 0;
    for (int shift = 0; shift < max_bits && *p < end; shift += 7) {
        uint64_t b = *(*p)++;
        if (shift + 7 > max_bits && (b & 0x7f) >> (max_bits - shift)) return -1;
        r |= (b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

static int get_handle(const unsigned char **p, const unsigned char *end, uint64_t *off,
                      uint64_t *size) {
    return get_varint(p, end, 64, off) || get_varint(p, end, 64, size) ? -1 : 0;
}

/* The contents of the block at off (size bytes, before its trailer), checked. */
static int block_get(Table *t, uint64_t off, uint64_t size, const unsigned char **contents) {
    uint64_t limit = t->n - FOOTER_SIZE;
    if (size > limit || limit - size < TRAILER_SIZE || off > limit - size - TRAILER_SIZE)
        return rt_fail(t->st,
                       "%s: block at offset %llu (%llu bytes) runs past the end of the file (%zu "
                       "bytes; truncated?)",
                       t->name, (unsigned long long)off, (unsigned long long)size, t->n);
    const unsigned char *b = t->d + off;
    uint32_t stored = le_u32(b + size + 1);
    if (ix_crc32c_unmask(stored) != ix_crc32c(b, (size_t)size + 1))
        return rt_fail(t->st, "%s: block at offset %llu: checksum mismatch", t->name,
                       (unsigned long long)off);
    if (b[size] != 0)
        return rt_fail(t->st,
                       "%s: block at offset %llu: compression type %d (%s) is not supported (only "
                       "uncompressed blocks are read)",
                       t->name, (unsigned long long)off, b[size],
                       b[size] == 1 ? "snappy" : "unknown");
    if (size < 4)
        return rt_fail(t->st, "%s: block at offset %llu: %llu bytes is too short for a block",
                       t->name, (unsigned long long)off, (unsigned long long)size);
    *contents = b;
    return 0;
}

/* The entries of the block at off (contents c[0..size)), each handed to fn in order. */
static int block_scan(Table *t, uint64_t off, const unsigned char *c, size_t size, EntryFn fn) {
    uint32_t nr = le_u32(c + size - 4);
    if (nr > (size - 4) / 4)
        return rt_fail(t->st, "%s: block at offset %llu: %u restart points do not fit in %zu bytes",
                       t->name, (unsigned long long)off, nr, size);
    size_t limit = size - 4 - 4 * (size_t)nr, pos = 0, klen = 0, r = 0, entries = 0;
    char *key = fn_malloc(limit + 1);
    if (!key) return rt_fail(t->st, "%s: out of memory", t->name);
    int rc = 0;
    while (rc == 0 && pos < limit) {
        uint64_t rs = r < nr ? le_u32(c + limit + 4 * r) : UINT64_MAX;
        const unsigned char *p = c + pos, *end = c + limit;
        uint64_t shared = 0, nonshared = 0, vlen = 0;
        if (rs < pos)
            rc = rt_fail(
                t->st, "%s: block at offset %llu: restart point %zu (byte %llu) is not at an entry",
                t->name, (unsigned long long)off, r, (unsigned long long)rs);
        else if (get_varint(&p, end, 32, &shared) || get_varint(&p, end, 32, &nonshared) ||
                 get_varint(&p, end, 32, &vlen) || nonshared > (size_t)(end - p) ||
                 vlen > (size_t)(end - p) - nonshared)
            rc = rt_fail(t->st, "%s: block at offset %llu: entry at byte %zu runs past the block",
                         t->name, (unsigned long long)off, pos);
        else if (shared > klen || (rs == pos && shared != 0))
            rc = rt_fail(
                t->st,
                "%s: block at offset %llu: entry at byte %zu shares %llu bytes of a %zu-byte key",
                t->name, (unsigned long long)off, pos, (unsigned long long)shared,
                rs == pos ? 0 : klen);
        if (rc) break;
        memcpy(key + shared, p, (size_t)nonshared);
        klen = (size_t)(shared + nonshared);
        key[klen] = 0;
        r += rs == pos;
        entries++;
        pos = (size_t)(p - c) + (size_t)(nonshared + vlen);
        rc = fn(t, key, klen, p + nonshared, (size_t)vlen);
    }
    for (; rc == 0 && r < nr; r++)
        if (entries > 0 || le_u32(c + limit + 4 * r) != 0)
            rc = rt_fail(t->st, "%s: block at offset %llu: restart point %zu is not at an entry",
                         t->name, (unsigned long long)off, r);
    free(key);
    return rc;
}

/* A data block's entry: checked for order, then given to the caller's visitor. */
static int data_entry(Table *t, const char *key, size_t nkey, const unsigned char *val,
                      size_t nval) {
    if (t->have_prev) {
        size_t m = nkey < t->nprev ? nkey : t->nprev;
        int c = memcmp(t->prev, key, m);
        if (c > 0 || (c == 0 && t->nprev >= nkey))
            return rt_fail(t->st, "%s: key \"%s\" is out of order (not after \"%s\")", t->name, key,
                           t->prev);
    }
    char *p = fn_realloc(t->prev, nkey + 1);
    if (!p) return rt_fail(t->st, "%s: out of memory", t->name);
    memcpy(p, key, nkey + 1);
    t->prev = p;
    t->nprev = nkey;
    t->have_prev = 1;
    return t->visit(t->ctx, key, nkey, val, nval, t->st);
}

/* An index block's entry: its value is the handle of the next data block. */
static int index_entry(Table *t, const char *key, size_t nkey, const unsigned char *val,
                       size_t nval) {
    const unsigned char *p = val;
    uint64_t off, size;
    const unsigned char *c;
    if (get_handle(&p, val + nval, &off, &size))
        return rt_fail(t->st, "%s: index entry \"%s\": bad block handle", t->name, key);
    if (off < t->next_data)
        return rt_fail(t->st, "%s: block at offset %llu overlaps the block before it", t->name,
                       (unsigned long long)off);
    if (block_get(t, off, size, &c)) return -1;
    t->next_data = off + size + TRAILER_SIZE;
    return block_scan(t, off, c, (size_t)size, data_entry);
}

static int ignore_entry(Table *t, const char *key, size_t nkey, const unsigned char *val,
                        size_t nval) {
    return 0;
}

int ix_tf_table_scan(const unsigned char *d, size_t n, const char *name, IxTableVisit visit,
                     void *ctx, RtStatus *st) {
    if (n < FOOTER_SIZE)
        return rt_fail(st,
                       "%s: %zu bytes is too short for a TensorFlow checkpoint index (truncated?)",
                       name, n);
    const unsigned char *f = d + n - FOOTER_SIZE;
    if (le_u64(f + 40) != TABLE_MAGIC)
        return rt_fail(
            st, "%s: bad magic number at the end (not a TensorFlow checkpoint index, or truncated)",
            name);
    Table t = {.d = d, .n = n, .name = name, .st = st, .visit = visit, .ctx = ctx};
    uint64_t moff, msize, ioff, isize;
    const unsigned char *p = f, *meta, *index;
    if (get_handle(&p, f + 40, &moff, &msize) || get_handle(&p, f + 40, &ioff, &isize))
        return rt_fail(st, "%s: bad block handle in the footer", name);
    if (block_get(&t, moff, msize, &meta) ||
        block_scan(&t, moff, meta, (size_t)msize, ignore_entry) ||
        block_get(&t, ioff, isize, &index))
        return -1;
    int rc = block_scan(&t, ioff, index, (size_t)isize, index_entry);
    free(t.prev);
    return rc;
}
