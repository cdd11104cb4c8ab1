/* The LLVM target's text emitter: one fused group (passes/fuse.c) at bound sizes as an LLVM IR
 * function (textual IR, LLVM 14 typed pointers), deterministic and golden-testable. No LLVM
 * library is needed to emit; llvm_jit.c compiles the text where LLVM was built in.
 *
 * A kernel walks `rows` rows of `len` elements of the group's domain:
 *
 *   void NAME(i64 rows, i64 len, real** p)
 *     for r < rows: for j < len: i = r*len + j
 *       full operands and outputs at p[s][i], suffix operands at p[s][j], scalars at p[s][0],
 *       terminal sums p[s][j] += v (or p[s][0] when they sum to one value)
 *
 * The caller passes pointers already offset to the chunk it hands over. The inner loop carries
 * llvm.loop.parallel_accesses (each iteration reads and writes only its own element), so it
 * vectorises without runtime alias checks, in-place members included. Arithmetic is read from
 * ir/pointwise.def, the expressions the C loops (runtime/cpu/exec_fused.h) are compiled from,
 * operation for operation and without contraction, so results agree with them bit for bit. */
#ifndef FN_CODEGEN_LLVM_EMIT_H
#define FN_CODEGEN_LLVM_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include "ir/text.h"
#include "passes/passes.h"

/* The module's text (ir/text.h); oom: an append found no memory, so the text is incomplete
 * and nothing more is written to it. */
typedef FnText LlText;

/* Appends group gi's kernel, named `name`, to t and fills its layout. numel: every node's
 * element count at the bound sizes; prec: 4 (float) or 8 (double); index: the kernel's number
 * in its module (its metadata ids). Returns 0, or -1 when the group cannot be written this way
 * (operands or sums of two different suffix lengths; then the interpreted loops run it), or when
 * t ran out of memory (t->oom: the caller's error, not a fallback). */
int ll_emit_group(const IrGraph *g, const PassFusion *f, int gi, const int64_t *numel, int prec, const char *name,
                  int index, PassFuseLayout *layout, LlText *t);
/* The module's header (target-independent declarations of the libm functions used). */
void ll_emit_prelude(LlText *t);
void ll_text_free(LlText *t);

#endif
