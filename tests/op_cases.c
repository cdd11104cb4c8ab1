/* See op_cases.h. */
#include "tests/op_cases.h"

#include <stdio.h>
#include <string.h>

#include "tests/testlib.h"

typedef void (*CaseFn)(const char *label, IrGraph *g, IrId y, int label_range);

static IrShape shp(IrGraph *g, int rank, int64_t a, int64_t b, int64_t c, int64_t d) {
    int64_t v[4] = {a, b, c, d};
    return ir_shape_make(g, rank, v);
}

static IrId P(IrGraph *g, const char *name, IrShape s) {
    return ir_leaf(g, IR_OP_PARAM, name, IR_DT_FLOAT, &s, IR_INIT_ZEROS, 0, 0);
}

static IrId window_op(IrGraph *g, IrOp op, IrId x, IrId w, int kh, int kw, int s, int same) {
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.window = (IrWindowAttr){kh, kw, s, s, same};
    IrId in[2] = {x, w};
    return ir_make(g, op, in, w == IR_NONE ? 1 : 2, &at);
}

static void conv_cases(CaseFn run) {
    struct { int h, w, c, kh, kw, o, s, same; } cs[] = {
        {7, 7, 3, 3, 3, 4, 2, 0}, {6, 6, 2, 3, 3, 3, 1, 1}, {5, 6, 2, 1, 7, 2, 1, 1},
        {6, 5, 2, 7, 1, 2, 1, 1}, {5, 5, 3, 1, 3, 2, 1, 1}, {5, 5, 3, 3, 1, 2, 1, 1},
        {4, 4, 2, 1, 1, 3, 1, 0}, {5, 5, 2, 2, 2, 3, 1, 0}, {8, 8, 2, 3, 3, 2, 2, 1},
        {7, 7, 2, 3, 3, 2, 2, 1}};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        IrGraph *g = ir_graph_new();
        IrId x = P(g, "x", shp(g, 4, 2, cs[i].h, cs[i].w, cs[i].c));
        IrId w = P(g, "w", shp(g, 4, cs[i].kh, cs[i].kw, cs[i].c, cs[i].o));
        char label[96];
        snprintf(label, sizeof label, "conv2d %dx%d %dx%dx%d s%d %s", cs[i].kh, cs[i].kw, cs[i].h,
                 cs[i].w, cs[i].c, cs[i].s, cs[i].same ? "SAME" : "VALID");
        run(label, g, window_op(g, IR_OP_CONV2D, x, w, cs[i].kh, cs[i].kw, cs[i].s, cs[i].same), 1);
    }
}

static void pool_cases(CaseFn run) {
    struct { IrOp op; int h, k, s, same; const char *name; } cs[] = {
        {IR_OP_MAXPOOL, 7, 3, 2, 0, "maxpool 3x3/2 VALID"}, {IR_OP_MAXPOOL, 6, 3, 2, 1, "maxpool 3x3/2 SAME"},
        {IR_OP_MAXPOOL, 5, 2, 2, 1, "maxpool 2x2/2 SAME odd"}, {IR_OP_MAXPOOL, 5, 3, 1, 1, "maxpool 3x3/1 SAME"},
        {IR_OP_AVGPOOL, 3, 0, 1, 0, "avgpool global"},
        {IR_OP_AVGPOOL, 5, 3, 1, 1, "avgpool 3x3/1 SAME"}};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        IrGraph *g = ir_graph_new();
        IrId x = P(g, "x", shp(g, 4, 2, cs[i].h, cs[i].h + 1, 3));
        run(cs[i].name, g, window_op(g, cs[i].op, x, IR_NONE, cs[i].k, cs[i].k, cs[i].s, cs[i].same), 1);
    }
}

static void elementwise_cases(CaseFn run) {
    static const struct { IrOp op; const char *name; } un[] = {
        {IR_OP_NEG, "neg"}, {IR_OP_RELU, "relu"}, {IR_OP_SQUARE, "square"}, {IR_OP_ABS, "abs"},
        {IR_OP_EXP, "exp"}};
    for (size_t i = 0; i < sizeof un / sizeof un[0]; i++) {
        IrGraph *g = ir_graph_new();
        IrId x = P(g, "x", shp(g, 2, 3, 4, 0, 0));
        run(un[i].name, g, ir_unary(g, un[i].op, x), 1);
    }
    /* ops that need positive inputs: x -> exp(x) first */
    static const struct { IrOp op; const char *name; } pos[] = {
        {IR_OP_SQRT, "sqrt"}, {IR_OP_RSQRT, "rsqrt"}, {IR_OP_LOG, "log"}};
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) {
        IrGraph *g = ir_graph_new();
        IrId x = ir_unary(g, IR_OP_EXP, P(g, "x", shp(g, 2, 3, 4, 0, 0)));
        run(pos[i].name, g, ir_unary(g, pos[i].op, x), 1);
    }
    {
        IrGraph *g = ir_graph_new();
        IrId x = ir_unary(g, IR_OP_EXP, P(g, "x", shp(g, 2, 3, 4, 0, 0)));
        run("pows 1.5, scale, adds", g,
            ir_scalar_op(g, IR_OP_ADDS, ir_scalar_op(g, IR_OP_SCALE, ir_scalar_op(g, IR_OP_POWS, x, 1.5), 0.3), 2), 1);
    }
    static const IrOp bin[] = {IR_OP_ADD, IR_OP_SUB, IR_OP_MUL, IR_OP_DIV};
    for (size_t i = 0; i < 4; i++) {
        for (int bc = 0; bc < 3; bc++) { /* same shape, suffix [C], scalar */
            IrGraph *g = ir_graph_new();
            IrId a = P(g, "a", shp(g, 3, 2, 3, 4, 0));
            IrShape sb = bc == 0 ? shp(g, 3, 2, 3, 4, 0) : bc == 1 ? shp(g, 1, 4, 0, 0, 0) : shp(g, 0, 0, 0, 0, 0);
            IrId b = P(g, "b", sb);
            if (bin[i] == IR_OP_DIV) b = ir_scalar_op(g, IR_OP_ADDS, ir_unary(g, IR_OP_EXP, b), 0.5);
            char label[64];
            snprintf(label, sizeof label, "%s %s", ir_op_info[bin[i]].name,
                     bc == 0 ? "same shape" : bc == 1 ? "broadcast [C]" : "broadcast scalar");
            run(label, g, ir_binary(g, bin[i], a, b), 1);
        }
    }
}

static void nn_cases(CaseFn run) {
    IrGraph *g = ir_graph_new();
    IrId x = P(g, "x", shp(g, 2, 4, 5, 0, 0));
    run("softmax", g, ir_unary(g, IR_OP_SOFTMAX, x), 1);

    g = ir_graph_new();
    x = P(g, "x", shp(g, 2, 4, 5, 0, 0));
    IrShape ls = shp(g, 1, 4, 0, 0, 0);
    IrId lab = ir_leaf(g, IR_OP_INPUT, "labels", IR_DT_INT32, &ls, IR_INIT_ZEROS, 0, 0);
    run("softmax_xent", g, ir_binary(g, IR_OP_SOFTMAX_XENT, x, lab), 5);

    g = ir_graph_new();
    x = P(g, "x", shp(g, 2, 4, 6, 0, 0));
    run("l2_normalize eps 1e-10", g, ir_scalar_op(g, IR_OP_L2NORM, x, 1e-10), 1);

    g = ir_graph_new();
    x = P(g, "x", shp(g, 2, 3, 4, 0, 0));
    IrId w = P(g, "w", shp(g, 2, 4, 5, 0, 0));
    IrAttr at;
    memset(&at, 0, sizeof at);
    for (int t = 0; t < 4; t++) {
        if (t) {
            g = ir_graph_new();
            at.u.matmul = (IrMatmulAttr){t & 1, t >> 1};
            x = P(g, "x", (t & 1) ? shp(g, 2, 4, 3, 0, 0) : shp(g, 2, 3, 4, 0, 0));
            w = P(g, "w", (t >> 1) ? shp(g, 2, 5, 4, 0, 0) : shp(g, 2, 4, 5, 0, 0));
        }
        IrId in[2] = {x, w};
        char label[64];
        snprintf(label, sizeof label, "matmul ta=%d tb=%d", t & 1, t >> 1);
        run(label, g, ir_make(g, IR_OP_MATMUL, in, 2, &at), 1);
    }

    /* PReLU as the DSL prelude writes it: relu(x) - alpha * relu(-x) */
    g = ir_graph_new();
    x = P(g, "x", shp(g, 4, 2, 3, 3, 4));
    IrId alpha = P(g, "alpha", shp(g, 1, 4, 0, 0, 0));
    run("prelu (composite)", g,
        ir_binary(g, IR_OP_SUB, ir_unary(g, IR_OP_RELU, x),
                  ir_binary(g, IR_OP_MUL, alpha, ir_unary(g, IR_OP_RELU, ir_unary(g, IR_OP_NEG, x)))), 1);

    /* the primitive the prelude now uses, with a negative-heavy input so both sides are tested */
    g = ir_graph_new();
    x = P(g, "x", shp(g, 4, 2, 3, 3, 4));
    alpha = P(g, "alpha", shp(g, 1, 4, 0, 0, 0));
    run("prelu", g, ir_binary(g, IR_OP_PRELU, x, alpha), 1);

    /* batch norm in training mode as the prelude writes it */
    g = ir_graph_new();
    x = P(g, "x", shp(g, 4, 2, 3, 3, 4));
    IrId beta = P(g, "beta", shp(g, 1, 4, 0, 0, 0));
    IrId m = ir_reduce(g, IR_OP_SUM, x, 1, 1, NULL);
    IrId xc = ir_binary(g, IR_OP_SUB, x, m);
    IrId v = ir_reduce(g, IR_OP_SUM, ir_unary(g, IR_OP_SQUARE, xc), 1, 1, NULL);
    IrId y = ir_binary(g, IR_OP_ADD,
                       ir_binary(g, IR_OP_MUL, xc, ir_unary(g, IR_OP_RSQRT, ir_scalar_op(g, IR_OP_ADDS, v, 1e-3))), beta);
    run("batch norm (training, composite)", g, y, 1);

    /* sum_last / mean_last, mean over leading axes, reshape, concat, dropout */
    g = ir_graph_new();
    x = P(g, "x", shp(g, 3, 2, 3, 4, 0));
    run("sum_last + mean_last", g,
        ir_binary(g, IR_OP_ADD, ir_reduce(g, IR_OP_SUMLAST, x, 0, 0, NULL), ir_reduce(g, IR_OP_SUMLAST, x, 0, 1, NULL)), 1);
    g = ir_graph_new();
    x = P(g, "x", shp(g, 4, 2, 2, 2, 3));
    IrAttr ra;
    memset(&ra, 0, sizeof ra);
    ra.shape = shp(g, 2, 2, 12, 0, 0);
    run("reshape (flatten)", g, ir_make(g, IR_OP_RESHAPE, &x, 1, &ra), 1);
    g = ir_graph_new();
    IrId c[3] = {P(g, "a", shp(g, 4, 2, 2, 2, 3)), P(g, "b", shp(g, 4, 2, 2, 2, 1)), P(g, "c", shp(g, 4, 2, 2, 2, 2))};
    IrAttr ca;
    memset(&ca, 0, sizeof ca);
    ca.u.axis.axis = -1;
    run("concat (channels)", g, ir_make(g, IR_OP_CONCAT, c, 3, &ca), 1);
    g = ir_graph_new();
    x = P(g, "x", shp(g, 2, 4, 8, 0, 0));
    IrShape sc = shp(g, 0, 0, 0, 0, 0);
    IrId keep = ir_leaf(g, IR_OP_INPUT, "keep_probability", IR_DT_FLOAT, &sc, IR_INIT_ZEROS, 0, 0);
    IrId mk[2] = {x, keep};
    run("dropout (mask fixed per step)", g,
        ir_binary(g, IR_OP_MUL, x, ir_make(g, IR_OP_DROPOUT_MASK, mk, 2, NULL)), 1);
}

void op_case(OpCaseRun run, const char *label, IrGraph *g, IrId y, int label_range) {
    if (!CHECK(y != IR_NONE, "%s: build failed: %s", label, g->err)) {
        ir_graph_free(g);
        return;
    }
    ir_set_output(g, "y", y);
    run(label, g, label_range);
}

static OpCaseRun user_run;
static void built(const char *label, IrGraph *g, IrId y, int label_range) { op_case(user_run, label, g, y, label_range); }

void op_cases(OpCaseRun run) {
    user_run = run;
    conv_cases(built);
    pool_cases(built);
    elementwise_cases(built);
    nn_cases(built);
}
