/* Simplification: rebuild the graph from its roots (outputs and effects), which removes dead
 * nodes (DCE) and merges identical ones (CSE, through hash-consing), applying the rewrite table
 * below to every rebuilt node until none matches (each rule shrinks the node or moves a scale
 * towards the graph's outputs, past a node it cannot meet again).
 * Out of memory, the pass fails with "simplify: out of memory" and leaves *g as it was.
 * Not here: fusion (a later pass with its own legality function). */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

typedef struct {
    const char *name;
    /* Returns the id that replaces node n (whose inputs are already in the new graph) or
     * IR_NONE if the rule does not apply. */
    IrId (*apply)(IrGraph *g, const IrNode *n);
} Rule;

static int is_const(const IrGraph *g, IrId id, double v) {
    return g->nodes[id].op == IR_OP_CONST && g->nodes[id].attr.u.scalar.f == v;
}
static int same_shape(const IrGraph *g, IrId a, const IrNode *n) {
    return ir_shape_equal(&g->nodes[a].shape, &n->shape);
}

static IrId r_scale_one(IrGraph *g, const IrNode *n) {
    return (n->op == IR_OP_SCALE && n->attr.u.scalar.f == 1.0) ? n->in[0] : IR_NONE;
}
static IrId r_adds_zero(IrGraph *g, const IrNode *n) {
    return (n->op == IR_OP_ADDS && n->attr.u.scalar.f == 0.0) ? n->in[0] : IR_NONE;
}
static IrId r_mul_one(IrGraph *g, const IrNode *n) {
    if (n->op != IR_OP_MUL) return IR_NONE;
    if (is_const(g, n->in[1], 1.0) && same_shape(g, n->in[0], n)) return n->in[0];
    if (is_const(g, n->in[0], 1.0) && same_shape(g, n->in[1], n)) return n->in[1];
    return IR_NONE;
}
static IrId r_add_zero(IrGraph *g, const IrNode *n) {
    if (n->op != IR_OP_ADD) return IR_NONE;
    if (is_const(g, n->in[1], 0.0) && same_shape(g, n->in[0], n)) return n->in[0];
    if (is_const(g, n->in[0], 0.0) && same_shape(g, n->in[1], n)) return n->in[1];
    return IR_NONE;
}
static IrId r_neg_neg(IrGraph *g, const IrNode *n) {
    if (n->op != IR_OP_NEG || g->nodes[n->in[0]].op != IR_OP_NEG) return IR_NONE;
    return g->nodes[n->in[0]].in[0];
}
static IrId r_scale_scale(IrGraph *g, const IrNode *n) {
    if (n->op != IR_OP_SCALE || g->nodes[n->in[0]].op != IR_OP_SCALE) return IR_NONE;
    const IrNode *x = &g->nodes[n->in[0]];
    return ir_scalar_op(g, IR_OP_SCALE, x->in[0], x->attr.u.scalar.f * n->attr.u.scalar.f);
}
static IrId r_mul_const(IrGraph *g, const IrNode *n) { /* x * c (scalar const) -> scale */
    if (n->op != IR_OP_MUL) return IR_NONE;
    for (int k = 0; k < 2; k++) {
        const IrNode *c = &g->nodes[n->in[k]];
        if (c->op == IR_OP_CONST && c->shape.rank == 0 && same_shape(g, n->in[1 - k], n))
            return ir_scalar_op(g, IR_OP_SCALE, n->in[1 - k], c->attr.u.scalar.f);
    }
    return IR_NONE;
}

/* op(bcast(s), x) -> op(s, x) for a binary op (either side): binary ops broadcast a suffix-shaped
 * operand themselves, and a bcast of a scalar read by several loops had to be written out at
 * full size (the weight-decay gradient of every parameter) */
static IrId r_bcast_operand(IrGraph *g, const IrNode *n) {
    if (n->op != IR_OP_ADD && n->op != IR_OP_SUB && n->op != IR_OP_MUL && n->op != IR_OP_DIV) return IR_NONE;
    for (int k = 0; k < 2; k++) {
        const IrNode *b = &g->nodes[n->in[k]];
        if (b->op != IR_OP_BCAST || b->attr.u.reduce.mean || !same_shape(g, n->in[1 - k], n)) continue;
        return k == 0 ? ir_binary(g, n->op, b->in[0], n->in[1]) : ir_binary(g, n->op, n->in[0], b->in[0]);
    }
    return IR_NONE;
}

/* op(..., scale(g, f), ...) -> scale(op(..., g, ...), f) for an op linear in that operand: a
 * convolution's gradients, a sum, a slice (the moved scale is then a pointwise op on the
 * result, which a loop downstream absorbs; the rule cannot meet its own output). The residual
 * blocks' gradient (scaled by the block's factor for the up-convolution's two gradients and its
 * bias's sum) had to be written twice, scaled and not; now only g is, and the factor moves to
 * smaller values: a filter gradient, a [C] sum, or through the slices of the data gradient into
 * the branches' batch-norm loops. */
static IrId r_scale_through(IrGraph *g, const IrNode *n) {
    int k = n->op == IR_OP_CONV2D_BWD_DATA || n->op == IR_OP_SUM || n->op == IR_OP_SLICE ? 0
            : n->op == IR_OP_CONV2D_BWD_FILTER                                            ? 1
                                                                                           : -1;
    if (k < 0 || (g->nodes[n->in[k]].op != IR_OP_SCALE && g->nodes[n->in[k]].op != IR_OP_NEG)) return IR_NONE;
    /* read before ir_make may move nodes; a negation is a scale by -1 */
    const double f = g->nodes[n->in[k]].op == IR_OP_NEG ? -1.0 : g->nodes[n->in[k]].attr.u.scalar.f;
    IrId in[IR_MAX_IN];
    memcpy(in, n->in, (size_t)n->n_in * sizeof *in);
    in[k] = g->nodes[n->in[k]].in[0];
    IrId inner = ir_make(g, n->op, in, n->n_in, &n->attr);
    return inner == IR_NONE ? IR_NONE : ir_scalar_op(g, IR_OP_SCALE, inner, f);
}

/* sum(x * c) -> sum(x) * c where c has the sum's shape (a per-channel factor, constant along
 * the summed axes): batch norm's gradient sums g * rsqrt(v + eps) beside g itself, which the
 * beta gradient sums already, so the product's sum becomes a [C] multiply of that one */
static IrId r_sum_factor(IrGraph *g, const IrNode *n) {
    if (n->op != IR_OP_SUM || n->shape.rank == 0) return IR_NONE;
    const IrNode *x = &g->nodes[n->in[0]];
    if (x->op != IR_OP_MUL) return IR_NONE;
    for (int k = 0; k < 2; k++) {
        IrId c = x->in[k], other = x->in[1 - k];
        if (!ir_shape_equal(&g->nodes[c].shape, &n->shape) || !ir_shape_equal(&g->nodes[other].shape, &x->shape))
            continue;
        const IrAttr attr = n->attr; /* read before ir_make may move nodes */
        IrId inner = ir_make(g, IR_OP_SUM, &other, 1, &attr);
        return inner == IR_NONE ? IR_NONE : ir_binary(g, IR_OP_MUL, inner, c);
    }
    return IR_NONE;
}

static const Rule rules[] = {
    {"scale-by-one", r_scale_one}, {"add-scalar-zero", r_adds_zero},
    {"mul-by-one", r_mul_one},     {"add-zero", r_add_zero},
    {"neg-neg", r_neg_neg},        {"scale-scale", r_scale_scale},
    {"mul-const", r_mul_const},    {"bcast-operand", r_bcast_operand},
    {"scale-through", r_scale_through}, {"sum-factor", r_sum_factor},
};
enum { N_RULES = sizeof rules / sizeof rules[0] };

/* matches[k]: how often rule k has fired (the caller's counts) */
static IrId rebuild(IrGraph *dst, const IrGraph *src, IrId id, IrId *map, int *matches) {
    if (map[id] != IR_NONE) return map[id];
    const IrNode *s = &src->nodes[id];
    IrId in[IR_MAX_IN];
    for (int k = 0; k < s->n_in; k++) {
        in[k] = rebuild(dst, src, s->in[k], map, matches);
        if (in[k] == IR_NONE) return IR_NONE;
    }
    dst->cur_scope = s->scope;
    IrId r = ir_make(dst, s->op, in, s->n_in, &s->attr);
    for (int changed = 1; changed && r != IR_NONE;) {
        changed = 0;
        for (int k = 0; k < N_RULES; k++) {
            IrNode cur = dst->nodes[r];
            IrId t = rules[k].apply(dst, &cur);
            if (t != IR_NONE && t != r) {
                matches[k]++;
                r = t;
                changed = 1;
                break;
            }
        }
    }
    return map[id] = r;
}

static int simplify_once(IrGraph **gp, int *matches) {
    IrGraph *src = *gp, *dst = ir_graph_clone_empty(src);
    IrId *map = fn_malloc(((size_t)src->n_nodes + 1) * sizeof(IrId));
    if (!dst || !map) {
        snprintf(src->err, sizeof src->err, "simplify: out of memory");
        ir_graph_free(dst);
        free(map);
        return -1;
    }
    for (int i = 0; i < src->n_nodes; i++) map[i] = IR_NONE;
    int rc = 0;
    /* Recursion depth is bounded by the graph depth; keep leaves first so that ids stay in
     * the source's order for inputs and variables. */
    for (IrId i = 0; i < src->n_nodes; i++)
        if (ir_op_info[src->nodes[i].op].cls == IR_CLASS_SOURCE && src->nodes[i].op != IR_OP_CONST)
            rebuild(dst, src, i, map, matches);
    for (int i = 0; i < src->n_effects && rc == 0; i++)
        if (rebuild(dst, src, src->effects[i], map, matches) == IR_NONE) rc = -1;
    for (int i = 0; i < src->n_outputs && rc == 0; i++) {
        IrId r = rebuild(dst, src, src->outputs[i].id, map, matches);
        if (r == IR_NONE) rc = -1;
        else ir_set_output(dst, ir_str(src, src->outputs[i].name), r);
    }
    for (int i = 0; i < src->n_marks; i++)
        if (map[src->marks[i].id] != IR_NONE)
            ir_add_mark(dst, ir_str(src, src->marks[i].name), map[src->marks[i].id]);
    dst->cur_scope = src->cur_scope;
    free(map);
    if (rc || dst->oom) { /* oom: also a leaf, an output name or a mark, passed by above */
        snprintf(src->err, sizeof src->err, "simplify: %s", dst->oom ? "out of memory" : dst->err);
        ir_graph_free(dst);
        return -1;
    }
    ir_graph_free(src);
    *gp = dst;
    return 0;
}

/* Rewrites leave the nodes they replaced behind; rebuilding again drops them. */
int pass_simplify(IrGraph **gp, PassCtx *ctx) {
    int matches[N_RULES] = {0};
    for (int round = 0; round < 8; round++) {
        int before = 0, after = 0;
        for (int k = 0; k < N_RULES; k++) before += matches[k];
        if (simplify_once(gp, matches) < 0) return -1;
        for (int k = 0; k < N_RULES; k++) after += matches[k];
        if (after == before) break; /* nothing rewritten: the graph is clean */
    }
    if (ctx && ctx->time_passes)
        for (int k = 0; k < N_RULES; k++)
            if (matches[k]) fprintf(stderr, "  simplify: %-16s %d\n", rules[k].name, matches[k]);
    return 0;
}
