/* The CPU executor: runs a bound graph on the host, in float32 or float64. Every buffer is
 * planned and allocated once when the executor is created (no allocation in the step; the plan
 * reuses memory by liveness). Variables are not copied: PARAM/STATE nodes point into the
 * variable store, and ASSIGN results are copied into it after the whole step has run.
 * By default it is the fast CPU backend: fused groups (passes/fuse.c) run as one loop each
 * (exec_fused.h), through LLVM kernels where built (runtime/cpu/jit.c), on the backend's thread
 * pool (ir/pool.h), and
 * float32 convolutions are codegen/cpu's. RtOptions.fuse = 0 gives the reference path: node by
 * node, reference kernels (exec_kernels.h), the oracle the tests compare against.
 * What this is not: the executor interface (runtime/core/exec.h), which it implements. */
#include "runtime/cpu/cpu_exec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/cpu/cpu.h"
#include "ir/alloc.h"
#include "codegen/ref/ref.h"
#include "runtime/core/ema.h"
#include "runtime/core/plan.h"
#include "runtime/cpu/jit.h"

enum { FUSE_TILE = 512, FUSE_CHUNK = 16384 }; /* elements: a tile stays in L1, a chunk is a thread's share */
/* Elements all fused loops of one step cover, from which compiling them with LLVM (0.1-0.9 s)
 * pays within a few steps; smaller graphs (MTCNN's per-image nets, tests) run interpreted. */
#define JIT_MIN_WORK (INT64_C(1) << 22)

typedef struct { /* how a fused group's domain is cut (exec_fused.h) */
    int64_t domain, chunk, n_chunks, reduce_len;
    int n_terminals;
} RtGroupRun;

typedef struct CpuExec CpuExec;
struct CpuExec {
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
    int *slot;              /* per node: its index among its group's members */
    RtGroupRun *group_run;  /* per group */
    RtJit jit;              /* the groups' LLVM kernels (where built; the rest run interpreted) */
    void *tiles, *partials; /* per-thread tile buffers; the terminals' partial sums */
    size_t tile_stride;     /* reals per thread */
    FnPool *pool;           /* the backend's threads (NULL: the calling thread alone) */
    int threads;            /* fn_pool_size(pool): the per-thread buffers' count */
    int fast;               /* fused loops and codegen/cpu kernels (else the reference path) */
    int *epilogue;          /* per node: the group run on its rows as a convolution writes them, or -1 */
    int n_epilogues;
    int paths;              /* the convolutions' fast algorithms (CPU_PATH_*) */
    RtComm *comm;           /* the replicas the ALLREDUCEs reduce over (the backend's) */
    RtStatus comm_st;       /* a collective's failure, reported when the step ends */
    int comm_failed;
    double *prof_s; /* profiling: seconds per op, printed when the executor is freed */
    int64_t *prof_calls, prof_steps;
};

typedef struct { /* a fused group's chunks as pool tasks, or its rows as an epilogue (exec_fused.h) */
    CpuExec *ex;
    int gi;
    int64_t row; /* an epilogue's elements per output pixel */
} GroupTask;

typedef struct { /* rows copied by concat and slice (exec_kernels.h) */
    const void *src;
    void *dst;
    int64_t outer, src_row, dst_row, len, per_task; /* elements */
} RowCopy;

#define real float
#define SFX(name) name##_f32
#define EXEC_FAST_F32 1
#include "runtime/cpu/exec_kernels.h"
#include "runtime/cpu/exec_fused.h"
#undef EXEC_FAST_F32
#undef real
#undef SFX
#define real double
#define SFX(name) name##_f64
#define EXEC_FAST_F32 0
#include "runtime/cpu/exec_kernels.h"
#include "runtime/cpu/exec_fused.h"
#undef EXEC_FAST_F32
#undef real
#undef SFX

static void fill(void *p, int prec, int64_t n, double v) {
    for (int64_t i = 0; i < n; i++) {
        if (prec == 4) ((float *)p)[i] = (float)v;
        else ((double *)p)[i] = v;
    }
}

size_t rt_cpu_scratch(const RtPlan *p, int fast, int paths, int prec, int threads) {
    size_t most = 0;
    for (IrId id = 0; id < p->n; id++) {
        if (!p->needed[id] || ir_op_info[p->g->nodes[id].op].attr != IR_ATTR_WINDOW) continue;
        RefWindow win;
        rt_plan_window(p, id, &win);
        size_t s = fast && prec == 4 ? cpu_conv_scratch(&win, paths, threads) : ref_conv_scratch(&win);
        if (s > most) most = s;
    }
    return most;
}

/* One allocation per planned block; nodes point into them. */
static int alloc_blocks(CpuExec *ex, RtStatus *st) {
    const RtPlan *p = &ex->plan;
    if (!(ex->blocks = fn_calloc((size_t)p->n_blocks + 1, sizeof *ex->blocks)))
        return rt_fail(st, "out of memory for the step's buffers");
    if (p->block_off) { /* one slab; blocks[0] owns it */
        ex->n_blocks = 1;
        ex->blocks[0] = fn_calloc(1, p->slab_bytes + 1);
        if (!ex->blocks[0]) return rt_fail(st, "out of memory: %zu bytes for the step's buffers", p->slab_bytes);
        ex->bytes += p->slab_bytes;
        for (IrId id = 0; id < ex->n; id++)
            if (p->block_of[id] >= 0) ex->buf[id] = (char *)ex->blocks[0] + p->block_off[p->block_of[id]];
        return 0;
    }
    ex->n_blocks = p->n_blocks;
    for (int b = 0; b < p->n_blocks; b++) {
        ex->blocks[b] = fn_calloc(1, p->block_bytes[b]);
        if (!ex->blocks[b]) return rt_fail(st, "out of memory: %zu bytes for the step's buffers", p->block_bytes[b]);
        ex->bytes += p->block_bytes[b];
    }
    for (IrId id = 0; id < ex->n; id++)
        if (p->block_of[id] >= 0) ex->buf[id] = ex->blocks[p->block_of[id]];
    return 0;
}

/* Compile the fused loops with LLVM? Options llvm 0: never, 1: always, -1: when the step's
 * loops cover at least JIT_MIN_WORK elements. */
static int want_jit(const CpuExec *ex, const RtOptions *o) {
    if (!ex->fast || o->llvm == 0) return 0;
    if (o->llvm > 0) return 1;
    const PassFusion *f = &ex->plan.fusion;
    int64_t work = 0;
    for (int gi = 0; gi < f->n_groups; gi++) work += ex->numel[pass_fuse_domain(ex->g, f, gi)];
    return work >= JIT_MIN_WORK;
}

/* The fused groups' LLVM kernels, chunking, tile buffers and partial-sum space, set up once. */
static int plan_groups(CpuExec *ex, const RtOptions *o, RtStatus *st) {
    const PassFusion *f = &ex->plan.fusion;
    RtStatus jst;
    if (want_jit(ex, o) && rt_jit_build(&ex->jit, &ex->plan, ex->prec, 1, o, &jst) < 0)
        fprintf(stderr, "fn: the LLVM target failed (%s); the fused loops run interpreted\n", jst.msg);
    ex->slot = fn_calloc((size_t)ex->n + 1, sizeof *ex->slot);
    ex->group_run = fn_calloc((size_t)f->n_groups + 1, sizeof *ex->group_run);
    if (!ex->slot || !ex->group_run) return rt_fail(st, "out of memory planning the fused loops");
    size_t partials = 1;
    for (int gi = 0; gi < f->n_groups; gi++) {
        RtGroupRun *gr = &ex->group_run[gi];
        gr->domain = ex->numel[pass_fuse_domain(ex->g, f, gi)];
        int64_t domain = gr->domain;
        gr->reduce_len = 1;
        for (int k = f->start[gi]; k < f->start[gi + 1]; k++) {
            IrId id = f->members[k];
            ex->slot[id] = k - f->start[gi];
            if (ex->g->nodes[id].op == IR_OP_SUM) {
                gr->n_terminals++;
                gr->reduce_len = ex->numel[id];
            }
        }
        /* sums to a scalar keep lanes of partials (pass_fuse_lanes), so that they vectorise */
        if (gr->reduce_len == 1) gr->reduce_len = pass_fuse_lanes(ex->g, f, gi, ex->numel);
        if (ex->jit.kernel && ex->jit.kernel[gi] >= 0 && gr->reduce_len > 1 && ex->jit.inner[gi] != gr->reduce_len)
            return rt_fail(st, "fused loop %d: its LLVM kernel's rows (%lld) are not its sums' length (%lld)", gi,
                           (long long)ex->jit.inner[gi], (long long)gr->reduce_len);
        /* chunks hold whole rows (the LLVM kernels' rows too), whichever way the group runs */
        int64_t unit = pass_fuse_inner(ex->g, f, gi, ex->numel);
        if (unit < gr->reduce_len) unit = gr->reduce_len;
        gr->chunk = unit * (FUSE_CHUNK / unit > 1 ? FUSE_CHUNK / unit : 1);
        gr->n_chunks = (domain + gr->chunk - 1) / gr->chunk;
        size_t need = (size_t)gr->n_terminals * (size_t)gr->n_chunks * (size_t)gr->reduce_len;
        if (need > partials) partials = need;
    }
    ex->tile_stride = (size_t)(2 + PASS_FUSE_MAX_GROUP) * FUSE_TILE;
    ex->tiles = fn_malloc(ex->tile_stride * (size_t)ex->threads * (size_t)ex->prec);
    ex->partials = fn_malloc(partials * (size_t)ex->prec);
    if (!ex->tiles || !ex->partials) return rt_fail(st, "out of memory: %zu bytes for the fused loops' partial sums", partials * (size_t)ex->prec);
    ex->bytes += (ex->tile_stride * (size_t)ex->threads + partials) * (size_t)ex->prec;
    return 0;
}

static void cpu_free(void *x);

/* Groups that run as convolutions' epilogues (pass_fuse_epilogue): their run_at moves to the
 * convolution before memory is planned, so their values take blocks from there on. Float32 on
 * the fast path only: codegen/cpu's convolutions hand rows on, the reference's do not. */
static int plan_epilogues(CpuExec *ex, const RtOptions *o, RtStatus *st) {
    if (!(ex->epilogue = fn_malloc(((size_t)ex->n + 1) * sizeof *ex->epilogue)))
        return rt_fail(st, "out of memory binding a graph");
    PassFusion *f = &ex->plan.fusion;
    for (IrId id = 0; id < ex->n; id++) {
        ex->epilogue[id] = -1;
        if (!o->conv_epilogue || !ex->fast || ex->prec != 4 || !ex->plan.needed[id] || ex->g->nodes[id].op != IR_OP_CONV2D)
            continue;
        int gi = pass_fuse_epilogue(ex->g, f, id, ex->plan.numel, ex->plan.dims[id][ex->plan.rank[id] - 1]);
        if (gi < 0) continue;
        f->run_at[gi] = id;
        ex->epilogue[id] = gi;
        ex->n_epilogues++;
    }
    return 0;
}

/* The variables' storage for PARAM/STATE nodes, values computed straight into their variables,
 * and the constants' fills. */
static void point_at_vars(CpuExec *ex) {
    const IrGraph *g = ex->g;
    for (IrId id = 0; id < ex->n; id++) {
        const IrNode *nd = &g->nodes[id];
        if (ex->needed[id] && (nd->op == IR_OP_PARAM || nd->op == IR_OP_STATE))
            ex->buf[id] = rt_vars_find(ex->vars, ir_str(g, nd->attr.u.leaf.name))->data;
    }
    for (IrId id = 0; id < ex->n; id++)
        if (ex->plan.assign_to[id] != IR_NONE) ex->buf[id] = ex->buf[ex->plan.assign_to[id]];
}

static void *cpu_bind(const RtBackend *be, const IrGraph *g, RtVars *vars, const int64_t *sym, const char *const *want,
                      int n_want, int run_effects, RtStatus *st) {
    const RtOptions *o = &be->opt;
    CpuExec *ex = fn_calloc(1, sizeof *ex);
    if (!ex) {
        rt_fail(st, "out of memory binding a graph");
        return NULL;
    }
    int n = g->n_nodes;
    ex->g = g;
    ex->vars = vars;
    ex->prec = vars->prec;
    ex->n = n;
    ex->fast = o->fuse;
    ex->paths = CPU_PATHS((o->conv_winograd ? CPU_PATH_WINOGRAD : 0) | (o->conv_direct ? CPU_PATH_DIRECT : 0),
                          o->cpu_isa);
    ex->pool = be->dev;
    ex->threads = fn_pool_size(ex->pool);
    ex->comm = be->comm;
    if (!(ex->buf = fn_calloc((size_t)n + 1, sizeof *ex->buf))) {
        rt_fail(st, "out of memory binding a graph");
        goto fail;
    }
    const int flags = ex->fast ? RT_PLAN_FUSE | RT_PLAN_ASSIGN : 0;
    if (rt_vars_bind(vars, g, sym, st) < 0 ||
        rt_plan_values(&ex->plan, g, sym, want, n_want, run_effects, ex->prec, flags, st) < 0 ||
        plan_epilogues(ex, o, st) < 0 || rt_plan_memory(&ex->plan, flags, st) < 0)
        goto fail;
    ex->dims = ex->plan.dims;
    ex->rank = ex->plan.rank;
    ex->numel = ex->plan.numel;
    ex->esize = ex->plan.esize;
    ex->needed = ex->plan.needed;
    if (alloc_blocks(ex, st) < 0) goto fail;
    point_at_vars(ex);
    if (plan_groups(ex, o, st) < 0) goto fail;
    for (IrId id = 0; id < n; id++)
        if (ex->needed[id] && g->nodes[id].op == IR_OP_CONST)
            fill(ex->buf[id], ex->prec, ex->numel[id], g->nodes[id].attr.u.scalar.f);
    size_t scratch = rt_cpu_scratch(&ex->plan, ex->fast, ex->paths, ex->prec, ex->threads);
    if (!(ex->scratch = fn_malloc((scratch ? scratch : 1) * (size_t)ex->prec))) {
        rt_fail(st, "out of memory: %zu bytes for the convolutions' scratch", scratch * (size_t)ex->prec);
        goto fail;
    }
    ex->bytes += scratch * (size_t)ex->prec;
    if (o->profile) {
        ex->prof_s = fn_calloc(2 * IR_OP_COUNT, sizeof *ex->prof_s); /* ops alone, then groups by last op */
        ex->prof_calls = fn_calloc(2 * IR_OP_COUNT, sizeof *ex->prof_calls);
        if (!ex->prof_s || !ex->prof_calls) {
            rt_fail(st, "out of memory for the profile");
            goto fail;
        }
    }
    return ex;
fail:
    cpu_free(ex);
    return NULL;
}

/* The profile: time per op over the executor's life, largest first, to stderr. */
static void print_profile(const CpuExec *ex) {
    double total = 0;
    for (int o = 0; o < 2 * IR_OP_COUNT; o++) total += ex->prof_s[o];
    if (total <= 0) return;
    fprintf(stderr, "profile: %lld steps of %d nodes, %.3f s per step\n", (long long)ex->prof_steps, ex->n,
            total / (double)(ex->prof_steps ? ex->prof_steps : 1));
    int jitted = 0;
    for (int gi = 0; ex->jit.kernel && gi < ex->plan.fusion.n_groups; gi++) jitted += ex->jit.kernel[gi] >= 0;
    fprintf(stderr, "  %d fused loops, %d of them through %d LLVM kernels (compiled in %.2f s), %d run as "
            "convolutions' epilogues\n", ex->plan.fusion.n_groups, jitted, ex->jit.n_kernels, ex->jit.compile_s,
            ex->n_epilogues);
    rt_profile_print(ex->prof_s, ex->prof_calls, 2 * IR_OP_COUNT, 0);
}

static void cpu_free(void *x) {
    CpuExec *ex = x;
    if (!ex) return;
    if (ex->prof_s && ex->prof_calls) print_profile(ex);
    free(ex->slot);
    free(ex->epilogue);
    free(ex->group_run);
    rt_jit_free(&ex->jit);
    free(ex->tiles);
    free(ex->partials);
    free(ex->prof_s);
    free(ex->prof_calls);
    for (int i = 0; ex->blocks && i < ex->n_blocks; i++) free(ex->blocks[i]);
    free(ex->blocks);
    rt_plan_free(&ex->plan);
    free(ex->buf);
    free(ex->scratch);
    free(ex);
}

static void *cpu_input(void *x, const char *name, int64_t *n) {
    CpuExec *ex = x;
    IrId id = ir_find_leaf(ex->g, IR_OP_INPUT, name);
    if (id == IR_NONE || !ex->buf[id]) return NULL;
    if (n) *n = ex->numel[id];
    return ex->buf[id];
}

static int cpu_run(void *x, uint64_t seed, uint64_t step, RtStatus *st) {
    CpuExec *ex = x;
    rt_blas_one_thread(); /* on whichever thread runs the step: the pool is the parallelism */
    ex->seed = seed;
    ex->step = step;
    ex->prof_steps++;
    ex->comm_failed = 0;
    const PassFusion *f = &ex->plan.fusion;
    for (IrId id = 0; id < ex->n; id++) {
        if (!ex->needed[id]) continue;
        int gi = f->n_groups ? f->group_of[id] : -1;
        if (gi >= 0 && f->run_at[gi] != id) continue; /* the group runs at run_at */
        double t0 = ex->prof_s ? rt_now() : 0;
        if (gi >= 0) {
            if (ex->prec == 4) run_group_f32(ex, gi);
            else run_group_f64(ex, gi);
        } else if (ex->prec == 4) run_node_f32(ex, id);
        else run_node_f64(ex, id);
        if (ex->prof_s) {
            int op = (int)ex->g->nodes[id].op + (gi >= 0 ? IR_OP_COUNT : 0);
            ex->prof_s[op] += rt_now() - t0;
            ex->prof_calls[op]++;
        }
    }
    for (int i = 0; i < ex->g->n_effects; i++) {
        IrId id = ex->g->effects[i];
        if (!ex->needed[id]) continue;
        const IrNode *nd = &ex->g->nodes[id];
        if (ex->buf[nd->in[0]] != ex->buf[nd->in[1]]) /* else computed in place (RT_PLAN_ASSIGN) */
            memcpy(ex->buf[nd->in[0]], ex->buf[nd->in[1]], (size_t)ex->numel[id] * (size_t)ex->prec);
    }
    return ex->comm_failed ? rt_fail(st, "%s", ex->comm_st.msg) : 0;
}

static const void *cpu_output(void *x, const char *name, int64_t *n, int *rank, int64_t *dims, RtStatus *st) {
    CpuExec *ex = x;
    int k = rt_plan_output(ex->g, name);
    if (k < 0) return NULL;
    IrId id = ex->g->outputs[k].id;
    if (!ex->plan.kept[id] || !ex->buf[id]) return NULL; /* not requested: not kept */
    if (n) *n = ex->numel[id];
    if (rank) *rank = ex->rank[id];
    if (dims) memcpy(dims, ex->dims[id], sizeof ex->dims[id]);
    return ex->buf[id];
}

static int cpu_nothing(void *x, RtStatus *st) { return 0; } /* the variables are the host's already */

static int cpu_ema_update(void *x, RtVars *ema, double decay, int64_t t, RtStatus *st) {
    rt_ema_update(ema, ((CpuExec *)x)->vars, decay, t, ((CpuExec *)x)->pool);
    return 0;
}

static int cpu_sync_host(void *x, RtVars *ema, RtStatus *st) { return 0; }

static size_t cpu_bytes(const void *x) { return ((const CpuExec *)x)->bytes; }

static void cpu_close(RtBackend *be) {
    fn_pool_free(be->dev);
    be->dev = NULL;
}

static const RtBackendOps cpu_ops = {
    .bind = cpu_bind,
    .free = cpu_free,
    .input = cpu_input,
    .run = cpu_run,
    .output = cpu_output,
    .upload_vars = cpu_nothing,
    .ema_update = cpu_ema_update,
    .sync_host = cpu_sync_host,
    .bytes = cpu_bytes,
    .close = cpu_close,
};

int rt_backend_cpu(RtBackend *be, const RtOptions *o, RtStatus *st) {
    memset(be, 0, sizeof *be);
    be->ops = &cpu_ops;
    be->opt = *o;
    be->host = be;
    int threads = o->threads > 0 ? o->threads : fn_cpus_available();
    /* fn's kernels call OpenBLAS from the pool's tasks, one thread each: its own threads (an
       OpenMP team) would spin against the pool's for the same cores */
    rt_blas_threads(1);
    if (threads > 1 && !(be->dev = fn_pool_new(threads, o->spin_us, rt_blas_one_thread)))
        return rt_fail(st, "cannot start %d CPU threads", threads);
    snprintf(be->name, sizeof be->name, "CPU (%d thread%s)", threads, threads == 1 ? "" : "s");
    return 0;
}
