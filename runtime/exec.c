/* The reference executor: runs a bound graph node by node on the host, in float32 or float64.
 * Every buffer is planned and allocated once when the executor is created (no allocation in
 * the step): a node's buffer goes back to the pool after its last reader, so the step needs
 * the peak of live values, not their sum. Variables are not copied: PARAM/STATE nodes point
 * into the variable store, and ASSIGN results are copied into it after the whole step has
 * run. Not here: fusion, threads beyond the BLAS (the fast CPU backend). */
#include "runtime/rt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/ref/ref.h"
#include "runtime/gpu/gpu_exec.h"
#include "runtime/plan.h"

struct RtExec {
    const IrGraph *g;
    RtVars *vars;
    int prec, n;
    RtPlan plan;                  /* dims, needed nodes, memory blocks; the fields below alias it */
    int64_t (*dims)[IR_MAX_RANK];
    int *rank;
    int64_t *numel;
    size_t *esize;
    void **buf;
    char *needed;
    void **blocks; /* the planned buffers; nodes' buffers point into them */
    int n_blocks;
    void *scratch;
    size_t bytes;
    uint64_t seed, step;
    RtGpuExec *gpu; /* set: the GPU runs the graph; the fields above are unused */
    int gpu_effects;
};

#define real float
#define SFX(name) name##_f32
#include "runtime/exec_kernels.h"
#undef real
#undef SFX
#define real double
#define SFX(name) name##_f64
#include "runtime/exec_kernels.h"
#undef real
#undef SFX

static void fill(void *p, int prec, int64_t n, double v) {
    for (int64_t i = 0; i < n; i++) {
        if (prec == 4) ((float *)p)[i] = (float)v;
        else ((double *)p)[i] = v;
    }
}

/* One allocation per planned block; nodes point into them. */
static int alloc_blocks(RtExec *ex, RtStatus *st) {
    const RtPlan *p = &ex->plan;
    ex->n_blocks = p->n_blocks;
    ex->blocks = calloc((size_t)p->n_blocks + 1, sizeof *ex->blocks);
    for (int b = 0; b < p->n_blocks; b++) {
        ex->blocks[b] = calloc(1, p->block_bytes[b]);
        if (!ex->blocks[b]) return rt_fail(st, "out of memory: %zu bytes for the step's buffers", p->block_bytes[b]);
        ex->bytes += p->block_bytes[b];
    }
    for (IrId id = 0; id < ex->n; id++)
        if (p->block_of[id] >= 0) ex->buf[id] = ex->blocks[p->block_of[id]];
    return 0;
}

RtExec *rt_exec_new(const IrGraph *g, RtVars *vars, const int64_t *sym, const char *const *want,
                    int n_want, int run_effects, RtStatus *st) {
    RtExec *ex = calloc(1, sizeof *ex);
    int n = g->n_nodes;
    ex->g = g;
    ex->vars = vars;
    ex->prec = vars->prec;
    ex->n = n;
    ex->buf = calloc((size_t)n + 1, sizeof *ex->buf);
    if (rt_vars_bind(vars, g, sym, st) < 0 ||
        rt_plan_build(&ex->plan, g, sym, want, n_want, run_effects, ex->prec, st) < 0)
        goto fail;
    ex->dims = ex->plan.dims;
    ex->rank = ex->plan.rank;
    ex->numel = ex->plan.numel;
    ex->esize = ex->plan.esize;
    ex->needed = ex->plan.needed;
    for (IrId id = 0; id < n; id++) {
        const IrNode *nd = &g->nodes[id];
        if (ex->needed[id] && (nd->op == IR_OP_PARAM || nd->op == IR_OP_STATE))
            ex->buf[id] = rt_vars_find(vars, ir_str(g, nd->attr.u.leaf.name))->data;
    }
    if (alloc_blocks(ex, st) < 0) goto fail;
    for (IrId id = 0; id < n; id++)
        if (ex->needed[id] && g->nodes[id].op == IR_OP_CONST)
            fill(ex->buf[id], ex->prec, ex->numel[id], g->nodes[id].attr.u.scalar.f);
    size_t scratch = ex->plan.scratch;
    ex->scratch = malloc((scratch ? scratch : 1) * (size_t)ex->prec);
    ex->bytes += scratch * (size_t)ex->prec;
    return ex;
fail:
    rt_exec_free(ex);
    return NULL;
}

RtExec *rt_exec_bind(const IrGraph *g, RtVars *vars, const RtBinding *b, int nb,
                     const char *const *want, int n_want, int run_effects, RtStatus *st) {
    int64_t *sym = calloc((size_t)g->n_syms + 1, sizeof *sym);
    RtExec *ex = rt_bind_syms(g, b, nb, sym, st) == 0
                     ? rt_exec_new(g, vars, sym, want, n_want, run_effects, st)
                     : NULL;
    free(sym);
    return ex;
}

RtExec *rt_exec_bind_gpu(RtGpu *gpu, double memory_fraction, const IrGraph *g, RtVars *vars,
                         const RtBinding *b, int nb, const char *const *want, int n_want, int run_effects,
                         RtStatus *st) {
    int64_t *sym = calloc((size_t)g->n_syms + 1, sizeof *sym);
    RtGpuExec *gx = rt_bind_syms(g, b, nb, sym, st) == 0
                        ? rt_gpu_exec_new(gpu, g, vars, sym, want, n_want, run_effects, memory_fraction, st)
                        : NULL;
    free(sym);
    if (!gx) return NULL;
    RtExec *ex = calloc(1, sizeof *ex);
    ex->g = g;
    ex->vars = vars;
    ex->prec = vars->prec;
    ex->gpu = gx;
    ex->gpu_effects = run_effects && g->n_effects > 0;
    return ex;
}

void rt_exec_free(RtExec *ex) {
    if (!ex) return;
    rt_gpu_exec_free(ex->gpu);
    for (int i = 0; i < ex->n_blocks; i++) free(ex->blocks[i]);
    free(ex->blocks);
    rt_plan_free(&ex->plan);
    free(ex->buf);
    free(ex->scratch);
    free(ex);
}

void *rt_exec_input(RtExec *ex, const char *name, int64_t *n) {
    if (ex->gpu) return rt_gpu_exec_input(ex->gpu, name, n);
    IrId id = ir_find_leaf(ex->g, IR_OP_INPUT, name);
    if (id == IR_NONE || !ex->buf[id]) return NULL;
    if (n) *n = ex->numel[id];
    return ex->buf[id];
}

int rt_exec_run(RtExec *ex, uint64_t seed, uint64_t step, RtStatus *st) {
    if (ex->gpu)
        return rt_gpu_exec_run(ex->gpu, seed, step, st) < 0 ? -1
               : ex->gpu_effects                         ? rt_gpu_exec_download_vars(ex->gpu, st)
                                                         : 0;
    ex->seed = seed;
    ex->step = step;
    for (IrId id = 0; id < ex->n; id++) {
        if (!ex->needed[id]) continue;
        if (ex->prec == 4) run_node_f32(ex, id);
        else run_node_f64(ex, id);
    }
    for (int i = 0; i < ex->g->n_effects; i++) {
        IrId id = ex->g->effects[i];
        if (!ex->needed[id]) continue;
        const IrNode *nd = &ex->g->nodes[id];
        memcpy(ex->buf[nd->in[0]], ex->buf[nd->in[1]], (size_t)ex->numel[id] * (size_t)ex->prec);
    }
    return 0;
}

const void *rt_exec_output(RtExec *ex, const char *name, int64_t *n, int *rank, int64_t *dims) {
    if (ex->gpu) {
        RtStatus st; /* a failed copy reads as an absent output */
        return rt_gpu_exec_output(ex->gpu, name, n, rank, dims, &st);
    }
    int k = rt_plan_output(ex->g, name);
    if (k < 0) return NULL;
    IrId id = ex->g->outputs[k].id;
    if (!ex->buf[id]) return NULL;
    if (n) *n = ex->numel[id];
    if (rank) *rank = ex->rank[id];
    if (dims) memcpy(dims, ex->dims[id], sizeof ex->dims[id]);
    return ex->buf[id];
}

double rt_exec_scalar(RtExec *ex, const char *name) {
    const void *p = rt_exec_output(ex, name, NULL, NULL, NULL);
    if (!p) return NAN;
    return ex->prec == 4 ? (double)*(const float *)p : *(const double *)p;
}

int rt_exec_upload_vars(RtExec *ex, RtStatus *st) { return ex->gpu ? rt_gpu_exec_upload_vars(ex->gpu, st) : 0; }

size_t rt_exec_bytes(const RtExec *ex) { return ex->gpu ? rt_gpu_exec_bytes(ex->gpu) : ex->bytes; }
