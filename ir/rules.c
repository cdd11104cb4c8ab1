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

/* The rule families, by ops.def's class column: reductions and broadcasts are movement's, the
 * pools share the convolutions' window rules, sources are nn's. */
static const struct {
    int (*infer)(IrGraph *g, IrNode *n);
    int (*vjp)(IrGraph *g, IrId id, IrId dy, IrId *dx);
} family[] = {
    [IR_CLASS_SOURCE] = {ir_infer_nn, ir_vjp_nn},
    [IR_CLASS_ELEMENTWISE] = {ir_infer_elementwise, ir_vjp_elementwise},
    [IR_CLASS_REDUCTION] = {ir_infer_movement, ir_vjp_movement},
    [IR_CLASS_MOVEMENT] = {ir_infer_movement, ir_vjp_movement},
    [IR_CLASS_CONTRACTION] = {ir_infer_contraction, ir_vjp_contraction},
    [IR_CLASS_WINDOW] = {ir_infer_contraction, ir_vjp_contraction},
    [IR_CLASS_NN] = {ir_infer_nn, ir_vjp_nn},
};
_Static_assert(sizeof family / sizeof family[0] == IR_CLASS_NN + 1, "a rule family for every class");

int ir_infer(IrGraph *g, IrNode *n) {
    n->dtype = IR_DT_FLOAT;
    return family[ir_op_info[n->op].cls].infer(g, n);
}

int ir_vjp(IrGraph *g, IrId id, IrId dy, IrId *dx) {
    const IrNode *n = &g->nodes[id];
    for (int i = 0; i < n->n_in; i++) dx[i] = IR_NONE;
    if (ir_op_info[n->op].flags & IR_F_NOGRAD) return 0;
    return family[ir_op_info[n->op].cls].vjp(g, id, dy, dx);
}
