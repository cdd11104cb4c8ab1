/* Reference matmul in float and double: instantiates matmul_impl.h twice.
 * What this is not: anything beyond a thin wrapper over CBLAS gemm.
 */
#include <cblas.h>

#include "codegen/ref/ref.h"

#define real      float
#define SFX(name) name##_f32
#define GEMM      cblas_sgemm
#include "codegen/ref/matmul_impl.h"
#undef real
#undef SFX
#undef GEMM

#define real      double
#define SFX(name) name##_f64
#define GEMM      cblas_dgemm
#include "codegen/ref/matmul_impl.h"
#undef real
#undef SFX
#undef GEMM
