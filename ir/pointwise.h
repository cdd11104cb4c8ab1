/* The pointwise table (ir/pointwise.def) as C functions: SFX(pw_ENUM), one per op, computing one
 * element. Not a header with a guard: the includer defines `real` (float or double) and SFX(name)
 * and includes it once per precision (runtime/cpu/exec_kernels.h, tests/test_cuda_fused.c).
 *
 *   real SFX(pw_ENUM)(real v, real f, double fd)   unary: f the scalar in real, fd in double
 *   real SFX(pw_ENUM)(real x, real z)              binary */
#define fabsr(e) ((real)fabs(e))
#define IR_PW1(e, expr)                                                                            \
    static inline real SFX(pw_##e)(real v, real f, double fd) { return expr; }
#define IR_PW2(e, expr)                                                                            \
    static inline real SFX(pw_##e)(real x, real z) { return expr; }
#include "ir/pointwise.def"
#undef IR_PW1
#undef IR_PW2
#undef fabsr
