/* Tests of the frontend on the real model files.
 *
 * What this is: models/inception_resnet_v1.fn compiled at embedding 512 and checked against the
 * reference's facts (learnable parameter count 23.47M excluding Logits, the layer shapes at a
 * 160x160 input, exact variable names), the eval graph (training = 0: no ASSIGN), the MTCNN nets
 * and the reduced test model; plus a few DSL semantics (defaults, repeat scopes, marks, -D).
 * What this is not: a test of the passes or of execution (see the whole-model gradient checks).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/fe.h"
#include "testlib.h"

static IrGraph *compile(const char *path, const FeDefine *defs, int n_defs, int training) {
    FeOptions o = {path, defs, n_defs, training};
    int n_errors = -1;
    IrGraph *g = fe_compile(&o, stderr, &n_errors, NULL);
    CHECK(g != NULL && n_errors == 0, "%s compiles (%d errors)", path, n_errors);
    return g;
}

/* Symbol values: defaults, then the given bindings. */
static int64_t *bind_syms(const IrGraph *g, int64_t n, int64_t classes) {
    int64_t *s = calloc((size_t)g->n_syms + 1, sizeof *s);
    for (int i = 0; i < g->n_syms; i++) {
        s[i] = g->syms[i].dflt;
        if (strcmp(g->syms[i].name, "N") == 0) s[i] = n;
        if (strcmp(g->syms[i].name, "classes") == 0) s[i] = classes;
    }
    return s;
}

static IrId find_mark(const IrGraph *g, const char *name) {
    for (int i = 0; i < g->n_marks; i++)
        if (strcmp(ir_str(g, g->marks[i].name), name) == 0) return g->marks[i].id;
    return IR_NONE;
}

/* Checks that mark `name` has shape [1, h, w, c] (rank 4) or [1, c] (h = 0). */
static void check_mark(const IrGraph *g, const int64_t *sym, const char *name, int64_t h, int64_t w,
                       int64_t c) {
    IrId id = find_mark(g, name);
    if (!CHECK(id != IR_NONE, "mark %s exists", name)) return;
    const IrShape *s = &g->nodes[id].shape;
    int64_t d[IR_MAX_RANK] = {0};
    for (int i = 0; i < s->rank; i++)
        d[i] = ir_dim_eval(g, s->d[i], sym);
    if (h == 0)
        CHECK(s->rank == 2 && d[0] == 1 && d[1] == c, "%s is [1,%lld], got rank %d [%lld,%lld]",
              name, (long long)c, s->rank, (long long)d[0], (long long)d[1]);
    else
        CHECK(s->rank == 4 && d[0] == 1 && d[1] == h && d[2] == w && d[3] == c,
              "%s is %lldx%lldx%lld, got rank %d %lldx%lldx%lld", name, (long long)h, (long long)w,
              (long long)c, s->rank, (long long)d[1], (long long)d[2], (long long)d[3]);
}

static int64_t numel(const IrGraph *g, const IrShape *s, const int64_t *sym) {
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++)
        n *= ir_dim_eval(g, s->d[i], sym);
    return n;
}

static int count_op(const IrGraph *g, IrOp op) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += g->nodes[i].op == op;
    return n;
}

static void test_inception_resnet_v1(void) {
    FeDefine defs[] = {{"embedding_size", 512}};
    IrGraph *g = compile("models/inception_resnet_v1.fn", defs, 1, 1);
    if (!g) return;
    int64_t *sym = bind_syms(g, 1, 10);
    CHECK(ir_sym_index(g, "image_size") >= 0 && g->syms[ir_sym_index(g, "image_size")].dflt == 160,
          "image_size stays symbolic with default 160");
    CHECK(ir_sym_index(g, "embedding_size") < 0, "-D made embedding_size a constant");

    int64_t learnable = 0, logits = 0, states = 0, decayed = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const IrNode *n = &g->nodes[i];
        if (n->op == IR_OP_STATE) states += numel(g, &n->shape, sym);
        if (n->op != IR_OP_PARAM) continue;
        const char *name = ir_str(g, n->attr.u.leaf.name);
        int64_t k = numel(g, &n->shape, sym);
        if (strncmp(name, "Logits/", 7) == 0)
            logits += k;
        else
            learnable += k;
        if (n->attr.u.leaf.flags & IR_LEAF_DECAY) decayed++;
    }
    printf("inception_resnet_v1 E=512: %lld learnable params (excluding Logits), %lld in Logits "
           "(10 classes), %lld BN moving stats, %lld decayed weights, %d nodes\n",
           (long long)learnable, (long long)logits, (long long)states, (long long)decayed,
           g->n_nodes);
    CHECK(learnable > 23420000 && learnable < 23520000, "23.47M +- 0.05M learnable, got %lld",
          (long long)learnable);
    CHECK(logits == 512 * 10 + 10, "Logits has 512x10 weights + 10 biases, got %lld",
          (long long)logits);

    const char *P = "InceptionResnetV1/";
    char name[256];
    struct {
        const char *mark;
        int64_t h, w, c;
    } shapes[] = {
        {"Conv2d_1a_3x3", 79, 79, 32},
        {"Conv2d_2a_3x3", 77, 77, 32},
        {"Conv2d_2b_3x3", 77, 77, 64},
        {"MaxPool_3a_3x3", 38, 38, 64},
        {"Conv2d_3b_1x1", 38, 38, 80},
        {"Conv2d_4a_3x3", 36, 36, 192},
        {"Conv2d_4b_3x3", 17, 17, 256},
        {"Repeat", 17, 17, 256},
        {"Repeat/block35_5", 17, 17, 256},
        {"Mixed_6a", 8, 8, 896},
        {"Repeat_1", 8, 8, 896},
        {"Repeat_1/block17_10", 8, 8, 896},
        {"Mixed_7a", 3, 3, 1792},
        {"Repeat_2", 3, 3, 1792},
        {"Block8", 3, 3, 1792},
        {"Logits/AvgPool_1a_8x8", 1, 1, 1792},
        {"Logits/Dropout", 0, 0, 1792},
        {"Bottleneck", 0, 0, 512},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        snprintf(name, sizeof name, "%s%s", P, shapes[i].mark);
        check_mark(g, sym, name, shapes[i].h, shapes[i].w, shapes[i].c);
    }
    check_mark(g, sym, "Logits", 0, 0, 10);

    const char *params[] = {
        "InceptionResnetV1/Conv2d_1a_3x3/weights",
        "InceptionResnetV1/Conv2d_1a_3x3/BatchNorm/beta",
        "InceptionResnetV1/Repeat_1/block17_3/Branch_1/Conv2d_0b_1x7/weights",
        "InceptionResnetV1/Repeat_1/block17_3/Branch_1/Conv2d_0b_1x7/BatchNorm/beta",
        "InceptionResnetV1/Repeat/block35_1/Conv2d_1x1/biases",
        "InceptionResnetV1/Mixed_6a/Branch_1/Conv2d_1a_3x3/weights",
        "InceptionResnetV1/Mixed_7a/Branch_2/Conv2d_0b_3x3/weights",
        "InceptionResnetV1/Repeat_2/block8_5/Branch_1/Conv2d_0c_3x1/weights",
        "InceptionResnetV1/Block8/Conv2d_1x1/weights",
        "InceptionResnetV1/Bottleneck/weights",
        "InceptionResnetV1/Bottleneck/BatchNorm/beta",
        "Logits/weights",
        "Logits/biases",
    };
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
        CHECK(ir_find_leaf(g, IR_OP_PARAM, params[i]) != IR_NONE, "param %s exists", params[i]);
    const char *states_[] = {
        "InceptionResnetV1/Repeat_1/block17_3/Branch_1/Conv2d_0b_1x7/BatchNorm/moving_mean",
        "InceptionResnetV1/Conv2d_1a_3x3/BatchNorm/moving_variance",
    };
    for (size_t i = 0; i < sizeof states_ / sizeof states_[0]; i++)
        CHECK(ir_find_leaf(g, IR_OP_STATE, states_[i]) != IR_NONE, "state %s exists", states_[i]);
    CHECK(ir_find_leaf(g, IR_OP_PARAM, "InceptionResnetV1/Bottleneck/biases") == IR_NONE,
          "the Bottleneck has BN and no bias");
    CHECK(ir_find_leaf(g, IR_OP_PARAM, "InceptionResnetV1/Conv2d_1a_3x3/biases") == IR_NONE,
          "BN convs have no bias");
    IrId w = ir_find_leaf(g, IR_OP_PARAM,
                          "InceptionResnetV1/Repeat_1/block17_3/Branch_1/Conv2d_0b_1x7/weights");
    if (w != IR_NONE) {
        const IrShape *s = &g->nodes[w].shape;
        CHECK(s->rank == 4 && ir_dim_eval(g, s->d[0], sym) == 1 &&
                  ir_dim_eval(g, s->d[1], sym) == 7 && ir_dim_eval(g, s->d[2], sym) == 128 &&
                  ir_dim_eval(g, s->d[3], sym) == 128,
              "Conv2d_0b_1x7 weights are [1,7,128,128]");
        CHECK(g->nodes[w].attr.u.leaf.init == IR_INIT_GLOROT_UNIFORM &&
                  (g->nodes[w].attr.u.leaf.flags & IR_LEAF_DECAY),
              "conv weights: Glorot uniform under weight decay");
    }
    const char *outs[] = {"prelogits", "embeddings", "logits", "xent",
                          "accuracy",  "reg_loss",   "loss"};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
        CHECK(ir_output(g, outs[i]) != IR_NONE, "output %s exists", outs[i]);
    IrId loss = ir_output(g, "loss");
    CHECK(loss != IR_NONE && g->nodes[loss].shape.rank == 0, "loss is a scalar");
    /* 2 BN moving-stat updates per BN layer: every conv except the 21 "up" projections, and the
     * Bottleneck */
    CHECK(g->n_effects == count_op(g, IR_OP_STATE) && g->n_effects > 0,
          "one ASSIGN per BN moving statistic (%d effects, %d states)", g->n_effects,
          count_op(g, IR_OP_STATE));
    CHECK(count_op(g, IR_OP_DROPOUT_MASK) == 1, "dropout in the training graph");
    CHECK(ir_verify(g) == 0, "the graph verifies: %s", g->err);
    free(sym);
    ir_graph_free(g);

    /* evaluation graph: no moving-average updates, no dropout, same variables */
    g = compile("models/inception_resnet_v1.fn", defs, 1, 0);
    if (!g) return;
    CHECK(g->n_effects == 0 && count_op(g, IR_OP_ASSIGN) == 0, "no ASSIGN when training = 0");
    CHECK(count_op(g, IR_OP_DROPOUT_MASK) == 0, "no dropout when training = 0");
    CHECK(ir_find_leaf(g, IR_OP_STATE, "InceptionResnetV1/Conv2d_1a_3x3/BatchNorm/moving_mean") !=
              IR_NONE,
          "eval graph reads the moving statistics");
    ir_graph_free(g);

    /* image_size bound with -D: every shape constant */
    FeDefine d2[] = {{"embedding_size", 512}, {"image_size", 160}};
    g = compile("models/inception_resnet_v1.fn", d2, 2, 1);
    if (!g) return;
    IrId m = find_mark(g, "InceptionResnetV1/Mixed_7a");
    int64_t v = 0;
    CHECK(m != IR_NONE && ir_dim_const_value(g, g->nodes[m].shape.d[1], &v) && v == 3,
          "with -D image_size=160 Mixed_7a is a constant 3x3");
    ir_graph_free(g);
}

static void test_mtcnn(void) {
    struct {
        const char *path, *scope;
        int n_out, n_params;
    } nets[] = {
        {"models/mtcnn/pnet.fn", "pnet", 2, 13},
        {"models/mtcnn/rnet.fn", "rnet", 2, 16},
        {"models/mtcnn/onet.fn", "onet", 3, 21},
    };
    for (int k = 0; k < 3; k++) {
        IrGraph *g = compile(nets[k].path, NULL, 0, 0);
        if (!g) continue;
        CHECK(g->n_outputs == nets[k].n_out, "%s has %d outputs", nets[k].path, nets[k].n_out);
        CHECK(count_op(g, IR_OP_PARAM) == nets[k].n_params, "%s has %d variables, got %d",
              nets[k].path, nets[k].n_params, count_op(g, IR_OP_PARAM));
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].op == IR_OP_PARAM)
                CHECK(g->nodes[i].attr.u.leaf.init == IR_INIT_ZEROS &&
                          g->nodes[i].attr.u.leaf.flags == 0,
                      "%s: MTCNN variables start at zero without decay",
                      ir_str(g, g->nodes[i].attr.u.leaf.name));
        CHECK(ir_output(g, "prob") != IR_NONE && ir_output(g, "reg") != IR_NONE,
              "%s outputs prob and reg", nets[k].path);
        ir_graph_free(g);
    }
    /* PNet: a 12x12 input gives one cell; the documented H' = ceil((H-2)/2) - 4 */
    IrGraph *g = compile("models/mtcnn/pnet.fn", NULL, 0, 0);
    if (g) {
        CHECK(ir_find_leaf(g, IR_OP_PARAM, "pnet/PReLU1/alpha") != IR_NONE &&
                  ir_find_leaf(g, IR_OP_PARAM, "pnet/conv4-2/biases") != IR_NONE,
              "PNet variable names follow det1.npy");
        int64_t sym[8] = {0};
        sym[ir_sym_index(g, "N")] = 1;
        const IrShape *s = &g->nodes[ir_output(g, "prob")].shape;
        for (int64_t h = 12; h <= 40; h++) {
            sym[ir_sym_index(g, "H")] = h;
            sym[ir_sym_index(g, "W")] = h + 1;
            int64_t oh = ir_dim_eval(g, s->d[1], sym), ow = ir_dim_eval(g, s->d[2], sym);
            CHECK(oh == (h - 2 + 1) / 2 - 4 && ow == (h - 1 + 1) / 2 - 4,
                  "PNet %lldx%lld -> %lldx%lld", (long long)h, (long long)h + 1, (long long)oh,
                  (long long)ow);
        }
        ir_graph_free(g);
    }
    g = compile("models/mtcnn/onet.fn", NULL, 0, 0);
    if (g) {
        IrId w = ir_find_leaf(g, IR_OP_PARAM, "onet/conv5/weights");
        int64_t a = 0, b = 0;
        CHECK(w != IR_NONE && ir_dim_const_value(g, g->nodes[w].shape.d[0], &a) &&
                  ir_dim_const_value(g, g->nodes[w].shape.d[1], &b) && a == 1152 && b == 256,
              "ONet conv5 weights are [1152,256]");
        CHECK(ir_output(g, "landmarks") != IR_NONE, "ONet outputs landmarks");
        ir_graph_free(g);
    }
}

static void test_small(void) {
    IrGraph *g = compile("tests/models/irv1_small.fn", NULL, 0, 1);
    if (!g) return;
    int64_t *sym = bind_syms(g, 1, 5);
    check_mark(g, sym, "InceptionResnetV1/Block8", 1, 1, 38);
    CHECK(ir_find_leaf(g, IR_OP_PARAM,
                       "InceptionResnetV1/Repeat_1/block17_1/Branch_1/Conv2d_0c_7x1/weights") !=
              IR_NONE,
          "the small model has the same variable names");
    CHECK(ir_output(g, "loss") != IR_NONE, "small model has a loss");
    CHECK(ir_verify(g) == 0, "small model verifies: %s", g->err);
    free(sym);
    ir_graph_free(g);
}

/* Compiles DSL text written to a temporary file. */
static IrGraph *compile_text(const char *text, const FeDefine *defs, int n_defs, int *n_errors,
                             char *diag, size_t cap) {
    char path[] = "/tmp/fn_fe_test_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    FILE *d = fmemopen(diag, cap, "w");
    FeOptions o = {path, defs, n_defs, 1};
    IrGraph *g = fe_compile(&o, d, n_errors, NULL);
    fclose(d);
    remove(path);
    return g;
}

static void test_semantics(void) {
    char diag[4096] = {0};
    int ne = -1;
    const char *src = "dim N, C = 4\n"
                      "def f(x, k, kw=k, scale=2) {\n"
                      "    scope inner { y = x * scale }\n"
                      "    return y + kw\n"
                      "}\n"
                      "x = input(\"x\", [N, C])\n"
                      "scope A {\n"
                      "    repeat 3 r { x = f(x, 1) }\n"
                      "}\n"
                      "n = C * 2 // 3 - 1\n"
                      "w = param(\"w\", [C, n], init=0.5)\n"
                      "output y = matmul(x, w)\n"
                      "output z = 1 / x\n";
    IrGraph *g = compile_text(src, NULL, 0, &ne, diag, sizeof diag);
    CHECK(g && ne == 0, "semantics program compiles: %s", diag);
    if (g) {
        CHECK(find_mark(g, "A/r_1/inner") != IR_NONE && find_mark(g, "A/r_3") != IR_NONE &&
                  find_mark(g, "A") != IR_NONE,
              "repeat scopes and marks");
        IrId y = ir_output(g, "y");
        int64_t *sym = bind_syms(g, 1, 0);
        CHECK(y != IR_NONE && ir_dim_eval(g, g->nodes[y].shape.d[1], sym) == 1,
              "int arithmetic on symbolic dims: C*2//3-1 = 1 at C = 4");
        free(sym);
        IrId w = ir_find_leaf(g, IR_OP_PARAM, "w");
        CHECK(w != IR_NONE && g->nodes[w].attr.u.leaf.init == IR_INIT_CONST &&
                  g->nodes[w].attr.u.leaf.value == 0.5,
              "param init with a number");
        CHECK(g->syms[ir_sym_index(g, "C")].dflt == 4, "dim default recorded");
        IrId z = ir_output(g, "z");
        CHECK(z != IR_NONE && g->nodes[z].op == IR_OP_DIV &&
                  g->nodes[g->nodes[z].in[0]].op == IR_OP_CONST,
              "number / tensor is DIV(CONST, x)");
        ir_graph_free(g);
    }
    FeDefine d[] = {{"C", 6}};
    g = compile_text(src, d, 1, &ne, diag, sizeof diag);
    CHECK(g && ne == 0 && ir_sym_index(g, "C") < 0, "-D C=6 binds the dim to a constant");
    if (g) ir_graph_free(g);
}

/* fe_compile_text: a model from memory, named by opt.path (its imports resolved from there). */
static void test_from_memory(void) {
    const char *src = "import \"lib/layers.fn\"\ndim N\nx = input(\"x\", [N, 8])\n"
                      "scope Logits { y = fully_connected(x, 3, bn=false, activation=false) }\n"
                      "output y = y\n";
    FeOptions o = {"models/memory.fn", NULL, 0, 0};
    int n_errors = -1;
    IrGraph *g = fe_compile_text(&o, NULL, src, strlen(src), stderr, &n_errors, NULL);
    CHECK(g != NULL && n_errors == 0 && ir_output(g, "y") != IR_NONE,
          "a model from memory compiles, importing models/lib (%d errors)", n_errors);
    ir_graph_free(g);
    char *diag = NULL;
    size_t len = 0;
    FILE *d = open_memstream(&diag, &len);
    const char bad[] = "x = input(\"x\", [4])\ny = relu(q)\n";
    FnStatus st = {""};
    g = fe_compile_text(&o, NULL, bad, sizeof bad - 1, d, &n_errors, &st);
    fclose(d);
    CHECK(g == NULL && n_errors == 1 && strstr(diag, "models/memory.fn:2:10: error: unknown identifier 'q'"),
          "its errors are located in opt.path: %s", diag);
    CHECK(!strcmp(st.msg, "models/memory.fn:2:10: error: unknown identifier 'q'"),
          "the status holds the first error as printed: %s", st.msg);
    free(diag);
    /* lower limits, where given, apply */
    const char loop[] = "x = input(\"x\", [4])\nrepeat 50 r { x = relu(x) + 1.0 }\n";
    FeLimits lim = {0, 40, 0, 0};
    diag = NULL;
    d = open_memstream(&diag, &len);
    g = fe_compile_text(&o, &lim, loop, sizeof loop - 1, d, &n_errors, NULL);
    fclose(d);
    CHECK(g == NULL && strstr(diag, "error: the model builds more than 40 IR nodes, the limit"),
          "FeLimits.nodes applies: %s", diag);
    free(diag);
}

int main(void) {
    test_from_memory();
    test_inception_resnet_v1();
    test_mtcnn();
    test_small();
    test_semantics();
    return test_summary("test_frontend");
}
