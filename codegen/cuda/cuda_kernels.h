/* The CUDA op templates of cuda_emit.c: the module prelude (cu_prelude), the elementwise
 * templates (cu_unary, cu_binary) and one kernel text per op and operand layout (cu_fixed). The
 * texts themselves are CUDA C in the .cu files of codegen/cuda/kernels, compiled in as arrays
 * (kernels/embed.cmake writes cuda_kernels_src.h in the build tree at build time); this header
 * only adds what is C: which kernels share helpers. Each kernel mirrors the reference kernel it replaces
 * (codegen/ref, runtime/exec_kernels.h), in the same precision and mostly the same order of
 * sums, so GPU results can be checked against the CPU oracle (the long rows' sums, the
 * cross-entropy's, are split over a warp's lanes in double; sums of columns over row splits;
 * convolutions in cuBLAS's or the tensor cores' order). %s in a template is the kernel's name;
 * unary and binary templates also take the expression. */
#ifndef FN_CODEGEN_CUDA_KERNELS_H
#define FN_CODEGEN_CUDA_KERNELS_H

#include "codegen/cuda/cuda_kernels_src.h"

/* kernels that use another's helpers (the first uses the second's) */
static const struct {
    const char *name, *uses;
} cu_fixed_uses[] = {{"fn_im2col_bf16", "fn_im2col"}, {"fn_col2im_bf16", "fn_col2im"}};

#endif
