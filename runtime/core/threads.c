/* Thread control for the BLAS and the executor's OpenMP loops (rt.h: rt_blas_threads). Apart
 * from status.c so that programs built without OpenMP (the fuzz targets) can still take the
 * status helpers. */
#include "runtime/core/rt.h"

#include <omp.h>

extern void openblas_set_num_threads(int) __attribute__((weak));

void rt_blas_threads(int n) {
    if (openblas_set_num_threads) openblas_set_num_threads(n);
    omp_set_num_threads(n);
}
