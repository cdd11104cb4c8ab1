/* TensorFlow weights read into IxTensors (interop/tf_checkpoint.c, tf_graph.c, tf_table.c).
 *
 * What this is: the fixtures TensorFlow wrote (tests/interop/tf/, by make_tf_fixtures.py) read
 * back and compared bit for bit with what TensorFlow read from them (*_expected.txt), the dtype
 * listing, the three ways of naming a checkpoint, and damaged inputs: every truncation of the
 * .index and the .data, every flipped byte of the .index, a flipped byte in a block and in a
 * tensor, a bad magic, a Snappy block, and tables and graphs built here with one fault each.
 * Each must fail with a one-line message naming the file (and the tensor), never crash.
 * What this is not: a test of the name mapping onto fn's variables (import.c's own test).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interop/crc32c.h"
#include "interop/interop.h"
#include "interop/proto/tf.pb-c.h"
#include "tests/testlib.h"

#define DIR    "tests/interop/tf/"
#define PREFIX DIR "model-20180402-114759.ckpt-7"
#define DATA   ".data-00000-of-00001"

typedef struct {
    unsigned char *d;
    size_t n;
} Buf;

static Buf slurp(const char *path) {
    Buf b = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return b;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.d = malloc((size_t)(n > 0 ? n : 0) + 1);
    b.n = n > 0 ? fread(b.d, 1, (size_t)n, f) : 0;
    fclose(f);
    return b;
}

/* ts against an expected file: "name<TAB>dtype<TAB>[shape]<TAB>hex words or -", in order. */
static void check_expected(const IxTensors *ts, const char *path) {
    char *text = test_read_file(path), *save = NULL;
    if (!CHECK(text != NULL, "%s: cannot read", path)) return;
    int i = 0, bad = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
        char *name = strsep(&line, "\t"), *dtype = strsep(&line, "\t"),
             *shape = strsep(&line, "\t");
        char *vals = line ? line : (char *)"", sh[128];
        const IxTensor *t = i < ts->n ? &ts->t[i] : NULL;
        if (!t || strcmp(t->name, name) != 0 || strcmp(t->dtype, dtype) != 0) {
            CHECK(0, "%s: tensor %d is %s %s, want %s %s", path, i, t ? t->name : "(none)",
                  t ? t->dtype : "", name, dtype);
            bad++;
            continue;
        }
        ix_shape_str(t->dims, t->rank, sh, sizeof sh);
        bad += !CHECK(strcmp(sh, shape) == 0, "%s: shape %s, want %s", name, sh, shape);
        if (strcmp(dtype, "float32") != 0) {
            bad += !CHECK(t->data == NULL && strcmp(vals, "-") == 0, "%s: %s listed without data",
                          name, dtype);
            continue;
        }
        int64_t k = 0, diff = 0;
        for (char *w = vals, *end; t->data && *w; w = end, k++) {
            uint32_t want = (uint32_t)strtoul(w, &end, 16), got;
            if (end == w) break;
            memcpy(&got, &t->data[k < t->n ? k : 0], 4);
            diff += k >= t->n || got != want;
        }
        bad += !CHECK(t->data && k == t->n && diff == 0,
                      "%s: %lld of %lld values differ in their bits", name, (long long)diff,
                      (long long)t->n);
    }
    CHECK(i == ts->n, "%s: %d tensors read, %d expected", path, ts->n, i);
    CHECK(bad == 0, "%s: all %d tensors bit-identical, dtypes and shapes as TensorFlow reads them",
          path, i);
    free(text);
}

static void test_fixtures(void) {
    const char *names[] = {PREFIX, PREFIX ".index", PREFIX DATA};
    for (int k = 0; k < 3; k++) {
        IxTensors ts = {0};
        RtStatus st;
        if (CHECK(ix_tf_checkpoint_read(names[k], &ts, &st) == 0, "%s: %s", names[k], st.msg))
            check_expected(&ts, DIR "checkpoint_expected.txt");
        ix_tensors_free(&ts);
    }
    IxTensors ts = {0};
    RtStatus st;
    if (CHECK(ix_tf_graph_read(DIR "frozen.pb", &ts, &st) == 0, "frozen.pb: %s", st.msg))
        check_expected(&ts, DIR "graph_expected.txt");
    ix_tensors_free(&ts);
    CHECK(ix_tf_checkpoint_read(DIR "partitioned.ckpt", &ts, &st) != 0 && ts.n == 0 &&
              strstr(st.msg, "partitioned.ckpt.index: tensor part is partitioned"),
          "a partitioned variable: %s", st.msg);
    CHECK(ix_tf_checkpoint_read(DIR "missing.ckpt-1", &ts, &st) != 0 &&
              strstr(st.msg, "missing.ckpt-1.index: cannot open"),
          "a missing checkpoint: %s", st.msg);
    CHECK(ix_tf_graph_read(PREFIX ".index", &ts, &st) != 0 &&
              strstr(st.msg, ".index is not a TensorFlow GraphDef"),
          "an .index read as a graph: %s", st.msg);
}

/* parse(index, data) fails, out left empty, with a one-line message holding want (and want2). */
static int fails(const Buf *ix, const Buf *da, const char *want, const char *want2,
                 const char *what) {
    IxTensors ts = {0};
    RtStatus st = {{0}};
    int rc = ix_tf_checkpoint_parse(ix->d, ix->n, da->d, da->n, PREFIX, &ts, &st);
    int ok = rc != 0 && ts.n == 0 && strstr(st.msg, want) && (!want2 || strstr(st.msg, want2)) &&
             !strchr(st.msg, '\n');
    ix_tensors_free(&ts);
    return CHECK(ok, "%s: want an error with \"%s\"%s%s, got rc %d: %s", what, want,
                 want2 ? " and " : "", want2 ? want2 : "", rc, st.msg);
}

static void test_damaged(void) {
    Buf ix = slurp(PREFIX ".index"), da = slurp(PREFIX DATA);
    if (!CHECK(ix.d && da.d && ix.n > 100 && da.n > 100, "fixtures present")) return;
    int bad = 0;
    for (size_t n = 0; n < ix.n; n++) {
        Buf t = {ix.d, n};
        bad += !fails(&t, &da, PREFIX ".index: ", NULL, "truncated .index");
    }
    CHECK(bad == 0, "every truncation of the .index (%zu) is an error naming it", ix.n);
    bad = 0;
    for (size_t n = 0; n < da.n; n++) {
        Buf t = {da.d, n};
        bad +=
            !fails(&ix, &t, PREFIX DATA ": tensor ", "past the end of the file", "truncated .data");
    }
    CHECK(bad == 0, "every truncation of the .data (%zu) is an error naming it and a tensor", da.n);
    /* every flipped byte of the .index: an error, or (footer padding only) the same tensors */
    bad = 0;
    for (size_t i = 0; i < ix.n; i++) {
        IxTensors ts = {0};
        RtStatus st;
        ix.d[i] ^= 0x20;
        int rc = ix_tf_checkpoint_parse(ix.d, ix.n, da.d, da.n, PREFIX, &ts, &st);
        bad += rc == 0 && (ts.n != 18 || i < ix.n - 48);
        ix.d[i] ^= 0x20;
        ix_tensors_free(&ts);
    }
    CHECK(bad == 0, "every flipped byte of the .index before the footer is an error");
    ix.d[10] ^= 1;
    fails(&ix, &da, PREFIX ".index: block at offset 0: checksum mismatch", NULL,
          "a flipped byte in a block");
    ix.d[10] ^= 1;
    ix.d[ix.n - 1] ^= 1;
    fails(&ix, &da, PREFIX ".index: bad magic number", NULL, "a bad footer magic");
    ix.d[ix.n - 1] ^= 1;
    /* a flipped bit in beta1_power's value (TensorFlow's bits for it: 3e58d382) */
    const unsigned char bits[4] = {0x82, 0xd3, 0x58, 0x3e};
    unsigned char *p = memmem(da.d, da.n, bits, 4);
    if (CHECK(p != NULL, "beta1_power's bytes in the .data")) {
        p[1] ^= 4;
        fails(&ix, &da, PREFIX DATA ": tensor beta1_power: checksum mismatch", NULL,
              "a flipped bit in a tensor");
        p[1] ^= 4;
    }
    free(ix.d);
    free(da.d);
}

/* ---- tables built here: one data block, restart interval 1 ---- */
typedef struct {
    unsigned char d[4096];
    size_t n;
} Out;

static void put(Out *o, const void *p, size_t n) {
    memcpy(o->d + o->n, p, n);
    o->n += n;
}
static void put_varint(Out *o, uint64_t v) {
    for (; v >= 0x80; v >>= 7)
        o->d[o->n++] = (unsigned char)(v | 0x80);
    o->d[o->n++] = (unsigned char)v;
}
static void put_u32(Out *o, uint32_t v) {
    for (int i = 0; i < 4; i++)
        o->d[o->n++] = (unsigned char)(v >> 8 * i);
}

/* Appends a block of entries (keys[i], vals[i]) with its trailer (compression type ctype);
 * returns its offset, *size its contents' size. */
static size_t put_block(Out *o, int n, const char **keys, const Buf *vals, int ctype,
                        size_t *size) {
    size_t start = o->n;
    uint32_t restarts[16];
    for (int i = 0; i < n; i++) {
        restarts[i] = (uint32_t)(o->n - start);
        put_varint(o, 0);
        put_varint(o, strlen(keys[i]));
        put_varint(o, vals[i].n);
        put(o, keys[i], strlen(keys[i]));
        put(o, vals[i].d, vals[i].n);
    }
    if (n == 0) restarts[n++] = 0;
    for (int i = 0; i < n; i++)
        put_u32(o, restarts[i]);
    put_u32(o, (uint32_t)n);
    *size = o->n - start;
    o->d[o->n++] = (unsigned char)ctype;
    put_u32(o, ix_crc32c_mask(ix_crc32c(o->d + start, *size + 1)));
    return start;
}

static Buf build_table(Out *o, int n, const char **keys, const Buf *vals, int ctype) {
    size_t dsize, msize, isize, hl = 0;
    o->n = 0;
    size_t doff = put_block(o, n, keys, vals, ctype, &dsize);
    size_t moff = put_block(o, 0, NULL, NULL, 0, &msize);
    unsigned char handle[20];
    Out h = {{0}, 0};
    put_varint(&h, doff);
    put_varint(&h, dsize);
    memcpy(handle, h.d, hl = h.n);
    const char *last = n ? keys[n - 1] : "";
    size_t ioff = put_block(o, 1, &last, &(Buf){handle, hl}, 0, &isize);
    size_t footer = o->n;
    put_varint(o, moff);
    put_varint(o, msize);
    put_varint(o, ioff);
    put_varint(o, isize);
    while (o->n < footer + 40)
        o->d[o->n++] = 0;
    uint64_t magic = 0xdb4775248b80fb57ull;
    for (int i = 0; i < 8; i++)
        o->d[o->n++] = (unsigned char)(magic >> 8 * i);
    return (Buf){o->d, o->n};
}

static Buf header(int shards, int big) {
    Fn__Tf__BundleHeaderProto h = FN__TF__BUNDLE_HEADER_PROTO__INIT;
    h.num_shards = shards;
    h.endianness = big;
    Buf b = {malloc(fn__tf__bundle_header_proto__get_packed_size(&h) + 1), 0};
    b.n = fn__tf__bundle_header_proto__pack(&h, b.d);
    return b;
}

/* An entry of the given dtype, shape [d0] (d0 < 0: a scalar), at offset/size in the data. */
static Buf entry(int dtype, int64_t d0, int64_t offset, int64_t size, uint32_t crc) {
    Fn__Tf__BundleEntryProto e = FN__TF__BUNDLE_ENTRY_PROTO__INIT;
    Fn__Tf__TensorShapeProto sp = FN__TF__TENSOR_SHAPE_PROTO__INIT;
    Fn__Tf__TensorShapeProto__Dim dim = FN__TF__TENSOR_SHAPE_PROTO__DIM__INIT, *dims[1] = {&dim};
    dim.size = d0;
    sp.n_dim = d0 >= 0;
    sp.dim = dims;
    e.dtype = dtype;
    e.shape = &sp;
    e.offset = offset;
    e.size = size;
    e.crc32c = crc;
    Buf b = {malloc(fn__tf__bundle_entry_proto__get_packed_size(&e) + 1), 0};
    b.n = fn__tf__bundle_entry_proto__pack(&e, b.d);
    return b;
}

static void test_built_tables(void) {
    unsigned char raw[64];
    for (int i = 0; i < 64; i++)
        raw[i] = (unsigned char)(i * 37 + 5);
    Buf da = {raw, sizeof raw};
    uint32_t c8 = ix_crc32c_mask(ix_crc32c(raw, 8)), c16 = ix_crc32c_mask(ix_crc32c(raw, 16));
    /* dtypes listed by name, only float32 read */
    const char *keys[] = {"", "a", "b", "c", "d", "e", "f"};
    Buf vals[7] = {header(1, 0),
                   entry(2, 2, 0, 16, c16),
                   entry(3, 4, 0, 16, c16),
                   entry(7, 1, 0, 5, 0),
                   entry(19, 4, 0, 8, c8),
                   entry(14, -1, 0, 2, ix_crc32c_mask(ix_crc32c(raw, 2))),
                   entry(1, 2, 0, 8, c8)};
    const char *dtypes[] = {"float64", "int32", "string", "float16", "bfloat16", "float32"};
    static Out o;
    Buf ix = build_table(&o, 7, keys, vals, 0);
    IxTensors ts = {0};
    RtStatus st;
    if (CHECK(ix_tf_checkpoint_parse(o.d, o.n, raw, sizeof raw, "mem", &ts, &st) == 0,
              "built table: %s", st.msg)) {
        int bad = ts.n != 6;
        for (int i = 0; !bad && i < 6; i++)
            bad += strcmp(ts.t[i].dtype, dtypes[i]) || (ts.t[i].data != NULL) != (i == 5);
        CHECK(bad == 0, "dtypes listed as float64 int32 string float16 bfloat16, float32 read");
        CHECK(ts.n == 6 && ts.t[4].rank == 0 && ts.t[5].data && memcmp(ts.t[5].data, raw, 8) == 0,
              "a scalar; float32 bytes as they are");
    }
    ix_tensors_free(&ts);
    ix = build_table(&o, 7, keys, vals, 1);
    fails(&ix, &da,
          PREFIX ".index: block at offset 0: compression type 1 (snappy) is not supported", NULL,
          "snappy");
    Buf v2[2] = {header(2, 0), entry(1, 2, 0, 8, c8)};
    ix = build_table(&o, 2, keys, v2, 0);
    fails(&ix, &da, PREFIX ".index: the checkpoint has 2 shards", NULL, "two shards");
    free(v2[0].d);
    v2[0] = header(1, 1);
    ix = build_table(&o, 2, keys, v2, 0);
    fails(&ix, &da, PREFIX ".index: the checkpoint is big-endian", NULL, "big-endian");
    ix = build_table(&o, 1, keys + 1, v2 + 1, 0);
    fails(&ix, &da, PREFIX ".index: no header entry", NULL, "no header");
    const char *swapped[] = {"", "b", "a"};
    Buf v3[3] = {header(1, 0), entry(1, 2, 0, 8, c8), entry(1, 2, 8, 8, c8)};
    ix = build_table(&o, 3, swapped, v3, 0);
    fails(&ix, &da, PREFIX ".index: key \"a\" is out of order", NULL, "keys out of order");
    ix = build_table(&o, 3, keys, v3, 0);
    fails(&ix, &da, PREFIX DATA ": tensor b: checksum mismatch", NULL, "a wrong tensor checksum");
    free(v3[2].d);
    v3[2] = entry(1, 2, 60, 8, c8);
    ix = build_table(&o, 3, keys, v3, 0);
    fails(&ix, &da, PREFIX DATA ": tensor b: bytes 60..68 lie past the end", NULL,
          "a tensor past the end");
    free(v3[2].d);
    v3[2] = entry(1, 3, 0, 8, c8);
    ix = build_table(&o, 3, keys, v3, 0);
    fails(&ix, &da, PREFIX ".index: tensor b: 8 bytes at offset 0 for 3 elements", NULL,
          "a size against the shape");
    for (int i = 0; i < 7; i++)
        free(vals[i].d);
    for (int i = 0; i < 2; i++)
        free(v2[i].d);
    for (int i = 0; i < 3; i++)
        free(v3[i].d);
}

/* ---- graphs built here ---- */
static int graph_fails(const Fn__Tf__TensorProto *tp, const char *want) {
    Fn__Tf__TensorProto tcopy = *tp;
    Fn__Tf__AttrValue av = FN__TF__ATTR_VALUE__INIT;
    av.tensor = &tcopy;
    Fn__Tf__NodeDef__AttrEntry ae = FN__TF__NODE_DEF__ATTR_ENTRY__INIT, *aes[1] = {&ae};
    ae.key = (char *)"value";
    ae.value = &av;
    Fn__Tf__NodeDef node = FN__TF__NODE_DEF__INIT, *nodes[1] = {&node};
    node.name = (char *)"w";
    node.op = (char *)"Const";
    node.n_attr = want && strstr(want, "no tensor value") ? 0 : 1;
    node.attr = aes;
    Fn__Tf__GraphDef g = FN__TF__GRAPH_DEF__INIT;
    g.n_node = 1;
    g.node = nodes;
    unsigned char *d = malloc(fn__tf__graph_def__get_packed_size(&g) + 1);
    size_t n = fn__tf__graph_def__pack(&g, d);
    IxTensors ts = {0};
    RtStatus st = {{0}};
    int rc = ix_tf_graph_parse(d, n, "g.pb", &ts, &st);
    free(d);
    int ok = want ? rc != 0 && ts.n == 0 && strstr(st.msg, want) != NULL : rc == 0 && ts.n == 1;
    ix_tensors_free(&ts);
    return CHECK(ok, "graph: want %s, got rc %d: %s", want ? want : "success", rc, st.msg);
}

static void test_built_graphs(void) {
    Fn__Tf__TensorProto tp = FN__TF__TENSOR_PROTO__INIT;
    Fn__Tf__TensorShapeProto sp = FN__TF__TENSOR_SHAPE_PROTO__INIT;
    Fn__Tf__TensorShapeProto__Dim dim = FN__TF__TENSOR_SHAPE_PROTO__DIM__INIT, *dims[1] = {&dim};
    float vals[3] = {1, 2, 3};
    sp.n_dim = 1;
    sp.dim = dims;
    dim.size = 3;
    tp.dtype = FN__TF__DATA_TYPE__DT_FLOAT;
    tp.tensor_shape = &sp;
    tp.float_val = vals;
    tp.n_float_val = 3;
    graph_fails(&tp, NULL);
    tp.n_float_val = 2;
    graph_fails(&tp, "g.pb: node w: 2 float_val values for shape [3] (1 or 3 wanted)");
    tp.dtype = (Fn__Tf__DataType)101; /* DT_FLOAT_REF, listed as float32: checked the same */
    graph_fails(&tp, "g.pb: node w: 2 float_val values for shape [3] (1 or 3 wanted)");
    tp.dtype = FN__TF__DATA_TYPE__DT_FLOAT;
    tp.tensor_content = (ProtobufCBinaryData){8, (uint8_t *)vals};
    graph_fails(&tp, "g.pb: node w: tensor_content has 8 bytes for shape [3] (12 wanted)");
    graph_fails(&tp, "g.pb: Const node w has no tensor value");
    tp.tensor_content.len = 0;
    tp.n_float_val = 1;
    dim.size = INT64_C(1) << 30;
    graph_fails(&tp, "g.pb: node w: filling shape [1073741824] from one value goes past");
    dim.size = -2;
    graph_fails(&tp, "g.pb: w: bad shape");
    RtStatus st;
    IxTensors ts = {0};
    const char *junk = "this is not a graph\n";
    CHECK(ix_tf_graph_parse((const unsigned char *)junk, strlen(junk), "junk.pb", &ts, &st) != 0 &&
              strcmp(st.msg, "junk.pb is not a TensorFlow GraphDef") == 0,
          "junk: %s", st.msg);
    CHECK(ix_tf_graph_parse((const unsigned char *)"", 0, "empty.pb", &ts, &st) != 0 &&
              strcmp(st.msg, "empty.pb is not a TensorFlow GraphDef") == 0,
          "empty: %s", st.msg);
}

int main(void) {
    CHECK(ix_crc32c("123456789", 9) == 0xe3069283u, "CRC-32C check value");
    CHECK(ix_crc32c_unmask(ix_crc32c_mask(0x12345678u)) == 0x12345678u, "unmask(mask(x)) == x");
    test_fixtures();
    test_damaged();
    test_built_tables();
    test_built_graphs();
    return test_summary("test_interop_tf");
}
