/* Reference matmul in float and double: instantiates matmul_impl.h twice (instantiate.h).
 * What this is not: anything beyond a thin wrapper over CBLAS gemm.
 */
#include <cblas.h>

#include "codegen/ref/ref.h"

#define REF_IMPL "codegen/ref/matmul_impl.h"
#include "codegen/ref/instantiate.h"
