/* The IR graph: arenas, string interning, hash-consed nodes and dimension expressions.
 * Not here: the per-op shape and VJP rules (rules_*.c), printing (print.c), checks (verify.c). */
#include "ir/ir.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

const IrOpInfo ir_op_info[IR_OP_COUNT] = {
#define IR_OP(e, nm, ar, cl, at, fl, sem) {nm, ar, IR_CLASS_##cl, IR_ATTR_##at, fl, sem},
#include "ir/ops.def"
#undef IR_OP
};

/* An allocation failed: the graph is marked (ir_make gives IR_NONE from now on); -1. */
static int oom(IrGraph *g) {
    g->oom = 1;
    snprintf(g->err, sizeof g->err, "out of memory");
    return -1;
}

/* Room for element n of the array ptr (cap elements), doubling it; 0, or -1 with g->oom set
 * (the array as it was). */
static int grow(IrGraph *g, void **ptr, int *cap, int n, size_t size) {
    if (n < *cap) return 0;
    int c = *cap ? 2 * *cap : 64;
    void *p = fn_realloc(*ptr, (size_t)c * size);
    if (!p) return oom(g);
    *ptr = p;
    *cap = c;
    return 0;
}
#define GROW(ptr, n, cap) grow(g, (void **)&(ptr), &(cap), (n), sizeof *(ptr))

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static int32_t *table_new(int cap) {
    int32_t *t = fn_malloc((size_t)cap * sizeof(int32_t));
    if (t) memset(t, 0xff, (size_t)cap * sizeof(int32_t));
    return t;
}

IrGraph *ir_graph_new(void) {
    IrGraph *g = fn_calloc(1, sizeof(IrGraph));
    if (!g) return NULL;
    g->node_hash_cap = g->dim_hash_cap = g->str_hash_cap = 1024;
    g->node_hash = table_new(g->node_hash_cap);
    g->dim_hash = table_new(g->dim_hash_cap);
    g->str_hash = table_new(g->str_hash_cap);
    if (!g->node_hash || !g->dim_hash || !g->str_hash) {
        ir_graph_free(g);
        return NULL;
    }
    g->cur_scope = ir_intern(g, "");
    if (g->oom) {
        ir_graph_free(g);
        return NULL;
    }
    return g;
}

void ir_graph_free(IrGraph *g) {
    if (!g) return;
    for (int i = 0; g->strs && i < g->n_strs; i++) free(g->strs[i]);
    for (int i = 0; g->syms && i < g->n_syms; i++) free(g->syms[i].name);
    free(g->strs);
    free(g->syms);
    free(g->nodes);
    free(g->dims);
    free(g->outputs);
    free(g->marks);
    free(g->effects);
    free(g->node_hash);
    free(g->dim_hash);
    free(g->str_hash);
    free(g);
}

/* a copy of n elements of g->field in c->field (NULL stays NULL); 0 or -1 */
#define DUP(field, n)                                                                              \
    do {                                                                                           \
        c->field = NULL;                                                                           \
        if (g->field) {                                                                            \
            if (!(c->field = fn_malloc((size_t)(n) * sizeof(*g->field)))) ok = 0;                  \
            else memcpy(c->field, g->field, (size_t)(n) * sizeof(*g->field));                      \
        }                                                                                          \
    } while (0)

IrGraph *ir_graph_clone(const IrGraph *g) {
    IrGraph *c = fn_malloc(sizeof(IrGraph));
    if (!c) return NULL;
    *c = *g;
    int ok = 1, n_strs = g->n_strs, n_syms = g->n_syms;
    c->n_strs = c->n_syms = 0; /* until their names are copied */
    DUP(nodes, g->cap_nodes);
    DUP(dims, g->cap_dims);
    DUP(syms, g->cap_syms);
    DUP(strs, g->cap_strs);
    DUP(outputs, g->cap_outputs);
    DUP(marks, g->cap_marks);
    DUP(effects, g->cap_effects);
    DUP(node_hash, g->node_hash_cap);
    DUP(dim_hash, g->dim_hash_cap);
    DUP(str_hash, g->str_hash_cap);
    for (; ok && c->n_strs < n_strs; c->n_strs++)
        if (!(c->strs[c->n_strs] = fn_strdup(g->strs[c->n_strs]))) ok = 0;
    for (; ok && c->n_syms < n_syms; c->n_syms++)
        if (!(c->syms[c->n_syms].name = fn_strdup(g->syms[c->n_syms].name))) ok = 0;
    if (!ok) {
        ir_graph_free(c);
        return NULL;
    }
    return c;
}

IrGraph *ir_graph_clone_empty(const IrGraph *g) {
    IrGraph *c = ir_graph_clone(g);
    if (!c) return NULL;
    c->n_nodes = c->n_outputs = c->n_marks = c->n_effects = 0;
    memset(c->node_hash, 0xff, (size_t)c->node_hash_cap * sizeof(int32_t));
    return c;
}

/* ---- strings ------------------------------------------------------------------------------ */
static uint64_t str_hash(const char *s) { return hash_bytes(0xcbf29ce484222325ULL, s, strlen(s)); }

/* Doubles an open-addressing table and puts entries 0..n-1 (hash_at(g, i)) back; 0, or -1 with
 * g->oom set (the old table stays, still half empty). */
static int rehash(IrGraph *g, int32_t **table, int *cap, int n, uint64_t (*hash_at)(const IrGraph *, int)) {
    int32_t *t = table_new(2 * *cap);
    if (!t) return oom(g);
    free(*table);
    *table = t;
    *cap *= 2;
    uint64_t mask = (uint64_t)(*cap - 1);
    for (int i = 0; i < n; i++) {
        uint64_t h = hash_at(g, i) & mask;
        while (t[h] >= 0) h = (h + 1) & mask;
        t[h] = i;
    }
    return 0;
}

static uint64_t str_hash_at(const IrGraph *g, int i) { return str_hash(g->strs[i]); }

int ir_intern(IrGraph *g, const char *s) {
    if (2 * (g->n_strs + 1) > g->str_hash_cap &&
        rehash(g, &g->str_hash, &g->str_hash_cap, g->n_strs, str_hash_at) < 0)
        return 0;
    uint64_t mask = (uint64_t)(g->str_hash_cap - 1), h = str_hash(s) & mask;
    for (; g->str_hash[h] >= 0; h = (h + 1) & mask)
        if (strcmp(g->strs[g->str_hash[h]], s) == 0) return g->str_hash[h];
    if (GROW(g->strs, g->n_strs, g->cap_strs) < 0 || !(g->strs[g->n_strs] = fn_strdup(s))) {
        oom(g);
        return 0; /* "" (or garbage-free: the graph is marked failed) */
    }
    g->str_hash[h] = g->n_strs;
    return g->n_strs++;
}

const char *ir_str(const IrGraph *g, int id) {
    assert(id >= 0 && id < g->n_strs);
    return g->strs[id];
}

/* ---- outputs, marks, leaves ----------------------------------------------------------------- */
int ir_set_output(IrGraph *g, const char *name, IrId id) {
    int s = ir_intern(g, name);
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i].name == s) {
            g->outputs[i].id = id;
            return i;
        }
    if (g->oom || GROW(g->outputs, g->n_outputs, g->cap_outputs) < 0) return -1;
    g->outputs[g->n_outputs] = (IrNamed){s, id};
    return g->n_outputs++;
}

IrId ir_output(const IrGraph *g, const char *name) {
    for (int i = 0; i < g->n_outputs; i++)
        if (strcmp(g->strs[g->outputs[i].name], name) == 0) return g->outputs[i].id;
    return IR_NONE;
}

void ir_add_mark(IrGraph *g, const char *name, IrId id) {
    int s = ir_intern(g, name);
    if (!g->oom && GROW(g->marks, g->n_marks, g->cap_marks) == 0) g->marks[g->n_marks++] = (IrNamed){s, id};
}

int ir_copy_names(IrGraph *dst, const IrGraph *src, const IrId *map) {
    for (int i = 0; i < src->n_outputs; i++) ir_set_output(dst, ir_str(src, src->outputs[i].name), map[src->outputs[i].id]);
    for (int i = 0; i < src->n_marks; i++) ir_add_mark(dst, ir_str(src, src->marks[i].name), map[src->marks[i].id]);
    dst->cur_scope = src->cur_scope;
    return dst->oom ? -1 : 0; /* an output name or a mark may have failed too */
}

IrId ir_find_leaf(const IrGraph *g, IrOp op, const char *name) {
    for (IrId i = 0; i < g->n_nodes; i++) {
        const IrNode *n = &g->nodes[i];
        if (n->op == op && strcmp(g->strs[n->attr.u.leaf.name], name) == 0) return i;
    }
    return IR_NONE;
}

/* ---- dims --------------------------------------------------------------------------------- */
static uint64_t dim_hash(const IrDimNode *d) {
    return hash_bytes(0xcbf29ce484222325ULL, d, sizeof(*d));
}

static uint64_t dim_hash_at(const IrGraph *g, int i) { return dim_hash(&g->dims[i]); }

static IrDim dim_intern(IrGraph *g, IrDimKind kind, int64_t a, int64_t b) {
    IrDimNode key;
    memset(&key, 0, sizeof key);
    key.kind = kind;
    key.a = a;
    key.b = b;
    key.depth = 1;
    if (kind != IR_DIM_CONST && kind != IR_DIM_SYM) {
        int32_t da = g->dims[a].depth, db = g->dims[b].depth;
        key.depth = 1 + (da > db ? da : db);
        if (key.depth > IR_MAX_DIM_DEPTH) {
            snprintf(g->err, sizeof g->err, "a dimension expression nests more than %d deep",
                     IR_MAX_DIM_DEPTH);
            return IR_NONE;
        }
    }
    if (g->oom || (2 * (g->n_dims + 1) > g->dim_hash_cap &&
                   rehash(g, &g->dim_hash, &g->dim_hash_cap, g->n_dims, dim_hash_at) < 0))
        return IR_NONE;
    uint64_t mask = (uint64_t)(g->dim_hash_cap - 1), h = dim_hash(&key) & mask;
    for (; g->dim_hash[h] >= 0; h = (h + 1) & mask)
        if (memcmp(&g->dims[g->dim_hash[h]], &key, sizeof key) == 0) return g->dim_hash[h];
    if (GROW(g->dims, g->n_dims, g->cap_dims) < 0) return IR_NONE;
    g->dims[g->n_dims] = key;
    g->dim_hash[h] = g->n_dims;
    return g->n_dims++;
}

IrDim ir_dim_const(IrGraph *g, int64_t v) { return dim_intern(g, IR_DIM_CONST, v, 0); }

int ir_sym_index(const IrGraph *g, const char *name) {
    for (int i = 0; i < g->n_syms; i++)
        if (strcmp(g->syms[i].name, name) == 0) return i;
    return -1;
}

IrDim ir_dim_sym(IrGraph *g, const char *name, int64_t dflt) {
    int i = ir_sym_index(g, name);
    if (i < 0) {
        char *copy = g->oom || GROW(g->syms, g->n_syms, g->cap_syms) < 0 ? NULL : fn_strdup(name);
        if (!copy) {
            oom(g);
            return IR_NONE;
        }
        i = g->n_syms++;
        g->syms[i].name = copy;
        g->syms[i].dflt = dflt;
    }
    return dim_intern(g, IR_DIM_SYM, i, 0);
}

int ir_dim_const_value(const IrGraph *g, IrDim d, int64_t *v) {
    if (d < 0 || d >= g->n_dims || g->dims[d].kind != IR_DIM_CONST) return 0;
    if (v) *v = g->dims[d].a;
    return 1;
}

static int64_t floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* a op b on constants; 0 on overflow or division by zero (the result would be no dimension) */
static int fold(IrDimKind k, int64_t a, int64_t b, int64_t *out) {
    switch (k) {
    case IR_DIM_ADD: return !__builtin_add_overflow(a, b, out);
    case IR_DIM_SUB: return !__builtin_sub_overflow(a, b, out);
    case IR_DIM_MUL: return !__builtin_mul_overflow(a, b, out);
    case IR_DIM_FLOORDIV:
        if (b == 0 || (a == INT64_MIN && b == -1)) return 0;
        *out = floordiv(a, b);
        return 1;
    default: return 0;
    }
}

static IrDim fold_fail(IrGraph *g, IrDimKind k, int64_t a, int64_t b) {
    static const char *opstr[] = {"", "", "+", "-", "*", "//"};
    snprintf(g->err, sizeof g->err, "dimension arithmetic %lld %s %lld %s", (long long)a,
             opstr[k], (long long)b,
             k == IR_DIM_FLOORDIV && b == 0 ? "divides by zero" : "overflows 64 bits");
    return IR_NONE;
}

/* Constant folding and the identities x+0, x-0, x*1, x*0, x//1, x-x. IR_NONE (g->err set) when
 * constant arithmetic overflows or divides by zero, or when an operand is IR_NONE. */
static IrDim dim_binary(IrGraph *g, IrDimKind k, IrDim a, IrDim b) {
    int64_t va = 0, vb = 0, r;
    if (a == IR_NONE || b == IR_NONE) return IR_NONE;
    int ca = ir_dim_const_value(g, a, &va), cb = ir_dim_const_value(g, b, &vb);
    if (ca && cb) return fold(k, va, vb, &r) ? ir_dim_const(g, r) : fold_fail(g, k, va, vb);
    if (k == IR_DIM_FLOORDIV && cb && vb == 0) return fold_fail(g, k, 0, 0);
    if (k == IR_DIM_ADD && ca && !cb) return dim_binary(g, k, b, a); /* c + x = x + c */
    if ((k == IR_DIM_ADD || k == IR_DIM_SUB) && cb) { /* x ± c: merge with an inner x ± c' */
        int64_t off, inner;
        if (!fold(k == IR_DIM_ADD ? IR_DIM_ADD : IR_DIM_SUB, 0, vb, &off))
            return fold_fail(g, k, 0, vb);
        const IrDimNode *an = &g->dims[a];
        if ((an->kind == IR_DIM_ADD || an->kind == IR_DIM_SUB) &&
            ir_dim_const_value(g, (IrDim)an->b, &inner)) {
            int64_t o2;
            if (!fold(an->kind, off, inner, &o2)) return fold_fail(g, an->kind, off, inner);
            a = (IrDim)an->a;
            off = o2; /* off + inner or off - inner: the inner op's sign */
        }
        if (off == 0) return a;
        if (off == INT64_MIN) return fold_fail(g, IR_DIM_SUB, 0, off);
        return off > 0 ? dim_intern(g, IR_DIM_ADD, a, ir_dim_const(g, off))
                       : dim_intern(g, IR_DIM_SUB, a, ir_dim_const(g, -off));
    }
    if (k == IR_DIM_ADD && ca && va == 0) return b;
    if ((k == IR_DIM_MUL || k == IR_DIM_FLOORDIV) && cb && vb == 1) return a;
    if (k == IR_DIM_MUL && ca && va == 1) return b;
    if (k == IR_DIM_MUL && ((ca && va == 0) || (cb && vb == 0))) return ir_dim_const(g, 0);
    if (k == IR_DIM_SUB && a == b) return ir_dim_const(g, 0);
    /* canonical operand order for commutative ops: constants last */
    if ((k == IR_DIM_ADD || k == IR_DIM_MUL) && (ca || (!cb && a > b))) {
        IrDim t = a;
        a = b;
        b = t;
    }
    return dim_intern(g, k, a, b);
}

IrDim ir_dim_add(IrGraph *g, IrDim a, IrDim b) { return dim_binary(g, IR_DIM_ADD, a, b); }
IrDim ir_dim_sub(IrGraph *g, IrDim a, IrDim b) { return dim_binary(g, IR_DIM_SUB, a, b); }
IrDim ir_dim_mul(IrGraph *g, IrDim a, IrDim b) { return dim_binary(g, IR_DIM_MUL, a, b); }
IrDim ir_dim_floordiv(IrGraph *g, IrDim a, IrDim b) {
    return dim_binary(g, IR_DIM_FLOORDIV, a, b);
}

int ir_dim_eval_checked(const IrGraph *g, IrDim d, const int64_t *sym, int64_t *out) {
    if (d < 0 || d >= g->n_dims) return -1;
    const IrDimNode *n = &g->dims[d];
    int64_t a, b;
    switch (n->kind) {
    case IR_DIM_CONST: *out = n->a; return 0;
    case IR_DIM_SYM: *out = sym[n->a]; return 0;
    default:
        if (ir_dim_eval_checked(g, (IrDim)n->a, sym, &a) < 0 ||
            ir_dim_eval_checked(g, (IrDim)n->b, sym, &b) < 0)
            return -1;
        return fold(n->kind, a, b, out) ? 0 : -1;
    }
}

int64_t ir_dim_eval(const IrGraph *g, IrDim d, const int64_t *sym) {
    int64_t v;
    return ir_dim_eval_checked(g, d, sym, &v) < 0 ? -1 : v;
}

static int dim_fmt(const IrGraph *g, IrDim d, char *buf, size_t cap, int top) {
    if (d < 0 || d >= g->n_dims) return snprintf(buf, cap, "?");
    const IrDimNode *n = &g->dims[d];
    static const char *opstr[] = {"", "", "+", "-", "*", "//"};
    switch (n->kind) {
    case IR_DIM_CONST: return snprintf(buf, cap, "%lld", (long long)n->a);
    case IR_DIM_SYM: return snprintf(buf, cap, "%s", g->syms[n->a].name);
    default: {
        char l[256], r[256];
        dim_fmt(g, (IrDim)n->a, l, sizeof l, 0);
        dim_fmt(g, (IrDim)n->b, r, sizeof r, 0);
        return snprintf(buf, cap, top ? "%s%s%s" : "(%s%s%s)", l, opstr[n->kind], r);
    }
    }
}

int ir_dim_format(const IrGraph *g, IrDim d, char *buf, size_t cap) {
    return dim_fmt(g, d, buf, cap, 1);
}

int ir_shape_format(const IrGraph *g, const IrShape *s, char *buf, size_t cap) {
    size_t k = 0;
    k += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < s->rank && k < cap; i++) {
        char d[256];
        ir_dim_format(g, s->d[i], d, sizeof d);
        k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? "," : "", d);
    }
    if (k < cap) k += (size_t)snprintf(buf + k, cap - k, "]");
    return (int)k;
}

IrShape ir_shape_make(IrGraph *g, int rank, const int64_t *v) {
    IrShape s;
    memset(&s, 0, sizeof s);
    s.rank = rank;
    for (int i = 0; i < rank; i++) s.d[i] = ir_dim_const(g, v[i]);
    return s;
}

int ir_shape_equal(const IrShape *a, const IrShape *b) {
    if (a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->d[i] != b->d[i]) return 0;
    return 1;
}

int64_t ir_numel(const int64_t *dims, int rank) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        if (dims[i] < 0 || __builtin_mul_overflow(n, dims[i], &n) || n > IR_MAX_NUMEL) return -1;
    return n;
}

/* The inferred shape's constant dims: positive, their product at most IR_MAX_NUMEL, no dim left
 * IR_NONE by overflowing arithmetic. 0, or -1 with g->err naming the op (and its scope). */
static int check_shape(IrGraph *g, const IrNode *n) {
    const char *op = ir_op_info[n->op].name, *scope = ir_str(g, n->scope);
    char sh[256], where[300];
    snprintf(where, sizeof where, "%s%s%s", op, scope[0] ? " in " : "", scope);
    int64_t total = 1, v;
    for (int i = 0; i < n->shape.rank; i++) {
        if (n->shape.d[i] == IR_NONE) {
            char why[sizeof g->err];
            snprintf(why, sizeof why, "%s", g->err[0] ? g->err : "no dimension");
            snprintf(g->err, sizeof g->err, "%s: output dimension %d: %s", where, i, why);
            return -1;
        }
        if (!ir_dim_const_value(g, n->shape.d[i], &v)) continue;
        ir_shape_format(g, &n->shape, sh, sizeof sh);
        if (v < 1 && !(v == 0 && n->op == IR_OP_CONST)) {
            snprintf(g->err, sizeof g->err, "%s: output shape %s has a non-positive dimension",
                     where, sh);
            return -1;
        }
        if (__builtin_mul_overflow(total, v, &total) || total > IR_MAX_NUMEL) {
            snprintf(g->err, sizeof g->err,
                     "%s: output shape %s has more than 2^40 (%lld) elements, the limit per tensor",
                     where, sh, (long long)IR_MAX_NUMEL);
            return -1;
        }
    }
    return 0;
}

/* ---- nodes -------------------------------------------------------------------------------- */
static uint64_t node_hash(const IrNode *n) {
    uint64_t h = hash_bytes(0xcbf29ce484222325ULL, &n->op, sizeof n->op);
    h = hash_bytes(h, &n->n_in, sizeof n->n_in);
    h = hash_bytes(h, n->in, (size_t)n->n_in * sizeof(IrId));
    return hash_bytes(h, &n->attr, sizeof n->attr);
}

static int node_same(const IrNode *a, const IrNode *b) {
    return a->op == b->op && a->n_in == b->n_in &&
           memcmp(a->in, b->in, (size_t)a->n_in * sizeof(IrId)) == 0 &&
           memcmp(&a->attr, &b->attr, sizeof a->attr) == 0;
}

static uint64_t node_hash_at(const IrGraph *g, int i) { return node_hash(&g->nodes[i]); }

IrId ir_make(IrGraph *g, IrOp op, const IrId *in, int n_in, const IrAttr *attr) {
    const IrOpInfo *info = &ir_op_info[op];
    g->err[0] = 0;
    if (g->oom) {
        oom(g);
        return IR_NONE;
    }
    if ((info->arity >= 0 && n_in != info->arity) || n_in > IR_MAX_IN ||
        (info->arity < 0 && n_in < 1)) {
        snprintf(g->err, sizeof g->err, "%s takes %d inputs, got %d", info->name, info->arity,
                 n_in);
        return IR_NONE;
    }
    IrNode n;
    memset(&n, 0, sizeof n);
    n.op = op;
    n.n_in = n_in;
    for (int i = 0; i < n_in; i++) {
        if (in[i] < 0 || in[i] >= g->n_nodes) {
            snprintf(g->err, sizeof g->err, "%s: input %d is not a value", info->name, i);
            return IR_NONE;
        }
        n.in[i] = in[i];
    }
    if (attr) n.attr = *attr;
    if (op == IR_OP_CONCAT && n.attr.u.axis.axis < 0 && n_in > 0) /* canonical axis before hashing */
        n.attr.u.axis.axis += g->nodes[in[0]].shape.rank;
    if (op == IR_OP_CONV2D && n.attr.u.window.kh == 0 && n_in == 2) { /* window from the filter */
        int64_t kh = 0, kw = 0;
        const IrShape *f = &g->nodes[in[1]].shape;
        if (f->rank == 4 && ir_dim_const_value(g, f->d[0], &kh) &&
            ir_dim_const_value(g, f->d[1], &kw)) {
            n.attr.u.window.kh = (int)kh;
            n.attr.u.window.kw = (int)kw;
        }
    }
    if (2 * (g->n_nodes + 1) > g->node_hash_cap &&
        rehash(g, &g->node_hash, &g->node_hash_cap, g->n_nodes, node_hash_at) < 0)
        return IR_NONE;
    uint64_t mask = (uint64_t)(g->node_hash_cap - 1), h = node_hash(&n) & mask;
    for (; g->node_hash[h] >= 0; h = (h + 1) & mask)
        if (node_same(&g->nodes[g->node_hash[h]], &n)) return g->node_hash[h];
    n.scope = g->cur_scope;
    if (ir_infer(g, &n) < 0 || check_shape(g, &n) < 0) return IR_NONE;
    if (g->n_nodes >= IR_MAX_NODES) {
        snprintf(g->err, sizeof g->err, "the graph has more than %d nodes, the limit", IR_MAX_NODES);
        return IR_NONE;
    }
    if (GROW(g->nodes, g->n_nodes, g->cap_nodes) < 0 ||
        ((info->flags & IR_F_EFFECT) && GROW(g->effects, g->n_effects, g->cap_effects) < 0))
        return IR_NONE;
    IrId id = g->n_nodes++;
    g->nodes[id] = n;
    g->node_hash[h] = id;
    if (info->flags & IR_F_EFFECT) g->effects[g->n_effects++] = id;
    return id;
}

IrId ir_unary(IrGraph *g, IrOp op, IrId x) { return ir_make(g, op, &x, 1, NULL); }

IrId ir_binary(IrGraph *g, IrOp op, IrId a, IrId b) {
    IrId in[2] = {a, b};
    return ir_make(g, op, in, 2, NULL);
}

IrId ir_scalar_op(IrGraph *g, IrOp op, IrId x, double f) {
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.scalar.f = f;
    return ir_make(g, op, &x, 1, &at);
}

IrId ir_const(IrGraph *g, double f, const IrShape *shape) {
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.scalar.f = f;
    if (shape) at.shape = *shape;
    return ir_make(g, IR_OP_CONST, NULL, 0, &at);
}

IrId ir_leaf(IrGraph *g, IrOp op, const char *name, IrDtype dt, const IrShape *shape, IrInit init,
             double value, int flags) {
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.leaf.name = ir_intern(g, name);
    at.u.leaf.init = init;
    at.u.leaf.value = value;
    at.u.leaf.flags = flags | (dt == IR_DT_INT32 ? IR_LEAF_INT : 0);
    at.shape = *shape;
    return ir_make(g, op, NULL, 0, &at);
}

IrId ir_reduce(IrGraph *g, IrOp op, IrId x, int keep, int mean, const IrShape *target) {
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.reduce.keep = keep;
    at.u.reduce.mean = mean;
    if (target) at.shape = *target;
    return ir_make(g, op, &x, 1, &at);
}

int ir_readers(const IrGraph *g, IrReaders *r) {
    int n = g->n_nodes, total = 0;
    r->list = NULL;
    if (!(r->start = fn_calloc((size_t)n + 2, sizeof *r->start))) return -1;
    for (IrId id = 0; id < n; id++)
        for (int k = 0; k < g->nodes[id].n_in; k++) r->start[g->nodes[id].in[k] + 2]++, total++;
    for (IrId id = 0; id < n; id++) r->start[id + 2] += r->start[id + 1];
    if (!(r->list = fn_malloc(((size_t)total + 1) * sizeof *r->list))) {
        ir_readers_free(r);
        return -1;
    }
    for (IrId id = 0; id < n; id++) /* start[x + 1] counts x's readers listed so far */
        for (int k = 0; k < g->nodes[id].n_in; k++) r->list[r->start[g->nodes[id].in[k] + 1]++] = id;
    return 0;
}

void ir_readers_free(IrReaders *r) {
    free(r->start);
    free(r->list);
    r->start = NULL;
    r->list = NULL;
}
