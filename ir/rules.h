/* Internal to ir/: the per-class shape and VJP rules and the helpers they share. */
#ifndef FN_IR_RULES_H
#define FN_IR_RULES_H

#include "ir/ir.h"

int ir_rules_fail(IrGraph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const IrShape *ir_shape_of(const IrGraph *g, IrId id);
/* Sum dy down to `target` (a suffix of dy's shape): the adjoint of suffix broadcasting. */
IrId ir_sum_to(IrGraph *g, IrId dy, const IrShape *target);

int ir_infer_elementwise(IrGraph *g, IrNode *n);
int ir_vjp_elementwise(IrGraph *g, IrId id, IrId dy, IrId *dx);
int ir_infer_movement(IrGraph *g, IrNode *n); /* reductions, broadcasts, reshape, concat, slice */
int ir_vjp_movement(IrGraph *g, IrId id, IrId dy, IrId *dx);
int ir_infer_contraction(IrGraph *g, IrNode *n); /* matmul, convolutions; the pools (class WINDOW) */
int ir_vjp_contraction(IrGraph *g, IrId id, IrId dy, IrId *dx);
int ir_infer_nn(IrGraph *g, IrNode *n); /* sources, softmax family, l2norm, dropout, assign */
int ir_vjp_nn(IrGraph *g, IrId id, IrId dy, IrId *dx);

#endif
