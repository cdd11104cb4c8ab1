/* The CPU executor's fused groups (passes/fuse.c), written once for both precisions: included
 * by exec.c with `real` = float / double and SFX(name) = name##_f32 / name##_f64.
 *
 * A group's domain (its members' shape, N elements) is cut into chunks of a fixed size, which
 * the threads share; a chunk is walked in tiles of FUSE_TILE elements. In a tile every member
 * is computed in turn, into its own output (a materialized member) or a tile buffer (one that
 * stays inside the group). Operands of the domain's shape are read in place; smaller (suffix)
 * operands are expanded into the tile first. Terminal sums accumulate per chunk, and the
 * chunks' partial sums are added in chunk order afterwards: the result does not depend on the
 * number of threads, and each partial sum runs in the reference's order. */

static const real *SFX(fused_operand)(CpuExec *ex, IrId x, int gi, real *const *tile, int64_t i0, int64_t len,
                                      int64_t domain, real *fill) {
    if (ex->plan.fusion.group_of[x] == gi) return tile[ex->slot[x]];
    const real *src = ex->buf[x];
    int64_t m = ex->numel[x];
    if (m == domain) return src + i0;
    if (m == 1) { /* a scalar */
        for (int64_t t = 0; t < len; t++) fill[t] = src[0];
        return fill;
    }
    for (int64_t t = 0, j = i0 % m; t < len; j = 0) { /* runs of the suffix, copied whole */
        int64_t run = m - j < len - t ? m - j : len - t;
        memcpy(fill + t, src + j, (size_t)run * sizeof(real));
        t += run;
    }
    return fill;
}

/* y[0..n) = op(a, b), every operand dense: ir/pointwise.def's functions (exec_kernels.h
 * instantiates them); BCAST is SCALE by its mean factor. */
static void SFX(fused_op)(const IrNode *nd, int64_t n, real *restrict y, const real *restrict a,
                          const real *restrict b, double sd) {
    const real s = (real)sd; /* as the reference applies it; POWS takes the double */
    switch (nd->op) {
#define IR_PW1(e, expr)                                                                            \
    case IR_OP_##e:                                                                                \
        for (int64_t i = 0; i < n; i++) y[i] = SFX(pw_##e)(a[i], s, sd);                           \
        break;
#define IR_PW2(e, expr)                                                                            \
    case IR_OP_##e:                                                                                \
        for (int64_t i = 0; i < n; i++) y[i] = SFX(pw_##e)(a[i], b[i]);                            \
        break;
#include "ir/pointwise.def"
#undef IR_PW1
#undef IR_PW2
    case IR_OP_BCAST: for (int64_t i = 0; i < n; i++) y[i] = SFX(pw_SCALE)(a[i], s, sd); break;
    default: break; /* pass_fuse_pointwise admits no other op */
    }
}

/* The scalar an op applies: SCALE/ADDS/POWS's attribute, or BCAST's mean factor (computed in
 * real, as the reference does). */
static double SFX(fused_scalar)(const CpuExec *ex, IrId id) {
    const IrNode *nd = &ex->g->nodes[id];
    if (nd->op == IR_OP_BCAST)
        return nd->attr.u.reduce.mean ? (double)((real)ex->numel[nd->in[0]] / (real)ex->numel[id]) : 1;
    return nd->attr.u.scalar.f;
}

/* Chunk c of group gi through its LLVM kernel: the pointer slots offset to the chunk. */
static void SFX(run_chunk_jit)(CpuExec *ex, int gi, int64_t c, int64_t c0, int64_t c1) {
    const RtJit *j = &ex->jit;
    const RtGroupRun *gr = &ex->group_run[gi];
    void *p[PASS_MAX_SLOTS];
    for (int s = 0, r = 0; s < j->n_slots[gi]; s++) {
        IrId x = j->slot_node[j->slot0[gi] + s];
        real *b = ex->buf[x];
        switch (j->slot_kind[j->slot0[gi] + s]) {
        case PASS_SLOT_FULL:
        case PASS_SLOT_OUT: p[s] = b + c0; break;
        case PASS_SLOT_SUM: {
            real *acc = (real *)ex->partials + ((size_t)r++ * (size_t)gr->n_chunks + (size_t)c) * (size_t)gr->reduce_len;
            memset(acc, 0, (size_t)gr->reduce_len * sizeof(real));
            p[s] = acc;
            break;
        }
        default: p[s] = b; break; /* suffix and scalar operands: from their start */
        }
    }
    int64_t inner = j->inner[gi];
    j->fns[j->kernel[gi]](inner ? (c1 - c0) / inner : 1, inner ? inner : c1 - c0, p);
}

/* Chunk c (elements c0..c1) of group gi, interpreted: member by member over tiles of FUSE_TILE
 * elements. */
static void SFX(run_chunk)(CpuExec *ex, int gi, int64_t c, int64_t c0, int64_t c1, int worker) {
    const PassFusion *f = &ex->plan.fusion;
    const IrId *mem = f->members + f->start[gi];
    const int nm = f->start[gi + 1] - f->start[gi];
    const RtGroupRun *gr = &ex->group_run[gi];
    const int64_t domain = gr->domain;
    real *part = ex->partials;
    real *area = (real *)ex->tiles + (size_t)worker * ex->tile_stride;
    real *fill_a = area, *fill_b = area + FUSE_TILE;
    real *tile[PASS_FUSE_MAX_GROUP];
    for (int r = 0; r < gr->n_terminals; r++)
        memset(part + ((size_t)r * (size_t)gr->n_chunks + (size_t)c) * (size_t)gr->reduce_len, 0,
               (size_t)gr->reduce_len * sizeof(real));
    for (int64_t i0 = c0; i0 < c1; i0 += FUSE_TILE) {
        const int64_t len = c1 - i0 < FUSE_TILE ? c1 - i0 : FUSE_TILE;
        for (int k = 0, r = 0; k < nm; k++) {
            const IrNode *nd = &ex->g->nodes[mem[k]];
            if (nd->op == IR_OP_SUM) { /* terminal: y[j] += x[i], j = i mod reduce_len */
                const real *x = SFX(fused_operand)(ex, nd->in[0], gi, tile, i0, len, domain, fill_a);
                real *acc = part + ((size_t)r++ * (size_t)gr->n_chunks + (size_t)c) * (size_t)gr->reduce_len;
                int64_t rl = gr->reduce_len, j = i0 % rl;
                if (rl == 1)
                    for (int64_t t = 0; t < len; t++) acc[0] += x[t];
                else
                    for (int64_t t = 0; t < len;) {
                        int64_t run = rl - j < len - t ? rl - j : len - t;
                        for (int64_t u = 0; u < run; u++) acc[j + u] += x[t + u];
                        t += run;
                        j = 0;
                    }
                continue;
            }
            tile[k] = f->materialized[mem[k]] ? (real *)ex->buf[mem[k]] + i0 : area + (size_t)(2 + k) * FUSE_TILE;
            const real *a = SFX(fused_operand)(ex, nd->in[0], gi, tile, i0, len, domain, fill_a);
            const real *b = nd->n_in > 1 ? SFX(fused_operand)(ex, nd->in[1], gi, tile, i0, len, domain, fill_b) : NULL;
            /* in place (the plan gave the member an input's block): compute aside, then copy,
               since fused_op's operands are restrict */
            real *dst = a == tile[k] || b == tile[k] ? area + (size_t)(2 + k) * FUSE_TILE : tile[k];
            SFX(fused_op)(nd, len, dst, a, b, SFX(fused_scalar)(ex, mem[k]));
            if (dst != tile[k]) memcpy(tile[k], dst, (size_t)len * sizeof(real));
        }
    }
}

/* Elements c0..c1 of group gi (chunk c of its sums) through its LLVM kernel where built, else
 * interpreted. */
static void SFX(run_range)(CpuExec *ex, int gi, int64_t c, int64_t c0, int64_t c1, int worker) {
    if (ex->jit.kernel && ex->jit.kernel[gi] >= 0) SFX(run_chunk_jit)(ex, gi, c, c0, c1);
    else SFX(run_chunk)(ex, gi, c, c0, c1, worker);
}

static void SFX(chunk_task)(void *arg, int64_t c, int worker) {
    const GroupTask *t = arg;
    const RtGroupRun *gr = &t->ex->group_run[t->gi];
    const int64_t c0 = c * gr->chunk, c1 = c0 + gr->chunk < gr->domain ? c0 + gr->chunk : gr->domain;
    SFX(run_range)(t->ex, t->gi, c, c0, c1, worker);
}

/* Group gi as a convolution's epilogue (a CpuEpilogue's fn): the elements of output pixels
 * p0..p1, whole rows of the group's row length (pass_fuse_epilogue), on the worker that wrote
 * them; the group has no sums, so no chunk index. */
#if EXEC_FAST_F32
static void SFX(epilogue_rows)(void *arg, int64_t p0, int64_t p1, int worker) {
    const GroupTask *t = arg;
    SFX(run_range)(t->ex, t->gi, 0, p0 * t->row, p1 * t->row, worker);
}
#endif

/* Group gi: its chunks as the pool's tasks, then the terminals' partial sums in chunk order. */
static void SFX(run_group)(CpuExec *ex, int gi) {
    const PassFusion *f = &ex->plan.fusion;
    const IrId *mem = f->members + f->start[gi];
    const int nm = f->start[gi + 1] - f->start[gi];
    const RtGroupRun *gr = &ex->group_run[gi];
    const int64_t domain = gr->domain;
    real *part = ex->partials;
    GroupTask t = {ex, gi, 0};
    fn_pool_run(ex->pool, gr->n_chunks, SFX(chunk_task), &t);
    for (int k = 0, r = 0; k < nm; k++) { /* the terminals' partial sums, in chunk order */
        const IrNode *nd = &ex->g->nodes[mem[k]];
        if (nd->op != IR_OP_SUM) continue;
        real *y = ex->buf[mem[k]], lane[PASS_FUSE_LANES];
        const int64_t rl = gr->reduce_len, n = ex->numel[mem[k]];
        real *sum = n == rl ? y : lane; /* a sum to a scalar kept rl lanes (pass_fuse_lanes) */
        const real *p = part + (size_t)r++ * (size_t)gr->n_chunks * (size_t)rl;
        memcpy(sum, p, (size_t)rl * sizeof(real));
        for (int64_t c = 1; c < gr->n_chunks; c++)
            for (int64_t j = 0; j < rl; j++) sum[j] += p[c * rl + j];
        if (sum == lane) {
            y[0] = lane[0];
            for (int64_t j = 1; j < rl; j++) y[0] += lane[j];
        }
        if (nd->attr.u.reduce.mean)
            for (int64_t j = 0; j < n; j++) y[j] /= (real)(domain / n);
    }
}
