/* Reference softmax, softmax cross-entropy (+ gradient) and accuracy in float and double:
 * instantiates softmax_impl.h twice (instantiate.h).
 * What this is not: fast; see softmax_impl.h for the semantics.
 */
#include <math.h>

#include "codegen/ref/ref.h"

#define REF_IMPL "codegen/ref/softmax_impl.h"
#include "codegen/ref/instantiate.h"
