/* FN_PROFILE on the GPU, convolutions by shape: the seconds of each phase (im2col, the cuBLAS
 * GEMM, col2im) of each distinct convolution (op, window, channels), the stream synchronised
 * between phases, printed largest first when the executor is freed. It says which layers and
 * which phase a faster convolution should start with. */
#ifndef FN_RT_GPU_CONV_PROFILE_H
#define FN_RT_GPU_CONV_PROFILE_H

#include <stdint.h>
#include <stdio.h>

#include "codegen/ref/ref.h"
#include "ir/ir.h"

enum { GPU_CONV_IM2COL, GPU_CONV_GEMM, GPU_CONV_COL2IM, GPU_CONV_PHASES };

typedef struct {
    IrOp op;
    RefWindow w;
    double s[GPU_CONV_PHASES];
    int64_t calls; /* the caller counts them */
    int implicit;  /* the caller sets it: one implicit GEMM (its time under GEMM), no columns */
} GpuConvRow;

typedef struct {
    GpuConvRow *row;
    int n, cap;
} GpuConvProfile;

/* Adds s seconds of phase to the row of (op, w); a new row the first time. Returns the row. */
GpuConvRow *gpu_conv_profile_add(GpuConvProfile *p, IrOp op, const RefWindow *w, int phase, double s);
/* The rows, largest total first (at most `top`), per step, and each phase's share of them all. */
void gpu_conv_profile_print(const GpuConvProfile *p, int64_t steps, int top, FILE *f);
/* Zero times and calls, keeping the rows (the warm-up step's are dropped). */
void gpu_conv_profile_clear(GpuConvProfile *p);
void gpu_conv_profile_free(GpuConvProfile *p);

#endif
