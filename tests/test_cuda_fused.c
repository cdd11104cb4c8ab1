/* The GPU target's fused kernels (codegen/cuda: cu_emit_fused) and its im2col / col2im, run on the
 * CPU. The module's text is compiled as C++ by the host compiler with a shim that turns CUDA's
 * built-in indices into globals and each thread of a launch into a call; every fused group of
 * the reduced Inception-ResNet-v1 training step (ADAM), the tiny MLP's and PNet's is then
 * launched the way the GPU executor launches it (cu_group_shape and cu_sum_splits, for 132 SMs
 * and for 3) on random operands, and the lanes' partial sums are added up. Outputs and sums must
 * equal a plain evaluation of the group's members node by node (float; sums in double), which
 * shares only ir/pointwise.def's expressions with the emitter; im2col and col2im must equal the
 * reference's. This checks operand layouts, row lengths, bounds and partial sums without a GPU;
 * on a lent one, test_gpu_exec runs the same kernels (bench/gpu/check.sh). Needs a C++ compiler
 * (`c++`); without one it skips (exit 77). */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/driver.h"
#include "codegen/cuda/cuda_emit.h"
#include "codegen/ref/ref.h"
#include "runtime/core/plan.h"
#include "tests/fixtures.h"
#include "tests/hostcuda/mma_shim.h"
#include "tests/testlib.h"

typedef void (*RunFn)(long long n, long long len, long long chunk, long long gx, long long gy, float **p);

static const char shim[] =
    "#include <math.h>\n#include <string.h>\n"
    "struct FnDim3 { unsigned x, y, z; };\n"
    "static FnDim3 blockIdx, threadIdx, blockDim, gridDim;\n"
    "#define __global__\n#define __device__\n#define __forceinline__ inline\n#define __shared__ static\n"
    "static inline void __syncthreads() {}\n"
    "static inline void __threadfence() {}\n"
    "static inline unsigned atomicAdd(unsigned *p, unsigned v) { unsigned o = *p; *p = o + v; return o; }\n"
    "static inline float __int_as_float(int u) { float f; memcpy(&f, &u, sizeof f); return f; }\n"
    "static inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, sizeof f); return f; }\n"
    "static inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, sizeof u); return u; }\n"
    "static inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }\n"
    "static inline float __fmul_rn(float a, float b) { return a * b; }\n"
    "static inline float __fsub_rn(float a, float b) { return a - b; }\n" FN_HOST_MMA_SHIM;

/* run_<kernel>: one call per thread, blocks and threads in order; gy 0: one thread walks the
 * whole grid-stride loop */
static void write_runner(FILE *f, const char *name, int n_slots, int sums) {
    fprintf(f, "extern \"C\" void run_%s(long long n, long long len, long long chunk, long long gx, long long gy, float **p) {\n",
            name);
    char call[8192];
    int at = snprintf(call, sizeof call, "%s(n, len%s", name, sums ? ", chunk" : "");
    for (int s = 0; s < n_slots; s++) at += snprintf(call + at, sizeof call - (size_t)at, ", p[%d]", s);
    /* the group's own finishing of its sums left out (n_fin 0): the partials are checked */
    if (sums) snprintf(call + at, sizeof call - (size_t)at, ", (unsigned *)0, FnSums{}, 0");
    fprintf(f, "    (void)chunk;\n");
    if (sums)
        fprintf(f, "    gridDim = {(unsigned)gx, (unsigned)gy, 1}; blockDim = {32, 8, 1};\n"
                   "    for (unsigned by = 0; by < gy; by++) for (unsigned bx = 0; bx < gx; bx++)\n"
                   "        for (unsigned ty = 0; ty < 8; ty++) for (unsigned tx = 0; tx < 32; tx++) {\n"
                   "            blockIdx = {bx, by, 0}; threadIdx = {tx, ty, 0}; %s);\n"
                   "        }\n}\n",
                call);
    else
        fprintf(f, "    (void)gx; (void)gy;\n    gridDim = {1, 1, 1}; blockDim = {1, 1, 1}; blockIdx = {0, 0, 0}; threadIdx = {0, 0, 0};\n"
                   "    %s);\n}\n",
                call);
}

/* The im2col and col2im kernels (the GPU's convolutions around cuBLAS) against the reference's,
 * on windows of every kind the models use, from the catalogue of every template. */
static const char window_runners[] =
    "extern \"C\" void run_im2col(float *col, const float *x, const void *w) {\n"
    "    gridDim = {1, 1, 1}; blockDim = {1, 1, 1}; blockIdx = {0, 0, 0}; threadIdx = {0, 0, 0};\n"
    "    fn_im2col(col, x, *(const FnWin *)w);\n}\n"
    "extern \"C\" void run_col2im(float *dx, const float *col, const void *w) {\n"
    "    gridDim = {1, 1, 1}; blockDim = {1, 1, 1}; blockIdx = {0, 0, 0}; threadIdx = {0, 0, 0};\n"
    "    fn_col2im(dx, col, *(const FnWin *)w);\n}\n";

static void window_kernels(const char *dir) {
    int n_kernels;
    char *source = cu_emit_catalogue(&n_kernels), path[512], so[512], cmd[1200];
    snprintf(path, sizeof path, "%s/window.cpp", dir);
    snprintf(so, sizeof so, "%s/window.so", dir);
    FILE *f = fopen(path, "w");
    if (!CHECK(f != NULL, "write %s", path)) goto done;
    fprintf(f, "%s%s\n%s", shim, source, window_runners);
    fclose(f);
    snprintf(cmd, sizeof cmd, "c++ -std=c++17 -O1 -w -shared -fPIC -o %s %s", so, path);
    void *lib = system(cmd) == 0 ? dlopen(so, RTLD_NOW | RTLD_LOCAL) : NULL;
    if (!CHECK(lib != NULL, "the window kernels compile and load")) goto done;
    void (*im2col)(float *, const float *, const void *) = (void (*)(float *, const float *, const void *))dlsym(lib, "run_im2col");
    void (*col2im)(float *, const float *, const void *) = (void (*)(float *, const float *, const void *))dlsym(lib, "run_col2im");
    static const struct { int h, w, c, kh, kw, s, same; } cs[] = {
        {7, 7, 3, 3, 3, 2, 0}, {6, 6, 2, 3, 3, 1, 1}, {5, 6, 2, 1, 7, 1, 1}, {6, 5, 2, 7, 1, 1, 1},
        {8, 8, 2, 3, 3, 2, 1}, {9, 7, 4, 3, 3, 1, 0}, {5, 5, 3, 1, 1, 2, 0}};
    int bad = 0, n_cases = 0;
    uint64_t rng = 3;
    for (size_t k = 0; im2col && col2im && k < sizeof cs / sizeof cs[0]; k++, n_cases++) {
        RefWindow w;
        ref_window_init(&w, 2, cs[k].h, cs[k].w, cs[k].c, cs[k].kh, cs[k].kw, cs[k].s, cs[k].s, cs[k].same, 4);
        size_t nx = (size_t)w.n * w.h * w.w * w.c, ncol = ref_conv_scratch(&w);
        int64_t pixels = (int64_t)w.oh * w.ow;
        float *x = malloc(nx * sizeof *x), *col = malloc(ncol * sizeof *col), *want = malloc(ncol * sizeof *want);
        float *dx = malloc(nx * sizeof *dx), *dx_want = calloc(nx, sizeof *dx_want);
        for (size_t i = 0; i < nx; i++) x[i] = (float)(2 * test_rng_uniform(&rng) - 1);
        for (size_t i = 0; i < ncol; i++) col[i] = NAN;
        size_t row_len = ncol / (size_t)(w.n * pixels);
        for (int b = 0; b < w.n; b++) ref_im2col_rows_f32(x, want + (size_t)b * pixels * row_len, &w, b, 0, pixels);
        CuWin cw = cu_win(&w);
        im2col(col, x, &cw);
        for (size_t i = 0; i < ncol; i++) bad += !(col[i] == want[i]);
        for (size_t i = 0; i < nx; i++) dx[i] = NAN;
        for (int b = 0; b < w.n; b++) ref_col2im_rows_f32(want + (size_t)b * pixels * row_len, dx_want, &w, b, 0, pixels);
        col2im(dx, want, &cw);
        for (size_t i = 0; i < nx; i++) bad += !(fabsf(dx[i] - dx_want[i]) <= 1e-6f * (1 + fabsf(dx_want[i])));
        free(x), free(col), free(want), free(dx), free(dx_want);
    }
    printf("  im2col / col2im              %d windows against the reference: %d values wrong\n", n_cases, bad);
    CHECK(n_cases > 0 && bad == 0, "the GPU's im2col and col2im kernels equal the reference's");
    dlclose(lib);
done:
    free(source);
}

/* the oracle: one pointwise op in float, as ir/pointwise.def defines it for every backend (the
 * emitter's text is that table's too: what this test checks is the kernels' layouts, row
 * lengths, bounds and sums around the expressions) */
#define real float
#define SFX(name) name##_oracle
#include "ir/pointwise.h"

static float eval_op(IrOp op, float a, float b, float s) {
    switch (op) {
#define IR_PW1(e, expr) case IR_OP_##e: return SFX(pw_##e)(a, s, (double)s);
#define IR_PW2(e, expr) case IR_OP_##e: return SFX(pw_##e)(a, b);
#include "ir/pointwise.def"
#undef IR_PW1
#undef IR_PW2
    case IR_OP_BCAST: return SFX(pw_SCALE)(a, s, (double)s);
    default: return NAN;
    }
}
#undef SFX
#undef real

static int same(float a, float b) { return (isnan(a) && isnan(b)) || a == b || fabsf(a - b) <= 1e-6f * fabsf(b); }

typedef struct {
    int groups, sum_groups, values, nan_values, bad;
} Tally;

/* group gi through its kernel, at sm_count SMs, against the oracle */
static void check_group(const IrGraph *g, const RtPlan *p, const CuModule *m, int gi, RunFn run, int sm_count,
                        uint64_t *rng, Tally *ty) {
    const PassFusion *f = &p->fusion;
    const CuGroup *cg = &m->groups[gi];
    const PassFuseLayout *lay = &cg->lay;
    const int64_t *numel = p->numel;
    const IrId *mem = f->members + f->start[gi];
    const int nm = f->start[gi + 1] - f->start[gi];
    const int64_t n = numel[pass_fuse_domain(g, f, gi)];
    int64_t cols = 0, rows = 0, splits = 0, chunk = 0, per_sum = 0;
    if (cg->sums) {
        cu_group_shape(sm_count, &cg->lay, n, &cols, &rows, &splits, &chunk);
        per_sum = splits * 8 * cols;
    }
    float *buf[PASS_MAX_SLOTS];
    for (int s = 0; s < lay->n_slots; s++) {
        int kind = lay->slot_kind[s];
        int64_t cnt = kind == PASS_SLOT_SUM ? per_sum : kind == PASS_SLOT_SCALAR ? 1 : numel[lay->slot_node[s]];
        buf[s] = malloc((size_t)(cnt ? cnt : 1) * sizeof(float));
        for (int64_t i = 0; i < cnt; i++)
            buf[s][i] = kind == PASS_SLOT_OUT || kind == PASS_SLOT_SUM ? NAN : (float)(2 * test_rng_uniform(rng) - 1);
    }
    /* the oracle, member by member over the whole domain */
    float **val = calloc((size_t)nm, sizeof *val);
    double **sum = calloc((size_t)nm, sizeof *sum), **sum_abs = calloc((size_t)nm, sizeof *sum_abs);
    for (int k = 0; k < nm; k++) {
        const IrNode *nd = &g->nodes[mem[k]];
        const float *src[2] = {NULL, NULL};
        int64_t len[2] = {0, 0};
        for (int q = 0; q < nd->n_in && q < 2; q++) {
            IrId x = nd->in[q];
            if (f->group_of[x] == gi) {
                int kk = 0;
                while (mem[kk] != x) kk++;
                src[q] = val[kk];
                len[q] = n;
            } else {
                int sl = pass_fuse_slot(lay, x, 0);
                src[q] = buf[sl];
                len[q] = lay->slot_kind[sl] == PASS_SLOT_SCALAR ? 1 : numel[x];
            }
        }
        if (nd->op == IR_OP_SUM) {
            int64_t ny = numel[mem[k]];
            sum[k] = calloc((size_t)ny, sizeof **sum);
            sum_abs[k] = calloc((size_t)ny, sizeof **sum_abs);
            for (int64_t i = 0; i < n; i++) {
                float v = src[0][i % len[0]];
                sum[k][i % ny] += v;
                sum_abs[k][i % ny] += fabs(v);
            }
            if (nd->attr.u.reduce.mean)
                for (int64_t j = 0; j < ny; j++) sum[k][j] /= (double)(n / ny);
            continue;
        }
        float s = (float)nd->attr.u.scalar.f;
        if (nd->op == IR_OP_BCAST) s = nd->attr.u.reduce.mean ? (float)numel[nd->in[0]] / (float)numel[mem[k]] : 1;
        val[k] = malloc((size_t)n * sizeof(float));
        for (int64_t i = 0; i < n; i++)
            val[k][i] = eval_op(nd->op, src[0][i % len[0]], src[1] ? src[1][i % len[1]] : 0, s);
    }
    /* the kernel, launched as gpu_exec.c launches it */
    if (cg->sums) run(n, cols, chunk, (cols + 31) / 32, splits, buf);
    else run(n, lay->inner > 0 ? lay->inner : 1, 0, 0, 0, buf);
    for (int k = 0; k < nm; k++) {
        IrId id = mem[k];
        int sl = pass_fuse_slot(lay, id, 1);
        if (sl < 0) continue;
        if (g->nodes[id].op == IR_OP_SUM) {
            int64_t ny = numel[id], kk = per_sum / ny;
            for (int64_t j = 0; j < ny; j++) {
                double got = 0;
                for (int64_t q = 0; q < kk; q++) got += buf[sl][q * ny + j];
                if (g->nodes[id].attr.u.reduce.mean) got /= (double)(n / ny);
                double tol = 1e-5 * sum_abs[k][j] / (g->nodes[id].attr.u.reduce.mean ? (double)(n / ny) : 1) + 1e-30;
                ty->values++;
                if (!(fabs(got - sum[k][j]) <= tol) && !(isnan(got) && isnan(sum[k][j]))) {
                    if (ty->bad++ < 5)
                        printf("  group %d (sum %%%d) at %d SMs: [%lld] %.9g, want %.9g\n", gi, (int)id, sm_count,
                               (long long)j, got, sum[k][j]);
                }
            }
            continue;
        }
        for (int64_t i = 0; i < n; i++) {
            ty->values++;
            ty->nan_values += isnan(val[k][i]);
            if (!same(buf[sl][i], val[k][i]) && ty->bad++ < 5)
                printf("  group %d (%s %%%d) at %d SMs: [%lld] %.9g, want %.9g\n", gi, ir_op_info[g->nodes[id].op].name,
                       (int)id, sm_count, (long long)i, buf[sl][i], val[k][i]);
        }
    }
    for (int k = 0; k < nm; k++) {
        free(val[k]);
        free(sum[k]);
        free(sum_abs[k]);
    }
    free(val);
    free(sum);
    free(sum_abs);
    for (int s = 0; s < lay->n_slots; s++) free(buf[s]);
}

static void run_case(const FxCase *c, int idx, const char *dir) {
    IrGraph *g = fx_build_one_process(c);
    if (!CHECK(g != NULL, "%s builds", c->model)) return;
    int64_t *sym = calloc((size_t)g->n_syms + 1, sizeof *sym);
    RtStatus st;
    RtPlan p = {0};
    CuModule m = {0};
    char path[512], so[512], cmd[1600];
    void *lib = NULL;
    if (!CHECK(rt_bind_syms(g, c->b, c->nb, sym, &st) == 0 &&
                   rt_plan_build(&p, g, sym, NULL, 0, c->training, 4, RT_PLAN_FUSE, &st) == 0,
               "%s: plan: %s", c->model, st.msg))
        goto done;
    if (!CHECK(cu_emit_fused(g, &p.fusion, p.numel, NULL, NULL, &m, &st) == 0, "%s: fused module: %s", c->model, st.msg))
        goto done;
    snprintf(path, sizeof path, "%s/module.cpp", dir);
    snprintf(so, sizeof so, "%s/module_%d.so", dir, idx);
    FILE *f = fopen(path, "w");
    if (!CHECK(f != NULL, "write %s", path)) goto done;
    fprintf(f, "%s%s\n", shim, m.source);
    char *written = calloc((size_t)m.n_names + 1, 1);
    for (int gi = 0; gi < m.n_groups; gi++) {
        const CuGroup *cg = &m.groups[gi];
        if (written[cg->kernel]) continue;
        written[cg->kernel] = 1;
        write_runner(f, m.names[cg->kernel], cg->lay.n_slots, cg->sums);
    }
    free(written);
    fclose(f);
    snprintf(cmd, sizeof cmd, "c++ -std=c++17 -O1 -w -shared -fPIC -o %s %s", so, path);
    if (!CHECK(system(cmd) == 0, "%s: the host compiler takes the module (%s)", c->model, cmd)) goto done;
    lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!CHECK(lib != NULL, "dlopen %s: %s", so, dlerror())) goto done;
    Tally ty = {0};
    uint64_t rng = 7;
    for (int gi = 0; gi < m.n_groups; gi++) {
        char name[80];
        snprintf(name, sizeof name, "run_%s", m.names[m.groups[gi].kernel]);
        RunFn run = (RunFn)dlsym(lib, name);
        if (!CHECK(run != NULL, "%s: %s", c->model, name)) break;
        check_group(g, &p, &m, gi, run, 132, &rng, &ty);
        if (m.groups[gi].sums) check_group(g, &p, &m, gi, run, 3, &rng, &ty);
        ty.groups++;
        ty.sum_groups += m.groups[gi].sums > 0;
    }
    printf("  %-28s %d groups (%d with sums) through %d kernels: %d values, %d of them NaN in the oracle, %d wrong\n",
           c->model, ty.groups, ty.sum_groups, m.n_names, ty.values, ty.nan_values, ty.bad);
    CHECK(ty.groups > 0 && ty.bad == 0, "%s: the fused kernels compute their groups", c->model);
    CHECK(ty.nan_values < ty.values / 2, "%s: most compared values are numbers", c->model);
done:
    if (lib) dlclose(lib);
    cu_module_free(&m);
    rt_plan_free(&p);
    free(sym);
    ir_graph_free(g);
}

int main(void) {
    if (system("c++ --version >/dev/null 2>&1") != 0) {
        printf("  no C++ compiler (c++) here: skipped\n");
        return 77;
    }
    char dir[] = "/tmp/fn_cuda_fused_XXXXXX";
    if (!CHECK(mkdtemp(dir) != NULL, "a scratch folder")) return test_summary("test_cuda_fused");
    const FxCase cases[] = {
        {"tests/models/tiny_mlp.fn", 1, PASS_OPT_SGD, {{"N", 5}}, 1},
        {"tests/models/irv1_small.fn", 1, PASS_OPT_ADAM, {{"N", 4}, {"classes", 3}}, 2},
        {"models/mtcnn/pnet.fn", 0, PASS_OPT_SGD, {{"N", 2}, {"H", 31}, {"W", 24}}, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], (int)i, dir);
    window_kernels(dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("  could not remove %s\n", dir);
    return test_summary("test_cuda_fused");
}
