/* Shape and VJP rules of matmul, the convolutions and the pools (NHWC, HWIO, TF padding). */
#include "ir/rules.h"

#include <string.h>

/* Output size along one spatial axis: SAME ceil(in/s), VALID (in-k)/s+1. */
static IrDim window_out(IrGraph *g, IrDim in, int k, int s, int same) {
    if (same) return ir_dim_floordiv(g, ir_dim_add(g, in, ir_dim_const(g, s - 1)), ir_dim_const(g, s));
    return ir_dim_add(g, ir_dim_floordiv(g, ir_dim_sub(g, in, ir_dim_const(g, k)), ir_dim_const(g, s)),
                      ir_dim_const(g, 1));
}

static int check_rank(IrGraph *g, IrId id, int rank, const char *op, const char *what) {
    int r = ir_shape_of(g, id)->rank;
    if (r != rank) return ir_rules_fail(g, "%s: %s must have rank %d, got %d", op, what, rank, r);
    return 0;
}

int ir_infer_contraction(IrGraph *g, IrNode *n) {
    const char *name = ir_op_info[n->op].name;
    const IrWindowAttr *w = &n->attr.u.window;
    const IrShape *x = ir_shape_of(g, n->in[0]);
    IrShape out;
    memset(&out, 0, sizeof out);
    for (int i = 0; i < n->n_in; i++)
        if (g->nodes[n->in[i]].dtype != IR_DT_FLOAT)
            return ir_rules_fail(g, "%s needs float operands", name);
    int global = (n->op == IR_OP_AVGPOOL || n->op == IR_OP_AVGPOOL_GRAD) && w->kh == 0 && w->kw == 0;
    if (ir_op_info[n->op].attr == IR_ATTR_WINDOW && !global &&
        (w->kh < 1 || w->kw < 1 || w->sh < 1 || w->sw < 1))
        return ir_rules_fail(g, "%s: window %dx%d stride %dx%d must be positive", name, w->kh,
                             w->kw, w->sh, w->sw);
    switch (n->op) {
    case IR_OP_MATMUL: {
        if (check_rank(g, n->in[0], 2, name, "a") || check_rank(g, n->in[1], 2, name, "b"))
            return -1;
        const IrShape *b = ir_shape_of(g, n->in[1]);
        const IrMatmulAttr *m = &n->attr.u.matmul;
        IrDim ka = x->d[m->ta ? 0 : 1], kb = b->d[m->tb ? 1 : 0];
        if (ka != kb) {
            char s1[64], s2[64];
            ir_dim_format(g, ka, s1, sizeof s1);
            ir_dim_format(g, kb, s2, sizeof s2);
            return ir_rules_fail(g, "matmul: inner dimensions differ (%s vs %s)", s1, s2);
        }
        out.rank = 2;
        out.d[0] = x->d[m->ta ? 1 : 0];
        out.d[1] = b->d[m->tb ? 0 : 1];
        break;
    }
    case IR_OP_CONV2D: {
        if (check_rank(g, n->in[0], 4, name, "input") || check_rank(g, n->in[1], 4, name, "filter"))
            return -1;
        const IrShape *f = ir_shape_of(g, n->in[1]);
        int64_t kh, kw;
        if (!ir_dim_const_value(g, f->d[0], &kh) || !ir_dim_const_value(g, f->d[1], &kw) ||
            kh != w->kh || kw != w->kw)
            return ir_rules_fail(g, "conv2d: filter window does not match attribute %dx%d", w->kh,
                                 w->kw);
        if (f->d[2] != x->d[3]) {
            char s1[64], s2[64];
            ir_dim_format(g, x->d[3], s1, sizeof s1);
            ir_dim_format(g, f->d[2], s2, sizeof s2);
            return ir_rules_fail(g, "conv2d: input has %s channels but the filter expects %s", s1,
                                 s2);
        }
        out.rank = 4;
        out.d[0] = x->d[0];
        out.d[1] = window_out(g, x->d[1], w->kh, w->sh, w->same);
        out.d[2] = window_out(g, x->d[2], w->kw, w->sw, w->same);
        out.d[3] = f->d[3];
        break;
    }
    case IR_OP_CONV2D_BWD_DATA:
    case IR_OP_AVGPOOL_GRAD: out = n->attr.shape; break;
    case IR_OP_CONV2D_BWD_FILTER: {
        const IrShape *dy = ir_shape_of(g, n->in[1]);
        out.rank = 4;
        out.d[0] = ir_dim_const(g, w->kh);
        out.d[1] = ir_dim_const(g, w->kw);
        out.d[2] = x->d[3];
        out.d[3] = dy->d[3];
        break;
    }
    case IR_OP_MAXPOOL:
    case IR_OP_AVGPOOL:
        if (check_rank(g, n->in[0], 4, name, "input")) return -1;
        out = *x;
        if (n->op == IR_OP_AVGPOOL && w->kh == 0) {
            out.d[1] = out.d[2] = ir_dim_const(g, 1);
        } else {
            out.d[1] = window_out(g, x->d[1], w->kh, w->sh, w->same);
            out.d[2] = window_out(g, x->d[2], w->kw, w->sw, w->same);
        }
        break;
    case IR_OP_MAXPOOL_GRAD: out = *x; break;
    default: return ir_rules_fail(g, "not a contraction: %s", name);
    }
    n->shape = out;
    return 0;
}

int ir_vjp_contraction(IrGraph *g, IrId id, IrId dy, IrId *dx) {
    IrNode n = g->nodes[id];
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.window = n.attr.u.window;
    switch (n.op) {
    case IR_OP_MATMUL: {
        int ta = n.attr.u.matmul.ta, tb = n.attr.u.matmul.tb;
        IrId a = n.in[0], b = n.in[1];
        IrAttr m;
        memset(&m, 0, sizeof m);
        IrId in[2];
        if (!ta) { m.u.matmul = (IrMatmulAttr){0, !tb}; in[0] = dy; in[1] = b; }
        else { m.u.matmul = (IrMatmulAttr){tb, 1}; in[0] = b; in[1] = dy; }
        dx[0] = ir_make(g, IR_OP_MATMUL, in, 2, &m);
        if (!tb) { m.u.matmul = (IrMatmulAttr){!ta, 0}; in[0] = a; in[1] = dy; }
        else { m.u.matmul = (IrMatmulAttr){1, ta}; in[0] = dy; in[1] = a; }
        dx[1] = ir_make(g, IR_OP_MATMUL, in, 2, &m);
        break;
    }
    case IR_OP_CONV2D: {
        IrId in[2] = {dy, n.in[1]};
        at.shape = *ir_shape_of(g, n.in[0]);
        dx[0] = ir_make(g, IR_OP_CONV2D_BWD_DATA, in, 2, &at);
        memset(&at.shape, 0, sizeof at.shape);
        in[0] = n.in[0];
        in[1] = dy;
        dx[1] = ir_make(g, IR_OP_CONV2D_BWD_FILTER, in, 2, &at);
        break;
    }
    case IR_OP_MAXPOOL: {
        IrId in[2] = {n.in[0], dy};
        dx[0] = ir_make(g, IR_OP_MAXPOOL_GRAD, in, 2, &at);
        break;
    }
    case IR_OP_AVGPOOL:
        at.shape = *ir_shape_of(g, n.in[0]);
        dx[0] = ir_make(g, IR_OP_AVGPOOL_GRAD, &dy, 1, &at);
        break;
    default: return ir_rules_fail(g, "no VJP rule for %s", ir_op_info[n.op].name);
    }
    for (int i = 0; i < n.n_in; i++)
        if (dx[i] == IR_NONE) return -1;
    return 0;
}
