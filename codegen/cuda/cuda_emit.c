/* See cuda_emit.h. The pointwise kernels' expressions are ir/pointwise.def's text (cuda_expr).
 * FnText and tables grow through ir/alloc.h; a failed allocation is sticky (FnText.oom, Builder.oom):
 * the emitter writes nothing more and the module fails as a whole with "out of memory". */
#include "codegen/cuda/cuda_emit.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/cuda/cuda_kernels.h"
#include "ir/alloc.h"
#include "ir/text.h"

/* ---- the module being built: each kernel once, in first-use order ------------------------- */
typedef struct {
    FnText src;
    char **names;
    int n, cap;
    const char **helped; /* the fixed kernels whose helpers (the text before the kernel) are in */
    int n_helped;
    const size_t *esize; /* the plan's bytes per element of each node (2: bfloat16); NULL: float32 */
    const int64_t *stride; /* the plan's row strides of views (> 0: strided); NULL: none */
    int oom; /* a table or a kernel's text found no memory (the source's own: src.oom) */
} Builder;

static int builder_oom(const Builder *b) { return b->oom || b->src.oom; }

static void builder_free(Builder *b) {
    free(b->src.s);
    for (int i = 0; i < b->n; i++) free(b->names[i]);
    free(b->names);
    free(b->helped);
}

/* Index of kernel `name`, appending its text (made by the caller into `body`) if new; -1 once
 * out of memory. */
static int add_kernel(Builder *b, const char *name, const char *body) {
    if (builder_oom(b)) return -1;
    for (int i = 0; i < b->n; i++)
        if (!strcmp(b->names[i], name)) return i;
    if (b->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 32;
        char **names = fn_realloc(b->names, (size_t)cap * sizeof *names);
        if (!names) return b->oom = 1, -1;
        b->names = names;
        b->cap = cap;
    }
    if (!(b->names[b->n] = fn_strdup(name))) return b->oom = 1, -1;
    fn_text_printf(&b->src, "\n%s", body);
    return b->n++;
}

/* ---- fixed kernels, in variants by element type ----------------------------------------------
 * A fixed kernel's text is its helpers, then the kernel (from the line of its `extern "C"`). Its
 * typed pointers are written FN_TY (the node's value), FN_TA and FN_TB (its first two operands);
 * variant `half` (bits 1, 2, 4 for those three) makes them fn_bf16, the others float, and is named
 * NAME_hN for N the bits that its text has (NAME alone for float32 everywhere). The helpers go in
 * once, with the first variant. */
static const char *const type_mark[3] = {"FN_TY", "FN_TA", "FN_TB"};
#define KERNEL_LINE "extern \"C\" __global__ void "

static const char *fixed_text(const char *name, const char **uses) {
    if (uses)
        for (size_t i = 0; i < sizeof cu_fixed_uses / sizeof cu_fixed_uses[0]; i++)
            if (!strcmp(cu_fixed_uses[i].name, name)) *uses = cu_fixed_uses[i].uses;
    for (size_t i = 0; i < sizeof cu_fixed / sizeof cu_fixed[0]; i++)
        if (!strcmp(cu_fixed[i].name, name)) return cu_fixed[i].text;
    return NULL;
}

/* where the kernel itself starts in a fixed text: the start of its KERNEL_LINE's line */
static const char *kernel_start(const char *text) {
    const char *k = strstr(text, KERNEL_LINE);
    while (k > text && k[-1] != '\n') k--;
    return k;
}

/* whether `name`'s helpers are in the module; marks them so (out of memory: says they are, and
 * the module fails) */
static int helped(Builder *b, const char *name) {
    for (int i = 0; i < b->n_helped; i++)
        if (!strcmp(b->helped[i], name)) return 1;
    const char **h = fn_realloc(b->helped, (size_t)(b->n_helped + 1) * sizeof *h);
    if (!h) return b->oom = 1;
    b->helped = h;
    b->helped[b->n_helped++] = name;
    return 0;
}

/* the bits of `half` whose marks the text has */
static int present_types(const char *text, int half) {
    int m = 0;
    for (int t = 0; t < 3; t++)
        if (strstr(text, type_mark[t])) m |= 1 << t;
    return half & m;
}

static int add_fixed_typed(Builder *b, const char *name, int half) {
    const char *uses = NULL, *text = fixed_text(name, &uses);
    if (!text) return -1;
    const char *k = kernel_start(text);
    half = present_types(k, half);
    char vname[96];
    if (half) snprintf(vname, sizeof vname, "%s_h%d", name, half);
    else snprintf(vname, sizeof vname, "%s", name);
    for (int i = 0; i < b->n; i++)
        if (!strcmp(b->names[i], vname)) return i;
    FnText body = {0};
    if (uses && !helped(b, uses)) { /* another kernel's helpers, without that kernel */
        const char *u = fixed_text(uses, NULL);
        fn_text_printf(&b->src, "\n%.*s", (int)(kernel_start(u) - u), u);
    }
    if (!helped(b, name)) fn_text_printf(&body, "%.*s", (int)(k - text), text);
    /* the kernel (its text starts with KERNEL_LINE and the name), renamed, its marks replaced */
    fn_text_printf(&body, "%s%s", KERNEL_LINE, vname);
    for (const char *p = k + strlen(KERNEL_LINE) + strlen(name);;) {
        const char *hit = NULL;
        int t = 0;
        for (int q = 0; q < 3; q++) {
            const char *h = strstr(p, type_mark[q]);
            if (h && (!hit || h < hit)) hit = h, t = q;
        }
        if (!hit) {
            fn_text_printf(&body, "%s", p);
            break;
        }
        fn_text_printf(&body, "%.*s%s", (int)(hit - p), p, half >> t & 1 ? "fn_bf16" : "float");
        p = hit + strlen(type_mark[t]);
    }
    int r = body.oom ? (b->oom = 1, -1) : add_kernel(b, vname, body.s);
    free(body.s);
    return r;
}

static int add_fixed(Builder *b, const char *name) { return add_fixed_typed(b, name, 0); }

/* node id's variant bits: its value (1) and first two operands (2, 4) kept in bfloat16 */
static int node_half(const Builder *b, const IrGraph *g, IrId id) {
    if (!b->esize) return 0;
    const IrNode *n = &g->nodes[id];
    int h = b->esize[id] == 2;
    for (int k = 0; k < n->n_in && k < 2; k++) h |= (b->esize[n->in[k]] == 2) << (k + 1);
    return h;
}

/* The pointwise ops' expressions, as ir/pointwise.def writes them (over v; or x and z). */
static const struct {
    IrOp op;
    const char *expr;
} unary[] = {
#define IR_PW1(e, expr) {IR_OP_##e, #expr},
#define IR_PW2(e, expr)
#include "ir/pointwise.def"
#undef IR_PW1
#undef IR_PW2
};

static const struct {
    IrOp op;
    const char *expr;
} binary[] = {
#define IR_PW1(e, expr)
#define IR_PW2(e, expr) {IR_OP_##e, #expr},
#include "ir/pointwise.def"
#undef IR_PW1
#undef IR_PW2
};

/* A table expression in CUDA C: its words spelled for the GPU, where elements and the kernels'
 * scalar f are float (real -> float, fd -> f, fabsr -> fabsf); numbers and the rest as written. */
static void cuda_expr(const char *expr, char *out, size_t cap) {
    static const char *const word[][2] = {{"real", "float"}, {"fd", "f"}, {"fabsr", "fabsf"}};
    size_t o = 0;
    for (const char *p = expr; *p && o + 1 < cap;) {
        size_t n = 0;
        if (isalpha((unsigned char)*p) || *p == '_' || isdigit((unsigned char)*p) || *p == '.')
            while (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == '.') n++; /* a word or a number */
        if (n == 0) {
            out[o++] = *p++;
            continue;
        }
        const char *w = NULL;
        for (size_t k = 0; k < sizeof word / sizeof word[0] && !w; k++)
            if (strlen(word[k][0]) == n && !strncmp(p, word[k][0], n)) w = word[k][1];
        o += (size_t)snprintf(out + o, cap - o, "%.*s", w ? (int)strlen(w) : (int)n, w ? w : p);
        p += n;
    }
    out[o < cap ? o : cap - 1] = 0;
}

/* operand layouts of a binary kernel: both full-size, b a repeating suffix, a a repeating suffix */
enum { LAYOUT_FULL, LAYOUT_BSUFFIX, LAYOUT_ASUFFIX, LAYOUTS };

static int add_unary(Builder *b, size_t i) {
    char name[64], body[1024], expr[256];
    snprintf(name, sizeof name, "fn_%s", ir_op_info[unary[i].op].name);
    cuda_expr(unary[i].expr, expr, sizeof expr);
    snprintf(body, sizeof body, cu_unary, name, expr);
    return add_kernel(b, name, body);
}

static int add_binary(Builder *b, size_t i, int layout) {
    static const char *const suffix[LAYOUTS] = {"", "_bsuffix", "_asuffix"};
    char name[64], body[1024], expr[256];
    snprintf(name, sizeof name, "fn_%s%s", ir_op_info[binary[i].op].name, suffix[layout]);
    cuda_expr(binary[i].expr, expr, sizeof expr);
    snprintf(body, sizeof body, cu_binary, name, layout == LAYOUT_ASUFFIX ? "a[fn_mod(i, na)]" : "a[i]",
             layout == LAYOUT_BSUFFIX ? "b[fn_mod(i, nb)]" : "b[i]", expr);
    return add_kernel(b, name, body);
}

static int plan_node(const IrGraph *g, IrId id, Builder *b, CuNodePlan *p, FnStatus *st) {
    const IrNode *n = &g->nodes[id];
    p->node = id;
    p->work = CU_KERNELS;
    p->n_kernels = 0;
    p->bf16[0] = p->bf16[1] = -1;
    for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++)
        if (unary[i].op == n->op) {
            p->kernel[p->n_kernels++] = add_unary(b, i);
            return 0;
        }
    for (size_t i = 0; i < sizeof binary / sizeof binary[0]; i++)
        if (binary[i].op == n->op) {
            /* operand layout from the symbolic shapes: equal, or one a suffix of the other */
            int a_full = ir_shape_equal(&g->nodes[n->in[0]].shape, &n->shape);
            int b_full = ir_shape_equal(&g->nodes[n->in[1]].shape, &n->shape);
            p->kernel[p->n_kernels++] =
                add_binary(b, i, a_full && b_full ? LAYOUT_FULL : a_full ? LAYOUT_BSUFFIX : LAYOUT_ASUFFIX);
            return 0;
        }
    const char *fixed = NULL;
    int half = node_half(b, g, id);
    switch (n->op) {
    case IR_OP_INPUT:
    case IR_OP_PARAM:
    case IR_OP_STATE:
    case IR_OP_ASSIGN: p->work = CU_NOTHING; return 0;
    case IR_OP_CONST: fixed = "fn_fill"; break;
    case IR_OP_RESHAPE: fixed = "fn_copy"; break;
    case IR_OP_SUM: /* partial sums over row splits, then the sum of the splits */
        p->kernel[p->n_kernels++] = add_fixed_typed(b, "fn_sum_lead_part", half);
        p->kernel[p->n_kernels++] = add_fixed(b, "fn_sum_lead");
        return 0;
    case IR_OP_SUMLAST: /* the runtime picks by row length */
        p->kernel[p->n_kernels++] = add_fixed(b, "fn_sum_last");
        p->kernel[p->n_kernels++] = add_fixed(b, "fn_sum_last_block");
        return 0;
    case IR_OP_BCAST: fixed = "fn_bcast"; break;
    case IR_OP_BCASTLAST: fixed = "fn_bcast_last"; break;
    case IR_OP_SLICE: fixed = "fn_slice"; break;
    case IR_OP_CONCAT: fixed = "fn_concat_part"; break; /* launched once per input */
    case IR_OP_MAXPOOL: fixed = "fn_maxpool"; break;
    case IR_OP_MAXPOOL_GRAD: /* each window's maximum found once, then the gradients gathered */
        p->kernel[p->n_kernels++] = add_fixed_typed(b, "fn_maxpool_code", half);
        fixed = "fn_maxpool_grad";
        break;
    case IR_OP_AVGPOOL: fixed = "fn_avgpool"; break;
    case IR_OP_AVGPOOL_GRAD: fixed = "fn_avgpool_grad"; break;
    case IR_OP_SOFTMAX: fixed = "fn_softmax"; break;
    case IR_OP_SOFTMAX_XENT: fixed = "fn_softmax_xent"; break;
    case IR_OP_SOFTMAX_XENT_GRAD: fixed = "fn_softmax_xent_grad"; break;
    case IR_OP_L2NORM: fixed = "fn_l2norm"; break;
    case IR_OP_L2NORM_GRAD: fixed = "fn_l2norm_grad"; break;
    case IR_OP_ACCURACY: fixed = "fn_accuracy"; break;
    case IR_OP_DROPOUT_MASK: fixed = "fn_dropout_mask"; break;
    case IR_OP_GATHER: fixed = "fn_gather"; break;
    case IR_OP_SCATTER_ADD: fixed = "fn_scatter_add"; break;
    case IR_OP_MATMUL: p->work = CU_GEMM; return 0;
    case IR_OP_ALLREDUCE: p->work = CU_COLLECTIVE; return 0;
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_BWD_FILTER: /* im2col, then the GEMM (a 1x1 stride-1 conv skips im2col at run time) */
        p->work = CU_GEMM;
        p->kernel[p->n_kernels++] = add_fixed_typed(b, "fn_im2col", half);
        p->bf16[0] = add_fixed_typed(b, "fn_im2col_bf16", half);
        p->bf16[1] = add_fixed(b, "fn_to_bf16");
        if (n->op == IR_OP_CONV2D) { /* or an implicit GEMM */
            p->kernel[p->n_kernels++] = add_fixed_typed(b, "fn_conv_igemm", half);
        } else { /* in splits of the rows, added up */
            p->kernel[p->n_kernels++] = add_fixed_typed(b, "fn_conv_igemm_filter", half);
            p->kernel[p->n_kernels++] = add_fixed(b, "fn_sum_lead");
        }
        return 0;
    case IR_OP_CONV2D_BWD_DATA: /* the GEMM into columns, then col2im; or an implicit GEMM */
        p->work = CU_GEMM;
        p->kernel[p->n_kernels++] = add_fixed_typed(b, "fn_col2im", half);
        p->bf16[0] = add_fixed_typed(b, "fn_col2im_bf16", half);
        p->bf16[1] = add_fixed(b, "fn_to_bf16");
        p->kernel[p->n_kernels++] = add_fixed_typed(b, "fn_conv_igemm", half);
        return 0;
    default: break;
    }
    if (!fixed) return fn_fail(st, "node %%%d: the CUDA target has no kernel for op %s", (int)id, ir_op_info[n->op].name);
    p->kernel[p->n_kernels++] = add_fixed_typed(b, fixed, half);
    return 0;
}

/* ---- fused groups ---------------------------------------------------------------------------- */

/* A float literal, exact: hexadecimal (C++17), or the bits where it is not finite. */
static void float_lit(char *buf, size_t cap, double v) {
    float x = (float)v;
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if (isfinite(x)) snprintf(buf, cap, "%af", (double)x);
    else snprintf(buf, cap, "__int_as_float(0x%08x)", (unsigned)u);
}

/* The expression of a pointwise member over v (unary; f its scalar) or x, z (binary), into out:
 * the unfused kernels' own, so both paths compute alike; BCAST is SCALE by its mean factor.
 * -1 for an op no kernel has. */
static int member_expr(IrOp op, int *arity, char *out, size_t cap) {
    if (op == IR_OP_BCAST) op = IR_OP_SCALE;
    for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++)
        if (unary[i].op == op) {
            *arity = 1;
            cuda_expr(unary[i].expr, out, cap);
            return 0;
        }
    for (size_t i = 0; i < sizeof binary / sizeof binary[0]; i++)
        if (binary[i].op == op) {
            *arity = 2;
            cuda_expr(binary[i].expr, out, cap);
            return 0;
        }
    return -1;
}

typedef struct {
    const IrGraph *g;
    const PassFusion *f;
    const int64_t *numel;
    const PassFuseLayout *lay;
    int gi;
    int vec; /* 4: the loop body runs per value e of the thread's four (operands in v%d[e], results
                into o%d[e]) */
    int guard; /* suffix loads before the loop only where the column j < len */
    int sums;  /* the loop runs over rows r and columns j (the group has sums) */
    char loaded[PASS_MAX_SLOTS];
    char strided[PASS_MAX_SLOTS]; /* a view (a slice, a concat's operand): element i at row wr
                                     (or r), column wc (or j), rows ld%d apart */
    FnText *t;
} GroupEmit;

/* Where slot s's element i lies: i, or a view's row times its stride plus its column. */
static const char *slot_at(const GroupEmit *e, int s, char *buf, size_t cap) {
    if (!e->strided[s]) return "i";
    snprintf(buf, cap, e->sums ? "r * ld%d + j" : "wr * ld%d + wc", s);
    return buf;
}

/* The name of operand x of a member: a member's register, or an outside slot loaded once. */
static void group_operand(GroupEmit *e, IrId x, char *out, size_t cap) {
    if (e->f->group_of[x] == e->gi) {
        snprintf(out, cap, "m%d", pass_fuse_member(e->f, e->gi, x));
        return;
    }
    int sl = pass_fuse_slot(e->lay, x, 0);
    if (!e->loaded[sl]) {
        e->loaded[sl] = 1;
        int kind = e->lay->slot_kind[sl];
        char at[32];
        fn_text_printf(e->t, "        float l%d = p%d[%s];\n", sl, sl,
                    kind == PASS_SLOT_FULL ? slot_at(e, sl, at, sizeof at) : kind == PASS_SLOT_SUFFIX ? "j" : "0");
    }
    snprintf(out, cap, "l%d", sl);
}

/* Loads of scalar operands, and of suffix ones too when the column is fixed (up to `kind`),
 * before the loop: no member writes them (outputs cover the whole domain). */
static void hoist_loads(GroupEmit *e, int kind) {
    for (int s = 0; s < e->lay->n_slots; s++) {
        int k = e->lay->slot_kind[s];
        if (k != PASS_SLOT_SCALAR && !(k == PASS_SLOT_SUFFIX && kind == PASS_SLOT_SUFFIX)) continue;
        if (k == PASS_SLOT_SUFFIX && e->guard) fn_text_printf(e->t, "    float l%d = j < len ? (float)p%d[j] : 0.f;\n", s, s);
        else fn_text_printf(e->t, "    float l%d = p%d[%s];\n", s, s, k == PASS_SLOT_SUFFIX ? "j" : "0");
        e->loaded[s] = 1;
    }
}

/* The loads of every operand slot not loaded yet, at the top of the loop's body: an element's
 * operands are all read before any result is written, so a result may go over an operand's
 * memory (the plan's RT_PLAN_READS_FIRST: a variable updated in place that a later member
 * reads, as the weight decay's sum reads the weight the optimiser's update writes). */
static void load_operands(GroupEmit *e) {
    for (int s = 0; s < e->lay->n_slots; s++) {
        int k = e->lay->slot_kind[s];
        if (e->loaded[s] || (k != PASS_SLOT_FULL && k != PASS_SLOT_SUFFIX)) continue;
        char at[32];
        fn_text_printf(e->t, "        float l%d = p%d[%s];\n", s, s, k == PASS_SLOT_FULL ? slot_at(e, s, at, sizeof at) : "j");
        e->loaded[s] = 1;
    }
}

static int group_member(GroupEmit *e, int k) {
    IrId id = e->f->members[e->f->start[e->gi] + k];
    const IrNode *nd = &e->g->nodes[id];
    char a[24], b[24] = "", f[48];
    group_operand(e, nd->in[0], a, sizeof a);
    if (nd->n_in > 1) group_operand(e, nd->in[1], b, sizeof b);
    if (nd->op == IR_OP_SUM) {
        fn_text_printf(e->t, "        t%d += %s;\n", k, a);
        return 0;
    }
    int arity;
    char expr[256];
    if (member_expr(nd->op, &arity, expr, sizeof expr) < 0) return -1;
    if (arity == 1) {
        double sc = nd->attr.u.scalar.f;
        if (nd->op == IR_OP_BCAST) /* the mean factor, divided in float as the CPU does */
            sc = nd->attr.u.reduce.mean ? (double)((float)e->numel[nd->in[0]] / (float)e->numel[id]) : 1;
        int uses_f = ir_op_info[nd->op].attr == IR_ATTR_SCALAR || nd->op == IR_OP_BCAST;
        float_lit(f, sizeof f, sc);
        if (uses_f) fn_text_printf(e->t, "        float m%d; { float v = %s, f = %s; m%d = %s; }\n", k, a, f, k, expr);
        else fn_text_printf(e->t, "        float m%d; { float v = %s; m%d = %s; }\n", k, a, k, expr);
    } else {
        fn_text_printf(e->t, "        float m%d; { float x = %s, z = %s; m%d = %s; }\n", k, a, b, k, expr);
    }
    int os = pass_fuse_slot(e->lay, id, 1);
    char at[32];
    if (os >= 0 && e->vec > 1) fn_text_printf(e->t, "        o%d[e] = m%d;\n", os, k);
    else if (os >= 0) fn_text_printf(e->t, "        p%d[%s] = m%d;\n", os, slot_at(e, os, at, sizeof at), k);
    return 0;
}

/* whether slot s of lay holds a bfloat16 operand or result (esize 2; a sum's partials are float32) */
static int slot_half(const PassFuseLayout *lay, const size_t *esize, int s) {
    return lay->slot_kind[s] != PASS_SLOT_SUM && esize && esize[lay->slot_node[s]] == 2;
}

/* Group tb's body for one element i, as the device function NAME_tail (see CuGroup.tail): its
 * operands vectors of its domain's length (read at i) and scalars; -1 for any other. */
static int tail_function(const IrGraph *g, const PassFusion *f, int tb, const int64_t *numel, const size_t *esize,
                         const char *name, CuGroup *cg, FnText *t) {
    const PassFuseLayout *lay = &cg->tail_lay;
    if (pass_fuse_layout(g, f, tb, numel, &cg->tail_lay) < 0) return -1;
    for (int s = 0; s < lay->n_slots; s++)
        if (lay->slot_kind[s] == PASS_SLOT_SUFFIX || lay->slot_kind[s] == PASS_SLOT_SUM) return -1;
    fn_text_printf(t, "/* the tail: %d nodes over the sums' columns, in the last block of each column block */\n"
                   "__device__ inline void %s_tail(fn_i64 i", f->start[tb + 1] - f->start[tb], name);
    for (int s = 0; s < lay->n_slots; s++) fn_text_printf(t, ", %s *p%d", slot_half(lay, esize, s) ? "fn_bf16" : "float", s);
    fn_text_printf(t, ") {\n");
    GroupEmit e = {.g = g, .f = f, .numel = numel, .lay = lay, .gi = tb, .vec = 1, .t = t};
    hoist_loads(&e, PASS_SLOT_SCALAR); /* (indented as a kernel's prologue) */
    load_operands(&e);
    for (int k = 0; k < f->start[tb + 1] - f->start[tb]; k++)
        if (group_member(&e, k) < 0) return -1;
    fn_text_printf(t, "}\n");
    return 0;
}

/* The kernel's signature (see CuGroup), and where views are read or written without sums, the row
 * and column of the thread's first element, stepped along with it. */
static void group_signature(const GroupEmit *e, const CuGroup *cg, const size_t *esize, const char *name) {
    const PassFuseLayout *lay = e->lay;
    FnText *t = e->t;
    fn_text_printf(t, "extern \"C\" __global__ void %s(fn_i64 n, fn_i64 len%s%s", name, cg->sums ? ", fn_i64 chunk" : "",
                   cg->strided && !cg->sums ? ", fn_i64 wid" : "");
    for (int s = 0; s < lay->n_slots; s++) {
        fn_text_printf(t, ", %s *p%d", slot_half(lay, esize, s) ? "fn_bf16" : "float", s);
        if (e->strided[s]) fn_text_printf(t, ", fn_i64 ld%d", s);
    }
    if (cg->sums) fn_text_printf(t, ", unsigned *tickets, FnSums fin, int n_fin");
    for (int s = 0; cg->tail >= 0 && s < cg->tail_lay.n_slots; s++)
        fn_text_printf(t, ", %s *u%d", slot_half(&cg->tail_lay, esize, s) ? "fn_bf16" : "float", s);
    fn_text_printf(t, ") {\n");
    if (cg->strided && !cg->sums)
        fn_text_printf(t, "    fn_i64 w0 = ((fn_i64)blockIdx.x * blockDim.x + threadIdx.x) * %d, wr = w0 / wid, wc = w0 - wr * wid;\n"
                       "    fn_i64 ws = (fn_i64)gridDim.x * blockDim.x * %d, wrs = ws / wid, wcs = ws - wrs * wid;\n",
                       cg->vec, cg->vec);
}

/* The loop over rows r of column j (a group with sums), its head and the loads before it. */
static void open_sums_loop(GroupEmit *e, const size_t *esize) {
    const IrId *mem = e->f->members + e->f->start[e->gi];
    const int nm = e->f->start[e->gi + 1] - e->f->start[e->gi];
    FnText *t = e->t;
    /* the rows end where column j does (r * len + j < n), so that the loop has no exit
     * inside and unrolls: several loads in flight per thread, the sums' order unchanged */
    fn_text_printf(t, "    fn_i64 j = (fn_i64)blockIdx.x * 32 + threadIdx.x, r = (fn_i64)blockIdx.y * chunk + threadIdx.y;\n"
                   "    fn_i64 r1 = ((fn_i64)blockIdx.y + 1) * chunk, rn = (n - j + len - 1) / len;\n"
                   "    if (r1 > rn) r1 = rn;\n"
                   "    if (j >= len) r1 = r; /* no column here: only the finishing below */\n");
    for (int k = 0; k < nm; k++)
        if (e->g->nodes[mem[k]].op == IR_OP_SUM) fn_text_printf(t, "    float t%d = 0.f;\n", k);
    e->guard = 1;
    hoist_loads(e, PASS_SLOT_SUFFIX);
    e->guard = 0;
    /* 8 rows at a time where an operand is bfloat16, so that a thread keeps as many bytes in
       flight as with float32's 4 */
    int half = 0;
    for (int s = 0; s < e->lay->n_slots; s++) half |= slot_half(e->lay, esize, s);
    fn_text_printf(t, "#pragma unroll %d\n"
                   "    for (; r < r1; r += 8) {\n"
                   "        fn_i64 i = r * len + j;\n", half ? 8 : 4);
    load_operands(e);
}

/* The grid-stride loop over four values a thread, its head and loads. */
static void open_vec4_loop(GroupEmit *e, int suffix) {
    const PassFuseLayout *lay = e->lay;
    FnText *t = e->t;
    hoist_loads(e, PASS_SLOT_SCALAR);
    if (suffix) /* the column of the thread's first value, stepped along with it */
        fn_text_printf(t, "    fn_i64 j = fn_mod(((fn_i64)blockIdx.x * blockDim.x + threadIdx.x) * 4, len);\n"
                       "    fn_i64 jstep = fn_mod((fn_i64)gridDim.x * blockDim.x * 4, len);\n");
    fn_text_printf(t, "    FN_LOOP(q, n / 4) {\n"
                   "        fn_i64 i = q * 4;\n");
    for (int s = 0; s < lay->n_slots; s++) {
        int k = lay->slot_kind[s];
        char at[32];
        if (k == PASS_SLOT_FULL || k == PASS_SLOT_SUFFIX)
            fn_text_printf(t, "        float v%d[4];\n        fn_load4(p%d + %s, v%d);\n", s, s,
                           k == PASS_SLOT_FULL ? slot_at(e, s, at, sizeof at) : "j", s);
        else if (k == PASS_SLOT_OUT) fn_text_printf(t, "        float o%d[4];\n", s);
    }
    fn_text_printf(t, "#pragma unroll\n"
                   "        for (int e = 0; e < 4; e++) {\n");
    for (int s = 0; s < lay->n_slots; s++)
        if (lay->slot_kind[s] == PASS_SLOT_FULL || lay->slot_kind[s] == PASS_SLOT_SUFFIX) {
            fn_text_printf(t, "        float l%d = v%d[e];\n", s, s);
            e->loaded[s] = 1;
        }
}

/* After the loop over rows: each lane's partial sums, then the finishing (and the tail). */
static void finish_sums(const GroupEmit *e, const CuGroup *cg, const char *name) {
    const IrId *mem = e->f->members + e->f->start[e->gi];
    const int nm = e->f->start[e->gi + 1] - e->f->start[e->gi];
    FnText *t = e->t;
    fn_text_printf(t, "    fn_i64 q = ((fn_i64)blockIdx.y * 8 + threadIdx.y) * len + j;\n"
                   "    if (j < len) {\n");
    for (int k = 0; k < nm; k++)
        if (e->g->nodes[mem[k]].op == IR_OP_SUM) fn_text_printf(t, "        p%d[q] = t%d;\n", pass_fuse_slot(e->lay, mem[k], 1), k);
    fn_text_printf(t, "    }\n");
    if (cg->tail < 0) {
        fn_text_printf(t, "    if (n_fin) fn_finish_sums(tickets, fin, n_fin);\n");
        return;
    } /* the finishing thread of column j runs the tail's element j after its sums */
    fn_text_printf(t, "    if (n_fin && fn_finish_sums(tickets, fin, n_fin) && threadIdx.y == 0 && j < len) %s_tail(j", name);
    for (int s = 0; s < cg->tail_lay.n_slots; s++) fn_text_printf(t, ", u%d", s);
    fn_text_printf(t, ");\n");
}

/* Group gi's kernel text, named `name`, into t (see CuGroup); -1 if it cannot be written. The
 * operands and values of 2 bytes an element (esize) are bfloat16; those with a row stride
 * (stride[node] > 0) are views. */
static int group_kernel(const IrGraph *g, const PassFusion *f, int gi, const int64_t *numel, const size_t *esize,
                        const int64_t *stride, const char *name, CuGroup *cg, FnText *t) {
    const IrId *mem = f->members + f->start[gi];
    const int nm = f->start[gi + 1] - f->start[gi];
    if (pass_fuse_layout(g, f, gi, numel, &cg->lay) < 0) return -1;
    const PassFuseLayout *lay = &cg->lay;
    int suffix = 0;
    cg->sums = 0;
    for (int s = 0; s < lay->n_slots; s++) suffix |= lay->slot_kind[s] == PASS_SLOT_SUFFIX;
    for (int k = 0; k < nm; k++)
        if (g->nodes[mem[k]].op == IR_OP_SUM) {
            int64_t m = numel[mem[k]];
            if (m != 1 && m != lay->inner) return -1;
            cg->sums++;
        }
    /* four values a thread where every operand and result steps along whole vectors */
    int64_t n = numel[pass_fuse_domain(g, f, gi)];
    cg->vec = !cg->sums && n % 4 == 0 && (!suffix || lay->inner % 4 == 0) ? 4 : 1;
    fn_text_printf(t, "/* %d nodes, ending %s; %d pointers%s */\n", nm, ir_op_info[g->nodes[mem[nm - 1]].op].name,
                lay->n_slots, cg->sums ? "; partial sums" : cg->vec > 1 ? "; 4 values a thread" : "");
    cg->tail = f->tail && cg->sums ? f->tail[gi] : -1;
    if (cg->tail >= 0 && tail_function(g, f, cg->tail, numel, esize, name, cg, t) < 0) return -1;
    GroupEmit e = {.g = g, .f = f, .numel = numel, .lay = lay, .gi = gi, .vec = cg->vec, .sums = cg->sums > 0, .t = t};
    cg->strided = 0;
    for (int s = 0; s < lay->n_slots; s++) {
        int k = lay->slot_kind[s];
        e.strided[s] = stride && (k == PASS_SLOT_FULL || k == PASS_SLOT_OUT) && stride[lay->slot_node[s]] > 0;
        cg->strided += e.strided[s];
    }
    group_signature(&e, cg, esize, name);
    if (cg->sums) {
        open_sums_loop(&e, esize);
    } else if (cg->vec > 1) {
        open_vec4_loop(&e, suffix);
    } else {
        hoist_loads(&e, PASS_SLOT_SCALAR);
        if (suffix) /* the column of i, stepped along with it: one division a thread, not one a value */
            fn_text_printf(t, "    fn_i64 j = fn_mod((fn_i64)blockIdx.x * blockDim.x + threadIdx.x, len);\n"
                           "    fn_i64 jstep = fn_mod((fn_i64)gridDim.x * blockDim.x, len);\n");
        fn_text_printf(t, "    FN_LOOP(i, n) {\n");
        load_operands(&e);
    }
    for (int k = 0; k < nm; k++)
        if (group_member(&e, k) < 0) return -1;
    if (cg->vec > 1) {
        fn_text_printf(t, "        }\n");
        for (int s = 0; s < lay->n_slots; s++) {
            char at[32];
            if (lay->slot_kind[s] == PASS_SLOT_OUT) fn_text_printf(t, "        fn_store4(p%d + %s, o%d);\n", s, slot_at(&e, s, at, sizeof at), s);
        }
    }
    if (!cg->sums && suffix) fn_text_printf(t, "        if ((j += jstep) >= len) j -= len;\n");
    if (!cg->sums && cg->strided) fn_text_printf(t, "        wr += wrs;\n        if ((wc += wcs) >= wid) wc -= wid, wr++;\n");
    fn_text_printf(t, "    }\n");
    if (cg->sums) finish_sums(&e, cg, name);
    fn_text_printf(t, "}\n");
    return 0;
}

/* Group gi's kernel in the module, shared with an equal group already there (compared by its
 * text under a placeholder name). */
#define GROUP_NAME "FN_GROUP_NAME"
static int add_group(Builder *b, const IrGraph *g, const PassFusion *f, int gi, const int64_t *numel, CuGroup *cg,
                     char ***bodies, int *n_bodies, int **body_kernel) {
    FnText body = {0};
    if (group_kernel(g, f, gi, numel, b->esize, b->stride, GROUP_NAME, cg, &body) < 0 || body.oom) {
        b->oom |= body.oom;
        free(body.s);
        return -1;
    }
    for (int i = 0; i < *n_bodies; i++)
        if (!strcmp((*bodies)[i], body.s)) {
            free(body.s);
            cg->kernel = (*body_kernel)[i];
            return 0;
        }
    char name[32];
    snprintf(name, sizeof name, "fn_f%d", *n_bodies);
    FnText named = {0}; /* the text once more, with its name (the kernel's, and its tail's) */
    const char *from = body.s;
    for (const char *at; (at = strstr(from, GROUP_NAME)); from = at + strlen(GROUP_NAME))
        fn_text_printf(&named, "%.*s%s", (int)(at - from), from, name);
    fn_text_printf(&named, "%s", from);
    char **bs = named.oom ? NULL : fn_realloc(*bodies, (size_t)(*n_bodies + 1) * sizeof *bs);
    if (bs) *bodies = bs;
    int *bk = bs ? fn_realloc(*body_kernel, (size_t)(*n_bodies + 1) * sizeof *bk) : NULL;
    if (!bk) {
        b->oom = 1;
        free(named.s);
        free(body.s);
        return -1;
    }
    *body_kernel = bk;
    (*bodies)[*n_bodies] = body.s;
    cg->kernel = (*body_kernel)[(*n_bodies)++] = add_kernel(b, name, named.s);
    free(named.s);
    return 0;
}

static int emit_module(const IrGraph *g, const PassFusion *f, const int64_t *numel, const size_t *esize,
                       const int64_t *stride, CuModule *m, FnStatus *st) {
    memset(m, 0, sizeof *m);
    m->k_sum_part = m->k_sum = m->k_sum_multi = m->k_round_weights = m->k_ema = m->k_copy_segs = -1;
    Builder b = {.esize = esize, .stride = stride};
    char **bodies = NULL;
    int n_bodies = 0, *body_kernel = NULL;
    fn_text_printf(&b.src, "%s", cu_prelude);
    m->plan = fn_calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *m->plan);
    m->n_plan = g->n_nodes;
    if (f && f->n_groups) {
        m->groups = fn_calloc((size_t)f->n_groups, sizeof *m->groups);
        m->n_groups = f->n_groups;
        b.oom |= !m->groups;
        for (int gi = 0; m->groups && gi < f->n_groups; gi++) m->groups[gi].tail = -1;
    }
    b.oom |= !m->plan;
    if (builder_oom(&b)) goto fail;
    for (IrId id = 0; id < g->n_nodes; id++) {
        const IrNode *n = &g->nodes[id];
        if (n->dtype != IR_DT_FLOAT && n->op != IR_OP_INPUT && n->op != IR_OP_ASSIGN) {
            fn_fail(st, "node %%%d (%s): only float32 tensors run on the GPU", (int)id, ir_op_info[n->op].name);
            goto fail;
        }
        int gi = m->n_groups ? f->group_of[id] : -1;
        if (gi < 0) {
            if (plan_node(g, id, &b, &m->plan[id], st) < 0) goto fail;
            continue;
        }
        m->plan[id].node = id;
        m->plan[id].work = CU_NOTHING;
        m->plan[id].bf16[0] = m->plan[id].bf16[1] = -1;
        if (f->run_at[gi] != id) continue; /* the group runs at run_at */
        if (add_group(&b, g, f, gi, numel, &m->groups[gi], &bodies, &n_bodies, &body_kernel) < 0) {
            fn_fail(st, "fused group %d (ending at node %%%d): its operands or sums have two row lengths", gi, (int)id);
            goto fail;
        }
        m->plan[id].work = CU_FUSED;
        m->plan[id].group = gi;
        m->plan[id].n_kernels = 1;
        m->plan[id].kernel[0] = m->groups[gi].kernel;
        if (m->groups[gi].sums && m->k_sum < 0) {
            m->k_sum_part = add_fixed(&b, "fn_sum_lead_part");
            m->k_sum = add_fixed(&b, "fn_sum_lead");
            m->k_sum_multi = add_fixed(&b, "fn_sum_lead_multi");
        }
    }
    if (g->n_effects > 0) {
        m->k_ema = add_fixed(&b, "fn_ema");
        m->k_copy_segs = add_fixed(&b, "fn_copy_segs");
    }
    for (IrId id = 0; id < g->n_nodes && m->k_round_weights < 0; id++)
        if (g->nodes[id].op == IR_OP_CONV2D || g->nodes[id].op == IR_OP_CONV2D_BWD_DATA)
            m->k_round_weights = add_fixed(&b, "fn_to_bf16_segs");
    if (builder_oom(&b)) goto fail;
    for (int i = 0; i < n_bodies; i++) free(bodies[i]);
    free(bodies);
    free(body_kernel);
    m->source = b.src.s;
    m->names = b.names;
    m->n_names = b.n;
    free(b.helped);
    return 0;
fail: /* out of memory is the cause, whatever else then failed */
    if (builder_oom(&b)) fn_fail(st, "out of memory writing the CUDA module");
    for (int i = 0; i < n_bodies; i++) free(bodies[i]);
    free(bodies);
    free(body_kernel);
    builder_free(&b);
    free(m->plan);
    free(m->groups);
    memset(m, 0, sizeof *m);
    return -1;
}

void cu_sum_splits(int sm_count, int64_t ny, int64_t k, int64_t *splits, int64_t *chunk) {
    int64_t col_blocks = (ny + 31) / 32, want = (int64_t)sm_count * 8 / col_blocks;
    int64_t most = (k + 63) / 64;
    if (want > most) want = most;
    if (want > 1024) want = 1024;
    if (want < 1) want = 1;
    *chunk = (k + want - 1) / want;
    *splits = k > 0 ? (k + *chunk - 1) / *chunk : 1;
}

void cu_group_shape(int sm_count, const PassFuseLayout *lay, int64_t domain, int64_t *cols, int64_t *rows,
                    int64_t *splits, int64_t *chunk) {
    *cols = lay->inner > 0 ? lay->inner : 32;
    *rows = (domain + *cols - 1) / *cols;
    cu_sum_splits(sm_count, *cols, *rows, splits, chunk);
}

/* Granlund and Montgomery's unsigned division by an invariant (their Figure 4.1, N = 32, for
 * dividends below 2^31 so that umulhi(n, m) + n does not overflow): l = ceil(log2 d),
 * m = floor(2^32 (2^l - d) / d) + 1 */
CuDiv cu_div(unsigned d) {
    if (d == 0) d = 1; /* no kernel divides by 0: a placeholder */
    unsigned l = 0;
    while (l < 32 && (1ull << l) < d) l++;
    uint64_t m = ((1ull << 32) * ((1ull << l) - d)) / d + 1;
    return (CuDiv){d, (unsigned)m, l};
}

CuWin cu_win(const RefWindow *w) {
    _Static_assert(sizeof(RefWindow) == 13 * sizeof(int), "RefWindow is FnWin's first 13 ints");
    return (CuWin){*w, cu_div((unsigned)w->h), cu_div((unsigned)w->w), cu_div((unsigned)w->c), cu_div((unsigned)w->oh),
                   cu_div((unsigned)w->ow), cu_div((unsigned)w->sh), cu_div((unsigned)w->sw)};
}

void cu_module_counts(const IrGraph *g, const CuModule *m, int *launches, int *gemms) {
    *launches = *gemms = 0;
    for (int i = 0; i < m->n_plan; i++) {
        const CuNodePlan *p = &m->plan[i];
        const IrNode *nd = &g->nodes[p->node];
        *gemms += p->work == CU_GEMM;
        if (p->work == CU_FUSED) { /* the loop, finishing up to CU_MAX_SUMS sums itself */
            int s = m->groups[p->group].sums;
            *launches += 1 + (s > CU_MAX_SUMS ? 1 + s - CU_MAX_SUMS : 0);
        }
        else if (p->work != CU_NOTHING)
            *launches += nd->op == IR_OP_SUMLAST ? 1 : nd->op == IR_OP_CONCAT ? nd->n_in : p->n_kernels;
    }
}

int cu_emit_graph(const IrGraph *g, CuModule *m, FnStatus *st) {
    return emit_module(g, NULL, NULL, NULL, NULL, m, st);
}

int cu_emit_fused(const IrGraph *g, const PassFusion *f, const int64_t *numel, const size_t *esize,
                  const int64_t *stride, CuModule *m, FnStatus *st) {
    return emit_module(g, f, numel, esize, stride, m, st);
}

char *cu_emit_catalogue(int *n_kernels) {
    Builder b = {0};
    fn_text_printf(&b.src, "%s", cu_prelude);
    for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++) add_unary(&b, i);
    for (size_t i = 0; i < sizeof binary / sizeof binary[0]; i++)
        for (int l = 0; l < LAYOUTS; l++) add_binary(&b, i, l);
    for (int half = 0; half < 8; half++) /* every typed variant (bfloat16 bits the text lacks fold into others) */
        for (size_t i = 0; i < sizeof cu_fixed / sizeof cu_fixed[0]; i++) add_fixed_typed(&b, cu_fixed[i].name, half);
    *n_kernels = builder_oom(&b) ? 0 : b.n;
    char *src = builder_oom(&b) ? NULL : b.src.s;
    if (src) b.src.s = NULL;
    builder_free(&b);
    return src;
}

void cu_module_free(CuModule *m) {
    free(m->source);
    for (int i = 0; i < m->n_names; i++) free(m->names[i]);
    free(m->names);
    free(m->plan);
    free(m->groups);
    memset(m, 0, sizeof *m);
}
