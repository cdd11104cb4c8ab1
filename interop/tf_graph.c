/* Frozen TensorFlow GraphDefs (.pb) read into IxTensors: the weights a freeze baked into Const
 * nodes, named as the nodes (a frozen FaceNet names them as its variables, e.g.
 * "InceptionResnetV1/Conv2d_1a_3x3/weights").
 *
 * What this is: the GraphDef decoded (protobuf-c, interop/proto/tf.proto); every node whose op is
 * "Const" gives its "value" tensor: float32 values from tensor_content (raw little-endian) or
 * float_val (all the elements, one value filling the whole shape, or none for zeros, as
 * TensorFlow reads them; fills bounded, SPLAT_BUDGET), other dtypes listed without their values.
 * What this is not: a graph importer; no other node, input, attribute or function is looked at,
 * and nothing is run.
 */
#include "interop/interop.h"

#include <stdlib.h>
#include <string.h>

#include "interop/proto/tf.pb-c.h"
#include "interop/tf_table.h"
#include "runtime/core/pb_alloc.h"

/* Elements the fills of a graph (one value, or none for zeros) may expand to together, 512 MiB:
 * a fill costs nothing in the file, so without a bound a few bytes could ask for gigabytes. */
#define SPLAT_BUDGET (INT64_C(1) << 27)

static const Fn__Tf__TensorProto *const_value(const Fn__Tf__NodeDef *node) {
    for (size_t i = 0; i < node->n_attr; i++) {
        const Fn__Tf__NodeDef__AttrEntry *a = node->attr[i];
        if (a->key && strcmp(a->key, "value") == 0 && a->value && a->value->tensor)
            return a->value->tensor;
    }
    return NULL;
}

static float le_float(const unsigned char *p) {
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Checks that tp's float32 values fit its n elements before anything is allocated: tensor_content
 * of 4n bytes, n float_val values, or one (a fill) or none (zeros) within *budget. */
static int check_floats(const char *name, const char *node, const Fn__Tf__TensorProto *tp,
                        const int64_t *dims, int rank, int64_t n, int64_t *budget, RtStatus *st) {
    char shape[160];
    ix_shape_str(dims, rank, shape, sizeof shape);
    if (tp->tensor_content.len > 0 && tp->tensor_content.len != 4 * (uint64_t)n)
        return rt_fail(st, "%s: node %s: tensor_content has %zu bytes for shape %s (%lld wanted)",
                       name, node, tp->tensor_content.len, shape, 4 * (long long)n);
    if (tp->tensor_content.len == 0 && tp->n_float_val > 1 && (int64_t)tp->n_float_val != n)
        return rt_fail(st, "%s: node %s: %zu float_val values for shape %s (1 or %lld wanted)",
                       name, node, tp->n_float_val, shape, (long long)n);
    if (tp->tensor_content.len == 0 && tp->n_float_val <= 1 && (*budget -= n) < 0)
        return rt_fail(st, "%s: node %s: filling shape %s from %s goes past %lld elements in all",
                       name, node, shape, tp->n_float_val ? "one value" : "zeros",
                       (long long)SPLAT_BUDGET);
    return 0;
}

static void fill_floats(const Fn__Tf__TensorProto *tp, IxTensor *t) {
    if (tp->tensor_content.len > 0)
        for (int64_t i = 0; i < t->n; i++)
            t->data[i] = le_float(tp->tensor_content.data + 4 * i);
    else if (tp->n_float_val == 1)
        for (int64_t i = 0; i < t->n; i++)
            t->data[i] = tp->float_val[0];
    else if (tp->n_float_val > 1)
        memcpy(t->data, tp->float_val, (size_t)t->n * sizeof(float));
}

/* Elements of a shape, or -1 if a dimension is negative or the count passes 2^31. */
static int64_t elements(const int64_t *dims, int rank) {
    int64_t n = 1;
    for (int k = 0; k < rank; k++) {
        if (dims[k] < 0 || (dims[k] > 0 && n > (INT64_C(1) << 31) / dims[k])) return -1;
        n *= dims[k];
    }
    return n;
}

static int add_const(const char *name, const Fn__Tf__NodeDef *node, IxTensors *out, int64_t *budget,
                     RtStatus *st) {
    const Fn__Tf__TensorProto *tp = const_value(node);
    if (!tp) return rt_fail(st, "%s: Const node %s has no tensor value", name, node->name);
    int64_t dims[IX_MAX_RANK];
    const Fn__Tf__TensorShapeProto *sp = tp->tensor_shape;
    int rank = sp ? (int)(sp->n_dim < IX_MAX_RANK + 1 ? sp->n_dim : IX_MAX_RANK + 1) : 0;
    if (sp && (sp->unknown_rank || rank > IX_MAX_RANK))
        return rt_fail(st, "%s: node %s: unsupported shape (rank %s)", name, node->name,
                       sp->unknown_rank ? "unknown" : "above 8");
    for (int k = 0; k < rank; k++)
        dims[k] = sp->dim[k]->size;
    int64_t n = elements(dims, rank);
    /* float32 as the tensor list will name it: DT_FLOAT and its reference type DT_FLOAT_REF */
    char dt[16];
    int is_float = strcmp(ix_tf_dtype_name(tp->dtype, dt), "float32") == 0;
    if (is_float && n >= 0 && check_floats(name, node->name, tp, dims, rank, n, budget, st))
        return -1;
    IxTensor *t = ix_tensors_add(out, node->name, dt, rank, dims, st);
    if (!t) {
        char msg[sizeof st->msg];
        snprintf(msg, sizeof msg, "%s", st->msg);
        return rt_fail(st, "%s: %s", name, msg);
    }
    if (t->data) fill_floats(tp, t);
    return 0;
}

int ix_tf_graph_parse(const unsigned char *d, size_t n, const char *name, IxTensors *out,
                      RtStatus *st) {
    int oom;
    ProtobufCAllocator pa = rt_pb_allocator_noting(&oom);
    Fn__Tf__GraphDef *g = fn__tf__graph_def__unpack(&pa, n, d);
    if (!g && oom) return rt_fail(st, "%s: out of memory decoding the GraphDef", name);
    if (!g || g->n_node == 0) {
        if (g) fn__tf__graph_def__free_unpacked(g, &pa);
        return rt_fail(st, "%s is not a TensorFlow GraphDef", name);
    }
    int64_t budget = SPLAT_BUDGET;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < g->n_node; i++)
        if (g->node[i]->op && strcmp(g->node[i]->op, "Const") == 0)
            rc = add_const(name, g->node[i], out, &budget, st);
    fn__tf__graph_def__free_unpacked(g, &pa);
    if (rc) ix_tensors_free(out);
    return rc;
}

int ix_tf_graph_read(const char *path, IxTensors *out, RtStatus *st) {
    IxTfFile f;
    if (ix_tf_file_open(path, &f, st)) return -1;
    int rc = ix_tf_graph_parse(f.d, f.n, path, out, st);
    ix_tf_file_close(&f);
    return rc;
}
