/* See plan.h. */
#include "runtime/core/plan.h"

#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"


int rt_plan_output(const IrGraph *g, const char *name) {
    for (int i = 0; i < g->n_outputs; i++)
        if (strcmp(ir_str(g, g->outputs[i].name), name) == 0) return i;
    return -1;
}

void rt_plan_axis(const RtPlan *p, IrId id, int ax, int64_t *outer, int64_t *inner) {
    *outer = *inner = 1;
    for (int k = 0; k < ax; k++) *outer *= p->dims[id][k];
    for (int k = ax + 1; k < p->rank[id]; k++) *inner *= p->dims[id][k];
}

int64_t rt_plan_width(const RtPlan *p, IrId id) { return p->rank[id] ? p->dims[id][p->rank[id] - 1] : 1; }

void rt_plan_window(const RtPlan *p, IrId id, RefWindow *win) {
    const IrNode *n = &p->g->nodes[id];
    const IrWindowAttr *w = &n->attr.u.window;
    /* the NHWC tensor the window slides over, and the output channels for convolutions */
    const int64_t *x;
    int o = 0;
    switch (n->op) {
    case IR_OP_CONV2D: x = p->dims[n->in[0]]; o = (int)p->dims[id][3]; break;
    case IR_OP_CONV2D_BWD_DATA: x = p->dims[id]; o = (int)p->dims[n->in[0]][3]; break;
    case IR_OP_CONV2D_BWD_FILTER: x = p->dims[n->in[0]]; o = (int)p->dims[n->in[1]][3]; break;
    case IR_OP_AVGPOOL_GRAD: x = p->dims[id]; break;
    default: x = p->dims[n->in[0]]; break;
    }
    int kh = w->kh, kw = w->kw, sh = w->sh, sw = w->sw;
    if ((n->op == IR_OP_AVGPOOL || n->op == IR_OP_AVGPOOL_GRAD) && kh == 0) {
        kh = (int)x[1];
        kw = (int)x[2];
        sh = sw = 1;
    }
    ref_window_init(win, (int)x[0], (int)x[1], (int)x[2], (int)x[3], kh, kw, sh, sw, w->same, o);
}

/* Liveness-based memory planning. Walking the nodes in execution order, a node takes the
 * smallest free block that fits (a block is free once the last reader of its occupant has run;
 * never one of the node's own inputs), or a new block. Inputs and constants, written before
 * the step, get blocks of their own; requested outputs and assigned values stay to its end.
 * With fusion, a group's members run (and take their blocks) at its run_at, members that stay
 * in registers take none, and a reshape shares its input's block. */
typedef struct {
    int *busy;  /* per block: the last time its occupant is read */
    int *start; /* per block: when it is first written (the slab packing's lifetimes) */
    int cap;
    int pack;   /* one block per value (and the values sharing it), packed into a slab after */
    char *host; /* per block: some view lies in it */
} Blocks;

/* twice the blocks' room; -1 when out of memory (the arrays as they were) */
static int grow_blocks(RtPlan *p, Blocks *bl) {
    int cap = 2 * bl->cap;
    int *busy = fn_realloc(bl->busy, (size_t)cap * sizeof(int));
    if (busy) bl->busy = busy;
    int *start = busy ? fn_realloc(bl->start, (size_t)cap * sizeof(int)) : NULL;
    if (start) bl->start = start;
    size_t *bytes = start ? fn_realloc(p->block_bytes, (size_t)cap * sizeof(size_t)) : NULL;
    if (bytes) p->block_bytes = bytes;
    char *host = bytes ? fn_realloc(bl->host, (size_t)cap) : NULL;
    if (!host) return -1;
    memset(host + bl->cap, 0, (size_t)(cap - bl->cap));
    bl->host = host;
    bl->cap = cap;
    return 0;
}

static int place(RtPlan *p, Blocks *bl, IrId id, int t, int until, int whole_step) {
    size_t need = (size_t)(p->numel[id] ? p->numel[id] : 1) * p->esize[id];
    int best = -1;
    for (int b = 0; b < p->n_blocks && !whole_step && !bl->pack; b++)
        if (bl->busy[b] < t && p->block_bytes[b] >= need && (best < 0 || p->block_bytes[b] < p->block_bytes[best]))
            best = b;
    if (best < 0) {
        if (p->n_blocks == bl->cap && grow_blocks(p, bl) < 0) return -1;
        best = p->n_blocks++;
        p->block_bytes[best] = need;
        bl->start[best] = whole_step ? -1 : t;
    }
    bl->busy[best] = until < 0 ? t : until;
    p->block_of[id] = best;
    return 0;
}

/* In place: the k-th member of the group run at time t may write over the block of an operand
 * the group reads from outside (by this member or an earlier one: every loop reads an element's
 * operands before it writes that element's results) when this group is the operand's last
 * reader, the operand covers the whole domain (so each element is read, then written, at the same
 * index within a tile), and no later member reads that block. A convolution's output read by a
 * group's first member and written over by its last (bias, then ReLU) is the common case. A
 * convolution's epilogue (run_at not a member) never writes over a block the convolution reads:
 * it runs while the convolution still reads other rows (a reshape shares its input's block, so
 * node ids alone would not tell); nor does a tail (PassFusion.tail) over a block the group it runs
 * in reads. */
static int reads_block(const RtPlan *p, IrId id, int b) {
    for (int i = 0; i < p->g->nodes[id].n_in; i++)
        if (p->block_of[p->g->nodes[id].in[i]] == b) return 1;
    return 0;
}
/* whether what runs at `at` reads block b: the node, or the group it belongs to (a tail's host:
   the tail may still write over the host's sums, which the thread finishing an element's sums
   writes before it reads them) */
static int runs_reading(const RtPlan *p, IrId at, int b) {
    const PassFusion *f = &p->fusion;
    int ga = f->group_of[at];
    if (ga < 0) return reads_block(p, at, b);
    for (int k = f->start[ga]; k < f->start[ga + 1]; k++)
        if (reads_block(p, f->members[k], b)) return 1;
    return 0;
}
static int in_place_block(const RtPlan *p, const Blocks *bl, const int *last, int k, int t) {
    const PassFusion *f = &p->fusion;
    const IrGraph *g = p->g;
    IrId m = f->members[k];
    int gi = f->group_of[m];
    IrId at = f->run_at[gi];
    const int epilogue = f->group_of[at] != gi;
    for (int j = f->start[gi]; j <= k; j++) {
        const IrNode *nd = &g->nodes[f->members[j]];
        for (int i = 0; i < nd->n_in; i++) {
            IrId x = nd->in[i];
            int b = p->block_of[x];
            if (f->group_of[x] == gi || b < 0 || p->view_of[x] != IR_NONE || bl->host[b] || last[x] != t ||
                bl->busy[b] != t || p->numel[x] != p->numel[m] ||
                p->esize[x] != p->esize[m] || p->block_bytes[b] < (size_t)p->numel[m] * p->esize[m] ||
                (epilogue && runs_reading(p, at, b)))
                continue;
            int later = 0;
            for (int l = k + 1; l < f->start[gi + 1] && !later; l++)
                for (int q = 0; q < g->nodes[f->members[l]].n_in; q++)
                    later |= p->block_of[g->nodes[f->members[l]].in[q]] == b;
            if (!later) return b;
        }
    }
    return -1;
}

/* Offsets in one slab for blocks with lifetimes [start, busy + slack]: largest first, each at the
 * lowest offset clear of every placed block alive at the same time (the usual arena packing; it comes
 * close to the peak of live bytes, where reusing whole blocks wasted a third). */
static size_t padded(const RtPlan *p, int b) { return (p->block_bytes[b] + 63) & ~(size_t)63; }

/* qsort_r comparators (plans are built in several threads at once: no shared state) */
static int by_size_desc(const void *x, const void *y, void *plan) {
    const RtPlan *p = plan;
    int a = *(const int *)x, b = *(const int *)y;
    size_t sa = p->block_bytes[a], sb = p->block_bytes[b];
    return sa != sb ? (sa < sb ? 1 : -1) : a - b; /* ties by index: deterministic */
}
static int by_offset(const void *x, const void *y, void *plan) {
    const RtPlan *p = plan;
    size_t a = p->block_off[*(const int *)x], b = p->block_off[*(const int *)y];
    return a != b ? (a < b ? -1 : 1) : 0;
}

static int pack_slab(RtPlan *p, const Blocks *bl, int slack) {
    int nb = p->n_blocks;
    int *order = fn_malloc(((size_t)nb + 1) * sizeof *order), *live = fn_malloc(((size_t)nb + 1) * sizeof *live);
    p->block_off = fn_calloc((size_t)nb + 1, sizeof *p->block_off);
    if (!order || !live || !p->block_off) {
        free(order);
        free(live);
        return -1;
    }
    for (int b = 0; b < nb; b++) order[b] = b;
    qsort_r(order, (size_t)nb, sizeof *order, by_size_desc, p);
    size_t total = 0;
    for (int i = 0; i < nb; i++) {
        int b = order[i], n_live = 0;
        for (int k = 0; k < i; k++) { /* placed blocks alive at the same time, by offset */
            int q = order[k];
            if (bl->start[q] <= bl->busy[b] + slack && bl->start[b] <= bl->busy[q] + slack) live[n_live++] = q;
        }
        qsort_r(live, (size_t)n_live, sizeof *live, by_offset, p);
        size_t off = 0, size = padded(p, b);
        for (int k = 0; k < n_live && p->block_off[live[k]] < off + size; k++) { /* first gap that fits */
            size_t end = p->block_off[live[k]] + padded(p, live[k]);
            if (end > off) off = end;
        }
        p->block_off[b] = off;
        if (off + size > total) total = off + size;
    }
    p->slab_bytes = total;
    free(order);
    free(live);
    return 0;
}

/* Assignments whose new value a fused loop can write straight into the variable: the value is
 * a materialized member covering the group's whole domain, as large as the variable, assigned
 * once; the variable is the target of this one assignment and the source of none (the copies
 * at the step's end read the values from before the step); every reader of the variable's old
 * value outside the group runs before the group (pos: when each node runs), and inside the
 * group none after that member (a member reading it reads the same index first, as with
 * in_place_block) unless reads_first: the executor's loops read every operand element before
 * they write any (the GPU's kernels, RT_PLAN_READS_FIRST). */
static int assign_in_place(RtPlan *p, const int *pos, int reads_first) {
    const IrGraph *g = p->g;
    const PassFusion *f = &p->fusion;
    const int n = p->n;
    int *uses = fn_calloc((size_t)n + 1, sizeof *uses); /* per variable: assignments to or from it */
    IrId *src_of = fn_malloc(((size_t)n + 1) * sizeof *src_of); /* per variable: its candidate value */
    if (!uses || !src_of) {
        free(uses);
        free(src_of);
        return -1;
    }
    for (IrId a = 0; a < n; a++) {
        src_of[a] = IR_NONE;
        if (p->needed[a] && g->nodes[a].op == IR_OP_ASSIGN) {
            uses[g->nodes[a].in[0]]++;
            if (g->nodes[a].in[1] != g->nodes[a].in[0]) uses[g->nodes[a].in[1]]++;
        }
    }
    for (IrId a = 0; a < n; a++) { /* candidates, by shape alone */
        const IrNode *an = &g->nodes[a];
        if (!p->needed[a] || an->op != IR_OP_ASSIGN) continue;
        IrId var = an->in[0], src = an->in[1];
        int gi = f->group_of[src];
        if (uses[var] != 1 || gi < 0 || !f->materialized[src] || p->assign_to[src] != IR_NONE ||
            p->numel[src] != p->numel[var] || p->esize[src] != p->esize[var] ||
            p->numel[src] != p->numel[pass_fuse_domain(g, f, gi)])
            continue;
        src_of[var] = src;
        p->assign_to[src] = var; /* claimed; withdrawn below if a reader forbids it */
    }
    for (IrId v = 0; v < n; v++) /* a view, or a value holding views, keeps its block */
        if (p->view_of[v] != IR_NONE) p->assign_to[v] = p->assign_to[p->view_of[v]] = IR_NONE;
    for (IrId r = 0; r < n; r++) { /* every reader of a candidate's old value */
        const IrNode *rn = &g->nodes[r];
        if (!p->needed[r] || rn->op == IR_OP_ASSIGN) continue;
        for (int i = 0; i < rn->n_in; i++) {
            IrId var = rn->in[i], src = src_of[var];
            if (src == IR_NONE) continue;
            int same = f->group_of[r] == f->group_of[src]; /* members run in id order */
            if (same ? r > src && !reads_first : pos[r] >= pos[src]) p->assign_to[src] = IR_NONE;
        }
    }
    free(uses);
    free(src_of);
    return 0;
}

/* When each node runs (pos: a group's members at its run_at) and when its value is last read
 * (last; `forever` for what must last the step). */
static void lifetimes(const RtPlan *p, int *last, int *pos) {
    const IrGraph *g = p->g;
    const PassFusion *f = &p->fusion;
    const int n = p->n, forever = n;
    for (IrId id = 0; id < n; id++) {
        last[id] = -1;
        pos[id] = f->n_groups && f->group_of[id] >= 0 ? f->run_at[f->group_of[id]] : id;
    }
    for (IrId id = 0; id < n; id++)
        if (p->needed[id])
            for (int k = g->nodes[id].op == IR_OP_ASSIGN; k < g->nodes[id].n_in; k++) { /* not its destination */
                IrId x = g->nodes[id].in[k];
                int gi = f->n_groups ? f->group_of[id] : -1, inside = gi >= 0 && f->group_of[x] == gi;
                /* a tail reads its host's sums after the host has written them all, at the same
                   position: as if one later, so that no other of the host's values goes there */
                int at = pos[id] + (gi >= 0 && f->tail && f->group_of[f->run_at[gi]] != gi);
                if (!inside && at > last[x]) last[x] = at;
            }
    for (IrId id = 0; id < n; id++) { /* pins, after every reader is known */
        const IrNode *nd = &g->nodes[id];
        if (!p->needed[id]) continue;
        if (nd->op == IR_OP_INPUT || nd->op == IR_OP_CONST) last[id] = forever;
        if (nd->op == IR_OP_ASSIGN) last[nd->in[1]] = forever; /* copied after the step */
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (p->kept[g->outputs[i].id]) last[g->outputs[i].id] = forever;
}

/* View id in its host's block (placed now at t if it has none yet: the first of a concat's
   operands), which then lasts to the view's last reader too. */
static int place_view(RtPlan *p, Blocks *bl, const int *last, IrId id, int t) {
    IrId h = p->view_of[id];
    if (p->block_of[h] < 0 && place(p, bl, h, t, last[h], 0) < 0) return -1;
    int b = p->block_of[h];
    p->block_of[id] = b;
    bl->host[b] = 1;
    if (last[id] > bl->busy[b]) bl->busy[b] = last[id];
    return 0;
}

/* Group gi's materialized members' blocks, taken when it runs at t. */
static int place_group(RtPlan *p, Blocks *bl, const int *last, int gi, int t) {
    const PassFusion *f = &p->fusion;
    for (int k = f->start[gi]; k < f->start[gi + 1]; k++) {
        IrId m = f->members[k];
        if (!f->materialized[m] || p->assign_to[m] != IR_NONE) continue;
        if (p->view_of[m] != IR_NONE) {
            if (place_view(p, bl, last, m, t) < 0) return -1;
            continue;
        }
        int b = in_place_block(p, bl, last, k, t);
        if (b >= 0) {
            p->block_of[m] = b;
            bl->busy[b] = last[m] < 0 ? t : last[m];
        } else if (place(p, bl, m, t, last[m], 0) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Every needed value's block, by liveness (see above); 0, or -1 when out of memory. A group
 * whose run_at is not one of its members (a convolution's epilogue: pass_fuse_epilogue) takes
 * its blocks right after that node's. */
static int place_values(RtPlan *p, Blocks *bl, const int *last, const int *pos, int *epilogue_at) {
    const IrGraph *g = p->g;
    const PassFusion *f = &p->fusion;
    const int n = p->n;
    p->n_blocks = 0;
    for (IrId id = 0; id < n; id++) p->block_of[id] = -1, epilogue_at[id] = -1;
    for (int e = 0; e < f->n_groups; e++) /* one group at most runs at a node outside it (an epilogue, a tail) */
        if (f->group_of[f->run_at[e]] != e) epilogue_at[f->run_at[e]] = e;
    for (IrId id = 0; id < n; id++) {
        const IrNode *nd = &g->nodes[id];
        if (!p->needed[id] || nd->op == IR_OP_PARAM || nd->op == IR_OP_STATE || nd->op == IR_OP_ASSIGN)
            continue;
        int gi = f->n_groups ? f->group_of[id] : -1;
        if (gi >= 0) {
            if (pos[id] == id && place_group(p, bl, last, gi, id) < 0) return -1; /* at its run_at */
            if (pos[id] == id && epilogue_at[id] >= 0 && place_group(p, bl, last, epilogue_at[id], id) < 0) return -1;
            continue;
        }
        IrId x = nd->n_in ? nd->in[0] : IR_NONE;
        if (p->view_of[id] != IR_NONE) { /* a slice in its operand's block */
            if (place_view(p, bl, last, id, id) < 0) return -1;
            continue;
        }
        if (p->block_of[id] >= 0) { /* a concat, placed with its first operand that is a view */
            int b = p->block_of[id];
            if (last[id] > bl->busy[b]) bl->busy[b] = last[id];
            continue;
        }
        if (f->n_groups && nd->op == IR_OP_RESHAPE && p->block_of[x] >= 0) {
            int b = p->block_of[x];
            p->block_of[id] = b;
            if (last[id] > bl->busy[b]) bl->busy[b] = last[id];
            continue;
        }
        if (place(p, bl, id, id, last[id], nd->op == IR_OP_INPUT || nd->op == IR_OP_CONST) < 0) return -1;
        if (epilogue_at[id] >= 0 && place_group(p, bl, last, epilogue_at[id], id) < 0) return -1;
    }
    return 0;
}

static int plan_blocks(RtPlan *p, int assign, int reads_first, int slack) {
    int n = p->n;
    Blocks bl = {.cap = 64, .pack = p->fusion.n_groups > 0};
    int *last = fn_malloc((size_t)n * sizeof *last + 1), *pos = fn_malloc((size_t)n * sizeof *pos + 1);
    int *epilogue_at = fn_malloc((size_t)n * sizeof *epilogue_at + 1);
    bl.busy = fn_malloc((size_t)bl.cap * sizeof(int));
    bl.start = fn_malloc((size_t)bl.cap * sizeof(int));
    bl.host = fn_calloc((size_t)bl.cap, 1);
    p->block_bytes = fn_malloc((size_t)bl.cap * sizeof(size_t));
    int rc = last && pos && epilogue_at && bl.busy && bl.start && bl.host && p->block_bytes ? 0 : -1;
    if (rc == 0) lifetimes(p, last, pos);
    if (rc == 0 && assign) rc = assign_in_place(p, pos, reads_first);
    if (rc == 0) rc = place_values(p, &bl, last, pos, epilogue_at);
    if (rc == 0 && p->fusion.n_groups) rc = pack_slab(p, &bl, slack);
    free(last);
    free(pos);
    free(epilogue_at);
    free(bl.busy);
    free(bl.start);
    free(bl.host);
    return rc;
}

int rt_plan_values(RtPlan *p, const IrGraph *g, const int64_t *sym, const char *const *want, int n_want,
                   int run_effects, int prec, int flags, RtStatus *st) {
    const int fuse = flags & RT_PLAN_FUSE;
    memset(p, 0, sizeof *p);
    int n = g->n_nodes;
    p->g = g;
    p->n = n;
    p->dims = fn_calloc((size_t)n + 1, sizeof *p->dims);
    p->rank = fn_calloc((size_t)n + 1, sizeof *p->rank);
    p->numel = fn_calloc((size_t)n + 1, sizeof *p->numel);
    p->esize = fn_calloc((size_t)n + 1, sizeof *p->esize);
    p->needed = fn_calloc((size_t)n + 1, 1);
    p->kept = fn_calloc((size_t)n + 1, 1);
    p->block_of = fn_calloc((size_t)n + 1, sizeof *p->block_of);
    p->assign_to = fn_malloc(((size_t)n + 1) * sizeof *p->assign_to);
    p->view_of = fn_malloc(((size_t)n + 1) * sizeof *p->view_of);
    p->view_at = fn_calloc((size_t)n + 1, sizeof *p->view_at);
    p->row_stride = fn_calloc((size_t)n + 1, sizeof *p->row_stride);
    if (!p->dims || !p->rank || !p->numel || !p->esize || !p->needed || !p->kept || !p->block_of || !p->assign_to ||
        !p->view_of || !p->view_at || !p->row_stride) {
        rt_plan_free(p);
        return rt_fail(st, "out of memory planning the graph");
    }
    for (IrId id = 0; id <= n; id++) p->assign_to[id] = p->view_of[id] = IR_NONE;
    /* what the requested outputs and effects need */
    if (n_want == 0)
        for (int i = 0; i < g->n_outputs; i++) p->kept[g->outputs[i].id] = 1;
    for (int i = 0; i < n_want; i++) {
        int k = rt_plan_output(g, want[i]);
        if (k < 0) {
            rt_plan_free(p);
            return rt_fail(st, "the graph has no output named '%s'", want[i]);
        }
        p->kept[g->outputs[k].id] = 1;
    }
    memcpy(p->needed, p->kept, (size_t)n);
    if (run_effects)
        for (int i = 0; i < g->n_effects; i++) p->needed[g->effects[i]] = 1;
    for (IrId id = n - 1; id >= 0; id--)
        if (p->needed[id])
            for (int k = 0; k < g->nodes[id].n_in; k++) p->needed[g->nodes[id].in[k]] = 1;
    for (IrId id = 0; id < n; id++) {
        const IrNode *nd = &g->nodes[id];
        p->rank[id] = nd->shape.rank;
        for (int k = 0; k < nd->shape.rank; k++) {
            p->dims[id][k] = ir_dim_eval(g, nd->shape.d[k], sym);
            if (p->dims[id][k] < 1 && p->needed[id]) {
                char sh[256];
                ir_shape_format(g, &nd->shape, sh, sizeof sh);
                rt_fail(st, "%s at %s: shape %s has a dimension of %lld at these sizes (is the input image too small?)",
                        ir_op_info[nd->op].name, ir_str(g, nd->scope), sh, (long long)p->dims[id][k]);
                rt_plan_free(p);
                return -1;
            }
        }
        p->numel[id] = ir_numel(p->dims[id], p->rank[id]);
        p->esize[id] = nd->dtype == IR_DT_INT32 ? 4 : (size_t)prec;
        if (!p->needed[id]) continue;
        if (p->numel[id] < 0) { /* ir_numel: over IR_MAX_NUMEL elements at these sizes */
            char sh[256];
            ir_shape_format(g, &nd->shape, sh, sizeof sh);
            const char *scope = ir_str(g, nd->scope);
            rt_fail(st, "%s%s%s: shape %s has more than %lld elements at these sizes (a batch or image size too large?)",
                    ir_op_info[nd->op].name, scope[0] ? " at " : "", scope, sh, (long long)IR_MAX_NUMEL);
            rt_plan_free(p);
            return -1;
        }
        if (nd->op == IR_OP_RESHAPE && p->numel[id] != p->numel[nd->in[0]]) {
            rt_fail(st, "reshape at %s: %lld elements into %lld", ir_str(g, nd->scope), (long long)p->numel[nd->in[0]],
                    (long long)p->numel[id]);
            rt_plan_free(p);
            return -1;
        }
    }
    if (fuse && pass_fuse(g, p->needed, p->kept, &p->fusion) < 0) {
        rt_plan_free(p);
        return rt_fail(st, "out of memory fusing the graph");
    }
    return 0;
}

int rt_plan_memory(RtPlan *p, int flags, RtStatus *st) {
    if (plan_blocks(p, (flags & RT_PLAN_FUSE) && (flags & RT_PLAN_ASSIGN), !!(flags & RT_PLAN_READS_FIRST), flags >> 8) < 0) {
        rt_plan_free(p);
        return rt_fail(st, "out of memory planning the step's memory");
    }
    return 0;
}

int rt_plan_build(RtPlan *p, const IrGraph *g, const int64_t *sym, const char *const *want, int n_want,
                  int run_effects, int prec, int flags, RtStatus *st) {
    if (rt_plan_values(p, g, sym, want, n_want, run_effects, prec, flags, st) < 0) return -1;
    return rt_plan_memory(p, flags, st);
}

void rt_plan_free(RtPlan *p) {
    free(p->dims);
    free(p->rank);
    free(p->numel);
    free(p->esize);
    free(p->needed);
    free(p->kept);
    free(p->block_of);
    free(p->assign_to);
    free(p->view_of);
    free(p->view_at);
    free(p->row_stride);
    free(p->block_bytes);
    free(p->block_off);
    pass_fusion_free(&p->fusion);
    memset(p, 0, sizeof *p);
}
