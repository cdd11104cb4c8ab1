/* Every op and attribute combination the models use, each as a tiny graph y = op(params) (and
 * int inputs where the op takes labels): the cases of the per-op gradient checks
 * (test_grad_ops.c) and of the per-op float32 / GPU checks (test_gpu_ops.c). */
#ifndef FN_TEST_OP_CASES_H
#define FN_TEST_OP_CASES_H

#include "ir/ir.h"

/* Called once per case that built (a failed build is a failed check), with its label and graph,
 * whose result is the output "y"; owns (frees) g. Int inputs of the case take values in
 * [0, label_range). */
typedef void (*OpCaseRun)(const char *label, IrGraph *g, int label_range);
void op_cases(OpCaseRun run);
/* One more case for run: a failed build (y IR_NONE) is a failed check. */
void op_case(OpCaseRun run, const char *label, IrGraph *g, IrId y, int label_range);

#endif
