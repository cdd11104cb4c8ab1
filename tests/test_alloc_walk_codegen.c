/* The allocation-failure walk of what writes code and artifacts (test_alloc_walk.c walks the
 * artifact reader and the training step, test_alloc_walk_io.c the other readers and writers):
 * an artifact saved (the tiny classifier's graphs); the CUDA module's source for the tiny
 * convolutional network's training graph, unfused, fused and fused with bfloat16 values
 * (codegen/cuda/cuda_emit.c: text only, no GPU); the LLVM kernels' text for its fused groups and,
 * where the build has LLVM, their compilation by the JIT (runtime/cpu/jit.c, codegen/llvm); and a
 * module compiled through NVRTC and the kernel cache, a miss then a hit, where the host emulation
 * of NVRTC (tests/hostcuda, $FN_BIN/libfn_hostcuda.so) is built.
 * Each phase runs with allocation number k failing (ir/alloc.h's test hook), for k = 1, 2, ...
 * until a run makes fewer than k allocations: every failure must come back as a clean error (-1
 * and a message), never a crash; the run past the last allocation must give what a run without
 * failures gives (the same bytes: the phases digest the file, text or cubin they make). A failed
 * save must leave neither the artifact nor its temporary file behind. Under the ASan build,
 * LeakSanitizer finds what a failure path forgot to free. The walk itself: tests/alloc_walk.c.
 * What this is not: a test of the emitted code (test_cuda_codegen, test_cuda_fused,
 * test_llvm_codegen, the golden files). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/driver.h"
#include "codegen/cuda/cuda_emit.h"
#include "codegen/cuda/nvrtc.h"
#include "runtime/core/artifact.h"
#include "runtime/cpu/jit.h"
#include "runtime/gpu/gpu_exec.h"
#include "tests/alloc_walk.h"
#include "tests/fixtures.h"
#include "tests/testlib.h"

static char dir[] = "/tmp/fn_alloc_walk_codegen_XXXXXX";

/* Each phase is an AwRun (tests/alloc_walk.h), walked at every allocation: 0 with res->value (a
 * digest of what it made), or -1 with st filled. Frees all it made. */

/* FNV-1a of n bytes, as a double that keeps its 53 low bits */
static double digest(const void *data, size_t n) {
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return (double)(h & ((1ULL << 53) - 1));
}

/* ---- the artifact writer ---------------------------------------------------------------------- */

typedef struct {
    RtArtifact art;
    char path[600];
    int leftovers; /* failed saves that left a file behind */
} Save;

/* whether dir holds anything but the entries of a fresh walk (the artifact or its temporary) */
static int dir_has_save(void) {
    DIR *d = opendir(dir);
    int found = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        found |= !strncmp(e->d_name, "walk.fnc", 8);
    if (d) closedir(d);
    return found;
}

static int save_phase(void *ctx, AwResult *res, RtStatus *st) {
    Save *s = ctx;
    unlink(s->path);
    int rc = rt_artifact_save(s->path, s->art.source, s->art.graphs, (const char *const *)s->art.names, s->art.n, st);
    if (rc < 0) {
        s->leftovers += dir_has_save();
        return -1;
    }
    char *bytes = NULL;
    FILE *f = fopen(s->path, "rb");
    long n = f && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && (bytes = malloc((size_t)n)) && fread(bytes, 1, (size_t)n, f) == (size_t)n)
        res->value = digest(bytes, (size_t)n) + (double)n;
    else
        rc = rt_fail(st, "cannot read back %s", s->path);
    if (f) fclose(f);
    free(bytes);
    unlink(s->path);
    return rc;
}

/* ---- the CUDA emitter ------------------------------------------------------------------------- */

typedef struct {
    const IrGraph *g;
    RtPlan *fused; /* NULL: the unfused module */
} Emit;

static double module_digest(const CuModule *m) {
    double s = digest(m->source, strlen(m->source)) + m->n_names * 1e3 + m->n_plan + m->n_groups * 1e-3;
    for (int i = 0; i < m->n_plan; i++) s += m->plan[i].work * (i % 13) + m->plan[i].n_kernels * 1e-2;
    for (int i = 0; i < m->n_names; i++) s += digest(m->names[i], strlen(m->names[i])) * 1e-9;
    return s;
}

static int cuda_phase(void *ctx, AwResult *res, RtStatus *st) {
    const Emit *e = ctx;
    CuModule m;
    int rc = e->fused ? cu_emit_fused(e->g, &e->fused->fusion, e->fused->numel, e->fused->esize, NULL, &m, st)
                      : cu_emit_graph(e->g, &m, st);
    if (rc < 0) return -1;
    res->value = module_digest(&m);
    cu_module_free(&m);
    return 0;
}

/* ---- the LLVM kernels ------------------------------------------------------------------------- */

typedef struct {
    const RtPlan *p;
    int compile;
} Llvm;

static int llvm_phase(void *ctx, AwResult *res, RtStatus *st) {
    const Llvm *l = ctx;
    RtJit j;
    if (rt_jit_build(&j, l->p, 4, l->compile, NULL, st) < 0) return -1;
    int rc = 0;
    if (!j.text || (l->compile && (!j.jit || !j.fns))) rc = rt_fail(st, "no module text or no compiled kernels");
    else res->value = digest(j.text, strlen(j.text)) + j.n_kernels * 1e3;
    for (int k = 0; rc == 0 && l->compile && k < j.n_kernels; k++)
        if (!j.fns[k]) rc = rt_fail(st, "kernel %d was not compiled", k);
    rt_jit_free(&j);
    return rc;
}

/* ---- NVRTC through the kernel cache (the host emulation) -------------------------------------- */

typedef struct {
    const char *src, *lib;
    char cache[600];
} Nvrtc;

static void empty_cache(const char *cache) {
    DIR *d = opendir(cache);
    char p[1200];
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", cache, e->d_name);
            unlink(p);
        }
    if (d) closedir(d);
}

/* a miss (compiled, then written to the cache), then a hit; both cubins digested */
static int nvrtc_phase(void *ctx, AwResult *res, RtStatus *st) {
    const Nvrtc *c = ctx;
    empty_cache(c->cache);
    res->value = 0;
    for (int pass = 0; pass < 2; pass++) {
        void *cubin = NULL;
        size_t n = 0;
        char *log = NULL;
        int hit = 0;
        int rc = cu_compile_cached(c->src, "sm_90", c->cache, c->lib, &cubin, &n, &hit, &log, st);
        if (rc == 0 && hit != pass) rc = rt_fail(st, "the kernel cache %s on pass %d", hit ? "hit" : "missed", pass);
        if (rc == 0) res->value += digest(cubin, n) * (pass + 1) + (double)hit;
        free(cubin);
        free(log);
        if (rc < 0) return -1;
    }
    return 0;
}

/* ---- the walk --------------------------------------------------------------------------------- */

static int64_t total_allocs;
static AwSites all_sites; /* the distinct call sites of every phase */

static void walk(const char *name, AwRun run, void *ctx) {
    total_allocs += aw_walk(&(AwCase){name, 36, run, ctx, .all = &all_sites}, NULL).failed;
}

/* the tiny convolutional network's training graph (ADAM) planned fused at N = 3; half: with
 * the GPU's bfloat16 values. 0, or -1. */
static int plan_conv(const IrGraph *g, int half, RtPlan *p) {
    const RtBinding b[] = {{"N", 3}};
    int64_t sym[64] = {0};
    RtStatus st;
    int rc = g->n_syms < 64 && rt_bind_syms(g, b, 1, sym, &st) == 0 ? 0 : -1;
    if (rc == 0) rc = rt_plan_values(p, g, sym, NULL, 0, 1, 4, RT_PLAN_FUSE, &st);
    if (rc == 0 && half) rt_gpu_half_values(p);
    if (rc == 0) rc = rt_plan_memory(p, RT_PLAN_FUSE, &st);
    return CHECK(rc == 0, "tiny_conv plans (half %d): %s", half, st.msg) ? 0 : -1;
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    Save save = {0};
    char artifact[600];
    RtStatus st;
    snprintf(artifact, sizeof artifact, "%s/model.fnc", dir);
    snprintf(save.path, sizeof save.path, "%s/walk.fnc", dir);
    int have_art = CHECK(fx_compile("tests/models/tiny_mlp.fn", artifact) == 0, "tiny_mlp compiles") &&
                   CHECK(rt_artifact_load(artifact, &save.art, &st) == 0, "the artifact loads: %s", st.msg);
    unlink(artifact);
    if (have_art) {
        walk("artifact save (tiny_mlp)", save_phase, &save);
        CHECK(save.leftovers == 0, "no failed save leaves a file behind (%d did)", save.leftovers);
    }

    PassCtx pc = {0};
    pc.optimizer = PASS_OPT_ADAM;
    IrGraph *g = drv_build("tests/models/tiny_conv.fn", NULL, 0, 1, &pc, stderr);
    if (g && pass_replicas(&g, 0) < 0) ir_graph_free(g), g = NULL; /* as one process binds it */
    RtPlan p, ph;
    int have_p = 0, have_ph = 0;
    if (CHECK(g != NULL, "tiny_conv builds")) {
        have_p = plan_conv(g, 0, &p) == 0;
        have_ph = plan_conv(g, 1, &ph) == 0;
        walk("CUDA source, unfused (tiny_conv)", cuda_phase, &(Emit){g, NULL});
        if (have_p) walk("CUDA source, fused (tiny_conv)", cuda_phase, &(Emit){g, &p});
        if (have_ph) walk("CUDA source, fused bfloat16", cuda_phase, &(Emit){g, &ph});
        if (have_p) walk("LLVM kernels' text (tiny_conv)", llvm_phase, &(Llvm){&p, 0});
        if (have_p && ll_jit_available()) walk("LLVM kernels compiled (tiny_conv)", llvm_phase, &(Llvm){&p, 1});
        else printf("  LLVM JIT: not in this build, not walked\n");
    }

    const char *bin = getenv("FN_BIN");
    char lib[600];
    snprintf(lib, sizeof lib, "%s/libfn_hostcuda.so", bin ? bin : "build");
    if (g && access(lib, R_OK) == 0) {
        CuModule m;
        FnStatus fs;
        if (CHECK(cu_emit_graph(g, &m, &fs) == 0, "the module for NVRTC: %s", fs.msg)) {
            Nvrtc n = {m.source, lib, ""};
            snprintf(n.cache, sizeof n.cache, "%s/kernels", dir);
            mkdir(n.cache, 0777);
            walk("NVRTC and the kernel cache (emulated)", nvrtc_phase, &n);
            empty_cache(n.cache);
            rmdir(n.cache);
            cu_module_free(&m);
        }
    } else {
        printf("  NVRTC: no host emulation at %s, not walked\n", lib);
    }
    printf("  in all: %lld allocations made to fail, from %d call sites\n", (long long)total_allocs, all_sites.n);

    if (have_p) rt_plan_free(&p);
    if (have_ph) rt_plan_free(&ph);
    ir_graph_free(g);
    rt_artifact_free(&save.art);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    return test_summary("test_alloc_walk_codegen");
}
