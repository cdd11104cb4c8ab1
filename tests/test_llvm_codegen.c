/* The LLVM CPU target (codegen/llvm, runtime/cpu/jit.c):
 * - golden LLVM IR text for two small graphs' fused groups (tests/golden/, .ll files), the same text
 *   twice; FN_UPDATE_GOLDEN=1 rewrites the files after an intended change;
 * - where the build has LLVM: the Inception-ResNet-v1 training graph's module (every group)
 *   compiles, with the kernel count and compile time reported; and executors running the
 *   compiled kernels give the same bits as the interpreted loops (FN_LLVM=0) on three models,
 *   three steps, outputs and trained variables. Without LLVM those parts skip with a note. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/driver.h"
#include "runtime/cpu/cpu_exec.h"
#include "runtime/cpu/jit.h"
#include "tests/fixtures.h"
#include "tests/testlib.h"

static IrGraph *build(const char *model, int training, PassOptimizer opt) {
    PassCtx ctx = {0};
    ctx.optimizer = opt;
    return drv_build(model, NULL, 0, training, &ctx, stderr);
}

/* The module text (and kernel count) of a graph's groups at the given sizes, float32. */
static char *module(const IrGraph *g, const RtBinding *b, int nb, int training, int compile, RtJit *j) {
    int64_t *sym = calloc((size_t)g->n_syms + 1, sizeof *sym);
    RtStatus st;
    RtPlan p;
    char *text = NULL;
    if (rt_bind_syms(g, b, nb, sym, &st) == 0 && rt_plan_build(&p, g, sym, NULL, 0, training, 4, 1, &st) == 0) {
        if (rt_jit_build(j, &p, 4, compile, NULL, &st) == 0 && j->text) text = strdup(j->text);
        else printf("  jit: %s\n", st.msg);
        rt_plan_free(&p);
    }
    free(sym);
    return text;
}

static void golden(const char *model, int training, const RtBinding *b, int nb, const char *file) {
    IrGraph *g = build(model, training, PASS_OPT_SGD);
    if (!CHECK(g != NULL, "%s builds", model)) return;
    RtJit j1, j2;
    char *a = module(g, b, nb, training, 0, &j1), *a2 = module(g, b, nb, training, 0, &j2);
    CHECK(a && a2 && !strcmp(a, a2), "%s: the same LLVM text twice", model);
    char path[256];
    snprintf(path, sizeof path, "tests/golden/%s", file);
    if (a && getenv("FN_UPDATE_GOLDEN")) {
        FILE *f = fopen(path, "w");
        if (f) fputs(a, f), fclose(f);
        printf("  wrote %s\n", path);
    }
    char *want = test_read_file(path);
    int same = a && want && !strcmp(a, want);
    if (!same && a) {
        char got[300];
        snprintf(got, sizeof got, "/tmp/%s.got", file);
        FILE *f = fopen(got, "w");
        if (f) fputs(a, f), fclose(f);
        printf("  %s differs from %s: see %s (FN_UPDATE_GOLDEN=1 after an intended change)\n", model, path, got);
    }
    CHECK(same, "%s %s graph: golden LLVM text %s (%d kernels)", model, training ? "train" : "eval", path, j1.n_kernels);
    free(a), free(a2), free(want);
    rt_jit_free(&j1);
    rt_jit_free(&j2);
    ir_graph_free(g);
}

static void compiles_irv1(void) {
    IrGraph *g = build("models/inception_resnet_v1.fn", 1, PASS_OPT_ADAM);
    if (!CHECK(g != NULL, "Inception-ResNet-v1 builds")) return;
    const RtBinding b[] = {{"N", 32}, {"image_size", 160}, {"embedding_size", 512}, {"classes", 100}};
    RtJit j;
    char *text = module(g, b, 4, 1, 1, &j);
    int groups = 0, jitted = 0;
    int64_t *sym = calloc((size_t)g->n_syms + 1, sizeof *sym);
    RtStatus st;
    RtPlan p;
    if (rt_bind_syms(g, b, 4, sym, &st) == 0 && rt_plan_build(&p, g, sym, NULL, 0, 1, 4, 1, &st) == 0) {
        groups = p.fusion.n_groups;
        rt_plan_free(&p);
    }
    for (int gi = 0; j.kernel && gi < groups; gi++) jitted += j.kernel[gi] >= 0;
    printf("  Inception-ResNet-v1 train (ADAM), batch 32: %d of %d fused loops through %d LLVM kernels, %zu bytes of "
           "IR, compiled for %s in %.2f s\n",
           jitted, groups, j.n_kernels, text ? strlen(text) : 0, ll_jit_cpu(), j.compile_s);
    CHECK(text && j.jit && j.n_kernels > 10 && jitted == groups, "every fused loop of the training step compiles");
    /* the compile time is printed above, not asserted: a loaded machine or ASan takes minutes */
    free(text);
    free(sym);
    rt_jit_free(&j);
    ir_graph_free(g);
}

/* The same bits, or NaN on both sides (NaN payloads and signs are not specified). */
static int same_floats(const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], 4) != 0 && !(isnan(a[i]) && isnan(b[i]))) return 0;
    return 1;
}

/* Executors with compiled kernels against interpreted loops (options' llvm 1 and 0): the same bits. */
static void same_bits(const char *model, int training, PassOptimizer opt, const RtBinding *b, int nb) {
    IrGraph *g = build(model, training, opt);
    if (!CHECK(g != NULL, "%s builds", model)) return;
    RtStatus st;
    RtVars *vi = rt_vars_new(4), *vj = rt_vars_new(4);
    RtBackend be[2]; /* loops interpreted; compiled, even these small graphs */
    for (int k = 0; k < 2; k++) {
        RtOptions o = test_cpu()->opt;
        o.llvm = k;
        o.threads = 1 + k; /* and the pool's size makes no difference */
        rt_backend_cpu(&be[k], &o, &st);
    }
    RtExec *interp = rt_exec_bind(&be[0], g, vi, b, nb, NULL, 0, training, &st);
    RtExec *jit = interp ? rt_exec_bind(&be[1], g, vj, b, nb, NULL, 0, training, &st) : NULL;
    int same = 1;
    if (!CHECK(interp && jit, "%s: executors: %s", model, st.msg)) goto done;
    rt_vars_init(vi, 3);
    rt_vars_init(vj, 3);
    uint64_t rng = 5;
    for (int step = 0; step < 3; step++) {
        fx_random_inputs(g, interp, 4, &rng, fx_copy_to_exec, jit);
        if (!CHECK(rt_exec_run(interp, 5, (uint64_t)step, &st) == 0 && rt_exec_run(jit, 5, (uint64_t)step, &st) == 0,
                   "%s step %d: %s", model, step, st.msg))
            goto done;
        for (int k = 0; k < g->n_outputs; k++) {
            int64_t n;
            const char *name = ir_str(g, g->outputs[k].name);
            const void *a = rt_exec_output(interp, name, &n, NULL, NULL), *c = rt_exec_output(jit, name, NULL, NULL, NULL);
            if (a && c && !same_floats(a, c, n)) {
                printf("  %s step %d: output %s differs\n", model, step, name);
                same = 0;
            }
        }
    }
    for (int v = 0; training && v < vi->n; v++)
        if (!same_floats(vi->v[v].data, vj->v[v].data, vi->v[v].n)) {
            printf("  %s: variable %s differs\n", model, vi->v[v].name);
            same = 0;
        }
    int64_t n_loss;
    const float *loss = training ? rt_exec_output(jit, "loss", &n_loss, NULL, NULL) : NULL;
    CHECK(!training || (loss && isfinite(loss[0])), "%s: the loss stays finite", model);
    CHECK(same, "%s %s: LLVM kernels and interpreted loops give the same bits over 3 steps", model,
          training ? "train" : "eval");
done:
    rt_exec_free(interp);
    rt_exec_free(jit);
    rt_backend_close(&be[0]);
    rt_backend_close(&be[1]);
    rt_vars_free(vi);
    rt_vars_free(vj);
    ir_graph_free(g);
}

int main(void) {
    const RtBinding mlp[] = {{"N", 5}}, conv[] = {{"N", 3}};
    golden("tests/models/tiny_mlp.fn", 1, mlp, 1, "tiny_mlp.train.ll");
    golden("tests/models/tiny_conv.fn", 0, conv, 1, "tiny_conv.eval.ll");
    if (!ll_jit_available()) {
        printf("  this build has no LLVM target: compile and run checks skipped\n");
        return test_summary("test_llvm_codegen");
    }
    compiles_irv1();
    const RtBinding small[] = {{"N", 4}, {"classes", 3}}, pnet[] = {{"N", 2}, {"H", 31}, {"W", 24}};
    const RtBinding pnet_big[] = {{"N", 2}, {"H", 150}, {"W", 131}}; /* loops of many chunks */
    same_bits("tests/models/tiny_mlp.fn", 1, PASS_OPT_ADAM, mlp, 1);
    /* the mean loss over 40,000 rows: a sum to a scalar in lanes (pass_fuse_lanes), three chunks */
    const RtBinding mlp_lanes[] = {{"N", 40000}};
    same_bits("tests/models/tiny_mlp.fn", 1, PASS_OPT_ADAM, mlp_lanes, 1);
    same_bits("tests/models/irv1_small.fn", 1, PASS_OPT_ADAM, small, 2);
    same_bits("models/mtcnn/pnet.fn", 0, PASS_OPT_SGD, pnet, 3);
    same_bits("models/mtcnn/pnet.fn", 0, PASS_OPT_SGD, pnet_big, 3);
    return test_summary("test_llvm_codegen");
}
