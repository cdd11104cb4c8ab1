/* Internal to the LLVM emitter: a pointwise member's instructions, read from ir/pointwise.def's
 * expression for its op (llvm_emit_pw.c). Not the loop, loads or stores around it (llvm_emit.c). */
#ifndef FN_CODEGEN_LLVM_EMIT_PW_H
#define FN_CODEGEN_LLVM_EMIT_PW_H

#include <stddef.h>

#include "ir/ir.h"

/* Writes into out (cap bytes, NUL-terminated) the lines computing %m<k> = op(a, b): a and b
 * (NULL for a unary op) are the operands' registers, s the scalar (f, fd), prec 4 (float) or 8
 * (double). Intermediates are %m<k>.<letter>. 0, or -1 when op has no expression or out is too
 * small. */
int ll_pointwise(IrOp op, int k, const char *a, const char *b, double s, int prec, char *out, size_t cap);

#endif
