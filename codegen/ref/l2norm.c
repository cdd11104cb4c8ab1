/* Reference L2 normalization (+ gradient) in float and double: instantiates l2norm_impl.h twice.
 * What this is not: fast; see l2norm_impl.h for the semantics.
 */
#include <math.h>

#include "codegen/ref/ref.h"

#define real      float
#define SFX(name) name##_f32
#include "codegen/ref/l2norm_impl.h"
#undef real
#undef SFX

#define real      double
#define SFX(name) name##_f64
#include "codegen/ref/l2norm_impl.h"
#undef real
#undef SFX
