/* Fusion: which nodes run in one loop (see passes.h, PassFusion).
 *
 * A group is a set of pointwise nodes over one shape (its domain), evaluated together tile by
 * tile, plus the leading-axis sums of its members ("terminal" reductions, such as batch-norm's
 * mean and variance and the bias and beta gradients), accumulated in the same loop. Only the
 * members some other node reads, and the terminals, are written to memory.
 *
 * Nodes are visited in id order (a topological order). A group runs where its last member stands
 * (run_at), so a node may join a group only while no node outside it has read one of its members (the
 * group has not "escaped"): then every member's readers come after the group, and an input
 * from outside cannot depend on a member, since the path would have left the group through an
 * earlier reader. So groups stay convex without a search. One exception: a late member may
 * still join an escaped group, where its operands from outside are all computed before the
 * group runs: a sum of a member (batch-norm's beta gradient, read after the variance gradient
 * has left the group), or a value that only feeds sums (batch norm's (x - shift)^2, after the
 * moving mean's update has read the group's first sum). Its readers come after it, so the
 * group still runs where it stood: at run_at, its last member but late ones. And when a node
 * joins one group while reading a member of another that has not escaped either, the two merge
 * (merge_into). A node that would start a group of its own joins, as a sibling, a group reading
 * one of its operands from outside (may_join_sibling; an escaped one as a late member), so that
 * the operand is read once for both: the weight decay's sum of a weight's squares runs in its
 * optimiser update's loop, batch norm's two moments in one loop over x. The pass is an
 * analysis: the graph is not changed, and the runtime recomputes the grouping when it binds a
 * graph (0.2 ms for Inception-ResNet-v1's training step).
 */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

int pass_fuse_pointwise(IrOp op) { return ir_op_info[op].cls == IR_CLASS_ELEMENTWISE || op == IR_OP_BCAST; }

int pass_fuse_legal(const IrGraph *g, IrId p, IrId c) {
    const IrNode *pn = &g->nodes[p], *cn = &g->nodes[c];
    if (!pass_fuse_pointwise(pn->op) || pn->dtype != IR_DT_FLOAT || cn->dtype != IR_DT_FLOAT) return 0;
    int reads = 0;
    for (int k = 0; k < cn->n_in; k++) reads |= cn->in[k] == p;
    if (!reads) return 0;
    if (cn->op == IR_OP_SUM) return 1; /* a sum over leading axes of a member: a terminal */
    /* BCAST reads a smaller operand by index modulo; it cannot read a member of the domain */
    return pass_fuse_pointwise(cn->op) && cn->op != IR_OP_BCAST && ir_shape_equal(&pn->shape, &cn->shape);
}

void pass_fusion_free(PassFusion *f) {
    free(f->group_of);
    free(f->members);
    free(f->start);
    free(f->materialized);
    free(f->run_at);
    free(f->tail);
    memset(f, 0, sizeof *f);
}

typedef struct {
    int escaped;    /* a node outside the group has read a member: only late members can join */
    int n;          /* members + terminals so far */
    IrId terminal_shape_src; /* the first terminal: all of a group's sums have its shape (their
                                partial sums share one chunking) */
    IrId run;                /* where the group runs: its last member but late terminals */
    IrId first;              /* its first member */
    int merged_into;         /* the group it merged into (merge_into), or -1 */
} Group;

/* the group r stands for now: itself, or the one it merged into */
static int live_group(const Group *gr, int r) {
    while (r >= 0 && gr[r].merged_into >= 0) r = gr[r].merged_into;
    return r;
}

/* A vector of a fixed size, small enough that writing it early costs nothing: a per-channel one
 * such as batch norm's mean, scale and their gradients' coefficients, not a batch's tensor */
static int small_vector(const IrGraph *g, IrId id) {
    const IrShape *s = &g->nodes[id].shape;
    int64_t v = 1;
    return s->rank == 0 || (s->rank == 1 && ir_dim_const_value(g, s->d[0], &v) && v <= PASS_FUSE_SMALL);
}

/* Could c still run in the escaped group gi, where it stands (run): is every operand of c from
 * outside the group computed before then? A node in no group is computed at its own id; a group
 * that c reads from outside has escaped, so its run is final. c's readers all come after c, so
 * after run too. Only sums, values that only feed sums (sum_only) and small vectors join late: a
 * large value would be written early to be read much later (a gradient's copy of x - mean) */
static int ready_at_run(const IrGraph *g, const PassFusion *f, const Group *gr, int gi, IrId c, const char *sum_only) {
    const IrNode *cn = &g->nodes[c];
    if (cn->op != IR_OP_SUM && !sum_only[c] && !small_vector(g, c)) return 0;
    for (int k = 0; k < cn->n_in; k++) {
        IrId x = cn->in[k];
        int gx = f->group_of[x];
        if (gx != gi && (gx >= 0 ? gr[gx].run : x) >= gr[gi].run) return 0;
    }
    return 1;
}

/* May c join the group of its input p? Not escaped (but for a late member: one whose other
 * operands are ready where the group runs, such as a sum of the member p alone), under the
 * size cap, and one output shape for the terminals (whose values are ready only when the group
 * ends). */
static int may_join(const IrGraph *g, const PassFusion *f, const Group *gr, IrId p, IrId c, const char *sum_only) {
    const Group *G = &gr[f->group_of[p]];
    const IrNode *cn = &g->nodes[c];
    if (G->n >= PASS_FUSE_MAX_GROUP || !pass_fuse_legal(g, p, c)) return 0;
    if (G->escaped && !ready_at_run(g, f, gr, f->group_of[p], c, sum_only)) return 0;
    for (int k = 0; k < cn->n_in; k++)
        if (f->group_of[cn->in[k]] == f->group_of[p] && g->nodes[cn->in[k]].op == IR_OP_SUM) return 0;
    if (cn->op == IR_OP_SUM && G->terminal_shape_src != IR_NONE &&
        !ir_shape_equal(&g->nodes[G->terminal_shape_src].shape, &cn->shape))
        return 0;
    return 1;
}

/* The shape of the first operand group gi reads from outside that is smaller than its domain
 * but not a scalar (a suffix, such as batch norm's [C]), or NULL. */
static const IrShape *suffix_operand(const IrGraph *g, const PassFusion *f, int gi, IrId from, IrId to) {
    for (IrId id = from; id <= to; id++) {
        if (f->group_of[id] != gi) continue;
        const IrNode *nd = &g->nodes[id];
        for (int k = 0; k < nd->n_in && nd->op != IR_OP_SUM; k++) {
            const IrNode *x = &g->nodes[nd->in[k]];
            if (f->group_of[nd->in[k]] != gi && x->shape.rank > 0 && !ir_shape_equal(&x->shape, &nd->shape))
                return &x->shape;
        }
    }
    return NULL;
}

/* c joins group gi and also reads q, a member of another group that has not escaped (the relu
 * mask of a gradient, a loop of its own until now): that group joins gi too, so q need not be
 * written. Neither group has been read from outside, so neither depends on the other and both
 * may run at c. Merged-away groups are left empty (pass_fuse drops them). */
static void merge_into(const IrGraph *g, PassFusion *f, Group *gr, int gi, IrId q, IrId c) {
    int gq = f->group_of[q];
    if (gq < 0 || gq == gi || gr[gq].escaped || gr[gi].escaped || gr[gi].n + gr[gq].n >= PASS_FUSE_MAX_GROUP ||
        !pass_fuse_legal(g, q, c))
        return;
    IrId ts = gr[gi].terminal_shape_src, tq = gr[gq].terminal_shape_src;
    if (ts != IR_NONE && tq != IR_NONE && !ir_shape_equal(&g->nodes[ts].shape, &g->nodes[tq].shape)) return;
    const IrNode *cn = &g->nodes[c];
    for (int k = 0; k < cn->n_in; k++) /* a sum is ready only when its group ends */
        if (f->group_of[cn->in[k]] == gq && g->nodes[cn->in[k]].op == IR_OP_SUM) return;
    /* one row length per loop (pass_fuse_inner): else the merged loop could not be compiled */
    const IrShape *a = suffix_operand(g, f, gi, gr[gi].first, c), *b = suffix_operand(g, f, gq, gr[gq].first, c);
    if (a && b && !ir_shape_equal(a, b)) return;
    for (IrId id = gr[gq].first; id < c; id++)
        if (f->group_of[id] == gq) f->group_of[id] = gi;
    gr[gi].n += gr[gq].n;
    if (gr[gq].first < gr[gi].first) gr[gi].first = gr[gq].first;
    if (ts == IR_NONE) gr[gi].terminal_shape_src = tq;
    gr[gq].n = 0;
    gr[gq].merged_into = gi;
}

/* c, in no group yet, may join group gi as a sibling: a group that reads one of c's operands
 * from outside too, so that the operand is read once for both (a weight's optimiser update and
 * the weight decay's sum of its squares). gi has not escaped, so it may run at c, or c may join
 * it late; c reads none of its members; both have the same domain, and their sums and suffix
 * operands one shape. */
static int may_join_sibling(const IrGraph *g, const PassFusion *f, const Group *gr, int gi, IrId c,
                            const char *sum_only) {
    const Group *G = &gr[gi];
    const IrNode *cn = &g->nodes[c];
    if (G->n == 0 || G->n >= PASS_FUSE_MAX_GROUP || cn->dtype != IR_DT_FLOAT) return 0;
    if (G->escaped && !ready_at_run(g, f, gr, gi, c, sum_only)) return 0;
    if (!pass_fuse_pointwise(cn->op) && cn->op != IR_OP_SUM) return 0;
    if (cn->op == IR_OP_BCAST) return 0;
    for (int k = 0; k < cn->n_in; k++)
        if (f->group_of[cn->in[k]] == gi) return 0;
    const IrShape *dom = &g->nodes[cn->op == IR_OP_SUM ? cn->in[0] : c].shape;
    IrId first = G->first, gdom = g->nodes[first].op == IR_OP_SUM ? g->nodes[first].in[0] : first;
    if (!ir_shape_equal(dom, &g->nodes[gdom].shape)) return 0;
    if (cn->op == IR_OP_SUM && G->terminal_shape_src != IR_NONE &&
        !ir_shape_equal(&g->nodes[G->terminal_shape_src].shape, &cn->shape))
        return 0;
    const IrShape *a = suffix_operand(g, f, gi, G->first, c);
    for (int k = 0; k < cn->n_in && a && cn->op != IR_OP_SUM; k++) {
        const IrShape *x = &g->nodes[cn->in[k]].shape;
        if (x->rank > 0 && !ir_shape_equal(x, dom) && !ir_shape_equal(x, a)) return 0;
    }
    return 1;
}

/* sum_only[x]: a pointwise value whose every reader is a sum of it or a pointwise value of its
   shape that is sum_only too (batch norm's (x - shift)^2): readers come later, so a pass from the
   last node back settles each node's readers before the node */
static char *find_sum_only(const IrGraph *g, const char *needed) {
    int n = g->n_nodes;
    char *sum_only = fn_malloc((size_t)n + 1), *read = fn_calloc((size_t)n + 1, 1);
    if (!sum_only || !read) {
        free(sum_only);
        free(read);
        return NULL;
    }
    for (IrId id = 0; id < n; id++) sum_only[id] = pass_fuse_pointwise(g->nodes[id].op) && g->nodes[id].op != IR_OP_BCAST;
    for (int i = 0; i < g->n_outputs; i++) sum_only[g->outputs[i].id] = 0;
    for (IrId r = n - 1; r >= 0; r--) {
        const IrNode *rn = &g->nodes[r];
        if (needed && !needed[r]) continue;
        for (int k = 0; k < rn->n_in; k++) {
            IrId x = rn->in[k];
            read[x] = 1;
            int ok = rn->op == IR_OP_SUM ||
                     (sum_only[r] && rn->op != IR_OP_BCAST && ir_shape_equal(&rn->shape, &g->nodes[x].shape));
            if (!ok) sum_only[x] = 0;
        }
    }
    for (IrId id = 0; id < n; id++) sum_only[id] &= read[id];
    free(read);
    return sum_only;
}

/* pass_fuse's state while it visits the nodes */
typedef struct {
    const IrGraph *g;
    PassFusion *f;
    Group *gr;
    int *reader; /* per node: the last group to read it from outside */
    const char *sum_only;
    int recent[PASS_FUSE_RECENT], n_recent; /* the groups small pointwise vectors joined last, latest first */
} Fuser;

/* the group c joins (merging in others it reads), or a new one; -1 for a node no group takes */
static int choose_group(Fuser *u, IrId c) {
    const IrGraph *g = u->g;
    PassFusion *f = u->f;
    Group *gr = u->gr;
    const IrNode *cn = &g->nodes[c];
    int gi = -1;
    if (!(pass_fuse_pointwise(cn->op) || cn->op == IR_OP_SUM) || cn->dtype != IR_DT_FLOAT) return -1;
    for (int k = 0; k < cn->n_in && gi < 0; k++) {
        IrId p = cn->in[k];
        if (f->group_of[p] >= 0 && may_join(g, f, gr, p, c, u->sum_only)) gi = f->group_of[p];
    }
    for (int k = 0; k < cn->n_in && gi < 0; k++) {
        int r = live_group(gr, u->reader[cn->in[k]]);
        if (r >= 0 && f->group_of[cn->in[k]] < 0 && may_join_sibling(g, f, gr, r, c, u->sum_only)) gi = r;
    }
    /* a small vector joins one of the last groups of small vectors of its shape, even
       unrelated: its loop is all launch and no work (batch norm's moving averages, then
       its scale; a per-channel update beside the gradient's coefficients) */
    for (int k = 0; k < u->n_recent && gi < 0 && small_vector(g, c); k++) {
        int r = live_group(gr, u->recent[k]);
        if (may_join_sibling(g, f, gr, r, c, u->sum_only)) gi = r;
    }
    if (gi < 0) { /* a new group; a sum of an unfused value is a group of one terminal */
        gi = f->n_groups++;
        gr[gi] = (Group){.terminal_shape_src = IR_NONE, .first = c, .merged_into = -1};
    } else {
        for (int k = 0; k < cn->n_in; k++) merge_into(g, f, gr, gi, cn->in[k], c);
    }
    return gi;
}

/* gi to the front of recent */
static void note_recent(Fuser *u, int gi) {
    int k = 0;
    while (k < u->n_recent && live_group(u->gr, u->recent[k]) != gi) k++;
    if (k == u->n_recent && u->n_recent < PASS_FUSE_RECENT) u->n_recent++;
    if (k == PASS_FUSE_RECENT) k--;
    memmove(u->recent + 1, u->recent, (size_t)k * sizeof *u->recent);
    u->recent[0] = gi;
}

/* node c into its group, if any; the groups it reads from outside escape */
static void place_node(Fuser *u, IrId c) {
    const IrNode *cn = &u->g->nodes[c];
    PassFusion *f = u->f;
    Group *gr = u->gr;
    int gi = choose_group(u, c);
    for (int k = 0; k < cn->n_in && cn->op != IR_OP_ASSIGN; k++) /* c reads these groups from outside
        (an assignment reads its value after the step: it does not fix where the group runs) */
        if (f->group_of[cn->in[k]] >= 0 && f->group_of[cn->in[k]] != gi) gr[f->group_of[cn->in[k]]].escaped = 1;
    if (gi < 0) return;
    for (int k = 0; k < cn->n_in; k++)
        if (f->group_of[cn->in[k]] != gi) u->reader[cn->in[k]] = gi;
    f->group_of[c] = gi;
    if (cn->op != IR_OP_SUM && small_vector(u->g, c)) note_recent(u, gi);
    if (!gr[gi].escaped) gr[gi].run = c; /* else a late member */
    gr[gi].n++;
    if (cn->op == IR_OP_SUM && gr[gi].terminal_shape_src == IR_NONE) gr[gi].terminal_shape_src = c;
}

/* drop the groups merged into others: ids in order of the remaining ones */
static int drop_merged(PassFusion *f, Group *gr, int n) {
    int *renum = fn_malloc(((size_t)f->n_groups + 1) * sizeof *renum), kept_groups = 0;
    if (!renum) return -1;
    for (int i = 0; i < f->n_groups; i++) {
        renum[i] = gr[i].n > 0 ? kept_groups : -1;
        if (gr[i].n > 0) gr[kept_groups++] = gr[i];
    }
    for (IrId id = 0; id < n; id++)
        if (f->group_of[id] >= 0) f->group_of[id] = renum[f->group_of[id]];
    f->n_groups = kept_groups;
    free(renum);
    return 0;
}

/* members, group by group, in id order, and where each group runs */
static int list_members(PassFusion *f, const Group *gr, int n) {
    f->run_at = fn_malloc(((size_t)f->n_groups + 1) * sizeof *f->run_at);
    f->start = fn_calloc((size_t)f->n_groups + 1, sizeof *f->start);
    if (!f->run_at || !f->start) return -1;
    for (int i = 0; i < f->n_groups; i++) f->run_at[i] = gr[i].run;
    for (IrId id = 0; id < n; id++)
        if (f->group_of[id] >= 0) f->start[f->group_of[id] + 1]++;
    for (int i = 0; i < f->n_groups; i++) f->start[i + 1] += f->start[i];
    f->members = fn_malloc(((size_t)f->start[f->n_groups] + 1) * sizeof *f->members);
    int *fill = fn_calloc((size_t)f->n_groups + 1, sizeof *fill);
    if (!f->members || !fill) {
        free(fill);
        return -1;
    }
    for (IrId id = 0; id < n; id++)
        if (f->group_of[id] >= 0) f->members[f->start[f->group_of[id]] + fill[f->group_of[id]]++] = id;
    free(fill);
    return 0;
}

/* what must reach memory: terminals, outputs, and members read outside their group; and the counts */
static void mark_written(const IrGraph *g, const char *needed, const char *kept, PassFusion *f) {
    int n = g->n_nodes;
    for (IrId id = 0; id < n; id++) {
        const IrNode *nd = &g->nodes[id];
        if (needed && !needed[id]) continue;
        if (f->group_of[id] >= 0 && nd->op == IR_OP_SUM) f->materialized[id] = 1;
        for (int k = 0; k < nd->n_in; k++) {
            IrId x = nd->in[k];
            if (f->group_of[x] >= 0 && f->group_of[x] != f->group_of[id]) f->materialized[x] = 1;
        }
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (!kept || kept[g->outputs[i].id]) f->materialized[g->outputs[i].id] = 1;
    for (IrId id = 0; id < n; id++) {
        if (f->group_of[id] < 0) continue;
        f->n_fused++;
        if (g->nodes[id].op == IR_OP_SUM) f->n_terminals++;
        if (f->materialized[id]) f->n_written++;
    }
    for (int i = 0; i < f->n_groups; i++) f->n_multi += f->start[i + 1] - f->start[i] > 1;
}

int pass_fuse(const IrGraph *g, const char *needed, const char *kept, PassFusion *f) {
    int n = g->n_nodes;
    memset(f, 0, sizeof *f);
    f->group_of = fn_malloc(((size_t)n + 1) * sizeof *f->group_of);
    f->materialized = fn_calloc((size_t)n + 1, 1);
    Fuser u = {.g = g, .f = f};
    u.gr = fn_malloc(((size_t)n + 1) * sizeof *u.gr);
    u.reader = fn_malloc(((size_t)n + 1) * sizeof *u.reader);
    char *sum_only = find_sum_only(g, needed);
    int rc = f->group_of && f->materialized && u.gr && u.reader && sum_only ? 0 : -1;
    if (rc == 0) {
        for (IrId id = 0; id < n; id++) f->group_of[id] = u.reader[id] = -1;
        u.sum_only = sum_only;
        for (IrId c = 0; c < n; c++)
            if (!needed || needed[c]) place_node(&u, c);
        rc = drop_merged(f, u.gr, n) < 0 || list_members(f, u.gr, n) < 0 ? -1 : 0;
    }
    if (rc == 0) mark_written(g, needed, kept, f);
    free(u.gr);
    free(u.reader);
    free(sum_only);
    if (rc < 0) pass_fusion_free(f); /* out of memory */
    return rc;
}

IrId pass_fuse_domain(const IrGraph *g, const PassFusion *f, int gi) {
    IrId first = f->members[f->start[gi]];
    return g->nodes[first].op == IR_OP_SUM ? g->nodes[first].in[0] : first;
}

int pass_fuse_member(const PassFusion *f, int gi, IrId x) {
    for (int k = f->start[gi]; k < f->start[gi + 1]; k++)
        if (f->members[k] == x) return k - f->start[gi];
    return -1;
}

int64_t pass_fuse_inner(const IrGraph *g, const PassFusion *f, int gi, const int64_t *numel) {
    int64_t domain = numel[pass_fuse_domain(g, f, gi)], inner = 0;
    for (int k = f->start[gi]; k < f->start[gi + 1]; k++) {
        const IrNode *nd = &g->nodes[f->members[k]];
        for (int i = 0; i <= nd->n_in; i++) { /* the operands from outside, then a sum's own length */
            int64_t m = i < nd->n_in ? (f->group_of[nd->in[i]] == gi ? 0 : numel[nd->in[i]])
                                     : (nd->op == IR_OP_SUM ? numel[f->members[k]] : 0);
            if (m <= 1 || m >= domain) continue;
            if (inner && inner != m) return -1;
            inner = m;
        }
    }
    return inner;
}

int64_t pass_fuse_lanes(const IrGraph *g, const PassFusion *f, int gi, const int64_t *numel) {
    int64_t domain = numel[pass_fuse_domain(g, f, gi)];
    int scalar_sum = 0;
    for (int k = f->start[gi]; k < f->start[gi + 1]; k++)
        scalar_sum |= g->nodes[f->members[k]].op == IR_OP_SUM && numel[f->members[k]] == 1;
    return scalar_sum && pass_fuse_inner(g, f, gi, numel) == 0 && domain >= PASS_FUSE_LANES &&
                   domain % PASS_FUSE_LANES == 0
               ? PASS_FUSE_LANES
               : 1;
}

int pass_fuse_slot(const PassFuseLayout *lay, IrId x, int result) {
    for (int s = 0; s < lay->n_slots; s++)
        if (lay->slot_node[s] == x && (lay->slot_kind[s] == PASS_SLOT_OUT || lay->slot_kind[s] == PASS_SLOT_SUM) == result)
            return s;
    return -1;
}

int pass_fuse_layout(const IrGraph *g, const PassFusion *f, int gi, const int64_t *numel, PassFuseLayout *lay) {
    const IrId *mem = f->members + f->start[gi];
    const int nm = f->start[gi + 1] - f->start[gi];
    const int64_t domain = numel[pass_fuse_domain(g, f, gi)];
    memset(lay, 0, sizeof *lay);
    if ((lay->inner = pass_fuse_inner(g, f, gi, numel)) < 0) return -1; /* two row lengths */
    lay->lanes = pass_fuse_lanes(g, f, gi, numel);
    for (int k = 0; k < nm; k++) {
        const IrNode *nd = &g->nodes[mem[k]];
        for (int i = 0; i < nd->n_in; i++) {
            IrId x = nd->in[i];
            if (f->group_of[x] == gi || pass_fuse_slot(lay, x, 0) >= 0) continue;
            int64_t m = numel[x];
            lay->slot_node[lay->n_slots] = x; /* a suffix has m == inner */
            lay->slot_kind[lay->n_slots++] = m == domain ? PASS_SLOT_FULL : m == 1 ? PASS_SLOT_SCALAR : PASS_SLOT_SUFFIX;
        }
        if (f->materialized[mem[k]]) {
            lay->slot_node[lay->n_slots] = mem[k];
            lay->slot_kind[lay->n_slots++] = nd->op == IR_OP_SUM ? PASS_SLOT_SUM : PASS_SLOT_OUT;
        }
    }
    return 0;
}

/* The position a value is ready at: its group's run_at, or its own (sources: before all). */
static IrId ready_at(const IrGraph *g, const PassFusion *f, IrId x) {
    if (ir_op_info[g->nodes[x].op].cls == IR_CLASS_SOURCE) return -1;
    return f->group_of[x] >= 0 ? f->run_at[f->group_of[x]] : x;
}

int pass_fuse_epilogue(const IrGraph *g, const PassFusion *f, IrId c, const int64_t *numel, int64_t channels) {
    const IrNode *cn = &g->nodes[c];
    if (!f->n_groups || f->group_of[c] >= 0 || cn->dtype != IR_DT_FLOAT) return -1;
    int gi = -1;
    for (IrId r = c + 1; r < g->n_nodes && gi < 0; r++) /* the group of c's first fused reader */
        for (int k = 0; k < g->nodes[r].n_in; k++)
            if (g->nodes[r].in[k] == c && f->group_of[r] >= 0) gi = f->group_of[r];
    if (gi < 0 || f->run_at[gi] < c) return -1;
    if (!ir_shape_equal(&g->nodes[pass_fuse_domain(g, f, gi)].shape, &cn->shape)) return -1;
    int64_t inner = pass_fuse_inner(g, f, gi, numel);
    if (inner < 0 || (inner > 0 && (channels <= 0 || channels % inner))) return -1;
    for (int k = f->start[gi]; k < f->start[gi + 1]; k++) {
        const IrNode *m = &g->nodes[f->members[k]];
        if (m->op == IR_OP_SUM) return -1; /* sums add up chunks in order, after all of them */
        for (int i = 0; i < m->n_in; i++) {
            IrId x = m->in[i];
            if (x != c && f->group_of[x] != gi && ready_at(g, f, x) >= c) return -1;
        }
    }
    return gi;
}
