/* The verifier: structural invariants of a graph, run after every pass in debug builds. */
#include "ir/rules.h"

#include <string.h>

int ir_verify(IrGraph *g) {
    for (IrId id = 0; id < g->n_nodes; id++) {
        IrNode n = g->nodes[id];
        const IrOpInfo *info = &ir_op_info[n.op];
        if (info->arity >= 0 && n.n_in != info->arity)
            return ir_rules_fail(g, "%%%d %s: %d inputs, arity %d", id, info->name, n.n_in,
                                 info->arity);
        for (int i = 0; i < n.n_in; i++)
            if (n.in[i] < 0 || n.in[i] >= id)
                return ir_rules_fail(g, "%%%d %s: input %d (%%%d) is not earlier in the order", id,
                                     info->name, i, n.in[i]);
        IrNode c = n;
        if (ir_infer(g, &c) < 0) {
            char msg[sizeof g->err];
            memcpy(msg, g->err, sizeof msg);
            return ir_rules_fail(g, "%%%d %s: %s", id, info->name, msg);
        }
        if (!ir_shape_equal(&c.shape, &n.shape) || c.dtype != n.dtype)
            return ir_rules_fail(g, "%%%d %s: stored shape or dtype differs from inferred", id,
                                 info->name);
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i].id < 0 || g->outputs[i].id >= g->n_nodes)
            return ir_rules_fail(g, "output %s refers to no node", ir_str(g, g->outputs[i].name));
    for (int i = 0; i < g->n_effects; i++)
        if (g->nodes[g->effects[i]].op != IR_OP_ASSIGN)
            return ir_rules_fail(g, "effect %%%d is not an assign", g->effects[i]);
    g->err[0] = 0;
    return 0;
}
