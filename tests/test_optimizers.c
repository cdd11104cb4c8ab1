/* Each optimiser's update graph against a float64 computation of TensorFlow's formula, over
 * several steps: loss = sum(w*w*r)/2 + sum(w), so the gradient w*r + 1 changes every step. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "passes/passes.h"
#include "runtime/core/exec.h"
#include "tests/testlib.h"

enum { N = 12, STEPS = 6 };

/* TensorFlow's update (training_ops.cc), straight from the formulas. */
static void reference(PassOptimizer k, double *w, const double *r, double lr) {
    double s1[N], s2[N], b1p = 0.9, b2p = 0.999;
    for (int i = 0; i < N; i++) {
        s1[i] = k == PASS_OPT_ADAGRAD ? 0.1 : k == PASS_OPT_RMSPROP ? 1.0 : 0.0;
        s2[i] = 0;
    }
    for (int t = 0; t < STEPS; t++) {
        double lr_t = lr * sqrt(1 - b2p) / (1 - b1p);
        for (int i = 0; i < N; i++) {
            double g = w[i] * r[i] + 1;
            switch (k) {
            case PASS_OPT_SGD: w[i] -= lr * g; break;
            case PASS_OPT_ADAGRAD:
                s1[i] += g * g;
                w[i] -= lr * g / sqrt(s1[i]);
                break;
            case PASS_OPT_ADADELTA: {
                s1[i] = 0.9 * s1[i] + 0.1 * g * g;
                double u = sqrt(s2[i] + 1e-6) / sqrt(s1[i] + 1e-6) * g;
                s2[i] = 0.9 * s2[i] + 0.1 * u * u;
                w[i] -= lr * u;
                break;
            }
            case PASS_OPT_ADAM:
                s1[i] = 0.9 * s1[i] + 0.1 * g;
                s2[i] = 0.999 * s2[i] + 0.001 * g * g;
                w[i] -= lr_t * s1[i] / (sqrt(s2[i]) + 0.1);
                break;
            case PASS_OPT_RMSPROP:
                s1[i] = 0.9 * s1[i] + 0.1 * g * g;
                s2[i] = 0.9 * s2[i] + lr * g / sqrt(s1[i] + 1.0);
                w[i] -= s2[i];
                break;
            case PASS_OPT_MOM:
                s1[i] = 0.9 * s1[i] + g;
                w[i] -= lr * g + lr * 0.9 * s1[i];
                break;
            default: break;
            }
        }
        b1p *= 0.9;
        b2p *= 0.999;
    }
}

static void check(PassOptimizer k) {
    IrGraph *g = ir_graph_new();
    int64_t d[2] = {3, 4};
    IrShape s = ir_shape_make(g, 2, d), sc = {0, {0}};
    IrId w = ir_leaf(g, IR_OP_PARAM, "layer/w", IR_DT_FLOAT, &s, IR_INIT_ZEROS, 0, 0);
    IrId r = ir_leaf(g, IR_OP_INPUT, "r", IR_DT_FLOAT, &s, IR_INIT_ZEROS, 0, 0);
    IrId loss = ir_binary(g, IR_OP_ADD,
                          ir_scalar_op(g, IR_OP_SCALE, ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, ir_unary(g, IR_OP_SQUARE, w), r), 0, 0, NULL), 0.5),
                          ir_reduce(g, IR_OP_SUM, w, 0, 0, NULL));
    (void)sc;
    ir_set_output(g, "loss", loss);
    PassCtx ctx = {0};
    ctx.verify = 1;
    ctx.optimizer = k;
    RtStatus st;
    if (!CHECK(pass_pipeline(&g, 1, &ctx) == 0, "%s pipeline: %s", pass_optimizer_names[k], g->err)) return;
    RtVars *vars = rt_vars_new(8);
    RtExec *ex = rt_exec_new(test_cpu(), g, vars, NULL, NULL, 0, 1, &st);
    if (!CHECK(ex != NULL, "exec: %s", st.msg)) return;
    rt_vars_init(vars, 1);
    uint64_t rng = 11;
    double w0[N], rr[N];
    test_fill_uniform(w0, N, &rng, -1, 1);
    test_fill_uniform(rr, N, &rng, 0.5, 2);
    memcpy(rt_vars_find(vars, "layer/w")->data, w0, sizeof w0);
    memcpy(rt_exec_input(ex, "r", NULL), rr, sizeof rr);
    double lr = 0.05;
    *(double *)rt_exec_input(ex, "learning_rate", NULL) = lr;
    for (int t = 0; t < STEPS; t++) rt_exec_run(ex, 1, (uint64_t)t, &st);
    reference(k, w0, rr, lr);
    double err = test_rel_err(rt_vars_find(vars, "layer/w")->data, w0, N);
    printf("  %-9s %d steps: max rel err %.2e (slots:", pass_optimizer_names[k], STEPS, err);
    for (int i = 0; i < vars->n; i++)
        if (vars->v[i].is_state) printf(" %s", vars->v[i].name);
    printf(")\n");
    CHECK(err < 1e-12, "%s differs from TensorFlow's formula: %g", pass_optimizer_names[k], err);
    rt_exec_free(ex);
    rt_vars_free(vars);
    ir_graph_free(g);
}

/* updates come in the backward pass's order: the last layer's as soon as its gradient is ready,
 * before the first layer's gradient is computed, so that the gradients and activations it
 * needs are not kept to the step's end (in the train graph after simplify, which orders the
 * nodes from the assignments) */
static void update_order(void) {
    IrGraph *g = ir_graph_new();
    int64_t xd[2] = {5, 4}, wd[2] = {4, 4};
    IrShape sx = ir_shape_make(g, 2, xd), sw = ir_shape_make(g, 2, wd);
    IrId x = ir_leaf(g, IR_OP_INPUT, "x", IR_DT_FLOAT, &sx, IR_INIT_ZEROS, 0, 0);
    IrId w1 = ir_leaf(g, IR_OP_PARAM, "w1", IR_DT_FLOAT, &sw, IR_INIT_GLOROT_UNIFORM, 0, 0);
    IrId w2 = ir_leaf(g, IR_OP_PARAM, "w2", IR_DT_FLOAT, &sw, IR_INIT_GLOROT_UNIFORM, 0, 0);
    IrAttr at;
    memset(&at, 0, sizeof at);
    IrId in[2] = {x, w1};
    IrId h = ir_unary(g, IR_OP_RELU, ir_make(g, IR_OP_MATMUL, in, 2, &at));
    in[0] = h, in[1] = w2;
    IrId y = ir_make(g, IR_OP_MATMUL, in, 2, &at);
    ir_set_output(g, "loss", ir_reduce(g, IR_OP_SUM, ir_unary(g, IR_OP_SQUARE, y), 0, 0, NULL));
    PassCtx ctx = {0};
    ctx.optimizer = PASS_OPT_ADAGRAD;
    if (!CHECK(pass_pipeline(&g, 1, &ctx) == 0, "pipeline: %s", g->err)) return;
    IrId upd2 = IR_NONE, grad1 = ir_output(g, "grad/w1");
    for (int i = 0; i < g->n_effects; i++) {
        const IrNode *a = &g->nodes[g->effects[i]];
        if (g->nodes[a->in[0]].op == IR_OP_PARAM && !strcmp(ir_str(g, g->nodes[a->in[0]].attr.u.leaf.name), "w2"))
            upd2 = a->in[1];
    }
    CHECK(upd2 != IR_NONE && grad1 != IR_NONE && upd2 < grad1,
          "the last layer's update (node %d) comes before the first layer's gradient (node %d)", upd2, grad1);
    ir_graph_free(g);
}

int main(void) {
    for (int k = 0; k < PASS_OPT_COUNT; k++) check((PassOptimizer)k);
    update_order();
    return test_summary("test_optimizers");
}
