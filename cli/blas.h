/* FN_CPU_ISA=avx2 on an AVX-512 machine (emulating an AVX2 server) asks for OpenBLAS's Haswell
 * kernels the same way. Debian's OpenBLAS 0.3.21 does not know some newer CPUs (a Sapphire Rapids VM reports a generic
 * "Intel Xeon Processor") and falls back to its Prescott (SSE3) kernels, 3-6x slower than its
 * AVX-512 ones. OpenBLAS picks its kernels once, from OPENBLAS_CORETYPE, when it loads; so when
 * it reports Prescott on a CPU with AVX-512 (or AVX2) and the variable is unset, this sets it
 * and re-executes the program (argv as given). Returns only if nothing needed doing. A program's
 * first act, never a library's. */
#ifndef FN_CLI_BLAS_H
#define FN_CLI_BLAS_H

void cli_blas_select(char **argv);

#endif
