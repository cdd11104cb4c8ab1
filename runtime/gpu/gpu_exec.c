/* See gpu_exec.h: the card, the executor's setup and memory, inputs and outputs, the captured
 * step. A node's launches are in gpu_ops.c, the step's streams in gpu_queues.c. */
#include "runtime/gpu/gpu_exec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"
#include "codegen/cuda/cuda_emit.h"
#include "codegen/cuda/nvrtc.h"
#include "passes/passes.h"
#include "runtime/core/ema.h"
#include "runtime/gpu/gpu_internal.h"
#include "runtime/core/plan.h"
#include "runtime/core/rt.h"

RtGpu *rt_gpu_open(const RtOptions *o, RtStatus *st) {
    RtGpu *gpu = fn_calloc(1, sizeof *gpu);
    if (!gpu) {
        rt_fail(st, "out of memory opening the GPU");
        return NULL;
    }
    gpu->opt = *o;
    CUdevice dev;
    int major = 0, minor = 0;
    if (rt_cuda_open(&gpu->api, o->cuda_emulator, o->gpu_device, st) < 0 ||
        RT_CU(&gpu->api, st, cuDeviceGet(&dev, o->gpu_device)) < 0 ||
        RT_CU(&gpu->api, st, cuDeviceGetName(gpu->name, 100, dev)) < 0 ||
        RT_CU(&gpu->api, st, cuDeviceGetAttribute(&major, ATTR_CC_MAJOR, dev)) < 0 ||
        RT_CU(&gpu->api, st, cuDeviceGetAttribute(&minor, ATTR_CC_MINOR, dev)) < 0 ||
        RT_CU(&gpu->api, st, cuDeviceGetAttribute(&gpu->sm_count, ATTR_SM_COUNT, dev)) < 0 ||
        RT_CU(&gpu->api, st, cuStreamCreate(&gpu->stream, 0)) < 0) {
        rt_gpu_close(gpu);
        return NULL;
    }
    if (gpu->api.cublasCreate(&gpu->blas) != 0 || gpu->api.cublasSetStream(gpu->blas, gpu->stream) != 0) {
        rt_fail(st, "cuBLAS could not start");
        rt_gpu_close(gpu);
        return NULL;
    }
    /* cuBLAS's workspace, our own, so that a captured step allocates nothing */
    if (gpu->api.cublasSetWorkspace && RT_CU(&gpu->api, st, cuMemAlloc(&gpu->workspace, WORKSPACE)) == 0 &&
        gpu->api.cublasSetWorkspace(gpu->blas, (void *)gpu->workspace, WORKSPACE) != 0) {
        rt_fail(st, "cuBLAS did not take its workspace");
        rt_gpu_close(gpu);
        return NULL;
    }
    st->msg[0] = 0; /* without a workspace of ours (allocation failed) cuBLAS uses its own */
    /* TF32 tensor-core GEMMs unless gpu_tf32 is 0 (full float32, for the strict comparisons) */
    gpu->tf32 = o->gpu_tf32 && gpu->api.cublasSetMathMode &&
                gpu->api.cublasSetMathMode(gpu->blas, CUBLAS_TF32_TENSOR_OP_MATH) == 0;
    /* gpu_bf16 1: cuBLAS's GEMMs on bfloat16 operands (gpu_ops.c: the column convolutions' in
     * bfloat16, the others rounded by cuBLAS); 2: only the column convolutions'; 3 (act): as 1,
     * and the activations and their gradients stored in bfloat16 (gpu_half.c); the implicit-GEMM
     * convolutions multiply in TF32. act by default; only with TF32, on cards with bfloat16
     * tensor cores (compute capability 8.0 and later) */
    gpu->bf16 = gpu->tf32 && major >= 8 && gpu->api.cublasGemmEx && o->gpu_bf16 >= 1 && o->gpu_bf16 <= 3 ? o->gpu_bf16 : 0;
    snprintf(gpu->arch, sizeof gpu->arch, "sm_%d%d", major, minor);
    size_t len = strlen(gpu->name);
    snprintf(gpu->name + len, sizeof gpu->name - len, " (%s%s)", gpu->arch,
             gpu->bf16 == 3   ? ", TF32 and BF16 GEMMs, BF16 activations"
             : gpu->bf16 == 1 ? ", TF32 and BF16 GEMMs"
             : gpu->bf16      ? ", TF32 and BF16 column GEMMs"
             : gpu->tf32      ? ", TF32 GEMMs"
                              : "");
    return gpu;
}

/* The cuBLAS handle and the stream go; the primary context and the libraries stay with the
 * process (another RtGpu may use them). */
void rt_gpu_close(RtGpu *gpu) {
    if (!gpu) return;
    gpu_nccl_close(gpu->nccl);
    if (gpu->api.cublasDestroy && gpu->blas) gpu->api.cublasDestroy(gpu->blas);
    if (gpu->api.cuStreamDestroy && gpu->stream) gpu->api.cuStreamDestroy(gpu->stream);
    if (gpu->workspace) gpu->api.cuMemFree(gpu->workspace);
    free(gpu);
}

const char *rt_gpu_name(const RtGpu *gpu) { return gpu->name; }

int rt_gpu_replicas(RtGpu *gpu, RtComm *comm, RtStatus *st) {
    if (gpu->nccl) return 0;
    if (!comm) return rt_fail(st, "the GPU's reductions over the replicas need the run's ranks");
    if (!(gpu->nccl = gpu_nccl_open(gpu->opt.nccl_library, comm, st))) return -1;
    fprintf(stderr, "fn: rank %d of %d reduces on card %d with %s\n", comm->rank, comm->size, gpu->opt.gpu_device,
            gpu_nccl_name(gpu->nccl));
    return 0;
}

int rt_gpu_bf16(const RtGpu *gpu) { return gpu->bf16; }

/* ---- setup ----------------------------------------------------------------------------------- */

static size_t up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

/* n bytes as "1.23 GB" or, under a GB, "45.6 MB" */
static void bytes_text(char *out, size_t cap, double n) {
    if (n >= 1e9) snprintf(out, cap, "%.2f GB", n / 1e9);
    else snprintf(out, cap, "%.1f MB", n / 1e6);
}

/* fn_copy_segs' table at `at`: the assignments whose value is not its variable's buffer, in the
 * effects' order, split into runs without conflicts (one copy reading or writing what an
 * earlier one of its run writes: then it waits for the next launch, as the CPU copies in order) */
static int copies_table(RtGpuExec *ex, CUdeviceptr at, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    const IrGraph *g = ex->g;
    GpuSeg *seg = fn_calloc((size_t)g->n_effects + 1, sizeof *seg);
    GpuSpan *spans = fn_calloc(2 * (size_t)g->n_effects + 1, sizeof *spans);
    int *span_start = fn_calloc((size_t)g->n_effects + 1, sizeof *span_start);
    ex->copy_run = fn_calloc((size_t)g->n_effects + 1, sizeof *ex->copy_run);
    int n = 0, rc = 0;
    if (!seg || !spans || !span_start || !ex->copy_run) rc = rt_fail(st, "out of memory");
    for (int k = 0; k < g->n_effects && rc == 0; k++) {
        IrId e = g->effects[k];
        const IrNode *a = &g->nodes[e];
        if (!ex->plan.needed[e] || ex->dev[a->in[0]] == ex->dev[a->in[1]]) continue;
        int64_t m = ex->plan.numel[e];
        uintptr_t x = ex->dev[a->in[1]], y = ex->dev[a->in[0]];
        seg[n] = (GpuSeg){x, y, m};
        ex->copy_values += m;
        spans[2 * n] = (GpuSpan){x, x + (uintptr_t)m * 4, 0};
        spans[2 * n + 1] = (GpuSpan){y, y + (uintptr_t)m * 4, 1};
        n++;
        span_start[n] = 2 * n;
    }
    ex->copy_segs = at;
    ex->n_copies = n;
    if (rc == 0) ex->n_copy_runs = gpu_batch_runs(n, span_start, spans, ex->copy_run);
    if (rc == 0 && n) rc = RT_CU(&gpu->api, st, cuMemcpyHtoD(at, seg, (size_t)n * sizeof *seg));
    free(seg);
    free(spans);
    free(span_start);
    return rc;
}

/* --gpu_memory_fraction, as TensorFlow's per_process_gpu_memory_fraction: what all of fn's
 * executors on the card hold together stays under that share of its memory. Counts `bytes` as
 * held, or fails saying who needed them. */
int gpu_reserve(RtGpuExec *ex, size_t bytes, const char *who, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    size_t free_b = 0, total_b = 0;
    CHECK_CU(cuMemGetInfo(&free_b, &total_b));
    double limit = ex->fraction * (double)total_b;
    if ((double)(gpu->held + bytes) > limit) {
        char need[32], held[32], lim[32];
        bytes_text(need, sizeof need, (double)bytes);
        bytes_text(held, sizeof held, (double)gpu->held);
        bytes_text(lim, sizeof lim, limit);
        return rt_fail(st, "%s needs %s of device memory; fn holds %s already and --gpu_memory_fraction %g allows %s of "
                           "the card's %.2f GB",
                       who, need, held, ex->fraction, lim, total_b / 1e9);
    }
    gpu->held += bytes;
    return 0;
}

/* The module (emitted by the caller), compiled for this card (or found in the kernel cache),
 * loaded, and its kernels looked up. */
static int load_module(RtGpuExec *ex, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    char *log;
    void *cubin;
    size_t n_cubin;
    int hit;
    int rc = cu_compile_cached(ex->mod.source, gpu->arch, gpu->opt.kernel_cache, gpu->opt.cuda_emulator, &cubin, &n_cubin,
                               &hit, &log, st);
    if (rc < 0) {
        rt_fail(st, "%s%s%s", st->msg, log && *log ? ":\n" : "", log ? log : "");
        free(log);
        return -1;
    }
    free(log);
    rc = RT_CU(&gpu->api, st, cuModuleLoadData(&ex->cumod, cubin));
    free(cubin);
    if (rc < 0) return -1;
    if (!(ex->fn = fn_calloc((size_t)ex->mod.n_names + 1, sizeof *ex->fn))) return rt_fail(st, "out of memory");
    for (int i = 0; i < ex->mod.n_names; i++) CHECK_CU(cuModuleGetFunction(&ex->fn[i], ex->cumod, ex->mod.names[i]));
    return 0;
}

/* Where each part of the step's one slab lies (byte offsets from its start): the planned blocks
 * (packed by the plan when it is fused), the variables (the averaged ones first, in one run),
 * the im2col scratch, the partial sums, the seed and step, the tickets, the bfloat16 weight
 * copies and their table, the copies' table, the inputs' inbox. */
typedef struct {
    size_t *block_off, *var_off, *mirror_off, *inbox_off; /* per block, variable, node, node */
    char *used;  /* per variable: on the device */
    size_t avg0, scratch_off, part_off, gpart_off, seed_step_off, tickets_off, segs_off, copies_off, total;
    int n_mirror, overlap; /* overlap: the driver can fill the inbox while a step runs */
} Slab;

static void slab_free(Slab *L) {
    free(L->block_off);
    free(L->var_off);
    free(L->mirror_off);
    free(L->inbox_off);
    free(L->used);
}

static void slab_blocks(const RtGpuExec *ex, Slab *L) {
    const RtPlan *p = &ex->plan;
    for (int b = 0; b < p->n_blocks; b++) {
        L->block_off[b] = p->block_off ? p->block_off[b] : L->total;
        L->total += p->block_off ? 0 : up(p->block_bytes[b]);
    }
    if (p->block_off) L->total = up(p->slab_bytes);
}

/* the variables the graph reads (all of them for a training graph, whose store the moving
   averages mirror): an eval graph leaves the optimiser's slots on the host */
static void slab_vars(RtGpuExec *ex, Slab *L) {
    const RtPlan *p = &ex->plan;
    const IrGraph *g = ex->g;
    for (IrId id = 0; id < p->n; id++)
        if (p->needed[id] && (g->nodes[id].op == IR_OP_PARAM || g->nodes[id].op == IR_OP_STATE))
            L->used[rt_vars_find(ex->vars, ir_str(g, g->nodes[id].attr.u.leaf.name)) - ex->vars->v] = 1;
    for (int v = 0; v < ex->vars->n; v++) L->used[v] |= g->n_effects > 0;
    L->avg0 = L->total;
    for (int pass = 0; pass < 2; pass++) /* the averaged variables first, in one run */
        for (int v = 0; v < ex->vars->n; v++) {
            if (!L->used[v] || rt_var_is_averaged(&ex->vars->v[v]) != !pass) continue;
            L->var_off[v] = L->total;
            L->total += up((size_t)ex->vars->v[v].n * sizeof(float));
            if (!pass) ex->avg_bytes = L->total - L->avg0;
        }
}

/* the largest im2col chunk, splits x ny of the sums, and groups' partials; the seed and step;
   the tickets */
static void slab_scratch(RtGpuExec *ex, Slab *L) {
    int64_t col_n = 1, part_n = 1, gpart_n = 1;
    for (IrId id = 0; id < ex->plan.n; id++) {
        int64_t need[3];
        gpu_node_scratch(ex, id, need);
        if (need[0] > col_n) col_n = need[0];
        if (need[1] > part_n) part_n = need[1];
        if (need[2] > gpart_n) gpart_n = need[2];
    }
    L->scratch_off = L->total;
    L->total += up((size_t)col_n * sizeof(float));
    L->part_off = L->total;
    L->total += up((size_t)part_n * sizeof(float));
    L->gpart_off = L->total;
    L->total += up((size_t)gpart_n * sizeof(float));
    L->seed_step_off = L->total;
    L->total += up(2 * sizeof(uint64_t));
    L->tickets_off = L->total;
    L->total += up((size_t)GPU_MAX_QUEUES * GPU_TICKETS * sizeof(unsigned));
}

/* the weights the GEMMs take in bfloat16 (gpu_bf16): their copies, then fn_to_bf16_segs' table;
   fn_copy_segs' table (at most a segment per assignment); the inputs' inbox, where the next
   step's inputs land while a step runs (with events and page-locked staging) */
static void slab_copies(RtGpuExec *ex, Slab *L) {
    const RtPlan *p = &ex->plan;
    const IrGraph *g = ex->g;
    for (IrId id = 0; id < p->n && ex->mod.k_round_weights >= 0 && !ex->round_each; id++) {
        IrId w = g->nodes[id].n_in > 1 ? g->nodes[id].in[1] : IR_NONE;
        if (!p->needed[id] || !gpu_conv_half_weights(ex, id) || g->nodes[w].op != IR_OP_PARAM || L->mirror_off[w]) continue;
        L->mirror_off[w] = L->total;
        L->total += up((size_t)p->numel[w] * 2);
        L->n_mirror++;
    }
    L->segs_off = L->total;
    L->total += up((size_t)L->n_mirror * sizeof(GpuSeg) + 1);
    L->copies_off = L->total;
    L->total += up((size_t)g->n_effects * sizeof(GpuSeg) + 1);
    const RtCudaApi *api = &ex->gpu->api;
    L->overlap = api->cuEventCreate && api->cuEventRecord && api->cuStreamWaitEvent && api->cuMemcpyHtoDAsync &&
                 api->cuMemAllocHost && api->cuMemFreeHost;
    for (IrId id = 0; id < p->n && L->overlap; id++)
        if (p->needed[id] && g->nodes[id].op == IR_OP_INPUT) {
            L->inbox_off[id] = L->total;
            L->total += up((size_t)p->numel[id] * p->esize[id] + 1);
        }
}

/* The slab allocated and every part pointed at: the blocks, the variables (copied over), queue
 * 0's scratch, the seed and step, the tickets (zeroed), the inbox. */
static int place_slab(RtGpuExec *ex, const Slab *L, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    const RtPlan *p = &ex->plan;
    if (gpu_reserve(ex, L->total, "the step", st) < 0) return -1;
    int rc = RT_CU(&gpu->api, st, cuMemAlloc(&ex->slab, L->total));
    ex->bytes = L->total;
    if (rc < 0) gpu->held -= L->total;
    ex->dev = fn_calloc((size_t)p->n + 1, sizeof *ex->dev);
    ex->var_dev = fn_calloc((size_t)ex->vars->n + 1, sizeof *ex->var_dev);
    ex->host = fn_calloc((size_t)p->n + 1, sizeof *ex->host);
    ex->host_pinned = fn_calloc((size_t)p->n + 1, 1);
    ex->inbox = fn_calloc((size_t)p->n + 1, sizeof *ex->inbox);
    if (!ex->dev || !ex->var_dev || !ex->host || !ex->host_pinned || !ex->inbox) return rt_fail(st, "out of memory");
    ex->pinned = gpu->api.cuMemAllocHost && gpu->api.cuMemFreeHost && gpu->api.cuMemcpyHtoDAsync;
    if (ex->pinned && gpu->api.cuMemAllocHost((void **)&ex->seed_step_host, 2 * sizeof(uint64_t)) != 0)
        ex->seed_step_host = NULL;
    for (IrId id = 0; id < p->n && rc == 0; id++)
        if (p->block_of[id] >= 0)
            ex->dev[id] = ex->slab + L->block_off[p->block_of[id]] + (size_t)p->view_at[id] * p->esize[id];
    for (int v = 0; v < ex->vars->n && rc == 0; v++) {
        if (!L->used[v]) continue; /* var_dev 0: not on the device */
        ex->var_dev[v] = ex->slab + L->var_off[v];
        rc = RT_CU(&gpu->api, st, cuMemcpyHtoD(ex->var_dev[v], ex->vars->v[v].data, (size_t)ex->vars->v[v].n * sizeof(float)));
    }
    ex->avg0 = ex->slab + L->avg0;
    ex->queue[0] = (GpuQueue){.stream = gpu->stream, .blas = gpu->blas, .scratch = ex->slab + L->scratch_off,
                              .part = ex->slab + L->part_off, .gpart = ex->slab + L->gpart_off};
    ex->cur = &ex->queue[0];
    ex->seed_step = ex->slab + L->seed_step_off;
    ex->tickets = ex->slab + L->tickets_off;
    ex->queue[0].tickets = ex->tickets;
    if (rc == 0)
        rc = RT_CU(&gpu->api, st, cuMemsetD8Async(ex->tickets, 0, (size_t)GPU_MAX_QUEUES * GPU_TICKETS * sizeof(unsigned), gpu->stream));
    for (IrId id = 0; id < p->n && rc == 0; id++)
        if (L->inbox_off[id]) ex->inbox[id] = ex->slab + L->inbox_off[id];
    return rc;
}

/* The leaves: variables' nodes read the store's device copy, inputs get their host staging,
 * constants are filled; values computed straight into their variables share their memory. */
static int bind_leaves(RtGpuExec *ex, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    const RtPlan *p = &ex->plan;
    const IrGraph *g = ex->g;
    int rc = 0;
    for (IrId id = 0; id < p->n && rc == 0; id++) {
        const IrNode *nd = &g->nodes[id];
        if (!p->needed[id]) continue;
        if (nd->op == IR_OP_PARAM || nd->op == IR_OP_STATE) {
            RtVar *var = rt_vars_find(ex->vars, ir_str(g, nd->attr.u.leaf.name));
            ex->dev[id] = ex->var_dev[var - ex->vars->v];
        } else if (nd->op == IR_OP_INPUT) {
            size_t bytes = (size_t)p->numel[id] * p->esize[id];
            ex->host[id] = NULL;
            ex->host_pinned[id] = ex->pinned && gpu->api.cuMemAllocHost(&ex->host[id], bytes ? bytes : 1) == 0;
            if (ex->host_pinned[id]) memset(ex->host[id], 0, bytes);
            else if (!(ex->host[id] = fn_calloc(bytes ? bytes : 1, 1))) rc = rt_fail(st, "out of memory");
        } else if (nd->op == IR_OP_CONST) {
            float f = (float)nd->attr.u.scalar.f;
            int64_t cnt = p->numel[id];
            void *args[] = {&ex->dev[id], &cnt, &f};
            rc = gpu_launch(ex, ex->mod.plan[id].kernel[0], cnt, args, st);
        }
    }
    for (IrId id = 0; id < p->n; id++)
        if (p->assign_to && p->assign_to[id] != IR_NONE) ex->dev[id] = ex->dev[p->assign_to[id]];
    return rc;
}

/* each bfloat16 weight copy and its segment of fn_to_bf16_segs' table */
static int place_mirrors(RtGpuExec *ex, const Slab *L, RtStatus *st) {
    const RtPlan *p = &ex->plan;
    if (!L->n_mirror) return 0;
    GpuSeg *seg = fn_calloc((size_t)L->n_mirror, sizeof *seg);
    ex->mirror = fn_calloc((size_t)p->n + 1, sizeof *ex->mirror);
    if (!seg || !ex->mirror) {
        free(seg);
        return rt_fail(st, "out of memory");
    }
    for (IrId w = 0, k = 0; w < p->n; w++)
        if (L->mirror_off[w]) {
            ex->mirror[w] = ex->slab + L->mirror_off[w];
            seg[k++] = (GpuSeg){ex->dev[w], ex->mirror[w], p->numel[w]};
        }
    ex->mirror_segs = ex->slab + L->segs_off;
    ex->n_mirror = L->n_mirror;
    int rc = RT_CU(&ex->gpu->api, st, cuMemcpyHtoD(ex->mirror_segs, seg, (size_t)L->n_mirror * sizeof *seg));
    free(seg);
    return rc;
}

/* the stream and events that fill the inbox asynchronously, from page-locked staging only */
static int open_copy_stream(RtGpuExec *ex, int overlap, RtStatus *st) {
    const RtCudaApi *api = &ex->gpu->api;
    for (IrId id = 0; id < ex->plan.n; id++)
        if (ex->inbox[id] && !ex->host_pinned[id]) overlap = 0;
    if (overlap && (RT_CU(api, st, cuStreamCreate(&ex->copy_stream, 1 /* non-blocking */)) < 0 ||
                    RT_CU(api, st, cuEventCreate(&ex->staged_ev, 2 /* no timing */)) < 0 ||
                    RT_CU(api, st, cuEventCreate(&ex->inbox_free, 2)) < 0))
        return -1;
    return 0;
}

/* Everything the step needs on the device, in one slab (Slab), set up once. */
static int setup(RtGpuExec *ex, double fraction, RtStatus *st) {
    const RtPlan *p = &ex->plan;
    if (load_module(ex, st) < 0) return -1;
    Slab L = {.block_off = fn_calloc((size_t)p->n_blocks + 1, sizeof(size_t)),
              .var_off = fn_calloc((size_t)ex->vars->n + 1, sizeof(size_t)),
              .mirror_off = fn_calloc((size_t)p->n + 1, sizeof(size_t)),
              .inbox_off = fn_calloc((size_t)p->n + 1, sizeof(size_t)),
              .used = fn_calloc((size_t)ex->vars->n + 1, 1)};
    if (!L.block_off || !L.var_off || !L.mirror_off || !L.inbox_off || !L.used) {
        slab_free(&L);
        return rt_fail(st, "out of memory");
    }
    slab_blocks(ex, &L);
    slab_vars(ex, &L);
    slab_scratch(ex, &L);
    slab_copies(ex, &L);
    ex->fraction = fraction;
    int rc = place_slab(ex, &L, st);
    if (rc == 0) rc = bind_leaves(ex, st);
    if (rc == 0) rc = copies_table(ex, ex->slab + L.copies_off, st);
    if (rc == 0) rc = place_mirrors(ex, &L, st);
    if (rc == 0) rc = open_copy_stream(ex, L.overlap, st);
    slab_free(&L);
    return rc;
}

/* the fused plan, with its bfloat16 values under FN_GPU_BF16=act */
static int fused_plan(RtGpuExec *ex, const int64_t *sym, const char *const *want, int n_want, int run_effects, int flags,
                      RtStatus *st) {
    if (rt_plan_values(&ex->plan, ex->g, sym, want, n_want, run_effects, 4, flags, st) < 0) return -1;
    ex->half_values = ex->gpu->bf16 == 3 ? rt_gpu_half_values(&ex->plan) : 0;
    if (ex->opt.gpu_views) gpu_plan_views(&ex->plan);
    if (ex->opt.gpu_tails && gpu_plan_tails(&ex->plan, ex->gpu->sm_count) < 0) {
        rt_plan_free(&ex->plan);
        return rt_fail(st, "out of memory planning the step");
    }
    return rt_plan_memory(&ex->plan, flags, st);
}

/* The plan and the module: fused (options' fuse) when every group can be written as a kernel,
 * else a kernel per op. A fused plan keeps each value's memory from the next value for
 * gpu_plan_slack node positions after its last reader (default 64: in bench/gpu/stream_plan's
 * model of Inception-ResNet-v1 at batch 256 the step's streams then overlap to 0.734 of one
 * stream's, against 0.772 with the memory reused at once, for 11 % more of it), unless the slab
 * would then take over a quarter of the memory fn may use on the card. */
static int plan_and_emit(RtGpuExec *ex, const int64_t *sym, const char *const *want, int n_want, int run_effects,
                         double fraction, RtStatus *st) {
    if (ex->opt.fuse) {
        int slack = ex->opt.gpu_plan_slack, flags = RT_PLAN_FUSE | RT_PLAN_ASSIGN | RT_PLAN_READS_FIRST;
        size_t free_b = 0, total_b = 0;
        if (slack < 0 || slack > 1 << 20) slack = 0;
        if (fused_plan(ex, sym, want, n_want, run_effects, flags | RT_PLAN_SLACK(slack), st) < 0) return -1;
        if (slack && (ex->gpu->api.cuMemGetInfo(&free_b, &total_b) != 0 ||
                      (double)ex->plan.slab_bytes > fraction * (double)total_b / 4)) {
            rt_plan_free(&ex->plan);
            if (fused_plan(ex, sym, want, n_want, run_effects, flags, st) < 0) return -1;
        }
        if (cu_emit_fused(ex->g, &ex->plan.fusion, ex->plan.numel, ex->plan.esize, ex->plan.row_stride, &ex->mod, st) == 0)
            return 0;
        ex->half_values = 0;
        fprintf(stderr, "fn: the GPU runs this graph unfused: %s\n", st->msg);
        rt_plan_free(&ex->plan);
    }
    if (rt_plan_build(&ex->plan, ex->g, sym, want, n_want, run_effects, 4, 0, st) < 0) return -1;
    if (cu_emit_graph(ex->g, &ex->mod, st) < 0) return -1;
    return 0;
}

RtGpuExec *rt_gpu_exec_new(RtGpu *gpu, const RtOptions *o, const IrGraph *g, RtVars *vars, const int64_t *sym,
                           const char *const *want, int n_want, int run_effects, RtStatus *st) {
    if (vars->prec != 4) {
        rt_fail(st, "the GPU runs float32 variables");
        return NULL;
    }
    if (pass_replicas_count(g, ~0u) && !gpu->nccl) { /* rt_exec_new leaves only those the replicas reduce */
        rt_fail(st, "a step with reductions over the replicas on a GPU without NCCL (rt_gpu_replicas)");
        return NULL;
    }
    RtGpuExec *ex = fn_calloc(1, sizeof *ex);
    if (!ex) {
        rt_fail(st, "out of memory binding a graph");
        return NULL;
    }
    ex->gpu = gpu;
    ex->opt = *o;
    ex->g = g;
    ex->vars = vars;
    ex->col_bytes = o->gpu_col_mb > 0 ? (size_t)(o->gpu_col_mb * 1048576) : 0;
    ex->implicit = o->gpu_implicit;
    ex->round_each = !o->gpu_round_once;
    double memory_fraction = o->gpu_memory_fraction;
    if (rt_vars_bind(vars, g, sym, st) < 0 ||
        plan_and_emit(ex, sym, want, n_want, run_effects, memory_fraction > 0 ? memory_fraction : 1, st) < 0 ||
        setup(ex, memory_fraction > 0 ? memory_fraction : 1, st) < 0) {
        rt_gpu_exec_free(ex);
        return NULL;
    }
    if (o->profile) {
        ex->prof_s = fn_calloc(2 * IR_OP_COUNT, sizeof *ex->prof_s); /* ops alone, then groups by last op */
        ex->prof_calls = fn_calloc(2 * IR_OP_COUNT, sizeof *ex->prof_calls);
    }
    int rc = o->profile && (!ex->prof_s || !ex->prof_calls) ? rt_fail(st, "out of memory for the profile") : 0;
    if (rc == 0) rc = gpu_queues_plan(ex, st);
    if (rc == 0 && ex->prof_s && !(ex->prof_item_s = fn_calloc((size_t)ex->n_items + 1, sizeof *ex->prof_item_s)))
        rc = rt_fail(st, "out of memory for the profile");
    if (rc < 0) {
        rt_gpu_exec_free(ex);
        return NULL;
    }
    return ex;
}

void rt_gpu_exec_free(RtGpuExec *ex) {
    if (!ex) return;
    if (ex->ema) ex->gpu->api.cuMemFree(ex->ema);
    if (ex->prof_s) {
        fprintf(stderr, "GPU profile (each node synchronised): %lld steps of %s%s\n", (long long)ex->prof_steps, ex->gpu->name,
                ex->runs > 1 ? ", after a warm-up step" : "");
        if (ex->gpu->bf16 == 3) { /* FN_GPU_BF16=act: how much of the step's values are bfloat16 */
            double half = 0, all = 0;
            for (IrId id = 0; id < ex->plan.n; id++)
                if (ex->plan.block_of[id] >= 0) {
                    double b = (double)ex->plan.numel[id] * (double)ex->plan.esize[id];
                    all += b;
                    half += ex->plan.esize[id] == 2 ? b : 0;
                }
            fprintf(stderr, "bfloat16 values: %d, %.1f of the %.1f MB the step's values take\n", ex->half_values, half / 1e6,
                    all / 1e6);
        }
        rt_profile_print(ex->prof_s, ex->prof_calls, 2 * IR_OP_COUNT, ex->prof_steps);
        gpu_conv_profile_print(&ex->conv_prof, ex->prof_steps, 40, stderr);
        gpu_queues_profile_print(ex, ex->prof_steps, 40, stderr);
        if (ex->opt.profile_timeline && ex->g->n_effects) gpu_queues_timeline_write(ex, ex->prof_steps, ex->opt.profile_timeline);
    }
    gpu_conv_profile_free(&ex->conv_prof);
    gpu_queues_free(ex);
    free(ex->prof_s);
    free(ex->prof_calls);
    free(ex->prof_item_s);
    free(ex->mirror);
    free(ex->copy_run);
    if (ex->slab) ex->gpu->api.cuMemFree(ex->slab);
    if (ex->slab || ex->ema) ex->gpu->held -= ex->bytes;
    if (ex->gexec) ex->gpu->api.cuGraphExecDestroy(ex->gexec);
    if (ex->graph) ex->gpu->api.cuGraphDestroy(ex->graph);
    for (int i = 0; ex->host && i < ex->plan.n; i++) {
        if (ex->host_pinned[i]) ex->gpu->api.cuMemFreeHost(ex->host[i]);
        else free(ex->host[i]);
    }
    free(ex->host_pinned);
    if (ex->seed_step_host) ex->gpu->api.cuMemFreeHost(ex->seed_step_host);
    if (ex->copy_stream && ex->gpu->api.cuStreamDestroy) ex->gpu->api.cuStreamDestroy(ex->copy_stream);
    if (ex->staged_ev) ex->gpu->api.cuEventDestroy(ex->staged_ev);
    if (ex->inbox_free) ex->gpu->api.cuEventDestroy(ex->inbox_free);
    free(ex->inbox);
    free(ex->host);
    free(ex->dev);
    free(ex->var_dev);
    free(ex->fn);
    if (ex->cumod && ex->gpu->api.cuModuleUnload) ex->gpu->api.cuModuleUnload(ex->cumod);
    cu_module_free(&ex->mod);
    rt_plan_free(&ex->plan);
    free(ex);
}

void *rt_gpu_exec_input(RtGpuExec *ex, const char *name, int64_t *n) {
    IrId id = ir_find_leaf(ex->g, IR_OP_INPUT, name);
    if (id == IR_NONE || !ex->host[id]) return NULL;
    if (n) *n = ex->plan.numel[id];
    return ex->host[id];
}

/* Whether steps may be captured as a CUDA graph and replayed: the driver has the calls, no
 * per-node profile is being taken, and the options allow it. */
static int graphs_usable(const RtGpuExec *ex) {
    const RtCudaApi *a = &ex->gpu->api;
    return ex->opt.cuda_graph && !ex->prof_s && a->cuStreamBeginCapture && a->cuStreamEndCapture &&
           a->cuGraphInstantiateWithFlags && a->cuGraphLaunch && a->cuGraphDestroy && a->cuGraphExecDestroy;
}

/* The second step is captured (the first has warmed up cuBLAS), instantiated and launched; later
 * steps launch the graph. Nothing in a step's launches changes between steps (the dropout key is
 * read from the device), so a replay is the step. If capturing fails, every step runs launch by
 * launch. */
static int capture_step(RtGpuExec *ex, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    RtCudaApi *a = &gpu->api;
    RtStatus cst = {{0}};
    CUgraph graph = NULL;
    int rc = a->cuStreamBeginCapture(gpu->stream, 2 /* CU_STREAM_CAPTURE_MODE_RELAXED */) == 0 ? 0 : -1;
    if (rc == 0) {
        rc = gpu_enqueue_step(ex, &cst);
        if (a->cuStreamEndCapture(gpu->stream, &graph) != 0 || !graph) rc = -1;
        if (rc == 0 && a->cuGraphInstantiateWithFlags(&ex->gexec, graph, 0) != 0) rc = -1;
    }
    if (rc < 0) {
        if (graph) a->cuGraphDestroy(graph);
        ex->graph_state = -1;
        fprintf(stderr, "fn: the step could not be captured as a CUDA graph%s%s; it runs launch by launch\n",
                cst.msg[0] ? ": " : "", cst.msg);
        return gpu_enqueue_step(ex, st);
    }
    ex->graph = graph;
    ex->graph_state = 1;
    CHECK_CU(cuGraphLaunch(ex->gexec, gpu->stream));
    return 0;
}

int rt_gpu_exec_overlaps(const RtGpuExec *ex) { return ex->copy_stream != NULL; }

int rt_gpu_exec_stage(RtGpuExec *ex, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    const RtPlan *p = &ex->plan;
    ex->staged = 1;
    if (!ex->copy_stream) return 0; /* the launch copies them */
    /* after the last step took the inbox's contents (before any record, the wait is none) */
    CHECK_CU(cuStreamWaitEvent(ex->copy_stream, ex->inbox_free, 0));
    for (IrId id = 0; id < p->n; id++) {
        if (!ex->inbox[id]) continue;
        size_t bytes = (size_t)p->numel[id] * p->esize[id];
        if (ex->host_pinned[id]) CHECK_CU(cuMemcpyHtoDAsync(ex->inbox[id], ex->host[id], bytes, ex->copy_stream));
        else CHECK_CU(cuMemcpyHtoD(ex->inbox[id], ex->host[id], bytes));
    }
    CHECK_CU(cuEventRecord(ex->staged_ev, ex->copy_stream));
    CHECK_CU(cuStreamSynchronize(ex->copy_stream)); /* the host may refill its staging now */
    return 0;
}

/* the inputs into the step's buffers, on the step's stream: from the inbox (staged while the
 * last step ran), or straight from the host */
static int take_inputs(RtGpuExec *ex, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    const RtPlan *p = &ex->plan;
    if (ex->copy_stream) {
        if (!ex->staged && rt_gpu_exec_stage(ex, st) < 0) return -1;
        CHECK_CU(cuStreamWaitEvent(gpu->stream, ex->staged_ev, 0));
    }
    for (IrId id = 0; id < p->n; id++)
        if (p->needed[id] && ex->g->nodes[id].op == IR_OP_INPUT) {
            size_t bytes = (size_t)p->numel[id] * p->esize[id];
            if (ex->copy_stream) CHECK_CU(cuMemcpyDtoDAsync(ex->dev[id], ex->inbox[id], bytes, gpu->stream));
            else if (ex->host_pinned[id]) CHECK_CU(cuMemcpyHtoDAsync(ex->dev[id], ex->host[id], bytes, gpu->stream));
            else CHECK_CU(cuMemcpyHtoD(ex->dev[id], ex->host[id], bytes));
        }
    if (ex->copy_stream) {
        CHECK_CU(cuEventRecord(ex->inbox_free, gpu->stream));
    }
    ex->staged = 0;
    return 0;
}

int rt_gpu_exec_launch(RtGpuExec *ex, uint64_t seed, uint64_t step, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    const RtPlan *p = &ex->plan;
    if (take_inputs(ex, st) < 0) return -1;
    if (ex->seed_step_host) { /* page-locked: copied on the stream, after the last step's work */
        CHECK_CU(cuStreamSynchronize(gpu->stream)); /* the last step's copy has been read */
        ex->seed_step_host[0] = seed;
        ex->seed_step_host[1] = step;
        CHECK_CU(cuMemcpyHtoDAsync(ex->seed_step, ex->seed_step_host, 2 * sizeof(uint64_t), gpu->stream));
    } else {
        uint64_t seed_step[2] = {seed, step};
        CHECK_CU(cuMemcpyHtoD(ex->seed_step, seed_step, sizeof seed_step));
    }
    if (ex->prof_s && ex->runs == 1) { /* the first step warmed up (module loads, cuBLAS's first calls) */
        memset(ex->prof_s, 0, 2 * IR_OP_COUNT * sizeof *ex->prof_s);
        memset(ex->prof_calls, 0, 2 * IR_OP_COUNT * sizeof *ex->prof_calls);
        if (ex->prof_item_s) memset(ex->prof_item_s, 0, (size_t)ex->n_items * sizeof *ex->prof_item_s);
        gpu_conv_profile_clear(&ex->conv_prof);
        ex->prof_steps = 0;
    }
    ex->prof_steps++;
    int rc = ex->graph_state == 1                               ? (RT_CU(&gpu->api, st, cuGraphLaunch(ex->gexec, gpu->stream)))
             : ex->graph_state == 0 && ex->runs >= 1 && graphs_usable(ex) ? capture_step(ex, st)
                                                                          : gpu_enqueue_step(ex, st);
    if (rc < 0) return -1;
    ex->runs++;
    for (int i = 0; i < ex->g->n_effects; i++) ex->vars_stale |= p->needed[ex->g->effects[i]];
    return 0;
}

int rt_gpu_exec_wait(RtGpuExec *ex, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    CHECK_CU(cuStreamSynchronize(gpu->stream));
    return 0;
}

int rt_gpu_exec_run(RtGpuExec *ex, uint64_t seed, uint64_t step, RtStatus *st) {
    return rt_gpu_exec_launch(ex, seed, step, st) < 0 ? -1 : rt_gpu_exec_wait(ex, st);
}

const void *rt_gpu_exec_output(RtGpuExec *ex, const char *name, int64_t *n, int *rank, int64_t *dims,
                               RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    int k = rt_plan_output(ex->g, name);
    if (k < 0) {
        rt_fail(st, "the graph has no output named '%s'", name);
        return NULL;
    }
    IrId id = ex->g->outputs[k].id;
    const RtPlan *p = &ex->plan;
    if (!p->kept[id]) {
        rt_fail(st, "output '%s' was not requested when the executor was made", name);
        return NULL;
    }
    size_t bytes = (size_t)p->numel[id] * p->esize[id];
    if (!ex->host[id] && !(ex->host[id] = fn_malloc(bytes ? bytes : 1))) {
        rt_fail(st, "out of memory for output '%s'", name);
        return NULL;
    }
    if (RT_CU(&gpu->api, st, cuMemcpyDtoH(ex->host[id], ex->dev[id], bytes)) < 0) return NULL;
    if (n) *n = p->numel[id];
    if (rank) *rank = p->rank[id];
    if (dims) memcpy(dims, p->dims[id], sizeof p->dims[id]);
    return ex->host[id];
}

int rt_gpu_exec_upload_vars(RtGpuExec *ex, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    for (int v = 0; v < ex->vars->n; v++)
        if (ex->var_dev[v])
            CHECK_CU(cuMemcpyHtoD(ex->var_dev[v], ex->vars->v[v].data, (size_t)ex->vars->v[v].n * sizeof(float)));
    ex->vars_stale = 0;
    return 0;
}

int rt_gpu_exec_download_vars(RtGpuExec *ex, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    for (int v = 0; v < ex->vars->n; v++)
        if (ex->var_dev[v])
            CHECK_CU(cuMemcpyDtoH(ex->vars->v[v].data, ex->var_dev[v], (size_t)ex->vars->v[v].n * sizeof(float)));
    ex->vars_stale = 0;
    return 0;
}

/* ema's k-th average and the device address of it: the averages follow the store's averaged
 * variables in order (rt_ema_new), and each sits at its variable's offset in the averaged run */
static CUdeviceptr ema_at(const RtGpuExec *ex, int *vi) {
    while (!rt_var_is_averaged(&ex->vars->v[*vi])) ++*vi;
    return ex->ema + (ex->var_dev[*vi] - ex->avg0);
}

int rt_gpu_exec_ema_update(RtGpuExec *ex, RtVars *ema, double decay, int64_t t, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    if (ex->mod.k_ema < 0) return rt_fail(st, "this graph's GPU module has no moving-average kernel");
    if (!ex->ema) { /* the first update: the host's averages go to the device */
        if (gpu_reserve(ex, ex->avg_bytes ? ex->avg_bytes : ALIGN, "the moving averages", st) < 0) return -1;
        ex->bytes += ex->avg_bytes ? ex->avg_bytes : ALIGN;
        CHECK_CU(cuMemAlloc(&ex->ema, ex->avg_bytes ? ex->avg_bytes : ALIGN));
        CHECK_CU(cuMemsetD8Async(ex->ema, 0, ex->avg_bytes ? ex->avg_bytes : ALIGN, gpu->stream));
        for (int i = 0, vi = 0; i < ema->n; i++, vi++)
            CHECK_CU(cuMemcpyHtoD(ema_at(ex, &vi), ema->v[i].data, (size_t)ema->v[i].n * sizeof(float)));
    }
    double dec = rt_ema_decay(decay, t);
    float k = (float)(1 - dec);
    int64_t n = (int64_t)(ex->avg_bytes / sizeof(float));
    void *args[] = {&ex->ema, &ex->avg0, &n, &k};
    if (n > 0 && gpu_launch(ex, ex->mod.k_ema, n, args, st) < 0) return -1;
    ex->ema_stale = 1;
    return 0;
}

int rt_gpu_exec_sync_host(RtGpuExec *ex, RtVars *ema, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    CHECK_CU(cuStreamSynchronize(gpu->stream));
    if (ex->vars_stale && rt_gpu_exec_download_vars(ex, st) < 0) return -1;
    if (ema && ex->ema && ex->ema_stale) {
        for (int i = 0, vi = 0; i < ema->n; i++, vi++)
            CHECK_CU(cuMemcpyDtoH(ema->v[i].data, ema_at(ex, &vi), (size_t)ema->v[i].n * sizeof(float)));
        ex->ema_stale = 0;
    }
    return 0;
}

int rt_gpu_exec_half_values(const RtGpuExec *ex) { return ex->half_values; }

int rt_gpu_exec_views(const RtGpuExec *ex) { return ex->plan.n_views; }

int rt_gpu_exec_tails(const RtGpuExec *ex) {
    const PassFusion *f = &ex->plan.fusion;
    int n = 0;
    for (int gi = 0; f->tail && gi < f->n_groups; gi++) n += f->tail[gi] >= 0;
    return n;
}

const char *rt_gpu_exec_source(const RtGpuExec *ex) { return ex->mod.source; }

size_t rt_gpu_exec_bytes(const RtGpuExec *ex) { return ex->bytes; }

/* ---- the backend (runtime/core/exec.h) ------------------------------------------------------ */

static void *gpu_bind(const RtBackend *be, const IrGraph *g, RtVars *vars, const int64_t *sym, const char *const *want,
                      int n_want, int run_effects, RtStatus *st) {
    RtGpu *gpu = be->dev;
    if (pass_replicas_count(g, ~0u) && !gpu->nccl && rt_gpu_replicas(gpu, be->comm, st) < 0) return NULL;
    RtGpuExec *ex = rt_gpu_exec_new(be->dev, &be->opt, g, vars, sym, want, n_want, run_effects, st);
    if (ex) ex->rank = rt_comm_rank(be->comm);
    return ex;
}

static void gpu_free(void *x) { rt_gpu_exec_free(x); }

static void *gpu_input(void *x, const char *name, int64_t *n) { return rt_gpu_exec_input(x, name, n); }

static int gpu_run(void *x, uint64_t seed, uint64_t step, RtStatus *st) { return rt_gpu_exec_run(x, seed, step, st); }

/* launch, fill and stage the next inputs while the step runs, then wait (rt_exec_run_ahead) */
static int gpu_run_ahead(void *x, uint64_t seed, uint64_t step, int next, int (*fill)(void *, RtStatus *), void *ctx,
                         RtStatus *st) {
    RtGpuExec *ex = x;
    if (!rt_gpu_exec_overlaps(ex)) return rt_gpu_exec_run(ex, seed, step, st) < 0 ? -1 : 0;
    if (rt_gpu_exec_launch(ex, seed, step, st) < 0) return -1;
    if (next && (fill(ctx, st) < 0 || rt_gpu_exec_stage(ex, st) < 0)) return -1;
    return rt_gpu_exec_wait(ex, st) < 0 ? -1 : next;
}

static const void *gpu_output(void *x, const char *name, int64_t *n, int *rank, int64_t *dims, RtStatus *st) {
    return rt_gpu_exec_output(x, name, n, rank, dims, st);
}

static int gpu_upload(void *x, RtStatus *st) { return rt_gpu_exec_upload_vars(x, st); }

static int gpu_ema(void *x, RtVars *ema, double decay, int64_t t, RtStatus *st) {
    return rt_gpu_exec_ema_update(x, ema, decay, t, st);
}

static int gpu_sync(void *x, RtVars *ema, RtStatus *st) { return rt_gpu_exec_sync_host(x, ema, st); }

static size_t gpu_bytes(const void *x) { return rt_gpu_exec_bytes(x); }

static RtStreams gpu_streams(const void *x) { return rt_gpu_exec_streams(x); }

static void gpu_close(RtBackend *be) {
    rt_gpu_close(be->dev);
    be->dev = NULL;
}

static const RtBackendOps gpu_ops = {
    .bind = gpu_bind,
    .free = gpu_free,
    .input = gpu_input,
    .run = gpu_run,
    .run_ahead = gpu_run_ahead,
    .output = gpu_output,
    .upload_vars = gpu_upload,
    .ema_update = gpu_ema,
    .sync_host = gpu_sync,
    .bytes = gpu_bytes,
    .streams = gpu_streams,
    .close = gpu_close,
};

int rt_backend_gpu_open(RtBackend *be, const RtOptions *o, RtBackend *host, RtStatus *st) {
    memset(be, 0, sizeof *be);
    RtGpu *gpu = rt_gpu_open(o, st);
    if (!gpu) return -1;
    be->ops = &gpu_ops;
    be->dev = gpu;
    be->opt = *o;
    be->host = host;
    snprintf(be->name, sizeof be->name, "%s", gpu->name);
    return 0;
}
