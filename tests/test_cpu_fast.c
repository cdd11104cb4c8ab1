/* The fast CPU backend against the reference path (the oracle):
 * - codegen/cpu's convolutions against codegen/ref's on windows that take the Winograd (3x3, 1x7,
 *   7x1), direct, tiled and reference-shaped paths (stride, padding, 1x1, 1x7), forward and both
 *   backward passes, for every instruction set the host has (older ones forced: the AVX2 and
 *   baseline kernels run on an AVX-512 machine), and bit-identical on pools of 1, 2 and 3
 *   threads (ir/pool.h); max pool
 *   and its gradient bit-identical to the reference's;
 * - the fusion pass's groups on the Inception-ResNet-v1 training graph: one shape per group,
 *   convex (no input from outside depends on a member), and every value read outside its group
 *   written to memory; the legality function on hand-picked pairs;
 * - the executor with fusion against the reference path on five models, three steps, each from the same
 *   variables: outputs and, for training graphs, updated variables, in float64 (1e-10) and in
 *   float32 (1e-3: see exec_case); the fused plan writing most optimiser updates straight into
 *   their variables (the reference path copies them at the end of the step);
 * - passes/recompute.c's copies on the reduced network: fewer values written, the same bits;
 * - convolutions' epilogues: every output pixel handed on once, final (each path, ISA and pool
 *   size), and the executor's results with them the bits of those without. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/driver.h"
#include "codegen/cpu/cpu.h"
#include "runtime/core/plan.h"
#include "runtime/core/rt.h"
#include "runtime/cpu/cpu_exec.h"
#include "tests/fixtures.h"
#include "tests/testlib.h"

static float *rand_floats(size_t n, uint64_t *rng) {
    float *p = malloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (float)(test_rng_uniform(rng) * 2 - 1);
    return p;
}

/* A forward pass's epilogue (cpu.h: CpuEpilogue) that copies the rows it is handed into `seen`
 * and counts each pixel: every pixel once, and the rows already final (seen == y after the pass). */
typedef struct {
    const float *y;
    float *seen;
    int *count;
    int64_t pixels, o;
    int bad; /* a range out of bounds */
} EpCheck;

static void ep_check(void *arg, int64_t p0, int64_t p1, int worker) {
    EpCheck *e = arg;
    if (p0 < 0 || p1 > e->pixels || p0 > p1) {
        __atomic_store_n(&e->bad, 1, __ATOMIC_RELAXED);
        return;
    }
    memcpy(e->seen + p0 * e->o, e->y + p0 * e->o, (size_t)(p1 - p0) * (size_t)e->o * sizeof(float));
    for (int64_t p = p0; p < p1; p++) __atomic_fetch_add(&e->count[p], 1, __ATOMIC_RELAXED);
}

/* every pixel handed on once, with its final values */
static int ep_ok(const EpCheck *e) {
    int ok = !e->bad && memcmp(e->seen, e->y, (size_t)(e->pixels * e->o) * sizeof(float)) == 0;
    for (int64_t p = 0; p < e->pixels; p++) ok &= e->count[p] == 1;
    return ok;
}

/* One instruction set's fast passes on pools of 1, 2 and 3 threads into out[3] (the last pool's);
 * 1 when every pool gave the same bits. *ep_good: the forward's epilogue saw every row once, final. */
static int fast_passes(const RefWindow *v, int isa, const float *x, const float *wt, const float *dy, float *out[3],
                       const size_t len[3], int *ep_good) {
    int same_bits = 1, paths = CPU_PATHS(CPU_PATHS_ALL, isa);
    *ep_good = 1;
    for (int threads = 1; threads <= 3; threads++) { /* 1 first: then 2 and 3 must reproduce it */
        FnPool *pool = fn_pool_new(threads, 50, rt_blas_one_thread);
        float *prev[3] = {NULL, NULL, NULL};
        if (threads > 1)
            for (int i = 0; i < 3; i++) prev[i] = out[i], out[i] = malloc(len[i] * 4);
        /* exactly the scratch cpu_conv_scratch asks for: ASan sees any use past it */
        size_t s_fast = cpu_conv_scratch(v, paths, threads);
        float *fs = malloc((s_fast ? s_fast : 1) * sizeof(float));
        EpCheck e = {out[0], malloc(len[0] * 4), calloc(len[0] / (size_t)v->o + 1, sizeof(int)),
                     (int64_t)(len[0] / (size_t)v->o), v->o, 0};
        CpuEpilogue ep = {ep_check, &e};
        cpu_conv2d_f32(x, wt, out[0], v, paths, fs, pool, &ep);
        *ep_good &= ep_ok(&e);
        free(e.seen), free(e.count);
        cpu_conv2d_bwd_data_f32(dy, wt, out[1], v, paths, fs, pool);
        cpu_conv2d_bwd_filter_f32(x, dy, out[2], v, paths, fs, pool);
        free(fs);
        fn_pool_free(pool);
        if (threads > 1)
            for (int i = 0; i < 3; i++) {
                same_bits &= memcmp(prev[i], out[i], len[i] * 4) == 0;
                free(prev[i]);
            }
    }
    return same_bits;
}

/* Each instruction set the host has (the older ones forced: FN_ISA_BASE, _AVX2) against the
 * reference, and the same bits on 1-3 threads. */
static void conv_case(int n, int h, int w, int c, int kh, int kw, int s, int same, int o, int tiled) {
    RefWindow v;
    ref_window_init(&v, n, h, w, c, kh, kw, s, s, same, o);
    const size_t len[3] = {(size_t)n * v.oh * v.ow * o, (size_t)n * h * w * c, (size_t)kh * kw * c * o};
    uint64_t rng = (uint64_t)(h * 131 + c * 7 + kh);
    float *x = rand_floats(len[1], &rng), *wt = rand_floats(len[2], &rng), *dy = rand_floats(len[0], &rng);
    float *ref[3], *out[3];
    float *scratch = malloc((ref_conv_scratch(&v) + 1) * sizeof(float));
    for (int i = 0; i < 3; i++) ref[i] = malloc(len[i] * 4);
    ref_conv2d_f32(x, wt, ref[0], &v, scratch);
    ref_conv2d_bwd_data_f32(dy, wt, ref[1], &v, scratch);
    ref_conv2d_bwd_filter_f32(x, dy, ref[2], &v, scratch);
    for (int isa = FN_ISA_BASE; isa <= fn_isa_host(); isa++) {
        for (int i = 0; i < 3; i++) out[i] = malloc(len[i] * 4);
        int ep_good, same_bits = fast_passes(&v, isa, x, wt, dy, out, len, &ep_good);
        double e[3];
        for (int i = 0; i < 3; i++) e[i] = test_rel_l2(out[i], ref[i], len[i], 4);
        CHECK(e[0] < 1e-5 && e[1] < 1e-5 && e[2] < 1e-5,
              "conv %dx%dx%dx%d k%dx%d s%d %s -> %d, %s: fast vs reference %.1e %.1e %.1e", n, h, w, c, kh, kw, s,
              same ? "SAME" : "VALID", o, fn_isa_name(isa), e[0], e[1], e[2]);
        CHECK(same_bits, "conv %dx%dx%d k%dx%d%s, %s: the same bits with 1, 2 and 3 threads", h, w, c, kh, kw,
              tiled ? " (tiled)" : "", fn_isa_name(isa));
        CHECK(ep_good, "conv %dx%dx%d k%dx%d s%d, %s: the epilogue took every output pixel once, final", h, w, c, kh,
              kw, s, fn_isa_name(isa));
        for (int i = 0; i < 3; i++) free(out[i]);
    }
    for (int i = 0; i < 3; i++) free(ref[i]);
    free(x), free(wt), free(dy), free(scratch);
}

/* The direct kernels in AVX2 and AVX-512 (when the host has it): the same sums in the same
 * order, so the same bits, each pass. */
static void direct_isas_case(int n, int h, int w, int c, int kh, int kw, int o) {
    if (fn_isa_host() < FN_ISA_AVX512) return;
    RefWindow v;
    ref_window_init(&v, n, h, w, c, kh, kw, 1, 1, 1, o);
    const size_t len[3] = {(size_t)n * v.oh * v.ow * o, (size_t)n * h * w * c, (size_t)kh * kw * c * o};
    uint64_t rng = 77;
    float *x = rand_floats(len[1], &rng), *wt = rand_floats(len[2], &rng), *dy = rand_floats(len[0], &rng);
    float *out[2][3];
    FnPool *pool = fn_pool_new(2, 50, rt_blas_one_thread);
    float *fs = malloc(cpu_direct_scratch(&v, 2) * sizeof(float));
    int fits = 1, same = 1;
    for (int k = 0; k < 2; k++) {
        int isa = k ? FN_ISA_AVX512 : FN_ISA_AVX2;
        for (int pass = CPU_FWD; pass <= CPU_BWD_FILTER; pass++) fits &= cpu_direct_fits(&v, pass, isa);
        for (int i = 0; i < 3; i++) out[k][i] = malloc(len[i] * 4);
        cpu_direct_conv2d_f32(x, wt, out[k][0], &v, fs, pool, isa, NULL);
        cpu_direct_bwd_data_f32(dy, wt, out[k][1], &v, fs, pool, isa);
        cpu_direct_bwd_filter_f32(x, dy, out[k][2], &v, fs, pool, isa);
    }
    for (int i = 0; i < 3; i++) same &= memcmp(out[0][i], out[1][i], len[i] * 4) == 0;
    CHECK(fits && same, "direct %dx%dx%d k%dx%d -> %d: AVX2 gives AVX-512's bits in all three passes", h, w, c, kh, kw, o);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 3; i++) free(out[k][i]);
    free(fs), free(x), free(wt), free(dy);
    fn_pool_free(pool);
}

/* a stride-1 case that must take the Winograd path */
static void winograd_case(int n, int h, int w, int c, int kh, int kw, int same, int o) {
    RefWindow v;
    ref_window_init(&v, n, h, w, c, kh, kw, 1, 1, same, o);
    CHECK(cpu_winograd_fits(&v), "conv %dx%dx%d k%dx%d -> %d takes the Winograd path", h, w, c, kh, kw, o);
    conv_case(n, h, w, c, kh, kw, 1, same, o, 1);
}

/* codegen/cpu's max pool and its gradient against the reference's: the same bits, ties
   included (inputs on a coarse grid), with 2 and 3 threads, built for every ISA the host has. */
static void pool_case(int n, int h, int w, int c, int k, int s, int same) {
    RefWindow v;
    ref_window_init(&v, n, h, w, c, k, k, s, s, same, 0);
    size_t nx = (size_t)n * h * w * c, ny = (size_t)n * v.oh * v.ow * c;
    uint64_t rng = (uint64_t)(h * 31 + c);
    float *x = rand_floats(nx, &rng), *dy = rand_floats(ny, &rng);
    for (size_t i = 0; i < nx; i++) x[i] = floorf(x[i] * 4) / 4; /* 8 levels: many ties */
    float *ref[2] = {malloc(ny * 4), malloc(nx * 4)}, *fast[2] = {malloc(ny * 4), malloc(nx * 4)};
    ref_maxpool_f32(x, ref[0], &v);
    ref_maxpool_grad_f32(x, dy, ref[1], &v);
    int same_bits = 1;
    for (int isa = FN_ISA_BASE; isa <= fn_isa_host(); isa++)
        for (int threads = 2; threads <= 3; threads++) {
            FnPool *pool = fn_pool_new(threads, 50, NULL);
            cpu_maxpool_f32(x, fast[0], &v, pool, isa);
            cpu_maxpool_grad_f32(x, dy, fast[1], &v, pool, isa);
            same_bits &= !memcmp(ref[0], fast[0], ny * 4) && !memcmp(ref[1], fast[1], nx * 4);
            fn_pool_free(pool);
        }
    CHECK(same_bits, "max pool %dx%dx%dx%d k%d s%d %s: forward and gradient the reference's bits", n, h, w, c, k, s,
          same ? "SAME" : "VALID");
    for (int i = 0; i < 2; i++) free(ref[i]), free(fast[i]);
    free(x), free(dy);
}

static int reaches(const IrGraph *g, IrId from, const PassFusion *f, int gi, char *seen) {
    if (f->group_of[from] == gi) return 1;
    if (seen[from]) return 0;
    seen[from] = 1;
    for (int k = 0; k < g->nodes[from].n_in; k++)
        if (reaches(g, g->nodes[from].in[k], f, gi, seen)) return 1;
    return 0;
}

/* Fusion's invariants on Inception-ResNet-v1's training step, for a grouping of the needed
 * nodes (needed NULL: all). */
static void check_fusion(const IrGraph *g, const PassFusion *fp, const char *needed, const char *label) {
    const PassFusion f = *fp;
    int shapes_ok = 1, convex = 1, written = 1;
    char *seen = malloc((size_t)g->n_nodes);
    for (int gi = 0; gi < f.n_groups && convex; gi++) {
        const IrNode *first = &g->nodes[f.members[f.start[gi]]];
        for (int k = f.start[gi]; k < f.start[gi + 1]; k++) {
            const IrNode *nd = &g->nodes[f.members[k]];
            if (nd->op != IR_OP_SUM && first->op != IR_OP_SUM) shapes_ok &= ir_shape_equal(&nd->shape, &first->shape);
            for (int i = 0; i < nd->n_in; i++) { /* an outside input must not depend on the group */
                IrId x = nd->in[i];
                if (f.group_of[x] == gi) continue;
                memset(seen, 0, (size_t)g->n_nodes);
                if (reaches(g, x, &f, gi, seen)) convex = 0;
            }
        }
    }
    /* a group runs at run_at: after what its members read from outside, before what reads its
       members from outside; sums that joined after the group escaped ("late") run there too */
    int ordered = 1, late = 0;
    for (IrId id = 0; id < g->n_nodes; id++) {
        if (needed && !needed[id]) continue;
        int gi = f.group_of[id];
        IrId at = gi >= 0 ? f.run_at[gi] : id;
        late += gi >= 0 && id > at;
        for (int i = 0; i < g->nodes[id].n_in; i++) {
            IrId x = g->nodes[id].in[i];
            int gx = f.group_of[x];
            if (gx == gi && gi >= 0) continue;
            if (gx >= 0 && !f.materialized[x]) written = 0;
            if ((gx >= 0 ? f.run_at[gx] : x) >= at && g->nodes[id].op != IR_OP_ASSIGN) ordered = 0; /* assignments run after the step */
        }
    }
    printf("  Inception-ResNet-v1 train (ADAM), %s: %d nodes, %d fused in %d loops (%d with several nodes), %d sums "
           "folded, %d values written\n",
           label, g->n_nodes, f.n_fused, f.n_groups, f.n_multi, f.n_terminals, f.n_written);
    CHECK(f.n_multi > 500 && f.n_terminals > 300, "%s: most batch-norm and optimiser chains fuse", label);
    CHECK(shapes_ok, "%s: every group's pointwise members share one shape", label);
    CHECK(convex, "%s: every group is convex", label);
    CHECK(written, "%s: every value read outside its group is written", label);
    CHECK(ordered, "%s: every group runs after its outside inputs and before its outside readers", label);
    CHECK(late >= 100, "%s: batch norm's beta gradients join their loops as late sums (%d)", label, late);
    int centred = 0, centred_written = 0; /* batch norm's x - mean of a convolution's output */
    for (IrId id = 0; id < g->n_nodes; id++)
        if (g->nodes[id].op == IR_OP_SUB && g->nodes[g->nodes[id].in[0]].op == IR_OP_CONV2D && (!needed || needed[id]))
            centred++, centred_written += f.materialized[id];
    CHECK(centred > 100 && centred_written == 0, "%s: no batch norm's centred value is written (%d of %d are)", label,
          centred_written, centred);
    int lone_masks = 0; /* a relu mask in a loop of its own would be written out for one reader */
    for (int gi = 0; gi < f.n_groups; gi++)
        lone_masks += f.start[gi + 1] - f.start[gi] == 1 && g->nodes[f.members[f.start[gi]]].op == IR_OP_STEP;
    CHECK(lone_masks == 0, "%s: every relu mask joins its gradient's loop (%d alone)", label, lone_masks);
    free(seen);
}

/* RT_PLAN_SLACK(k): two values whose blocks share memory are k node positions apart at least,
 * from the last read of the one to the first write of the other (a group's members written
 * over an input of the group, in place, share its block and are left out) */
static void check_slack(const RtPlan *p, int k) {
    const IrGraph *g = p->g;
    const PassFusion *f = &p->fusion;
    int n = p->n, *pos = malloc((size_t)n * sizeof *pos), *last = malloc((size_t)n * sizeof *last), bad = 0, pairs = 0;
    for (IrId id = 0; id < n; id++) {
        pos[id] = f->group_of[id] >= 0 ? f->run_at[f->group_of[id]] : id;
        last[id] = pos[id];
    }
    for (IrId id = 0; id < n; id++)
        for (int i = 0; p->needed[id] && i < g->nodes[id].n_in; i++)
            if (pos[id] > last[g->nodes[id].in[i]]) last[g->nodes[id].in[i]] = pos[id];
    for (IrId a = 0; a < n; a++) {
        int ba = p->block_of[a];
        if (ba < 0 || g->nodes[a].op == IR_OP_INPUT || g->nodes[a].op == IR_OP_CONST) continue;
        for (IrId b = a + 1; b < n; b++) {
            int bb = p->block_of[b];
            if (bb < 0 || bb == ba || pos[b] <= pos[a] || g->nodes[b].op == IR_OP_INPUT || g->nodes[b].op == IR_OP_CONST)
                continue;
            size_t a0 = p->block_off[ba], a1 = a0 + p->block_bytes[ba], b0 = p->block_off[bb], b1 = b0 + p->block_bytes[bb];
            if (a0 >= b1 || b0 >= a1) continue;
            pairs++;
            bad += pos[b] <= last[a] + k;
        }
    }
    CHECK(bad == 0, "slack %d: %d of %d pairs of values sharing memory are closer than that", k, bad, pairs);
    free(pos);
    free(last);
}

static void fusion_properties(void) {
    PassCtx ctx = {0};
    ctx.optimizer = PASS_OPT_ADAM;
    IrGraph *g = drv_build("models/inception_resnet_v1.fn", NULL, 0, 1, &ctx, stderr);
    if (!CHECK(g != NULL, "Inception-ResNet-v1 builds")) return;
    PassFusion f;
    pass_fuse(g, NULL, NULL, &f);
    check_fusion(g, &f, NULL, "every output");
    /* as fnrun binds it: a few outputs requested (not the gradients), the updates run */
    const RtBinding b[] = {{"N", 32}, {"image_size", 160}, {"embedding_size", 512}, {"classes", 100}};
    const char *want[] = {"loss", "xent", "accuracy"};
    int64_t *sym = calloc((size_t)g->n_syms + 1, sizeof *sym);
    RtStatus st;
    RtPlan p;
    if (CHECK(rt_bind_syms(g, b, 4, sym, &st) == 0 && rt_plan_build(&p, g, sym, want, 3, 1, 4, RT_PLAN_FUSE, &st) == 0,
              "the training step plans: %s", st.msg)) {
        check_fusion(g, &p.fusion, p.needed, "fnrun's outputs");
        size_t tight = p.slab_bytes;
        check_slack(&p, 0);
        rt_plan_free(&p);
        if (CHECK(rt_plan_build(&p, g, sym, want, 3, 1, 4, RT_PLAN_FUSE | RT_PLAN_SLACK(64), &st) == 0, "%s", st.msg)) {
            check_slack(&p, 64);
            printf("  memory reused 64 node positions after the last read: a %.0f MB slab, %.0f MB at once\n",
                   p.slab_bytes / 1e6, tight / 1e6);
            rt_plan_free(&p);
        }
    }
    free(sym);
    /* legality on the first batch norm: conv -> sub(mean) -> ... -> relu */
    IrId relu = IR_NONE, conv = IR_NONE;
    for (IrId id = 0; id < g->n_nodes && relu == IR_NONE; id++) {
        if (g->nodes[id].op == IR_OP_CONV2D && conv == IR_NONE) conv = id;
        if (g->nodes[id].op == IR_OP_RELU) relu = id;
    }
    IrId pre = g->nodes[relu].in[0];
    CHECK(pass_fuse_legal(g, pre, relu), "relu fuses with the add before it");
    CHECK(!pass_fuse_legal(g, conv, g->nodes[relu].in[0]) && !pass_fuse_legal(g, relu, conv),
          "a convolution fuses with nothing");
    CHECK(!pass_fuse_legal(g, relu, pre), "legality needs the consumer to read the producer");
    pass_fusion_free(&f);
    ir_graph_free(g);
}

static void copy_to_both(void *ctx, const char *name, const void *data, size_t bytes) {
    RtExec **ex = ctx;
    for (int i = 0; i < 2; i++)
        if (ex[i]) fx_copy_to_exec(ex[i], name, data, bytes);
}

/* The fused executor against the reference path (options' fuse 0) at precision prec, every step from the same variables.
 * In float64 any difference beyond rounding is a bug (tol 1e-10); in float32 the tiny batches'
 * batch norm (4 values) amplifies the convolutions' different summation orders (tol 1e-3). */
/* Convolutions' epilogues (RtOptions.conv_epilogue: the fused loop after a convolution run on
 * its rows as they are written) against the loops run after it: the same bits, float32, eval. */
static void epilogue_case(const char *model, const RtBinding *b, int nb) {
    PassCtx ctx = {.verify = 1};
    IrGraph *g = drv_build(model, NULL, 0, 0, &ctx, stderr);
    if (!CHECK(g != NULL, "%s builds", model)) return;
    RtStatus st;
    RtBackend be[2];
    RtVars *vs[2] = {rt_vars_new(4), rt_vars_new(4)};
    RtExec *ex[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        RtOptions o = test_cpu()->opt;
        o.conv_epilogue = k;
        o.threads = 2;
        rt_backend_cpu(&be[k], &o, &st);
        ex[k] = rt_exec_bind(&be[k], g, vs[k], b, nb, NULL, 0, 0, &st);
        if (ex[k]) rt_vars_init(vs[k], 3);
    }
    int same = 1;
    if (CHECK(ex[0] && ex[1], "%s: executors: %s", model, st.msg)) {
        uint64_t rng = 9;
        fx_random_inputs(g, ex[1], 4, &rng, fx_copy_to_exec, ex[0]);
        CHECK(rt_exec_run(ex[0], 1, 0, &st) == 0 && rt_exec_run(ex[1], 1, 0, &st) == 0, "%s runs: %s", model, st.msg);
        for (int i = 0; i < g->n_outputs; i++) {
            int64_t n;
            const char *name = ir_str(g, g->outputs[i].name);
            const void *y0 = rt_exec_output(ex[0], name, &n, NULL, NULL), *y1 = rt_exec_output(ex[1], name, NULL, NULL, NULL);
            same &= y0 && y1 && memcmp(y0, y1, (size_t)n * 4) == 0;
        }
    }
    CHECK(same, "%s eval: convolutions' epilogues give the bits of the loops after them", model);
    for (int k = 0; k < 2; k++) rt_exec_free(ex[k]), rt_backend_close(&be[k]), rt_vars_free(vs[k]);
    ir_graph_free(g);
}

static void exec_case(const FxCase *c, int prec, double tol) {
    IrGraph *g = fx_build_case(c);
    if (!CHECK(g != NULL, "%s builds", c->model)) return;
    RtStatus st;
    RtVars *vr = rt_vars_new(prec), *vf = rt_vars_new(prec), *vl = rt_vars_new(prec);
    RtExec *ref = rt_exec_bind(test_cpu_ref(), g, vr, c->b, c->nb, NULL, 0, c->training, &st);
    RtExec *fast = ref ? rt_exec_bind(test_cpu(), g, vf, c->b, c->nb, NULL, 0, c->training, &st) : NULL;
    /* training with only the loss requested (fnrun asks for a few more, never the gradients),
       so the gradients need not reach memory */
    const char *loss_only[] = {"loss"};
    RtExec *lean = fast && c->training ? rt_exec_bind(test_cpu(), g, vl, c->b, c->nb, loss_only, 1, 1, &st) : NULL;
    if (!CHECK(ref && fast && (lean || !c->training), "%s: executors: %s", c->model, st.msg)) goto done;
    rt_vars_init(vr, 3);
    rt_vars_init(vf, 3);
    rt_vars_init(vl, 3);
    double worst = 0;
    uint64_t rng = 11;
    for (int step = 0; step < 3; step++) {
        RtExec *others[2] = {fast, lean};
        fx_random_inputs(g, ref, prec, &rng, copy_to_both, others);
        if (!CHECK(rt_exec_run(ref, 5, (uint64_t)step, &st) == 0 && rt_exec_run(fast, 5, (uint64_t)step, &st) == 0 &&
                       (!lean || rt_exec_run(lean, 5, (uint64_t)step, &st) == 0),
                   "%s step %d: %s", c->model, step, st.msg))
            goto done;
        for (int k = 0; k < g->n_outputs; k++) {
            const char *name = ir_str(g, g->outputs[k].name);
            int64_t n;
            const void *a = rt_exec_output(ref, name, &n, NULL, NULL), *b = rt_exec_output(fast, name, NULL, NULL, NULL);
            if (!a || !b || g->nodes[g->outputs[k].id].dtype != IR_DT_FLOAT) continue;
            double e = test_rel_l2(b, a, (size_t)n, prec);
            if (e > worst) worst = e;
            if (e > tol) printf("  %s step %d output %s: rel err %.2e\n", c->model, step, name, e);
        }
        /* the updated variables; then the fast side restarts from the reference's */
        for (int v = 0; c->training && v < vr->n; v++) {
            double e = test_rel_l2(vf->v[v].data, vr->v[v].data, (size_t)vr->v[v].n, prec),
                   el = test_rel_l2(vl->v[v].data, vr->v[v].data, (size_t)vr->v[v].n, prec);
            if (el > e) e = el;
            if (e > worst) worst = e;
            if (e > tol) printf("  %s step %d variable %s: rel err %.2e\n", c->model, step, vr->v[v].name, e);
            memcpy(vf->v[v].data, vr->v[v].data, (size_t)vr->v[v].n * (size_t)prec);
            memcpy(vl->v[v].data, vr->v[v].data, (size_t)vr->v[v].n * (size_t)prec);
        }
    }
    if (c->training) { /* how many assignments the fast plan writes in place (RT_PLAN_ASSIGN) */
        int64_t *sym = calloc((size_t)g->n_syms + 1, sizeof *sym);
        RtPlan p;
        if (CHECK(rt_bind_syms(g, c->b, c->nb, sym, &st) == 0 &&
                      rt_plan_build(&p, g, sym, NULL, 0, 1, prec, RT_PLAN_FUSE | RT_PLAN_ASSIGN, &st) == 0,
                  "%s: plan: %s", c->model, st.msg)) {
            int assigns = 0, in_place = 0;
            for (IrId id = 0; id < g->n_nodes; id++) {
                assigns += p.needed[id] && g->nodes[id].op == IR_OP_ASSIGN;
                in_place += p.assign_to[id] != IR_NONE;
            }
            printf("  %-28s %d of %d assignments computed in place\n", c->model, in_place, assigns);
            if (strstr(c->model, "irv1"))
                CHECK(in_place > assigns / 2, "%s: most optimiser updates write their variables in place", c->model);
            rt_plan_free(&p);
        }
        free(sym);
    }
    if (lean) {
        const char *grad = NULL;
        for (int k = 0; k < g->n_outputs && !grad; k++)
            if (strncmp(ir_str(g, g->outputs[k].name), "grad/", 5) == 0) grad = ir_str(g, g->outputs[k].name);
        CHECK(grad && !rt_exec_output(lean, grad, NULL, NULL, NULL) && rt_exec_output(lean, "loss", NULL, NULL, NULL),
              "%s: an executor reads back only the outputs it was asked for", c->model);
    }
    const void *loss = c->training ? rt_exec_output(fast, "loss", NULL, NULL, NULL) : NULL;
    CHECK(!c->training || (loss && isfinite(prec == 4 ? *(const float *)loss : *(const double *)loss)),
          "%s: the loss stays finite", c->model);
    printf("  %-28s %s, float%d, 3 steps: worst relative error, fused vs unfused (outputs%s): %.2e\n", c->model,
           c->training ? "train" : "eval", prec * 8, c->training ? " and variables" : "", worst);
    CHECK(worst < tol, "%s float%d: the fused executor agrees with the reference path", c->model, prec * 8);
done:
    rt_exec_free(ref);
    rt_exec_free(fast);
    rt_exec_free(lean);
    rt_vars_free(vl);
    rt_vars_free(vr);
    rt_vars_free(vf);
    ir_graph_free(g);
}

/* The step as compiled (with passes/recompute.c's copies) against the same step with the copies
 * merged back (rebuilt with IrAttr.copy cleared: hash-consing merges them): fewer values
 * written, and the fused executor gives the same losses and variables. */
static IrGraph *without_copies(const IrGraph *g) {
    IrGraph *dst = ir_graph_clone_empty(g);
    IrId *map = malloc((size_t)g->n_nodes * sizeof *map);
    for (IrId id = 0; id < g->n_nodes; id++) {
        const IrNode *nd = &g->nodes[id];
        IrId in[IR_MAX_IN];
        for (int k = 0; k < nd->n_in; k++) in[k] = map[nd->in[k]];
        IrAttr at = nd->attr;
        at.copy = 0;
        dst->cur_scope = nd->scope;
        map[id] = ir_make(dst, nd->op, in, nd->n_in, &at);
    }
    for (int i = 0; i < g->n_outputs; i++) ir_set_output(dst, ir_str(g, g->outputs[i].name), map[g->outputs[i].id]);
    free(map);
    return dst;
}

static void recompute_case(const FxCase *c) {
    IrGraph *g = fx_build_case(c), *g0 = g ? without_copies(g) : NULL;
    if (!CHECK(g && g0 && g0->n_nodes < g->n_nodes, "%s: built with and without recomputed copies", c->model)) {
        ir_graph_free(g);
        return;
    }
    PassFusion f, f0;
    pass_fuse(g, NULL, NULL, &f);
    pass_fuse(g0, NULL, NULL, &f0);
    CHECK(f.n_written < f0.n_written, "%s: with copies, fewer values are written (%d, without %d)", c->model,
          f.n_written, f0.n_written);
    pass_fusion_free(&f);
    pass_fusion_free(&f0);
    RtStatus st;
    RtVars *va = rt_vars_new(4), *vb = rt_vars_new(4);
    RtExec *a = rt_exec_bind(test_cpu(), g, va, c->b, c->nb, NULL, 0, 1, &st), *b = a ? rt_exec_bind(test_cpu(), g0, vb, c->b, c->nb, NULL, 0, 1, &st) : NULL;
    if (CHECK(a && b, "%s: executors: %s", c->model, st.msg)) {
        rt_vars_init(va, 3);
        rt_vars_init(vb, 3);
        double worst = 0;
        uint64_t rng = 5;
        for (int step = 0; step < 3; step++) {
            fx_random_inputs(g, a, 4, &rng, fx_copy_to_exec, b);
            const float keep = 1; /* dropout's masks are drawn per node id, which the copies shift */
            fx_copy_to_exec(a, "keep_probability", &keep, sizeof keep);
            fx_copy_to_exec(b, "keep_probability", &keep, sizeof keep);
            if (!CHECK(rt_exec_run(a, 5, (uint64_t)step, &st) == 0 && rt_exec_run(b, 5, (uint64_t)step, &st) == 0,
                       "%s step %d: %s", c->model, step, st.msg))
                break;
            int64_t n;
            const float *la = rt_exec_output(a, "loss", &n, NULL, NULL), *lb = rt_exec_output(b, "loss", NULL, NULL, NULL);
            if (la && lb && fabs(*la - *lb) > worst) worst = fabs(*la - *lb);
            for (int v = 0; v < va->n; v++) {
                double e = test_rel_l2(va->v[v].data, vb->v[v].data, (size_t)va->v[v].n, 4);
                if (e > worst) worst = e;
            }
        }
        printf("  %-28s train, float32, 3 steps: with recomputed copies against without: worst difference %.2e\n",
               c->model, worst);
        CHECK(worst == 0, "%s: recomputed copies give the same bits", c->model);
    }
    rt_exec_free(a);
    rt_exec_free(b);
    rt_vars_free(va);
    rt_vars_free(vb);
    ir_graph_free(g);
    ir_graph_free(g0);
}

/* cpu_sgemm against ref_matmul on shapes split by rows (a plain, a transposed), by columns (b
 * transposed) and not at all; an empty sum (k = 0) over a y full of NaN gives zeros, as BLAS's
 * beta 0 does. */
static void sgemm_cases(void) {
    const int shapes[][5] = {{700, 40, 64, 0, 0}, {20, 900, 64, 0, 1}, {600, 60, 300, 1, 0}, {5, 7, 3, 1, 1}};
    FnPool *pool = fn_pool_new(2, 50, rt_blas_one_thread);
    uint64_t rng = 11;
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        int m = shapes[i][0], n = shapes[i][1], k = shapes[i][2], ta = shapes[i][3], tb = shapes[i][4];
        float *a = rand_floats((size_t)m * k, &rng), *b = rand_floats((size_t)k * n, &rng);
        float *y = malloc((size_t)m * n * 4), *r = malloc((size_t)m * n * 4);
        cpu_sgemm(pool, ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, 0, y, n);
        ref_matmul_f32(a, b, r, m, n, k, ta, tb);
        CHECK(test_rel_l2(y, r, (size_t)m * n, 4) < 1e-6, "cpu_sgemm %dx%dx%d ta %d tb %d: ref_matmul's product", m, n,
              k, ta, tb);
        free(a), free(b), free(y), free(r);
    }
    float y[6];
    for (int i = 0; i < 6; i++) y[i] = NAN;
    cpu_sgemm(pool, 0, 0, 2, 3, 0, NULL, 1, NULL, 3, 0, y, 3);
    CHECK(y[0] == 0 && y[5] == 0, "cpu_sgemm with k = 0 writes zeros");
    fn_pool_free(pool);
}

int main(void) {
    rt_blas_threads(1); /* as the CPU backend runs: one-threaded sgemms, the pool the parallelism */
    sgemm_cases();
    conv_case(2, 40, 40, 8, 3, 3, 1, 1, 16, 1); /* tiled rows and filter */
    conv_case(3, 17, 17, 5, 3, 3, 2, 0, 7, 0);  /* stride 2, VALID */
    conv_case(2, 9, 9, 4, 1, 7, 1, 1, 6, 0);    /* 1x7 SAME */
    conv_case(4, 20, 20, 16, 1, 1, 1, 0, 8, 0); /* pointwise: tiled filter */
    conv_case(1, 5, 5, 64, 3, 3, 1, 1, 32, 0);  /* small: the reference-shaped paths */
    conv_case(2, 33, 31, 3, 3, 3, 2, 0, 12, 1); /* the stem's shape, odd sizes */
    winograd_case(5, 19, 17, 64, 3, 3, 1, 72); /* SAME, odd sizes, blocks across images */
    winograd_case(3, 10, 9, 72, 3, 3, 0, 64);  /* VALID, a part tile at the edge */
    winograd_case(1, 34, 33, 32, 3, 3, 1, 32); /* a large map with 32 channels */
    winograd_case(6, 8, 8, 64, 1, 7, 1, 64);   /* F(4, 7): block17's 1x7, SAME */
    winograd_case(3, 11, 9, 72, 7, 1, 1, 80);  /* 7x1: a part tile, part vectors */
    winograd_case(2, 9, 13, 64, 1, 7, 0, 96);  /* 1x7 VALID */
    /* direct (1,024 pixels or more): VALID, SAME 64 wide, pointwise, bwd_data three chunks wide, 1x7, 7x1 */
    conv_case(4, 19, 19, 32, 3, 3, 1, 0, 32, 1);
    conv_case(4, 17, 17, 32, 3, 3, 1, 1, 64, 1);
    conv_case(8, 12, 11, 64, 1, 1, 1, 0, 32, 1);
    conv_case(6, 15, 12, 96, 1, 1, 1, 0, 32, 1);
    conv_case(18, 8, 8, 32, 1, 7, 1, 1, 64, 1);
    conv_case(18, 8, 8, 16, 7, 1, 1, 1, 128, 1); /* 7x1, 128 wide: bwd_filter in four chunks */
    { /* outputs 16 past a multiple of 32: the last chunk 16 wide (the stem's 1x1 64 -> 80) */
        RefWindow v;
        ref_window_init(&v, 4, 19, 19, 32, 1, 1, 1, 1, 0, 80);
        for (int isa = FN_ISA_AVX2; isa <= fn_isa_host(); isa++)
            CHECK(cpu_direct_fits(&v, CPU_FWD, isa), "a 1x1 conv 80 wide takes the direct path (%s)", fn_isa_name(isa));
        CHECK(!cpu_direct_fits(&v, CPU_FWD, FN_ISA_BASE), "the baseline has no direct kernels");
        conv_case(4, 19, 19, 32, 1, 1, 1, 0, 80, 1);
        conv_case(3, 22, 22, 28, 3, 3, 1, 0, 48, 1);
    }
    conv_case(2, 11, 11, 32, 3, 3, 2, 1, 48, 1); /* stride 2: tiled */
    direct_isas_case(4, 17, 17, 32, 3, 3, 64);
    direct_isas_case(18, 8, 8, 32, 1, 7, 64);
    pool_case(2, 15, 15, 64, 3, 2, 0);  /* the stem's pool */
    pool_case(3, 9, 8, 300, 3, 2, 1);   /* SAME, channels past one block */
    pool_case(2, 7, 7, 5, 2, 1, 1);
    fusion_properties();
    const RtBinding small[] = {{"N", 3}, {"classes", 3}}, fold[] = {{"N", 4}};
    epilogue_case("tests/models/irv1_small.fn", small, 2);
    epilogue_case("tests/models/fold_cases.fn", fold, 1);
    epilogue_case("tests/models/epilogue_alias.fn", fold, 1);
    const FxCase cases[] = {
        {"tests/models/tiny_mlp.fn", 1, PASS_OPT_SGD, {{"N", 5}}, 1},
        {"tests/models/tiny_conv.fn", 0, PASS_OPT_SGD, {{"N", 3}}, 1},
        {"tests/models/irv1_small.fn", 1, PASS_OPT_ADAM, {{"N", 4}, {"classes", 3}}, 2},
        {"tests/models/assign_order.fn", 1, PASS_OPT_SGD, {{"N", 3}}, 1},
        {"models/mtcnn/pnet.fn", 0, PASS_OPT_SGD, {{"N", 2}, {"H", 31}, {"W", 24}}, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        exec_case(&cases[i], 8, 1e-10);
        exec_case(&cases[i], 4, 1e-3);
    }
    recompute_case(&cases[2]);
    return test_summary("test_cpu_fast");
}
