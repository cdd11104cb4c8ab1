/* Compiler passes over IrGraph: one pass per file, one signature.
 *
 *   frontend ─▶ [verify] ─▶ autodiff ─▶ sgd ─▶ simplify ─▶ [verify]      (train graph)
 *   frontend ─▶ [verify] ─▶ simplify ─▶ [verify]                          (eval graph)
 *
 * Passes that rebuild the graph (simplify) replace *g. Every pass returns 0 or -1 with a
 * message in (*g)->err. Not here: parsing (frontend/), execution (runtime/).
 */
#ifndef FN_PASSES_H
#define FN_PASSES_H

#include "ir/ir.h"

typedef struct {
    const char *dump_after; /* pass name, or "all"; NULL for none */
    FILE *dump;             /* where dumps go */
    int time_passes;        /* print each pass's time to stderr */
    int verify;             /* run the verifier after every pass */
} PassCtx;

typedef int (*PassFn)(IrGraph **g, PassCtx *ctx);

/* Reverse-mode autodiff of the output "loss" with respect to every PARAM; each gradient becomes
 * the output "grad/<param name>". A graph without "loss" is left alone. */
int pass_autodiff(IrGraph **g, PassCtx *ctx);
/* Plain SGD: for every gradient output, assign(p, p - learning_rate * grad), with the scalar
 * input "learning_rate". */
int pass_sgd(IrGraph **g, PassCtx *ctx);
/* Rebuild keeping only what outputs and effects need (DCE), hash-consing again (CSE) and
 * applying the algebraic rewrite table (x*1, x+0, --x, scale chains) to a fixed point. */
int pass_simplify(IrGraph **g, PassCtx *ctx);

/* Runs the pipeline for one graph; training selects the train pipeline above. */
int pass_pipeline(IrGraph **g, int training, PassCtx *ctx);
/* The names of the passes, in pipeline order, NULL-terminated (for --dump-after checks). */
extern const char *const pass_names[];

#endif
