/* The CPU backend: graphs run on the host in float32 or float64 (cpu_exec.c), behind the
 * executor interface (runtime/core/exec.h). What this is not: the kernels (codegen/ref,
 * codegen/cpu, the LLVM loops of jit.h). */
#ifndef FN_RT_CPU_EXEC_H
#define FN_RT_CPU_EXEC_H

#include "runtime/core/exec.h"
#include "runtime/core/plan.h"

/* The CPU backend with options o (copied): no device to open, nothing to close. */
void rt_backend_cpu(RtBackend *be, const RtOptions *o);
/* Elements of the largest convolution's scratch in plan p: the tiled kernels' (with the fast
 * algorithms `paths`, CPU_PATH_*) at this thread's OpenMP team size (fast float32), else the
 * reference's im2col matrix. */
size_t rt_cpu_scratch(const RtPlan *p, int fast, int paths, int prec);

#endif
