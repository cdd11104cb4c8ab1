/* How graphs run: the choices a user or a test makes about fusion, code generation and the
 * GPU, in one struct. cli/options.c fills it once (defaults, then the FN_* variables, then
 * flags) and prints it (fnc info, fnrun --verbose); a backend takes it when it opens and its
 * executors read it when they bind. What this is not: where a graph runs (the backend) or what
 * a training run does (RtTrainOpts). No library reads the environment.
 */
#ifndef FN_RT_OPTIONS_H
#define FN_RT_OPTIONS_H

#include <stdio.h>

typedef struct {
    /* both backends */
    int fuse;    /* 1: pointwise nodes run fused (passes/fuse.c); 0: node by node, reference kernels (FN_FUSE) */
    int profile; /* 1: seconds per op printed to stderr when an executor is freed (FN_PROFILE) */
    const char *profile_timeline; /* with profile, a file for the GPU training step's items in order,
                                     their times and the bytes each reduction sends (FN_PROFILE_TIMELINE) */
    /* the CPU */
    int threads;            /* threads of the CPU backend's pool; 0: the CPUs this process may use (affinity,
                               cgroup quota: fn_cpus_available) (--threads, FN_THREADS) */
    int spin_us;            /* microseconds an idle pool thread spins before it sleeps (FN_SPIN_US) */
    int cpu_isa;            /* FN_ISA_* (ir/pool.h): the instruction set of fn's CPU kernels and LLVM loops;
                               0: the host's best (FN_CPU_ISA=avx512|avx2|base forces an older one) */
    int llvm;               /* fused loops compiled by LLVM: -1 when the step is large enough, 0 never, 1 always (FN_LLVM) */
    int conv_winograd;      /* 1: Winograd convolutions where they win; 0 never (FN_WINOGRAD) */
    int conv_direct;        /* 1: direct AVX-512 convolutions where they win; 0 never (FN_DIRECT) */
    int conv_epilogue;      /* 1: a fused loop reading a convolution runs on its rows as they are written
                               (pass_fuse_epilogue); 0: after it (FN_EPILOGUE) */
    const char *dump_llvm;  /* a file for the LLVM module's text, or NULL (FN_DUMP_LLVM) */
    const char *dump_asm;   /* a file for the optimised module as host assembly, or NULL (FN_DUMP_ASM) */
    /* the GPU */
    double gpu_memory_fraction; /* of the device memory an executor may take (--gpu_memory_fraction) */
    int gpu_tf32;               /* 1: TF32 tensor-core GEMMs; 0: full float32 (FN_GPU_TF32) */
    int gpu_bf16;               /* 0 off, 1 bfloat16 GEMM operands, 2 only the column convolutions', 3 (the
                                   default) as 1 with activations stored in bfloat16 (FN_GPU_BF16=0|1|columns|act) */
    int gpu_streams;            /* streams a step may use (FN_GPU_STREAMS) */
    int gpu_implicit;           /* implicit-GEMM convolutions: 0 none, 2 the default choice, 3 every window (FN_GPU_IMPLICIT) */
    double gpu_col_mb;          /* MiB of im2col columns a convolution may take at once, 0: whole (FN_GPU_COL_MB) */
    int gpu_round_once;         /* 1: bfloat16 weights rounded once a step; 0: by each GEMM (FN_GPU_ROUND_ONCE) */
    int gpu_plan_slack;         /* node positions a value's memory waits before reuse (FN_GPU_PLAN_SLACK) */
    int cuda_graph;             /* 1: steps captured and replayed as a CUDA graph (FN_CUDA_GRAPH) */
    int gpu_views;              /* 1: concat operands and last-axis slices as views, no copies (FN_GPU_VIEWS) */
    int gpu_tails;              /* 1: small groups run in the blocks finishing the sums they read (FN_GPU_TAILS) */
    char kernel_cache[1024];    /* folder of compiled kernels, "" for none (FN_KERNEL_CACHE, else
                                   $XDG_CACHE_HOME/fn/kernels, else ~/.cache/fn/kernels) */
    const char *cuda_emulator;  /* tests: a host emulation of the driver, NVRTC and cuBLAS (FN_CUDA_EMULATOR) */
    int gpu_device;             /* the card's ordinal (a data-parallel rank's place on its machine) */
    const char *nccl_library;   /* NCCL for data-parallel GPU steps: a path or a name dlopen finds
                                   (FN_NCCL_LIBRARY; NULL: libnccl.so.2) */
    double bucket_mb;           /* MiB of gradients the replicas reduce together at most, 0: each alone
                                   (passes/buckets.c; FN_BUCKET_MB) */
} RtOptions;

/* The defaults: fused, LLVM when it pays, every convolution path, epilogues, TF32 on, bfloat16 act, 4
 * streams, implicit GEMM 2, 256 MiB of columns, weights rounded once, slack 64, CUDA graphs, views, tails,
 * the whole device, no kernel cache, no emulator, card 0, the system's NCCL, 25 MiB buckets. */
void rt_options_defaults(RtOptions *o);
/* One line per option, "  name = value", for fnc info and fnrun --verbose. */
void rt_options_print(const RtOptions *o, FILE *f);

#endif
