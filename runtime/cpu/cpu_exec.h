/* The CPU backend: graphs run on the host in float32 or float64 (cpu_exec.c). */
#ifndef FN_RT_CPU_EXEC_H
#define FN_RT_CPU_EXEC_H

#include "runtime/core/plan.h"
#include "runtime/core/rt.h"

/* Elements of the largest convolution's scratch in plan p: the tiled kernels' at this thread's
 * OpenMP team size (fast float32), else the reference's im2col matrix. */
size_t rt_cpu_scratch(const RtPlan *p, int fast, int prec);

#endif
