/* Reference L2 normalization (+ gradient) in float and double: instantiates l2norm_impl.h
 * twice (instantiate.h).
 * What this is not: fast; see l2norm_impl.h for the semantics.
 */
#include <math.h>

#include "codegen/ref/ref.h"

#define REF_IMPL "codegen/ref/l2norm_impl.h"
#include "codegen/ref/instantiate.h"
