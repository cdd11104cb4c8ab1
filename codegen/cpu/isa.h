/* The instruction sets codegen/cpu's hand-written kernels are built for, as function attributes:
 * a kernel written once is compiled once per set (conv_winograd.c, conv_direct.c, pool_fast.c)
 * and its caller picks one by the FN_ISA_* it is handed (cpu.h). Not a dispatcher, and not for
 * the LLVM loops (codegen/llvm targets the ISA itself). */
#ifndef FN_CODEGEN_CPU_ISA_H
#define FN_CODEGEN_CPU_ISA_H

#if defined(__x86_64__) && defined(__GNUC__)
#define CPU_X86    1
#define ISA_AVX2   __attribute__((target("avx2,fma")))
#define ISA_AVX512 __attribute__((target("avx512f,fma")))
#else
#define CPU_X86 0
#define ISA_AVX2
#define ISA_AVX512
#endif

#endif
