/* Gradient checks in float64 through the whole stack: IR + autodiff + executor + kernels. */
#ifndef FN_TEST_GRADCHECK_H
#define FN_TEST_GRADCHECK_H

#include "ir/ir.h"
#include "runtime/core/exec.h"
#include "runtime/core/rt.h"

typedef struct {
    const RtBinding *bind; /* symbol values */
    int n_bind;
    int full;            /* 1: every parameter element; 0: one random direction */
    int randomize;       /* overwrite params with uniform [-1, 1] after their initialisers */
    int label_range;     /* int inputs are drawn in [0, label_range) */
    double h;            /* central-difference step */
    uint64_t seed;
} GcOpts;

/* If g has no "loss", adds loss = sum_k sum(out_k * r_k) over its float outputs with random
 * r_k; differentiates (pass_autodiff, pass_simplify) and compares the gradients with central
 * differences. Returns the worst relative error, or INFINITY on any failure (message printed). */
double gc_check(IrGraph **g, const GcOpts *o);

/* The same differentiated graph in float32 (on backend be, or the CPU when be is NULL) against
 * float64 on the CPU, from the same parameters and inputs (float values, exact in both): the
 * worst relative L2 error |x - ref| / |ref| over the float outputs but the probe loss (the
 * result and every gradient), whose name goes to worst_output; INFINITY on any failure. */
double gc_compare_f32(IrGraph **g, const GcOpts *o, const RtBackend *be, char *worst_output, size_t cap);

#endif
