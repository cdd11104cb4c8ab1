/* The LLVM target's compiler: a module of fused-loop kernels (llvm_emit.h) parsed, optimised at
 * O3 for the host CPU (its features: AVX-512 here) and compiled in memory with ORC's LLJIT.
 * Built only when CMake finds LLVM (FN_HAVE_LLVM); otherwise ll_jit_new says so and the
 * executor runs the interpreted loops. */
#ifndef FN_CODEGEN_LLVM_JIT_H
#define FN_CODEGEN_LLVM_JIT_H

#include "ir/status.h"

typedef struct LlJit LlJit;
typedef void (*LlKernel)(long long rows, long long len, void **p);

/* 1 when this build has the LLVM target. */
int ll_jit_available(void);
/* Compiles `text` (a whole module) for instruction set isa (ir/pool.h: FN_ISA_AUTO or beyond the
 * host's: the host CPU and its features; FN_ISA_AVX2: Haswell's; FN_ISA_BASE: x86-64's) and looks
 * up names[0..n) into fns. NULL with a message in st on failure. */
LlJit *ll_jit_new(const char *text, const char *const *names, int n, LlKernel *fns, const char *asm_file, int isa,
                  FnStatus *st);
void ll_jit_free(LlJit *j);
/* The host CPU LLVM compiles for ("sapphirerapids", ...), for messages; "" without LLVM. */
const char *ll_jit_cpu(void);

#endif
