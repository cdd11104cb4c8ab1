/* The executor's per-node work, written once for both precisions: included by cpu_exec.c with
 * `real` = float / double and SFX(name) = name##_f32 / name##_f64. One function per family of
 * ops (ops.def's class column): pointwise ops are short loops over ir/pointwise.def's functions,
 * reductions and movement are loops here; contractions, pools and the softmax family call the
 * reference kernels (codegen/ref). */

#include "ir/pointwise.h"

#define K(name) SFX(ref_##name)
/* y = FN(a, b) elementwise: the shorter operand is a suffix, so it repeats every (its size)
 * elements */
#define BINARY(FN)                                                                                 \
    do {                                                                                           \
        if (na == ny && nb == ny)                                                                  \
            for (int64_t i = 0; i < ny; i++) y[i] = FN(a[i], b[i]);                                \
        else if (nb == 1)                                                                          \
            for (int64_t i = 0; i < ny; i++) y[i] = FN(a[i], b[0]);                                \
        else if (na == 1)                                                                          \
            for (int64_t i = 0; i < ny; i++) y[i] = FN(a[0], b[i]);                                \
        else if (na == ny)                                                                         \
            for (int64_t o = 0; o < ny; o += nb)                                                   \
                for (int64_t j = 0; j < nb; j++) y[o + j] = FN(a[o + j], b[j]);                    \
        else                                                                                       \
            for (int64_t o = 0; o < ny; o += na)                                                   \
                for (int64_t j = 0; j < na; j++) y[o + j] = FN(a[j], b[o + j]);                    \
    } while (0)

/* A node's operands and output, as every family reads them. */
typedef struct {
    CpuExec *ex;
    IrId id;
    const IrNode *n;
    real *y;
    const real *a, *b;
    const int64_t *yd;
    int yr;
    int64_t ny, na, nb;
} SFX(NodeRun);

/* Elementwise ops (PRELU's alpha a suffix of x, as any binary operand may be). */
static void SFX(run_pointwise)(const SFX(NodeRun) *nr) {
    real *y = nr->y;
    const real *a = nr->a, *b = nr->b;
    const int64_t ny = nr->ny, na = nr->na, nb = nr->nb;
    const double f = nr->n->attr.u.scalar.f;
    switch (nr->n->op) {
#define IR_PW1(e, expr)                                                                            \
    case IR_OP_##e:                                                                                \
        for (int64_t i = 0; i < ny; i++) y[i] = SFX(pw_##e)(a[i], (real)f, f);                     \
        break;
#define IR_PW2(e, expr)                                                                            \
    case IR_OP_##e: BINARY(SFX(pw_##e)); break;
#include "ir/pointwise.def"
#undef IR_PW1
#undef IR_PW2
    default: break;
    }
}

/* Reductions, broadcasts and reshape. */
static void SFX(run_movement)(const SFX(NodeRun) *nr) {
    CpuExec *ex = nr->ex;
    const IrNode *n = nr->n;
    real *y = nr->y;
    const real *a = nr->a;
    const int64_t *yd = nr->yd;
    const int yr = nr->yr;
    const int64_t ny = nr->ny, na = nr->na;
    const IrReduceAttr *ra = &n->attr.u.reduce;
    switch (n->op) {
    case IR_OP_SUM: { /* y[j] = sum_i a[i*ny + j] */
        int64_t k = na / ny;
        for (int64_t j = 0; j < ny; j++) y[j] = 0;
        for (int64_t i = 0; i < k; i++)
            for (int64_t j = 0; j < ny; j++) y[j] += a[i * ny + j];
        if (ra->mean)
            for (int64_t j = 0; j < ny; j++) y[j] /= (real)k;
        break;
    }
    case IR_OP_BCAST: {
        real s = ra->mean ? (real)na / (real)ny : 1;
        for (int64_t i = 0; i < ny; i++) y[i] = a[i % na] * s;
        break;
    }
    case IR_OP_SUMLAST: {
        int64_t c = na / (ny ? ny : 1);
        for (int64_t r = 0; r < ny; r++) {
            real s = 0;
            for (int64_t j = 0; j < c; j++) s += a[r * c + j];
            y[r] = ra->mean ? s / (real)c : s;
        }
        break;
    }
    case IR_OP_BCASTLAST: {
        int64_t c = yd[yr - 1];
        for (int64_t r = 0; r < na; r++)
            for (int64_t j = 0; j < c; j++) y[r * c + j] = ra->mean ? a[r] / (real)c : a[r];
        break;
    }
    case IR_OP_RESHAPE: /* shares its input's block when the plan fuses */
        if (y != a) memcpy(y, a, (size_t)ny * ex->esize[nr->id]);
        break;
    default: break;
    }
}

/* Concat and slice along an axis: rows copied whole, blocks of rows the pool's tasks when
 * the output is large (rows of a channel concat or slice are short: 32-384 floats). */
static void SFX(copy_rows_task)(void *arg, int64_t t, int worker) {
    const RowCopy *c = arg;
    int64_t o1 = (t + 1) * c->per_task < c->outer ? (t + 1) * c->per_task : c->outer;
    for (int64_t o = t * c->per_task; o < o1; o++)
        memcpy((real *)c->dst + o * c->dst_row, (const real *)c->src + o * c->src_row, (size_t)c->len * sizeof(real));
}

static void SFX(copy_rows)(CpuExec *ex, RowCopy *c, int64_t ny) {
    c->per_task = ny > (1 << 16) ? (c->outer + 15) / 16 : c->outer; /* 16 tasks, or one */
    if (c->per_task < 1) c->per_task = 1;
    fn_pool_run(ex->pool, (c->outer + c->per_task - 1) / c->per_task, SFX(copy_rows_task), c);
}

static void SFX(run_concat_slice)(const SFX(NodeRun) *nr) {
    CpuExec *ex = nr->ex;
    const IrNode *n = nr->n;
    real *y = nr->y;
    const int64_t *yd = nr->yd;
    int ax = n->attr.u.axis.axis;
    int64_t outer, inner;
    rt_plan_axis(&ex->plan, nr->id, ax, &outer, &inner);
    if (n->op == IR_OP_SLICE) {
        int64_t src_ax = ex->dims[n->in[0]][ax], len = yd[ax], st = n->attr.u.axis.start;
        RowCopy c = {(const real *)nr->a + st * inner, y, outer, src_ax * inner, len * inner, len * inner, 0};
        SFX(copy_rows)(ex, &c, nr->ny);
        return;
    }
    int64_t off = 0;
    for (int k = 0; k < n->n_in; k++) {
        int64_t len = ex->dims[n->in[k]][ax];
        RowCopy c = {ex->buf[n->in[k]], y + off * inner, outer, len * inner, yd[ax] * inner, len * inner, 0};
        SFX(copy_rows)(ex, &c, nr->ny);
        off += len;
    }
}

#if EXEC_FAST_F32
static void SFX(epilogue_rows)(void *arg, int64_t p0, int64_t p1, int worker); /* exec_fused.h */
#endif

/* Matmul, the convolutions and the pools. */
static void SFX(run_contraction)(const SFX(NodeRun) *nr) {
    CpuExec *ex = nr->ex;
    const IrNode *n = nr->n;
    real *y = nr->y;
    const real *a = nr->a, *b = nr->b;
    const int64_t *yd = nr->yd;
    RefWindow win;
    if (n->op == IR_OP_MATMUL) {
        const IrMatmulAttr *m = &n->attr.u.matmul;
        const int64_t *ad = ex->dims[n->in[0]];
        const int mm = (int)yd[0], nn = (int)yd[1], kk = (int)(m->ta ? ad[0] : ad[1]);
#if EXEC_FAST_F32
        if (ex->fast) { /* the pool's sgemm: ref_matmul's product, blocks on the pool */
            cpu_sgemm(ex->pool, m->ta, m->tb, mm, nn, kk, a, m->ta ? mm : kk, b, m->tb ? kk : nn, 0, y, nn);
            return;
        }
#endif
        K(matmul)(a, b, y, mm, nn, kk, m->ta, m->tb);
        return;
    }
    rt_plan_window(&ex->plan, nr->id, &win);
    switch (n->op) {
#if EXEC_FAST_F32 /* float32 with the fast backend on: codegen/cpu's convolutions and max pools */
    case IR_OP_CONV2D:
        if (ex->fast) {
            /* its epilogue group on the rows as they are written (plan_epilogues) */
            GroupTask t = {ex, ex->epilogue[nr->id], win.o};
            CpuEpilogue ep = {SFX(epilogue_rows), &t};
            cpu_conv2d_f32(a, b, y, &win, ex->paths, ex->scratch, ex->pool, t.gi >= 0 ? &ep : NULL);
        } else {
            K(conv2d)(a, b, y, &win, ex->scratch);
        }
        break;
    case IR_OP_CONV2D_BWD_DATA:
        if (ex->fast) cpu_conv2d_bwd_data_f32(a, b, y, &win, ex->paths, ex->scratch, ex->pool);
        else K(conv2d_bwd_data)(a, b, y, &win, ex->scratch);
        break;
    case IR_OP_CONV2D_BWD_FILTER:
        if (ex->fast) cpu_conv2d_bwd_filter_f32(a, b, y, &win, ex->paths, ex->scratch, ex->pool);
        else K(conv2d_bwd_filter)(a, b, y, &win, ex->scratch);
        break;
    case IR_OP_MAXPOOL:
        if (ex->fast) cpu_maxpool_f32(a, y, &win, ex->pool, cpu_paths_isa(ex->paths));
        else K(maxpool)(a, y, &win);
        break;
    case IR_OP_MAXPOOL_GRAD:
        if (ex->fast) cpu_maxpool_grad_f32(a, b, y, &win, ex->pool, cpu_paths_isa(ex->paths));
        else K(maxpool_grad)(a, b, y, &win);
        break;
#else
    case IR_OP_MAXPOOL: K(maxpool)(a, y, &win); break;
    case IR_OP_MAXPOOL_GRAD: K(maxpool_grad)(a, b, y, &win); break;
    case IR_OP_CONV2D: K(conv2d)(a, b, y, &win, ex->scratch); break;
    case IR_OP_CONV2D_BWD_DATA: K(conv2d_bwd_data)(a, b, y, &win, ex->scratch); break;
    case IR_OP_CONV2D_BWD_FILTER: K(conv2d_bwd_filter)(a, b, y, &win, ex->scratch); break;
#endif
    case IR_OP_AVGPOOL: K(avgpool)(a, y, &win); break;
    case IR_OP_AVGPOOL_GRAD: K(avgpool_grad)(a, y, &win); break;
    default: break;
    }
}

/* The softmax family, l2norm, accuracy, dropout's mask, gather and scatter. */
static void SFX(run_nn)(const SFX(NodeRun) *nr) {
    CpuExec *ex = nr->ex;
    const IrNode *n = nr->n;
    real *y = nr->y;
    const real *a = nr->a, *b = nr->b;
    const int64_t *yd = nr->yd;
    const int yr = nr->yr;
    const int64_t ny = nr->ny;
    const double f = n->attr.u.scalar.f;
    switch (n->op) {
    case IR_OP_SOFTMAX: K(softmax)(a, y, (int)(ny / yd[yr - 1]), (int)yd[yr - 1]); break;
    case IR_OP_SOFTMAX_XENT: {
        const int64_t *ad = ex->dims[n->in[0]];
        K(softmax_xent)(a, ex->buf[n->in[1]], y, (int)ad[0], (int)ad[1]);
        break;
    }
    case IR_OP_SOFTMAX_XENT_GRAD:
        K(softmax_xent_grad)(a, ex->buf[n->in[1]], ex->buf[n->in[2]], y, (int)yd[0], (int)yd[1]);
        break;
    case IR_OP_L2NORM: K(l2norm)(a, y, (int)(ny / yd[yr - 1]), (int)yd[yr - 1], f); break;
    case IR_OP_L2NORM_GRAD: K(l2norm_grad)(a, b, y, (int)(ny / yd[yr - 1]), (int)yd[yr - 1], f); break;
    case IR_OP_ALLREDUCE: /* kept by passes/replicas.c: this run reduces the group */
        if (y != a) memcpy(y, a, (size_t)ny * sizeof(real));
        if (!ex->comm_failed &&
            rt_comm_allreduce(ex->comm, y, ny, (int)sizeof(real), n->attr.u.replicas.mean, &ex->comm_st) < 0)
            ex->comm_failed = 1; /* the step goes on to its end, which reports it */
        break;
    case IR_OP_ACCURACY: {
        const int64_t *ad = ex->dims[n->in[0]];
        y[0] = K(accuracy)(a, ex->buf[n->in[1]], (int)ad[0], (int)ad[1]);
        break;
    }
    case IR_OP_DROPOUT_MASK: {
        real keep = b[0];
        uint64_t key = rt_hash(ex->seed, ex->step, rt_dropout_salt(ex->g, nr->id));
        /* counted over the global batch: rank r's slice starts r slices in (its rows lead) */
        uint64_t first = (uint64_t)rt_comm_rank(ex->comm) * (uint64_t)ny;
        for (int64_t i = 0; i < ny; i++)
            y[i] = rt_uniform(key, first + (uint64_t)i) < (double)keep ? 1 / keep : 0;
        break;
    }
    case IR_OP_GATHER: { /* out-of-range indices give zero rows */
        const int32_t *idx = ex->buf[n->in[1]];
        int64_t rows = ex->dims[n->in[0]][0], e = yd[1];
        for (int64_t i = 0; i < yd[0]; i++) {
            if (idx[i] < 0 || idx[i] >= rows) memset(y + i * e, 0, (size_t)e * sizeof(real));
            else memcpy(y + i * e, a + idx[i] * e, (size_t)e * sizeof(real));
        }
        break;
    }
    case IR_OP_SCATTER_ADD: { /* duplicates accumulate; out-of-range indices are dropped */
        const int32_t *idx = ex->buf[n->in[1]];
        int64_t e = yd[1];
        memset(y, 0, (size_t)ny * sizeof(real));
        for (int64_t i = 0; i < ex->dims[n->in[0]][0]; i++)
            if (idx[i] >= 0 && idx[i] < yd[0])
                for (int64_t j = 0; j < e; j++) y[idx[i] * e + j] += a[i * e + j];
        break;
    }
    default: break; /* ASSIGN: performed after the step */
    }
}

/* Node id's value, by its op's family (ops.def's class column). Sources are filled at bind time
 * or by the caller. */
static void SFX(run_node)(CpuExec *ex, IrId id) {
    const IrNode *n = &ex->g->nodes[id];
    const SFX(NodeRun) nr = {
        .ex = ex,
        .id = id,
        .n = n,
        .y = ex->buf[id],
        .a = n->n_in > 0 ? ex->buf[n->in[0]] : NULL,
        .b = n->n_in > 1 ? ex->buf[n->in[1]] : NULL,
        .yd = ex->dims[id],
        .yr = ex->rank[id],
        .ny = ex->numel[id],
        .na = n->n_in > 0 ? ex->numel[n->in[0]] : 0,
        .nb = n->n_in > 1 ? ex->numel[n->in[1]] : 0,
    };
    switch (ir_op_info[n->op].cls) {
    case IR_CLASS_SOURCE: break;
    case IR_CLASS_ELEMENTWISE: SFX(run_pointwise)(&nr); break;
    case IR_CLASS_REDUCTION:
    case IR_CLASS_MOVEMENT:
        if (n->op == IR_OP_CONCAT || n->op == IR_OP_SLICE) SFX(run_concat_slice)(&nr);
        else SFX(run_movement)(&nr);
        break;
    case IR_CLASS_CONTRACTION:
    case IR_CLASS_WINDOW: SFX(run_contraction)(&nr); break;
    case IR_CLASS_NN: SFX(run_nn)(&nr); break;
    }
}

#undef K
#undef BINARY
