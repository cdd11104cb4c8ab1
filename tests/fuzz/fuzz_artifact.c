// fuzz-sources: runtime/core/artifact.c runtime/core/checkpoint.c runtime/core/ema.c runtime/core/vars.c runtime/core/framed.c runtime/core/files.c runtime/core/status.c ir/status.c ir/ir.c ir/rules.c ir/rules_contraction.c ir/rules_elementwise.c ir/rules_movement.c ir/rules_nn.c ir/verify.c ir/print.c ir/alloc.c ir/pool.c runtime/core/pb_alloc.c
// fuzz-libs: -lprotobuf-c -lz -lm -lpthread
// fuzz-protos: fn_artifact fn_checkpoint
/* libFuzzer target for the readers of artifacts and checkpoints from bytes (runtime/core/artifact.c,
 * checkpoint.c, framed.c): any input must give a result or a one-line error, never a crash,
 * hang, leak or undefined behaviour. The first byte picks what the rest is: 0 a whole artifact
 * file, 1 an artifact payload (framed here with a correct header and checksum, so the decoder
 * is reached), 2 the recipe of one graph (packed here into a valid protobuf, so ir_make's checks
 * are reached), 3 a whole checkpoint file, 4 a checkpoint payload (framed here). Not here: the
 * variables' values (checkpoint loading needs a bound graph). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ir/ir.h"
#include "runtime/core/artifact.h"
#include "runtime/core/checkpoint.h"
#include "runtime/core/proto/fn_artifact.pb-c.h"

static unsigned char *frame(const char magic[8], const uint8_t *payload, size_t n) {
    unsigned char *f = malloc(24 + n + 1);
    uint32_t c = (uint32_t)crc32(crc32(0, Z_NULL, 0), payload, (uInt)n);
    uint64_t len = n;
    uint32_t v = 1;
    memcpy(f, magic, 8);
    for (int i = 0; i < 4; i++) f[8 + i] = (unsigned char)(v >> (8 * i)), f[12 + i] = (unsigned char)(c >> (8 * i));
    for (int i = 0; i < 8; i++) f[16 + i] = (unsigned char)(len >> (8 * i));
    if (n) memcpy(f + 24, payload, n);
    return f;
}

typedef struct {
    const uint8_t *p;
    size_t n;
} Rd;
static int byte(Rd *r) {
    if (!r->n) return 0;
    r->n--;
    return *r->p++;
}
static int sbyte(Rd *r) { return (int)(int8_t)byte(r); }

/* One graph from the bytes: a few strings and a symbol, dims, nodes of any op, one output. */
static size_t recipe(Rd *r, uint8_t **out) {
    static char *strs[] = {"x", "w", "y", "scope"};
    Fn__Sym sym = FN__SYM__INIT, *syms[] = {&sym};
    sym.name = "N";
    sym.dflt = sbyte(r);
    Fn__Dim dims[8], *pdims[8];
    int nd = byte(r) % 9;
    for (int i = 0; i < nd; i++) {
        fn__dim__init(&dims[i]);
        dims[i].kind = byte(r) % 7, dims[i].a = sbyte(r), dims[i].b = sbyte(r);
        pdims[i] = &dims[i];
    }
    Fn__Node nodes[12], *pnodes[12];
    int32_t ins[12][4], ints[12][8], shape[12][5];
    int nn = byte(r) % 13;
    for (int i = 0; i < nn; i++) {
        Fn__Node *x = &nodes[i];
        fn__node__init(x);
        x->op = (char *)ir_op_info[byte(r) % IR_OP_COUNT].name;
        x->n_inputs = (size_t)(byte(r) % 5), x->inputs = ins[i];
        for (size_t k = 0; k < x->n_inputs; k++) ins[i][k] = i ? byte(r) % i : sbyte(r);
        x->n_ints = (size_t)(byte(r) % 9), x->ints = ints[i];
        for (size_t k = 0; k < x->n_ints; k++) ints[i][k] = sbyte(r);
        x->has_f = 1, x->f = sbyte(r) / 4.0;
        x->n_shape = (size_t)(byte(r) % 6), x->shape = shape[i];
        for (size_t k = 0; k < x->n_shape; k++) shape[i][k] = byte(r) % (nd + 1);
        pnodes[i] = x;
    }
    Fn__Named o = FN__NAMED__INIT, *outs[] = {&o};
    o.name = byte(r) % 4, o.id = nn ? byte(r) % nn : 0;
    Fn__Graph g = FN__GRAPH__INIT, *gs[] = {&g};
    g.name = "eval", g.n_strs = 4, g.strs = strs, g.n_syms = 1, g.syms = syms;
    g.n_dims = (size_t)nd, g.dims = pdims, g.n_nodes = (size_t)nn, g.nodes = pnodes, g.n_outputs = 1, g.outputs = outs;
    Fn__Artifact a = FN__ARTIFACT__INIT;
    a.source = "fuzz", a.compiler = "fuzz", a.n_graphs = 1, a.graphs = gs;
    size_t n = fn__artifact__get_packed_size(&a);
    *out = malloc(n + 1);
    return fn__artifact__pack(&a, *out);
}

static void check_msg(const RtStatus *st) {
    if (!memchr(st->msg, 0, sizeof st->msg)) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    int mode = data[0] % 5;
    data++, size--;
    RtStatus st;
    unsigned char *owned = NULL;
    const unsigned char *bytes = data;
    size_t n = size;
    if (mode == 1 || mode == 4) {
        owned = frame(mode == 1 ? "FNARTIFC" : "FNCKPT01", data, size);
        bytes = owned, n = size + 24;
    } else if (mode == 2) {
        Rd r = {data, size};
        uint8_t *payload;
        size_t len = recipe(&r, &payload);
        owned = frame("FNARTIFC", payload, len);
        free(payload);
        bytes = owned, n = len + 24;
    }
    if (mode <= 2) {
        RtArtifact a;
        if (rt_artifact_from_bytes(bytes, n, "fuzz", &a, &st) == 0) {
            for (int i = 0; i < a.n; i++)
                if (!a.names[i] || !a.graphs[i] || rt_artifact_graph(&a, a.names[i]) == NULL) __builtin_trap();
            rt_artifact_free(&a);
        } else {
            check_msg(&st);
        }
    } else {
        RtCkptInfo info;
        if (rt_checkpoint_info_from_bytes(bytes, n, "fuzz", &info, &st) < 0) check_msg(&st);
    }
    free(owned);
    return 0;
}
