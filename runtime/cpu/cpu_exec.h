/* The CPU backend: graphs run on the host in float32 or float64 (cpu_exec.c), behind the
 * executor interface (runtime/core/exec.h). What this is not: the kernels (codegen/ref,
 * codegen/cpu, the LLVM loops of jit.h). */
#ifndef FN_RT_CPU_EXEC_H
#define FN_RT_CPU_EXEC_H

#include "runtime/core/exec.h"
#include "runtime/core/plan.h"

/* The CPU backend with options o (copied): its device is a thread pool (ir/pool.h) of o->threads
 * threads (0: fn_cpus_available()), which rt_backend_close stops. -1 when the threads cannot
 * start. */
int rt_backend_cpu(RtBackend *be, const RtOptions *o, RtStatus *st);
/* Elements of the largest convolution's scratch in plan p: the fast kernels' (with the
 * algorithms `paths`, CPU_PATH_*) for `threads` workers (fast float32), else the reference's
 * im2col matrix. */
size_t rt_cpu_scratch(const RtPlan *p, int fast, int paths, int prec, int threads);

#endif
