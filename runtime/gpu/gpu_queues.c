/* See gpu_internal.h: the step's items, spread over streams by gpu_schedule (streams.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"
#include "runtime/gpu/gpu_internal.h"

/* How many streams a step may use (options' gpu_streams); 1 with a per-node profile (which
 * synchronises after every node) or a driver without events */
static int queues_wanted(const RtGpuExec *ex) {
    const RtCudaApi *a = &ex->gpu->api;
    int n = ex->opt.gpu_streams;
    if (n < 1) n = 1;
    if (n > GPU_MAX_QUEUES) n = GPU_MAX_QUEUES;
    if (ex->prof_s || !a->cuEventCreate || !a->cuEventDestroy || !a->cuEventRecord || !a->cuStreamWaitEvent) n = 1;
    return n;
}

typedef struct {
    GpuSpan *s;
    int n, cap, failed;
    double bytes; /* the values' own bytes (a view's span also covers the columns between its rows) */
} Spans;

static void add_span(Spans *sp, const RtGpuExec *ex, IrId id, int writes) {
    if (sp->failed) return;
    if (sp->n == sp->cap) {
        GpuSpan *grown = fn_realloc(sp->s, ((size_t)sp->cap * 2 + 256) * sizeof *grown);
        if (!grown) {
            sp->failed = 1;
            return;
        }
        sp->s = grown;
        sp->cap = sp->cap * 2 + 256;
    }
    const RtPlan *p = &ex->plan;
    uintptr_t lo = (uintptr_t)ex->dev[id];
    int64_t w = rt_plan_width(p, id), reach = p->numel[id]; /* a view's rows, and what lies between them */
    if (p->view_of[id] != IR_NONE) reach = (p->numel[id] / w - 1) * p->row_stride[id] + w;
    sp->s[sp->n++] = (GpuSpan){lo, lo + (uintptr_t)reach * p->esize[id], writes};
    sp->bytes += (double)p->numel[id] * (double)p->esize[id];
}

/* what item i reads and writes: a fused group its slots, an op its inputs and itself (scratch is
   the queue's own, not a span) */
static void item_spans(const RtGpuExec *ex, int i, Spans *sp) {
    IrId id = ex->item[i];
    const CuNodePlan *cp = &ex->mod.plan[id];
    if (cp->work == CU_FUSED) { /* the group's slots, and its tail's */
        const CuGroup *cg = &ex->mod.groups[cp->group];
        for (int t = 0; t < 1 + (cg->tail >= 0); t++) {
            const PassFuseLayout *lay = t ? &cg->tail_lay : &cg->lay;
            for (int s = 0; s < lay->n_slots; s++)
                add_span(sp, ex, lay->slot_node[s], lay->slot_kind[s] == PASS_SLOT_OUT || lay->slot_kind[s] == PASS_SLOT_SUM);
        }
        return;
    }
    const IrNode *n = &ex->g->nodes[id];
    for (int k = 0; k < n->n_in; k++) add_span(sp, ex, n->in[k], 0);
    add_span(sp, ex, id, 1);
}

/* the bytes item i reads and writes, each span once */
static double item_bytes(const RtGpuExec *ex, int i) {
    Spans sp = {0};
    item_spans(ex, i, &sp);
    free(sp.s);
    return sp.bytes;
}

/* a GEMM's multiply-adds times 2 (im2col's columns are not counted as spans) */
static double item_flops(const RtGpuExec *ex, int i) {
    IrId id = ex->item[i];
    const IrNode *n = &ex->g->nodes[id];
    if (n->op == IR_OP_MATMUL) {
        const int64_t *ad = ex->plan.dims[n->in[0]];
        return 2.0 * (double)ex->plan.numel[id] * (double)(n->attr.u.matmul.ta ? ad[0] : ad[1]);
    }
    if (n->op != IR_OP_CONV2D && n->op != IR_OP_CONV2D_BWD_FILTER && n->op != IR_OP_CONV2D_BWD_DATA) return 0;
    RefWindow w;
    rt_plan_window(&ex->plan, id, &w);
    return 2.0 * (double)w.n * w.oh * w.ow * w.kh * w.kw * w.c * w.o;
}

/* a queue's scratch and cuBLAS workspace in one allocation: their offsets, and its size */
static size_t queue_layout(const int64_t need[3], size_t offs[4]) {
    size_t sizes[4] = {(size_t)need[0] * sizeof(float), (size_t)need[1] * sizeof(float), (size_t)need[2] * sizeof(float),
                       WORKSPACE},
           total = 0;
    for (int k = 0; k < 4; k++) {
        offs[k] = total;
        total += (sizes[k] + ALIGN - 1) / ALIGN * ALIGN + ALIGN;
    }
    return total;
}

/* queue q's stream, handle and memory (counted by the caller's gpu_reserve); the replicas' queue
   (reductions alone) only its stream and event */
static int new_queue(RtGpuExec *ex, GpuQueue *q, const int64_t need[3], RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    RtCudaApi *a = &gpu->api;
    CHECK_CU(cuStreamCreate(&q->stream, 1 /* CU_STREAM_NON_BLOCKING */));
    CHECK_CU(cuEventCreate(&q->done, 2 /* CU_EVENT_DISABLE_TIMING */));
    if (q - ex->queue == ex->comm_queue) return 0;
    size_t offs[4];
    q->mem_bytes = queue_layout(need, offs);
    CHECK_CU(cuMemAlloc(&q->mem, q->mem_bytes));
    q->scratch = q->mem + offs[0];
    q->part = q->mem + offs[1];
    q->gpart = q->mem + offs[2];
    q->tickets = ex->tickets + (size_t)(q - ex->queue) * GPU_TICKETS * sizeof(unsigned);
    if (a->cublasCreate(&q->blas) != 0) {
        q->blas = NULL;
        return rt_fail(st, "cuBLAS could not start a handle for another stream");
    }
    if (a->cublasSetStream(q->blas, q->stream) != 0 ||
        (a->cublasSetWorkspace && a->cublasSetWorkspace(q->blas, (void *)(q->mem + offs[3]), WORKSPACE) != 0) ||
        (gpu->tf32 && a->cublasSetMathMode(q->blas, CUBLAS_TF32_TENSOR_OP_MATH) != 0))
        return rt_fail(st, "cuBLAS could not start a handle for another stream");
    return 0;
}

static void release_queues(RtGpuExec *ex);

static int collective(const RtGpuExec *ex, int i) { return ex->mod.plan[ex->item[i]].work == CU_COLLECTIVE; }

/* The replicas' reductions on a stream of their own, the last (in one order on every rank, as
 * NCCL needs, and beside the backward pass that makes their operands): pin[i] for each item.
 * Returns how many; with some, the streams are one more (at most GPU_MAX_QUEUES). */
static int pin_collectives(RtGpuExec *ex, int *pin) {
    int n = 0;
    for (int i = 0; i < ex->n_items; i++) n += collective(ex, i);
    if (!n) return 0;
    if (ex->n_queues < GPU_MAX_QUEUES) ex->n_queues++;
    ex->comm_queue = ex->n_queues - 1;
    for (int i = 0; i < ex->n_items; i++) pin[i] = collective(ex, i) ? ex->comm_queue : -1;
    return n;
}

/* The reductions in buckets (one NCCL launch each, gpu_enqueue_step): runs of consecutive items
 * of up to bucket_mb (the runs passes/buckets.c ordered so). Decided from the items alone, never
 * from the streams, so that every rank groups the same reductions (NCCL needs its groups alike on
 * every rank), whatever its streams: a member's operands are all made before the run's first. */
static int plan_buckets(RtGpuExec *ex) {
    if (!(ex->bucket_lead = fn_malloc(((size_t)ex->n_items + 1) * sizeof *ex->bucket_lead))) return -1;
    double cap = ex->opt.bucket_mb * 1048576.0, bytes = 0;
    ex->n_buckets = 0;
    for (int i = 0; i < ex->n_items; i++) {
        ex->bucket_lead[i] = -1;
        if (!collective(ex, i)) continue;
        double b = 4.0 * (double)ex->plan.numel[ex->item[i]];
        int joins = i > 0 && ex->bucket_lead[i - 1] >= 0 && bytes + b <= cap;
        ex->bucket_lead[i] = joins ? ex->bucket_lead[i - 1] : i;
        bytes = joins ? bytes + b : b;
        ex->n_buckets += !joins;
    }
    return 0;
}

int gpu_queues_plan(RtGpuExec *ex, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    const RtPlan *p = &ex->plan;
    const IrGraph *g = ex->g;
    ex->item = fn_malloc(((size_t)p->n + 1) * sizeof *ex->item);
    ex->n_items = 0;
    if (!ex->item) return rt_fail(st, "out of memory listing the step's work");
    for (IrId id = 0; id < p->n; id++) {
        const IrNode *n = &g->nodes[id];
        int work = ex->mod.plan[id].work;
        if (!p->needed[id] || work == CU_NOTHING || n->op == IR_OP_CONST) continue;
        if (n->op == IR_OP_RESHAPE && work != CU_FUSED && ex->dev[id] == ex->dev[n->in[0]]) continue;
        if (p->view_of[id] != IR_NONE && work != CU_FUSED) continue; /* a slice read in place */
        if (n->op == IR_OP_CONCAT && gpu_concat_copies(p, id) == 0) continue; /* its operands wrote it */
        ex->item[ex->n_items++] = id;
    }
    /* the assignments not computed in place are no items: one launch copies them after the join */
    ex->n_queues = queues_wanted(ex);
    ex->overlap = 1;
    ex->comm_queue = -1;
    if (plan_buckets(ex) < 0) return rt_fail(st, "out of memory listing the step's work");
    if (ex->n_queues == 1) return 0;
    int *pin = fn_malloc(((size_t)ex->n_items + 1) * sizeof *pin), rc = pin ? 0 : -1;
    if (pin && pin_collectives(ex, pin) == 0) { /* none: nothing pinned */
        free(pin);
        pin = NULL;
    }
    /* the schedule over the items' spans; each item's cost on a card of 3 TB/s and 200 TFLOP/s,
       3 us a launch (its bytes the spans' own, gathered with them) */
    Spans sp = {0};
    int *start = fn_malloc(((size_t)ex->n_items + 1) * sizeof *start);
    double *cost = fn_malloc(((size_t)ex->n_items + 1) * sizeof *cost);
    for (int i = 0; start && cost && i < ex->n_items; i++) {
        double before = sp.bytes;
        start[i] = sp.n;
        item_spans(ex, i, &sp);
        cost[i] = 3e-6 + (sp.bytes - before) / 3e12 + item_flops(ex, i) / 200e12;
    }
    if (!start || !cost || sp.failed) rc = -1;
    if (rc == 0) {
        start[ex->n_items] = sp.n;
        rc = gpu_schedule(&ex->sched, ex->n_items, start, sp.s, ex->n_queues, pin);
    }
    free(pin);
    if (rc == 0) ex->overlap = gpu_schedule_estimate(&ex->sched, cost); /* the overlap such a card would see */
    free(cost);
    free(start);
    free(sp.s);
    if (rc < 0) { /* one stream, then */
        gpu_schedule_free(&ex->sched);
        ex->n_queues = 1;
        ex->comm_queue = -1;
        return 0;
    }
    /* each further stream's scratch: the most its own items take */
    int64_t need[GPU_MAX_QUEUES][3] = {{0}};
    for (int i = 0; i < ex->n_items; i++) {
        int q = ex->sched.stream[i];
        int64_t n3[3] = {0, 0, 0};
        gpu_node_scratch(ex, ex->item[i], n3);
        for (int k = 0; k < 3; k++)
            if (n3[k] > need[q][k]) need[q][k] = n3[k];
    }
    size_t total = 0, offs[4];
    for (int q = 1; q < ex->n_queues; q++)
        if (ex->sched.stream_items[q] && q != ex->comm_queue) total += queue_layout(need[q], offs);
    RtStatus why;
    if (gpu_reserve(ex, total, "the further streams' scratch", &why) < 0) { /* one stream, then */
        fprintf(stderr, "fn: the step runs on one stream: %s\n", why.msg);
        gpu_schedule_free(&ex->sched);
        ex->n_queues = 1;
        ex->comm_queue = -1;
        ex->overlap = 1;
        return 0;
    }
    ex->bytes += total;
    rc = 0;
    for (int q = 1; q < ex->n_queues && rc == 0; q++)
        if (ex->sched.stream_items[q]) rc = new_queue(ex, &ex->queue[q], need[q], &why);
    if (rc == 0) rc = RT_CU(&gpu->api, &why, cuEventCreate(&ex->fork, 2));
    ex->ev = rc == 0 ? fn_calloc((size_t)ex->n_items + 1, sizeof *ex->ev) : NULL;
    if (rc == 0 && !ex->ev) rc = rt_fail(&why, "out of memory");
    for (int i = 0; i < ex->n_items && rc == 0; i++)
        if (ex->sched.record[i]) rc = RT_CU(&gpu->api, &why, cuEventCreate(&ex->ev[i], 2));
    if (rc < 0) { /* one stream, then */
        fprintf(stderr, "fn: the step runs on one stream: %s\n", why.msg);
        release_queues(ex);
        gpu->held -= total;
        ex->bytes -= total;
        gpu_schedule_free(&ex->sched);
        ex->n_queues = 1;
        ex->comm_queue = -1;
        ex->overlap = 1;
    }
    return 0;
}

/* item i on the current queue: a node's work (timed per op with a profile) */
static int run_item(RtGpuExec *ex, int i, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    IrId id = ex->item[i];
    double t0 = ex->prof_s ? rt_now() : 0;
    ex->lap_t = t0;
    if (gpu_run_node(ex, id, st) < 0) return -1;
    if (ex->prof_s) {
        int k = (ex->mod.plan[id].work == CU_FUSED ? IR_OP_COUNT : 0) + (int)ex->g->nodes[id].op;
        CHECK_CU(cuStreamSynchronize(ex->cur->stream));
        double dt = rt_now() - t0;
        ex->prof_s[k] += dt;
        ex->prof_calls[k]++;
        if (ex->prof_item_s) ex->prof_item_s[i] += dt;
    }
    return 0;
}

/* qsort_r's comparator: items by their time (ctx), longest first */
static int by_time(const void *a, const void *b, void *ctx) {
    const double *t = ctx;
    double x = t[*(const int *)a], y = t[*(const int *)b];
    return (x < y) - (x > y);
}

/* the profile's kinds of work */
enum { K_FUSED, K_FUSED_SUMS, K_CONV1, K_IMPLICIT, K_COLUMNS, K_MATMUL, K_POOL, K_MOVE, K_ROWS, K_OTHER, K_KINDS };
static const char *const kind_names[K_KINDS] = {
    "fused, elementwise", "fused, with sums", "1x1 convolutions (cuBLAS)", "implicit-GEMM convolutions",
    "column convolutions (im2col, cuBLAS, col2im)", "matmuls (cuBLAS)", "pooling and its gradients",
    "concat, slice, reshape, broadcast", "row kernels (softmax, l2norm, accuracy, sums over rows)", "other"};

static int kind_of(const RtGpuExec *ex, IrId id) {
    const CuNodePlan *cp = &ex->mod.plan[id];
    if (cp->work == CU_FUSED) return ex->mod.groups[cp->group].sums ? K_FUSED_SUMS : K_FUSED;
    switch (ex->g->nodes[id].op) {
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_BWD_DATA:
    case IR_OP_CONV2D_BWD_FILTER: {
        int k = gpu_conv_kind(ex, id);
        return k == GPU_CONV_POINTWISE ? K_CONV1 : k == GPU_CONV_IMPLICIT ? K_IMPLICIT : K_COLUMNS;
    }
    case IR_OP_MATMUL: return K_MATMUL;
    case IR_OP_MAXPOOL:
    case IR_OP_MAXPOOL_GRAD:
    case IR_OP_AVGPOOL:
    case IR_OP_AVGPOOL_GRAD: return K_POOL;
    case IR_OP_CONCAT:
    case IR_OP_SLICE:
    case IR_OP_RESHAPE:
    case IR_OP_BCAST:
    case IR_OP_BCASTLAST: return K_MOVE;
    case IR_OP_SOFTMAX:
    case IR_OP_SOFTMAX_XENT:
    case IR_OP_SOFTMAX_XENT_GRAD:
    case IR_OP_L2NORM:
    case IR_OP_L2NORM_GRAD:
    case IR_OP_ACCURACY:
    case IR_OP_SUM:
    case IR_OP_SUMLAST: return K_ROWS;
    default: return K_OTHER;
    }
}

/* The step's time by kind of work: items, milliseconds, bytes moved once and the GEMMs'
 * operations a step, and the rates those give */
static void profile_kinds(const RtGpuExec *ex, double per, FILE *f) {
    double ms[K_KINDS] = {0}, gb[K_KINDS] = {0}, tflop[K_KINDS] = {0}, all = 0;
    int items[K_KINDS] = {0};
    for (int i = 0; i < ex->n_items; i++) {
        int k = kind_of(ex, ex->item[i]);
        items[k]++;
        ms[k] += ex->prof_item_s[i] * per;
        gb[k] += item_bytes(ex, i) / 1e9;
        tflop[k] += item_flops(ex, i) / 1e12;
        all += ex->prof_item_s[i] * per;
    }
    fprintf(f, "GPU step by kind of work (ms per step, each item synchronised; bytes each item reads and writes once):\n");
    for (int k = 0; k < K_KINDS; k++) {
        if (!items[k]) continue;
        fprintf(f, "  %-58s %5d items %9.3f ms %5.1f%% %8.2f GB %6.2f TB/s", kind_names[k], items[k], ms[k],
                all > 0 ? 100 * ms[k] / all : 0, gb[k], ms[k] > 0 ? gb[k] / ms[k] : 0);
        if (tflop[k] > 0) fprintf(f, " %7.3f TFLOP %6.1f TFLOP/s", tflop[k], ms[k] > 0 ? tflop[k] / (ms[k] * 1e-3) : 0);
        fprintf(f, "\n");
    }
}

void gpu_queues_profile_print(const RtGpuExec *ex, int64_t steps, int top, FILE *f) {
    if (!ex->prof_item_s || ex->n_items == 0) return;
    double per = steps > 0 ? 1e3 / (double)steps : 1e3;
    profile_kinds(ex, per, f);
    int *order = fn_malloc((size_t)ex->n_items * sizeof *order);
    if (!order) return;
    for (int i = 0; i < ex->n_items; i++) order[i] = i;
    qsort_r(order, (size_t)ex->n_items, sizeof *order, by_time, ex->prof_item_s);
    fprintf(f, "GPU step items by time (ms per step; the bytes each reads and writes once; those over its time):\n");
    for (int r = 0; r < top && r < ex->n_items; r++) {
        int i = order[r];
        if (ex->prof_item_s[i] <= 0) continue;
        double bytes = item_bytes(ex, i);
        IrId id = ex->item[i];
        const IrNode *n = &ex->g->nodes[id];
        const CuNodePlan *cp = &ex->mod.plan[id];
        char what[96], dims[64] = "";
        if (cp->work == CU_FUSED)
            snprintf(what, sizeof what, "%s (fused, ending %s)", ex->mod.names[ex->mod.groups[cp->group].kernel],
                     ir_op_info[n->op].name);
        else snprintf(what, sizeof what, "%s", ir_op_info[n->op].name);
        for (int d = 0, at = 0; d < ex->plan.rank[id] && at < (int)sizeof dims - 12; d++)
            at += snprintf(dims + at, sizeof dims - (size_t)at, "%s%lld", d ? "," : "", (long long)ex->plan.dims[id][d]);
        double ms = ex->prof_item_s[i] * per;
        fprintf(f, "  %8.3f ms  %-36s [%s] %9.1f MB %6.2f TB/s\n", ms, what, dims, bytes / 1e6,
                ms > 0 ? bytes / (ms * 1e-3) / 1e12 : 0);
    }
    free(order);
}

/* the bucket led by item `lead` on the replicas' stream (multi) or the only one: every member's
   waits, then their reductions as one NCCL launch, then the events later items wait for */
static int enqueue_bucket(RtGpuExec *ex, int lead, int multi, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    const GpuSchedule *s = &ex->sched;
    int end = lead;
    while (end < ex->n_items && ex->bucket_lead[end] == lead) end++;
    ex->cur = &ex->queue[multi ? ex->comm_queue : 0];
    for (int m = lead; multi && m < end; m++)
        for (int k = s->wait_start[m]; k < s->wait_start[m + 1]; k++)
            CHECK_CU(cuStreamWaitEvent(ex->cur->stream, ex->ev[s->wait_item[k]], 0));
    if (gpu_nccl_group_begin(gpu->nccl, st) < 0) return -1;
    int rc = 0;
    for (int m = lead; m < end && rc == 0; m++) rc = run_item(ex, m, st);
    if (gpu_nccl_group_end(gpu->nccl, st) < 0 || rc < 0) return -1;
    for (int m = lead; multi && m < end; m++)
        if (s->record[m]) CHECK_CU(cuEventRecord(ex->ev[m], ex->cur->stream));
    return 0;
}

void gpu_queues_timeline_write(const RtGpuExec *ex, int64_t steps, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f || !ex->prof_item_s) {
        fprintf(stderr, "fn: cannot write the step's timeline %s\n", path);
        if (f) fclose(f);
        return;
    }
    double per = steps > 0 ? 1e3 / (double)steps : 1e3;
    fprintf(f, "item\tms\top\tgroup\tbytes\tscope\n");
    for (int i = 0; i < ex->n_items; i++) {
        const IrNode *n = &ex->g->nodes[ex->item[i]];
        int red = collective(ex, i);
        const char *scope = n->scope >= 0 && n->scope < ex->g->n_strs ? ir_str(ex->g, n->scope) : "";
        fprintf(f, "%d\t%.6f\t%s%s\t%d\t%.0f\t%s\n", i, ex->prof_item_s[i] * per, ir_op_info[n->op].name,
                ex->mod.plan[ex->item[i]].work == CU_FUSED ? " (fused)" : "", red ? n->attr.u.replicas.group : -1,
                red ? 4.0 * (double)ex->plan.numel[ex->item[i]] : 0.0, scope);
    }
    if (fclose(f) != 0) fprintf(stderr, "fn: cannot write the step's timeline %s\n", path);
}

int gpu_enqueue_step(RtGpuExec *ex, RtStatus *st) {
    const RtCudaApi *a = &ex->gpu->api;
    const GpuSchedule *s = &ex->sched;
    GpuQueue *q0 = &ex->queue[0];
    int multi = ex->n_queues > 1, rc = 0;
#define TRY(call) (rc = rc < 0 ? rc : RT_CU(a, st, call))
    ex->cur = q0; /* the weights the GEMMs take in bfloat16, before any stream forks */
    if (gpu_round_weights(ex, st) < 0) return -1;
    if (multi) { /* the other streams start after what the first has before the step (the inputs) */
        TRY(cuEventRecord(ex->fork, q0->stream));
        for (int q = 1; q < ex->n_queues; q++)
            if (ex->queue[q].stream) TRY(cuStreamWaitEvent(ex->queue[q].stream, ex->fork, 0));
    }
    for (int i = 0; i < ex->n_items && rc == 0; i++) {
        if (ex->bucket_lead[i] >= 0) { /* the replicas' reductions, a bucket at a time */
            if (ex->bucket_lead[i] == i) rc = enqueue_bucket(ex, i, multi, st);
            continue;
        }
        ex->cur = &ex->queue[multi ? s->stream[i] : 0];
        for (int k = multi ? s->wait_start[i] : 0; multi && k < s->wait_start[i + 1]; k++)
            TRY(cuStreamWaitEvent(ex->cur->stream, ex->ev[s->wait_item[k]], 0));
        if (rc == 0) rc = run_item(ex, i, st);
        if (multi && s->record[i]) TRY(cuEventRecord(ex->ev[i], ex->cur->stream));
    }
    ex->cur = q0; /* later work (the copies, the moving averages) goes to the first stream, after the join */
    for (int q = 1; multi && q < ex->n_queues; q++) /* joined back into the first */
        if (ex->queue[q].stream) {
            TRY(cuEventRecord(ex->queue[q].done, ex->queue[q].stream));
            TRY(cuStreamWaitEvent(q0->stream, ex->queue[q].done, 0));
        }
    if (rc == 0) rc = gpu_copy_assigned(ex, st);
#undef TRY
    return rc < 0 ? -1 : 0;
}

/* the further streams, their handles, memory and events (the schedule stays) */
static void release_queues(RtGpuExec *ex) {
    RtCudaApi *a = &ex->gpu->api;
    for (int q = 1; q < GPU_MAX_QUEUES; q++) {
        GpuQueue *g = &ex->queue[q];
        if (g->blas) a->cublasDestroy(g->blas);
        if (g->stream && a->cuStreamDestroy) a->cuStreamDestroy(g->stream);
        if (g->done) a->cuEventDestroy(g->done);
        if (g->mem) a->cuMemFree(g->mem);
        memset(g, 0, sizeof *g);
    }
    for (int i = 0; ex->ev && i < ex->n_items; i++)
        if (ex->ev[i]) a->cuEventDestroy(ex->ev[i]);
    if (ex->fork) a->cuEventDestroy(ex->fork);
    ex->fork = NULL;
    free(ex->ev);
    ex->ev = NULL;
}

void gpu_queues_free(RtGpuExec *ex) {
    release_queues(ex);
    free(ex->item);
    free(ex->bucket_lead);
    ex->item = ex->bucket_lead = NULL;
    gpu_schedule_free(&ex->sched);
}

void rt_gpu_exec_floor(const RtGpuExec *ex, double *flops, double *bytes, double *col_bytes) {
    *flops = 0, *col_bytes = 0;
    *bytes = 2.0 * 4 * (double)ex->copy_values; /* the copies at the step's end: read and written */
    for (int i = 0; i < ex->n_items; i++) {
        *bytes += item_bytes(ex, i);
        *flops += item_flops(ex, i);
        IrId id = ex->item[i];
        IrOp op = ex->g->nodes[id].op;
        RefWindow w;
        if (op != IR_OP_CONV2D && op != IR_OP_CONV2D_BWD_FILTER && op != IR_OP_CONV2D_BWD_DATA) continue;
        rt_plan_window(&ex->plan, id, &w);
        if (!ref_conv_pointwise(&w))
            *col_bytes += 2.0 * (ex->gpu->bf16 ? 2 : 4) * (double)w.n * w.oh * w.ow * w.kh * w.kw * w.c;
    }
}

RtStreams rt_gpu_exec_streams(const RtGpuExec *ex) {
    RtStreams s = {.items = ex->n_items, .overlap = ex->overlap};
    for (int q = 0; q < ex->n_queues; q++) s.streams += ex->queue[q].stream != NULL;
    s.waits = ex->n_queues > 1 ? ex->sched.wait_start[ex->n_items] : 0;
    for (int i = 0; i < ex->n_items; i++) s.reductions += collective(ex, i);
    s.buckets = ex->n_buckets;
    return s;
}
