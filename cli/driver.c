/* See driver.h. */
#include "cli/driver.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/gpu/gpu_exec.h"
#include "runtime/core/plan.h"

IrGraph *drv_build(const char *model, const FeDefine *defs, int n_defs, int training,
                   PassCtx *ctx, FILE *diag) {
    FeOptions fo = {model, defs, n_defs, training};
    int nerr = 0;
    IrGraph *g = fe_compile(&fo, diag, &nerr, NULL);
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

/* "<stem>/" of a model path when an artifact holds several models, else "" */
static void graph_prefix(const char *model, int several, char *out, size_t cap) {
    out[0] = 0;
    if (!several) return;
    const char *base = strrchr(model, '/');
    base = base ? base + 1 : model;
    size_t n = strcspn(base, ".");
    snprintf(out, cap, "%.*s/", (int)n, base);
}

int drv_compile(const char *const *models, int n_models, const FeDefine *defs, int n_defs,
                const char *out, PassCtx *ctx, FILE *diag) {
    int cap = n_models * (1 + PASS_OPT_COUNT), n = 0, rc = 0;
    IrGraph **graphs = calloc((size_t)cap, sizeof *graphs);
    char (*names)[96] = calloc((size_t)cap, sizeof *names);
    const char **name_ptrs = calloc((size_t)cap, sizeof *name_ptrs);
    size_t srclen = 1;
    for (int m = 0; m < n_models; m++) srclen += strlen(models[m]) + 1;
    char *source = calloc(srclen, 1);
    for (int m = 0; m < n_models && rc == 0; m++) {
        char prefix[64];
        graph_prefix(models[m], n_models > 1, prefix, sizeof prefix);
        if (m) strcat(source, " ");
        strcat(source, models[m]);
        graphs[n] = drv_build(models[m], defs, n_defs, 0, ctx, diag);
        snprintf(names[n], sizeof names[n], "%seval", prefix);
        if (!graphs[n++]) {
            rc = -1;
            break;
        }
        int trains = ir_output(graphs[n - 1], "loss") != IR_NONE;
        for (int k = 0; trains && k < PASS_OPT_COUNT && rc == 0; k++) {
            PassCtx c = *ctx;
            c.optimizer = (PassOptimizer)k;
            graphs[n] = drv_build(models[m], defs, n_defs, 1, &c, diag);
            snprintf(names[n], sizeof names[n], "%strain/%s", prefix, pass_optimizer_names[k]);
            if (!graphs[n++]) rc = -1;
        }
    }
    for (int i = 0; i < n; i++) name_ptrs[i] = names[i];
    for (int i = 0; i < n && rc == 0; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j])) {
                fprintf(diag, "fnc compile: two models give the graph \"%s\" (rename one file)\n", names[i]);
                rc = -1;
                break;
            }
    RtStatus st;
    if (rc == 0 && rt_artifact_save(out, source, graphs, name_ptrs, n, &st) < 0) {
        fprintf(diag, "fnc compile: %s\n", st.msg);
        rc = -1;
    }
    for (int i = 0; i < n; i++) ir_graph_free(graphs[i]);
    free(graphs);
    free(names);
    free(name_ptrs);
    free(source);
    return rc;
}

static int cuda_module(const IrGraph *g, int training, int fused, int64_t n, CuModule *m, int *half, FnStatus *st) {
    if (half) *half = 0;
    if (!fused) return cu_emit_graph(g, m, st);
    int64_t *sym = calloc((size_t)g->n_syms + 1, sizeof *sym);
    int n_idx = ir_sym_index(g, "N");
    for (int i = 0; i < g->n_syms; i++) sym[i] = g->syms[i].dflt > 0 ? g->syms[i].dflt : i == n_idx ? 90 : 1;
    if (n_idx >= 0 && n > 0) sym[n_idx] = n;
    RtPlan p;
    int rc = rt_plan_values(&p, g, sym, NULL, 0, training, 4, RT_PLAN_FUSE, st);
    if (rc == 0) {
        if (fused == 2 && half) *half = rt_gpu_half_values(&p);
        rc = rt_plan_memory(&p, RT_PLAN_FUSE, st);
        if (rc == 0) rc = cu_emit_fused(g, &p.fusion, p.numel, p.esize, NULL, m, st);
        rt_plan_free(&p);
    }
    free(sym);
    return rc;
}

int drv_cuda_module(IrGraph **g, int training, int fused, int64_t n, CuModule *m, int *half, FnStatus *st) {
    if (pass_replicas(g, 0) < 0) return fn_fail(st, "%s", (*g)->err); /* as one process binds it */
    return cuda_module(*g, training, fused, n, m, half, st);
}
