/* The ONNX code generator (interop/onnx_export.c) and its reader (interop/onnx_check.c).
 *
 * What this is: tests/models/tiny_conv.fn exported with seeded weights must equal, byte for
 * byte, the hand-checked fixture tests/interop/onnx/tiny.onnx (see the README beside it; after
 * an intended change FN_UPDATE_GOLDEN=1 rewrites it, to be checked again); structural checks
 * (op counts, inputs, outputs, parameters) on the exports of tests/models/irv1_small.fn, the
 * three MTCNN nets, the op zoo tests/interop/onnx/zoo.fn and a hand-built graph of the ops only
 * gradients use (bcast, bcastlast, slice); the errors (unknown output, an op without a lowering,
 * an unbound variable); and the checker against models broken one way at a time.
 * What this is not: a numeric check (ONNX Runtime is Python's: bench/interop/onnx_parity.py
 * compares its outputs with fn's; FN_ONNX_SAVE=DIR writes the hand-built graph there as an
 * artifact for it) or onnx.checker (tests/cli_export.sh runs it where installed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/driver.h"
#include "interop/onnx.h"
#include "interop/proto/onnx.pb-c.h"
#include "runtime/core/artifact.h"
#include "tests/testlib.h"

#define FIXTURE "tests/interop/onnx/tiny.onnx"

typedef struct {
    unsigned char *b;
    size_t n;
    IxOnnxInfo info;
    RtStatus st;
} Export;

static IrGraph *build(const char *model, int training) {
    PassCtx ctx = {0};
    return drv_build(model, NULL, 0, training, &ctx, stderr);
}

/* g bound by b (N = 1), its variables seeded (seed 1) unless bind_vars is 0, exported with o */
static int export_graph(const IrGraph *g, const RtBinding *b, int nb, const IxOnnxOpts *o,
                        int bind_vars, Export *e) {
    memset(e, 0, sizeof *e);
    int64_t *sym = calloc((size_t)g->n_syms + 1, sizeof *sym);
    RtVars *vars = rt_vars_new(4);
    int rc = rt_bind_syms(g, b, nb, sym, &e->st);
    if (rc == 0 && bind_vars) rc = rt_vars_bind(vars, g, sym, &e->st);
    if (rc == 0) {
        rt_vars_init(vars, 1);
        IxOnnxSource src = {g, vars, sym};
        rc = ix_onnx_export(&src, o, &e->b, &e->n, &e->info, &e->st);
    }
    rt_vars_free(vars);
    free(sym);
    return rc;
}

static void write_file(const char *path, const unsigned char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(b, 1, n, f);
        fclose(f);
    }
}

/* the fixture: the same bytes twice, equal to the file, which the checker reads back */
static void golden_tiny(void) {
    IrGraph *g = build("tests/models/tiny_conv.fn", 0);
    RtBinding b[] = {{"N", 1}};
    Export e, again;
    if (!CHECK(g && export_graph(g, b, 1, NULL, 1, &e) == 0, "tiny_conv exports: %s",
               g ? e.st.msg : "build"))
        return;
    CHECK(export_graph(g, b, 1, NULL, 1, &again) == 0 && again.n == e.n &&
              !memcmp(again.b, e.b, e.n),
          "the same bytes twice");
    if (getenv("FN_UPDATE_GOLDEN")) {
        write_file(FIXTURE, e.b, e.n);
        printf("  wrote %s\n", FIXTURE);
    }
    FILE *f = fopen(FIXTURE, "rb");
    unsigned char *want = malloc(e.n + 1);
    size_t got = f ? fread(want, 1, e.n + 1, f) : 0;
    if (f) fclose(f);
    int same = got == e.n && !memcmp(want, e.b, e.n);
    if (!same) {
        write_file("/tmp/tiny.onnx.got", e.b, e.n);
        printf("  tiny_conv differs from %s: see /tmp/tiny.onnx.got (FN_UPDATE_GOLDEN=1 after an "
               "intended change)\n",
               FIXTURE);
    }
    CHECK(same, "tiny_conv's export equals %s (%zu bytes)", FIXTURE, e.n);
    IxOnnxInfo fi;
    RtStatus st;
    CHECK(ix_onnx_check_file(FIXTURE, &fi, &st) == 0, "the fixture checks: %s", st.msg);
    CHECK(fi.ir_version == 8 && fi.opset == 17 && fi.nodes == 12 && fi.inputs == 1 &&
              fi.outputs == 1,
          "IR %lld, opset %lld, %d nodes, %d inputs, %d outputs", (long long)fi.ir_version,
          (long long)fi.opset, fi.nodes, fi.inputs, fi.outputs);
    CHECK(e.info.parameters == 3 * 3 * 3 * 4 + 4, "%lld parameters: the filter and alpha",
          (long long)e.info.parameters);
    CHECK(ix_onnx_op_count(&fi, "Conv") == 1 && ix_onnx_op_count(&fi, "PRelu") == 1 &&
              ix_onnx_op_count(&fi, "MaxPool") == 1 &&
              ix_onnx_op_count(&fi, "GlobalAveragePool") == 1 &&
              ix_onnx_op_count(&fi, "Transpose") == 1 && ix_onnx_op_count(&fi, "Div") == 1,
          "the fixture's ops");
    free(want);
    free(e.b);
    free(again.b);
    ir_graph_free(g);
}

/* --input_layout nchw: no Transpose, the input declared [N,3,8,8] with N symbolic */
static void nchw_input(void) {
    IrGraph *g = build("tests/models/tiny_conv.fn", 0);
    RtBinding b[] = {{"N", 1}};
    IxOnnxOpts o = {NULL, 0, 1, "tiny"};
    Export e;
    if (!CHECK(g && export_graph(g, b, 1, &o, 1, &e) == 0, "nchw export: %s", e.st.msg)) return;
    CHECK(ix_onnx_op_count(&e.info, "Transpose") == 0, "no Transpose with NCHW input");
    Fn__Onnx__ModelProto *m = fn__onnx__model_proto__unpack(NULL, e.n, e.b);
    const Fn__Onnx__TensorShapeProto *s = m ? m->graph->input[0]->type->tensor_type->shape : NULL;
    int ok = s && s->n_dim == 4 &&
             s->dim[0]->value_case == FN__ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
             !strcmp(s->dim[0]->dim_param, "N") && s->dim[1]->dim_value == 3 &&
             s->dim[2]->dim_value == 8 && s->dim[3]->dim_value == 8 &&
             !strcmp(m->graph->name, "tiny");
    CHECK(ok, "the input is images[N,3,8,8] in graph \"tiny\"");
    if (m) fn__onnx__model_proto__free_unpacked(m, NULL);
    free(e.b);
    ir_graph_free(g);
}

/* elements of the variables the output reads */
static int64_t reachable_params(const IrGraph *g, const char *output) {
    char *reach = calloc((size_t)g->n_nodes, 1);
    int64_t total = 0, sym[8] = {1, 75, 8, 3};
    reach[ir_output(g, output)] = 1;
    for (IrId id = g->n_nodes - 1; id >= 0; id--) {
        const IrNode *n = &g->nodes[id];
        for (int k = 0; reach[id] && k < n->n_in; k++)
            reach[n->in[k]] = 1;
        if (!reach[id] || (n->op != IR_OP_PARAM && n->op != IR_OP_STATE)) continue;
        int64_t c = 1;
        for (int k = 0; k < n->shape.rank; k++)
            c *= ir_dim_eval(g, n->shape.d[k], sym);
        total += c;
    }
    free(reach);
    return total;
}

static void irv1_small(void) {
    IrGraph *g = build("tests/models/irv1_small.fn", 0);
    RtBinding b[] = {{"N", 1}, {"image_size", 75}, {"embedding_size", 8}, {"classes", 3}};
    Export e;
    if (!CHECK(g && export_graph(g, b, 4, NULL, 1, &e) == 0, "irv1_small exports: %s", e.st.msg))
        return;
    int convs = 0, folded = 0; /* folded: batch norm moved into the weights (passes/fold.c) */
    for (IrId id = 0; id < g->n_nodes; id++) {
        convs += g->nodes[id].op == IR_OP_CONV2D;
        folded += g->nodes[id].op == IR_OP_CONV2D && g->nodes[g->nodes[id].in[1]].op != IR_OP_PARAM;
    }
    const IxOnnxInfo *i = &e.info;
    CHECK(ix_onnx_op_count(i, "Conv") == convs && convs == 51 && folded == 45, "%d Conv for %d conv2d, %d folded",
          ix_onnx_op_count(i, "Conv"), convs, folded);
    CHECK(ix_onnx_op_count(i, "Relu") == 50 && ix_onnx_op_count(i, "Concat") == 8 &&
              ix_onnx_op_count(i, "GlobalAveragePool") == 1 && ix_onnx_op_count(i, "MatMul") == 1 &&
              ix_onnx_op_count(i, "MaxPool") == 3 && ix_onnx_op_count(i, "Transpose") == 1 + folded,
          "Relu %d, Concat %d, pools, one MatMul, %d Transpose: the images' and the folded filters'",
          ix_onnx_op_count(i, "Relu"), ix_onnx_op_count(i, "Concat"), ix_onnx_op_count(i, "Transpose"));
    CHECK(ix_onnx_op_count(i, "Sub") == 0 &&
              ix_onnx_op_count(i, "Neg") == ix_onnx_op_count(i, "Reciprocal") &&
              ix_onnx_op_count(i, "Neg") == folded + 1, /* and the bottleneck matmul's */
          "folded batch norm's beta - mean * r as beta + (-(mean * r)): %d Neg for %d Reciprocal (rsqrt), no Sub",
          ix_onnx_op_count(i, "Neg"), ix_onnx_op_count(i, "Reciprocal"));
    static const char *allowed[] = {"Transpose", "Conv",       "Neg",     "Add",
                                    "Sqrt",      "Reciprocal", "Reshape", "Mul",
                                    "Relu",      "MaxPool",    "Concat",  "GlobalAveragePool",
                                    "MatMul",    "ReduceSum",  "Max",     "Div"};
    int others = i->nodes;
    for (size_t k = 0; k < sizeof allowed / sizeof allowed[0]; k++)
        others -= ix_onnx_op_count(i, allowed[k]);
    CHECK(others == 0, "%d nodes of other op types", others);
    int64_t want = reachable_params(g, "embeddings");
    CHECK(i->parameters == want, "%lld parameters exported, the embeddings read %lld",
          (long long)i->parameters, (long long)want);
    CHECK(i->inputs == 1 && i->outputs == 1, "one input (images), one output (embeddings)");
    free(e.b);
    ir_graph_free(g);
}

/* the nets as fnrun align runs them: every output, PNet at 24x24 */
static void mtcnn(void) {
    static const struct {
        const char *model;
        int outputs, conv, prelu, maxpool, matmul;
    } nets[] = {{"models/mtcnn/pnet.fn", 2, 5, 3, 1, 0},
                {"models/mtcnn/rnet.fn", 2, 3, 4, 2, 3},
                {"models/mtcnn/onet.fn", 3, 4, 5, 3, 4}};
    for (int k = 0; k < 3; k++) {
        IrGraph *g = build(nets[k].model, 0);
        RtBinding b[] = {{"N", 1}, {"H", 24}, {"W", 24}};
        Export e;
        if (!CHECK(g && export_graph(g, b, 3, NULL, 1, &e) == 0, "%s exports: %s", nets[k].model,
                   e.st.msg))
            continue;
        const IxOnnxInfo *i = &e.info;
        CHECK(i->outputs == nets[k].outputs && ix_onnx_op_count(i, "Conv") == nets[k].conv &&
                  ix_onnx_op_count(i, "PRelu") == nets[k].prelu &&
                  ix_onnx_op_count(i, "MaxPool") == nets[k].maxpool &&
                  ix_onnx_op_count(i, "MatMul") == nets[k].matmul &&
                  ix_onnx_op_count(i, "Softmax") == 1,
              "%s: %d outputs, %d Conv, %d PRelu, %d MaxPool, %d MatMul", nets[k].model, i->outputs,
              ix_onnx_op_count(i, "Conv"), ix_onnx_op_count(i, "PRelu"),
              ix_onnx_op_count(i, "MaxPool"), ix_onnx_op_count(i, "MatMul"));
        free(e.b);
        ir_graph_free(g);
    }
}

/* every output of the op zoo, and its layout handling in numbers of nodes */
static void zoo(void) {
    IrGraph *g = build("tests/interop/onnx/zoo.fn", 0);
    static const char *outs[] = {"maps", "s", "lasts", "gram", "back", "unary", "embeddings"};
    IxOnnxOpts o = {outs, 7, 0, NULL};
    RtBinding b[] = {{"N", 1}};
    Export e;
    if (!CHECK(g && export_graph(g, b, 1, &o, 1, &e) == 0, "the zoo exports: %s", e.st.msg)) return;
    const IxOnnxInfo *i = &e.info;
    CHECK(i->outputs == 7 && i->inputs == 2, "7 outputs, 2 inputs (images, gain)");
    /* input; [W,C], [H,W,C] operands; sums keeping 2, 3; flatten; matmul ta, tb; reshape to a
       map; the two rank-4 outputs */
    CHECK(ix_onnx_op_count(i, "Transpose") == 1 + 2 + 2 + 1 + 2 + 1 + 2, "%d Transpose",
          ix_onnx_op_count(i, "Transpose"));
    CHECK(ix_onnx_op_count(i, "AveragePool") == 1 && ix_onnx_op_count(i, "Concat") == 3 &&
              ix_onnx_op_count(i, "Softmax") == 1 && ix_onnx_op_count(i, "Sign") == 1 &&
              ix_onnx_op_count(i, "Cast") == 1 && ix_onnx_op_count(i, "Pow") == 1 &&
              ix_onnx_op_count(i, "ReduceMean") == 4,
          "the zoo's ops");
    free(e.b);
    ir_graph_free(g);
}

/* bcast (with N from the input's Shape), bcastlast, slice: only gradients use them */
static IrGraph *movement_graph(void) {
    IrGraph *g = ir_graph_new();
    IrDim n = ir_dim_sym(g, "N", -1), d4 = ir_dim_const(g, 4), d3 = ir_dim_const(g, 3),
          d5 = ir_dim_const(g, 5);
    IrShape sx = {4, {n, d4, d3, d5}}, s3 = {3, {d4, d3, d5}}, s57 = {2, {d5, ir_dim_const(g, 7)}};
    IrId x = ir_leaf(g, IR_OP_INPUT, "images", IR_DT_FLOAT, &sx, IR_INIT_ZEROS, 0, 0);
    IrId s2 = ir_reduce(g, IR_OP_SUM, x, 2, 0, NULL);       // [3,5]
    IrId b4 = ir_reduce(g, IR_OP_BCAST, s2, 2, 0, &sx);     // [N,4,3,5]
    IrId l3 = ir_reduce(g, IR_OP_SUMLAST, x, 0, 0, NULL);   // [N,4,3]
    IrId bl = ir_reduce(g, IR_OP_BCASTLAST, l3, 0, 1, &sx); // [N,4,3,5], divided by 5
    IrId sum = ir_binary(g, IR_OP_ADD, ir_binary(g, IR_OP_MUL, b4, x), bl);
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.axis = (IrAxisAttr){3, 1, 3};
    IrId sl = ir_make(g, IR_OP_SLICE, &sum, 1, &at); // [N,4,3,3]
    at.u.axis = (IrAxisAttr){1, 1, 2};
    IrId sh = ir_make(g, IR_OP_SLICE, &sl, 1, &at); // [N,2,3,3]
    ir_set_output(g, "maps", sh);
    ir_set_output(g, "mean", ir_reduce(g, IR_OP_BCAST, s2, 2, 1, &s3));     // [4,3,5], divided by 4
    IrId c = ir_reduce(g, IR_OP_SUM, x, 1, 0, NULL);                        // [5]
    ir_set_output(g, "rows", ir_reduce(g, IR_OP_BCASTLAST, c, 0, 0, &s57)); // [5,7]
    return g;
}

static void movement(void) {
    IrGraph *g = movement_graph();
    static const char *outs[] = {"maps", "mean", "rows"};
    IxOnnxOpts o = {outs, 3, 0, NULL};
    RtBinding b[] = {{"N", 1}};
    Export e;
    CHECK(ir_verify(g) == 0, "the hand-built graph verifies: %s", g->err);
    if (!CHECK(export_graph(g, b, 1, &o, 1, &e) == 0, "bcast, bcastlast, slice export: %s",
               e.st.msg))
        return;
    const IxOnnxInfo *i = &e.info;
    CHECK(ix_onnx_op_count(i, "Expand") == 4 && ix_onnx_op_count(i, "Unsqueeze") == 2 &&
              ix_onnx_op_count(i, "Slice") == 2 && ix_onnx_op_count(i, "Shape") == 1 &&
              ix_onnx_op_count(i, "Concat") == 1 && ix_onnx_op_count(i, "Div") == 2,
          "Expand %d, Unsqueeze %d, Slice %d, Shape %d", ix_onnx_op_count(i, "Expand"),
          ix_onnx_op_count(i, "Unsqueeze"), ix_onnx_op_count(i, "Slice"),
          ix_onnx_op_count(i, "Shape"));
    const char *dir = getenv("FN_ONNX_SAVE");
    if (dir) {
        char path[600];
        const char *names[] = {"eval"};
        RtStatus st;
        snprintf(path, sizeof path, "%s/movement.fnc", dir);
        CHECK(rt_artifact_save(path, "test_onnx_export movement_graph", &g, names, 1, &st) == 0,
              "save: %s", st.msg);
        printf("  wrote %s\n", path);
    }
    free(e.b);
    ir_graph_free(g);
}

static void errors(void) {
    IrGraph *g = build("tests/models/irv1_small.fn", 0),
            *train = build("tests/models/irv1_small.fn", 1);
    RtBinding b[] = {{"N", 1}, {"image_size", 75}, {"embedding_size", 8}, {"classes", 3}};
    static const char *nope[] = {"nope"}, *twice[] = {"embeddings", "embeddings"};
    IxOnnxOpts o1 = {nope, 1, 0, NULL}, o2 = {twice, 2, 0, NULL};
    Export e;
    CHECK(export_graph(g, b, 4, &o1, 1, &e) < 0 && strstr(e.st.msg, "unknown output \"nope\"") &&
              strstr(e.st.msg, "embeddings") && !e.b,
          "unknown output: %s", e.st.msg);
    CHECK(export_graph(g, b, 4, &o2, 1, &e) < 0 && strstr(e.st.msg, "twice"), "an output twice: %s",
          e.st.msg);
    CHECK(export_graph(g, b, 4, NULL, 0, &e) < 0 && strstr(e.st.msg, "is not bound"),
          "unbound variable: %s", e.st.msg);
    CHECK(train && export_graph(train, b, 4, NULL, 1, &e) < 0 && strstr(e.st.msg, "op allreduce") &&
              strstr(e.st.msg, "no ONNX lowering"),
          "the training graph: %s", e.st.msg);
    ir_graph_free(g);
    ir_graph_free(train);
}

/* the fixture broken one way, repacked, must fail the check with `want` in the message */
typedef void (*Breaker)(Fn__Onnx__ModelProto *m);
static void brk_input(Fn__Onnx__ModelProto *m) {
    m->graph->node[1]->input[0] = "nowhere";
}
static void brk_raw(Fn__Onnx__ModelProto *m) {
    m->graph->initializer[0]->raw_data.len -= 4;
}
static void brk_opset(Fn__Onnx__ModelProto *m) {
    m->n_opset_import = 0;
}
static void brk_twice(Fn__Onnx__ModelProto *m) {
    m->graph->node[2]->output[0] = m->graph->node[1]->output[0];
}
static void brk_output(Fn__Onnx__ModelProto *m) {
    m->graph->output[0]->name = "missing";
}
static void brk_order(Fn__Onnx__ModelProto *m) {
    Fn__Onnx__NodeProto *t = m->graph->node[0];
    m->graph->node[0] = m->graph->node[1];
    m->graph->node[1] = t;
}

static void checker(void) {
    static const struct {
        Breaker f;
        const char *what, *want;
    } cases[] = {{brk_input, "an undefined input", "nowhere, which nothing before it defines"},
                 {brk_raw, "short raw_data", "its shape wants"},
                 {brk_opset, "no opset", "no opset"},
                 {brk_twice, "a name defined twice", "again"},
                 {brk_output, "an undefined output", "missing is never defined"},
                 {brk_order, "nodes out of order", "nothing before it defines"}};
    FILE *f = fopen(FIXTURE, "rb");
    unsigned char buf[8192];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    RtStatus st;
    if (!CHECK(n > 0 && n < sizeof buf, "read the fixture")) return;
    CHECK(ix_onnx_check(buf, n / 2, NULL, &st) < 0, "half the fixture fails: %s", st.msg);
    CHECK(ix_onnx_check((const unsigned char *)"not a model", 11, NULL, &st) < 0, "text fails: %s",
          st.msg);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Fn__Onnx__ModelProto *m = fn__onnx__model_proto__unpack(NULL, n, buf);
        if (!CHECK(m != NULL, "unpack the fixture")) return;
        size_t raw_len = m->graph->initializer[0]->raw_data.len, n_opset = m->n_opset_import;
        char *in0 = m->graph->node[1]->input[0], *out2 = m->graph->node[2]->output[0],
             *gout = m->graph->output[0]->name;
        Fn__Onnx__NodeProto *n0 = m->graph->node[0], *n1 = m->graph->node[1];
        cases[k].f(m);
        unsigned char *b = malloc(fn__onnx__model_proto__get_packed_size(m));
        size_t len = fn__onnx__model_proto__pack(m, b);
        CHECK(ix_onnx_check(b, len, NULL, &st) < 0 && strstr(st.msg, cases[k].want), "%s: %s",
              cases[k].what, st.msg);
        /* put the model back as unpacked, for free_unpacked */
        m->graph->node[0] = n0;
        m->graph->node[1] = n1;
        m->graph->initializer[0]->raw_data.len = raw_len;
        m->n_opset_import = n_opset;
        m->graph->node[1]->input[0] = in0;
        m->graph->node[2]->output[0] = out2;
        m->graph->output[0]->name = gout;
        fn__onnx__model_proto__free_unpacked(m, NULL);
        free(b);
    }
}

int main(void) {
    golden_tiny();
    nchw_input();
    irv1_small();
    mtcnn();
    zoo();
    movement();
    errors();
    checker();
    return test_summary("test_onnx_export");
}
