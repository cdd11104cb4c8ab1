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

struct RtExec {
    const IrGraph *g;
    RtVars *vars;
    int prec, n;
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
};

static void exec_window(const RtExec *ex, IrId id, RefWindow *win) {
    const IrNode *n = &ex->g->nodes[id];
    const IrWindowAttr *w = &n->attr.u.window;
    /* the NHWC tensor the window slides over, and the output channels for convolutions */
    const int64_t *x;
    int o = 0;
    switch (n->op) {
    case IR_OP_CONV2D: x = ex->dims[n->in[0]]; o = (int)ex->dims[id][3]; break;
    case IR_OP_CONV2D_BWD_DATA: x = ex->dims[id]; o = (int)ex->dims[n->in[0]][3]; break;
    case IR_OP_CONV2D_BWD_FILTER: x = ex->dims[n->in[0]]; o = (int)ex->dims[n->in[1]][3]; break;
    case IR_OP_AVGPOOL_GRAD: x = ex->dims[id]; break;
    default: x = ex->dims[n->in[0]]; break;
    }
    int kh = w->kh, kw = w->kw, sh = w->sh, sw = w->sw;
    if ((n->op == IR_OP_AVGPOOL || n->op == IR_OP_AVGPOOL_GRAD) && kh == 0) {
        kh = (int)x[1];
        kw = (int)x[2];
        sh = sw = 1;
    }
    ref_window_init(win, (int)x[0], (int)x[1], (int)x[2], (int)x[3], kh, kw, sh, sw, w->same, o);
}

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

static int out_index(const IrGraph *g, const char *name) {
    for (int i = 0; i < g->n_outputs; i++)
        if (strcmp(ir_str(g, g->outputs[i].name), name) == 0) return i;
    return -1;
}

static void fill(void *p, int prec, int64_t n, double v) {
    for (int64_t i = 0; i < n; i++) {
        if (prec == 4) ((float *)p)[i] = (float)v;
        else ((double *)p)[i] = v;
    }
}

/* Liveness-based buffer planning. Walking the nodes in execution order, a node takes the
 * smallest free block that fits (a block is free once the last reader of its occupant has run;
 * never one of the node's own inputs), or a new block. Inputs and constants, written before
 * the step, get blocks of their own; requested outputs and assigned values stay to its end. */
static int plan_buffers(RtExec *ex, RtStatus *st) {
    const IrGraph *g = ex->g;
    int n = ex->n, cap = 64;
    int *last = malloc((size_t)n * sizeof *last), *blk_busy = malloc((size_t)cap * sizeof(int));
    size_t *blk_size = malloc((size_t)cap * sizeof(size_t));
    int *blk_of = malloc((size_t)n * sizeof *blk_of);
    const int forever = n;
    for (IrId id = 0; id < n; id++) last[id] = -1;
    for (IrId id = 0; id < n; id++)
        if (ex->needed[id])
            for (int k = 0; k < g->nodes[id].n_in; k++) last[g->nodes[id].in[k]] = id;
    for (IrId id = 0; id < n; id++) { /* pins, after every reader is known */
        const IrNode *nd = &g->nodes[id];
        if (!ex->needed[id]) continue;
        if (nd->op == IR_OP_INPUT || nd->op == IR_OP_CONST) last[id] = forever;
        if (nd->op == IR_OP_ASSIGN) last[nd->in[1]] = forever; /* copied after the step */
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (ex->needed[g->outputs[i].id]) last[g->outputs[i].id] = forever;
    ex->n_blocks = 0;
    for (IrId id = 0; id < n; id++) {
        const IrNode *nd = &g->nodes[id];
        blk_of[id] = -1;
        if (!ex->needed[id] || nd->op == IR_OP_PARAM || nd->op == IR_OP_STATE || nd->op == IR_OP_ASSIGN)
            continue;
        size_t need = (size_t)(ex->numel[id] ? ex->numel[id] : 1) * ex->esize[id];
        /* inputs and constants are written before the step starts: blocks of their own */
        const int whole_step = nd->op == IR_OP_INPUT || nd->op == IR_OP_CONST;
        int best = -1;
        for (int b = 0; b < ex->n_blocks && !whole_step; b++)
            if (blk_busy[b] < id && blk_size[b] >= need && (best < 0 || blk_size[b] < blk_size[best]))
                best = b;
        if (best < 0) {
            if (ex->n_blocks == cap) {
                cap *= 2;
                blk_busy = realloc(blk_busy, (size_t)cap * sizeof(int));
                blk_size = realloc(blk_size, (size_t)cap * sizeof(size_t));
            }
            best = ex->n_blocks++;
            blk_size[best] = need;
        }
        blk_busy[best] = last[id] < 0 ? id : last[id];
        blk_of[id] = best;
    }
    ex->blocks = calloc((size_t)ex->n_blocks + 1, sizeof *ex->blocks);
    int rc = 0;
    for (int b = 0; b < ex->n_blocks && rc == 0; b++) {
        ex->blocks[b] = calloc(1, blk_size[b]);
        if (!ex->blocks[b]) rc = rt_fail(st, "out of memory: %zu bytes for the step's buffers", blk_size[b]);
        ex->bytes += blk_size[b];
    }
    for (IrId id = 0; id < n && rc == 0; id++)
        if (blk_of[id] >= 0) ex->buf[id] = ex->blocks[blk_of[id]];
    free(last);
    free(blk_busy);
    free(blk_size);
    free(blk_of);
    return rc;
}

RtExec *rt_exec_new(const IrGraph *g, RtVars *vars, const int64_t *sym, const char *const *want,
                    int n_want, int run_effects, RtStatus *st) {
    RtExec *ex = calloc(1, sizeof *ex);
    int n = g->n_nodes;
    ex->g = g;
    ex->vars = vars;
    ex->prec = vars->prec;
    ex->n = n;
    ex->dims = calloc((size_t)n, sizeof *ex->dims);
    ex->rank = calloc((size_t)n, sizeof *ex->rank);
    ex->numel = calloc((size_t)n, sizeof *ex->numel);
    ex->esize = calloc((size_t)n, sizeof *ex->esize);
    ex->buf = calloc((size_t)n, sizeof *ex->buf);
    ex->needed = calloc((size_t)n, 1);
    if (rt_vars_bind(vars, g, sym, st) < 0) goto fail;
    /* what the requested outputs and effects need */
    if (n_want == 0)
        for (int i = 0; i < g->n_outputs; i++) ex->needed[g->outputs[i].id] = 1;
    for (int i = 0; i < n_want; i++) {
        int k = out_index(g, want[i]);
        if (k < 0) {
            rt_fail(st, "the graph has no output named '%s'", want[i]);
            goto fail;
        }
        ex->needed[g->outputs[k].id] = 1;
    }
    if (run_effects)
        for (int i = 0; i < g->n_effects; i++) ex->needed[g->effects[i]] = 1;
    for (IrId id = n - 1; id >= 0; id--)
        if (ex->needed[id])
            for (int k = 0; k < g->nodes[id].n_in; k++) ex->needed[g->nodes[id].in[k]] = 1;
    size_t scratch = 0;
    for (IrId id = 0; id < n; id++) {
        const IrNode *nd = &g->nodes[id];
        ex->rank[id] = nd->shape.rank;
        for (int k = 0; k < nd->shape.rank; k++) {
            ex->dims[id][k] = ir_dim_eval(g, nd->shape.d[k], sym);
            if (ex->dims[id][k] < 1 && ex->needed[id]) {
                char sh[256];
                ir_shape_format(g, &nd->shape, sh, sizeof sh);
                rt_fail(st, "%s at %s: shape %s has a dimension of %lld at these sizes (is the "
                            "input image too small?)",
                        ir_op_info[nd->op].name, ir_str(g, nd->scope), sh,
                        (long long)ex->dims[id][k]);
                goto fail;
            }
        }
        ex->numel[id] = ir_numel(ex->dims[id], ex->rank[id]);
        ex->esize[id] = nd->dtype == IR_DT_INT32 ? 4 : (size_t)ex->prec;
        if (!ex->needed[id]) continue;
        if (nd->op == IR_OP_RESHAPE && ex->numel[id] != ex->numel[nd->in[0]]) {
            rt_fail(st, "reshape at %s: %lld elements into %lld", ir_str(g, nd->scope),
                    (long long)ex->numel[nd->in[0]], (long long)ex->numel[id]);
            goto fail;
        }
        if (nd->op == IR_OP_PARAM || nd->op == IR_OP_STATE) {
            ex->buf[id] = rt_vars_find(vars, ir_str(g, nd->attr.u.leaf.name))->data;
            continue;
        }
        if (ir_op_info[nd->op].attr == IR_ATTR_WINDOW) {
            RefWindow win;
            exec_window(ex, id, &win);
            size_t s = ref_conv_scratch(&win);
            if (s > scratch) scratch = s;
        }
    }
    if (plan_buffers(ex, st) < 0) goto fail;
    for (IrId id = 0; id < n; id++)
        if (ex->needed[id] && g->nodes[id].op == IR_OP_CONST)
            fill(ex->buf[id], ex->prec, ex->numel[id], g->nodes[id].attr.u.scalar.f);
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

void rt_exec_free(RtExec *ex) {
    if (!ex) return;
    for (int i = 0; i < ex->n_blocks; i++) free(ex->blocks[i]);
    free(ex->blocks);
    free(ex->dims);
    free(ex->rank);
    free(ex->numel);
    free(ex->esize);
    free(ex->buf);
    free(ex->needed);
    free(ex->scratch);
    free(ex);
}

void *rt_exec_input(RtExec *ex, const char *name, int64_t *n) {
    IrId id = ir_find_leaf(ex->g, IR_OP_INPUT, name);
    if (id == IR_NONE || !ex->buf[id]) return NULL;
    if (n) *n = ex->numel[id];
    return ex->buf[id];
}

int rt_exec_run(RtExec *ex, uint64_t seed, uint64_t step, RtStatus *st) {
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
    int k = out_index(ex->g, name);
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

size_t rt_exec_bytes(const RtExec *ex) { return ex->bytes; }
