/* The CUDA target's code generator (codegen/cuda): golden CUDA text for two small graphs with a
 * kernel per op and for one fused (byte-identical across runs), and NVRTC compiling for sm_90
 * every kernel of the Inception-ResNet-v1 training step (fused and per op) and eval graph and
 * every template, with no errors and no warnings; the on-disk kernel cache. NVRTC is opened at
 * run time; without it the compile checks are skipped.
 * After an intended change to the templates: FN_UPDATE_GOLDEN=1 rewrites tests/golden/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/driver.h"
#include "codegen/cuda/cuda_emit.h"
#include "codegen/cuda/nvrtc.h"
#include "tests/testlib.h"

static IrGraph *build(const char *model, int training, PassOptimizer opt) {
    PassCtx ctx = {0};
    ctx.optimizer = opt;
    return drv_build(model, NULL, 0, training, &ctx, stderr);
}

static int nvrtc_ok = 1; /* cleared when NVRTC is absent */

/* compiles src for sm_90; 1 if clean, 0 if errors or warnings, -1 if NVRTC is absent */
static int compile(const char *what, const char *src) {
    void *cubin;
    size_t n;
    char *log;
    FnStatus st = {""};
    int rc = cu_nvrtc_compile(src, "test.cu", "sm_90", NULL, &cubin, &n, &log, &st);
    if (rc == -2) {
        printf("  %s: not compiled (%s)\n", what, st.msg);
        nvrtc_ok = 0;
        return -1;
    }
    int clean = rc == 0 && (!log || !log[0]);
    if (!clean) printf("  %s: %s\n%s\n", what, st.msg, log ? log : "");
    else printf("  %s: compiled for sm_90 by NVRTC, %zu-byte cubin, no warnings\n", what, n);
    free(cubin);
    free(log);
    return clean;
}

static void golden(const char *model, int training, int fused, const char *file) {
    IrGraph *g = build(model, training, PASS_OPT_SGD);
    CuModule a, b;
    char path[256];
    FnStatus st;
    if (!CHECK(g && drv_cuda_module(&g, training, fused, 5, &a, NULL, &st) == 0, "%s: %s", model, st.msg)) return;
    CHECK(drv_cuda_module(&g, training, fused, 5, &b, NULL, &st) == 0 && !strcmp(a.source, b.source), "%s: the same text twice",
          model);
    snprintf(path, sizeof path, "tests/golden/%s", file);
    if (getenv("FN_UPDATE_GOLDEN")) {
        FILE *f = fopen(path, "w");
        if (f) {
            fputs(a.source, f);
            fclose(f);
        }
        printf("  wrote %s\n", path);
    }
    char *want = test_read_file(path);
    int same = want && !strcmp(want, a.source);
    if (!same) {
        char got[300];
        snprintf(got, sizeof got, "/tmp/%s.got", file);
        FILE *f = fopen(got, "w");
        if (f) {
            fputs(a.source, f);
            fclose(f);
        }
        printf("  %s differs from %s: see %s (FN_UPDATE_GOLDEN=1 after an intended change)\n", model, path, got);
    }
    CHECK(same, "%s %s graph: golden CUDA text %s", model, training ? "train" : "eval", path);
    if (nvrtc_ok) CHECK(compile(file, a.source) != 0, "%s compiles cleanly", file);
    free(want);
    cu_module_free(&a);
    cu_module_free(&b);
    ir_graph_free(g);
}

/* cu_div's constants against the division, as fn_udiv computes it on the card: every divisor
 * to 4,100 and 2,000 more up to 2^31 - 1, each at 0, small dividends, the multiples of the divisor
 * and their neighbours, and the largest dividends */
static unsigned host_udiv(unsigned n, CuDiv v) {
    return (unsigned)((((uint64_t)n * v.m >> 32) + n) >> v.l);
}

static void division_constants(void) {
    uint64_t seed = 0x9e3779b97f4a7c15ULL, checked = 0, wrong = 0;
    for (int k = 0; k < 6100; k++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned d = k < 4100 ? (unsigned)k + 1 : (unsigned)(seed >> 33) % 0x7fffffffu + 1;
        CuDiv v = cu_div(d);
        for (int j = 0; j < 300; j++) {
            uint64_t r = seed ^ ((uint64_t)j * 0xbf58476d1ce4e5b9ULL);
            unsigned n = j < 100   ? (unsigned)j
                         : j < 200 ? (unsigned)(((uint64_t)(r >> 40) % (0x7fffffffu / d + 1)) * d + (j % 3) - 1)
                         : j < 250 ? 0x7fffffffu - (unsigned)(j - 200)
                                   : (unsigned)(r >> 33);
            if (n > 0x7fffffffu) continue;
            checked++;
            wrong += host_udiv(n, v) != n / d;
        }
    }
    CHECK(wrong == 0, "cu_div: %llu of %llu quotients wrong", (unsigned long long)wrong, (unsigned long long)checked);
    if (!wrong) printf("  cu_div: %llu quotients by 6,100 divisors equal the division\n", (unsigned long long)checked);
}

int main(void) {
    division_constants();
    int major = 0, minor = 0;
    if (cu_nvrtc_version(NULL, &major, &minor) == 0) printf("  NVRTC %d.%d\n", major, minor);
    else nvrtc_ok = 0;

    golden("tests/models/tiny_mlp.fn", 1, 0, "tiny_mlp.train.cu");
    golden("tests/models/tiny_conv.fn", 0, 0, "tiny_conv.eval.cu");
    golden("tests/models/tiny_mlp.fn", 1, 1, "tiny_mlp.train.fused.cu");

    /* Inception-ResNet-v1: the training step (ADAM, as the seed page), also with its activations in
       bfloat16 (FN_GPU_BF16=act: typed groups and kernel variants), and the eval graph */
    static const struct {
        int training, fused;
        PassOptimizer opt;
        const char *what;
    } graphs[] = {{1, 1, PASS_OPT_ADAM, "Inception-ResNet-v1 train/ADAM, fused"},
                  {1, 2, PASS_OPT_ADAM, "Inception-ResNet-v1 train/ADAM, fused, bfloat16 activations"},
                  {1, 0, PASS_OPT_ADAM, "Inception-ResNet-v1 train/ADAM, kernel per op"},
                  {0, 1, PASS_OPT_ADAM, "Inception-ResNet-v1 eval, fused"}};
    for (size_t k = 0; k < sizeof graphs / sizeof graphs[0]; k++) {
        IrGraph *g = build("models/inception_resnet_v1.fn", graphs[k].training, graphs[k].opt);
        CuModule m;
        FnStatus st;
        int half = 0;
        if (!CHECK(g && drv_cuda_module(&g, graphs[k].training, graphs[k].fused, 90, &m, &half, &st) == 0,
                   "%s: %s", graphs[k].what, st.msg)) {
            ir_graph_free(g);
            continue;
        }
        int launches, gemms, uncovered = 0;
        cu_module_counts(g, &m, &launches, &gemms);
        for (int i = 0; i < m.n_plan; i++) uncovered += m.plan[i].work == CU_KERNELS && m.plan[i].n_kernels == 0;
        printf("  %s: %d nodes -> %d distinct kernels, %d launches + %d GEMMs per step", graphs[k].what, g->n_nodes,
               m.n_names, launches, gemms);
        printf(graphs[k].fused == 2 ? ", %d values in bfloat16\n" : "\n", half);
        if (graphs[k].fused == 2) CHECK(half > 500, "%s: %d values in bfloat16", graphs[k].what, half);
        CHECK(uncovered == 0 && m.n_names > 10, "%s: every node has its kernels", graphs[k].what);
        if (nvrtc_ok) CHECK(compile(graphs[k].what, m.source) != 0, "%s: every kernel compiles cleanly", graphs[k].what);
        cu_module_free(&m);
        ir_graph_free(g);
    }
    int n_all = 0;
    char *all = cu_emit_catalogue(&n_all);
    char what[64];
    snprintf(what, sizeof what, "all %d kernel templates", n_all);
    if (nvrtc_ok) CHECK(compile(what, all) != 0, "every kernel the emitter can write compiles cleanly");
    free(all);
    if (nvrtc_ok) { /* the kernel cache: a miss, then a hit with the same bytes; a damaged entry recompiles */
        char dir[] = "/tmp/fn_kcache_XXXXXX";
        if (CHECK(mkdtemp(dir) != NULL, "temp dir")) {
            const char *src = "extern \"C\" __global__ void k(float *y) { y[threadIdx.x] = 1.f; }\n";
            void *c1, *c2, *c3;
            size_t n1, n2, n3;
            int h1, h2, h3;
            char *l1, *l2, *l3;
            FnStatus st;
            int r1 = cu_compile_cached(src, "sm_90", dir, NULL, &c1, &n1, &h1, &l1, &st);
            int r2 = cu_compile_cached(src, "sm_90", dir, NULL, &c2, &n2, &h2, &l2, &st);
            CHECK(r1 == 0 && r2 == 0 && !h1 && h2 && n1 == n2 && !memcmp(c1, c2, n1), "kernel cache: miss, then hit (%zu bytes)", n1);
            char cmd[300];
            snprintf(cmd, sizeof cmd, "for f in %s/*.cubin; do head -c 20 \"$f\" > \"$f.x\" && mv \"$f.x\" \"$f\"; done", dir);
            int sys = system(cmd);
            int r3 = cu_compile_cached(src, "sm_90", dir, NULL, &c3, &n3, &h3, &l3, &st);
            CHECK(sys == 0 && r3 == 0 && !h3 && n3 == n1, "a truncated cache entry is recompiled");
            free(c1), free(c2), free(c3), free(l1), free(l2), free(l3);
            snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
            if (system(cmd) != 0) printf("  could not remove %s\n", dir);
        }
    }
    if (!nvrtc_ok) printf("  NVRTC absent: the golden checks ran, the compile checks did not\n");
    return test_summary("test_cuda_codegen");
}
