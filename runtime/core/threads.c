/* Thread control for the BLAS and the executor's OpenMP loops, and the choice of OpenBLAS's
 * kernels (rt.h: rt_blas_threads, rt_blas_select). Apart from status.c so that programs built
 * without OpenMP (the fuzz target) can still take the status helpers. */
#include "runtime/core/rt.h"

#include <omp.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

extern void openblas_set_num_threads(int) __attribute__((weak));
extern char *openblas_get_corename(void) __attribute__((weak));

void rt_blas_select(char **argv) {
    if (!openblas_get_corename || getenv("OPENBLAS_CORETYPE")) return;
    const char *core = openblas_get_corename();
    if (!core || strcasecmp(core, "prescott") != 0) return;
    __builtin_cpu_init();
    const char *better = __builtin_cpu_supports("avx512f") ? "SkylakeX"
                         : __builtin_cpu_supports("avx2")  ? "Haswell"
                                                           : NULL;
    if (!better) return;
    setenv("OPENBLAS_CORETYPE", better, 1);
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE"); /* exec failed: go on with the kernels we have */
}

void rt_blas_threads(int n) {
    if (openblas_set_num_threads) openblas_set_num_threads(n);
    omp_set_num_threads(n);
}
