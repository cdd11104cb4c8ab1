/* Reverse-mode autodiff. The backward graph is ordinary IR built from the per-op VJP rules
 * (ir_vjp); adjoints of values used several times are summed. Only values that depend on a
 * PARAM receive adjoints. Out of memory, it fails with "autodiff: out of memory" (the graph, marked
 * oom, is then only fit to be freed). Not here: the VJP rules themselves (ir/rules_*.c). */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

static int oom(IrGraph *g) {
    snprintf(g->err, sizeof g->err, "autodiff: out of memory");
    return -1;
}

int pass_autodiff(IrGraph **gp, PassCtx *ctx) {
    IrGraph *g = *gp;
    IrId loss = ir_output(g, "loss");
    if (loss == IR_NONE) return 0;
    if (g->nodes[loss].shape.rank != 0) {
        snprintf(g->err, sizeof g->err, "autodiff: output \"loss\" must be a scalar");
        return -1;
    }
    int n = g->n_nodes;
    char *dep = fn_calloc((size_t)n + 1, 1); /* depends on a PARAM */
    IrId *adj = fn_malloc(((size_t)n + 1) * sizeof(IrId));
    if (!dep || !adj) {
        free(dep);
        free(adj);
        return oom(g);
    }
    for (IrId i = 0; i < n; i++) {
        const IrNode *nd = &g->nodes[i];
        adj[i] = IR_NONE;
        dep[i] = nd->op == IR_OP_PARAM;
        if (ir_op_info[nd->op].flags & IR_F_NOGRAD) continue;
        for (int k = 0; k < nd->n_in; k++) dep[i] |= dep[nd->in[k]];
    }
    IrShape scalar;
    memset(&scalar, 0, sizeof scalar);
    adj[loss] = ir_const(g, 1.0, &scalar);
    int rc = 0;
    for (IrId i = loss; i >= 0 && rc == 0; i--) {
        if (adj[i] == IR_NONE || !dep[i] || g->nodes[i].op == IR_OP_PARAM) continue;
        IrId dx[IR_MAX_IN];
        if (ir_vjp(g, i, adj[i], dx) < 0) {
            char msg[sizeof g->err];
            memcpy(msg, g->err, sizeof msg);
            snprintf(g->err, sizeof g->err, "autodiff: %%%d %s: %s", i,
                     ir_op_info[g->nodes[i].op].name, msg);
            rc = -1;
            break;
        }
        IrNode nd = g->nodes[i];
        for (int k = 0; k < nd.n_in; k++) {
            IrId x = nd.in[k];
            if (dx[k] == IR_NONE || !dep[x]) continue;
            adj[x] = adj[x] == IR_NONE ? dx[k] : ir_binary(g, IR_OP_ADD, adj[x], dx[k]);
            if (adj[x] == IR_NONE) rc = -1;
        }
    }
    for (IrId i = 0; i < n && rc == 0; i++) {
        if (g->nodes[i].op != IR_OP_PARAM || adj[i] == IR_NONE) continue;
        char name[512];
        snprintf(name, sizeof name, "grad/%s", ir_str(g, g->nodes[i].attr.u.leaf.name));
        ir_set_output(g, name, adj[i]);
    }
    free(dep);
    free(adj);
    return g->oom ? oom(g) : rc; /* an output name, or a node the loop passed by */
}
