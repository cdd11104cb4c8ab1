/* The GPU executor's insides, shared by gpu_exec.c (setup, memory, inputs and outputs, the
 * public calls), gpu_ops.c (a node's launches) and gpu_queues.c (the step's work spread over
 * streams). */
#ifndef FN_RT_GPU_INTERNAL_H
#define FN_RT_GPU_INTERNAL_H

#include "codegen/cuda/cuda_emit.h"
#include "runtime/gpu/conv_profile.h"
#include "runtime/gpu/cuda_api.h"
#include "runtime/gpu/gpu_exec.h"
#include "runtime/gpu/nccl.h"
#include "runtime/gpu/streams.h"
#include "runtime/core/plan.h"

#define ALIGN 256
#define THREADS 256
#define WORKSPACE ((size_t)32 << 20)
enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_TF32_TENSOR_OP_MATH = 3 };
/* cublasGemmEx's: float32 matrices, the default algorithm, products on bfloat16 inputs */
enum { CUDA_R_32F = 0, CUDA_R_16BF = 14, CUBLAS_GEMM_DEFAULT = -1, CUBLAS_COMPUTE_32F = 68, CUBLAS_COMPUTE_32F_FAST_16BF = 75 };
enum { ATTR_CC_MAJOR = 75, ATTR_CC_MINOR = 76, ATTR_SM_COUNT = 16 };
#define GPU_MAX_QUEUES 8
#define GPU_TICKETS 1024 /* per queue: a fused group finishes its own sums over up to 32 x this columns */

/* fn_to_bf16_segs' segment (the kernel's FnSeg, laid out alike): x float32 into y bfloat16, n values;
 * and fn_copy_segs' (FnCopy): x into y, n 4-byte values */
typedef struct {
    CUdeviceptr x, y;
    int64_t n;
} GpuSeg;

/* A stream of the step's work with its own cuBLAS handle and scratch (queue 0: the RtGpu's
 * stream and handle, the slab's scratch). */
typedef struct {
    CUstream stream;
    cublasHandle_t blas;
    CUdeviceptr scratch, part, gpart; /* see gpu_node_scratch */
    CUdeviceptr tickets;              /* GPU_TICKETS counters, 0 between launches: the column blocks
                                         of a fused group with sums finishing them (gpu_ops.c) */
    CUdeviceptr mem;                  /* queues >= 1: one allocation holding those and cuBLAS's workspace */
    size_t mem_bytes;
    CUevent done;                     /* queues >= 1: recorded at the step's end, for the join */
} GpuQueue;                           /* (a queue >= 1 is in use when it has a stream) */

struct RtGpu {
    RtOptions opt; /* as opened: the emulator, the kernel cache, TF32 and bfloat16 */
    RtCudaApi api;
    CUstream stream;
    cublasHandle_t blas;
    char name[160], arch[16];
    int sm_count, tf32;
    int bf16;              /* options' gpu_bf16 (with TF32): 1 every cuBLAS GEMM on bfloat16 operands, 2 the
                              column convolutions' only, 3 as 1 with the activations and their
                              gradients stored in bfloat16 (gpu_half_values); 0 none */
    CUdeviceptr workspace; /* cuBLAS's (WORKSPACE bytes) */
    size_t held;           /* device bytes the executors on this GPU hold (--gpu_memory_fraction) */
    GpuNccl *nccl;         /* the replicas' sums (rt_gpu_replicas), or NULL */
};

struct RtGpuExec {
    RtGpu *gpu;
    RtOptions opt; /* as bound */
    const IrGraph *g;
    RtVars *vars;
    RtPlan plan;
    CuModule mod;
    CUmodule cumod;
    CUfunction *fn;      /* per module kernel */
    CUdeviceptr slab, *dev;  /* dev[id]: the node's device buffer */
    CUdeviceptr *var_dev;    /* per variable of the store */
    void **host;             /* staging for inputs and fetched outputs */
    size_t bytes;
    int vars_stale;       /* a step changed the device's variables since the host's copy */
    CUdeviceptr avg0;     /* the averaged variables' run in the slab, avg_bytes long */
    size_t avg_bytes;
    CUdeviceptr ema;      /* their moving averages, laid out alike (0 until the first update) */
    int ema_stale;
    CUdeviceptr *inbox;       /* per input node: where rt_gpu_exec_stage puts it (0: none) */
    CUstream copy_stream;     /* the inputs' copies to the inbox (NULL: straight from the host) */
    CUevent staged_ev, inbox_free; /* the inbox is filled; its contents were taken by a step */
    int staged; /* the host's inputs are in the inbox for the next launch */
    CUdeviceptr seed_step;    /* the step's seed and number, for the dropout kernels */
    CUdeviceptr tickets;      /* GPU_MAX_QUEUES x GPU_TICKETS counters, zeroed once (GpuQueue.tickets) */
    CUdeviceptr *mirror;      /* per weight node that GEMMs take in bfloat16: its copy, rounded once at
                                 the step's start (gpu_round_weights); else 0 */
    CUdeviceptr mirror_segs;  /* their fn_to_bf16_segs table (GpuSeg), n_mirror segments */
    int n_mirror;
    int round_each;           /* FN_GPU_ROUND_ONCE=0: no copies, each GEMM rounds its weights itself */
    CUdeviceptr copy_segs;    /* the assignments not computed in place: fn_copy_segs' table (GpuSeg) */
    int n_copies;             /* its segments, copied at the step's end (gpu_copy_assigned) */
    int64_t copy_values;      /* the values they copy, all together */
    int *copy_run, n_copy_runs; /* a launch each run: copy_run[r] .. copy_run[r + 1] (gpu_batch_runs) */
    uint64_t *seed_step_host; /* their page-locked staging (NULL: copied synchronously) */
    int pinned;            /* the driver can page-lock the input staging (cuMemAllocHost) */
    char *host_pinned;     /* per node: its staging is page-locked */
    int64_t runs;
    int graph_state; /* 0: not captured yet, 1: replaying gexec, -1: launch by launch */
    CUgraph graph;
    CUgraphExec gexec;
    double fraction; /* --gpu_memory_fraction */
    size_t col_bytes; /* FN_GPU_COL_MB: im2col chunks' size (0: the whole batch at once) */
    int implicit;     /* FN_GPU_IMPLICIT: which convolutions run as implicit GEMMs (gpu_ops.c) */
    double *prof_s; /* FN_PROFILE set: seconds per op (synchronised after each node) */
    double *prof_item_s; /* and per item of the step (n_items) */
    int64_t *prof_calls, prof_steps;
    GpuConvProfile conv_prof; /* and per convolution shape and phase */
    double lap_t;
    /* the step's work (gpu_queues.c): items in order, on n_queues streams as sched says */
    int n_items;
    int *item; /* a node's id */
    GpuQueue queue[GPU_MAX_QUEUES], *cur; /* cur: where run_node's work goes */
    int n_queues;
    GpuSchedule sched;
    int comm_queue;    /* the queue of the replicas' reductions (the last), or -1 */
    int *bucket_lead, n_buckets; /* per item: the first reduction of its bucket, a run of consecutive
                                    items (-1: none); see gpu_queues.c */
    CUevent *ev, fork; /* ev[i]: recorded after item i when sched.record[i] */
    double overlap;    /* gpu_schedule_estimate's, with a cost model */
    int half_values;   /* FN_GPU_BF16=act: values stored in bfloat16 (gpu_half_values) */
    int rank;          /* the data-parallel replica's (its dropout masks start rank slices into the global batch) */
};

#define CHECK_CU(call)                                                                             \
    do {                                                                                           \
        if (RT_CU(&gpu->api, st, call) < 0) return -1;                                             \
    } while (0)


/* gpu_exec.c */
int gpu_reserve(RtGpuExec *ex, size_t bytes, const char *who, RtStatus *st);

/* gpu_ops.c */
/* node id's work on ex->cur's stream */
int gpu_run_node(RtGpuExec *ex, IrId id, RtStatus *st);
/* How convolution node id runs: a plain GEMM (1x1, stride 1), an implicit GEMM, or around
 * column matrices (im2col / col2im and cuBLAS) */
enum { GPU_CONV_POINTWISE, GPU_CONV_IMPLICIT, GPU_CONV_COLUMNS };
int gpu_conv_kind(const RtGpuExec *ex, IrId id);
/* Whether convolution node id's GEMMs take its weights (in[1]) in bfloat16 (FN_GPU_BF16: the
 * column convolutions' forward and data gradient; under act the 1x1 ones' too). */
int gpu_conv_half_weights(const RtGpuExec *ex, IrId id);
/* The bfloat16 copies of those weights, rounded on the current stream in one launch. */
int gpu_round_weights(RtGpuExec *ex, RtStatus *st);
/* The assignments not computed in place, copied on the current stream in one launch (one a run
 * of copies without conflicts): at the step's end, after every stream has joined (the values
 * stay to the step's end). */
int gpu_copy_assigned(RtGpuExec *ex, RtStatus *st);
/* kernel over n elements: grid-stride, THREADS a block, at most 32 blocks per SM */
int gpu_launch(RtGpuExec *ex, int kernel, int64_t n, void **args, RtStatus *st);
/* The scratch node id's work takes, in floats: [0] (a queue's scratch) im2col columns, an
 * implicit filter gradient's split partials or a max-pool gradient's argmax codes, [1] (part)
 * the row splits' partials of a leading-axis sum, [2] (gpart) a fused group's lane partials. */
void gpu_node_scratch(const RtGpuExec *ex, IrId id, int64_t need[3]);

/* Whether a fused group with sums (layout lay, a domain of n) finishes them in its own last blocks,
 * as run_group launches it on a card of sm_count multiprocessors. */
int gpu_group_finishes(int sm_count, const PassFuseLayout *lay, const int64_t *numel, int64_t n);

/* gpu_tails.c */
/* The small groups that run in the blocks finishing another's sums (PassFusion.tail), chosen
 * between rt_plan_values and rt_plan_memory. Returns how many; -1 when out of memory. */
int gpu_plan_tails(RtPlan *p, int sm_count);

/* gpu_views.c */
/* The concat operands and slices along the last axis that are views (RtPlan.view_of), chosen
 * between rt_plan_values and rt_plan_memory: a fused loop writes or reads each in place. Returns
 * how many. */
int gpu_plan_views(RtPlan *p);
/* The operands concat id still copies (those that are no views). */
int gpu_concat_copies(const RtPlan *p, IrId id);

/* gpu_queues.c */
/* The step's items and, with FN_GPU_STREAMS > 1 (default 4) and the driver's events, their
 * streams, the extra streams' handles and scratch, and the events; after setup. */
int gpu_queues_plan(RtGpuExec *ex, RtStatus *st);
/* The step's work on the streams, joined back into the first (gpu->stream) at the end. */
int gpu_enqueue_step(RtGpuExec *ex, RtStatus *st);
void gpu_queues_free(RtGpuExec *ex);
/* FN_PROFILE: the `top` items that took longest, per step, with the bytes they read and write
 * once (a floor: columns and scratch left out) and those bytes over their time. */
void gpu_queues_profile_print(const RtGpuExec *ex, int64_t steps, int top, FILE *f);
/* FN_PROFILE_TIMELINE: every item in the step's order as a tab-separated line: its index, ms per
 * step, op, and for a reduction over the replicas its group and bytes (else -1 and 0), and the
 * scope it was built in (bench/distributed/model.py --timeline reads it). */
void gpu_queues_timeline_write(const RtGpuExec *ex, int64_t steps, const char *path);

#endif
