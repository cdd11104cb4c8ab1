/* Shape and VJP rules of the elementwise ops (binary ops broadcast a suffix-shaped operand). */
#include "ir/rules.h"

static int is_suffix(const IrShape *small, const IrShape *big) {
    if (small->rank > big->rank) return 0;
    for (int i = 0; i < small->rank; i++)
        if (small->d[small->rank - 1 - i] != big->d[big->rank - 1 - i]) return 0;
    return 1;
}

int ir_infer_elementwise(IrGraph *g, IrNode *n) {
    const IrShape *a = ir_shape_of(g, n->in[0]);
    for (int i = 0; i < n->n_in; i++)
        if (g->nodes[n->in[i]].dtype != IR_DT_FLOAT)
            return ir_rules_fail(g, "%s needs float operands, got int32", ir_op_info[n->op].name);
    if (n->n_in == 1) {
        n->shape = *a;
        return 0;
    }
    const IrShape *b = ir_shape_of(g, n->in[1]);
    if (n->op == IR_OP_PRELU && !is_suffix(b, a))
        return ir_rules_fail(g, "prelu: alpha's shape must be a suffix of x's");
    if (is_suffix(b, a)) n->shape = *a;
    else if (is_suffix(a, b)) n->shape = *b;
    else {
        char sa[256], sb[256];
        ir_shape_format(g, a, sa, sizeof sa);
        ir_shape_format(g, b, sb, sizeof sb);
        return ir_rules_fail(g, "%s: shapes %s and %s do not broadcast (one must be a suffix of "
                                "the other)", ir_op_info[n->op].name, sa, sb);
    }
    return 0;
}

int ir_vjp_elementwise(IrGraph *g, IrId id, IrId dy, IrId *dx) {
    IrNode n = g->nodes[id];
    IrId x = n.in[0], b = n.n_in > 1 ? n.in[1] : IR_NONE;
    IrShape sa = *ir_shape_of(g, x), sb = b >= 0 ? *ir_shape_of(g, b) : sa;
    double f = n.attr.u.scalar.f;
    switch (n.op) {
    case IR_OP_ADD:
        dx[0] = ir_sum_to(g, dy, &sa);
        dx[1] = ir_sum_to(g, dy, &sb);
        break;
    case IR_OP_SUB:
        dx[0] = ir_sum_to(g, dy, &sa);
        dx[1] = ir_sum_to(g, ir_unary(g, IR_OP_NEG, dy), &sb);
        break;
    case IR_OP_PRELU: { /* dx = dy * (x > 0 ? 1 : alpha); dalpha = sum of dy * min(x, 0) */
        IrId pos = ir_unary(g, IR_OP_STEP, x), neg = ir_scalar_op(g, IR_OP_ADDS, ir_unary(g, IR_OP_NEG, pos), 1);
        dx[0] = ir_binary(g, IR_OP_MUL, dy, ir_binary(g, IR_OP_ADD, pos, ir_binary(g, IR_OP_MUL, neg, b)));
        dx[1] = ir_sum_to(g, ir_binary(g, IR_OP_MUL, dy, ir_binary(g, IR_OP_MUL, x, neg)), &sb);
        break;
    }
    case IR_OP_MUL:
        dx[0] = ir_sum_to(g, ir_binary(g, IR_OP_MUL, dy, b), &sa);
        dx[1] = ir_sum_to(g, ir_binary(g, IR_OP_MUL, dy, x), &sb);
        break;
    case IR_OP_DIV: /* y = a/b: da = dy/b, db = -dy*y/b */
        dx[0] = ir_sum_to(g, ir_binary(g, IR_OP_DIV, dy, b), &sa);
        dx[1] = ir_sum_to(
            g, ir_unary(g, IR_OP_NEG, ir_binary(g, IR_OP_DIV, ir_binary(g, IR_OP_MUL, dy, id), b)),
            &sb);
        break;
    case IR_OP_NEG: dx[0] = ir_unary(g, IR_OP_NEG, dy); break;
    case IR_OP_RELU: /* the mask from the output (y > 0 exactly when x > 0): x need not be kept */
        dx[0] = ir_binary(g, IR_OP_MUL, dy, ir_unary(g, IR_OP_STEP, id));
        break;
    case IR_OP_SQUARE: dx[0] = ir_scalar_op(g, IR_OP_SCALE, ir_binary(g, IR_OP_MUL, dy, x), 2); break;
    case IR_OP_SQRT: dx[0] = ir_scalar_op(g, IR_OP_SCALE, ir_binary(g, IR_OP_DIV, dy, id), 0.5); break;
    case IR_OP_RSQRT: /* d x^-1/2 = -1/2 y^3 */
        dx[0] = ir_binary(g, IR_OP_MUL, dy,
                          ir_scalar_op(g, IR_OP_SCALE,
                                       ir_binary(g, IR_OP_MUL, id, ir_unary(g, IR_OP_SQUARE, id)),
                                       -0.5));
        break;
    case IR_OP_EXP: dx[0] = ir_binary(g, IR_OP_MUL, dy, id); break;
    case IR_OP_LOG: dx[0] = ir_binary(g, IR_OP_DIV, dy, x); break;
    case IR_OP_ABS: dx[0] = ir_binary(g, IR_OP_MUL, dy, ir_unary(g, IR_OP_SIGN, x)); break;
    case IR_OP_SCALE: dx[0] = ir_scalar_op(g, IR_OP_SCALE, dy, f); break;
    case IR_OP_ADDS: dx[0] = dy; break;
    case IR_OP_POWS:
        dx[0] = ir_binary(g, IR_OP_MUL, dy,
                          ir_scalar_op(g, IR_OP_SCALE, ir_scalar_op(g, IR_OP_POWS, x, f - 1), f));
        break;
    default: return ir_rules_fail(g, "no VJP rule for %s", ir_op_info[n.op].name);
    }
    for (int i = 0; i < n.n_in; i++)
        if (dx[i] == IR_NONE) return -1;
    return 0;
}
