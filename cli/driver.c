/* See driver.h. */
#include "cli/driver.h"

#include <string.h>

IrGraph *drv_build(const char *model, const FeDefine *defs, int n_defs, int training,
                   PassCtx *ctx, FILE *diag) {
    FeOptions fo = {model, defs, n_defs, training};
    int nerr = 0;
    IrGraph *g = fe_compile(&fo, diag, &nerr);
    if (!g) {
        fprintf(diag, "fnc: %d error%s in %s\n", nerr, nerr == 1 ? "" : "s", model);
        return NULL;
    }
    if (pass_pipeline(&g, training, ctx) < 0) {
        fprintf(diag, "fnc: %s: internal error in a pass: %s\n", model, g->err);
        ir_graph_free(g);
        return NULL;
    }
    return g;
}

int drv_compile(const char *model, const FeDefine *defs, int n_defs, const char *out,
                PassCtx *ctx, FILE *diag) {
    IrGraph *graphs[1 + PASS_OPT_COUNT] = {0};
    char names[1 + PASS_OPT_COUNT][32];
    const char *name_ptrs[1 + PASS_OPT_COUNT];
    int n = 0, rc = 0;
    graphs[n] = drv_build(model, defs, n_defs, 0, ctx, diag);
    snprintf(names[n], sizeof names[n], "eval");
    if (!graphs[n++]) return -1;
    int trains = ir_output(graphs[0], "loss") != IR_NONE;
    for (int k = 0; trains && k < PASS_OPT_COUNT && rc == 0; k++) {
        PassCtx c = *ctx;
        c.optimizer = (PassOptimizer)k;
        graphs[n] = drv_build(model, defs, n_defs, 1, &c, diag);
        snprintf(names[n], sizeof names[n], "train/%s", pass_optimizer_names[k]);
        if (!graphs[n++]) rc = -1;
    }
    for (int i = 0; i < n; i++) name_ptrs[i] = names[i];
    RtStatus st;
    if (rc == 0 && rt_artifact_save(out, model, graphs, name_ptrs, n, &st) < 0) {
        fprintf(diag, "fnc compile: %s\n", st.msg);
        rc = -1;
    }
    for (int i = 0; i < n; i++) ir_graph_free(graphs[i]);
    return rc;
}
