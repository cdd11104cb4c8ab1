/* Per-op float32 checks against float64: every case of tests/op_cases.c, and a few larger ones
 * whose sums take several row splits, differentiated by autodiff and run from the same values
 * by a float32 executor and by the CPU's float64 one; the worst relative L2 error over the
 * result and every gradient must stay under the bound.
 *   - always: the CPU's fast float32 path (fused loops, tiled convolutions), < 1e-5;
 *   - on a GPU (bench/gpu/check.sh): the GPU executor with float32 GEMMs, < 1e-5, then with
 *     TF32 tensor-core GEMMs, < 3e-3 (issue 8's bounds).
 *     Then with cuBLAS's GEMMs on bfloat16 operands (gpu_bf16 1; the columns of convolutions
 *     with a window stored as bfloat16), with only the column convolutions' so (=columns), and
 *     with the activations and their gradients stored in bfloat16 (=act), each < 1e-2.
 * Without a GPU the GPU passes say why and are left out. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"
#include "runtime/gpu/gpu_exec.h"
#include "tests/gradcheck.h"
#include "tests/op_cases.h"
#include "tests/testlib.h"

/* bfloat16 keeps 8 bits of mantissa: a unit roundoff of 2^-9 (2e-3), the errors of one rounding of
 * every operand about that (3.5e-3 at worst on the emulation); the bound is 5 times it
 * (the pass runs every convolution with a window by bfloat16 columns) */
#define BF16_BOUND 1e-2

static RtBackend *gpu; /* NULL: the CPU's float32 path */
static double bound;
static double worst_all;

static void run(const char *label, IrGraph *g, int label_range) {
    GcOpts o = {NULL, 0, 1, 1, label_range, 1e-6, 42};
    char where[128] = "";
    double e = gc_compare_f32(&g, &o, gpu, where, sizeof where);
    if (e > worst_all || isnan(e)) worst_all = e;
    if (!(e < bound) || getenv("FN_OPS_VERBOSE")) printf("  %-40s rel err %.2e (%s)\n", label, e, where);
    CHECK(e < bound, "%s: float32 against float64: %.2e at %s", label, e, where);
    ir_graph_free(g);
}

static IrId param(IrGraph *g, const char *name, int rank, const int64_t *d) {
    IrShape s = ir_shape_make(g, rank, d);
    return ir_leaf(g, IR_OP_PARAM, name, IR_DT_FLOAT, &s, IR_INIT_ZEROS, 0, 0);
}

/* sizes where the GPU's sums and GEMMs take several blocks and row splits */
static void larger_cases(void) {
    IrGraph *g = ir_graph_new();
    IrId x = param(g, "x", 4, (int64_t[]){8, 13, 17, 40});
    IrId beta = param(g, "beta", 1, (int64_t[]){40});
    IrId m = ir_reduce(g, IR_OP_SUM, x, 1, 1, NULL);
    IrId xc = ir_binary(g, IR_OP_SUB, x, m);
    IrId v = ir_reduce(g, IR_OP_SUM, ir_unary(g, IR_OP_SQUARE, xc), 1, 1, NULL);
    IrId y = ir_binary(g, IR_OP_ADD, ir_binary(g, IR_OP_MUL, xc, ir_unary(g, IR_OP_RSQRT, ir_scalar_op(g, IR_OP_ADDS, v, 1e-3))),
                       beta);
    op_case(run, "batch norm + relu, [8,13,17,40]", g, ir_unary(g, IR_OP_RELU, y), 1);

    g = ir_graph_new();
    x = param(g, "x", 4, (int64_t[]){4, 20, 20, 16});
    IrId w = param(g, "w", 4, (int64_t[]){3, 3, 16, 24});
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.window = (IrWindowAttr){3, 3, 1, 1, 1};
    IrId in[2] = {x, w};
    op_case(run, "conv2d 3x3 SAME [4,20,20,16] -> 24", g, ir_make(g, IR_OP_CONV2D, in, 2, &at), 1);

    /* window cells split across the implicit GEMM's 32-wide steps of the sum (48 channels), two
     * column blocks (40 outputs), a stride-2 data gradient */
    g = ir_graph_new();
    x = param(g, "x", 4, (int64_t[]){3, 17, 15, 48});
    w = param(g, "w", 4, (int64_t[]){3, 3, 48, 40});
    at.u.window = (IrWindowAttr){3, 3, 2, 2, 1};
    in[0] = x;
    in[1] = w;
    op_case(run, "conv2d 3x3/2 SAME [3,17,15,48] -> 40", g, ir_make(g, IR_OP_CONV2D, in, 2, &at), 1);

    /* more values than a grid-stride loop's threads (4 emulated multiprocessors: 32,768), in rows
     * of 3 and 5 channels that do not divide the stride: concat and, in its gradient, slices */
    g = ir_graph_new();
    IrId parts[2] = {param(g, "a", 4, (int64_t[]){64, 12, 12, 3}), param(g, "b", 4, (int64_t[]){64, 12, 12, 5})};
    memset(&at, 0, sizeof at);
    at.u.axis.axis = -1;
    op_case(run, "concat [64,12,12,3+5]", g, ir_make(g, IR_OP_CONCAT, parts, 2, &at), 1);

    g = ir_graph_new();
    x = param(g, "x", 2, (int64_t[]){300, 200});
    w = param(g, "w", 2, (int64_t[]){200, 100});
    memset(&at, 0, sizeof at);
    IrId mm[2] = {x, w};
    op_case(run, "matmul [300,200] x [200,100]", g, ir_make(g, IR_OP_MATMUL, mm, 2, &at), 1);

    /* the cross-entropy of long rows (a warp each, several blocks) and their accuracy, with ties
     * and a NaN in column 0 of some rows */
    g = ir_graph_new();
    x = param(g, "x", 2, (int64_t[]){37, 1000});
    IrShape ls = ir_shape_make(g, 1, (int64_t[]){37});
    IrId lab = ir_leaf(g, IR_OP_INPUT, "labels", IR_DT_INT32, &ls, IR_INIT_ZEROS, 0, 0);
    op_case(run, "softmax_xent [37,1000]", g, ir_binary(g, IR_OP_SOFTMAX_XENT, x, lab), 1000);

    g = ir_graph_new();
    x = param(g, "x", 2, (int64_t[]){3, 5000});
    op_case(run, "sum_last of long rows", g, ir_reduce(g, IR_OP_SUMLAST, x, 0, 1, NULL), 1);
}

static IrId window(IrGraph *g, IrOp op, IrId x, IrId w, int k, int stride, int same) {
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.window = (IrWindowAttr){k, k, stride, stride, same};
    IrId in[2] = {x, w};
    return ir_make(g, op, in, w == IR_NONE ? 1 : 2, &at);
}

/* A small network over images of a symbolic batch N, whose activations and gradients
 * FN_GPU_BF16=act keeps in bfloat16: max pooling (of x itself, float32, so that rounding cannot
 * move its argmax), a 3x3 convolution of cin -> cout channels (implicit where they are <= 64,
 * else by columns), average pooling, a 1x1 convolution, a concat (its gradient: slices) and the
 * fused sum of the two gradients that meet; no relu or other kink, whose gradient rounding could
 * flip. Images are a variable so that their gradient is computed (max pooling's). */
static void network_case(int cin, int cout) {
    IrGraph *g = ir_graph_new();
    IrShape xs = {4, {ir_dim_sym(g, "N", 3), ir_dim_const(g, 23), ir_dim_const(g, 21), ir_dim_const(g, cin)}};
    IrId x = ir_leaf(g, IR_OP_PARAM, "images", IR_DT_FLOAT, &xs, IR_INIT_ZEROS, 0, 0);
    IrId p = window(g, IR_OP_MAXPOOL, x, IR_NONE, 3, 2, 1);
    IrId c = window(g, IR_OP_CONV2D, p, param(g, "w1", 4, (int64_t[]){3, 3, cin, cout}), 3, 1, 1);
    IrId q = window(g, IR_OP_AVGPOOL, c, IR_NONE, 3, 1, 1);
    IrId parts[2] = {window(g, IR_OP_CONV2D, q, param(g, "w2", 4, (int64_t[]){1, 1, cout, 16}), 1, 1, 0), q};
    IrAttr at;
    memset(&at, 0, sizeof at);
    at.u.axis.axis = -1;
    char label[80];
    snprintf(label, sizeof label, "network of N images, %d -> %d channels", cin, cout);
    op_case(run, label, g, ir_make(g, IR_OP_CONCAT, parts, 2, &at), 1);
}

static void pass(const char *what, double b) {
    bound = b;
    worst_all = 0;
    int before = test_failures();
    op_cases(run);
    larger_cases();
    network_case(8, 24);
    network_case(72, 80);
    if (gpu && rt_gpu_bf16(gpu->dev) == 3) { /* every window by columns too */
        int implicit = gpu->opt.gpu_implicit;
        gpu->opt.gpu_implicit = 0;
        network_case(8, 24);
        gpu->opt.gpu_implicit = implicit;
    }
    printf("  %-44s every op: worst relative error %.2e (bound %.0e)%s\n", what, worst_all, b,
           test_failures() > before ? ": FAILED" : "");
}

int main(void) {
    pass("CPU, float32 (fast path)", 1e-5);
    RtStatus st;
    /* float32, TF32, bfloat16 cuBLAS GEMMs (all; only the column convolutions'), bfloat16 values */
    static const int bf16[] = {0, 0, 1, 2, 3}; /* off, off, 1, columns, act */
    for (int mode = 0; mode < 5; mode++) {
        RtOptions o;
        cli_options_from_env(&o);
        o.gpu_memory_fraction = 0.9;
        o.gpu_tf32 = mode != 0;
        o.gpu_bf16 = bf16[mode];
        o.gpu_implicit = mode == 2 || mode == 3 ? 0 : 2; /* 0: every window by columns, in bfloat16 */
        RtBackend be;
        if (rt_backend_gpu_open(&be, &o, NULL, &st) < 0) {
            printf("  GPU passes left out: %s\n", st.msg);
            break;
        }
        gpu = &be;
        pass(be.name, mode == 0 ? 1e-5 : mode == 1 ? 3e-3 : BF16_BOUND);
        rt_backend_close(&be);
        gpu = NULL;
    }
    return test_summary("test_gpu_ops");
}
