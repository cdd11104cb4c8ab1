/* The pass pipeline, in one place:
 *
 *   train:  verify ─▶ autodiff ─▶ optimizer ─▶ simplify ─▶ recompute ─▶ verify
 *   eval:   verify ─▶ fold ─▶ simplify ─▶ recompute ─▶ verify
 *
 * --dump-after=PASS prints the IR after that pass; --time-passes prints each pass's time. */
#include "passes/passes.h"

#include <string.h>
#include <time.h>

const char *const pass_names[] = {"autodiff", "optimizer", "fold", "simplify", "recompute", NULL};

static int run_optimizer(IrGraph **g, PassCtx *ctx) { return pass_optimizer(g, ctx->optimizer); }

enum { TRAIN = 1, EVAL = 2, BOTH = 3 }; /* the graphs a pass runs on */
typedef struct {
    const char *name;
    PassFn fn;
    int graphs;
} PassEntry;

static const PassEntry pipeline[] = {
    {"autodiff", pass_autodiff, TRAIN},
    {"optimizer", run_optimizer, TRAIN},
    {"fold", pass_fold, EVAL},
    {"simplify", pass_simplify, BOTH},
    {"recompute", pass_recompute, BOTH},
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int pass_pipeline(IrGraph **g, int training, PassCtx *ctx) {
    if (ctx->verify && ir_verify(*g) < 0) return -1;
    for (size_t i = 0; i < sizeof pipeline / sizeof pipeline[0]; i++) {
        const PassEntry *p = &pipeline[i];
        if (!(p->graphs & (training ? TRAIN : EVAL))) continue;
        double t0 = now();
        if (p->fn(g, ctx) < 0) return -1;
        if (ctx->time_passes)
            fprintf(stderr, "pass %-10s %8.2f ms  %d nodes\n", p->name, 1e3 * (now() - t0),
                    (*g)->n_nodes);
        if (ctx->verify && ir_verify(*g) < 0) return -1;
        if (ctx->dump_after && (!strcmp(ctx->dump_after, p->name) || !strcmp(ctx->dump_after, "all"))) {
            fprintf(ctx->dump, "# after %s (%s graph)\n", p->name, training ? "train" : "eval");
            ir_print(*g, ctx->dump);
        }
    }
    return 0;
}
