/* Batch-norm folding (passes/fold.c): which batch norms fold, and the folded eval graph's
 * outputs against the unfolded one's (PassCtx.keep_batch_norm) within 1e-5, on the CPU, with
 * random moving statistics and betas (the initial ones, mean 0 and variance 1, would hide a
 * wrong fold). Models: tests/models/fold_cases.fn (a conv that must not fold beside three that
 * must), the reduced Inception-ResNet-v1 and the whole one. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/driver.h"
#include "runtime/core/exec.h"
#include "tests/fixtures.h"
#include "tests/testlib.h"

static IrGraph *build(const char *model, int keep) {
    PassCtx ctx = {.verify = 1, .keep_batch_norm = keep};
    return drv_build(model, NULL, 0, 0, &ctx, stderr);
}

/* Batch norms left after a contraction: sub(conv2d or matmul, ...) */
static int unfolded(const IrGraph *g) {
    int n = 0;
    for (IrId id = 0; id < g->n_nodes; id++) {
        const IrNode *s = &g->nodes[id];
        IrOp y = s->op == IR_OP_SUB ? g->nodes[s->in[0]].op : IR_OP_INPUT;
        n += y == IR_OP_CONV2D || y == IR_OP_MATMUL;
    }
    return n;
}

/* Every variable but the weights drawn at random: betas and means in [-1, 1), variances in
 * [0.2, 2) (seeded, and the same in both stores). */
static void randomise(RtVars *vs) {
    uint64_t rng = 11;
    for (int i = 0; i < vs->n; i++) {
        RtVar *v = &vs->v[i];
        if (strstr(v->name, "/weights")) continue;
        int var = strstr(v->name, "moving_variance") != NULL;
        for (int64_t k = 0; k < v->n; k++) {
            double u = test_rng_uniform(&rng);
            ((float *)v->data)[k] = (float)(var ? 0.2 + 1.8 * u : 2 * u - 1);
        }
    }
}

/* The two graphs' output `name` at N = n on the same inputs: max |a - b| / max |b|. */
static double compare(const char *model, const IrGraph *gf, const IrGraph *gk, int n, const char *name) {
    RtStatus st;
    RtBinding b[] = {{"N", n}, {"classes", 4}};
    RtVars *vf = rt_vars_new(4), *vk = rt_vars_new(4);
    RtExec *ef = rt_exec_bind(test_cpu(), gf, vf, b, 2, &name, 1, 0, &st);
    RtExec *ek = ef ? rt_exec_bind(test_cpu(), gk, vk, b, 2, &name, 1, 0, &st) : NULL;
    double err = INFINITY;
    if (!CHECK(ef && ek, "%s: executors: %s", model, st.msg)) goto done;
    rt_vars_init(vf, 3), rt_vars_init(vk, 3);
    randomise(vf), randomise(vk);
    uint64_t rng = 5;
    fx_random_inputs(gk, ek, 4, &rng, fx_copy_to_exec, ef);
    if (!CHECK(rt_exec_run(ef, 1, 0, &st) == 0 && rt_exec_run(ek, 1, 0, &st) == 0, "%s: run: %s", model, st.msg))
        goto done;
    int64_t len;
    const float *a = rt_exec_output(ef, name, &len, NULL, NULL), *c = rt_exec_output(ek, name, NULL, NULL, NULL);
    if (!CHECK(a && c, "%s: output %s", model, name)) goto done;
    double dmax = 0, cmax = 0;
    for (int64_t i = 0; i < len; i++) {
        double d = fabs((double)a[i] - c[i]);
        dmax = d > dmax || isnan(d) ? d : dmax;
        cmax = fabs(c[i]) > cmax ? fabs(c[i]) : cmax;
    }
    err = dmax / (cmax > 0 ? cmax : 1);
done:
    rt_exec_free(ef), rt_exec_free(ek);
    rt_vars_free(vf), rt_vars_free(vk);
    return err;
}

static void check_model(const char *model, int want_left, int n) {
    IrGraph *gf = build(model, 0), *gk = build(model, 1);
    if (CHECK(gf && gk, "%s builds", model)) {
        int before = unfolded(gk), after = unfolded(gf);
        CHECK(before > want_left && after == want_left, "%s: %d batch norms after a contraction, %d left by the fold (want %d)",
              model, before, after, want_left);
        double err = compare(model, gf, gk, n, "embeddings");
        printf("  %s: embeddings, folded against unfolded: max |delta| / max |y| = %.2e\n", model, err);
        CHECK(err <= 1e-5, "%s: folded eval within 1e-5 of unfolded (%.2e)", model, err);
    }
    ir_graph_free(gf), ir_graph_free(gk);
}

int main(void) {
    check_model("tests/models/fold_cases.fn", 1, 4);
    check_model("tests/models/irv1_small.fn", 0, 3);
    check_model("models/inception_resnet_v1.fn", 0, 2);
    return test_summary("test_fold");
}
