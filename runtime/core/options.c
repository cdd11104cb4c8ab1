/* See options.h. Defaults and printing only: cli/options.c reads the environment and flags. */
#include "runtime/core/options.h"

#include <string.h>

#include "ir/pool.h"

void rt_options_defaults(RtOptions *o) {
    memset(o, 0, sizeof *o);
    o->fuse = 1;
    o->llvm = -1;
    o->spin_us = 50;
    o->conv_winograd = 1;
    o->conv_direct = 1;
    o->conv_epilogue = 1;
    o->gpu_memory_fraction = 1.0;
    o->gpu_tf32 = 1;
    o->gpu_bf16 = 3; /* act: bfloat16 activations (issue 29's loss check, bench/RESULTS.md) */
    o->gpu_streams = 4;
    o->gpu_implicit = 2;
    o->gpu_col_mb = 256;
    o->gpu_round_once = 1;
    o->gpu_plan_slack = 64;
    o->cuda_graph = 1;
    o->gpu_views = 1;
    o->gpu_tails = 1;
    o->bucket_mb = 25;
}

void rt_options_print(const RtOptions *o, FILE *f) {
    static const char *const bf16[] = {"0", "1", "columns", "act"};
    if (o->threads > 0) fprintf(f, "  threads = %d\n", o->threads);
    else fprintf(f, "  threads = auto (%d)\n", fn_cpus_available());
    fprintf(f, "  spin_us = %d\n  cpu_isa = %s", o->spin_us, fn_isa_name(o->cpu_isa));
    if (o->cpu_isa == FN_ISA_AUTO) fprintf(f, " (%s)", fn_isa_name(fn_isa_host()));
    fprintf(f, "\n");
    fprintf(f, "  fuse = %d\n  profile = %d\n  llvm = %s\n  conv_winograd = %d\n  conv_direct = %d\n", o->fuse,
            o->profile, o->llvm < 0 ? "auto" : o->llvm ? "1" : "0", o->conv_winograd, o->conv_direct);
    fprintf(f, "  conv_epilogue = %d\n", o->conv_epilogue);
    fprintf(f, "  dump_llvm = %s\n  dump_asm = %s\n", o->dump_llvm ? o->dump_llvm : "-", o->dump_asm ? o->dump_asm : "-");
    fprintf(f, "  gpu_memory_fraction = %g\n  gpu_tf32 = %d\n  gpu_bf16 = %s\n  gpu_streams = %d\n  gpu_implicit = %d\n",
            o->gpu_memory_fraction, o->gpu_tf32, o->gpu_bf16 >= 0 && o->gpu_bf16 < 4 ? bf16[o->gpu_bf16] : "?",
            o->gpu_streams, o->gpu_implicit);
    fprintf(f, "  gpu_col_mb = %g\n  gpu_round_once = %d\n  gpu_plan_slack = %d\n  cuda_graph = %d\n  gpu_views = %d\n",
            o->gpu_col_mb, o->gpu_round_once, o->gpu_plan_slack, o->cuda_graph, o->gpu_views);
    fprintf(f, "  gpu_tails = %d\n", o->gpu_tails);
    fprintf(f, "  kernel_cache = %s\n  cuda_emulator = %s\n", o->kernel_cache[0] ? o->kernel_cache : "-",
            o->cuda_emulator ? o->cuda_emulator : "-");
    fprintf(f, "  gpu_device = %d\n  nccl_library = %s\n  bucket_mb = %g\n", o->gpu_device,
            o->nccl_library ? o->nccl_library : "-", o->bucket_mb);
}
