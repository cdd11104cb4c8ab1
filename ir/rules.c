/* Dispatch from an op to its class's shape and VJP rules, and the helpers the rules share. */
#include "ir/rules.h"

#include <stdarg.h>
#include <string.h>

int ir_rules_fail(IrGraph *g, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->err, sizeof g->err, fmt, ap);
    va_end(ap);
    return -1;
}

const IrShape *ir_shape_of(const IrGraph *g, IrId id) { return &g->nodes[id].shape; }

IrId ir_sum_to(IrGraph *g, IrId dy, const IrShape *target) {
    if (ir_shape_of(g, dy)->rank == target->rank) return dy;
    return ir_reduce(g, IR_OP_SUM, dy, target->rank, 0, NULL);
}

static int is_movement(IrOp op) {
    switch (op) {
    case IR_OP_SUM: case IR_OP_SUMLAST: case IR_OP_BCAST: case IR_OP_BCASTLAST:
    case IR_OP_RESHAPE: case IR_OP_CONCAT: case IR_OP_SLICE: return 1;
    default: return 0;
    }
}

static int is_contraction(IrOp op) {
    switch (op) {
    case IR_OP_MATMUL: case IR_OP_CONV2D: case IR_OP_CONV2D_BWD_DATA:
    case IR_OP_CONV2D_BWD_FILTER: case IR_OP_MAXPOOL: case IR_OP_MAXPOOL_GRAD:
    case IR_OP_AVGPOOL: case IR_OP_AVGPOOL_GRAD: return 1;
    default: return 0;
    }
}

int ir_infer(IrGraph *g, IrNode *n) {
    n->dtype = IR_DT_FLOAT;
    if (ir_op_info[n->op].cls == IR_CLASS_ELEMENTWISE) return ir_infer_elementwise(g, n);
    if (is_movement(n->op)) return ir_infer_movement(g, n);
    if (is_contraction(n->op)) return ir_infer_contraction(g, n);
    return ir_infer_nn(g, n);
}

int ir_vjp(IrGraph *g, IrId id, IrId dy, IrId *dx) {
    const IrNode *n = &g->nodes[id];
    for (int i = 0; i < n->n_in; i++) dx[i] = IR_NONE;
    if (ir_op_info[n->op].flags & IR_F_NOGRAD) return 0;
    if (ir_op_info[n->op].cls == IR_CLASS_ELEMENTWISE) return ir_vjp_elementwise(g, id, dy, dx);
    if (is_movement(n->op)) return ir_vjp_movement(g, id, dy, dx);
    if (is_contraction(n->op)) return ir_vjp_contraction(g, id, dy, dx);
    return ir_vjp_nn(g, id, dy, dx);
}
