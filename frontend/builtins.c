/* The builtin functions: the DSL's primitive operations, each lowered to one or a few IR nodes.
 *
 * What this is: the table of builtins (name, parameters, lowering function) and typed argument
 * readers that report located errors ("argument 'x' of relu() must be a tensor, got a string").
 * Shape errors come from the IR constructors (g->err) and are reported at the call.
 * What this is not: composite layers (conv+BN+ReLU, fully connected, PReLU...), which are written
 * in the DSL prelude models/lib/.
 */
#define FE_INTERNAL
#include "frontend/fe.h"

#include <math.h>
#include <string.h>

/* ---- argument readers: 1 ok, 0 after reporting (or on a silent error value) -------------- */
static const char *pname(const FeArgs *a, int i) {
    const char *p = fe_builtins[a->builtin].params[i];
    return p[0] == '?' ? p + 1 : p;
}

static FeLoc arg_loc(const FeArgs *a, int i) {
    return a->given[i] ? a->vloc[i] : a->loc;
}

static int bad_arg(FeCtx *c, const FeArgs *a, int i, const char *want) {
    fe_error(c, arg_loc(a, i), "argument '%s' of %s() must be %s, got %s", pname(a, i), a->name,
             want, fe_kind_name(a->v[i].kind));
    return 0;
}

static int arg_tensor(FeCtx *c, const FeArgs *a, int i, IrId *out) {
    *out = IR_NONE;
    if (a->v[i].kind != FE_V_TENSOR) return bad_arg(c, a, i, "a tensor");
    *out = a->v[i].t;
    return 1;
}

static int arg_int(FeCtx *c, const FeArgs *a, int i, int64_t dflt, int64_t *out) {
    *out = dflt;
    if (!a->given[i]) return 1;
    if (a->v[i].kind != FE_V_INT || a->v[i].d != IR_NONE) return bad_arg(c, a, i, "a constant int");
    *out = a->v[i].i;
    return 1;
}

static int arg_float(FeCtx *c, const FeArgs *a, int i, double dflt, double *out) {
    const FeValue *v = &a->v[i];
    *out = dflt;
    if (!a->given[i]) return 1;
    if (v->kind == FE_V_FLOAT)
        *out = v->f;
    else if (v->kind == FE_V_INT && v->d == IR_NONE)
        *out = (double)v->i;
    else
        return bad_arg(c, a, i, "a number");
    if (!isfinite(*out)) { /* literals and arithmetic are finite already: kept as a guard */
        fe_error(c, arg_loc(a, i), "argument '%s' of %s() must be finite", pname(a, i), a->name);
        return 0;
    }
    return 1;
}

static int arg_bool(FeCtx *c, const FeArgs *a, int i, int dflt, int *out) {
    *out = dflt;
    if (!a->given[i]) return 1;
    if (a->v[i].kind == FE_V_BOOL)
        *out = (int)a->v[i].i;
    else
        return bad_arg(c, a, i, "a bool");
    return 1;
}

static int arg_str(FeCtx *c, const FeArgs *a, int i, const char *dflt, const char **out) {
    *out = dflt ? dflt : "";
    if (!a->given[i]) return 1;
    if (a->v[i].kind == FE_V_STR)
        *out = a->v[i].s;
    else
        return bad_arg(c, a, i, "a string");
    return 1;
}

/* An int or a list of two ints (window and stride sizes), all positive constants. */
static int arg_pair(FeCtx *c, const FeArgs *a, int i, int dflt, int out[2]) {
    const FeValue *v = &a->v[i];
    out[0] = out[1] = dflt;
    if (!a->given[i]) return 1;
    int64_t k[2];
    if (v->kind == FE_V_INT && v->d == IR_NONE) {
        k[0] = k[1] = v->i;
    } else if (v->kind == FE_V_LIST && v->n == 2 && v->items[0].kind == FE_V_INT &&
               v->items[0].d == IR_NONE && v->items[1].kind == FE_V_INT &&
               v->items[1].d == IR_NONE) {
        k[0] = v->items[0].i;
        k[1] = v->items[1].i;
    } else {
        return bad_arg(c, a, i, "a constant int or a list of two");
    }
    if (k[0] < 1 || k[1] < 1 || k[0] > 1 << 20 || k[1] > 1 << 20) {
        fe_error(c, arg_loc(a, i), "argument '%s' of %s() must be positive", pname(a, i), a->name);
        return 0;
    }
    out[0] = (int)k[0];
    out[1] = (int)k[1];
    return 1;
}

static int arg_padding(FeCtx *c, const FeArgs *a, int i, int *same) {
    const char *s;
    *same = 1;
    if (!arg_str(c, a, i, "SAME", &s)) return 0;
    if (strcmp(s, "SAME") == 0)
        *same = 1;
    else if (strcmp(s, "VALID") == 0)
        *same = 0;
    else {
        fe_error(c, arg_loc(a, i), "padding must be \"SAME\" or \"VALID\", got \"%s\"", s);
        return 0;
    }
    return 1;
}

/* A list of ints (constant >= 0 or symbolic). allow_infer: one entry may be -1. */
static int arg_shape(FeCtx *c, const FeArgs *a, int i, IrShape *out, int allow_infer,
                     int *infer_at) {
    const FeValue *v = &a->v[i];
    memset(out, 0, sizeof *out);
    if (infer_at) *infer_at = -1;
    if (v->kind != FE_V_LIST) return bad_arg(c, a, i, "a list of ints");
    if (v->n > IR_MAX_RANK) {
        fe_error(c, arg_loc(a, i), "a shape has at most %d dims, got %d", IR_MAX_RANK, v->n);
        return 0;
    }
    out->rank = v->n;
    for (int k = 0; k < v->n; k++) {
        const FeValue *d = &v->items[k];
        if (d->kind != FE_V_INT) {
            fe_error(c, arg_loc(a, i), "shape entry %d must be an int, got %s", k,
                     fe_kind_name(d->kind));
            return 0;
        }
        if (d->d == IR_NONE && d->i < 0) {
            if (allow_infer && d->i == -1 && *infer_at < 0) {
                *infer_at = k;
                out->d[k] = ir_dim_const(c->g, 1);
                continue;
            }
            fe_error(c, arg_loc(a, i), "shape entry %d is negative (%lld)", k, (long long)d->i);
            return 0;
        }
        out->d[k] = fe_dim_of(c, d);
    }
    return 1;
}

static FeValue made(FeCtx *c, const FeArgs *a, IrId id) {
    if (id == IR_NONE) {
        fe_ir_error(c, a->loc, a->name);
        return fe_err();
    }
    return fe_tensor(id);
}

static const IrShape *shape_of(FeCtx *c, IrId id) {
    return &c->g->nodes[id].shape;
}

/* ---- variables and inputs ----------------------------------------------------------------- */
static const char *full_name(FeCtx *c, const char *name) {
    size_t n = c->scope_len + strlen(name) + 2;
    char *s = fe_alloc(c, n);
    if (!s) return NULL; /* out of memory: reported */
    snprintf(s, n, "%s%s%s", c->scope, c->scope_len ? "/" : "", name);
    return s;
}

static int name_taken(FeCtx *c, const FeArgs *a, const char *name) {
    if (ir_find_leaf(c->g, IR_OP_PARAM, name) == IR_NONE &&
        ir_find_leaf(c->g, IR_OP_STATE, name) == IR_NONE &&
        ir_find_leaf(c->g, IR_OP_INPUT, name) == IR_NONE)
        return 0;
    fe_error(c, a->loc, "a variable named '%s' already exists", name);
    return 1;
}

static int arg_init(FeCtx *c, const FeArgs *a, int i, IrInit dflt, IrInit *init, double *value) {
    const FeValue *v = &a->v[i];
    *value = 0;
    *init = dflt;
    if (!a->given[i]) return 1;
    if (v->kind == FE_V_FLOAT || (v->kind == FE_V_INT && v->d == IR_NONE)) {
        *init = IR_INIT_CONST;
        *value = v->kind == FE_V_FLOAT ? v->f : (double)v->i;
    } else if (v->kind == FE_V_STR && strcmp(v->s, "glorot_uniform") == 0)
        *init = IR_INIT_GLOROT_UNIFORM;
    else if (v->kind == FE_V_STR && strcmp(v->s, "zeros") == 0)
        *init = IR_INIT_ZEROS;
    else if (v->kind == FE_V_STR && strcmp(v->s, "ones") == 0)
        *init = IR_INIT_ONES;
    else if (v->kind == FE_V_STR) {
        fe_error(c, arg_loc(a, i),
                 "init must be \"glorot_uniform\", \"zeros\", \"ones\" or a number, got \"%s\"",
                 v->s);
        return 0;
    } else {
        return bad_arg(c, a, i, "a string or a number");
    }
    return 1;
}

/* input(name, shape, dtype="float") */
static FeValue b_input(FeCtx *c, FeArgs *a) {
    const char *name, *dt;
    IrShape s;
    if (!arg_str(c, a, 0, NULL, &name) || !arg_shape(c, a, 1, &s, 0, NULL) ||
        !arg_str(c, a, 2, "float", &dt))
        return fe_err();
    IrDtype dtype;
    if (strcmp(dt, "float") == 0)
        dtype = IR_DT_FLOAT;
    else if (strcmp(dt, "int32") == 0)
        dtype = IR_DT_INT32;
    else {
        fe_error(c, arg_loc(a, 2), "dtype must be \"float\" or \"int32\", got \"%s\"", dt);
        return fe_err();
    }
    if (name_taken(c, a, name)) return fe_err();
    return made(c, a, ir_leaf(c->g, IR_OP_INPUT, name, dtype, &s, IR_INIT_ZEROS, 0, 0));
}

/* param(name, shape, init="glorot_uniform", decay=false) */
static FeValue b_param(FeCtx *c, FeArgs *a) {
    const char *name;
    IrShape s;
    IrInit init;
    double value;
    int decay;
    if (!arg_str(c, a, 0, NULL, &name) || !arg_shape(c, a, 1, &s, 0, NULL) ||
        !arg_init(c, a, 2, IR_INIT_GLOROT_UNIFORM, &init, &value) || !arg_bool(c, a, 3, 0, &decay))
        return fe_err();
    const char *full = full_name(c, name);
    if (!full || name_taken(c, a, full)) return fe_err();
    return made(
        c, a,
        ir_leaf(c->g, IR_OP_PARAM, full, IR_DT_FLOAT, &s, init, value, decay ? IR_LEAF_DECAY : 0));
}

/* state(name, shape, init="zeros") */
static FeValue b_state(FeCtx *c, FeArgs *a) {
    const char *name;
    IrShape s;
    IrInit init;
    double value;
    if (!arg_str(c, a, 0, NULL, &name) || !arg_shape(c, a, 1, &s, 0, NULL) ||
        !arg_init(c, a, 2, IR_INIT_ZEROS, &init, &value))
        return fe_err();
    const char *full = full_name(c, name);
    if (!full || name_taken(c, a, full)) return fe_err();
    return made(c, a, ir_leaf(c->g, IR_OP_STATE, full, IR_DT_FLOAT, &s, init, value, 0));
}

/* assign(var, value): var <- value after the step */
static FeValue b_assign(FeCtx *c, FeArgs *a) {
    IrId var, val;
    if (!arg_tensor(c, a, 0, &var) || !arg_tensor(c, a, 1, &val)) return fe_err();
    IrOp op = c->g->nodes[var].op;
    if (op != IR_OP_PARAM && op != IR_OP_STATE) {
        fe_error(c, arg_loc(a, 0), "assign(): the target must be a param or state variable");
        return fe_err();
    }
    IrId in[2] = {var, val};
    if (ir_make(c->g, IR_OP_ASSIGN, in, 2, NULL) == IR_NONE) {
        fe_ir_error(c, a->loc, a->name);
        return fe_err();
    }
    return fe_none();
}

/* ---- contractions and windows ------------------------------------------------------------- */
static int need_rank(FeCtx *c, const FeArgs *a, int i, IrId x, int rank, const char *what) {
    int r = shape_of(c, x)->rank;
    if (r == rank) return 1;
    fe_error(c, arg_loc(a, i), "argument '%s' of %s() must be %s (rank %d), got rank %d",
             pname(a, i), a->name, what, rank, r);
    return 0;
}

/* conv2d(x, w, stride=1, padding="SAME") */
static FeValue b_conv2d(FeCtx *c, FeArgs *a) {
    IrId in[2];
    int st[2], same;
    if (!arg_tensor(c, a, 0, &in[0]) || !arg_tensor(c, a, 1, &in[1]) || !arg_pair(c, a, 2, 1, st) ||
        !arg_padding(c, a, 3, &same))
        return fe_err();
    if (!need_rank(c, a, 0, in[0], 4, "an NHWC tensor") ||
        !need_rank(c, a, 1, in[1], 4, "an HWIO filter"))
        return fe_err();
    const IrShape *w = shape_of(c, in[1]);
    int64_t kh, kw;
    if (!ir_dim_const_value(c->g, w->d[0], &kh) || !ir_dim_const_value(c->g, w->d[1], &kw)) {
        fe_error(c, arg_loc(a, 1), "conv2d(): the filter's window size must be constant");
        return fe_err();
    }
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.window = (IrWindowAttr){(int)kh, (int)kw, st[0], st[1], same};
    return made(c, a, ir_make(c->g, IR_OP_CONV2D, in, 2, &at));
}

/* matmul(a, b, ta=false, tb=false) */
static FeValue b_matmul(FeCtx *c, FeArgs *a) {
    IrId in[2];
    int ta, tb;
    if (!arg_tensor(c, a, 0, &in[0]) || !arg_tensor(c, a, 1, &in[1]) ||
        !arg_bool(c, a, 2, 0, &ta) || !arg_bool(c, a, 3, 0, &tb))
        return fe_err();
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.matmul = (IrMatmulAttr){ta, tb};
    return made(c, a, ir_make(c->g, IR_OP_MATMUL, in, 2, &at));
}

/* max_pool / avg_pool (x, kernel, stride=1, padding="SAME") */
static FeValue b_pool(FeCtx *c, FeArgs *a) {
    IrId x;
    int k[2], st[2], same;
    if (!arg_tensor(c, a, 0, &x) || !arg_pair(c, a, 1, 1, k) || !arg_pair(c, a, 2, 1, st) ||
        !arg_padding(c, a, 3, &same))
        return fe_err();
    if (!need_rank(c, a, 0, x, 4, "an NHWC tensor")) return fe_err();
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.window = (IrWindowAttr){k[0], k[1], st[0], st[1], same};
    IrOp op = strcmp(a->name, "max_pool") == 0 ? IR_OP_MAXPOOL : IR_OP_AVGPOOL;
    return made(c, a, ir_make(c->g, op, &x, 1, &at));
}

/* global_avg_pool(x): [N,H,W,C] -> [N,1,1,C] */
static FeValue b_global_avg_pool(FeCtx *c, FeArgs *a) {
    IrId x;
    if (!arg_tensor(c, a, 0, &x) || !need_rank(c, a, 0, x, 4, "an NHWC tensor")) return fe_err();
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.window = (IrWindowAttr){0, 0, 1, 1, 0};
    return made(c, a, ir_make(c->g, IR_OP_AVGPOOL, &x, 1, &at));
}

/* ---- movement ----------------------------------------------------------------------------- */
/* concat(list, axis=-1) */
static FeValue b_concat(FeCtx *c, FeArgs *a) {
    int64_t axis;
    const FeValue *l = &a->v[0];
    if (l->kind != FE_V_LIST || l->n < 1) {
        bad_arg(c, a, 0, "a non-empty list of tensors");
        return fe_err();
    }
    if (!arg_int(c, a, 1, -1, &axis)) return fe_err();
    for (int i = 0; i < l->n; i++)
        if (l->items[i].kind != FE_V_TENSOR) {
            fe_error(c, arg_loc(a, 0), "concat(): list item %d must be a tensor, got %s", i,
                     fe_kind_name(l->items[i].kind));
            return fe_err();
        }
    IrId acc = l->items[0].t;
    int rank = shape_of(c, acc)->rank;
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) {
        fe_error(c, arg_loc(a, 1), "concat(): axis out of range for rank %d", rank);
        return fe_err();
    }
    if (l->n == 1) return fe_tensor(acc);
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.axis.axis = (int)axis;
    /* at most IR_MAX_IN inputs per node: chain when longer */
    IrId in[IR_MAX_IN];
    int k = 0, i = 0;
    in[k++] = acc;
    for (i = 1; i < l->n; i++) {
        in[k++] = l->items[i].t;
        if (k == IR_MAX_IN || i == l->n - 1) {
            acc = ir_make(c->g, IR_OP_CONCAT, in, k, &at);
            if (acc == IR_NONE) return made(c, a, acc);
            k = 0;
            in[k++] = acc;
        }
    }
    return fe_tensor(acc);
}

static IrDim prod_dims(FeCtx *c, const IrShape *s, int from, int to) {
    IrDim p = ir_dim_const(c->g, 1);
    for (int i = from; i < to; i++)
        p = ir_dim_mul(c->g, p, s->d[i]);
    return p;
}

/* reshape(x, shape): one entry may be -1 (inferred) */
static FeValue b_reshape(FeCtx *c, FeArgs *a) {
    IrId x;
    IrShape s;
    int infer;
    if (!arg_tensor(c, a, 0, &x) || !arg_shape(c, a, 1, &s, 1, &infer)) return fe_err();
    if (infer >= 0) {
        const IrShape *xs = shape_of(c, x);
        IrDim total = prod_dims(c, xs, 0, xs->rank), rest = prod_dims(c, &s, 0, s.rank);
        int64_t r;
        if (ir_dim_const_value(c->g, rest, &r) && r == 0) {
            fe_error(c, arg_loc(a, 1), "reshape(): cannot infer -1 next to a zero dim");
            return fe_err();
        }
        s.d[infer] = ir_dim_floordiv(c->g, total, rest);
    }
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.shape = s;
    return made(c, a, ir_make(c->g, IR_OP_RESHAPE, &x, 1, &at));
}

/* flatten(x): [N, ...] -> [N, prod(...)] */
static FeValue b_flatten(FeCtx *c, FeArgs *a) {
    IrId x;
    if (!arg_tensor(c, a, 0, &x)) return fe_err();
    const IrShape *xs = shape_of(c, x);
    if (xs->rank < 1) {
        fe_error(c, arg_loc(a, 0), "flatten() of a scalar");
        return fe_err();
    }
    if (xs->rank == 2) return fe_tensor(x);
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.shape.rank = 2;
    at.shape.d[0] = xs->d[0];
    at.shape.d[1] = prod_dims(c, xs, 1, xs->rank);
    return made(c, a, ir_make(c->g, IR_OP_RESHAPE, &x, 1, &at));
}

/* ---- elementwise and nn ------------------------------------------------------------------- */
static const struct {
    const char *name;
    IrOp op;
} unary_ops[] = {
    {"relu", IR_OP_RELU},   {"neg", IR_OP_NEG},   {"square", IR_OP_SQUARE},   {"sqrt", IR_OP_SQRT},
    {"rsqrt", IR_OP_RSQRT}, {"exp", IR_OP_EXP},   {"log", IR_OP_LOG},         {"abs", IR_OP_ABS},
    {"sign", IR_OP_SIGN},   {"step", IR_OP_STEP}, {"softmax", IR_OP_SOFTMAX},
};

static FeValue b_unary(FeCtx *c, FeArgs *a) {
    IrId x;
    if (!arg_tensor(c, a, 0, &x)) return fe_err();
    for (size_t i = 0; i < sizeof unary_ops / sizeof unary_ops[0]; i++)
        if (strcmp(unary_ops[i].name, a->name) == 0)
            return made(c, a, ir_unary(c->g, unary_ops[i].op, x));
    fe_error(c, a->loc, "internal: no op for %s()", a->name);
    return fe_err();
}

/* parametric_relu(x, alpha): x > 0 ? x : alpha * x, alpha per channel (a suffix of x) */
static FeValue b_prelu(FeCtx *c, FeArgs *a) {
    IrId x, alpha;
    if (!arg_tensor(c, a, 0, &x) || !arg_tensor(c, a, 1, &alpha)) return fe_err();
    return made(c, a, ir_binary(c->g, IR_OP_PRELU, x, alpha));
}

/* pow(x, f) */
static FeValue b_pow(FeCtx *c, FeArgs *a) {
    IrId x;
    double f;
    if (!arg_tensor(c, a, 0, &x) || !arg_float(c, a, 1, 1, &f)) return fe_err();
    return made(c, a, ir_scalar_op(c->g, IR_OP_POWS, x, f));
}

/* softmax_xent(logits, labels) and accuracy(logits, labels) */
static FeValue b_labels_op(FeCtx *c, FeArgs *a) {
    IrId l, y;
    if (!arg_tensor(c, a, 0, &l) || !arg_tensor(c, a, 1, &y)) return fe_err();
    IrOp op = strcmp(a->name, "accuracy") == 0 ? IR_OP_ACCURACY : IR_OP_SOFTMAX_XENT;
    return made(c, a, ir_binary(c->g, op, l, y));
}

/* gather(table, idx): rows of table; scatter_add(values, idx, like): rows of values added
 * into a zero tensor shaped like `like` (duplicates accumulate) */
static FeValue b_gather(FeCtx *c, FeArgs *a) {
    IrId t, i, like;
    if (!arg_tensor(c, a, 0, &t) || !arg_tensor(c, a, 1, &i)) return fe_err();
    if (strcmp(a->name, "gather") == 0) return made(c, a, ir_binary(c->g, IR_OP_GATHER, t, i));
    if (!arg_tensor(c, a, 2, &like)) return fe_err();
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.shape = c->g->nodes[like].shape;
    IrId in[2] = {t, i};
    return made(c, a, ir_make(c->g, IR_OP_SCATTER_ADD, in, 2, &at));
}

/* replica_sum/replica_mean(x, group="always"): x summed (averaged) over the data-parallel
 * replicas when the run reduces that group (IrReplicaGroup); x itself in a one-process run */
static FeValue b_replica(FeCtx *c, FeArgs *a) {
    static const char *const groups[IR_REPLICAS_COUNT] = {"always", "sync_batch_norm", "local_batch_norm"};
    IrId x;
    const char *group;
    if (!arg_tensor(c, a, 0, &x) || !arg_str(c, a, 1, "always", &group)) return fe_err();
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.replicas.group = -1;
    for (int i = 0; i < IR_REPLICAS_COUNT; i++)
        if (strcmp(group, groups[i]) == 0) at.u.replicas.group = i;
    if (at.u.replicas.group < 0) {
        fe_error(c, arg_loc(a, 1), "%s(): group \"%s\" is not always, sync_batch_norm or local_batch_norm",
                 a->name, group);
        return fe_err();
    }
    at.u.replicas.mean = strcmp(a->name, "replica_mean") == 0;
    return made(c, a, ir_make(c->g, IR_OP_ALLREDUCE, &x, 1, &at));
}

/* l2_normalize(x, eps=1e-10) */
static FeValue b_l2_normalize(FeCtx *c, FeArgs *a) {
    IrId x;
    double eps;
    if (!arg_tensor(c, a, 0, &x) || !arg_float(c, a, 1, 1e-10, &eps)) return fe_err();
    return made(c, a, ir_scalar_op(c->g, IR_OP_L2NORM, x, eps));
}

/* dropout(x, keep): x * DROPOUT_MASK(x, keep) when training, x otherwise */
static FeValue b_dropout(FeCtx *c, FeArgs *a) {
    IrId x, keep;
    double k;
    if (!arg_tensor(c, a, 0, &x)) return fe_err();
    if (a->v[1].kind == FE_V_TENSOR)
        keep = a->v[1].t;
    else if (arg_float(c, a, 1, 1, &k)) {
        if (!(k > 0 && k <= 1)) {
            fe_error(c, arg_loc(a, 1), "dropout(): keep probability %g is not in (0, 1]", k);
            return fe_err();
        }
        IrShape scalar;
        memset(&scalar, 0, sizeof scalar);
        keep = ir_const(c->g, k, &scalar);
    } else {
        return fe_err();
    }
    if (!c->opt.training) return fe_tensor(x);
    IrId in[2] = {x, keep};
    IrId m = ir_make(c->g, IR_OP_DROPOUT_MASK, in, 2, NULL);
    if (m == IR_NONE) return made(c, a, m);
    return made(c, a, ir_binary(c->g, IR_OP_MUL, x, m));
}

/* sum/mean(x, keep=0): over the leading axes, keeping `keep` trailing ones */
static FeValue b_sum(FeCtx *c, FeArgs *a) {
    IrId x;
    int64_t keep;
    if (!arg_tensor(c, a, 0, &x) || !arg_int(c, a, 1, 0, &keep)) return fe_err();
    if (keep < 0 || keep > shape_of(c, x)->rank) {
        fe_error(c, arg_loc(a, 1), "%s(): keep=%lld is out of range for a rank-%d tensor", a->name,
                 (long long)keep, shape_of(c, x)->rank);
        return fe_err();
    }
    return made(c, a, ir_reduce(c->g, IR_OP_SUM, x, (int)keep, a->name[0] == 'm', NULL));
}

/* sum_last/mean_last(x) */
static FeValue b_sum_last(FeCtx *c, FeArgs *a) {
    IrId x;
    if (!arg_tensor(c, a, 0, &x)) return fe_err();
    return made(c, a, ir_reduce(c->g, IR_OP_SUMLAST, x, 0, a->name[0] == 'm', NULL));
}

/* weight_l2(): sum over the decayed params so far of sum(w^2)/2, a scalar */
static FeValue b_weight_l2(FeCtx *c, FeArgs *a) {
    IrGraph *g = c->g;
    int n = g->n_nodes;
    IrId acc = IR_NONE;
    for (IrId i = 0; i < n; i++) {
        if (g->nodes[i].op != IR_OP_PARAM || !(g->nodes[i].attr.u.leaf.flags & IR_LEAF_DECAY))
            continue;
        IrId sq = ir_unary(g, IR_OP_SQUARE, i);
        IrId s = sq == IR_NONE ? IR_NONE : ir_reduce(g, IR_OP_SUM, sq, 0, 0, NULL);
        acc = s == IR_NONE ? IR_NONE : acc == IR_NONE ? s : ir_binary(g, IR_OP_ADD, acc, s);
        if (acc == IR_NONE) return made(c, a, acc);
    }
    IrShape scalar;
    memset(&scalar, 0, sizeof scalar);
    if (acc == IR_NONE) return made(c, a, ir_const(g, 0, &scalar));
    return made(c, a, ir_scalar_op(g, IR_OP_SCALE, acc, 0.5));
}

/* ---- compile-time queries ----------------------------------------------------------------- */
static FeValue b_shape(FeCtx *c, FeArgs *a) {
    IrId x;
    if (!arg_tensor(c, a, 0, &x)) return fe_err();
    const IrShape *s = shape_of(c, x);
    FeValue v = fe_none();
    v.kind = FE_V_LIST;
    v.n = s->rank;
    v.items = fe_alloc(c, (size_t)(s->rank ? s->rank : 1) * sizeof *v.items);
    if (!v.items) return fe_err();
    for (int i = 0; i < s->rank; i++)
        v.items[i] = fe_int_dim(c, s->d[i]);
    return v;
}

static FeValue b_rank(FeCtx *c, FeArgs *a) {
    IrId x;
    if (!arg_tensor(c, a, 0, &x)) return fe_err();
    return fe_int(shape_of(c, x)->rank);
}

static FeValue b_channels(FeCtx *c, FeArgs *a) {
    IrId x;
    if (!arg_tensor(c, a, 0, &x)) return fe_err();
    const IrShape *s = shape_of(c, x);
    if (s->rank < 1) {
        fe_error(c, arg_loc(a, 0), "channels() of a scalar");
        return fe_err();
    }
    return fe_int_dim(c, s->d[s->rank - 1]);
}

static FeValue b_len(FeCtx *c, FeArgs *a) {
    if (a->v[0].kind == FE_V_LIST) return fe_int(a->v[0].n);
    if (a->v[0].kind == FE_V_STR) return fe_int((int64_t)strlen(a->v[0].s));
    bad_arg(c, a, 0, "a list or a string");
    return fe_err();
}

static FeValue b_float(FeCtx *c, FeArgs *a) {
    double f;
    if (!arg_float(c, a, 0, 0, &f)) return fe_err();
    FeValue v = fe_none();
    v.kind = FE_V_FLOAT;
    v.f = f;
    return v;
}

/* error(message): a user-defined diagnostic at the call */
static FeValue b_error(FeCtx *c, FeArgs *a) {
    const char *msg;
    if (!arg_str(c, a, 0, NULL, &msg)) return fe_err();
    fe_error(c, a->loc, "%s", msg);
    return fe_err();
}

/* ---- the table ---------------------------------------------------------------------------- */
const FeBuiltin fe_builtins[] = {
    {"input", {"name", "shape", "?dtype"}, b_input},
    {"param", {"name", "shape", "?init", "?decay"}, b_param},
    {"state", {"name", "shape", "?init"}, b_state},
    {"assign", {"var", "value"}, b_assign},
    {"conv2d", {"x", "w", "?stride", "?padding"}, b_conv2d},
    {"matmul", {"a", "b", "?ta", "?tb"}, b_matmul},
    {"max_pool", {"x", "kernel", "?stride", "?padding"}, b_pool},
    {"avg_pool", {"x", "kernel", "?stride", "?padding"}, b_pool},
    {"global_avg_pool", {"x"}, b_global_avg_pool},
    {"concat", {"list", "?axis"}, b_concat},
    {"reshape", {"x", "shape"}, b_reshape},
    {"flatten", {"x"}, b_flatten},
    {"relu", {"x"}, b_unary},
    {"neg", {"x"}, b_unary},
    {"square", {"x"}, b_unary},
    {"sqrt", {"x"}, b_unary},
    {"rsqrt", {"x"}, b_unary},
    {"exp", {"x"}, b_unary},
    {"log", {"x"}, b_unary},
    {"abs", {"x"}, b_unary},
    {"sign", {"x"}, b_unary},
    {"step", {"x"}, b_unary},
    {"softmax", {"x"}, b_unary},
    {"pow", {"x", "f"}, b_pow},
    {"parametric_relu", {"x", "alpha"}, b_prelu},
    {"softmax_xent", {"logits", "labels"}, b_labels_op},
    {"accuracy", {"logits", "labels"}, b_labels_op},
    {"l2_normalize", {"x", "?eps"}, b_l2_normalize},
    {"gather", {"table", "idx"}, b_gather},
    {"scatter_add", {"values", "idx", "like"}, b_gather},
    {"dropout", {"x", "keep"}, b_dropout},
    {"replica_sum", {"x", "?group"}, b_replica},
    {"replica_mean", {"x", "?group"}, b_replica},
    {"sum", {"x", "?keep"}, b_sum},
    {"mean", {"x", "?keep"}, b_sum},
    {"sum_last", {"x"}, b_sum_last},
    {"mean_last", {"x"}, b_sum_last},
    {"weight_l2", {NULL}, b_weight_l2},
    {"shape", {"x"}, b_shape},
    {"rank", {"x"}, b_rank},
    {"channels", {"x"}, b_channels},
    {"len", {"x"}, b_len},
    {"float", {"x"}, b_float},
    {"error", {"message"}, b_error},
    {NULL, {NULL}, NULL},
};

int fe_builtin_find(const char *name) {
    for (int i = 0; fe_builtins[i].name; i++)
        if (strcmp(fe_builtins[i].name, name) == 0) return i;
    return -1;
}
