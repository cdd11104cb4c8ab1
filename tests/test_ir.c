/* IR unit tests: dimension expressions, hash-consing, shape errors, the verifier, the printer,
 * the simplify and recompute passes, artifact round trips and rejection of bad artifacts, and
 * the text form of the whole training step, and the replicas' reductions (ALLREDUCE) kept or
 * dropped per group. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/driver.h"
#include "passes/passes.h"
#include "runtime/core/artifact.h"
#include "tests/testlib.h"

static char *print_to_string(const IrGraph *g) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ir_print(g, f);
    fclose(f);
    return buf;
}

/* a float leaf, zero-initialised */
static IrId leaf(IrGraph *g, IrOp op, const char *name, const IrShape *s) {
    return ir_leaf(g, op, name, IR_DT_FLOAT, s, IR_INIT_ZEROS, 0, 0);
}

static void test_dims(void) {
    IrGraph *g = ir_graph_new();
    IrDim h = ir_dim_sym(g, "image_size", 160), three = ir_dim_const(g, 3), two = ir_dim_const(g, 2);
    IrDim out = ir_dim_add(g, ir_dim_floordiv(g, ir_dim_sub(g, h, three), two), ir_dim_const(g, 1));
    IrDim again = ir_dim_add(g, ir_dim_floordiv(g, ir_dim_sub(g, h, three), two), ir_dim_const(g, 1));
    CHECK(out == again, "dimension expressions are hash-consed");
    int64_t sym[1] = {160};
    CHECK(ir_dim_eval(g, out, sym) == 79, "VALID 3x3/2 of 160 is 79, got %lld", (long long)ir_dim_eval(g, out, sym));
    sym[0] = 75;
    CHECK(ir_dim_eval(g, out, sym) == 37, "of 75 is 37");
    CHECK(ir_dim_add(g, h, ir_dim_const(g, 0)) == h, "x+0 folds");
    CHECK(ir_dim_mul(g, h, ir_dim_const(g, 1)) == h, "x*1 folds");
    int64_t v;
    CHECK(ir_dim_const_value(g, ir_dim_mul(g, three, two), &v) && v == 6, "3*2 folds to 6");
    CHECK(ir_dim_mul(g, h, two) == ir_dim_mul(g, two, h), "multiplication is canonicalised");
    char buf[128];
    ir_dim_format(g, out, buf, sizeof buf);
    CHECK(strcmp(buf, "((image_size-3)//2)+1") == 0, "format: %s", buf);
    ir_graph_free(g);
}

static void test_nodes(void) {
    IrGraph *g = ir_graph_new();
    int64_t xs[4] = {2, 9, 9, 3}, ws[4] = {3, 3, 3, 8}, bad[4] = {3, 3, 4, 8}, cs[1] = {8};
    IrShape sx = ir_shape_make(g, 4, xs), sw = ir_shape_make(g, 4, ws), sb = ir_shape_make(g, 4, bad);
    IrShape sc = ir_shape_make(g, 1, cs);
    IrId x = leaf(g, IR_OP_INPUT, "x", &sx);
    IrId w = ir_leaf(g, IR_OP_PARAM, "w", IR_DT_FLOAT, &sw, IR_INIT_GLOROT_UNIFORM, 0, IR_LEAF_DECAY);
    IrId wb = ir_leaf(g, IR_OP_PARAM, "wb", IR_DT_FLOAT, &sb, IR_INIT_GLOROT_UNIFORM, 0, 0);
    IrId c = leaf(g, IR_OP_PARAM, "c", &sc);
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.window = (IrWindowAttr){0, 0, 2, 2, 0};
    IrId in[2] = {x, w};
    IrId y1 = ir_make(g, IR_OP_CONV2D, in, 2, &at), y2 = ir_make(g, IR_OP_CONV2D, in, 2, &at);
    CHECK(y1 != IR_NONE && y1 == y2, "identical nodes are built once (hash-consing)");
    int64_t out;
    CHECK(ir_dim_const_value(g, g->nodes[y1].shape.d[1], &out) && out == 4, "conv 3x3/2 VALID of 9 is 4");
    in[1] = wb;
    CHECK(ir_make(g, IR_OP_CONV2D, in, 2, &at) == IR_NONE && strstr(g->err, "3 channels but the filter expects 4"),
          "conv channel mismatch is reported: %s", g->err);
    CHECK(ir_binary(g, IR_OP_ADD, y1, c) != IR_NONE, "[C] broadcasts over NHWC");
    CHECK(ir_binary(g, IR_OP_ADD, y1, x) == IR_NONE && strstr(g->err, "do not broadcast"),
          "mismatched add is reported: %s", g->err);
    CHECK(ir_unary(g, IR_OP_RELU, 12345) == IR_NONE, "a bad input id is an error, not a crash");
    CHECK(ir_verify(g) == 0, "verifier accepts a good graph: %s", g->err);
    IrGraph *bad_g = ir_graph_clone(g);
    bad_g->nodes[y1].in[0] = y1; /* a cycle */
    CHECK(ir_verify(bad_g) < 0 && strstr(bad_g->err, "not earlier"), "verifier rejects a cycle: %s", bad_g->err);
    ir_graph_free(bad_g);
    char *txt = print_to_string(g);
    CHECK(strstr(txt, "conv2d(%0, %1) {k=3x3 s=2x2 pad=valid} : f[2,4,4,8]") != NULL, "printer: %s", txt);
    free(txt);
    ir_graph_free(g);
}

static void test_simplify(void) {
    IrGraph *g = ir_graph_new();
    int64_t d[2] = {2, 3};
    IrShape s = ir_shape_make(g, 2, d);
    IrId x = leaf(g, IR_OP_INPUT, "x", &s);
    IrId dead = ir_unary(g, IR_OP_EXP, x);
    IrId y = ir_scalar_op(g, IR_OP_SCALE, ir_scalar_op(g, IR_OP_SCALE, ir_unary(g, IR_OP_NEG, ir_unary(g, IR_OP_NEG, x)), 2), 0.5);
    ir_set_output(g, "y", y);
    CHECK(dead != IR_NONE && g->n_nodes == 6, "built 6 nodes");
    PassCtx ctx = {0};
    CHECK(pass_simplify(&g, &ctx) == 0, "simplify runs");
    CHECK(g->n_nodes == 1 && ir_output(g, "y") == 0, "x*2*0.5 and --x fold to x, exp(x) is dead: %d nodes", g->n_nodes);
    ir_graph_free(g);
    /* a scale moves past the gradients of a convolution and a sum: the scaled gradient is gone */
    g = ir_graph_new();
    int64_t xd[4] = {2, 5, 5, 3}, wd[4] = {3, 3, 3, 4}, yd[4] = {2, 5, 5, 4};
    IrShape sx = ir_shape_make(g, 4, xd), sw = ir_shape_make(g, 4, wd), sy = ir_shape_make(g, 4, yd);
    x = leaf(g, IR_OP_INPUT, "x", &sx);
    IrId w = leaf(g, IR_OP_PARAM, "w", &sw);
    IrId dy = leaf(g, IR_OP_INPUT, "dy", &sy);
    IrId sdy = ir_scalar_op(g, IR_OP_SCALE, dy, 0.17);
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.window = (IrWindowAttr){3, 3, 1, 1, 1};
    at.shape = sx;
    IrId in[2] = {sdy, w};
    ir_set_output(g, "dx", ir_make(g, IR_OP_CONV2D_BWD_DATA, in, 2, &at));
    at.shape.rank = 0;
    in[0] = x, in[1] = sdy;
    ir_set_output(g, "dw", ir_make(g, IR_OP_CONV2D_BWD_FILTER, in, 2, &at));
    ir_set_output(g, "db", ir_reduce(g, IR_OP_SUM, sdy, 1, 1, NULL));
    memset(&at, 0, sizeof at);
    at.u.axis = (IrAxisAttr){3, 1, 2};
    ir_set_output(g, "part", ir_make(g, IR_OP_SLICE, &sdy, 1, &at));
    CHECK(pass_simplify(&g, &ctx) == 0, "simplify runs");
    int scaled_grad = 0, moved = 0;
    for (IrId id = 0; id < g->n_nodes; id++) {
        const IrNode *nd = &g->nodes[id];
        scaled_grad += nd->op == IR_OP_SCALE && g->nodes[nd->in[0]].op == IR_OP_INPUT;
        moved += nd->op == IR_OP_SCALE && nd->attr.u.scalar.f == 0.17 && g->nodes[nd->in[0]].op != IR_OP_INPUT;
    }
    CHECK(scaled_grad == 0 && moved == 4,
          "scale(dy) moves past conv2d_bwd_data, conv2d_bwd_filter, a mean and a slice (%d left, %d moved)",
          scaled_grad, moved);
    const IrNode *mean = &g->nodes[ir_output(g, "db")], *part = &g->nodes[ir_output(g, "part")];
    CHECK(mean->op == IR_OP_SCALE && g->nodes[mean->in[0]].attr.u.reduce.mean == 1 &&
              g->nodes[part->in[0]].op == IR_OP_SLICE && g->nodes[part->in[0]].attr.u.axis.len == 2,
          "the moved-past ops keep their attributes");
    ir_graph_free(g);
    /* batch norm's gradient: sum(-(g * r)) with r per channel is -(sum(g) * r), and sum(g) is the
       beta gradient's own sum, so one sum is left; a factor of another shape stays inside */
    g = ir_graph_new();
    int64_t gd[4] = {2, 3, 3, 4}, cd[1] = {4}, rd[3] = {3, 3, 4};
    IrShape sg = ir_shape_make(g, 4, gd), sc = ir_shape_make(g, 1, cd), sr = ir_shape_make(g, 3, rd);
    IrId gr = leaf(g, IR_OP_INPUT, "g", &sg);
    IrId r = leaf(g, IR_OP_PARAM, "r", &sc);
    IrId rows = leaf(g, IR_OP_PARAM, "rows", &sr);
    ir_set_output(g, "beta", ir_reduce(g, IR_OP_SUM, gr, 1, 0, NULL));
    ir_set_output(g, "mean", ir_reduce(g, IR_OP_SUM, ir_unary(g, IR_OP_NEG, ir_binary(g, IR_OP_MUL, gr, r)), 1, 0, NULL));
    ir_set_output(g, "kept", ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, gr, rows), 1, 0, NULL));
    CHECK(pass_simplify(&g, &ctx) == 0, "simplify runs");
    int sums = 0;
    for (IrId id = 0; id < g->n_nodes; id++) sums += g->nodes[id].op == IR_OP_SUM;
    const IrNode *mn = &g->nodes[ir_output(g, "mean")];
    const IrNode *mm = &g->nodes[mn->in[0]];
    CHECK(sums == 2 && mn->op == IR_OP_SCALE && mn->attr.u.scalar.f == -1 && mm->op == IR_OP_MUL &&
              (mm->in[0] == ir_output(g, "beta") || mm->in[1] == ir_output(g, "beta")),
          "sum(-(g r)) = -(sum(g) r), sharing the beta gradient's sum (%d sums)", sums);
    CHECK(g->nodes[g->nodes[ir_output(g, "kept")].in[0]].op == IR_OP_MUL,
          "a factor varying along the summed axes stays inside the sum");
    ir_graph_free(g);
}

static int copies_of(const IrGraph *g, IrOp op) {
    int n = 0;
    for (IrId id = 0; id < g->n_nodes; id++) n += g->nodes[id].op == op && g->nodes[id].attr.copy > 0;
    return n;
}

/* recompute on a batch norm + relu with a gradient-like reader of each value, beside a
 * relu(conv + bias) that must be left alone, then fusion of the result and a round trip */
static void test_recompute(void) {
    IrGraph *g = ir_graph_new();
    int64_t xd[4] = {2, 6, 6, 8}, wd[4] = {3, 3, 8, 8}, cd[1] = {8};
    IrShape sx = ir_shape_make(g, 4, xd), sw = ir_shape_make(g, 4, wd), sc = ir_shape_make(g, 1, cd);
    IrId x = leaf(g, IR_OP_INPUT, "x", &sx);
    IrId dy = leaf(g, IR_OP_INPUT, "dy", &sx);
    IrId w = ir_leaf(g, IR_OP_PARAM, "w", IR_DT_FLOAT, &sw, IR_INIT_GLOROT_UNIFORM, 0, 0);
    IrId beta = leaf(g, IR_OP_PARAM, "beta", &sc);
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.window = (IrWindowAttr){3, 3, 1, 1, 1};
    IrId in[2] = {x, w};
    IrId c = ir_make(g, IR_OP_CONV2D, in, 2, &at);
    IrId m = ir_reduce(g, IR_OP_SUM, c, 1, 1, NULL);
    IrId xc = ir_binary(g, IR_OP_SUB, c, m);
    IrId var = ir_reduce(g, IR_OP_SUM, ir_unary(g, IR_OP_SQUARE, xc), 1, 1, NULL);
    IrId r = ir_unary(g, IR_OP_RSQRT, ir_scalar_op(g, IR_OP_ADDS, var, 1e-3));
    IrId y = ir_unary(g, IR_OP_RELU, ir_binary(g, IR_OP_ADD, ir_binary(g, IR_OP_MUL, xc, r), beta));
    in[0] = y;
    IrId c2 = ir_make(g, IR_OP_CONV2D, in, 2, &at);
    IrId gm = ir_binary(g, IR_OP_MUL, dy, ir_unary(g, IR_OP_STEP, y)); /* relu's gradient */
    IrId gs = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, gm, xc), 1, 0, NULL);
    IrId y3 = ir_unary(g, IR_OP_RELU, ir_binary(g, IR_OP_ADD, c2, beta)); /* relu(conv + bias) */
    in[0] = y3;
    IrId c3 = ir_make(g, IR_OP_CONV2D, in, 2, &at);
    IrId g3 = ir_binary(g, IR_OP_MUL, dy, ir_unary(g, IR_OP_STEP, y3));
    ir_set_output(g, "gs", gs);
    ir_set_output(g, "c3", c3);
    ir_set_output(g, "g3", g3);
    PassCtx ctx = {0};
    int before = g->n_nodes;
    if (!CHECK(pass_recompute(&g, &ctx) == 0 && ir_verify(g) == 0, "recompute runs: %s", g->err)) {
        ir_graph_free(g);
        return;
    }
    /* xc: read by the variance (the original), the normalisation and the gradient (copies); y:
       read by the conv (the original) and by its mask, through a copy of relu((c - m) * r + beta) */
    CHECK(copies_of(g, IR_OP_SUB) == 3 && copies_of(g, IR_OP_RELU) == 1 && copies_of(g, IR_OP_MUL) == 1 &&
              g->n_nodes == before + 6,
          "copies: x - mean for two readers, the relu chain for the mask (%d nodes, from %d)", g->n_nodes, before);
    IrId step = IR_NONE, step3 = IR_NONE;
    for (IrId id = 0; id < g->n_nodes; id++)
        if (g->nodes[id].op == IR_OP_STEP) *(step == IR_NONE ? &step : &step3) = id;
    const IrNode *ys = &g->nodes[g->nodes[step].in[0]], *y3s = &g->nodes[g->nodes[step3].in[0]];
    CHECK(ys->op == IR_OP_RELU && ys->attr.copy > 0, "the batch norm's mask reads a copy of relu");
    CHECK(y3s->op == IR_OP_RELU && y3s->attr.copy == 0, "relu(conv + bias)'s mask reads the relu itself");
    for (IrId id = 0; id < g->n_nodes; id++)
        if (g->nodes[id].op == IR_OP_RSQRT || g->nodes[id].op == IR_OP_ADDS)
            CHECK(g->nodes[id].attr.copy == 0, "a [C] value is read, not copied");
    PassFusion f;
    pass_fuse(g, NULL, NULL, &f);
    int sub_written = 0, relu_read = 0;
    for (IrId id = 0; id < g->n_nodes; id++) {
        sub_written += g->nodes[id].op == IR_OP_SUB && f.materialized[id];
        if (g->nodes[id].op == IR_OP_STEP && g->nodes[id].in[0] != y3s - g->nodes) relu_read += f.materialized[g->nodes[id].in[0]];
    }
    CHECK(sub_written == 0, "fused: x - mean is never written");
    CHECK(relu_read == 0, "fused: the batch norm's mask reads no written relu");
    pass_fusion_free(&f);
    /* copies survive printing, parsing and artifacts (hash-consing would merge them otherwise) */
    char *t1 = print_to_string(g);
    RtStatus st = {""}; /* ir_parse_text and the artifact's functions fill the same status */
    CHECK(strstr(t1, "{copy=1}") || strstr(t1, " copy=1}"), "the printer shows copies");
    IrGraph *back = ir_parse_text(t1, &st);
    if (CHECK(back != NULL, "parse: %s", st.msg)) {
        char *t2 = print_to_string(back);
        CHECK(strcmp(t1, t2) == 0 && back->n_nodes == g->n_nodes, "print -> parse -> print keeps the copies");
        free(t2);
        ir_graph_free(back);
    }
    const char *path = "test_ir_recompute.fnc", *names[1] = {"train"};
    IrGraph *gs1[1] = {g};
    RtArtifact a;
    if (CHECK(rt_artifact_save(path, "model.fn", gs1, names, 1, &st) == 0 && rt_artifact_load(path, &a, &st) == 0,
              "artifact: %s", st.msg)) {
        char *t3 = print_to_string(a.graphs[0]);
        CHECK(strcmp(t1, t3) == 0, "an artifact keeps the copies");
        free(t3);
        rt_artifact_free(&a);
    }
    unlink(path);
    free(t1);
    ir_graph_free(g);
}

static void test_artifact(void) {
    IrGraph *g = ir_graph_new();
    IrDim n = ir_dim_sym(g, "N", -1);
    IrShape s = {2, {n, ir_dim_const(g, 5)}};
    IrShape sl = {1, {n}};
    IrId x = leaf(g, IR_OP_INPUT, "x", &s);
    IrId l = ir_leaf(g, IR_OP_INPUT, "labels", IR_DT_INT32, &sl, IR_INIT_ZEROS, 0, 0);
    IrId xe = ir_binary(g, IR_OP_SOFTMAX_XENT, x, l);
    ir_set_output(g, "loss", ir_reduce(g, IR_OP_SUM, xe, 0, 1, NULL));
    ir_add_mark(g, "Loss", xe);
    const char *path = "test_ir_artifact.fnc";
    IrGraph *gs[1] = {g};
    const char *names[1] = {"eval"};
    RtStatus st;
    CHECK(rt_artifact_save(path, "model.fn", gs, names, 1, &st) == 0, "save: %s", st.msg);
    RtArtifact a;
    CHECK(rt_artifact_load(path, &a, &st) == 0, "load: %s", st.msg);
    if (a.n == 1) {
        char *t1 = print_to_string(g), *t2 = print_to_string(a.graphs[0]);
        CHECK(strcmp(t1, t2) == 0, "round trip keeps the graph:\n%s\n---\n%s", t1, t2);
        /* and the text form round-trips too, after autodiff added grad/ outputs */
        PassCtx ctx = {0};
        int64_t wd[2] = {5, 5};
        IrShape ws = ir_shape_make(g, 2, wd);
        IrId w = ir_leaf(g, IR_OP_PARAM, "layer/w", IR_DT_FLOAT, &ws, IR_INIT_GLOROT_UNIFORM, 0, IR_LEAF_DECAY);
        IrId in2[2] = {x, w};
        IrId logits = ir_make(g, IR_OP_MATMUL, in2, 2, NULL);
        ir_set_output(g, "loss", ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_SOFTMAX_XENT, logits, l), 0, 1, NULL));
        CHECK(pass_autodiff(&g, &ctx) == 0 && ir_output(g, "grad/layer/w") != IR_NONE, "autodiff adds grad/layer/w");
        char *t3 = print_to_string(g);
        IrGraph *back = ir_parse_text(t3, &st);
        CHECK(back != NULL, "parse the printed IR: %s", st.msg);
        if (back) {
            char *t4 = print_to_string(back);
            CHECK(strcmp(t3, t4) == 0, "print -> parse -> print is the identity:\n%s\n---\n%s", t3, t4);
            free(t4);
            ir_graph_free(back);
        }
        free(t3);
        CHECK(ir_parse_text("%0 = frob() {} : f[]\n", &st) == NULL && strstr(st.msg, "unknown op frob"),
              "parser rejects an unknown op: %s", st.msg);
        free(t1);
        free(t2);
        CHECK(a.graphs[0]->n_marks == 1, "marks survive");
        rt_artifact_free(&a);
    }
    /* damage it in four ways */
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len);
    CHECK(fread(buf, 1, (size_t)len, f) == (size_t)len, "read back");
    fclose(f);
    struct { const char *what, *expect; long len; int byte; unsigned char value; } cases[] = {
        {"truncated", "truncated", len - 7, -1, 0},
        {"version", "format version 98", len, 8, 99},
        {"magic", "not an fn artifact", len, 0, 'X'},
        {"payload", "corrupt", len, 30, 0xff},
        {"short header", "truncated", 12, -1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char *b = malloc((size_t)len);
        memcpy(b, buf, (size_t)len);
        if (cases[i].byte >= 0) b[cases[i].byte] ^= cases[i].value;
        f = fopen(path, "wb");
        fwrite(b, 1, (size_t)cases[i].len, f);
        fclose(f);
        free(b);
        int rc = rt_artifact_load(path, &a, &st);
        CHECK(rc < 0 && strstr(st.msg, cases[i].expect) && strstr(st.msg, path),
              "%s artifact: message '%s' should name the file and say '%s'", cases[i].what, st.msg, cases[i].expect);
    }
    free(buf);
    unlink(path);
    CHECK(rt_artifact_load("no/such/file.fnc", &a, &st) < 0 && strstr(st.msg, "no/such/file.fnc"), "missing file: %s", st.msg);
    ir_graph_free(g);
}

/* the whole Inception-ResNet-v1 training step (symbolic sizes such as ((image_size-3)//2)+1,
 * every op the model uses, recomputed copies) through print -> parse -> print */
static void test_text_round_trip(void) {
    PassCtx ctx = {0};
    ctx.optimizer = PASS_OPT_ADAM;
    IrGraph *g = drv_build("models/inception_resnet_v1.fn", NULL, 0, 1, &ctx, stderr);
    if (!CHECK(g != NULL, "Inception-ResNet-v1 builds")) return;
    char *t1 = print_to_string(g);
    FnStatus st = {""};
    IrGraph *back = ir_parse_text(t1, &st);
    if (CHECK(back != NULL, "the printed training step parses: %s", st.msg)) {
        char *t2 = print_to_string(back);
        CHECK(strcmp(t1, t2) == 0 && back->n_nodes == g->n_nodes, "print -> parse -> print is the identity (%d nodes)",
              g->n_nodes);
        free(t2);
        ir_graph_free(back);
    }
    free(t1);
    ir_graph_free(g);
}

/* Siblings: a loop that reads a value some open group reads from outside joins that group, so
 * the value is read once (the sums of x and of x squared); not once the group has been read. */
/* Dimension arithmetic is checked (issue 24): folding that overflows int64_t, evaluation at
 * bound sizes that overflows, element counts over IR_MAX_NUMEL, non-positive constant dims and
 * over-deep dimension expressions are errors, never wrapped numbers. */
static void test_dim_limits(void) {
    IrGraph *g = ir_graph_new();
    IrDim big = ir_dim_const(g, (int64_t)1 << 62), four = ir_dim_const(g, 4), n = ir_dim_sym(g, "N", -1);
    CHECK(ir_dim_mul(g, big, four) == IR_NONE && strstr(g->err, "overflows 64 bits"),
          "2^62 * 4 does not fold: %s", g->err);
    CHECK(ir_dim_add(g, ir_dim_const(g, INT64_MAX), ir_dim_const(g, 1)) == IR_NONE, "INT64_MAX + 1 does not fold");
    CHECK(ir_dim_floordiv(g, n, ir_dim_const(g, 0)) == IR_NONE && strstr(g->err, "divides by zero"),
          "N // 0 is no dimension: %s", g->err);
    CHECK(ir_dim_add(g, IR_NONE, n) == IR_NONE, "IR_NONE propagates");
    IrDim nb = ir_dim_mul(g, n, big);
    int64_t sym[1] = {8}, v = 0;
    CHECK(nb != IR_NONE && ir_dim_eval_checked(g, nb, sym, &v) < 0 && ir_dim_eval(g, nb, sym) == -1,
          "N * 2^62 at N = 8 overflows when evaluated");
    int64_t dims[4] = {1000000000, 1000000000, 1000000000, 3};
    CHECK(ir_numel(dims, 4) == -1, "10^27 elements: ir_numel says -1, got %lld", (long long)ir_numel(dims, 4));
    int64_t ok[2] = {1 << 20, 1 << 20};
    CHECK(ir_numel(ok, 2) == (int64_t)1 << 40, "2^40 elements are allowed");
    int64_t huge[4] = {1000000000, 1000000000, 1000000000, 3}, neg[2] = {4, -3};
    IrShape sh = ir_shape_make(g, 4, huge), sn = ir_shape_make(g, 2, neg);
    CHECK(leaf(g, IR_OP_INPUT, "huge", &sh) == IR_NONE && strstr(g->err, "more than 2^40"),
          "a leaf over 2^40 elements is refused: %s", g->err);
    CHECK(leaf(g, IR_OP_INPUT, "neg", &sn) == IR_NONE && strstr(g->err, "non-positive dimension"),
          "a leaf with a negative dim is refused: %s", g->err);
    IrDim d = n;
    for (int i = 0; i < IR_MAX_DIM_DEPTH + 5 && d != IR_NONE; i++) d = ir_dim_mul(g, d, n);
    CHECK(d == IR_NONE && strstr(g->err, "nests more than"), "a dimension expression has a depth limit: %s", g->err);
    ir_graph_free(g);
}

static void test_fuse_siblings(void) {
    IrGraph *g = ir_graph_new();
    int64_t xd[2] = {16, 8}, cd[1] = {8};
    IrShape sx = ir_shape_make(g, 2, xd), sc = ir_shape_make(g, 1, cd);
    IrId x = leaf(g, IR_OP_INPUT, "x", &sx);
    IrId z = leaf(g, IR_OP_INPUT, "z", &sx);
    IrId b = leaf(g, IR_OP_PARAM, "b", &sc);
    IrId s1 = ir_reduce(g, IR_OP_SUM, x, 1, 1, NULL);
    IrId sq = ir_unary(g, IR_OP_SQUARE, x);
    IrId s2 = ir_reduce(g, IR_OP_SUM, sq, 1, 1, NULL);
    IrId t1 = ir_reduce(g, IR_OP_SUM, z, 1, 0, NULL);
    IrId used = ir_binary(g, IR_OP_ADD, t1, b); /* t1 is read: its group is closed */
    IrId zz = ir_binary(g, IR_OP_MUL, z, z);
    IrId other = ir_binary(g, IR_OP_SUB, x, b); /* a row operand: x's group has none yet */
    ir_set_output(g, "v", ir_binary(g, IR_OP_SUB, s2, ir_unary(g, IR_OP_SQUARE, s1)));
    ir_set_output(g, "u", used);
    ir_set_output(g, "zz", zz);
    ir_set_output(g, "o", other);
    PassFusion f;
    pass_fuse(g, NULL, NULL, &f);
    CHECK(f.group_of[s1] >= 0 && f.group_of[sq] == f.group_of[s1] && f.group_of[s2] == f.group_of[s1],
          "the sums of x and of its square share one loop (groups %d %d %d)", f.group_of[s1], f.group_of[sq],
          f.group_of[s2]);
    CHECK(f.group_of[zz] != f.group_of[t1], "a group already read takes no sibling");
    CHECK(f.group_of[other] == f.group_of[s1], "x - b joins too (groups %d %d)", f.group_of[other], f.group_of[s1]);
    CHECK(!f.materialized[sq], "x squared is never written");
    pass_fusion_free(&f);
    ir_graph_free(g);
}

/* batch norm's moments in one pass: d = x - shift; sum(d); the moving mean's update reads that
 * sum (the group escapes); then sum(d'^2) over a copy d' of d joins the group late, since it
 * only feeds a sum and its operands are ready where the group runs. A later copy that a
 * convolution reads does not join (it would be written early and kept until then). */
static void test_fuse_late(void) {
    IrGraph *g = ir_graph_new();
    int64_t xd[4] = {2, 4, 4, 8}, wd[4] = {1, 1, 8, 8}, cd[1] = {8};
    IrShape sx = ir_shape_make(g, 4, xd), sw = ir_shape_make(g, 4, wd), sc = ir_shape_make(g, 1, cd);
    IrId x = leaf(g, IR_OP_INPUT, "x", &sx);
    IrId w = leaf(g, IR_OP_PARAM, "w", &sw);
    IrId mm = leaf(g, IR_OP_STATE, "mm", &sc);
    IrId mv = ir_leaf(g, IR_OP_STATE, "mv", IR_DT_FLOAT, &sc, IR_INIT_ONES, 0, 0);
    IrId d = ir_binary(g, IR_OP_SUB, x, mm);
    IrId md = ir_reduce(g, IR_OP_SUM, d, 1, 1, NULL);
    IrId upd = ir_binary(g, IR_OP_ADD, ir_scalar_op(g, IR_OP_SCALE, mm, 0.9), md); /* reads the sum */
    IrAttr copy;
    memset(&copy, 0, sizeof copy);
    copy.copy = 1;
    IrId in[2] = {x, mm};
    IrId d1 = ir_make(g, IR_OP_SUB, in, 2, &copy);
    IrId sq = ir_unary(g, IR_OP_SQUARE, d1);
    IrId q = ir_reduce(g, IR_OP_SUM, sq, 1, 1, NULL);
    copy.copy = 2;
    IrId d2 = ir_make(g, IR_OP_SUB, in, 2, &copy);
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.window = (IrWindowAttr){1, 1, 1, 1, 1};
    IrId cin[2] = {d2, w};
    IrId conv = ir_make(g, IR_OP_CONV2D, cin, 2, &at);
    /* the moving variance's update: a vector of the same size, unrelated to upd's loop, joins it,
       late, after the normalisation (in the big loop) has read upd; a [2, 8] value does not join a
       group of [2, 8] values */
    IrId norm = ir_binary(g, IR_OP_MUL, x, upd);
    IrId var = ir_binary(g, IR_OP_SUB, q, ir_unary(g, IR_OP_SQUARE, md));
    IrId vupd = ir_binary(g, IR_OP_ADD, ir_scalar_op(g, IR_OP_SCALE, mv, 0.9), var);
    int64_t md2[2] = {2, 8};
    IrShape s2 = ir_shape_make(g, 2, md2);
    IrId a2 = leaf(g, IR_OP_PARAM, "a2", &s2);
    IrId b2 = leaf(g, IR_OP_PARAM, "b2", &s2);
    IrId a2s = ir_scalar_op(g, IR_OP_SCALE, a2, 0.5), b2s = ir_scalar_op(g, IR_OP_SCALE, b2, 0.5);
    ir_set_output(g, "upd", upd);
    ir_set_output(g, "vupd", vupd);
    ir_set_output(g, "v", var);
    ir_set_output(g, "conv", conv);
    ir_set_output(g, "a2s", a2s);
    ir_set_output(g, "norm", norm);
    ir_set_output(g, "b2s", b2s);
    PassFusion f;
    pass_fuse(g, NULL, NULL, &f);
    int gd = f.group_of[d];
    CHECK(gd >= 0 && f.group_of[md] == gd && f.group_of[d1] == gd && f.group_of[sq] == gd && f.group_of[q] == gd,
          "both moments in one loop (groups %d %d %d %d %d)", gd, f.group_of[md], f.group_of[d1], f.group_of[sq],
          f.group_of[q]);
    CHECK(gd >= 0 && f.run_at[gd] == md, "it runs where its first sum stands (%d, not %d)", gd >= 0 ? f.run_at[gd] : -1,
          md);
    CHECK(!f.materialized[d1] && !f.materialized[sq], "the late members are not written");
    CHECK(f.group_of[d2] != gd, "the convolution's copy stays out of it");
    CHECK(f.group_of[upd] >= 0 && f.group_of[vupd] == f.group_of[upd] && f.group_of[var] == f.group_of[upd],
          "the two moving averages' updates and the variance: one loop (groups %d %d %d)", f.group_of[upd],
          f.group_of[vupd], f.group_of[var]);
    CHECK(f.group_of[upd] >= 0 && f.run_at[f.group_of[upd]] < norm, "it runs before the normalisation reads it");
    CHECK(f.group_of[a2s] != f.group_of[b2s], "unrelated matrices stay apart");
    pass_fusion_free(&f);
    ir_graph_free(g);
}

/* a small vector that would start a loop joins one of the latest groups of small vectors: not
 * only the last (b's, which it cannot join: its operand is not ready where b's loop runs), but
 * a's, which has not run yet */
static void test_fuse_recent(void) {
    IrGraph *g = ir_graph_new();
    int64_t xd[2] = {4, 8}, cd[1] = {8};
    IrShape sx = ir_shape_make(g, 2, xd), sc = ir_shape_make(g, 1, cd);
    IrId x = leaf(g, IR_OP_INPUT, "x", &sx);
    IrId y = leaf(g, IR_OP_INPUT, "y", &sx);
    IrId mm = leaf(g, IR_OP_STATE, "mm", &sc);
    IrId st = leaf(g, IR_OP_STATE, "st", &sc);
    IrId st2 = leaf(g, IR_OP_STATE, "st2", &sc);
    IrId b1 = ir_scalar_op(g, IR_OP_SCALE, mm, 0.5);
    IrId e = ir_binary(g, IR_OP_MUL, x, b1); /* reads b's loop: it runs here */
    IrId s1 = ir_reduce(g, IR_OP_SUM, x, 1, 1, NULL);
    IrId a1 = ir_binary(g, IR_OP_ADD, s1, st);          /* a loop of its own: s1 is not ready at b's */
    IrId c1 = ir_scalar_op(g, IR_OP_SCALE, b1, 2);      /* joins b's late: b is the last */
    IrId s2 = ir_reduce(g, IR_OP_SUM, y, 1, 1, NULL);
    IrId c2 = ir_binary(g, IR_OP_ADD, s2, st2);         /* not b's (s2 is later), but a's */
    IrId outs[] = {e, a1, c1, c2};
    const char *names[] = {"e", "a1", "c1", "c2"};
    for (int i = 0; i < 4; i++) ir_set_output(g, names[i], outs[i]);
    PassFusion f;
    pass_fuse(g, NULL, NULL, &f);
    CHECK(f.group_of[c1] >= 0 && f.group_of[c1] == f.group_of[b1] && f.group_of[a1] != f.group_of[b1],
          "c1 joins b's loop late, a1 has its own (groups %d %d %d)", f.group_of[c1], f.group_of[b1], f.group_of[a1]);
    CHECK(f.group_of[c2] >= 0 && f.group_of[c2] == f.group_of[a1], "c2 joins a1's loop, not the last one (groups %d %d)",
          f.group_of[c2], f.group_of[a1]);
    pass_fusion_free(&f);
    ir_graph_free(g);
}

/* relu(x)'s and relu(z)'s loops merge when their sum joins one; a later reader of x or of z
 * still finds that loop through the one merged away (live_group), and joins it as a sibling */
static void test_fuse_merged_reader(void) {
    IrGraph *g = ir_graph_new();
    int64_t xd[2] = {4, 8};
    IrShape sx = ir_shape_make(g, 2, xd);
    IrId x = leaf(g, IR_OP_INPUT, "x", &sx);
    IrId z = leaf(g, IR_OP_INPUT, "z", &sx);
    IrId p1 = ir_unary(g, IR_OP_RELU, x), q1 = ir_unary(g, IR_OP_RELU, z);
    IrId m = ir_binary(g, IR_OP_ADD, q1, p1);
    IrId cx = ir_unary(g, IR_OP_NEG, x), cz = ir_unary(g, IR_OP_NEG, z);
    ir_set_output(g, "m", m);
    ir_set_output(g, "cx", cx);
    ir_set_output(g, "cz", cz);
    PassFusion f;
    pass_fuse(g, NULL, NULL, &f);
    int gm = f.group_of[m];
    CHECK(gm >= 0 && f.group_of[p1] == gm && f.group_of[q1] == gm && f.group_of[cx] == gm && f.group_of[cz] == gm,
          "one loop for both relus, their sum and both later readers (groups %d %d %d %d %d)", f.group_of[p1],
          f.group_of[q1], gm, f.group_of[cx], f.group_of[cz]);
    pass_fusion_free(&f);
    ir_graph_free(g);
}

static IrId allreduce(IrGraph *g, IrId x, int group, int mean) {
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.replicas = (IrReplicasAttr){group, mean};
    return ir_make(g, IR_OP_ALLREDUCE, &x, 1, &at);
}

/* passes/replicas.c: a one-process run keeps no ALLREDUCE; a run of several keeps the groups it
 * reduces, each reading what its dropped neighbours read */
static void test_replicas(void) {
    IrGraph *g = ir_graph_new();
    IrShape s = {1, {ir_dim_const(g, 4)}};
    IrId x = leaf(g, IR_OP_PARAM, "x", &s);
    IrId a = allreduce(g, x, IR_REPLICAS_ALWAYS, 1), b = allreduce(g, a, IR_REPLICAS_SYNC_BN, 1),
         c = allreduce(g, b, IR_REPLICAS_LOCAL_BN, 0);
    ir_set_output(g, "y", c);
    CHECK(c != IR_NONE && ir_shape_equal(&g->nodes[c].shape, &s), "allreduce keeps its operand's shape");
    CHECK(allreduce(g, x, 7, 0) == IR_NONE && strstr(g->err, "unknown replica group 7"), "a bad group: %s", g->err);
    CHECK(pass_replicas_count(g, ~0u) == 3 && pass_replicas_count(g, 1u << IR_REPLICAS_ALWAYS) == 1 &&
              pass_replicas_count(g, 0) == 0,
          "ALLREDUCEs kept per group mask");
    IrGraph *one = ir_graph_clone(g), *sync = ir_graph_clone(g);
    CHECK(one && pass_replicas(&one, 0) == 0 && ir_output(one, "y") == ir_find_leaf(one, IR_OP_PARAM, "x"),
          "one process: y is x itself");
    IrId y = sync && pass_replicas(&sync, 1u << IR_REPLICAS_ALWAYS | 1u << IR_REPLICAS_SYNC_BN) == 0
                 ? ir_output(sync, "y") : IR_NONE;
    CHECK(y != IR_NONE && sync->nodes[y].attr.u.replicas.group == IR_REPLICAS_SYNC_BN &&
              sync->nodes[sync->nodes[y].in[0]].attr.u.replicas.group == IR_REPLICAS_ALWAYS &&
              pass_replicas_count(sync, ~0u) == 2,
          "synchronised batch norm: the local group dropped, the others chained");
    char *text = print_to_string(g);
    CHECK(strstr(text, "= allreduce(%0) {group=0 mean=1}") != NULL, "printed with its group: %s", text);
    free(text);
    ir_graph_free(one);
    ir_graph_free(sync);
    ir_graph_free(g);
}

/* passes/buckets.c on a backward chain of 6 layers (g_k = g_{k-1} * p_k, each gradient reduced
 * and its parameter updated where it is ready, as simplify orders a step): buckets of 3, each
 * bucket's reductions together after its gradients and before the updates; everything else in
 * its old order; buckets of one leave the graph as it is */
static void test_buckets(void) {
    IrGraph *g = ir_graph_new();
    IrShape s = {1, {ir_dim_const(g, 4)}};
    IrId x = leaf(g, IR_OP_PARAM, "x", &s), grad = x;
    for (int k = 0; k < 6; k++) {
        char name[8];
        snprintf(name, sizeof name, "p%d", k);
        IrId p = leaf(g, IR_OP_PARAM, name, &s);
        grad = ir_binary(g, IR_OP_MUL, grad, p);
        IrId in[2] = {p, ir_binary(g, IR_OP_SUB, p, allreduce(g, grad, IR_REPLICAS_ALWAYS, 1))};
        ir_make(g, IR_OP_ASSIGN, in, 2, NULL);
    }
    ir_set_output(g, "loss", grad);
    IrGraph *one = ir_graph_clone(g), *three = ir_graph_clone(g);
    const IrGraph *before = one;
    CHECK(one && pass_buckets(&one, 16, NULL) == 0 && one == before, "buckets of one: the graph as it was");
    CHECK(three && pass_buckets(&three, 48, NULL) == 0 && three->n_nodes == g->n_nodes, "buckets of 3: %s",
          three ? three->err : "out of memory");
    /* where each reduction, gradient and update went */
    int pos_red[6], pos_mul[6], pos_sub[6], n_red = 0, n_mul = 0, n_sub = 0, same = 1, at = 0;
    for (IrId id = 0; three && id < three->n_nodes; id++) {
        IrOp op = three->nodes[id].op;
        if (op == IR_OP_ALLREDUCE && n_red < 6) pos_red[n_red++] = id;
        if (op == IR_OP_MUL && n_mul < 6) pos_mul[n_mul++] = id;
        if (op == IR_OP_SUB && n_sub < 6) pos_sub[n_sub++] = id;
        if (op == IR_OP_ALLREDUCE || op == IR_OP_SUB || op == IR_OP_ASSIGN) continue;
        while (at < g->n_nodes && (g->nodes[at].op == IR_OP_ALLREDUCE || g->nodes[at].op == IR_OP_SUB ||
                                   g->nodes[at].op == IR_OP_ASSIGN))
            at++;
        same &= at < g->n_nodes && g->nodes[at++].op == op;
    }
    int ok = n_red == 6 && n_mul == 6 && n_sub == 6;
    for (int b = 0; ok && b < 2; b++) {
        ok &= pos_red[3 * b + 2] - pos_red[3 * b] == 2;                /* together */
        ok &= pos_red[3 * b] > pos_mul[3 * b + 2];                     /* after the bucket's last gradient */
        for (int k = 3 * b; k < 3 * b + 3; k++) ok &= pos_sub[k] > pos_red[3 * b + 2]; /* before its updates */
    }
    CHECK(ok, "each bucket's 3 reductions together, after its gradients, before its updates");
    CHECK(n_sub == 6 && pos_sub[0] > pos_mul[5] && pos_sub[0] > pos_red[5], "the updates after the whole backward pass");
    CHECK(same, "the nodes that read no reduction keep their order");
    /* as synchronised batch norm: two moments of one value reduced together; the next layer's,
       which read them, in a bucket of their own */
    IrGraph *bn = ir_graph_new();
    IrShape v = {1, {ir_dim_const(bn, 4)}};
    IrId h = leaf(bn, IR_OP_PARAM, "h", &v);
    for (int k = 0; k < 2; k++) {
        IrId m = allreduce(bn, h, IR_REPLICAS_SYNC_BN, 1), e2 = allreduce(bn, ir_unary(bn, IR_OP_SQUARE, h), IR_REPLICAS_SYNC_BN, 1);
        h = ir_binary(bn, IR_OP_MUL, ir_binary(bn, IR_OP_SUB, h, m), e2);
    }
    ir_set_output(bn, "y", h);
    int n_bn = 0, firsts[4];
    for (IrId id = 0; pass_buckets(&bn, 1 << 20, NULL) == 0 && id < bn->n_nodes; id++)
        if (bn->nodes[id].op == IR_OP_ALLREDUCE && n_bn < 4) firsts[n_bn++] = id;
    CHECK(n_bn == 4 && firsts[1] == firsts[0] + 1 && firsts[3] == firsts[2] + 1 && firsts[2] > firsts[1] + 1,
          "a layer's two moments together, the next layer's apart: %s", bn->err);
    ir_graph_free(bn);
    ir_graph_free(one);
    ir_graph_free(three);
    ir_graph_free(g);
}

int main(void) {
    test_dims();
    test_replicas();
    test_buckets();
    test_dim_limits();
    test_fuse_siblings();
    test_fuse_late();
    test_fuse_recent();
    test_fuse_merged_reader();
    test_nodes();
    test_simplify();
    test_recompute();
    test_artifact();
    test_text_round_trip();
    return test_summary("test_ir");
}
