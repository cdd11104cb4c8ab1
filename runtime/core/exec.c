/* See exec.h: the executor interface, forwarding each call to the backend that bound it. */
#include "runtime/core/exec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ir/alloc.h"
#include "passes/passes.h"

struct RtExec {
    const RtBackendOps *ops;
    void *x;      /* the backend's executor */
    int prec;     /* the variables' bytes per real */
    IrGraph *own; /* the graph as the replicas run it, where that differs from the caller's */
};

/* g as the backend's replicas run it: without the ALLREDUCEs they do not reduce, the gradients'
   in buckets (passes/buckets.c); *own (NULL when g serves as it is) */
static const IrGraph *for_replicas(const RtBackend *be, const IrGraph *g, const int64_t *sym, IrGraph **own,
                                   RtStatus *st) {
    unsigned groups = rt_comm_groups(be->comm);
    int64_t bucket = (int64_t)(be->opt.bucket_mb * 1048576.0);
    *own = NULL;
    int drop = pass_replicas_count(g, ~0u) != pass_replicas_count(g, groups);
    int buckets = groups && bucket > 0;
    if (!drop && !buckets) return g;
    if (!(*own = ir_graph_clone(g))) {
        rt_fail(st, "out of memory binding a graph");
        return NULL;
    }
    if ((!drop || pass_replicas(own, groups) == 0) && (!buckets || pass_buckets(own, bucket, sym) == 0)) return *own;
    rt_fail(st, "%s", (*own)->err);
    ir_graph_free(*own);
    *own = NULL;
    return NULL;
}

void rt_backend_close(RtBackend *be) {
    if (be && be->ops && be->ops->close) be->ops->close(be);
}

RtExec *rt_exec_new(const RtBackend *be, const IrGraph *g, RtVars *vars, const int64_t *sym,
                    const char *const *want, int n_want, int run_effects, RtStatus *st) {
    RtExec *ex = fn_calloc(1, sizeof *ex);
    if (!ex) {
        rt_fail(st, "out of memory binding a graph");
        return NULL;
    }
    ex->ops = be->ops;
    ex->prec = vars->prec;
    if (!(g = for_replicas(be, g, sym, &ex->own, st)) ||
        !(ex->x = be->ops->bind(be, g, vars, sym, want, n_want, run_effects, st))) {
        ir_graph_free(ex->own);
        free(ex);
        return NULL;
    }
    return ex;
}

RtExec *rt_exec_bind(const RtBackend *be, const IrGraph *g, RtVars *vars, const RtBinding *b, int nb,
                     const char *const *want, int n_want, int run_effects, RtStatus *st) {
    int64_t *sym = fn_calloc((size_t)g->n_syms + 1, sizeof *sym);
    if (!sym) {
        rt_fail(st, "out of memory binding a graph");
        return NULL;
    }
    RtExec *ex = rt_bind_syms(g, b, nb, sym, st) == 0 ? rt_exec_new(be, g, vars, sym, want, n_want, run_effects, st)
                                                      : NULL;
    free(sym);
    return ex;
}

void rt_exec_free(RtExec *ex) {
    if (!ex) return;
    ex->ops->free(ex->x);
    ir_graph_free(ex->own);
    free(ex);
}

void *rt_exec_input(RtExec *ex, const char *name, int64_t *n) { return ex->ops->input(ex->x, name, n); }

int rt_exec_run(RtExec *ex, uint64_t seed, uint64_t step, RtStatus *st) { return ex->ops->run(ex->x, seed, step, st); }

int rt_exec_run_ahead(RtExec *ex, uint64_t seed, uint64_t step, int next, RtExecFill fill_next, void *ctx,
                      RtStatus *st) {
    if (ex->ops->run_ahead) return ex->ops->run_ahead(ex->x, seed, step, next, fill_next, ctx, st);
    return ex->ops->run(ex->x, seed, step, st) < 0 ? -1 : 0;
}

const void *rt_exec_output(RtExec *ex, const char *name, int64_t *n, int *rank, int64_t *dims) {
    RtStatus st; /* a failed copy reads as an absent output */
    return ex->ops->output(ex->x, name, n, rank, dims, &st);
}

double rt_exec_scalar(RtExec *ex, const char *name) {
    const void *p = rt_exec_output(ex, name, NULL, NULL, NULL);
    if (!p) return NAN;
    return ex->prec == 4 ? (double)*(const float *)p : *(const double *)p;
}

int rt_exec_upload_vars(RtExec *ex, RtStatus *st) { return ex->ops->upload_vars(ex->x, st); }

int rt_exec_ema_update(RtExec *ex, RtVars *ema, double decay, int64_t t, RtStatus *st) {
    return ex->ops->ema_update(ex->x, ema, decay, t, st);
}

int rt_exec_sync_host(RtExec *ex, RtVars *ema, RtStatus *st) { return ex->ops->sync_host(ex->x, ema, st); }

size_t rt_exec_bytes(const RtExec *ex) { return ex->ops->bytes(ex->x); }

RtStreams rt_exec_streams(const RtExec *ex) {
    return ex->ops->streams ? ex->ops->streams(ex->x) : (RtStreams){.overlap = 1};
}

void rt_profile_print(const double *s, const int64_t *calls, int n, int64_t steps) {
    double total = 0;
    for (int o = 0; o < n; o++) total += s[o];
    if (steps > 0) fprintf(stderr, "  %.4f s per step\n", total / (double)steps);
    char *done = fn_calloc((size_t)n, 1);
    if (!done) return;
    for (;;) {
        int best = -1;
        for (int o = 0; o < n; o++)
            if (!done[o] && calls[o] && (best < 0 || s[o] > s[best])) best = o;
        if (best < 0) break;
        done[best] = 1;
        char name[64];
        snprintf(name, sizeof name, "%s%s", best >= IR_OP_COUNT ? "loop ending " : "", ir_op_info[best % IR_OP_COUNT].name);
        fprintf(stderr, "  %-28s %8lld calls %10.3f s %6.1f%%\n", name, (long long)calls[best], s[best],
                total > 0 ? 100 * s[best] / total : 0);
    }
    free(done);
}
