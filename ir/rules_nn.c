/* Shape and VJP rules of sources, softmax and cross-entropy, L2 normalisation, dropout,
 * accuracy, the replicas' sum and assignment. */
#include "ir/rules.h"

#include <string.h>

int ir_infer_nn(IrGraph *g, IrNode *n) {
    const char *name = ir_op_info[n->op].name;
    const IrShape *x = n->n_in ? ir_shape_of(g, n->in[0]) : NULL;
    IrShape out;
    memset(&out, 0, sizeof out);
    switch (n->op) {
    case IR_OP_INPUT:
    case IR_OP_PARAM:
    case IR_OP_STATE:
        if (n->attr.u.leaf.flags & IR_LEAF_INT) {
            if (n->op != IR_OP_INPUT) return ir_rules_fail(g, "only inputs may be int32");
            n->dtype = IR_DT_INT32;
        }
        out = n->attr.shape;
        break;
    case IR_OP_CONST: out = n->attr.shape; break;
    case IR_OP_SOFTMAX:
    case IR_OP_L2NORM:
        if (x->rank < 1) return ir_rules_fail(g, "%s of a scalar", name);
        out = *x;
        break;
    case IR_OP_L2NORM_GRAD: out = *x; break;
    case IR_OP_ALLREDUCE:
        if (n->attr.u.replicas.group < 0 || n->attr.u.replicas.group >= IR_REPLICAS_COUNT)
            return ir_rules_fail(g, "allreduce: unknown replica group %d", n->attr.u.replicas.group);
        out = *x;
        break;
    case IR_OP_SOFTMAX_XENT:
    case IR_OP_ACCURACY:
    case IR_OP_SOFTMAX_XENT_GRAD: {
        const IrShape *l = ir_shape_of(g, n->in[1]);
        if (x->rank != 2) return ir_rules_fail(g, "%s: logits must be [N,K]", name);
        if (g->nodes[n->in[1]].dtype != IR_DT_INT32 || l->rank != 1 || l->d[0] != x->d[0])
            return ir_rules_fail(g, "%s: labels must be int32 [N] matching the logits' rows", name);
        if (n->op == IR_OP_SOFTMAX_XENT) {
            out.rank = 1;
            out.d[0] = x->d[0];
        } else if (n->op == IR_OP_SOFTMAX_XENT_GRAD) {
            out = *x;
        }
        break;
    }
    case IR_OP_GATHER:
    case IR_OP_SCATTER_ADD: {
        const IrShape *idx = ir_shape_of(g, n->in[1]);
        if (g->nodes[n->in[1]].dtype != IR_DT_INT32 || idx->rank != 1)
            return ir_rules_fail(g, "%s: indices must be int32 [N]", name);
        if (x->rank != 2) return ir_rules_fail(g, "%s: %s must be a matrix", name,
                                               n->op == IR_OP_GATHER ? "table" : "values");
        if (n->op == IR_OP_GATHER) {
            out.rank = 2;
            out.d[0] = idx->d[0];
            out.d[1] = x->d[1];
        } else {
            if (x->d[0] != idx->d[0])
                return ir_rules_fail(g, "scatter_add: values and indices have different rows");
            out = n->attr.shape;
            if (out.rank != 2 || out.d[1] != x->d[1])
                return ir_rules_fail(g, "scatter_add: target must be [C,E] with the values' E");
        }
        break;
    }
    case IR_OP_DROPOUT_MASK:
        if (ir_shape_of(g, n->in[1])->rank != 0)
            return ir_rules_fail(g, "dropout: keep probability must be a scalar");
        out = *x;
        break;
    case IR_OP_ASSIGN: {
        IrOp t = g->nodes[n->in[0]].op;
        if (t != IR_OP_PARAM && t != IR_OP_STATE)
            return ir_rules_fail(g, "assign: target must be a param or state");
        if (!ir_shape_equal(x, ir_shape_of(g, n->in[1]))) {
            char sa[256], sb[256];
            ir_shape_format(g, x, sa, sizeof sa);
            ir_shape_format(g, ir_shape_of(g, n->in[1]), sb, sizeof sb);
            return ir_rules_fail(g, "assign: target %s and value %s differ", sa, sb);
        }
        out = *x;
        break;
    }
    default: return ir_rules_fail(g, "no shape rule for %s", name);
    }
    n->shape = out;
    return 0;
}

int ir_vjp_nn(IrGraph *g, IrId id, IrId dy, IrId *dx) {
    IrNode n = g->nodes[id];
    switch (n.op) {
    case IR_OP_PARAM:
    case IR_OP_CONST: return 0;
    case IR_OP_SOFTMAX: { /* dx = y * (dy - sum_last(dy*y)) */
        IrShape s = n.shape;
        IrId t = ir_reduce(g, IR_OP_SUMLAST, ir_binary(g, IR_OP_MUL, dy, id), 0, 0, NULL);
        t = ir_reduce(g, IR_OP_BCASTLAST, t, 0, 0, &s);
        dx[0] = ir_binary(g, IR_OP_MUL, id, ir_binary(g, IR_OP_SUB, dy, t));
        break;
    }
    case IR_OP_SOFTMAX_XENT: {
        IrId in[3] = {n.in[0], n.in[1], dy};
        dx[0] = ir_make(g, IR_OP_SOFTMAX_XENT_GRAD, in, 3, NULL);
        return dx[0] == IR_NONE ? -1 : 0;
    }
    case IR_OP_GATHER: { /* the table's adjoint: rows added back where they were read */
        IrAttr at;
        memset(&at, 0, sizeof at);
        at.shape = *ir_shape_of(g, n.in[0]);
        IrId in[2] = {dy, n.in[1]};
        dx[0] = ir_make(g, IR_OP_SCATTER_ADD, in, 2, &at);
        break;
    }
    case IR_OP_SCATTER_ADD:
        dx[0] = ir_binary(g, IR_OP_GATHER, dy, n.in[1]);
        break;
    case IR_OP_ALLREDUCE:
        /* self-adjoint under the mean of the replicas' gradients the optimiser applies: each
           replica's x feeds every replica's loss, so its cotangent is the same reduction of
           theirs (1/K of it again for a mean, as the forward divided) */
        dx[0] = ir_make(g, IR_OP_ALLREDUCE, &dy, 1, &n.attr);
        break;
    case IR_OP_L2NORM: {
        IrId in[2] = {n.in[0], dy};
        dx[0] = ir_make(g, IR_OP_L2NORM_GRAD, in, 2, &n.attr);
        break;
    }
    default: return ir_rules_fail(g, "no VJP rule for %s", ir_op_info[n.op].name);
    }
    return dx[0] == IR_NONE ? -1 : 0;
}
