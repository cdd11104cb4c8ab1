/* The CPU thread pool: a fixed team of worker threads that the kernels and the fused loops share
 * one job at a time. What this is not: a task graph, a queue of jobs, or OpenMP (which fn's fast
 * path no longer uses; the reference kernels in codegen/ref, the tests' oracle, still do).
 *
 * A job is n tasks, numbered 0..n-1. The caller runs tasks too, and every participant claims
 * the next unclaimed task until none is left, so a worker the scheduler has not run yet holds
 * up nothing: the caller waits only for tasks already claimed. That keeps a step going when
 * another process takes some of the cores (OpenMP's static teams waited at every barrier for
 * a descheduled thread, and its idle threads spun for milliseconds). Results must not depend
 * on which participant runs a task: a task's work is a function of its number; `worker`
 * (0..size-1, the caller is 0) only picks per-thread scratch.
 *
 * Waiting: an idle worker spins for spin_us microseconds (the gap between two jobs of a step is
 * usually shorter), then sleeps on a futex; the caller, its own tasks done, waits the same way.
 * A pool runs one job at a time: a second thread calling fn_pool_run while a job runs (MTCNN's
 * per-image workers) runs its tasks itself, in order. */
#ifndef FN_IR_POOL_H
#define FN_IR_POOL_H

#include <stdint.h>

typedef struct FnPool FnPool;
typedef void (*FnPoolTask)(void *arg, int64_t task, int worker);

/* A pool of `threads` participants (the caller and threads - 1 workers); threads <= 1 gives a
 * pool without workers. Each worker calls thread_init (unless NULL) first: per-thread settings
 * of the libraries the tasks call (OpenBLAS's thread count). NULL when a thread cannot be
 * started or memory runs out. */
FnPool *fn_pool_new(int threads, int spin_us, void (*thread_init)(void));
void fn_pool_free(FnPool *p);
/* Participants: the range of `worker`; 1 for a NULL pool. */
int fn_pool_size(const FnPool *p);
/* Runs task(arg, t, worker) for t = 0..n-1, each once, and returns when all have finished.
 * A NULL pool (or one of size 1) runs them in order on the caller. At most 2^24 - 1 tasks. */
void fn_pool_run(FnPool *p, int64_t n, FnPoolTask task, void *arg);

/* The CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota
 * (cpu.max, rounded up), at least 1. */
int fn_cpus_available(void);

/* The vector instruction sets fn's CPU kernels are built for, in order; AUTO: the host's best. */
enum { FN_ISA_AUTO, FN_ISA_BASE, FN_ISA_AVX2, FN_ISA_AVX512, FN_ISA_COUNT };
int fn_isa_host(void);              /* FN_ISA_AVX512 (AVX-512F), FN_ISA_AVX2 (AVX2 and FMA) or FN_ISA_BASE */
int fn_isa_resolve(int want);       /* want, or the host's best for AUTO or beyond what the host has */
const char *fn_isa_name(int isa);   /* "auto", "base", "avx2", "avx512" */
int fn_isa_parse(const char *name); /* one of those names: its FN_ISA_*, else -1 */

#endif
