/* Thread control for the BLAS and the executor's OpenMP loops (rt.h: rt_blas_threads). Apart
 * from status.c so that programs built without OpenMP (the fuzz targets) can still take the
 * status helpers. */
#include "runtime/core/rt.h"

#include <omp.h>

extern void openblas_set_num_threads(int) __attribute__((weak));

void rt_blas_threads(int n) {
    omp_set_num_threads(n); /* first: OpenBLAS's OpenMP build follows the thread's OpenMP setting */
    if (openblas_set_num_threads) openblas_set_num_threads(n);
}

void rt_blas_one_thread(void) {
    if (omp_get_max_threads() != 1) rt_blas_threads(1); /* once per thread: cpu_run calls it every step */
}
