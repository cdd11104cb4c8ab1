/* A graph specialised for the replicas it runs on: every ALLREDUCE whose group the run does not
 * reduce (IrReplicaGroup; a one-process run reduces none) becomes its input, so an executor
 * never sees a collective it would only copy through. The runtime calls it when it binds a
 * graph (runtime/core/exec.c), like fusion: which groups a run reduces is known only then.
 * What this is not: the reduction itself (the backends run the ALLREDUCEs that stay). */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

static int dropped(const IrNode *n, unsigned groups) {
    return n->op == IR_OP_ALLREDUCE && !(groups >> n->attr.u.replicas.group & 1u);
}

static int rebuild(const IrGraph *src, IrGraph *dst, unsigned groups, IrId *map) {
    for (IrId id = 0; id < src->n_nodes; id++) {
        const IrNode *n = &src->nodes[id];
        dst->cur_scope = n->scope;
        if (dropped(n, groups)) {
            map[id] = map[n->in[0]];
            continue;
        }
        IrId in[IR_MAX_IN];
        for (int k = 0; k < n->n_in; k++) in[k] = map[n->in[k]];
        if ((map[id] = ir_make(dst, n->op, in, n->n_in, &n->attr)) == IR_NONE) return -1;
    }
    return ir_copy_names(dst, src, map);
}

int pass_replicas_count(const IrGraph *g, unsigned groups) {
    int n = 0;
    for (IrId id = 0; id < g->n_nodes; id++) n += g->nodes[id].op == IR_OP_ALLREDUCE && !dropped(&g->nodes[id], groups);
    return n;
}

int pass_replicas(IrGraph **gp, unsigned groups) {
    const IrGraph *src = *gp;
    int drop = 0;
    for (IrId id = 0; id < src->n_nodes; id++) drop += dropped(&src->nodes[id], groups);
    if (!drop) return 0;
    IrId *map = fn_malloc((size_t)src->n_nodes * sizeof *map);
    IrGraph *dst = map ? ir_graph_clone_empty(src) : NULL;
    int rc = dst ? rebuild(src, dst, groups, map) : -1;
    free(map);
    if (rc) {
        snprintf((*gp)->err, sizeof (*gp)->err, "replicas: %s", !dst || dst->oom ? "out of memory" : dst->err);
        ir_graph_free(dst);
        return -1;
    }
    ir_graph_free(*gp);
    *gp = dst;
    return 0;
}
