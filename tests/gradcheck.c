/* See gradcheck.h. */
#include "tests/gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"
#include "tests/testlib.h"

static int add_probe_loss(IrGraph *g) {
    IrId loss = IR_NONE;
    int n_out = g->n_outputs;
    for (int k = 0; k < n_out; k++) {
        IrId y = g->outputs[k].id;
        if (g->nodes[y].dtype != IR_DT_FLOAT) continue;
        char name[64];
        snprintf(name, sizeof name, "gc_r%d", k);
        IrShape s = g->nodes[y].shape;
        IrId r = ir_leaf(g, IR_OP_INPUT, name, IR_DT_FLOAT, &s, IR_INIT_ZEROS, 0, 0);
        IrId t = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, y, r), 0, 0, NULL);
        loss = loss == IR_NONE ? t : ir_binary(g, IR_OP_ADD, loss, t);
        if (t == IR_NONE || loss == IR_NONE) return -1;
    }
    if (loss == IR_NONE) return -1;
    ir_set_output(g, "loss", loss);
    return 0;
}

static double run_loss(RtExec *ex) {
    RtStatus st;
    rt_exec_run(ex, 7, 3, &st);
    return rt_exec_scalar(ex, "loss");
}

/* The probe loss (if g has no loss), then the gradients: 0, or -1 with a message printed. */
static int differentiate(IrGraph **gp) {
    PassCtx ctx = {0};
    ctx.verify = 1;
    if (ir_output(*gp, "loss") == IR_NONE && add_probe_loss(*gp) < 0) {
        printf("gradcheck: cannot build the probe loss: %s\n", (*gp)->err);
        return -1;
    }
    if (pass_autodiff(gp, &ctx) < 0 || pass_simplify(gp, &ctx) < 0 || ir_verify(*gp) < 0) {
        printf("gradcheck: pass failed: %s\n", (*gp)->err);
        return -1;
    }
    return 0;
}

double gc_check(IrGraph **gp, const GcOpts *o) {
    if (differentiate(gp) < 0) return INFINITY;
    IrGraph *g = *gp;
    RtStatus st;
    int64_t *sym = calloc((size_t)g->n_syms + 1, sizeof *sym);
    RtVars *vars = rt_vars_new(8);
    RtExec *ex = NULL;
    double worst = INFINITY;
    if (rt_bind_syms(g, o->bind, o->n_bind, sym, &st) < 0 ||
        !(ex = rt_exec_new(test_cpu(), g, vars, sym, NULL, 0, 0, &st))) {
        printf("gradcheck: %s\n", st.msg);
        goto done;
    }
    uint64_t rng = o->seed;
    rt_vars_init(vars, o->seed);
    if (o->randomize)
        for (int i = 0; i < vars->n; i++)
            if (!vars->v[i].is_state)
                test_fill_uniform(vars->v[i].data, (size_t)vars->v[i].n, &rng, -1, 1);
    for (IrId id = 0; id < g->n_nodes; id++) {
        const IrNode *n = &g->nodes[id];
        if (n->op != IR_OP_INPUT) continue;
        int64_t cnt;
        void *p = rt_exec_input(ex, ir_str(g, n->attr.u.leaf.name), &cnt);
        if (!p) continue;
        if (n->dtype == IR_DT_INT32)
            for (int64_t i = 0; i < cnt; i++)
                ((int32_t *)p)[i] = (int32_t)(test_rng_next(&rng) % (uint64_t)o->label_range);
        else if (!strcmp(ir_str(g, n->attr.u.leaf.name), "keep_probability"))
            *(double *)p = 0.8;
        else
            test_fill_uniform(p, (size_t)cnt, &rng, -1, 1);
    }
    run_loss(ex);
    worst = 0;
    double dot_a = 0, lp, lm;
    int n_params = 0;
    double **dirs = calloc((size_t)vars->n, sizeof *dirs);
    for (int i = 0; i < vars->n && isfinite(worst); i++) {
        RtVar *v = &vars->v[i];
        if (v->is_state) continue;
        char name[600];
        snprintf(name, sizeof name, "grad/%s", v->name);
        int64_t cnt;
        run_loss(ex); /* at the unperturbed point again */
        const double *grad = rt_exec_output(ex, name, &cnt, NULL, NULL);
        if (!grad) {
            printf("gradcheck: no gradient for %s\n", v->name);
            worst = INFINITY;
            break;
        }
        n_params++;
        double *x = v->data;
        if (o->full) {
            double *gcopy = malloc((size_t)cnt * sizeof(double)); /* the exec reuses buffers */
            memcpy(gcopy, grad, (size_t)cnt * sizeof(double));
            double scale = 1e-12;
            for (int64_t j = 0; j < cnt; j++) scale = fmax(scale, fabs(gcopy[j]));
            for (int64_t j = 0; j < cnt; j++) {
                double x0 = x[j];
                x[j] = x0 + o->h;
                lp = run_loss(ex);
                x[j] = x0 - o->h;
                lm = run_loss(ex);
                x[j] = x0;
                double fd = (lp - lm) / (2 * o->h), e = fabs(fd - gcopy[j]) / scale;
                if (getenv("GC_DEBUG")) printf("%s[%ld] x0=%g lp=%.17g lm=%.17g fd=%.12g g=%.12g\n", v->name, (long)j, x0, lp, lm, fd, gcopy[j]);
                if (!(e <= worst)) worst = e;
            }
            free(gcopy);
        } else {
            dirs[i] = malloc((size_t)cnt * sizeof(double));
            for (int64_t j = 0; j < cnt; j++) {
                dirs[i][j] = (test_rng_next(&rng) & 1) ? 1.0 : -1.0;
                dot_a += dirs[i][j] * grad[j];
            }
        }
    }
    if (!o->full && isfinite(worst)) {
        for (int s = 0; s < 2; s++) {
            double sign = s ? -1 : 1;
            for (int i = 0; i < vars->n; i++)
                if (dirs[i])
                    for (int64_t j = 0; j < vars->v[i].n; j++)
                        ((double *)vars->v[i].data)[j] += sign * o->h * dirs[i][j];
            double l = run_loss(ex);
            if (s == 0) lp = l; else lm = l;
            for (int i = 0; i < vars->n; i++)
                if (dirs[i])
                    for (int64_t j = 0; j < vars->v[i].n; j++)
                        ((double *)vars->v[i].data)[j] -= sign * o->h * dirs[i][j];
        }
        double fd = (lp - lm) / (2 * o->h);
        worst = fabs(fd - dot_a) / fmax(fmax(fabs(fd), fabs(dot_a)), 1e-12);
        printf("    direction: analytic %.12e numeric %.12e over %d params\n", dot_a, fd, n_params);
    }
    for (int i = 0; i < vars->n; i++) free(dirs[i]);
    free(dirs);
done:
    rt_exec_free(ex);
    rt_vars_free(vars);
    free(sym);
    return worst;
}

/* |x - ref| / |ref| over n values, in double; NaN must stand at the same places */
static double rel_l2_f32(const float *x, const double *ref, int64_t n) {
    double d = 0, r = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(ref[i]) || isnan(x[i])) {
            if (isnan(ref[i]) != isnan(x[i])) return INFINITY;
            continue;
        }
        d += ((double)x[i] - ref[i]) * ((double)x[i] - ref[i]);
        r += ref[i] * ref[i];
    }
    return r > 0 ? sqrt(d / r) : sqrt(d);
}

double gc_compare_f32(IrGraph **gp, const GcOpts *o, const RtBackend *be, char *worst_output, size_t cap) {
    if (differentiate(gp) < 0) return INFINITY;
    IrGraph *g = *gp;
    RtStatus st;
    int64_t *sym = calloc((size_t)g->n_syms + 1, sizeof *sym);
    RtVars *v64 = rt_vars_new(8), *v32 = rt_vars_new(4);
    RtExec *ref = NULL, *x32 = NULL;
    double worst = INFINITY;
    if (rt_bind_syms(g, o->bind, o->n_bind, sym, &st) < 0 || !(ref = rt_exec_new(test_cpu(), g, v64, sym, NULL, 0, 0, &st)) ||
        !(x32 = rt_exec_new(be ? be : test_cpu(), g, v32, sym, NULL, 0, 0, &st))) {
        printf("gradcheck: %s\n", st.msg);
        goto done;
    }
    if (v32->n != v64->n) {
        printf("gradcheck: the two stores differ\n");
        goto done;
    }
    uint64_t rng = o->seed;
    rt_vars_init(v64, o->seed);
    for (int i = 0; i < v64->n; i++) { /* values a float holds exactly, the same in both stores */
        double *d = v64->v[i].data;
        if (o->randomize && !v64->v[i].is_state) test_fill_uniform(d, (size_t)v64->v[i].n, &rng, -1, 1);
        for (int64_t j = 0; j < v64->v[i].n; j++) ((float *)v32->v[i].data)[j] = (float)(d[j] = (float)d[j]);
    }
    if (rt_exec_upload_vars(x32, &st) < 0) {
        printf("gradcheck: %s\n", st.msg);
        goto done;
    }
    for (IrId id = 0; id < g->n_nodes; id++) {
        const IrNode *n = &g->nodes[id];
        if (n->op != IR_OP_INPUT) continue;
        const char *name = ir_str(g, n->attr.u.leaf.name);
        int64_t cnt;
        void *a = rt_exec_input(ref, name, &cnt), *b = rt_exec_input(x32, name, NULL);
        if (!a || !b) continue;
        for (int64_t i = 0; i < cnt; i++) {
            if (n->dtype == IR_DT_INT32) {
                ((int32_t *)a)[i] = ((int32_t *)b)[i] = (int32_t)(test_rng_next(&rng) % (uint64_t)o->label_range);
            } else {
                float v = !strcmp(name, "keep_probability") ? 0.8f : (float)(2 * test_rng_uniform(&rng) - 1);
                ((double *)a)[i] = v;
                ((float *)b)[i] = v;
            }
        }
    }
    if (rt_exec_run(ref, 7, 3, &st) < 0 || rt_exec_run(x32, 7, 3, &st) < 0) {
        printf("gradcheck: %s\n", st.msg);
        goto done;
    }
    worst = 0;
    for (int k = 0; k < g->n_outputs; k++) {
        IrId id = g->outputs[k].id;
        const char *name = ir_str(g, g->outputs[k].name);
        if (g->nodes[id].dtype != IR_DT_FLOAT || !strcmp(name, "loss")) continue; /* the probe: a sum with
                                                                                      cancellation, ill-conditioned */
        int64_t n;
        const double *r = rt_exec_output(ref, name, &n, NULL, NULL);
        const float *x = rt_exec_output(x32, name, NULL, NULL, NULL);
        double e = r && x ? rel_l2_f32(x, r, n) : INFINITY;
        if (!(e <= worst)) {
            worst = e;
            if (worst_output) snprintf(worst_output, cap, "%s", name);
        }
    }
done:
    rt_exec_free(x32);
    rt_exec_free(ref);
    rt_vars_free(v32);
    rt_vars_free(v64);
    free(sym);
    return worst;
}
