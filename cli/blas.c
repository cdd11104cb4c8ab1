/* See blas.h: the OpenBLAS kernel choice, made by the program before anything runs. */
#include "cli/blas.h"

#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

extern char *openblas_get_corename(void) __attribute__((weak));

void cli_blas_select(char **argv) {
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

