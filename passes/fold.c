/* Batch-norm folding, for eval graphs: inference batch norm right after a convolution or a
 * matmul moves into its weights,
 *
 *   (conv2d(x, w) - mean) * r + beta   ─▶   conv2d(x, w * r) + (beta - mean * r)
 *
 * (r is rsqrt(moving_variance + eps); the same for matmul(x, w) with w [K, C]), when mean, r and
 * beta are [C] vectors of the variables alone (no input reaches them) and the contraction and
 * the two steps between are read only by the next step (no output, mark or other reader). An
 * activation then takes one add instead of a subtract, a multiply and an add; the weight multiply
 * is per weight, not per activation, and the add becomes the contraction's epilogue
 * (runtime/cpu). The sums change in the last bits only (tests/test_fold.c: eval outputs within
 * 1e-5 of the unfolded graph's).
 * The graph is rebuilt in id order (a folded contraction moves to where its batch norm ended);
 * out of memory, the pass fails with "fold: out of memory" and leaves *g as it was.
 * Not here: training graphs (batch statistics are not constants), other algebra (simplify). */
#include "passes/passes.h"

#include <stdlib.h>

#include "ir/alloc.h"

typedef struct {
    IrId y, s, t;         /* the contraction, y - mean, (y - mean) * r: absorbed */
    IrId x, w, mean, r, beta;
} Match;

typedef struct {
    const IrGraph *src;
    int *readers;  /* per node: readers, outputs and marks */
    char *fixed;   /* per node: a function of the variables and constants alone */
    char *skip;    /* per node: absorbed by a fold */
    Match *head;   /* per node: the fold ending there (y == IR_NONE: none) */
    IrId *map;
} Fold;

static int fold_alloc(Fold *f, int n) {
    f->readers = fn_calloc((size_t)n + 1, sizeof *f->readers);
    f->fixed = fn_calloc((size_t)n + 1, 1);
    f->skip = fn_calloc((size_t)n + 1, 1);
    f->head = fn_malloc(((size_t)n + 1) * sizeof *f->head);
    f->map = fn_malloc(((size_t)n + 1) * sizeof *f->map);
    return f->readers && f->fixed && f->skip && f->head && f->map ? 0 : -1;
}
static void fold_free(Fold *f) {
    free(f->readers), free(f->fixed), free(f->skip), free(f->head), free(f->map);
}

static void count(Fold *f) {
    const IrGraph *g = f->src;
    for (IrId id = 0; id < g->n_nodes; id++) {
        const IrNode *n = &g->nodes[id];
        int fixed = n->op == IR_OP_PARAM || n->op == IR_OP_STATE || n->op == IR_OP_CONST;
        if (ir_op_info[n->op].cls != IR_CLASS_SOURCE && !(ir_op_info[n->op].flags & IR_F_RANDOM)) {
            fixed = 1;
            for (int k = 0; k < n->n_in; k++) fixed &= f->fixed[n->in[k]];
        }
        f->fixed[id] = (char)fixed;
        for (int k = 0; k < n->n_in; k++) f->readers[n->in[k]]++;
        f->head[id].y = IR_NONE;
    }
    for (int i = 0; i < g->n_outputs; i++) f->readers[g->outputs[i].id]++;
    for (int i = 0; i < g->n_marks; i++) f->readers[g->marks[i].id]++;
}

/* v is a fixed [C] vector, C the channel dimension (y's last) */
static int channel_vector(const Fold *f, IrId v, const IrShape *y) {
    const IrShape *s = &f->src->nodes[v].shape;
    return f->fixed[v] && s->rank == 1 && s->d[0] == y->d[y->rank - 1];
}

/* Operand k of binary node n whose other operand is a fixed channel vector of shape y; -1 if
 * neither (k = 0 only for sub: mean is its second operand). */
static int other_operand(const Fold *f, const IrNode *n, IrOp op, const IrShape *y, IrId *vec) {
    if (n->op != op) return -1;
    for (int k = 0; k < (op == IR_OP_SUB ? 1 : 2); k++)
        if (channel_vector(f, n->in[1 - k], y)) return *vec = n->in[1 - k], k;
    return -1;
}

/* Does add node id end a foldable batch norm? Fills f->head[id]. */
static int match(Fold *f, IrId id) {
    const IrGraph *g = f->src;
    const IrNode *a = &g->nodes[id];
    if (a->op != IR_OP_ADD || a->shape.rank < 2) return 0;
    Match m;
    for (int k = 0; k < 2; k++) {
        m.t = a->in[k], m.beta = a->in[1 - k];
        const IrNode *t = &g->nodes[m.t];
        if (!channel_vector(f, m.beta, &a->shape) || f->readers[m.t] != 1 || t->op != IR_OP_MUL) continue;
        int ks = other_operand(f, t, IR_OP_MUL, &a->shape, &m.r);
        if (ks < 0) continue;
        m.s = t->in[ks];
        const IrNode *s = &g->nodes[m.s];
        if (f->readers[m.s] != 1 || other_operand(f, s, IR_OP_SUB, &a->shape, &m.mean) != 0) continue;
        m.y = s->in[0];
        const IrNode *y = &g->nodes[m.y];
        int contraction = y->op == IR_OP_CONV2D || (y->op == IR_OP_MATMUL && !y->attr.u.matmul.tb);
        if (!contraction || f->readers[m.y] != 1 || !ir_shape_equal(&y->shape, &a->shape)) continue;
        m.x = y->in[0], m.w = y->in[1];
        f->head[id] = m;
        f->skip[m.y] = f->skip[m.s] = f->skip[m.t] = 1;
        return 1;
    }
    return 0;
}

/* The folded form of match m into dst (the contraction in its scope, the rest in the batch
 * norm's); IR_NONE when out of memory. */
static IrId emit(const Fold *f, IrGraph *dst, const Match *m) {
    const IrNode *y = &f->src->nodes[m->y];
    int bn_scope = dst->cur_scope;
    dst->cur_scope = y->scope;
    IrId in[2] = {f->map[m->x], ir_binary(dst, IR_OP_MUL, f->map[m->w], f->map[m->r])};
    IrId yy = ir_make(dst, y->op, in, 2, &y->attr);
    dst->cur_scope = bn_scope;
    IrId shift = ir_binary(dst, IR_OP_MUL, f->map[m->mean], f->map[m->r]);
    return ir_binary(dst, IR_OP_ADD, yy, ir_binary(dst, IR_OP_SUB, f->map[m->beta], shift));
}

static int rebuild(Fold *f, IrGraph *dst) {
    const IrGraph *src = f->src;
    for (IrId id = 0; id < src->n_nodes; id++) {
        const IrNode *n = &src->nodes[id];
        f->map[id] = IR_NONE;
        if (f->skip[id]) continue;
        dst->cur_scope = n->scope;
        if (f->head[id].y != IR_NONE) {
            f->map[id] = emit(f, dst, &f->head[id]);
        } else {
            IrId in[IR_MAX_IN];
            for (int k = 0; k < n->n_in; k++) in[k] = f->map[n->in[k]];
            f->map[id] = ir_make(dst, n->op, in, n->n_in, &n->attr);
        }
        if (f->map[id] == IR_NONE) return -1;
    }
    return ir_copy_names(dst, src, f->map);
}

int pass_fold(IrGraph **gp, PassCtx *ctx) {
    if (ctx && ctx->keep_batch_norm) return 0;
    Fold f = {.src = *gp};
    IrGraph *dst = NULL;
    int rc = -1, folds = 0;
    if (fold_alloc(&f, (*gp)->n_nodes) == 0) {
        count(&f);
        for (IrId id = 0; id < (*gp)->n_nodes; id++) folds += match(&f, id);
        rc = !folds ? 0 : (dst = ir_graph_clone_empty(*gp)) ? rebuild(&f, dst) : -1;
    }
    fold_free(&f);
    if (rc) {
        snprintf((*gp)->err, sizeof (*gp)->err, "fold: %s", !dst || dst->oom ? "out of memory" : dst->err);
        ir_graph_free(dst);
        return -1;
    }
    if (ctx && ctx->time_passes && folds) fprintf(stderr, "  fold: %d batch norms\n", folds);
    if (dst) ir_graph_free(*gp), *gp = dst;
    return 0;
}
