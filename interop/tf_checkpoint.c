/* TensorFlow V2 checkpoints (tf.train.Saver / tf.train.Checkpoint) read into IxTensors.
 *
 * What this is: the .index table (tf_table.c) decoded entry by entry: the empty key's
 * BundleHeaderProto (one shard, little-endian), then each tensor's BundleEntryProto; float32
 * tensors read from <prefix>.data-00000-of-00001 at the entry's offset and size, after checking
 * the range, the size against the shape and the tensor's CRC-32C (stored masked). Tensors of
 * other dtypes are checked the same way (strings and variants: the range only) but listed
 * without their values. Also the dtype names
 * and the file mapping tf_graph.c shares (tf_table.h).
 * What this is not: a reader of sharded, big-endian or partitioned (sliced) checkpoints (each
 * is an error naming why), of V1 checkpoints, or of the .meta graph; it never writes.
 */
#include "interop/interop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "interop/crc32c.h"
#include "interop/proto/tf.pb-c.h"
#include "interop/tf_table.h"
#include "ir/alloc.h"
#include "runtime/core/pb_alloc.h"

#define DATA_SUFFIX ".data-00000-of-00001"

static const struct {
    const char *name;
    int size;
} DTYPES[] = {
    {"invalid", 0},  {"float32", 4}, {"float64", 8}, {"int32", 4},       {"uint8", 1},
    {"int16", 2},    {"int8", 1},    {"string", 0},  {"complex64", 8},   {"int64", 8},
    {"bool", 1},     {"qint8", 1},   {"quint8", 1},  {"qint32", 4},      {"bfloat16", 2},
    {"qint16", 2},   {"quint16", 2}, {"uint16", 2},  {"complex128", 16}, {"float16", 2},
    {"resource", 0}, {"variant", 0}, {"uint32", 4},  {"uint64", 8},
};
#define N_DTYPES ((int)(sizeof DTYPES / sizeof DTYPES[0]))

static int dtype_base(int dtype) {
    return dtype > 100 && dtype < 100 + N_DTYPES ? dtype - 100 : dtype;
}

const char *ix_tf_dtype_name(int dtype, char *buf) {
    int b = dtype_base(dtype);
    if (b > 0 && b < N_DTYPES)
        snprintf(buf, 16, "%s", DTYPES[b].name);
    else
        snprintf(buf, 16, "dtype%d", dtype);
    return buf;
}

int ix_tf_dtype_size(int dtype) {
    int b = dtype_base(dtype);
    return b > 0 && b < N_DTYPES ? DTYPES[b].size : 0;
}

int ix_tf_file_open(const char *path, IxTfFile *f, RtStatus *st) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return rt_fail(st, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return rt_fail(st, "%s: not a regular file", path);
    }
    if (sb.st_size > 0) {
        f->map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (f->map == MAP_FAILED) {
            f->map = NULL;
            close(fd);
            return rt_fail(st, "%s: cannot read: %s", path, strerror(errno));
        }
        f->d = f->map;
        f->n = (size_t)sb.st_size;
    }
    close(fd);
    return 0;
}

void ix_tf_file_close(IxTfFile *f) {
    if (f->map) munmap(f->map, f->n);
    memset(f, 0, sizeof *f);
}

typedef struct {
    const unsigned char *data;
    size_t n_data;
    const char *index_name, *data_name;
    IxTensors *out;
    int have_header;
} Ckpt;

static int read_header(Ckpt *c, const unsigned char *val, size_t nval, RtStatus *st) {
    int oom;
    ProtobufCAllocator pa = rt_pb_allocator_noting(&oom);
    Fn__Tf__BundleHeaderProto *h = fn__tf__bundle_header_proto__unpack(&pa, nval, val);
    if (!h)
        return oom ? rt_fail(st, "%s: out of memory decoding the header entry", c->index_name)
                   : rt_fail(st,
                             "%s: the header entry does not decode (not a TensorFlow V2 checkpoint)",
                             c->index_name);
    int shards = h->num_shards,
        big = h->endianness != FN__TF__BUNDLE_HEADER_PROTO__ENDIANNESS__LITTLE;
    fn__tf__bundle_header_proto__free_unpacked(h, &pa);
    if (shards != 1)
        return rt_fail(st,
                       "%s: the checkpoint has %d shards; only single-shard checkpoints are read",
                       c->index_name, shards);
    if (big)
        return rt_fail(st, "%s: the checkpoint is big-endian; only little-endian ones are read",
                       c->index_name);
    c->have_header = 1;
    return 0;
}

/* The entry's shape into dims/rank and its element count into *n (at most 2^31). */
static int entry_shape(const Ckpt *c, const char *tname, const Fn__Tf__TensorShapeProto *sp,
                       int64_t *dims, int *rank, int64_t *n, RtStatus *st) {
    *rank = 0;
    *n = 1;
    if (!sp) return 0;
    if (sp->unknown_rank || sp->n_dim > IX_MAX_RANK)
        return rt_fail(st, "%s: tensor %s: unsupported shape (rank %s)", c->index_name, tname,
                       sp->unknown_rank ? "unknown" : "above 8");
    for (size_t k = 0; k < sp->n_dim; k++) {
        int64_t d = sp->dim[k]->size;
        if (d < 0 || (d > 0 && *n > (INT64_C(1) << 31) / d))
            return rt_fail(st, "%s: tensor %s: bad shape (dimension %zu is %lld)", c->index_name,
                           tname, k, (long long)d);
        dims[k] = d;
        *n *= d;
    }
    *rank = (int)sp->n_dim;
    return 0;
}

/* Checks the entry's place in the data file, its size against the shape and its checksum. */
static int entry_check(const Ckpt *c, const char *tname, const Fn__Tf__BundleEntryProto *e,
                       int64_t n, RtStatus *st) {
    int esize = ix_tf_dtype_size(e->dtype);
    if (e->shard_id != 0)
        return rt_fail(st, "%s: tensor %s is in shard %d; only single-shard checkpoints are read",
                       c->index_name, tname, e->shard_id);
    if (e->offset < 0 || e->size < 0 || (esize > 0 && e->size != esize * n))
        return rt_fail(st, "%s: tensor %s: %lld bytes at offset %lld for %lld elements of %d bytes",
                       c->index_name, tname, (long long)e->size, (long long)e->offset, (long long)n,
                       esize);
    if ((uint64_t)e->offset > c->n_data || (uint64_t)e->size > c->n_data - (uint64_t)e->offset)
        return rt_fail(
            st,
            "%s: tensor %s: bytes %lld..%lld lie past the end of the file (%zu bytes; truncated?)",
            c->data_name, tname, (long long)e->offset, (long long)e->offset + (long long)e->size,
            c->n_data);
    if (esize == 0)
        return 0; /* string, variant: the checksum covers lengths as written in memory, not the file
                   */
    if (ix_crc32c_unmask(e->crc32c) != ix_crc32c(c->data + e->offset, (size_t)e->size))
        return rt_fail(st, "%s: tensor %s: checksum mismatch", c->data_name, tname);
    return 0;
}

static int add_entry(Ckpt *c, const char *tname, const Fn__Tf__BundleEntryProto *e, RtStatus *st) {
    int64_t dims[IX_MAX_RANK], n;
    int rank;
    char dt[16];
    if (e->n_slices > 0)
        return rt_fail(
            st, "%s: tensor %s is partitioned into %zu slices; only unpartitioned tensors are read",
            c->index_name, tname, e->n_slices);
    if (entry_shape(c, tname, e->shape, dims, &rank, &n, st) || entry_check(c, tname, e, n, st))
        return -1;
    IxTensor *t = ix_tensors_add(c->out, tname, ix_tf_dtype_name(e->dtype, dt), rank, dims, st);
    if (!t) {
        char msg[sizeof st->msg];
        snprintf(msg, sizeof msg, "%s", st->msg);
        return rt_fail(st, "%s: %s", c->index_name, msg);
    }
    const unsigned char *p = c->data + e->offset;
    for (int64_t i = 0; t->data && i < n; i++, p += 4) {
        uint32_t u =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        memcpy(&t->data[i], &u, 4);
    }
    return 0;
}

static int visit(void *ctx, const char *key, size_t nkey, const unsigned char *val, size_t nval,
                 RtStatus *st) {
    Ckpt *c = ctx;
    if (nkey == 0) return read_header(c, val, nval, st);
    if (!c->have_header)
        return rt_fail(st, "%s: no header entry (not a TensorFlow V2 checkpoint)", c->index_name);
    if (key[0] == 0) return 0; /* a slice's own entry; its tensor's entry lists the slices */
    if (strlen(key) != nkey)
        return rt_fail(st, "%s: a tensor name holds a NUL byte", c->index_name);
    int oom;
    ProtobufCAllocator pa = rt_pb_allocator_noting(&oom);
    Fn__Tf__BundleEntryProto *e = fn__tf__bundle_entry_proto__unpack(&pa, nval, val);
    if (!e)
        return rt_fail(st, "%s: tensor %s: %s", c->index_name, key,
                       oom ? "out of memory decoding the entry" : "the entry does not decode");
    int rc = add_entry(c, key, e, st);
    fn__tf__bundle_entry_proto__free_unpacked(e, &pa);
    return rc;
}

static int parse(const unsigned char *index, size_t n_index, const unsigned char *data,
                 size_t n_data, const char *index_name, const char *data_name, IxTensors *out,
                 RtStatus *st) {
    static const unsigned char none[1];
    Ckpt c = {.data = data ? data : none,
              .n_data = data ? n_data : 0,
              .index_name = index_name,
              .data_name = data_name,
              .out = out};
    int rc = ix_tf_table_scan(index, n_index, index_name, visit, &c, st);
    if (rc == 0 && !c.have_header)
        rc = rt_fail(st, "%s: no header entry (not a TensorFlow V2 checkpoint)", index_name);
    if (rc) ix_tensors_free(out);
    return rc;
}

/* prefix[0..n) + suffix, allocated (NULL out of memory). */
static char *joined(const char *prefix, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    char *s = fn_malloc(n + k + 1);
    if (!s) return NULL;
    memcpy(s, prefix, n);
    memcpy(s + n, suffix, k + 1);
    return s;
}

int ix_tf_checkpoint_parse(const unsigned char *index, size_t n_index, const unsigned char *data,
                           size_t n_data, const char *name, IxTensors *out, RtStatus *st) {
    char *iname = joined(name, strlen(name), ".index");
    char *dname = iname ? joined(name, strlen(name), DATA_SUFFIX) : NULL;
    int rc = iname && dname ? parse(index, n_index, data, n_data, iname, dname, out, st)
                            : rt_fail(st, "%s: out of memory", name);
    free(iname);
    free(dname);
    return rc;
}

/* The prefix of a path that names the checkpoint, its .index or one of its data shards. */
static size_t prefix_len(const char *path) {
    size_t n = strlen(path), k = strlen(".index");
    if (n > k && strcmp(path + n - k, ".index") == 0) return n - k;
    k = strlen(DATA_SUFFIX);
    const char *s = path + n - k;
    if (n > k && strncmp(s, ".data-", 6) == 0 && strncmp(s + 11, "-of-", 4) == 0 &&
        strspn(s + 6, "0123456789") == 5 && strspn(s + 15, "0123456789") == 5)
        return n - k;
    return n;
}

int ix_tf_checkpoint_read(const char *prefix, IxTensors *out, RtStatus *st) {
    size_t n = prefix_len(prefix);
    char *iname = joined(prefix, n, ".index");
    char *dname = iname ? joined(prefix, n, DATA_SUFFIX) : NULL;
    IxTfFile fi = {0}, fd = {0};
    int rc = !dname ? rt_fail(st, "%s: out of memory", prefix)
             : ix_tf_file_open(iname, &fi, st) || ix_tf_file_open(dname, &fd, st)
                 ? -1
                 : parse(fi.d, fi.n, fd.d, fd.n, iname, dname, out, st);
    ix_tf_file_close(&fi);
    ix_tf_file_close(&fd);
    free(iname);
    free(dname);
    return rc;
}
