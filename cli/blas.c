/* See blas.h: the OpenBLAS kernel choice, made by the program before anything runs. */
#include "cli/blas.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void cli_blas_select(char **argv) {
    /* looked up, not linked weakly: a weak reference resolved to NULL in some links */
    char *(*corename)(void) = (char *(*)(void))dlsym(RTLD_DEFAULT, "openblas_get_corename");
    if (!corename || getenv("OPENBLAS_CORETYPE")) return;
    const char *core = corename(), *isa = getenv("FN_CPU_ISA");
    __builtin_cpu_init();
    const char *better = NULL;
    if (isa && !strcmp(isa, "avx2") && __builtin_cpu_supports("avx512f")) {
        better = "Haswell"; /* fn's AVX2 path forced on an AVX-512 machine: OpenBLAS's AVX2 kernels too */
    } else if (core && strcasecmp(core, "prescott") == 0) {
        better = __builtin_cpu_supports("avx512f") ? "SkylakeX" : __builtin_cpu_supports("avx2") ? "Haswell" : NULL;
    }
    if (!better) return;
    setenv("OPENBLAS_CORETYPE", better, 1);
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE"); /* exec failed: go on with the kernels we have */
}

