/* The loss terms of the training head (models/lib/facenet.fn) against hand computation:
 * center loss and its centre update (features at known centres are recovered, the loss goes
 * to 0, evaluation never moves the centres), the prelogits p-norm and the weight decay sum. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/driver.h"
#include "runtime/core/exec.h"
#include "tests/testlib.h"

enum { B = 6, E = 3, C = 4 };

static RtExec *open_graph(IrGraph **g, int training, RtVars *vars) {
    PassCtx ctx = {0};
    ctx.verify = 1;
    *g = drv_build("tests/models/losses.fn", NULL, 0, training, &ctx, stderr);
    if (!*g) return NULL;
    RtBinding b[] = {{"N", B}};
    int64_t sym[8];
    RtStatus st;
    if (rt_bind_syms(*g, b, 1, sym, &st) < 0) return NULL;
    return rt_exec_new(test_cpu(), *g, vars, sym, NULL, 0, training, &st);
}

int main(void) {
    IrGraph *g, *ge;
    RtVars *vars = rt_vars_new(8);
    RtExec *ex = open_graph(&g, 1, vars), *ev = open_graph(&ge, 0, vars);
    if (!CHECK(ex && ev, "compile tests/models/losses.fn")) return test_summary("test_losses");
    rt_vars_init(vars, 3);
    /* features sitting at known centres; classes 1 and 2 appear twice in the batch */
    const int32_t lab[B] = {0, 1, 2, 3, 1, 2};
    double centre[C][E], *x = rt_exec_input(ex, "x", NULL);
    uint64_t rng = 5;
    for (int c = 0; c < C; c++) test_fill_uniform(centre[c], E, &rng, -2, 2);
    for (int i = 0; i < B; i++) memcpy(x + i * E, centre[lab[i]], sizeof centre[0]);
    memcpy(rt_exec_input(ex, "labels", NULL), lab, sizeof lab);
    *(double *)rt_exec_input(ex, "alfa", NULL) = 0.5;
    *(double *)rt_exec_input(ex, "p", NULL) = 1.0;
    RtStatus st;
    rt_exec_run(ex, 1, 0, &st);
    double want0 = 0;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < E; j++) want0 += centre[lab[i]][j] * centre[lab[i]][j] / (B * E);
    double l0 = rt_exec_scalar(ex, "center_loss");
    CHECK(fabs(l0 - want0) < 1e-12, "first center loss (centres at 0) = mean(x^2): %.12f vs %.12f", l0, want0);
    for (int t = 1; t < 100; t++) rt_exec_run(ex, 1, (uint64_t)t, &st);
    double l100 = rt_exec_scalar(ex, "center_loss"), err = 0;
    const double *cs = rt_vars_find(vars, "centers")->data;
    for (int c = 0; c < C; c++)
        for (int j = 0; j < E; j++) err = fmax(err, fabs(cs[c * E + j] - centre[c][j]));
    printf("  center loss: %.3e at step 1, %.3e at step 100; centres off by %.2e (alfa 0.5)\n", l0, l100, err);
    CHECK(err < 1e-12 && l100 < 1e-20, "centres recovered (%g) and loss ~0 (%g)", err, l100);
    /* evaluation reads the centres without moving them */
    double before[C * E];
    memcpy(before, cs, sizeof before);
    double *xe = rt_exec_input(ev, "x", NULL);
    for (int i = 0; i < B * E; i++) xe[i] = 5.0;
    memcpy(rt_exec_input(ev, "labels", NULL), lab, sizeof lab);
    CHECK(rt_exec_input(ev, "alfa", NULL) == NULL, "evaluation does not even read alfa");
    *(double *)rt_exec_input(ev, "p", NULL) = 2.0;
    rt_exec_run(ev, 1, 0, &st);
    CHECK(memcmp(before, rt_vars_find(vars, "centers")->data, sizeof before) == 0,
          "an evaluation pass leaves the centres alone");
    /* prelogits p-norm: mean over rows of (sum_j (|x|+1e-4)^p)^(1/p), p = 1 and 2 */
    for (int pi = 1; pi <= 2; pi++) {
        double *xv = rt_exec_input(ev, "x", NULL), want = 0;
        test_fill_uniform(xv, B * E, &rng, -3, 3);
        *(double *)rt_exec_input(ev, "p", NULL) = pi;
        rt_exec_run(ev, 1, 0, &st);
        for (int i = 0; i < B; i++) {
            double s = 0;
            for (int j = 0; j < E; j++) s += pow(fabs(xv[i * E + j]) + 1e-4, pi);
            want += pow(s, 1.0 / pi) / B;
        }
        double got = rt_exec_scalar(ev, "prelogits_norm");
        CHECK(fabs(got - want) < 1e-12 * want, "prelogits norm p=%d: %.15f vs %.15f", pi, got, want);
    }
    /* weight decay: sum(w^2)/2 over the weights (not the biases) */
    const double *w = rt_vars_find(vars, "layer/weights")->data;
    double wl2 = 0;
    for (int i = 0; i < E * 2; i++) wl2 += w[i] * w[i] / 2;
    CHECK(fabs(rt_exec_scalar(ev, "weight_l2") - wl2) < 1e-15, "weight_l2 = sum(w^2)/2 over decayed weights: %.15f vs %.15f",
          rt_exec_scalar(ev, "weight_l2"), wl2);
    rt_exec_free(ex);
    rt_exec_free(ev);
    rt_vars_free(vars);
    ir_graph_free(g);
    ir_graph_free(ge);
    return test_summary("test_losses");
}
