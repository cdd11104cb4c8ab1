/* Per-op gradient checks: for every op and attribute combination the models use, a tiny graph
 * y = op(params) is differentiated by the autodiff pass and every parameter element's gradient
 * is compared with a central difference in float64 (through the executor and the reference
 * kernels). The cases are tests/op_cases.c's. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tests/gradcheck.h"
#include "tests/op_cases.h"
#include "tests/testlib.h"

static void run(const char *label, IrGraph *g, int label_range) {
    GcOpts o = {NULL, 0, 1, 1, label_range, 1e-6, 42};
    double e = gc_check(&g, &o);
    printf("  %-40s max rel err %.2e\n", label, e);
    CHECK(e < 1e-6, "%s: gradient error %g", label, e);
    ir_graph_free(g);
}

int main(void) {
    op_cases(run);
    return test_summary("test_grad_ops");
}
