/* See options.h. */
#include "cli/options.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/cpu/cpu_exec.h"
#include "runtime/dist/dist.h"
#include "runtime/gpu/gpu_exec.h"
#include "ir/pool.h"

static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int is0(const char *name) {
    const char *v = env(name);
    return v && !strcmp(v, "0");
}

static void gpu_from_env(RtOptions *o) {
    const char *v;
    o->gpu_tf32 = !is0("FN_GPU_TF32");
    if ((v = env("FN_GPU_BF16"))) {
        int k = !strcmp(v, "0") ? 0 : !strcmp(v, "1") ? 1 : !strcmp(v, "columns") ? 2 : !strcmp(v, "act") ? 3 : -1;
        if (k >= 0) o->gpu_bf16 = k;
        else fprintf(stderr, "fn: FN_GPU_BF16=%s: one of 0, 1, columns, act (using act)\n", v);
    }
    if ((v = env("FN_GPU_STREAMS"))) o->gpu_streams = atoi(v);
    if ((v = env("FN_GPU_IMPLICIT"))) o->gpu_implicit = atoi(v);
    if ((v = env("FN_GPU_COL_MB"))) o->gpu_col_mb = atof(v);
    if ((v = env("FN_GPU_PLAN_SLACK"))) o->gpu_plan_slack = atoi(v);
    o->gpu_round_once = !is0("FN_GPU_ROUND_ONCE");
    o->cuda_graph = !is0("FN_CUDA_GRAPH");
    o->gpu_views = !is0("FN_GPU_VIEWS");
    o->gpu_tails = !is0("FN_GPU_TAILS");
    o->cuda_emulator = env("FN_CUDA_EMULATOR");
    o->nccl_library = env("FN_NCCL_LIBRARY");
    if ((v = env("FN_BUCKET_MB"))) {
        double mb = atof(v);
        if (mb >= 0 && mb <= 1 << 20) o->bucket_mb = mb;
        else fprintf(stderr, "fn: FN_BUCKET_MB=%s: 0 to %d (using %g)\n", v, 1 << 20, o->bucket_mb);
    }
    const char *cache = env("FN_KERNEL_CACHE"), *xdg = env("XDG_CACHE_HOME"), *home = env("HOME");
    if (cache) snprintf(o->kernel_cache, sizeof o->kernel_cache, "%s", cache);
    else if (xdg) snprintf(o->kernel_cache, sizeof o->kernel_cache, "%s/fn/kernels", xdg);
    else snprintf(o->kernel_cache, sizeof o->kernel_cache, "%s/.cache/fn/kernels", home ? home : "/tmp");
}

void cli_options_from_env(RtOptions *o) {
    rt_options_defaults(o);
    const char *v;
    o->fuse = !is0("FN_FUSE");
    o->profile = env("FN_PROFILE") && !is0("FN_PROFILE");
    o->profile_timeline = env("FN_PROFILE_TIMELINE");
    if ((v = env("FN_LLVM"))) o->llvm = !strcmp(v, "0") ? 0 : !strcmp(v, "1") ? 1 : -1;
    o->conv_winograd = !((v = env("FN_WINOGRAD")) && v[0] == '0');
    o->conv_direct = !((v = env("FN_DIRECT")) && v[0] == '0');
    o->conv_epilogue = !((v = env("FN_EPILOGUE")) && v[0] == '0');
    if ((v = env("FN_THREADS"))) o->threads = atoi(v);
    if ((v = env("FN_SPIN_US"))) o->spin_us = atoi(v);
    if ((v = env("FN_CPU_ISA"))) {
        o->cpu_isa = fn_isa_parse(v) >= 0 ? fn_isa_parse(v) : FN_ISA_AUTO;
        if (fn_isa_parse(v) < 0) fprintf(stderr, "fn: FN_CPU_ISA=%s: one of auto, base, avx2, avx512 (using auto)\n", v);
    }
    o->dump_llvm = env("FN_DUMP_LLVM");
    o->dump_asm = env("FN_DUMP_ASM");
    gpu_from_env(o);
}

int cli_backend_cpu(RtBackend *be, int threads, RtStatus *st) {
    RtOptions o;
    cli_options_from_env(&o);
    if (threads > 0) o.threads = threads;
    return rt_backend_cpu(be, &o, st);
}

const char *cli_path(const char *p, char *buf, size_t cap) {
    const char *home = env("HOME");
    if (!p || p[0] != '~' || (p[1] != '/' && p[1]) || !home) return p;
    snprintf(buf, cap, "%s%s", home, p + 1);
    return buf;
}

int cli_backends_open(CliBackends *b, const char *device, const RtOptions *o, const char *what, FILE *log,
                      RtStatus *st) {
    const char *d = device ? device : "cpu";
    memset(b, 0, sizeof *b);
    if (strcmp(d, "cpu") && strcmp(d, "gpu") && strcmp(d, "auto")) return rt_fail(st, "--device %s: one of cpu, gpu, auto", d);
    if (rt_backend_cpu(&b->cpu, o, st) < 0) return -1;
    b->chosen = &b->cpu;
    if (!strcmp(d, "cpu")) {
        fprintf(log, "Device: %s\n", b->cpu.name);
        return 0;
    }
    RtStatus why;
    if (rt_backend_gpu_open(&b->gpu, o, &b->cpu, &why) == 0) {
        b->chosen = &b->gpu;
        fprintf(log, "Device: %s (%s)\n", b->gpu.name, what);
    } else if (!strcmp(d, "gpu")) {
        return rt_fail(st, "--device gpu: %s", why.msg);
    } else {
        fprintf(log, "Device: CPU (%s)\n", why.msg);
    }
    return 0;
}

int cli_comm_open(RtComm **comm, int sync_batch_norm, RtStatus *st) {
    const char *v = env("OMPI_COMM_WORLD_SIZE"), *self = env("FN_COMM");
    if (!v) v = env("PMI_SIZE");
    *comm = NULL;
    if (self && !strcmp(self, "self") && (!v || atoi(v) < 2)) {
        if (!(*comm = rt_comm_self(sync_batch_norm))) return rt_fail(st, "out of memory");
        return 0;
    }
    if (self && *self && strcmp(self, "self")) return rt_fail(st, "FN_COMM=%s: only 'self' (or unset)", self);
    if (!v || atoi(v) < 2) return 0;
    if (!(*comm = rt_mpi_open(NULL, NULL, st))) return -1;
    (*comm)->sync_batch_norm = sync_batch_norm;
    return 0;
}

int cli_rank_threads(const RtComm *comm) {
    int share = fn_cpus_available() / (comm && comm->local_size > 0 ? comm->local_size : 1);
    return share > 0 ? share : 1;
}

void cli_comm_abort(RtComm *comm) { rt_mpi_abort(comm, 1); }

void cli_backends_close(CliBackends *b) {
    rt_backend_close(&b->gpu);
    rt_backend_close(&b->cpu);
}
