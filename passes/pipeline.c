/* The pass pipeline, in one place:
 *
 *   train:  verify ─▶ autodiff ─▶ optimizer ─▶ simplify ─▶ recompute ─▶ verify
 *   eval:   verify ─▶ simplify ─▶ recompute ─▶ verify
 *
 * --dump-after=PASS prints the IR after that pass; --time-passes prints each pass's time. */
#include "passes/passes.h"

#include <string.h>
#include <time.h>

const char *const pass_names[] = {"autodiff", "optimizer", "simplify", "recompute", NULL};

static int run_optimizer(IrGraph **g, PassCtx *ctx) { return pass_optimizer(g, ctx->optimizer); }

typedef struct {
    const char *name;
    PassFn fn;
    int train_only;
} PassEntry;

static const PassEntry pipeline[] = {
    {"autodiff", pass_autodiff, 1},
    {"optimizer", run_optimizer, 1},
    {"simplify", pass_simplify, 0},
    {"recompute", pass_recompute, 0},
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
        if (p->train_only && !training) continue;
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
