/* Shape and VJP rules of reductions, broadcasts and data movement (reshape, concat, slice). */
#include "ir/rules.h"

#include <string.h>

static int norm_axis(int axis, int rank) { return axis < 0 ? axis + rank : axis; }

int ir_infer_movement(IrGraph *g, IrNode *n) {
    const IrShape *x = ir_shape_of(g, n->in[0]);
    const IrReduceAttr *r = &n->attr.u.reduce;
    const char *name = ir_op_info[n->op].name;
    IrShape out;
    memset(&out, 0, sizeof out);
    if (n->op != IR_OP_RESHAPE && n->op != IR_OP_CONCAT && n->op != IR_OP_SLICE &&
        g->nodes[n->in[0]].dtype != IR_DT_FLOAT)
        return ir_rules_fail(g, "%s needs a float operand", name);
    switch (n->op) {
    case IR_OP_SUM:
        if (r->keep < 0 || r->keep > x->rank)
            return ir_rules_fail(g, "sum keeps %d axes of a rank-%d tensor", r->keep, x->rank);
        out.rank = r->keep;
        for (int i = 0; i < r->keep; i++) out.d[i] = x->d[x->rank - r->keep + i];
        break;
    case IR_OP_SUMLAST:
        if (x->rank < 1) return ir_rules_fail(g, "sum_last of a scalar");
        out = *x;
        out.rank--;
        break;
    case IR_OP_BCAST: {
        const IrShape *t = &n->attr.shape;
        if (x->rank > t->rank) return ir_rules_fail(g, "bcast to a lower rank");
        for (int i = 0; i < x->rank; i++)
            if (x->d[x->rank - 1 - i] != t->d[t->rank - 1 - i])
                return ir_rules_fail(g, "bcast: operand is not a suffix of the target shape");
        if (r->keep != x->rank) return ir_rules_fail(g, "bcast: keep must equal operand rank");
        out = *t;
        break;
    }
    case IR_OP_BCASTLAST: {
        const IrShape *t = &n->attr.shape;
        if (t->rank != x->rank + 1) return ir_rules_fail(g, "bcastlast: target rank mismatch");
        for (int i = 0; i < x->rank; i++)
            if (x->d[i] != t->d[i]) return ir_rules_fail(g, "bcastlast: leading dims differ");
        out = *t;
        break;
    }
    case IR_OP_RESHAPE: {
        const IrShape *t = &n->attr.shape;
        int64_t a = 1, b = 1, v;
        int all_const = 1;
        for (int i = 0; i < x->rank && all_const; i++) /* v is set only for a constant */
            if ((all_const = ir_dim_const_value(g, x->d[i], &v))) a *= v;
        for (int i = 0; i < t->rank && all_const; i++)
            if ((all_const = ir_dim_const_value(g, t->d[i], &v))) b *= v;
        if (all_const && a != b)
            return ir_rules_fail(g, "reshape of %lld elements to %lld", (long long)a,
                                 (long long)b);
        out = *t;
        n->dtype = g->nodes[n->in[0]].dtype;
        break;
    }
    case IR_OP_CONCAT: {
        int ax = norm_axis(n->attr.u.axis.axis, x->rank);
        if (ax < 0 || ax >= x->rank) return ir_rules_fail(g, "concat axis out of range");
        n->attr.u.axis.axis = ax;
        out = *x;
        for (int k = 1; k < n->n_in; k++) {
            const IrShape *y = ir_shape_of(g, n->in[k]);
            if (y->rank != x->rank)
                return ir_rules_fail(g, "concat: input %d has rank %d, expected %d", k, y->rank,
                                     x->rank);
            for (int i = 0; i < x->rank; i++)
                if (i != ax && y->d[i] != x->d[i]) {
                    char sa[256], sb[256];
                    ir_shape_format(g, x, sa, sizeof sa);
                    ir_shape_format(g, y, sb, sizeof sb);
                    return ir_rules_fail(g, "concat: shapes %s and %s differ off axis %d", sa, sb,
                                         ax);
                }
            out.d[ax] = ir_dim_add(g, out.d[ax], y->d[ax]);
        }
        break;
    }
    case IR_OP_SLICE: {
        int ax = n->attr.u.axis.axis;
        if (ax < 0 || ax >= x->rank) return ir_rules_fail(g, "slice axis out of range");
        out = *x;
        out.d[ax] = ir_dim_const(g, n->attr.u.axis.len);
        n->dtype = g->nodes[n->in[0]].dtype;
        break;
    }
    default: return ir_rules_fail(g, "not a movement op: %s", name);
    }
    n->shape = out;
    return 0;
}

int ir_vjp_movement(IrGraph *g, IrId id, IrId dy, IrId *dx) {
    IrNode n = g->nodes[id];
    IrShape sx = *ir_shape_of(g, n.in[0]);
    const IrReduceAttr *r = &n.attr.u.reduce;
    switch (n.op) {
    case IR_OP_SUM: dx[0] = ir_reduce(g, IR_OP_BCAST, dy, r->keep, r->mean, &sx); break;
    case IR_OP_SUMLAST: dx[0] = ir_reduce(g, IR_OP_BCASTLAST, dy, 0, r->mean, &sx); break;
    case IR_OP_BCAST: dx[0] = ir_reduce(g, IR_OP_SUM, dy, r->keep, r->mean, NULL); break;
    case IR_OP_BCASTLAST: dx[0] = ir_reduce(g, IR_OP_SUMLAST, dy, 0, r->mean, NULL); break;
    case IR_OP_RESHAPE: {
        IrAttr at;
        memset(&at, 0, sizeof at);
        at.shape = sx;
        dx[0] = ir_make(g, IR_OP_RESHAPE, &dy, 1, &at);
        break;
    }
    case IR_OP_CONCAT: {
        int ax = n.attr.u.axis.axis, start = 0;
        for (int k = 0; k < n.n_in; k++) {
            int64_t len;
            if (!ir_dim_const_value(g, ir_shape_of(g, n.in[k])->d[ax], &len))
                return ir_rules_fail(g, "concat VJP needs constant sizes along the axis");
            IrAttr at;
            memset(&at, 0, sizeof at);
            at.u.axis = (IrAxisAttr){ax, start, (int)len};
            dx[k] = ir_make(g, IR_OP_SLICE, &dy, 1, &at);
            if (dx[k] == IR_NONE) return -1;
            start += (int)len;
        }
        return 0;
    }
    default: return ir_rules_fail(g, "no VJP rule for %s", ir_op_info[n.op].name);
    }
    return dx[0] == IR_NONE ? -1 : 0;
}
