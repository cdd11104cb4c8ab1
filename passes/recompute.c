/* Recompute: a pointwise value that a loop can recompute from one tensor kept in memory anyway
 * (a convolution's output) and small operands (per-channel vectors, scalars) is not read back
 * from memory by its later readers: each gets its own copy of the expression (IrAttr.copy, so
 * that hash-consing keeps the copies apart), and fusion (passes/fuse.c) puts the copy in the
 * reader's loop. Batch norm is the case, x a convolution's output:
 *   xc = x - mean         read by the variance's loop, the normalisation's and twice by the
 *                         gradient's: it was written once and read back three times; now it is
 *                         not written at all
 *   y = relu(xc * r + b)  read by the next convolution (so written anyway) and by its gradient's
 *                         relu mask, whose loop now reads x (read there anyway for xc) instead
 *                         of y: one tensor fewer to read
 * A value is copied for a reader whose loop runs over its shape (or sums it) when
 *   - all its readers are such: every reader but the first gets a copy, so the value is no
 *     longer written; its tensor x is then kept until the last copy reads it;
 *   - or some reader is not (a convolution, an output), and x is kept anyway by a copy of the
 *     first kind: then the copy trades a read of the value for a read of x, which the reader's
 *     loop very likely reads already. Without such a copy the trade would keep x alive longer
 *     for nothing (relu(conv + bias) is left alone).
 * A copy is at most MAX_CHAIN nodes. The pass runs last: simplify would merge nothing (the
 * copies differ in IrAttr.copy), but it is the place where the graph is final. Out of memory,
 * the pass fails with "recompute: out of memory" and leaves *g as it was. */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

enum { MAX_CHAIN = 8 };

typedef struct {
    const IrGraph *src;
    IrGraph *dst;
    IrId *map;       /* src id -> dst id of the original */
    IrId *leaf;      /* src id -> the one big tensor its expression reads, or IR_NONE */
    int *size;       /* nodes in its expression (the copy's size) */
    IrId *first;     /* its first reader */
    char *copy_mode; /* 0: no copies; 1: for every fusable reader but the first; 2: for every one */
    char *all_take;  /* every reader takes a copy */
    char *kept;      /* a big tensor some copy of mode 1 reads (kept in memory until then) */
    int *readers;    /* distinct readers */
    int next_copy;
} Rc;

static void rc_free(Rc *rc) {
    free(rc->map), free(rc->leaf), free(rc->size), free(rc->first), free(rc->copy_mode);
    free(rc->all_take), free(rc->kept), free(rc->readers);
}

/* The per-node arrays for n nodes; 0, or -1 when out of memory (rc_free frees what was made). */
static int rc_alloc(Rc *rc, int n) {
    size_t k = (size_t)n + 1;
    rc->map = fn_malloc(k * sizeof *rc->map);
    rc->leaf = fn_malloc(k * sizeof *rc->leaf);
    rc->size = fn_calloc(k, sizeof *rc->size);
    rc->first = fn_malloc(k * sizeof *rc->first);
    rc->copy_mode = fn_calloc(k, 1);
    rc->all_take = fn_malloc(k);
    rc->kept = fn_calloc(k, 1);
    rc->readers = fn_calloc(k, sizeof *rc->readers);
    return rc->map && rc->leaf && rc->size && rc->first && rc->copy_mode && rc->all_take && rc->kept && rc->readers
               ? 0
               : -1;
}

/* Whether reader u's loop can take a copy of r: u is pointwise over r's shape, or sums r. (A
 * smaller value, such as batch norm's [C] scale, read by a larger loop costs little to read.) */
static int takes_copy(const IrGraph *g, IrId r, IrId u) {
    const IrNode *un = &g->nodes[u];
    return un->dtype == IR_DT_FLOAT && (un->op == IR_OP_SUM || (pass_fuse_pointwise(un->op) &&
                                                                ir_shape_equal(&un->shape, &g->nodes[r].shape)));
}

/* Whether id's value is an expression of one big tensor and small operands (leaf/size). */
static void classify(Rc *rc, IrId id) {
    const IrNode *nd = &rc->src->nodes[id];
    rc->leaf[id] = IR_NONE;
    if (ir_op_info[nd->op].cls != IR_CLASS_ELEMENTWISE || nd->dtype != IR_DT_FLOAT) return;
    IrId leaf = IR_NONE;
    int size = 1;
    for (int k = 0; k < nd->n_in; k++) {
        IrId i = nd->in[k];
        const IrNode *in = &rc->src->nodes[i];
        IrId l = IR_NONE;
        if (!ir_shape_equal(&in->shape, &nd->shape)) {
            continue; /* a smaller operand, read as it is */
        } else if (rc->leaf[i] != IR_NONE) { /* part of the expression */
            l = rc->leaf[i];
            size += rc->size[i];
        } else if (in->op == IR_OP_BCAST) {
            size++; /* copied too: a shared broadcast would be written at full size */
        } else if (!pass_fuse_pointwise(in->op) && in->op != IR_OP_SUM) {
            l = i; /* a tensor in memory anyway (a sum's is small: no gain in copies) */
        } else {
            return; /* a full-size pointwise value of its own: no */
        }
        if (l != IR_NONE && leaf != IR_NONE && l != leaf) return;
        if (l != IR_NONE) leaf = l;
    }
    if (leaf == IR_NONE || size > MAX_CHAIN) return;
    rc->leaf[id] = leaf;
    rc->size[id] = size;
}

/* A copy of r's expression for one reader: its nodes and broadcasts copied (memo: this copy's
 * src -> dst ids), everything else read from the originals. */
static IrId copy_expr(Rc *rc, IrId r, IrId memo_src[MAX_CHAIN], IrId memo_dst[MAX_CHAIN], int *n_memo) {
    for (int m = 0; m < *n_memo; m++)
        if (memo_src[m] == r) return memo_dst[m];
    const IrNode *nd = &rc->src->nodes[r];
    IrId in[IR_MAX_IN];
    for (int k = 0; k < nd->n_in; k++) {
        IrId i = nd->in[k];
        const IrNode *x = &rc->src->nodes[i];
        int inside = ir_shape_equal(&x->shape, &nd->shape) && (rc->leaf[i] != IR_NONE || x->op == IR_OP_BCAST);
        in[k] = inside ? copy_expr(rc, i, memo_src, memo_dst, n_memo) : rc->map[i];
        if (in[k] == IR_NONE) return IR_NONE;
    }
    IrAttr at = nd->attr;
    at.copy = ++rc->next_copy;
    rc->dst->cur_scope = nd->scope;
    IrId id = ir_make(rc->dst, nd->op, in, nd->n_in, &at);
    if (id != IR_NONE && *n_memo < MAX_CHAIN) memo_src[*n_memo] = r, memo_dst[(*n_memo)++] = id;
    return id;
}

/* Which values get copies, and of which kind (rc->copy_mode). */
static void plan_copies(Rc *rc) {
    const IrGraph *src = rc->src;
    const int n = src->n_nodes;
    char *all_take = rc->all_take, *kept = rc->kept;
    int *readers = rc->readers;
    for (IrId id = 0; id < n; id++) {
        classify(rc, id);
        rc->first[id] = IR_NONE;
        all_take[id] = 1;
        if (src->nodes[id].attr.copy > rc->next_copy) rc->next_copy = src->nodes[id].attr.copy;
    }
    for (IrId id = 0; id < n; id++) {
        const IrNode *nd = &src->nodes[id];
        for (int k = 0; k < nd->n_in; k++) {
            IrId i = nd->in[k];
            if (k > 0 && nd->in[k - 1] == i) continue; /* x * x reads x once */
            readers[i]++;
            if (rc->first[i] == IR_NONE) rc->first[i] = id;
            if (!takes_copy(src, i, id)) all_take[i] = 0;
        }
    }
    for (int i = 0; i < src->n_outputs; i++) all_take[src->outputs[i].id] = 0;
    for (IrId id = 0; id < n; id++)
        if (rc->leaf[id] != IR_NONE && readers[id] > 1 && all_take[id]) rc->copy_mode[id] = 1, kept[rc->leaf[id]] = 1;
    for (IrId id = 0; id < n; id++)
        if (rc->leaf[id] != IR_NONE && readers[id] > 1 && !all_take[id] && kept[rc->leaf[id]]) rc->copy_mode[id] = 2;
}

/* Rebuilds the graph into rc->dst in order, a reader's copies just before it; 0 or -1. */
static int rebuild(Rc *rc) {
    const IrGraph *src = rc->src;
    IrGraph *dst = rc->dst;
    const int n = src->n_nodes;
    int rcode = 0;
    for (IrId id = 0; id < n && rcode == 0; id++) {
        const IrNode *nd = &src->nodes[id];
        IrId in[IR_MAX_IN];
        for (int k = 0; k < nd->n_in; k++) {
            IrId r = nd->in[k];
            int mode = rc->copy_mode[r];
            in[k] = rc->map[r];
            if (k > 0 && nd->in[k - 1] == r) {
                in[k] = in[k - 1]; /* x * x: one copy */
            } else if (takes_copy(src, r, id) && (mode == 2 || (mode == 1 && rc->first[r] != id))) {
                IrId memo_src[MAX_CHAIN], memo_dst[MAX_CHAIN];
                int n_memo = 0;
                in[k] = copy_expr(rc, r, memo_src, memo_dst, &n_memo);
            }
            if (in[k] == IR_NONE) rcode = -1;
        }
        if (rcode) break;
        dst->cur_scope = nd->scope;
        rc->map[id] = ir_make(dst, nd->op, in, nd->n_in, &nd->attr);
        if (rc->map[id] == IR_NONE) rcode = -1;
    }
    return rcode || ir_copy_names(dst, src, rc->map) < 0 ? -1 : 0;
}

int pass_recompute(IrGraph **gp, PassCtx *ctx) {
    (void)ctx;
    Rc rc = {.src = *gp};
    int rcode = -1;
    if (rc_alloc(&rc, (*gp)->n_nodes) == 0 && (rc.dst = ir_graph_clone_empty(*gp))) {
        plan_copies(&rc);
        rcode = rebuild(&rc);
    }
    rc_free(&rc);
    if (rcode) {
        snprintf((*gp)->err, sizeof (*gp)->err, "recompute: %s",
                 !rc.dst || rc.dst->oom ? "out of memory" : rc.dst->err);
        ir_graph_free(rc.dst);
        return -1;
    }
    ir_graph_free(*gp);
    *gp = rc.dst;
    return 0;
}
