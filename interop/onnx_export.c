/* ONNX code generation: a bound eval graph written as an ONNX ModelProto (see onnx.h).
 *
 * What this is: one pass over the IR nodes reachable from the chosen outputs, in id order (a
 * topological order), each lowered by its entry in LOWER (keyed by IrOp) to nodes of the default
 * ONNX domain at opset 17. Variables become float32 initialisers named as the variables.
 * Layout rules (fn computes NHWC with HWIO filters):
 * - every rank-4 value is NCHW in ONNX (Conv and the pools need it); an NHWC graph input is
 *   followed by a Transpose, a rank-4 graph output preceded by one (unless --input_layout nchw);
 * - axes of concat, slice, softmax, l2norm and the sums on rank-4 values are mapped NHWC -> NCHW
 *   (NCHW_AXIS); a sum that keeps 2 or 3 trailing axes transposes its result back to fn's order;
 * - a shorter operand of a binary op with a rank-4 result (fn's suffix broadcasting: [C],
 *   [W,C], [H,W,C]) is reshaped to the shape that broadcasts the same way in NCHW ([C,1,1]...);
 * - a reshape from or to rank 4 goes through NHWC (Transpose before or after), so the elements
 *   keep fn's order; no Transpose where it would move only axes of size 1;
 * - conv2d filters are written OIHW; SAME padding becomes explicit pads computed exactly as
 *   codegen/ref/window.c pads (the extra row or column after);
 * - the batch dimension stays symbolic: dim_param "N" on inputs and outputs, 0 (copy) or -1 in
 *   reshape targets, the graph input's Shape where an Expand needs it.
 * Batch norm is written as the eval graph has it, folded (passes/fold.c: the weights times
 * rsqrt(variance + eps), then a per-channel add) or not, as primitive ops of the variables; ONNX
 * Runtime folds those constant parts at load and fuses the rest into the convolutions (lower_sub
 * writes x - mean as x + (-mean), the same number, so its fusions apply).
 * What this is not: an optimiser (the IR arrives simplified) or a checker (onnx_check.c reads the
 * result back). Ops with no ONNX lowering (the backward ops, dropout_mask, gather, scatter_add,
 * softmax_xent, accuracy, assign) are an error naming the op.
 */
#include "interop/onnx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "interop/proto/onnx.pb-c.h"
#include "ir/alloc.h"
#include "runtime/core/artifact.h"

typedef Fn__Onnx__NodeProto Node;
typedef Fn__Onnx__TensorProto Tensor;
typedef Fn__Onnx__ValueInfoProto ValueInfo;

enum { DT_FLOAT = 1, DT_INT32 = 6, DT_INT64 = 7 };
static const int NCHW_AXIS[4] = {0, 2, 3, 1};        /* NHWC axis -> its NCHW axis */
static const int64_t TO_NCHW[4] = {0, 3, 1, 2};      /* Transpose perm: NHWC value -> NCHW */
static const int64_t TO_NHWC[4] = {0, 2, 3, 1};      /* and back */
static const int64_t HWIO_TO_OIHW[4] = {3, 2, 0, 1}; /* a filter variable, at write time */
static const int64_t NCHW_TO_OIHW[4] = {1, 3, 0, 2}; /* a computed filter held NCHW: [kh,O,kw,I] */

/* Room for one more element of arr (n used of cap); out of memory, ox fails (ox->failed). */
#define RESERVE(ox, arr, n, cap)                                                                   \
    do {                                                                                           \
        if ((n) == (cap) && !(ox)->failed) {                                                       \
            size_t c_ = (cap) ? 2 * (cap) : 64;                                                    \
            void *p_ = fn_realloc((arr), c_ * sizeof *(arr));                                      \
            if (p_)                                                                                \
                (arr) = p_, (cap) = c_;                                                            \
            else                                                                                   \
                oom(ox);                                                                           \
        }                                                                                          \
    } while (0)

typedef struct {
    const IrGraph *g;
    const RtVars *vars;
    int64_t *sym; /* the symbols' values; the batch's is 1 and never used for a shape */
    int batch;    /* symbol index of N, -1 if g has none */
    int input_nchw;
    const char **out_names; /* the exported outputs and their values */
    IrId *out_ids;
    int n_out;
    unsigned char *reach, *counted; /* per node: reachable from an output; variable counted */
    unsigned char *konst;           /* per node: computed from variables and constants only */
    const char **val, **filt, **bc; /* per node: ONNX name of the value (rank 4: NCHW), of the
                                       OIHW filter, of the NCHW-broadcastable operand */
    const char *batch_ref;          /* a graph input whose dimension 0 is N */
    const char *batch_dim;          /* [1] int64: N, from batch_ref's Shape */
    char **pool;                    /* every name made here, freed at the end */
    size_t n_pool, cap_pool;
    Node **nodes;
    size_t n_nodes, cap_nodes;
    Tensor **inits;
    size_t n_inits, cap_inits;
    ValueInfo **inputs, **outputs;
    size_t n_inputs, cap_inputs, n_outputs, cap_outputs;
    int64_t params;
    int failed;
    RtStatus *st;
} Ox;

/* ---- small helpers ------------------------------------------------------------------------- */

static void fail(Ox *ox, const char *f, ...) __attribute__((format(printf, 2, 3)));
static void fail(Ox *ox, const char *f, ...) {
    if (ox->failed) return; /* the first fault is the one reported */
    ox->failed = 1;
    va_list ap;
    va_start(ap, f);
    fn_vfail(ox->st, f, ap);
    va_end(ap);
}

static void oom(Ox *ox) {
    fail(ox, "out of memory building the ONNX model");
}

/* A name made from a format, owned by ox; NULL once ox has failed (out of memory included), so
 * that a NULL argument is never formatted. */
static const char *name(Ox *ox, const char *f, ...) __attribute__((format(printf, 2, 3)));
static const char *name(Ox *ox, const char *f, ...) {
    RESERVE(ox, ox->pool, ox->n_pool, ox->cap_pool);
    if (ox->failed) return NULL;
    va_list ap;
    va_start(ap, f);
    int k = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    char *s = k >= 0 ? fn_malloc((size_t)k + 1) : NULL;
    if (!s) return oom(ox), NULL;
    va_start(ap, f);
    vsnprintf(s, (size_t)k + 1, f, ap);
    va_end(ap);
    ox->pool[ox->n_pool++] = s;
    return s;
}

static const IrNode *nd_at(const Ox *ox, IrId id) {
    return &ox->g->nodes[id];
}
static const char *op_name(const IrNode *n) {
    return ir_op_info[n->op].name;
}

/* 1 if dimension d reads the batch symbol */
static int uses_batch(const Ox *ox, IrDim d) {
    const IrDimNode *e = &ox->g->dims[d];
    if (e->kind == IR_DIM_CONST) return 0;
    if (e->kind == IR_DIM_SYM) return e->a == ox->batch;
    return uses_batch(ox, (IrDim)e->a) || uses_batch(ox, (IrDim)e->b);
}

static int is_batch(const Ox *ox, IrDim d) {
    const IrDimNode *e = &ox->g->dims[d];
    return ox->batch >= 0 && e->kind == IR_DIM_SYM && e->a == ox->batch;
}

/* The dimensions of s (fn's order), -1 where one depends on N. */
static void dims_of(const Ox *ox, const IrShape *s, int64_t *d) {
    for (int k = 0; k < s->rank; k++)
        d[k] = uses_batch(ox, s->d[k]) ? -1 : ir_dim_eval(ox->g, s->d[k], ox->sym);
}

/* 1 if Transpose(perm) on these dims moves only axes of size 1 (the elements keep their order) */
static int moves_only_ones(const int64_t *d, const int64_t *perm, int rank) {
    int last = -1;
    for (int k = 0; k < rank; k++) {
        if (d[perm[k]] == 1) continue;
        if (perm[k] < last) return 0;
        last = (int)perm[k];
    }
    return 1;
}

/* "<scope>/<op>_<id>": the name of a node's result and of the ONNX node that makes it */
static const char *base_name(Ox *ox, IrId id) {
    const IrNode *n = nd_at(ox, id);
    const char *scope = n->scope > 0 ? ir_str(ox->g, n->scope) : "";
    return scope && scope[0] ? name(ox, "%s/%s_%d", scope, op_name(n), id)
                             : name(ox, "%s_%d", op_name(n), id);
}

/* The name a lowering writes node id's value to (an output's own name where it can be). */
static const char *result(Ox *ox, IrId id) {
    if (!ox->val[id]) ox->val[id] = base_name(ox, id);
    return ox->val[id];
}

/* ---- the ONNX graph being built -------------------------------------------------------------- */

/* A node op(in...) -> out. NULL (and nothing added) when an input is NULL: a fault upstream.
 * Out of memory, NULL and ox fails; the node made so far is ox's, freed with the others. */
static Node *node_v(Ox *ox, const char *op, const char *out, const char *const *in, int n_in) {
    for (int i = 0; i < n_in; i++)
        if (!in[i]) return NULL;
    if (!out || ox->failed) return NULL;
    RESERVE(ox, ox->nodes, ox->n_nodes, ox->cap_nodes);
    Node *nd = ox->failed ? NULL : fn_malloc(sizeof *nd);
    if (!nd) return oom(ox), NULL;
    fn__onnx__node_proto__init(nd);
    ox->nodes[ox->n_nodes++] = nd;
    nd->op_type = fn_strdup(op);
    nd->name = fn_strdup(out);
    if ((nd->output = fn_calloc(1, sizeof *nd->output))) nd->n_output = 1;
    if ((nd->input = fn_calloc((size_t)n_in + 1, sizeof *nd->input))) nd->n_input = (size_t)n_in;
    int ok = nd->op_type && nd->name && nd->output && (nd->output[0] = fn_strdup(out)) && nd->input;
    for (int i = 0; ok && i < n_in; i++)
        ok = (nd->input[i] = fn_strdup(in[i])) != NULL;
    return ok ? nd : (oom(ox), NULL);
}
#define NODE(ox, op, out, ...)                                                                     \
    node_v((ox), (op), (out), (const char *const[]){__VA_ARGS__},                                  \
           (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)))

/* A new attribute of nd (NULL: none, when nd is NULL or out of memory, and ox fails). */
static Fn__Onnx__AttributeProto *attr(Ox *ox, Node *nd, const char *name,
                                      Fn__Onnx__AttributeProto__AttributeType type) {
    if (!nd || ox->failed) return NULL;
    Fn__Onnx__AttributeProto **at =
        fn_realloc(nd->attribute, (nd->n_attribute + 1) * sizeof *nd->attribute);
    if (!at) return oom(ox), NULL;
    nd->attribute = at;
    Fn__Onnx__AttributeProto *a = fn_malloc(sizeof *a);
    if (!a) return oom(ox), NULL;
    fn__onnx__attribute_proto__init(a);
    nd->attribute[nd->n_attribute++] = a; /* the node's from here: freed with it */
    a->has_type = 1;
    a->type = type;
    if (!(a->name = fn_strdup(name))) return oom(ox), NULL;
    return a;
}

static void attr_int(Ox *ox, Node *nd, const char *name, int64_t v) {
    Fn__Onnx__AttributeProto *a =
        attr(ox, nd, name, FN__ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (!a) return;
    a->has_i = 1;
    a->i = v;
}

static void attr_ints(Ox *ox, Node *nd, const char *name, const int64_t *v, int n) {
    Fn__Onnx__AttributeProto *a =
        attr(ox, nd, name, FN__ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    if (!a) return;
    if (!(a->ints = fn_malloc((size_t)n * sizeof *a->ints + 1))) {
        oom(ox);
        return;
    }
    a->n_ints = (size_t)n;
    memcpy(a->ints, v, (size_t)n * sizeof *a->ints);
}

static const Tensor *init_find(const Ox *ox, const char *name) {
    for (size_t i = 0; i < ox->n_inits; i++)
        if (!strcmp(ox->inits[i]->name, name)) return ox->inits[i];
    return NULL;
}

/* A new initialiser name[dims] with zeroed room for its data in raw_data; NULL out of memory. */
static Tensor *init_new(Ox *ox, const char *name, int dtype, const int64_t *dims, int rank) {
    int64_t n = 1;
    for (int k = 0; k < rank; k++)
        n *= dims[k];
    RESERVE(ox, ox->inits, ox->n_inits, ox->cap_inits);
    Tensor *t = ox->failed || !name ? NULL : fn_malloc(sizeof *t);
    if (!t) return oom(ox), NULL;
    fn__onnx__tensor_proto__init(t);
    t->name = fn_strdup(name);
    t->has_data_type = 1;
    t->data_type = dtype;
    if ((t->dims = fn_malloc((size_t)rank * sizeof *t->dims + 1))) t->n_dims = (size_t)rank;
    if (t->dims && rank) memcpy(t->dims, dims, (size_t)rank * sizeof *t->dims);
    t->has_raw_data = 1;
    size_t len = (size_t)n * (dtype == DT_INT64 ? 8 : 4);
    if ((t->raw_data.data = fn_calloc(len + 1, 1))) t->raw_data.len = len;
    if (!t->name || !t->dims || !t->raw_data.data) {
        fn__onnx__tensor_proto__free_unpacked(t, NULL);
        fail(ox, "out of memory for the initialiser %s (%lld elements)", name, (long long)n);
        return NULL;
    }
    ox->inits[ox->n_inits++] = t;
    return t;
}

/* A float32 scalar initialiser, one per value ("const/0.001"). */
static const char *const_f(Ox *ox, double v) {
    char name[64];
    float f = (float)v;
    snprintf(name, sizeof name, "const/%.9g", f);
    const Tensor *t = init_find(ox, name);
    if (!t) {
        Tensor *nt = init_new(ox, name, DT_FLOAT, NULL, 0);
        if (!nt) return NULL;
        memcpy(nt->raw_data.data, &f, 4); /* raw_data is little-endian, as the host */
        t = nt;
    }
    return t->name;
}

/* A 1-D int64 initialiser, one per content ("const/[-1,1,1]"): shapes, axes, starts. */
static const char *const_ints(Ox *ox, const int64_t *v, int n) {
    char name[256];
    size_t k = (size_t)snprintf(name, sizeof name, "const/[");
    for (int i = 0; i < n && k < sizeof name; i++)
        k += (size_t)snprintf(name + k, sizeof name - k, "%s%lld", i ? "," : "", (long long)v[i]);
    if (k < sizeof name) snprintf(name + k, sizeof name - k, "]");
    const Tensor *t = init_find(ox, name);
    if (!t) {
        int64_t len = n;
        Tensor *nt = init_new(ox, name, DT_INT64, &len, 1);
        if (!nt) return NULL;
        memcpy(nt->raw_data.data, v, (size_t)n * 8);
        t = nt;
    }
    return t->name;
}

static const char *transpose(Ox *ox, const char *x, const char *out, const int64_t *perm,
                             int rank) {
    Node *nd = NODE(ox, "Transpose", out, x);
    attr_ints(ox, nd, "perm", perm, rank);
    return nd && !ox->failed ? out : NULL;
}

/* ---- leaves: variables, constants ----------------------------------------------------------- */

static const RtVar *find_var(const RtVars *vs, const char *name) {
    for (int i = 0; i < vs->n; i++)
        if (!strcmp(vs->v[i].name, name)) return &vs->v[i];
    return NULL;
}

/* dst = the variable's elements transposed by perm (dst axis k = the variable's axis perm[k]),
 * as float32 */
static void permute(const RtVar *v, int prec, const int64_t *perm, float *dst) {
    int r = v->rank;
    int64_t stride[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
    for (int64_t k = r - 1, s = 1; k >= 0; k--)
        stride[k] = s, s *= v->dims[k];
    for (int64_t i = 0; i < v->n; i++) {
        int64_t src = 0;
        for (int k = 0; k < r; k++)
            src += idx[k] * stride[perm[k]];
        dst[i] = prec == 4 ? ((const float *)v->data)[src] : (float)((const double *)v->data)[src];
        for (int k = r - 1; k >= 0 && ++idx[k] == v->dims[perm[k]]; k--)
            idx[k] = 0;
    }
}

/* The initialiser of variable leaf id: as a value (rank 4: NCHW, named "<var>/nchw") or, with
 * filter, as a conv2d filter OIHW (named as the variable). */
static const char *var_tensor(Ox *ox, IrId id, int filter) {
    const IrNode *n = nd_at(ox, id);
    const char *vname = ir_str(ox->g, n->attr.u.leaf.name);
    const RtVar *v = find_var(ox->vars, vname);
    int64_t d[IR_MAX_RANK];
    dims_of(ox, &n->shape, d);
    int same = v && v->rank == n->shape.rank;
    for (int k = 0; same && k < v->rank; k++)
        same = v->dims[k] == d[k];
    if (!same) {
        fail(ox,
             v ? "variable %s: its shape in the store differs from the graph's"
               : "variable %s is not bound",
             vname);
        return NULL;
    }
    int r = v->rank, as4 = r == 4 && !filter;
    int64_t perm[IR_MAX_RANK], od[IR_MAX_RANK];
    for (int k = 0; k < r; k++)
        perm[k] = filter ? HWIO_TO_OIHW[k] : as4 ? TO_NCHW[k] : k;
    for (int k = 0; k < r; k++)
        od[k] = v->dims[perm[k]];
    const char *tname = as4 ? name(ox, "%s/nchw", vname) : vname;
    if (!tname) return NULL;
    const Tensor *have = init_find(ox, tname);
    if (have) return have->name;
    Tensor *t = init_new(ox, tname, DT_FLOAT, od, r);
    if (!t) return NULL;
    permute(v, ox->vars->prec, perm, (float *)t->raw_data.data);
    if (!ox->counted[id]) ox->params += v->n;
    ox->counted[id] = 1;
    return t->name;
}

/* A CONST leaf: its shape filled with f (rank 4: NCHW). */
static const char *const_tensor(Ox *ox, IrId id) {
    const IrNode *n = nd_at(ox, id);
    int64_t d[IR_MAX_RANK], od[IR_MAX_RANK], count = 1;
    int r = n->shape.rank;
    dims_of(ox, &n->shape, d);
    for (int k = 0; k < r; k++) {
        od[k] = r == 4 ? d[TO_NCHW[k]] : d[k];
        if (d[k] < 0) {
            fail(ox, "const %%%d: a constant whose shape depends on N is not exported", id);
            return NULL;
        }
        count *= d[k];
    }
    Tensor *t = init_new(ox, result(ox, id), DT_FLOAT, od, r);
    if (!t) return NULL;
    float f = (float)n->attr.u.scalar.f;
    for (int64_t i = 0; i < count; i++)
        memcpy(t->raw_data.data + 4 * i, &f, 4);
    return t->name;
}

/* The ONNX name of node id's value, making a leaf's initialiser on first use. */
static const char *value(Ox *ox, IrId id) {
    if (ox->failed) return NULL;
    if (ox->val[id]) return ox->val[id];
    const IrNode *n = nd_at(ox, id);
    const char *v = NULL;
    if (n->op == IR_OP_PARAM || n->op == IR_OP_STATE)
        v = var_tensor(ox, id, 0);
    else if (n->op == IR_OP_CONST)
        v = const_tensor(ox, id);
    else
        fail(ox, "internal: %s %%%d used before it was lowered", op_name(n), id);
    if (v && !ox->val[id]) ox->val[id] = v;
    return v;
}

/* node id as a conv2d filter, OIHW */
static const char *filter(Ox *ox, IrId id) {
    if (ox->filt[id] || ox->failed) return ox->filt[id];
    const IrNode *n = nd_at(ox, id);
    if (n->op == IR_OP_PARAM || n->op == IR_OP_STATE) {
        ox->filt[id] = var_tensor(ox, id, 1);
    } else {
        const char *x = value(ox, id);
        ox->filt[id] = x ? transpose(ox, x, name(ox, "%s/oihw", x), NCHW_TO_OIHW, 4) : NULL;
    }
    return ox->filt[id];
}

/* node id as an operand of a binary op whose result has rank `rank`. A rank-4 result is NCHW,
 * where fn's suffix broadcasting of a shorter operand ([C], [W,C], [H,W,C] of NHWC) becomes
 * ONNX's trailing broadcasting of [C,1,1], [1,C,1,W], [1,C,H,W]. */
static const char *operand(Ox *ox, IrId id, int rank) {
    const IrNode *n = nd_at(ox, id);
    int r = n->shape.rank;
    const char *x = value(ox, id);
    if (rank != 4 || r == 4 || r == 0 || !x) return x; /* the broadcast form only for a rank-4 result */
    if (ox->bc[id]) return ox->bc[id];
    const char *out = name(ox, "%s/bcast_nchw", x);
    if (r == 1) {
        NODE(ox, "Reshape", out, x, const_ints(ox, (const int64_t[]){-1, 1, 1}, 3));
    } else { /* [1,..,dims] NHWC, then NCHW */
        int64_t d[IR_MAX_RANK], d4[4] = {1, 1, 1, 1};
        dims_of(ox, &n->shape, d);
        for (int k = 0; k < r; k++)
            d4[4 - r + k] = d[k];
        const char *mid = name(ox, "%s/nhwc4", x);
        NODE(ox, "Reshape", mid, x, const_ints(ox, d4, 4));
        out = transpose(ox, mid, out, TO_NCHW, 4);
    }
    return ox->bc[id] = ox->failed ? NULL : out;
}

/* [1] int64 holding N, from the Shape of a graph input that leads with it */
static const char *batch_dim(Ox *ox) {
    if (ox->batch_dim || ox->failed) return ox->batch_dim;
    if (!ox->batch_ref) {
        fail(ox, "a shape needs N at run time, and no graph input leads with N");
        return NULL;
    }
    ox->batch_dim = name(ox, "%s/N", ox->batch_ref);
    Node *nd = NODE(ox, "Shape", ox->batch_dim, ox->batch_ref);
    attr_int(ox, nd, "start", 0);
    attr_int(ox, nd, "end", 1);
    return ox->batch_dim;
}

/* A 1-D int64 tensor holding shape s (NCHW when nchw): an initialiser, or, where a dimension is
 * N, a Concat with N taken at run time. Another dimension that depends on N is an error. */
static const char *shape_tensor(Ox *ox, const IrShape *s, int nchw, const char *base) {
    int64_t d[IR_MAX_RANK], v[IR_MAX_RANK];
    int at = -1;
    dims_of(ox, s, d);
    for (int k = 0; k < s->rank; k++) {
        int src = nchw ? (int)TO_NCHW[k] : k;
        v[k] = d[src];
        if (d[src] >= 0) continue;
        if (!is_batch(ox, s->d[src]) || at >= 0) {
            fail(ox, "%s: a shape with a dimension computed from N is not exported", base);
            return NULL;
        }
        at = k;
    }
    if (at < 0) return const_ints(ox, v, s->rank);
    const char *parts[3];
    int np = 0;
    if (at > 0) parts[np++] = const_ints(ox, v, at);
    parts[np++] = batch_dim(ox);
    if (at + 1 < s->rank) parts[np++] = const_ints(ox, v + at + 1, s->rank - at - 1);
    Node *nd = node_v(ox, "Concat", name(ox, "%s/shape", base), parts, np);
    attr_int(ox, nd, "axis", 0);
    return nd ? nd->output[0] : NULL;
}

/* ---- the lowerings, one per IR op (the LOWER table below) -------------------------------------
 * Each writes node id's value under result(ox, id); `onnx` is its table entry's op type. The
 * arguments of one NODE() call make at most one new initialiser or node, so the file's order
 * never depends on the compiler's order of evaluation. */

typedef void (*LowerFn)(Ox *ox, IrId id, const IrNode *n, const char *onnx);

static void lower_leaf(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    (void)ox, (void)id, (void)n, (void)onnx; /* graph inputs and initialisers: made where used */
}

static void lower_unary(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    NODE(ox, onnx, result(ox, id), value(ox, n->in[0]));
}

/* add sub mul div prelu, with fn's suffix broadcasting (operand()) */
static void lower_binary(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    const char *a = operand(ox, n->in[0], n->shape.rank);
    const char *b = operand(ox, n->in[1], n->shape.rank);
    NODE(ox, onnx, result(ox, id), a, b);
}

/* sub: a - b; where b is computed from variables and constants alone, a + (-b) instead: the same
 * number (negation is exact, and a + (-b) rounds as a - b), and what ONNX Runtime's fusions look
 * for, so batch norm's x - mean folds into the convolution before it */
static void lower_sub(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    const char *a = operand(ox, n->in[0], n->shape.rank);
    const char *b = operand(ox, n->in[1], n->shape.rank);
    if (!ox->konst[n->in[1]] || !b) {
        NODE(ox, "Sub", result(ox, id), a, b);
        return;
    }
    const char *neg = name(ox, "%s/neg", b);
    NODE(ox, "Neg", neg, b);
    NODE(ox, "Add", result(ox, id), a, neg);
}

/* scale adds pows: x op f */
static void lower_scalar(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    const char *x = value(ox, n->in[0]);
    const char *f = const_f(ox, n->attr.u.scalar.f);
    NODE(ox, onnx, result(ox, id), x, f);
}

static void lower_square(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    const char *x = value(ox, n->in[0]);
    NODE(ox, "Mul", result(ox, id), x, x);
}

static void lower_rsqrt(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    const char *x = value(ox, n->in[0]), *res = result(ox, id), *s = name(ox, "%s/sqrt", res);
    NODE(ox, "Sqrt", s, x);
    NODE(ox, "Reciprocal", res, s);
}

static void lower_step(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    const char *x = value(ox, n->in[0]), *zero = const_f(ox, 0), *res = result(ox, id);
    const char *gt = name(ox, "%s/greater", res);
    NODE(ox, "Greater", gt, x, zero);
    attr_int(ox, NODE(ox, "Cast", res, gt), "to", DT_FLOAT);
}

/* ReduceSum (axes an input) or ReduceMean (axes an attribute, at opset 17) over axes of x */
static const char *reduce(Ox *ox, const char *x, const int64_t *axes, int na, int mean,
                          int keepdims, const char *out) {
    Node *nd;
    if (mean) {
        nd = NODE(ox, "ReduceMean", out, x);
        attr_ints(ox, nd, "axes", axes, na);
    } else {
        const char *a = const_ints(ox, axes, na);
        nd = NODE(ox, "ReduceSum", out, x, a);
    }
    attr_int(ox, nd, "keepdims", keepdims);
    return nd ? out : NULL;
}

/* sum (mean) over the leading axes, keeping the last `keep`. The kept axes of a rank-4 value
 * come out in NCHW order: [C] as fn's, [C,W] and [C,H,W] transposed back to [W,C], [H,W,C]. */
static void lower_sum(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    const IrNode *xn = nd_at(ox, n->in[0]);
    int r = xn->shape.rank, keep = n->attr.u.reduce.keep, na = r - keep, nchw = r == 4;
    const char *x = value(ox, n->in[0]), *res = result(ox, id);
    if (na == 0) {
        NODE(ox, "Identity", res, x);
        return;
    }
    int64_t axes[IR_MAX_RANK], perm[IR_MAX_RANK];
    for (int a = 0; a < na; a++)
        axes[a] = nchw ? NCHW_AXIS[a] : a;
    for (int a = 1; a < na; a++) /* ascending */
        for (int b = a; b > 0 && axes[b - 1] > axes[b]; b--) {
            int64_t t = axes[b];
            axes[b] = axes[b - 1];
            axes[b - 1] = t;
        }
    int identity = 1;
    for (int i = 0; i < keep; i++) { /* kept axis i sits at the rank of its NCHW position */
        perm[i] = 0;
        for (int j = 0; j < keep; j++)
            perm[i] += nchw && NCHW_AXIS[na + j] < NCHW_AXIS[na + i];
        if (!nchw) perm[i] = i;
        identity &= perm[i] == i;
    }
    int to4 = keep == 4; /* a rank-5 or -6 input (fn's order) keeping 4: NHWC -> NCHW */
    const char *red = identity && !to4 ? res : name(ox, "%s/reduced", res);
    red = reduce(ox, x, axes, na, n->attr.u.reduce.mean, 0, red);
    if (!identity)
        transpose(ox, red, res, perm, keep);
    else if (to4)
        transpose(ox, red, res, TO_NCHW, 4);
}

/* sum (mean) over the last axis: C, axis 1, of a rank-4 value */
static void lower_sumlast(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    int r = nd_at(ox, n->in[0])->shape.rank, to4 = r == 5;
    int64_t axis = r == 4 ? 1 : r - 1;
    const char *x = value(ox, n->in[0]), *res = result(ox, id);
    const char *red =
        reduce(ox, x, &axis, 1, n->attr.u.reduce.mean, 0, to4 ? name(ox, "%s/nhwc", res) : res);
    if (to4) transpose(ox, red, res, TO_NCHW, 4);
}

/* bcast: Expand to the target shape (N from a graph input's Shape where the target has it);
 * with mean, divided by the number of copies */
static void lower_bcast(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    const IrNode *xn = nd_at(ox, n->in[0]);
    int r = xn->shape.rank, R = n->shape.rank, mean = n->attr.u.reduce.mean;
    const char *res = result(ox, id);
    const char *x = R == 4 ? operand(ox, n->in[0], 4) : value(ox, n->in[0]);
    if (R != 4 && r == 4) x = transpose(ox, x, name(ox, "%s/nhwc", res), TO_NHWC, 4);
    const char *shape = shape_tensor(ox, &n->shape, R == 4, res);
    const char *ex = mean ? name(ox, "%s/expand", res) : res;
    NODE(ox, "Expand", ex, x, shape);
    if (!mean) return;
    int64_t d[IR_MAX_RANK], copies = 1;
    dims_of(ox, &n->shape, d);
    for (int k = 0; k < R - r; k++)
        copies *= d[k];
    if (copies <= 0) {
        fail(ox, "bcast %%%d: a mean over copies counted by N is not exported", id);
        return;
    }
    const char *c = const_f(ox, (double)copies);
    NODE(ox, "Div", res, ex, c);
}

/* bcastlast: a new last axis of size L (for a rank-4 result, NCHW's axis 1): Unsqueeze, then
 * Expand against ones and L (bidirectional, so N is never needed); with mean, divided by L */
static void lower_bcastlast(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    int r = nd_at(ox, n->in[0])->shape.rank, R = r + 1, mean = n->attr.u.reduce.mean;
    int64_t d[IR_MAX_RANK], ones[IR_MAX_RANK], axis = R == 4 ? 1 : r;
    dims_of(ox, &n->shape, d);
    for (int k = 0; k < R; k++)
        ones[k] = 1;
    ones[axis] = d[R - 1];
    const char *x = value(ox, n->in[0]), *res = result(ox, id);
    if (r == 4) x = transpose(ox, x, name(ox, "%s/nhwc", res), TO_NHWC, 4);
    const char *ax = const_ints(ox, &axis, 1), *u = name(ox, "%s/unsqueeze", res);
    NODE(ox, "Unsqueeze", u, x, ax);
    const char *shape = const_ints(ox, ones, R), *ex = mean ? name(ox, "%s/expand", res) : res;
    NODE(ox, "Expand", ex, u, shape);
    if (!mean) return;
    const char *c = const_f(ox, (double)d[R - 1]);
    NODE(ox, "Div", res, ex, c);
}

/* A Reshape's target, in the order of perm (NULL: fn's): 0 copies the input's leading N, -1
 * stands for the one other dimension computed from N. */
static const char *reshape_target(Ox *ox, const IrNode *n, const IrNode *xn, const int64_t *perm) {
    int64_t d[IR_MAX_RANK], v[IR_MAX_RANK];
    int inferred = 0;
    dims_of(ox, &n->shape, d);
    for (int k = 0; k < n->shape.rank; k++) {
        int src = perm ? (int)perm[k] : k;
        v[k] = d[src];
        if (v[k] >= 0) continue;
        if (k == 0 && src == 0 && is_batch(ox, n->shape.d[0]) && xn->shape.rank > 0 &&
            is_batch(ox, xn->shape.d[0])) {
            v[k] = 0;
        } else if (!inferred++) {
            v[k] = -1;
        } else {
            fail(ox, "reshape: two dimensions of the target are computed from N");
            return NULL;
        }
    }
    return const_ints(ox, v, n->shape.rank);
}

/* reshape: fn's element order is NHWC's, so a rank-4 input is transposed to NHWC first and a
 * rank-4 result made NHWC, then transposed to NCHW (neither where only axes of 1 would move) */
static void lower_reshape(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    const IrNode *xn = nd_at(ox, n->in[0]);
    int64_t xd[IR_MAX_RANK], td[IR_MAX_RANK], xnchw[4];
    dims_of(ox, &xn->shape, xd);
    dims_of(ox, &n->shape, td);
    const char *x = value(ox, n->in[0]), *res = result(ox, id);
    if (xn->shape.rank == 4) {
        for (int k = 0; k < 4; k++)
            xnchw[k] = xd[TO_NCHW[k]];
        if (!moves_only_ones(xnchw, TO_NHWC, 4))
            x = transpose(ox, x, name(ox, "%s/nhwc", res), TO_NHWC, 4);
    }
    int out4 = n->shape.rank == 4, direct = out4 && moves_only_ones(td, TO_NCHW, 4);
    const char *target = reshape_target(ox, n, xn, direct ? TO_NCHW : NULL);
    const char *out = out4 && !direct ? name(ox, "%s/nhwc_out", res) : res;
    NODE(ox, "Reshape", out, x, target);
    if (out4 && !direct) transpose(ox, out, res, TO_NCHW, 4);
}

static void lower_concat(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    const char *in[IR_MAX_IN];
    for (int k = 0; k < n->n_in; k++)
        in[k] = value(ox, n->in[k]);
    int a = n->attr.u.axis.axis;
    attr_int(ox, node_v(ox, "Concat", result(ox, id), in, n->n_in), "axis",
             n->shape.rank == 4 ? NCHW_AXIS[a] : a);
}

static void lower_slice(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    const IrAxisAttr *s = &n->attr.u.axis;
    int64_t start = s->start, end = (int64_t)s->start + s->len,
            axis = n->shape.rank == 4 ? NCHW_AXIS[s->axis] : s->axis;
    const char *x = value(ox, n->in[0]);
    const char *a = const_ints(ox, &start, 1);
    const char *b = const_ints(ox, &end, 1);
    const char *c = const_ints(ox, &axis, 1);
    NODE(ox, "Slice", result(ox, id), x, a, b, c);
}

static void lower_matmul(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    static const int64_t T[2] = {1, 0};
    const char *a = value(ox, n->in[0]), *b = value(ox, n->in[1]), *res = result(ox, id);
    if (n->attr.u.matmul.ta) a = transpose(ox, a, name(ox, "%s/a_t", res), T, 2);
    if (n->attr.u.matmul.tb) b = transpose(ox, b, name(ox, "%s/b_t", res), T, 2);
    NODE(ox, "MatMul", res, a, b);
}

/* kernel_shape, strides and pads of a conv or pool on x [N,H,W,C]: SAME pads as
 * codegen/ref/window.c computes them (half before, the odd one after), VALID none */
static void window_attrs(Ox *ox, Node *nd, const IrNode *x, const IrWindowAttr *w) {
    int64_t d[IR_MAX_RANK], k[2] = {w->kh, w->kw}, s[2] = {w->sh, w->sw}, pads[4] = {0, 0, 0, 0};
    dims_of(ox, &x->shape, d);
    if (!nd) return;
    for (int a = 0; a < 2 && w->same; a++) {
        int64_t in = d[1 + a], o = (in + s[a] - 1) / s[a], total = (o - 1) * s[a] + k[a] - in;
        if (in < 0) {
            fail(ox, "%s: a window over a size computed from N is not exported", nd->name);
            return;
        }
        if (total < 0) total = 0;
        pads[a] = total / 2;
        pads[a + 2] = total - total / 2;
    }
    attr_ints(ox, nd, "kernel_shape", k, 2);
    attr_ints(ox, nd, "strides", s, 2);
    attr_ints(ox, nd, "pads", pads, 4);
}

static void lower_conv(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    const char *x = value(ox, n->in[0]), *w = filter(ox, n->in[1]);
    window_attrs(ox, NODE(ox, "Conv", result(ox, id), x, w), nd_at(ox, n->in[0]),
                 &n->attr.u.window);
}

static void lower_maxpool(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    window_attrs(ox, NODE(ox, "MaxPool", result(ox, id), value(ox, n->in[0])), nd_at(ox, n->in[0]),
                 &n->attr.u.window);
}

/* global: GlobalAveragePool; else AveragePool whose divisor counts only cells inside the map */
static void lower_avgpool(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    const char *x = value(ox, n->in[0]);
    if (n->attr.u.window.kh == 0) {
        NODE(ox, "GlobalAveragePool", result(ox, id), x);
        return;
    }
    Node *nd = NODE(ox, "AveragePool", result(ox, id), x);
    window_attrs(ox, nd, nd_at(ox, n->in[0]), &n->attr.u.window);
    attr_int(ox, nd, "count_include_pad", 0);
}

static int64_t last_axis(const IrNode *n) {
    return n->shape.rank == 4 ? 1 : n->shape.rank - 1;
}

static void lower_softmax(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    attr_int(ox, NODE(ox, "Softmax", result(ox, id), value(ox, n->in[0])), "axis", last_axis(n));
}

/* x / sqrt(max(sum_last(x^2), f)), as ops.def defines l2norm */
static void lower_l2norm(Ox *ox, IrId id, const IrNode *n, const char *onnx) {
    int64_t axis = last_axis(n);
    const char *x = value(ox, n->in[0]), *res = result(ox, id);
    const char *sq = name(ox, "%s/square", res), *ss = name(ox, "%s/sumsq", res);
    const char *mx = name(ox, "%s/max", res), *norm = name(ox, "%s/norm", res);
    NODE(ox, "Mul", sq, x, x);
    ss = reduce(ox, sq, &axis, 1, 0, 1, ss);
    const char *eps = const_f(ox, n->attr.u.scalar.f);
    NODE(ox, "Max", mx, ss, eps);
    NODE(ox, "Sqrt", norm, mx);
    NODE(ox, "Div", res, x, norm);
}

/* Every IR op's ONNX lowering; an op without one (fn NULL) is not exported. */
static const struct {
    LowerFn fn;
    const char *onnx; /* the op type lower_unary, lower_binary and lower_scalar emit */
} LOWER[IR_OP_COUNT] = {
    [IR_OP_INPUT] = {lower_leaf, "graph input (+ Transpose NHWC -> NCHW)"},
    [IR_OP_PARAM] = {lower_leaf, "initializer"},
    [IR_OP_STATE] = {lower_leaf, "initializer"},
    [IR_OP_CONST] = {lower_leaf, "initializer"},
    [IR_OP_ADD] = {lower_binary, "Add"},
    [IR_OP_SUB] = {lower_sub, "Sub | Neg, Add"},
    [IR_OP_MUL] = {lower_binary, "Mul"},
    [IR_OP_DIV] = {lower_binary, "Div"},
    [IR_OP_PRELU] = {lower_binary, "PRelu"},
    [IR_OP_NEG] = {lower_unary, "Neg"},
    [IR_OP_RELU] = {lower_unary, "Relu"},
    [IR_OP_STEP] = {lower_step, "Greater, Cast"},
    [IR_OP_SQUARE] = {lower_square, "Mul"},
    [IR_OP_SQRT] = {lower_unary, "Sqrt"},
    [IR_OP_RSQRT] = {lower_rsqrt, "Sqrt, Reciprocal"},
    [IR_OP_EXP] = {lower_unary, "Exp"},
    [IR_OP_LOG] = {lower_unary, "Log"},
    [IR_OP_ABS] = {lower_unary, "Abs"},
    [IR_OP_SIGN] = {lower_unary, "Sign"},
    [IR_OP_SCALE] = {lower_scalar, "Mul"},
    [IR_OP_ADDS] = {lower_scalar, "Add"},
    [IR_OP_POWS] = {lower_scalar, "Pow"},
    [IR_OP_SUM] = {lower_sum, "ReduceSum | ReduceMean (+ Transpose)"},
    [IR_OP_SUMLAST] = {lower_sumlast, "ReduceSum | ReduceMean"},
    [IR_OP_BCAST] = {lower_bcast, "Expand (+ Shape, Concat; Div)"},
    [IR_OP_BCASTLAST] = {lower_bcastlast, "Unsqueeze, Expand (+ Div)"},
    [IR_OP_RESHAPE] = {lower_reshape, "Reshape (+ Transpose)"},
    [IR_OP_CONCAT] = {lower_concat, "Concat"},
    [IR_OP_SLICE] = {lower_slice, "Slice"},
    [IR_OP_MATMUL] = {lower_matmul, "MatMul (+ Transpose)"},
    [IR_OP_CONV2D] = {lower_conv, "Conv"},
    [IR_OP_MAXPOOL] = {lower_maxpool, "MaxPool"},
    [IR_OP_AVGPOOL] = {lower_avgpool, "GlobalAveragePool | AveragePool"},
    [IR_OP_SOFTMAX] = {lower_softmax, "Softmax"},
    [IR_OP_L2NORM] = {lower_l2norm, "Mul, ReduceSum, Max, Sqrt, Div"},
};

/* ---- the phases ------------------------------------------------------------------------------ */

/* ox's tables for src's graph; -1 out of memory (ox fails; ox_free frees what was made). */
static int ox_init(Ox *ox, const IxOnnxSource *src, const IxOnnxOpts *o, RtStatus *st) {
    memset(ox, 0, sizeof *ox);
    const IrGraph *g = src->g;
    size_t n = (size_t)g->n_nodes + 1;
    ox->g = g;
    ox->vars = src->vars;
    ox->st = st;
    ox->input_nchw = o->input_nchw;
    ox->sym = fn_calloc((size_t)g->n_syms + 1, sizeof *ox->sym);
    ox->reach = fn_calloc(n, 1);
    ox->counted = fn_calloc(n, 1);
    ox->konst = fn_calloc(n, 1);
    ox->val = fn_calloc(n, sizeof *ox->val);
    ox->filt = fn_calloc(n, sizeof *ox->filt);
    ox->bc = fn_calloc(n, sizeof *ox->bc);
    if (!ox->sym || !ox->reach || !ox->counted || !ox->konst || !ox->val || !ox->filt || !ox->bc)
        return oom(ox), -1;
    memcpy(ox->sym, src->sym, (size_t)g->n_syms * sizeof *ox->sym);
    ox->batch = ir_sym_index(g, "N");
    if (ox->batch >= 0) ox->sym[ox->batch] = 1; /* never read for a shape: dims_of says -1 */
    for (IrId id = 0; id < g->n_nodes; id++) { /* ids are a topological order */
        const IrNode *nd = &g->nodes[id];
        int k = nd->op != IR_OP_INPUT && !(ir_op_info[nd->op].flags & IR_F_RANDOM);
        for (int i = 0; i < nd->n_in; i++)
            k &= ox->konst[nd->in[i]];
        ox->konst[id] = (unsigned char)k;
    }
    return 0;
}

/* o's outputs, or "embeddings", or every output of the graph; an unknown name lists the known */
static int choose_outputs(Ox *ox, const IxOnnxOpts *o) {
    const IrGraph *g = ox->g;
    int emb = ir_output(g, "embeddings") != IR_NONE;
    int n = o->n_outputs > 0 ? o->n_outputs : emb ? 1 : g->n_outputs;
    ox->out_names = fn_calloc((size_t)n + 1, sizeof *ox->out_names);
    ox->out_ids = fn_calloc((size_t)n + 1, sizeof *ox->out_ids);
    if (!ox->out_names || !ox->out_ids) return oom(ox), -1;
    for (int i = 0; i < n; i++) {
        const char *nm = o->n_outputs > 0 ? o->outputs[i]
                         : emb            ? "embeddings"
                                          : ir_str(g, g->outputs[i].name);
        IrId id = ir_output(g, nm);
        for (int j = 0; j < i; j++)
            if (!strcmp(ox->out_names[j], nm))
                return fail(ox, "output \"%s\" is asked for twice", nm), -1;
        if (id == IR_NONE) {
            char known[512] = "";
            for (int k = 0, at = 0; k < g->n_outputs && at < (int)sizeof known; k++)
                at += snprintf(known + at, sizeof known - (size_t)at, "%s%s", k ? ", " : "",
                               ir_str(g, g->outputs[k].name));
            return fail(ox, "unknown output \"%s\" (the graph's outputs: %s)", nm, known), -1;
        }
        ox->out_names[ox->n_out] = nm;
        ox->out_ids[ox->n_out++] = id;
    }
    if (ox->n_out == 0) return fail(ox, "the graph has no outputs"), -1;
    return 0;
}

/* The nodes the outputs read; any of them without a lowering is the error. */
static int mark_reachable(Ox *ox) {
    const IrGraph *g = ox->g;
    for (int i = 0; i < ox->n_out; i++)
        ox->reach[ox->out_ids[i]] = 1;
    for (IrId id = g->n_nodes - 1; id >= 0; id--)
        for (int k = 0; ox->reach[id] && k < g->nodes[id].n_in; k++)
            ox->reach[g->nodes[id].in[k]] = 1;
    for (IrId id = 0; id < g->n_nodes; id++) {
        const IrNode *n = &g->nodes[id];
        if (!ox->reach[id] || LOWER[n->op].fn) continue;
        const char *scope = n->scope > 0 ? ir_str(g, n->scope) : "";
        fail(ox,
             "op %s (node %%%d%s%s) has no ONNX lowering: only the forward ops of an eval graph "
             "are exported",
             op_name(n), id, scope[0] ? " in " : "", scope);
        return -1;
    }
    return 0;
}

/* An output computed by a node is written under its own name; one that is a leaf, a second name
 * for the same value, or a rank-4 value given back NHWC gets an Identity or Transpose instead. */
static void name_outputs(Ox *ox) {
    for (int i = 0; i < ox->n_out; i++) {
        const IrNode *n = nd_at(ox, ox->out_ids[i]);
        int leaf = ir_op_info[n->op].cls == IR_CLASS_SOURCE;
        if (!leaf && !ox->val[ox->out_ids[i]] && (n->shape.rank != 4 || ox->input_nchw))
            ox->val[ox->out_ids[i]] = ox->out_names[i];
    }
}

/* The dimensions of node n into sh (N as dim_param "N"); -1 out of memory, what was made
 * left in sh for its owner to free. */
static int value_shape(Ox *ox, Fn__Onnx__TensorShapeProto *sh, const IrNode *n, int nchw) {
    if (!(sh->dim = fn_calloc((size_t)n->shape.rank + 1, sizeof *sh->dim))) return -1;
    for (int k = 0; k < n->shape.rank; k++) {
        IrDim d = n->shape.d[nchw && n->shape.rank == 4 ? TO_NCHW[k] : k];
        Fn__Onnx__TensorShapeProto__Dimension *dm = fn_malloc(sizeof *dm);
        if (!dm) return -1;
        fn__onnx__tensor_shape_proto__dimension__init(dm);
        sh->dim[sh->n_dim++] = dm;
        char expr[128] = "N";
        if (uses_batch(ox, d)) {
            if (!is_batch(ox, d)) ir_dim_format(ox->g, d, expr, sizeof expr);
            if (!(dm->dim_param = fn_strdup(expr))) return -1;
            dm->value_case = FN__ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        } else {
            dm->value_case = FN__ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dm->dim_value = ir_dim_eval(ox->g, d, ox->sym);
        }
    }
    return 0;
}

/* A graph input or output's type: float32 (int32 for fn's int inputs), N as dim_param "N".
 * NULL out of memory (ox fails). */
static ValueInfo *value_info(Ox *ox, const char *nm, const IrNode *n, int nchw) {
    ValueInfo *vi = fn_malloc(sizeof *vi);
    if (!vi) return oom(ox), NULL;
    fn__onnx__value_info_proto__init(vi);
    Fn__Onnx__TypeProto *tp = vi->type = fn_malloc(sizeof *tp);
    Fn__Onnx__TypeProto__Tensor *tt = tp ? fn_malloc(sizeof *tt) : NULL;
    if (tp) fn__onnx__type_proto__init(tp);
    if (tt) { /* the oneof's case set only with its member there, for free_unpacked */
        fn__onnx__type_proto__tensor__init(tt);
        tp->value_case = FN__ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
        tp->tensor_type = tt;
        tt->has_elem_type = 1;
        tt->elem_type = n->dtype == IR_DT_INT32 ? DT_INT32 : DT_FLOAT;
        if ((tt->shape = fn_malloc(sizeof *tt->shape))) fn__onnx__tensor_shape_proto__init(tt->shape);
    }
    vi->name = fn_strdup(nm);
    if (!vi->name || !tt || !tt->shape || value_shape(ox, tt->shape, n, nchw) < 0) {
        fn__onnx__value_info_proto__free_unpacked(vi, NULL);
        return oom(ox), NULL;
    }
    return vi;
}

/* The graph inputs the outputs read, in id order; an NHWC image is transposed to NCHW. */
static void add_inputs(Ox *ox) {
    for (IrId id = 0; id < ox->g->n_nodes; id++) {
        const IrNode *n = nd_at(ox, id);
        if (!ox->reach[id] || n->op != IR_OP_INPUT) continue;
        const char *nm = ir_str(ox->g, n->attr.u.leaf.name);
        int r4 = n->shape.rank == 4;
        RESERVE(ox, ox->inputs, ox->n_inputs, ox->cap_inputs);
        ValueInfo *vi = ox->failed ? NULL : value_info(ox, nm, n, r4 && ox->input_nchw);
        if (!vi) return;
        ox->inputs[ox->n_inputs++] = vi;
        if (!ox->batch_ref && n->shape.rank > 0 && is_batch(ox, n->shape.d[0])) ox->batch_ref = nm;
        ox->val[id] =
            r4 && !ox->input_nchw ? transpose(ox, nm, name(ox, "%s/nchw", nm), TO_NCHW, 4) : nm;
    }
}

static int lower_all(Ox *ox) {
    for (IrId id = 0; id < ox->g->n_nodes && !ox->failed; id++) {
        const IrNode *n = nd_at(ox, id);
        if (ox->reach[id]) LOWER[n->op].fn(ox, id, n, LOWER[n->op].onnx);
    }
    return ox->failed ? -1 : 0;
}

static int add_outputs(Ox *ox) {
    for (int i = 0; i < ox->n_out && !ox->failed; i++) {
        const IrNode *n = nd_at(ox, ox->out_ids[i]);
        const char *nm = ox->out_names[i], *v = value(ox, ox->out_ids[i]);
        int r4 = n->shape.rank == 4;
        if (r4 && !ox->input_nchw)
            transpose(ox, v, nm, TO_NHWC, 4);
        else if (v && strcmp(v, nm))
            NODE(ox, "Identity", nm, v);
        RESERVE(ox, ox->outputs, ox->n_outputs, ox->cap_outputs);
        ValueInfo *vi = ox->failed ? NULL : value_info(ox, nm, n, r4 && ox->input_nchw);
        if (vi) ox->outputs[ox->n_outputs++] = vi;
    }
    return ox->failed ? -1 : 0;
}

/* The ModelProto around the graph built, serialised. */
static int pack(Ox *ox, const IxOnnxOpts *o, unsigned char **bytes, size_t *len) {
    Fn__Onnx__ModelProto m = FN__ONNX__MODEL_PROTO__INIT;
    Fn__Onnx__GraphProto g = FN__ONNX__GRAPH_PROTO__INIT;
    Fn__Onnx__OperatorSetIdProto opset = FN__ONNX__OPERATOR_SET_ID_PROTO__INIT,
                                 *opsets[1] = {&opset};
    opset.domain = (char *)"";
    opset.has_version = 1;
    opset.version = IX_ONNX_OPSET;
    m.has_ir_version = 1;
    m.ir_version = IX_ONNX_IR_VERSION;
    m.n_opset_import = 1;
    m.opset_import = opsets;
    m.producer_name = (char *)"fn";
    m.producer_version = (char *)FN_VERSION;
    m.graph = &g;
    g.name = (char *)(o->graph_name ? o->graph_name : "fn");
    g.n_node = ox->n_nodes, g.node = ox->nodes;
    g.n_initializer = ox->n_inits, g.initializer = ox->inits;
    g.n_input = ox->n_inputs, g.input = ox->inputs;
    g.n_output = ox->n_outputs, g.output = ox->outputs;
    size_t n = fn__onnx__model_proto__get_packed_size(&m);
    *bytes = fn_malloc(n + 1);
    if (!*bytes) return rt_fail(ox->st, "out of memory for the %zu-byte model", n);
    *len = fn__onnx__model_proto__pack(&m, *bytes);
    return 0;
}

static void ox_free(Ox *ox) {
    for (size_t i = 0; i < ox->n_nodes; i++)
        fn__onnx__node_proto__free_unpacked(ox->nodes[i], NULL);
    for (size_t i = 0; i < ox->n_inits; i++)
        fn__onnx__tensor_proto__free_unpacked(ox->inits[i], NULL);
    for (size_t i = 0; i < ox->n_inputs; i++)
        fn__onnx__value_info_proto__free_unpacked(ox->inputs[i], NULL);
    for (size_t i = 0; i < ox->n_outputs; i++)
        fn__onnx__value_info_proto__free_unpacked(ox->outputs[i], NULL);
    for (size_t i = 0; i < ox->n_pool; i++)
        free(ox->pool[i]);
    free(ox->nodes), free(ox->inits), free(ox->inputs), free(ox->outputs), free(ox->pool);
    free(ox->sym), free(ox->reach), free(ox->counted), free(ox->konst), free(ox->val),
        free(ox->filt), free(ox->bc);
    free(ox->out_names), free(ox->out_ids);
}

/* The pipeline: outputs, reachable nodes, inputs, each node lowered, outputs, the model; then
 * the bytes are checked as a reader would (onnx_check.c). */
int ix_onnx_export(const IxOnnxSource *src, const IxOnnxOpts *o, unsigned char **bytes, size_t *len,
                   IxOnnxInfo *info, RtStatus *st) {
    static const IxOnnxOpts defaults;
    IxOnnxInfo own;
    Ox ox;
    *bytes = NULL;
    *len = 0;
    o = o ? o : &defaults;
    info = info ? info : &own;
    int rc = ox_init(&ox, src, o, st);
    if (rc == 0) rc = choose_outputs(&ox, o);
    if (rc == 0) rc = mark_reachable(&ox);
    if (rc == 0) {
        name_outputs(&ox);
        add_inputs(&ox);
        rc = lower_all(&ox);
    }
    if (rc == 0) rc = add_outputs(&ox);
    if (rc == 0) rc = pack(&ox, o, bytes, len);
    if (rc == 0 && ix_onnx_check(*bytes, *len, info, st) < 0) {
        char why[900];
        snprintf(why, sizeof why, "%s", st ? st->msg : "");
        rc = strstr(why, "out of memory") ? rt_fail(st, "%s", why) /* the check's, not a fault */
                                          : rt_fail(st, "internal: the exported model fails its check: %s", why);
    }
    info->parameters = ox.params;
    if (rc < 0) {
        free(*bytes);
        *bytes = NULL;
        *len = 0;
    }
    ox_free(&ox);
    return rc;
}

int ix_onnx_write(const char *path, const unsigned char *bytes, size_t len, RtStatus *st) {
    char tmp[4096];
    if (strlen(path) > sizeof tmp - 32) return rt_fail(st, "%.64s...: path too long", path);
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return rt_fail(st, "cannot write %s: %s", tmp, strerror(errno));
    int ok = fwrite(bytes, 1, len, f) == len;
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    if (fclose(f) != 0 && ok) ok = 0, e = errno;
    if (!ok) {
        unlink(tmp);
        return rt_fail(st, "cannot write %s: %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return rt_fail(st, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    return 0;
}
