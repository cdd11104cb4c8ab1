/* See llvm_emit.h. One function per fused group, written with printf-style helpers. Values of
 * members are SSA registers (%m<k>), computed as ir/pointwise.def's expression for the op says
 * (llvm_emit_pw.c); an operand from outside is loaded once per element where first used
 * (%l<slot>). Metadata ids are 3*index + {0,1,2}, so kernels emitted with distinct
 * indices share one module. */
#include "codegen/llvm/llvm_emit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/llvm/llvm_emit_pw.h"
#include "ir/alloc.h"

void ll_text_free(LlText *t) { fn_text_free(t); }

void ll_emit_prelude(LlText *t) {
    fn_text_printf(t, "; fn: fused loops (codegen/llvm/llvm_emit.c)\n"
           "declare double @llvm.sqrt.f64(double)\n"
           "declare float @llvm.fabs.f32(float)\n"
           "declare double @llvm.fabs.f64(double)\n"
           "declare double @exp(double)\n"
           "declare double @log(double)\n"
           "declare double @pow(double, double)\n"
           "; AVX-512 hosts: full-width vectors (LLVM otherwise prefers 256 bits on them)\n"
           "attributes #0 = { nounwind \"prefer-vector-width\"=\"512\" }\n\n");
}

typedef struct {
    const IrGraph *g;
    const PassFusion *f;
    PassFuseLayout *lay;
    LlText *t;
    const char *T; /* "float" / "double" */
    int gi, prec, align, ag;
    char loaded[PASS_MAX_SLOTS];
} Emit;

/* The register holding operand x of a member: a member's own, or a load from its slot. */
static void operand(Emit *e, IrId x, char *out, size_t cap) {
    if (e->f->group_of[x] == e->gi) {
        snprintf(out, cap, "%%m%d", pass_fuse_member(e->f, e->gi, x));
        return;
    }
    int s = pass_fuse_slot(e->lay, x, 0);
    if (!e->loaded[s]) { /* (scalars were loaded before the loop: ll_emit_group) */
        e->loaded[s] = 1;
        const char *idx = e->lay->slot_kind[s] == PASS_SLOT_FULL ? "%i" : "%j";
        fn_text_printf(e->t, "  %%l%d.p = getelementptr inbounds %s, %s* %%s%d, i64 %s\n", s, e->T, e->T, s, idx);
        fn_text_printf(e->t, "  %%l%d = load %s, %s* %%l%d.p, align %d, !llvm.access.group !%d\n", s, e->T, e->T, s, e->align,
            e->ag);
    }
    snprintf(out, cap, "%%l%d", s);
}

static int emit_member(Emit *e, int k, IrId id, const int64_t *numel) {
    const IrNode *nd = &e->g->nodes[id];
    const char *T = e->T;
    char a[32], b[32] = "";
    operand(e, nd->in[0], a, sizeof a);
    if (nd->n_in > 1) operand(e, nd->in[1], b, sizeof b);
    double s = nd->attr.u.scalar.f;
    if (nd->op == IR_OP_BCAST) s = nd->attr.u.reduce.mean ? (double)numel[nd->in[0]] / (double)numel[id] : 1;
    if (e->prec == 4 && nd->op == IR_OP_BCAST && nd->attr.u.reduce.mean)
        s = (double)((float)numel[nd->in[0]] / (float)numel[id]); /* the C loop divides in float */
    if (nd->op == IR_OP_SUM) {
        int ts = pass_fuse_slot(e->lay, id, 1);
        const int lanes = numel[id] > 1 || e->lay->lanes > 1; /* a scalar's lanes: pass_fuse_lanes */
        const char *idx = lanes ? "%j" : "0";
        const char *md = lanes ? ", !llvm.access.group !" : "";
        char mdn[16] = "";
        if (lanes) snprintf(mdn, sizeof mdn, "%d", e->ag);
        fn_text_printf(e->t, "  %%t%d.p = getelementptr inbounds %s, %s* %%s%d, i64 %s\n", k, T, T, ts, idx);
        fn_text_printf(e->t, "  %%t%d = load %s, %s* %%t%d.p, align %d%s%s\n", k, T, T, k, e->align, md, mdn);
        fn_text_printf(e->t, "  %%t%d.n = fadd %s %%t%d, %s\n", k, T, k, a);
        fn_text_printf(e->t, "  store %s %%t%d.n, %s* %%t%d.p, align %d%s%s\n", T, k, T, k, e->align, md, mdn);
        return 0;
    }
    char code[1024]; /* BCAST is SCALE by its mean factor; pass_fuse_pointwise admits no other op */
    if (ll_pointwise(nd->op == IR_OP_BCAST ? IR_OP_SCALE : nd->op, k, a, nd->n_in > 1 ? b : NULL, s, e->prec, code,
                     sizeof code) < 0)
        return -1;
    fn_text_printf(e->t, "%s", code);
    int os = pass_fuse_slot(e->lay, id, 1);
    if (os >= 0) {
        fn_text_printf(e->t, "  %%o%d.p = getelementptr inbounds %s, %s* %%s%d, i64 %%i\n", k, T, T, os);
        fn_text_printf(e->t, "  store %s %%m%d, %s* %%o%d.p, align %d, !llvm.access.group !%d\n", T, k, T, k, e->align, e->ag);
    }
    return 0;
}

int ll_emit_group(const IrGraph *g, const PassFusion *f, int gi, const int64_t *numel, int prec, const char *name,
                  int index, PassFuseLayout *lay, LlText *t) {
    const IrId *mem = f->members + f->start[gi];
    const int nm = f->start[gi + 1] - f->start[gi];
    if (pass_fuse_layout(g, f, gi, numel, lay) < 0) return -1; /* two row lengths */
    const size_t start = t->len;
    Emit e = {.g = g, .f = f, .lay = lay, .t = t, .T = prec == 4 ? "float" : "double", .gi = gi, .prec = prec,
              .align = prec, .ag = 3 * index + 2};
    fn_text_printf(t, "; %d nodes, ending %s; %d pointers\n", nm, ir_op_info[g->nodes[mem[nm - 1]].op].name, lay->n_slots);
    fn_text_printf(t, "define void @%s(i64 %%rows, i64 %%len, %s** noalias nocapture readonly %%p) #0 {\nentry:\n", name, e.T);
    for (int s = 0; s < lay->n_slots; s++) {
        fn_text_printf(t, "  %%s%d.a = getelementptr inbounds %s*, %s** %%p, i64 %d\n", s, e.T, e.T, s);
        fn_text_printf(t, "  %%s%d = load %s*, %s** %%s%d.a, align 8\n", s, e.T, e.T, s);
    }
    /* Scalar operands before the loop: a load inside it, outside the parallel access group, kept
       the vectoriser from treating the loop as parallel (the optimiser's updates, with 9
       pointers, stayed scalar) */
    for (int s = 0; s < lay->n_slots; s++)
        if (lay->slot_kind[s] == PASS_SLOT_SCALAR) {
            fn_text_printf(t, "  %%l%d = load %s, %s* %%s%d, align %d\n", s, e.T, e.T, s, e.align);
            e.loaded[s] = 1;
        }
    fn_text_printf(t, "  br label %%row\nrow:\n");
    fn_text_printf(t, "  %%r = phi i64 [ 0, %%entry ], [ %%r.next, %%row.end ]\n");
    fn_text_printf(t, "  %%base = mul nsw i64 %%r, %%len\n  br label %%body\nbody:\n");
    fn_text_printf(t, "  %%j = phi i64 [ 0, %%row ], [ %%j.next, %%body ]\n");
    fn_text_printf(t, "  %%i = add nsw i64 %%base, %%j\n");
    for (int k = 0; k < nm; k++)
        if (emit_member(&e, k, mem[k], numel) < 0) { /* an op without an expression: none of the text */
            t->len = start;
            if (t->s) t->s[start] = 0;
            return -1;
        }
    fn_text_printf(t, "  %%j.next = add nuw nsw i64 %%j, 1\n");
    fn_text_printf(t, "  %%j.more = icmp slt i64 %%j.next, %%len\n");
    fn_text_printf(t, "  br i1 %%j.more, label %%body, label %%row.end, !llvm.loop !%d\n", 3 * index);
    fn_text_printf(t, "row.end:\n  %%r.next = add nuw nsw i64 %%r, 1\n");
    fn_text_printf(t, "  %%r.more = icmp slt i64 %%r.next, %%rows\n");
    fn_text_printf(t, "  br i1 %%r.more, label %%row, label %%exit\nexit:\n  ret void\n}\n");
    fn_text_printf(t, "!%d = distinct !{!%d, !%d}\n", 3 * index, 3 * index, 3 * index + 1);
    fn_text_printf(t, "!%d = !{!\"llvm.loop.parallel_accesses\", !%d}\n", 3 * index + 1, 3 * index + 2);
    fn_text_printf(t, "!%d = distinct !{}\n\n", 3 * index + 2);
    return t->oom ? -1 : 0;
}
