/* Instantiates one reference template twice: the header named by REF_IMPL, written over `real`,
 * SFX(name) and (matmul only) GEMM, as float (names ending _f32, cblas_sgemm) and as double
 * (_f64, cblas_dgemm). A .c file defines REF_IMPL and includes this once; REF_IMPL is undefined
 * after. What this is not: a header with a guard, or anything a template's user includes. */
#define real      float
#define SFX(name) name##_f32
#define GEMM      cblas_sgemm
#include REF_IMPL
#undef real
#undef SFX
#undef GEMM

#define real      double
#define SFX(name) name##_f64
#define GEMM      cblas_dgemm
#include REF_IMPL
#undef real
#undef SFX
#undef GEMM
#undef REF_IMPL
