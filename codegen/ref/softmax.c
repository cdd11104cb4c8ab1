/* Reference softmax, softmax cross-entropy (+ gradient) and accuracy in float and double:
 * instantiates softmax_impl.h twice.
 * What this is not: fast; see softmax_impl.h for the semantics.
 */
#include <math.h>

#include "codegen/ref/ref.h"

#define real      float
#define SFX(name) name##_f32
#include "codegen/ref/softmax_impl.h"
#undef real
#undef SFX

#define real      double
#define SFX(name) name##_f64
#include "codegen/ref/softmax_impl.h"
#undef real
#undef SFX
