/* See cuda_emit.h. */
#include "codegen/cuda/cuda_emit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/cuda/cuda_kernels.h"

/* ---- a growing text buffer with printf-style appends --------------------------------------- */
typedef struct {
    char *s;
    size_t len, cap;
} Text;

static void text_printf(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(Text *t, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (t->s && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        t->cap = (t->cap + (size_t)n + 1) * 2;
        t->s = realloc(t->s, t->cap);
    }
}

/* ---- the module being built: each kernel once, in first-use order ------------------------- */
typedef struct {
    Text src;
    char **names;
    int n, cap;
} Builder;

/* Index of kernel `name`, appending its text (made by the caller into `body`) if new. */
static int add_kernel(Builder *b, const char *name, const char *body) {
    for (int i = 0; i < b->n; i++)
        if (!strcmp(b->names[i], name)) return i;
    if (b->n == b->cap) b->names = realloc(b->names, (size_t)(b->cap = b->cap ? 2 * b->cap : 32) * sizeof *b->names);
    b->names[b->n] = strdup(name);
    text_printf(&b->src, "\n%s", body);
    return b->n++;
}

static int add_fixed(Builder *b, const char *name) {
    for (size_t i = 0; i < sizeof cu_fixed / sizeof cu_fixed[0]; i++)
        if (!strcmp(cu_fixed[i].name, name)) return add_kernel(b, name, cu_fixed[i].text);
    return -1;
}

static const struct {
    IrOp op;
    const char *name, *expr;
} unary[] = {
    {IR_OP_NEG, "neg", "-v"},
    {IR_OP_RELU, "relu", "v < 0.f ? 0.f : v"},
    {IR_OP_STEP, "step", "v > 0.f ? 1.f : 0.f"},
    {IR_OP_SQUARE, "square", "v * v"},
    {IR_OP_SQRT, "sqrt", "(float)sqrt((double)v)"},
    {IR_OP_RSQRT, "rsqrt", "(float)(1.0 / sqrt((double)v))"},
    {IR_OP_EXP, "exp", "(float)exp((double)v)"},
    {IR_OP_LOG, "log", "(float)log((double)v)"},
    {IR_OP_ABS, "abs", "fabsf(v)"},
    {IR_OP_SIGN, "sign", "(float)((v > 0.f) - (v < 0.f))"},
    {IR_OP_SCALE, "scale", "v * f"},
    {IR_OP_ADDS, "adds", "v + f"},
    {IR_OP_POWS, "pows", "(float)pow((double)v, (double)f)"},
};

static const struct {
    IrOp op;
    const char *name, *expr;
} binary[] = {
    {IR_OP_ADD, "add", "x + z"},
    {IR_OP_SUB, "sub", "x - z"},
    {IR_OP_MUL, "mul", "x * z"},
    {IR_OP_DIV, "div", "x / z"},
    {IR_OP_PRELU, "prelu", "x > 0.f ? x : z * x"},
};

static int same_shape(const IrShape *a, const IrShape *b) {
    if (a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->d[i] != b->d[i]) return 0;
    return 1;
}

/* operand layouts of a binary kernel: both full-size, b a repeating suffix, a a repeating suffix */
enum { LAYOUT_FULL, LAYOUT_BSUFFIX, LAYOUT_ASUFFIX, LAYOUTS };

static int add_unary(Builder *b, size_t i) {
    char name[64], body[1024];
    snprintf(name, sizeof name, "fn_%s", unary[i].name);
    snprintf(body, sizeof body, cu_unary, name, unary[i].expr);
    return add_kernel(b, name, body);
}

static int add_binary(Builder *b, size_t i, int layout) {
    static const char *const suffix[LAYOUTS] = {"", "_bsuffix", "_asuffix"};
    char name[64], body[1024];
    snprintf(name, sizeof name, "fn_%s%s", binary[i].name, suffix[layout]);
    snprintf(body, sizeof body, cu_binary, name, layout == LAYOUT_ASUFFIX ? "a[i % na]" : "a[i]",
             layout == LAYOUT_BSUFFIX ? "b[i % nb]" : "b[i]", binary[i].expr);
    return add_kernel(b, name, body);
}

static int plan_node(const IrGraph *g, IrId id, Builder *b, CuNodePlan *p, char *err, size_t errcap) {
    const IrNode *n = &g->nodes[id];
    p->node = id;
    p->work = CU_KERNELS;
    p->n_kernels = 0;
    for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++)
        if (unary[i].op == n->op) {
            p->kernel[p->n_kernels++] = add_unary(b, i);
            return 0;
        }
    for (size_t i = 0; i < sizeof binary / sizeof binary[0]; i++)
        if (binary[i].op == n->op) {
            /* operand layout from the symbolic shapes: equal, or one a suffix of the other */
            int a_full = same_shape(&g->nodes[n->in[0]].shape, &n->shape);
            int b_full = same_shape(&g->nodes[n->in[1]].shape, &n->shape);
            p->kernel[p->n_kernels++] =
                add_binary(b, i, a_full && b_full ? LAYOUT_FULL : a_full ? LAYOUT_BSUFFIX : LAYOUT_ASUFFIX);
            return 0;
        }
    const char *fixed = NULL;
    switch (n->op) {
    case IR_OP_INPUT:
    case IR_OP_PARAM:
    case IR_OP_STATE:
    case IR_OP_ASSIGN: p->work = CU_NOTHING; return 0;
    case IR_OP_CONST: fixed = "fn_fill"; break;
    case IR_OP_RESHAPE: fixed = "fn_copy"; break;
    case IR_OP_SUM: /* partial sums over row splits, then the sum of the splits */
        p->kernel[p->n_kernels++] = add_fixed(b, "fn_sum_lead_part");
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
    case IR_OP_MAXPOOL_GRAD: fixed = "fn_maxpool_grad"; break;
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
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_BWD_FILTER: /* im2col, then the GEMM (a 1x1 stride-1 conv skips im2col at run time) */
        p->work = CU_GEMM;
        p->kernel[p->n_kernels++] = add_fixed(b, "fn_im2col");
        return 0;
    case IR_OP_CONV2D_BWD_DATA: /* the GEMM into columns, then col2im */
        p->work = CU_GEMM;
        p->kernel[p->n_kernels++] = add_fixed(b, "fn_col2im");
        return 0;
    default: break;
    }
    if (!fixed) {
        snprintf(err, errcap, "node %%%d: the CUDA target has no kernel for op %s", (int)id, ir_op_info[n->op].name);
        return -1;
    }
    p->kernel[p->n_kernels++] = add_fixed(b, fixed);
    return 0;
}

int cu_emit_graph(const IrGraph *g, CuModule *m, char *err, size_t errcap) {
    memset(m, 0, sizeof *m);
    Builder b = {{0}, NULL, 0, 0};
    text_printf(&b.src, "%s", cu_prelude);
    m->plan = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *m->plan);
    m->n_plan = g->n_nodes;
    for (IrId id = 0; id < g->n_nodes; id++) {
        const IrNode *n = &g->nodes[id];
        if (n->dtype != IR_DT_FLOAT && n->op != IR_OP_INPUT && n->op != IR_OP_ASSIGN) {
            snprintf(err, errcap, "node %%%d (%s): only float32 tensors run on the GPU", (int)id, ir_op_info[n->op].name);
            goto fail;
        }
        if (plan_node(g, id, &b, &m->plan[id], err, errcap) < 0) goto fail;
    }
    m->source = b.src.s;
    m->names = b.names;
    m->n_names = b.n;
    return 0;
fail:
    free(b.src.s);
    for (int i = 0; i < b.n; i++) free(b.names[i]);
    free(b.names);
    free(m->plan);
    memset(m, 0, sizeof *m);
    return -1;
}

char *cu_emit_catalogue(int *n_kernels) {
    Builder b = {{0}, NULL, 0, 0};
    text_printf(&b.src, "%s", cu_prelude);
    for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++) add_unary(&b, i);
    for (size_t i = 0; i < sizeof binary / sizeof binary[0]; i++)
        for (int l = 0; l < LAYOUTS; l++) add_binary(&b, i, l);
    for (size_t i = 0; i < sizeof cu_fixed / sizeof cu_fixed[0]; i++) add_kernel(&b, cu_fixed[i].name, cu_fixed[i].text);
    *n_kernels = b.n;
    for (int i = 0; i < b.n; i++) free(b.names[i]);
    free(b.names);
    return b.src.s;
}

void cu_module_free(CuModule *m) {
    free(m->source);
    for (int i = 0; i < m->n_names; i++) free(m->names[i]);
    free(m->names);
    free(m->plan);
    memset(m, 0, sizeof *m);
}
