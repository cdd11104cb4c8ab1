/* The replicas' reductions in buckets: the graph reordered so that its ALLREDUCEs come in runs of
 * up to `bytes`, each run after every operand it reduces and before any node that reads one. A
 * backend then sends a run as one message (the GPU: one NCCL launch on its own stream, while
 * the backward pass goes on), not one per gradient.
 *
 * A bucket holds consecutive ALLREDUCEs of one group in the graph's order, which is the order their
 * operands are final (simplify places each update where its gradient is ready), as long as none
 * reads what an earlier one of its bucket makes: the gradients (group ALWAYS, passes/optimizer.c) and batch
 * norm's moving statistics' targets (LOCAL_BN) go in few large runs; synchronised batch norm's
 * two moments (SYNC_BN) in one run a layer, as the next layer needs them. The new order is a
 * topological sort with each bucket's reductions waiting for all of their operands: among the
 * ready nodes a bucket's reductions go first, then the earliest in the old order, and last,
 * when nothing else is ready, the nodes that read the gradients' or moving targets' reductions
 * (the updates): the step's work never waits for those reductions before its end, as they go on
 * beside the backward pass. Where two groups' buckets would wait for each other the old order
 * stays. Nodes that
 * read no reduction keep their relative order (the forward pass, and its dropout masks, whose
 * keys count them in order, runtime/core/status.c: an order that would move one mask past
 * another, as synchronised batch norm's buckets could in parallel branches, is not taken). The
 * runtime calls it when it binds a graph
 * for a run that reduces the group (runtime/core/exec.c).
 * What this is not: the reduction (the backends'), or a change of what the graph computes. */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "ir/alloc.h"

/* the float bytes of node id at the symbols' values sym (NULL: constant dimensions only), or -1
   when they do not evaluate */
static int64_t bound_bytes(const IrGraph *g, IrId id, const int64_t *sym) {
    const IrShape *s = &g->nodes[id].shape;
    int64_t n = 4, v;
    for (int k = 0; k < s->rank; k++) {
        if (sym ? ir_dim_eval_checked(g, s->d[k], sym, &v) < 0 : !ir_dim_const_value(g, s->d[k], &v)) return -1;
        n *= v;
    }
    return n;
}

/* bucket[id]: the bucket of each ALLREDUCE (-1 for other nodes), a bucket holding one group's;
   returns how many buckets hold more than one. after[id] (scratch): bit G, node id reads, at
   some remove, the current bucket of group G */
static int form_buckets(const IrGraph *g, int64_t bytes, const int64_t *sym, int *bucket, char *after) {
    int n_buckets = 0, multi = 0, cur[IR_REPLICAS_COUNT], size[IR_REPLICAS_COUNT];
    int64_t filled[IR_REPLICAS_COUNT];
    for (int k = 0; k < IR_REPLICAS_COUNT; k++) cur[k] = -1;
    memset(after, 0, (size_t)g->n_nodes);
    for (IrId id = 0; id < g->n_nodes; id++) {
        const IrNode *n = &g->nodes[id];
        int reads = 0;
        for (int k = 0; k < n->n_in; k++) reads |= after[n->in[k]];
        after[id] = (char)reads;
        bucket[id] = -1;
        if (n->op != IR_OP_ALLREDUCE) continue;
        int gr = n->attr.u.replicas.group, bit = 1 << gr;
        int64_t b = bound_bytes(g, id, sym);
        if (cur[gr] < 0 || b < 0 || filled[gr] < 0 || filled[gr] + b > bytes || (reads & bit)) { /* a new bucket */
            cur[gr] = n_buckets++, filled[gr] = 0, size[gr] = 0;
            for (IrId j = 0; j < id; j++) after[j] &= (char)~bit; /* nothing before it reads the new bucket */
        }
        bucket[id] = cur[gr];
        after[id] = (char)(after[id] | bit);
        filled[gr] = b < 0 ? -1 : filled[gr] + b;
        multi += ++size[gr] == 2;
    }
    return multi;
}

typedef struct {
    const IrGraph *g;
    const int *bucket;
    int *missing;       /* per node: inputs not placed; per bucket (bmissing): its reductions' inputs */
    int *bmissing;
    int *first, *next;  /* per bucket its reductions, a list through next */
    IrReaders readers;  /* per node: the nodes that read it */
    char *ready;                 /* 1 ready, 2 placed */
    char *late;                  /* reads a reduction nothing else waits for (the updates): placed last */
    IrId *order, *queue;         /* the new order; the ready reductions */
    int n_order, q_head, q_tail;
} Sort;

/* each node's readers, and what each node and bucket waits for: a bucket's reductions wait for
   all of its inputs together */
static int list_readers(Sort *s) {
    const IrGraph *g = s->g;
    if (ir_readers(g, &s->readers) < 0) return -1;
    for (IrId id = 0; id < g->n_nodes; id++) {
        int n_in = g->nodes[id].n_in;
        if (s->bucket[id] >= 0) s->bmissing[s->bucket[id]] += n_in;
        else s->missing[id] = n_in;
    }
    return 0;
}

/* the ready node to place next: a ready reduction first (in the order they became ready), then
   the earliest in the old order, the late ones (scan[1]) when no other is ready (scan[0]) */
static IrId next_ready(Sort *s, IrId *scan) {
    if (s->q_head < s->q_tail) return s->queue[s->q_head++];
    for (int c = 0; c < 2; c++) {
        while (scan[c] < s->g->n_nodes && (s->ready[scan[c]] != 1 || s->late[scan[c]] != c)) scan[c]++;
        if (scan[c] < s->g->n_nodes) return scan[c];
    }
    return IR_NONE;
}

static void make_ready(Sort *s, IrId id, IrId *scan) {
    s->ready[id] = 1;
    if (s->bucket[id] >= 0) s->queue[s->q_tail++] = id;
    else if (id < scan[(int)s->late[id]]) scan[(int)s->late[id]] = id;
}

static int topo_sort(Sort *s) {
    const IrGraph *g = s->g;
    IrId scan[2] = {g->n_nodes, g->n_nodes};
    for (IrId id = 0; id < g->n_nodes; id++)
        if (s->bucket[id] < 0 && s->missing[id] == 0) make_ready(s, id, scan);
    for (IrId id; (id = next_ready(s, scan)) != IR_NONE;) {
        s->ready[id] = 2; /* placed */
        s->order[s->n_order++] = id;
        for (int k = s->readers.start[id]; k < s->readers.start[id + 1]; k++) {
            IrId r = s->readers.list[k];
            int b = s->bucket[r];
            if (b < 0 && --s->missing[r] == 0) make_ready(s, r, scan);
            if (b >= 0 && --s->bmissing[b] == 0) /* the whole bucket at once, in order */
                for (IrId m = s->first[b]; m >= 0; m = s->next[m]) make_ready(s, m, scan);
        }
    }
    return s->n_order == g->n_nodes ? 0 : -1;
}

/* late[id]: node id reads, at some remove, a reduction of the gradients or of the moving
   statistics' targets (not synchronised batch norm's, which the forward pass reads) */
static void mark_late(const IrGraph *g, char *late) {
    for (IrId id = 0; id < g->n_nodes; id++) {
        const IrNode *n = &g->nodes[id];
        late[id] = n->op == IR_OP_ALLREDUCE && n->attr.u.replicas.group != IR_REPLICAS_SYNC_BN;
        for (int k = 0; k < n->n_in && !late[id]; k++) late[id] = late[n->in[k]];
    }
}

/* the dropout masks in their old relative order (their keys count them: rt_dropout_salt) */
static int masks_in_order(const IrGraph *g, const IrId *order) {
    IrId last = -1;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[order[i]].op == IR_OP_DROPOUT_MASK) {
            if (order[i] < last) return 0;
            last = order[i];
        }
    return 1;
}

static int rebuild(const IrGraph *src, IrGraph *dst, const IrId *order, IrId *map) {
    for (int i = 0; i < src->n_nodes; i++) {
        IrId id = order[i];
        const IrNode *n = &src->nodes[id];
        IrId in[IR_MAX_IN];
        for (int k = 0; k < n->n_in; k++) in[k] = map[n->in[k]];
        dst->cur_scope = n->scope;
        if ((map[id] = ir_make(dst, n->op, in, n->n_in, &n->attr)) == IR_NONE) return -1;
    }
    return ir_copy_names(dst, src, map);
}

int pass_buckets(IrGraph **gp, int64_t bytes, const int64_t *sym) {
    const IrGraph *g = *gp;
    int n = g->n_nodes, rc = -1;
    Sort s = {.g = g};
    int *bucket = fn_malloc(((size_t)n + 1) * sizeof *bucket);
    if (!bucket) goto oom;
    s.bucket = bucket;
    s.ready = fn_calloc((size_t)n + 1, 1);
    if (!s.ready) goto oom;
    if (form_buckets(g, bytes, sym, bucket, s.ready) == 0) { /* every bucket of one: the order serves */
        free(bucket), free(s.ready);
        return 0;
    }
    memset(s.ready, 0, (size_t)n);
    int n_buckets = 0;
    for (IrId id = 0; id < n; id++)
        if (bucket[id] + 1 > n_buckets) n_buckets = bucket[id] + 1;
    s.missing = fn_calloc((size_t)n + 1, sizeof *s.missing);
    s.bmissing = fn_calloc((size_t)n_buckets + 1, sizeof *s.bmissing);
    s.first = fn_malloc(((size_t)n_buckets + 1) * sizeof *s.first);
    s.next = fn_malloc(((size_t)n + 1) * sizeof *s.next);
    s.order = fn_malloc(((size_t)n + 1) * sizeof *s.order);
    s.queue = fn_malloc(((size_t)n + 1) * sizeof *s.queue);
    s.late = fn_malloc((size_t)n + 1);
    if (!s.missing || !s.bmissing || !s.first || !s.next || !s.ready || !s.order || !s.queue || !s.late) goto oom;
    mark_late(g, s.late);
    for (int b = 0; b < n_buckets; b++) s.first[b] = -1;
    for (IrId id = n - 1; id >= 0; id--) /* each bucket's reductions, in order */
        if (bucket[id] >= 0) s.next[id] = s.first[bucket[id]], s.first[bucket[id]] = id;
    if (list_readers(&s) < 0) goto oom;
    if (topo_sort(&s) < 0 || !masks_in_order(g, s.order)) { /* buckets of two groups that wait for each
                                                                 other, or moved masks: the order as it was */
        rc = 0;
        goto done;
    }
    IrId *map = fn_malloc(((size_t)n + 1) * sizeof *map);
    IrGraph *dst = map ? ir_graph_clone_empty(g) : NULL;
    if (!dst || rebuild(g, dst, s.order, map) < 0) {
        snprintf((*gp)->err, sizeof (*gp)->err, "buckets: %s", !dst || dst->oom ? "out of memory" : dst->err);
        ir_graph_free(dst);
        free(map);
        goto done;
    }
    free(map);
    ir_graph_free(*gp);
    *gp = dst;
    rc = 0;
    goto done;
oom:
    snprintf((*gp)->err, sizeof (*gp)->err, "buckets: out of memory");
done:
    free(bucket), free(s.missing), free(s.bmissing), free(s.first), free(s.next), free(s.ready), free(s.order), free(s.queue), free(s.late);
    ir_readers_free(&s.readers);
    return rc;
}
