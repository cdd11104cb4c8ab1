/* The CPU executor's LLVM kernels: every fused group of a bound plan that the LLVM target can
 * write (codegen/llvm) becomes a kernel; structurally equal groups share one. One module per
 * executor, compiled when it is created. Groups without a kernel run interpreted. */
#ifndef FN_RT_JIT_H
#define FN_RT_JIT_H

#include "codegen/llvm/llvm_emit.h"
#include "codegen/llvm/llvm_jit.h"
#include "runtime/core/options.h"
#include "runtime/core/plan.h"

typedef struct {
    LlJit *jit;
    LlKernel *fns;    /* per distinct kernel */
    int n_kernels;
    int *kernel;      /* per group: index into fns, or -1 */
    int *slot0;       /* per group: its pointer slots are slot_node/slot_kind[slot0 ..] */
    int *n_slots;
    int64_t *inner;   /* per group: the kernel's row length (0: one row per call) */
    IrId *slot_node;
    char *slot_kind;  /* LL_* */
    double compile_s; /* emitting, optimising and compiling the module */
    char *text;       /* the module's LLVM IR */
} RtJit;

/* Builds the kernels for p's groups at precision prec (4 or 8); compile 0 stops after the text
 * (for golden tests; no LLVM needed). 0, or -1 with the reason in st (then j is empty and every
 * group runs interpreted). The executor (cpu_exec.c, want_jit) decides whether a graph is large
 * enough to be worth compiling. Options o (or NULL): dump_llvm names a file for the module's
 * text, dump_asm one for the optimised module as host assembly. */
int rt_jit_build(RtJit *j, const RtPlan *p, int prec, int compile, const RtOptions *o, RtStatus *st);
void rt_jit_free(RtJit *j);

#endif
