/* See gpu_internal.h (gpu_plan_tails): small fused groups (batch norm's per-channel vectors: the
 * moving averages' updates, 1 / sqrt(var + eps)) that run inside the group whose sums they read,
 * in its blocks that finish those sums (CuGroup.tail), instead of as a launch of their own between
 * that group and the loop that reads them. A tail is a group without sums over the sums' length
 * whose operands are those sums, scalars, and vectors of its length ready before that group runs;
 * the group must finish its sums in its own kernel (gpu_group_finishes). The tail then runs at the
 * group's run_at, which the memory plan (runtime/core/plan.c) places it at too.
 * What this is not: the kernel (codegen/cuda: tail_function) or any tail on the CPU. */
#include <stdlib.h>

#include "ir/alloc.h"
#include "runtime/gpu/gpu_internal.h"

/* a kernel's arguments take at most 4 KB before CUDA 12.1: 16 bytes a slot at most (a pointer, a row
   stride), the sums to finish (FnSums: CU_MAX_SUMS of 48 bytes), the sizes */
#define ARG_BYTES 4096

/* when node x's value is ready: its group's run_at, its own position, or before the step */
static IrId ready_at(const RtPlan *p, IrId x) {
    IrOp op = p->g->nodes[x].op;
    if (op == IR_OP_PARAM || op == IR_OP_STATE || op == IR_OP_INPUT || op == IR_OP_CONST) return -1;
    return p->fusion.group_of[x] >= 0 ? p->fusion.run_at[p->fusion.group_of[x]] : x;
}

/* the group with sums whose tail group b (layout lb) can be: of the groups whose sums b reads, the
   last to run; or -1 */
static int tail_host(const RtPlan *p, const PassFuseLayout *lb) {
    const IrGraph *g = p->g;
    const PassFusion *f = &p->fusion;
    int a = -1;
    for (int s = 0; s < lb->n_slots; s++) {
        int k = lb->slot_kind[s];
        IrId x = lb->slot_node[s];
        if (k == PASS_SLOT_SUFFIX || k == PASS_SLOT_SUM || p->view_of[x] != IR_NONE) return -1;
        if (k == PASS_SLOT_FULL && f->group_of[x] >= 0 && g->nodes[x].op == IR_OP_SUM &&
            (a < 0 || f->run_at[f->group_of[x]] > f->run_at[a]))
            a = f->group_of[x];
    }
    if (a < 0 || f->tail[a] >= 0) return -1;
    for (int s = 0; s < lb->n_slots; s++) { /* a's sums, and everything else ready when a runs */
        IrId x = lb->slot_node[s];
        int k = lb->slot_kind[s];
        if (k != PASS_SLOT_FULL && k != PASS_SLOT_SCALAR) continue;
        if (f->group_of[x] == a ? g->nodes[x].op != IR_OP_SUM : ready_at(p, x) >= f->run_at[a]) return -1;
    }
    return a;
}

int gpu_plan_tails(RtPlan *p, int sm_count) {
    const IrGraph *g = p->g;
    PassFusion *f = &p->fusion;
    if (!f->n_groups) return 0;
    if (!(f->tail = fn_malloc((size_t)f->n_groups * sizeof *f->tail))) return -1;
    for (int gi = 0; gi < f->n_groups; gi++) f->tail[gi] = -1;
    int n = 0;
    for (int b = 0; b < f->n_groups; b++) {
        PassFuseLayout lb, la;
        IrId db = pass_fuse_domain(g, f, b);
        int sums = 0;
        for (int k = f->start[b]; k < f->start[b + 1]; k++) sums |= g->nodes[f->members[k]].op == IR_OP_SUM;
        if (sums || p->numel[db] > PASS_FUSE_SMALL || pass_fuse_layout(g, f, b, p->numel, &lb) < 0) continue;
        int a = tail_host(p, &lb);
        if (a < 0 || pass_fuse_layout(g, f, a, p->numel, &la) < 0 || la.inner != p->numel[db] ||
            !gpu_group_finishes(sm_count, &la, p->numel, p->numel[pass_fuse_domain(g, f, a)]) ||
            (la.n_slots + lb.n_slots) * 16 + CU_MAX_SUMS * 48 + 64 > ARG_BYTES)
            continue;
        f->tail[a] = b;
        f->run_at[b] = f->run_at[a];
        n++;
    }
    return n;
}
