/* See gpu_exec.h (rt_gpu_half_values): which of the step's values FN_GPU_BF16=act keeps in bfloat16, as PyTorch's
 * autocast does. The activations and their gradients (tensors of rank 4 that lead with the batch)
 * move most of the step's bytes; variables, their gradients and updates, the statistics, the
 * losses and everything the host reads stay float32, and so does a value that any kernel without
 * a bfloat16 form reads or writes. */
#include <stdlib.h>

#include "ir/alloc.h"
#include "runtime/gpu/gpu_internal.h"

/* whether node id's value, if bfloat16, can be written where it is computed */
static int writes_half(const RtPlan *p, IrId id) {
    if (p->fusion.n_groups && p->fusion.group_of[id] >= 0) return 1; /* a fused group's slot */
    switch (p->g->nodes[id].op) {
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_BWD_DATA:
    case IR_OP_MAXPOOL:
    case IR_OP_MAXPOOL_GRAD:
    case IR_OP_AVGPOOL:
    case IR_OP_AVGPOOL_GRAD:
    case IR_OP_CONCAT:
    case IR_OP_SLICE:
    case IR_OP_RESHAPE:
    case IR_OP_BCAST: return 1;
    default: return 0;
    }
}

/* whether node r can read its operand k in bfloat16 */
static int reads_half(const RtPlan *p, IrId r, int k) {
    if (p->fusion.n_groups && p->fusion.group_of[r] >= 0) return 1;
    switch (p->g->nodes[r].op) {
    case IR_OP_CONV2D:           /* x, not the weights */
    case IR_OP_CONV2D_BWD_DATA:  /* dy */
    case IR_OP_MAXPOOL:
    case IR_OP_AVGPOOL:
    case IR_OP_AVGPOOL_GRAD: return k == 0;
    case IR_OP_CONV2D_BWD_FILTER: /* x and dy */
    case IR_OP_MAXPOOL_GRAD:      /* x and dy */
        return k <= 1;
    case IR_OP_CONCAT:
    case IR_OP_SLICE:
    case IR_OP_RESHAPE:
    case IR_OP_SUM: return 1;
    default: return 0;
    }
}

static int root(int *up, int i) {
    while (up[i] != i) i = up[i] = up[up[i]];
    return i;
}

static void join(int *up, int a, int b) { up[root(up, a)] = root(up, b); }

int rt_gpu_half_values(RtPlan *p) {
    const IrGraph *g = p->g;
    int n = p->n, count = 0;
    /* values that must share a type: a reshape and its operand (one block), a concat and its
       operands (one kernel variant for them all) */
    int *up = fn_malloc((size_t)(n + 1) * sizeof *up);
    char *ok = fn_malloc((size_t)n + 1);
    if (!up || !ok) { /* out of memory: no value in bfloat16 (all float32, which is always right) */
        free(up);
        free(ok);
        return 0;
    }
    for (IrId id = 0; id < n; id++) up[id] = id;
    for (IrId id = 0; id < n; id++) {
        const IrNode *nd = &g->nodes[id];
        if (p->needed[id] && (nd->op == IR_OP_RESHAPE || nd->op == IR_OP_CONCAT))
            for (int k = 0; k < nd->n_in; k++) join(up, nd->in[k], id);
    }
    for (IrId id = 0; id < n; id++) ok[id] = 1;
    for (IrId id = 0; id < n; id++) {
        const IrNode *nd = &g->nodes[id];
        if (!p->needed[id]) continue;
        int64_t lead = 0;
        int batch = nd->shape.rank == 4 && !ir_dim_const_value(g, nd->shape.d[0], &lead);
        int stored = !(p->fusion.n_groups && p->fusion.group_of[id] >= 0) || p->fusion.materialized[id];
        if (nd->dtype != IR_DT_FLOAT || p->kept[id] || !stored || !writes_half(p, id) ||
            (nd->op != IR_OP_RESHAPE && !batch))
            ok[root(up, id)] = 0;
        for (int k = 0; k < nd->n_in; k++) /* this node reading its operands, unless inside its group */
            if (!reads_half(p, id, k) &&
                !(p->fusion.n_groups && p->fusion.group_of[id] >= 0 && p->fusion.group_of[nd->in[k]] == p->fusion.group_of[id]))
                ok[root(up, nd->in[k])] = 0;
    }
    for (IrId id = 0; id < n; id++)
        if (p->needed[id] && ok[root(up, id)]) {
            p->esize[id] = 2;
            count++;
        }
    free(up);
    free(ok);
    return count;
}
