/* A reader and structural verifier of ONNX models (see onnx.h): what fnrun export writes is read
 * back through here, and so are the test fixtures and the fuzzer's bytes.
 *
 * What this is: protobuf-c unpacks a ModelProto (interop/proto/onnx.proto); then the checks
 * that the graph can be run as written: an opset for the default domain; every node input
 * defined before the node (graph input, initialiser or an earlier node's output); every name
 * defined once; every initialiser's data exactly as long as its dims and type say; every graph
 * output defined. It counts nodes by op type for the caller.
 * What this is not: onnx.checker. Operator schemas (attributes, arities, types) and shape
 * inference are not checked; nested graphs (If, Loop) are not entered. Depends only on
 * runtime/core/status.c, ir/alloc.c and runtime/core/pb_alloc.c (the fuzz target links nothing
 * else).
 */
#include "interop/onnx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interop/proto/onnx.pb-c.h"
#include "ir/alloc.h"
#include "runtime/core/pb_alloc.h"

#define MAX_ELEMENTS (INT64_C(1) << 40) /* initialiser size checked below this, without overflow   \
                                         */

/* ---- the names defined so far: an open-addressing set of strings (pointers into the model) --- */
typedef struct {
    const char **slot;
    size_t cap; /* a power of two, at least twice the names that can be added */
} NameSet;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int names_init(NameSet *ns, size_t max_names) {
    ns->cap = 16;
    while (ns->cap < 2 * max_names + 1)
        ns->cap *= 2;
    ns->slot = fn_calloc(ns->cap, sizeof *ns->slot);
    return ns->slot ? 0 : -1;
}

/* 1 if s is in the set; with add, adds it when absent */
static int names_has(NameSet *ns, const char *s, int add) {
    size_t i = (size_t)hash_str(s) & (ns->cap - 1);
    for (; ns->slot[i]; i = (i + 1) & (ns->cap - 1))
        if (!strcmp(ns->slot[i], s)) return 1;
    if (add) ns->slot[i] = s;
    return 0;
}

/* ---- the checks, one part of the model each ----------------------------------------------------
 */

static int check_opset(const Fn__Onnx__ModelProto *m, IxOnnxInfo *info, RtStatus *st) {
    if (!m->has_ir_version || m->ir_version < 3)
        return rt_fail(st, "ONNX model: no IR version 3 or later");
    info->ir_version = m->ir_version;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Fn__Onnx__OperatorSetIdProto *o = m->opset_import[i];
        if ((!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx")) && o->has_version &&
            o->version > 0) {
            info->opset = o->version;
            return 0;
        }
    }
    return rt_fail(st, "ONNX model: no opset for the default domain");
}

static int64_t elem_size(int32_t dtype) {
    switch (dtype) {
    case 2:
    case 3:
    case 9: return 1; /* uint8, int8, bool */
    case 4:
    case 5:
    case 10:
    case 16: return 2; /* uint16, int16, float16, bfloat16 */
    case 1:
    case 6:
    case 12: return 4; /* float, int32, uint32 */
    case 7:
    case 11:
    case 13:
    case 14: return 8;  /* int64, double, uint64, complex64 */
    case 15: return 16; /* complex128 */
    default: return 0;  /* undefined, string, unknown */
    }
}

/* One initialiser: a new name (or a graph input's: its default), dims >= 0, and raw_data (or the
 * typed field) holding exactly the elements the dims count. */
static int check_initializer(const Fn__Onnx__TensorProto *t, int is_input, NameSet *ns,
                             IxOnnxInfo *info, RtStatus *st) {
    if (!t->name || !t->name[0]) return rt_fail(st, "ONNX model: an initialiser without a name");
    if (names_has(ns, t->name, 1) && !is_input)
        return rt_fail(st, "ONNX model: initialiser %.200s is defined twice", t->name);
    int64_t n = 1;
    for (size_t k = 0; k < t->n_dims; k++) {
        if (t->dims[k] < 0 || (t->dims[k] > 0 && n > MAX_ELEMENTS / t->dims[k]))
            return rt_fail(st,
                           "ONNX model: initialiser %.200s has a bad shape (dimension %zu is %lld)",
                           t->name, k, (long long)t->dims[k]);
        n *= t->dims[k];
    }
    int64_t es = elem_size(t->data_type);
    if (!t->has_data_type || es == 0)
        return rt_fail(st, "ONNX model: initialiser %.200s has data type %d, not read here",
                       t->name, (int)t->data_type);
    int64_t have;
    if (t->has_raw_data)
        have = (int64_t)t->raw_data.len;
    else if (t->data_type == 1)
        have = (int64_t)t->n_float_data * 4;
    else if (t->data_type == 7)
        have = (int64_t)t->n_int64_data * 8;
    else
        return rt_fail(st, "ONNX model: initialiser %.200s has no raw_data", t->name);
    if (have != n * es)
        return rt_fail(st, "ONNX model: initialiser %.200s holds %lld bytes, its shape wants %lld",
                       t->name, (long long)have, (long long)(n * es));
    if (t->data_type == 1) info->parameters += n;
    return 0;
}

static void count_op(IxOnnxInfo *info, const char *op) {
    for (int i = 0; i < info->n_ops; i++)
        if (!strcmp(info->ops[i].op, op)) {
            info->ops[i].count++;
            return;
        }
    if (info->n_ops == (int)(sizeof info->ops / sizeof info->ops[0]))
        return; /* counted in nodes only */
    snprintf(info->ops[info->n_ops].op, sizeof info->ops[0].op, "%s", op);
    info->ops[info->n_ops++].count = 1;
}

/* One node: an op type, inputs defined before it ("" is an omitted optional input), new outputs. */
static int check_node(const Fn__Onnx__NodeProto *nd, size_t at, NameSet *ns, IxOnnxInfo *info,
                      RtStatus *st) {
    if (!nd->op_type || !nd->op_type[0])
        return rt_fail(st, "ONNX model: node %zu has no op type", at);
    for (size_t k = 0; k < nd->n_input; k++)
        if (nd->input[k] && nd->input[k][0] && !names_has(ns, nd->input[k], 0))
            return rt_fail(
                st, "ONNX model: node %zu (%.64s) reads %.200s, which nothing before it defines",
                at, nd->op_type, nd->input[k]);
    for (size_t k = 0; k < nd->n_output; k++) {
        if (!nd->output[k] || !nd->output[k][0]) continue;
        if (names_has(ns, nd->output[k], 1))
            return rt_fail(st, "ONNX model: node %zu (%.64s) defines %.200s again", at, nd->op_type,
                           nd->output[k]);
    }
    count_op(info, nd->op_type);
    return 0;
}

static int check_graph(const Fn__Onnx__GraphProto *g, IxOnnxInfo *info, RtStatus *st) {
    size_t names = g->n_input + g->n_initializer;
    for (size_t i = 0; i < g->n_node; i++)
        names += g->node[i]->n_output;
    NameSet ns;
    if (names_init(&ns, names) < 0)
        return rt_fail(st, "ONNX model: out of memory for %zu names", names);
    int rc = 0;
    for (size_t i = 0; i < g->n_input && rc == 0; i++) {
        const char *nm = g->input[i]->name;
        if (!nm || !nm[0])
            rc = rt_fail(st, "ONNX model: graph input %zu has no name", i);
        else if (names_has(&ns, nm, 1))
            rc = rt_fail(st, "ONNX model: graph input %.200s is listed twice", nm);
    }
    for (size_t i = 0; i < g->n_initializer && rc == 0; i++) {
        const Fn__Onnx__TensorProto *t = g->initializer[i];
        int is_input = 0;
        for (size_t k = 0; t->name && k < g->n_input && !is_input; k++)
            is_input = !strcmp(t->name, g->input[k]->name);
        rc = check_initializer(t, is_input, &ns, info, st);
    }
    for (size_t i = 0; i < g->n_node && rc == 0; i++)
        rc = check_node(g->node[i], i, &ns, info, st);
    for (size_t i = 0; i < g->n_output && rc == 0; i++) {
        const char *nm = g->output[i]->name;
        if (!nm || !names_has(&ns, nm, 0))
            rc = rt_fail(st, "ONNX model: graph output %.200s is never defined", nm ? nm : "");
    }
    free(ns.slot);
    info->nodes = (int)g->n_node;
    info->initializers = (int)g->n_initializer;
    info->inputs = (int)g->n_input;
    info->outputs = (int)g->n_output;
    return rc;
}

int ix_onnx_check(const unsigned char *bytes, size_t len, IxOnnxInfo *info, RtStatus *st) {
    IxOnnxInfo own;
    info = info ? info : &own;
    memset(info, 0, sizeof *info);
    int oom;
    ProtobufCAllocator pa = rt_pb_allocator_noting(&oom);
    Fn__Onnx__ModelProto *m = fn__onnx__model_proto__unpack(&pa, len, bytes);
    if (!m)
        return rt_fail(st, oom ? "out of memory unpacking the ONNX model"
                               : "not an ONNX model (the protobuf does not parse)");
    int rc = check_opset(m, info, st);
    if (rc == 0 && !m->graph) rc = rt_fail(st, "ONNX model: no graph");
    if (rc == 0) rc = check_graph(m->graph, info, st);
    fn__onnx__model_proto__free_unpacked(m, &pa);
    return rc;
}

int ix_onnx_check_file(const char *path, IxOnnxInfo *info, RtStatus *st) {
    FILE *f = fopen(path, "rb");
    if (!f) return rt_fail(st, "%s: %s", path, strerror(errno));
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n < 0 || n > (INT64_C(1) << 31) || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return rt_fail(st, "%s: not a readable file of at most 2 GiB", path);
    }
    unsigned char *b = fn_malloc((size_t)n + 1);
    size_t got = b ? fread(b, 1, (size_t)n, f) : 0;
    fclose(f);
    if (!b) return rt_fail(st, "%s: out of memory for its %ld bytes", path, n);
    if (got != (size_t)n) {
        free(b);
        return rt_fail(st, "%s: cannot read it whole", path);
    }
    int rc = ix_onnx_check(b, (size_t)n, info, st);
    free(b);
    if (rc < 0) {
        char why[900];
        snprintf(why, sizeof why, "%s", st->msg);
        rt_fail(st, "%s: %s", path, why);
    }
    return rc;
}

int ix_onnx_op_count(const IxOnnxInfo *info, const char *op_type) {
    for (int i = 0; i < info->n_ops; i++)
        if (!strcmp(info->ops[i].op, op_type)) return info->ops[i].count;
    return 0;
}
