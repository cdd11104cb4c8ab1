/* See gpu_internal.h (gpu_plan_views): which concatenations' operands and which slices the GPU
 * keeps as views (runtime/core/plan.h), so that no kernel copies them. Along an NHWC tensor's
 * channels a concat's operand is a band of its columns, rows the concat's width apart; the fused
 * loop that makes the operand writes it there, and the concat costs nothing. A slice of channels
 * (the concat's gradient) is a band of its operand, read in place by the loops that take it.
 * Only fused loops index views (codegen/cuda: CuGroup.strided); a value any other kernel writes or
 * reads stays a copy, as does one the host reads.
 * What this is not: the placement (runtime/core/plan.c) or the kernels' indexing. */
#include "runtime/gpu/gpu_internal.h"

/* whether fused group gi can index view v by rows and columns: its domain is v's size and width,
   and with sums its loop runs along those rows (its row length is v's width) */
static int group_takes(const RtPlan *p, int gi, IrId v) {
    const IrGraph *g = p->g;
    const PassFusion *f = &p->fusion;
    IrId d = pass_fuse_domain(g, f, gi);
    if (p->numel[d] != p->numel[v] || rt_plan_width(p, d) != rt_plan_width(p, v)) return 0;
    for (int k = f->start[gi]; k < f->start[gi + 1]; k++)
        if (g->nodes[f->members[k]].op == IR_OP_SUM) return pass_fuse_inner(g, f, gi, p->numel) == rt_plan_width(p, v);
    return 1;
}

/* whether v can be a view `at` elements into a host whose rows are `stride` apart: every reader
   but `except` (the concat that is its host) a fused loop that takes it, four values a step */
static int may_view(const RtPlan *p, const IrReaders *rd, IrId v, IrId host, int64_t at, int64_t stride,
                    IrId except) {
    const IrGraph *g = p->g;
    const PassFusion *f = &p->fusion;
    if (!p->needed[v] || p->kept[v] || p->view_of[v] != IR_NONE || p->esize[v] != p->esize[host] ||
        g->nodes[v].dtype != IR_DT_FLOAT || rt_plan_width(p, v) % 4 || at % 4 || stride % 4)
        return 0;
    for (int e = rd->start[v]; e < rd->start[v + 1]; e++) {
        IrId r = rd->list[e];
        if (r == except || !p->needed[r] || (f->group_of[r] >= 0 && f->group_of[r] == f->group_of[v])) continue;
        if (f->group_of[r] < 0 || !group_takes(p, f->group_of[r], v)) return 0;
    }
    return 1;
}

static void set_view(RtPlan *p, IrId v, IrId host, int64_t at, int64_t stride) {
    p->view_of[v] = host;
    p->view_at[v] = at;
    p->row_stride[v] = stride;
    p->n_views++;
}

/* concat c along its last axis: each operand a fused loop writes (once in c) into c's block */
static void concat_views(RtPlan *p, const IrReaders *rd, IrId c) {
    const IrGraph *g = p->g;
    const PassFusion *f = &p->fusion;
    const IrNode *nd = &g->nodes[c];
    int64_t at = 0, stride = rt_plan_width(p, c);
    for (int k = 0; k < nd->n_in; at += rt_plan_width(p, nd->in[k]), k++) {
        IrId x = nd->in[k];
        int once = 1;
        for (int j = 0; j < nd->n_in; j++) once &= j == k || nd->in[j] != x;
        int gi = f->group_of[x];
        if (once && gi >= 0 && f->materialized[x] && group_takes(p, gi, x) && may_view(p, rd, x, c, at, stride, c))
            set_view(p, x, c, at, stride);
    }
}

/* slice s of its operand's last axis (the operand itself no view, nor a variable or input) */
static void slice_view(RtPlan *p, const IrReaders *rd, IrId s) {
    const IrGraph *g = p->g;
    IrId x = g->nodes[s].in[0];
    IrOp op = g->nodes[x].op;
    if (p->view_of[x] != IR_NONE || op == IR_OP_PARAM || op == IR_OP_STATE || op == IR_OP_INPUT || op == IR_OP_CONST)
        return;
    if (may_view(p, rd, s, x, g->nodes[s].attr.u.axis.start, rt_plan_width(p, x), IR_NONE))
        set_view(p, s, x, g->nodes[s].attr.u.axis.start, rt_plan_width(p, x));
}

int gpu_concat_copies(const RtPlan *p, IrId id) {
    const IrNode *nd = &p->g->nodes[id];
    int n = 0;
    for (int k = 0; k < nd->n_in; k++) n += p->view_of[nd->in[k]] != id;
    return n;
}

int gpu_plan_views(RtPlan *p) {
    const IrGraph *g = p->g;
    const int n = p->n;
    if (!p->fusion.n_groups) return 0;
    IrReaders rd;
    if (ir_readers(g, &rd) < 0) return 0; /* out of memory: no views (copies, which are always right) */
    for (IrId id = 0; id < n; id++) {
        const IrNode *nd = &g->nodes[id];
        if (!p->needed[id] || (nd->op != IR_OP_CONCAT && nd->op != IR_OP_SLICE) || p->rank[id] < 2 ||
            nd->attr.u.axis.axis != p->rank[id] - 1)
            continue;
        if (nd->op == IR_OP_CONCAT) concat_views(p, &rd, id);
        else if (nd->op == IR_OP_SLICE) slice_view(p, &rd, id);
    }
    ir_readers_free(&rd);
    return p->n_views;
}
