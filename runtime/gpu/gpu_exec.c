/* See gpu_exec.h. Launch arguments follow the kernel signatures in codegen/cuda/cuda_kernels.h;
 * the per-op cases mirror runtime/exec_kernels.h. */
#include "runtime/gpu/gpu_exec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/cuda/cuda_emit.h"
#include "codegen/cuda/nvrtc.h"
#include "runtime/checkpoint.h"
#include "runtime/gpu/gpu_internal.h"
#include "runtime/plan.h"
#include "runtime/rt.h"

RtGpu *rt_gpu_open(RtStatus *st) {
    RtGpu *gpu = calloc(1, sizeof *gpu);
    CUdevice dev;
    int major = 0, minor = 0;
    if (rt_cuda_open(&gpu->api, st) < 0 || RT_CU(&gpu->api, st, cuDeviceGet(&dev, 0)) < 0 ||
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
    /* TF32 tensor-core GEMMs unless FN_GPU_TF32=0 (full float32, for the strict comparisons) */
    const char *tf = getenv("FN_GPU_TF32");
    gpu->tf32 = !(tf && strcmp(tf, "0") == 0) && gpu->api.cublasSetMathMode &&
                gpu->api.cublasSetMathMode(gpu->blas, CUBLAS_TF32_TENSOR_OP_MATH) == 0;
    snprintf(gpu->arch, sizeof gpu->arch, "sm_%d%d", major, minor);
    size_t len = strlen(gpu->name);
    snprintf(gpu->name + len, sizeof gpu->name - len, " (%s%s)", gpu->arch, gpu->tf32 ? ", TF32 GEMMs" : "");
    return gpu;
}

/* The cuBLAS handle and the stream go; the primary context and the libraries stay with the
 * process (another RtGpu may use them). */
void rt_gpu_close(RtGpu *gpu) {
    if (!gpu) return;
    if (gpu->api.cublasDestroy && gpu->blas) gpu->api.cublasDestroy(gpu->blas);
    if (gpu->api.cuStreamDestroy && gpu->stream) gpu->api.cuStreamDestroy(gpu->stream);
    if (gpu->workspace) gpu->api.cuMemFree(gpu->workspace);
    free(gpu);
}

const char *rt_gpu_name(const RtGpu *gpu) { return gpu->name; }

int rt_gpu_choose(const char *device, const char *what, RtGpu **gpu, FILE *log, RtStatus *st) {
    const char *d = device ? device : "cpu";
    *gpu = NULL;
    if (strcmp(d, "cpu") && strcmp(d, "gpu") && strcmp(d, "auto"))
        return rt_fail(st, "--device %s: one of cpu, gpu, auto", d);
    if (!strcmp(d, "cpu")) {
        fprintf(log, "Device: CPU\n");
        return 0;
    }
    RtStatus why;
    *gpu = rt_gpu_open(&why);
    if (*gpu) fprintf(log, "Device: %s (%s)\n", rt_gpu_name(*gpu), what);
    else if (!strcmp(d, "gpu")) return rt_fail(st, "--device gpu: %s", why.msg);
    else fprintf(log, "Device: CPU (%s)\n", why.msg);
    return 0;
}

/* ---- launches --------------------------------------------------------------------------------- */

/* a kernel whose blocks are laid out by the kernel itself: gx x gy blocks of bx x by threads */
static int launch_grid(RtGpuExec *ex, int kernel, int64_t gx, int64_t gy, int bx, int by, void **args, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    CHECK_CU(cuLaunchKernel(ex->fn[kernel], (unsigned)gx, (unsigned)gy, 1, (unsigned)bx, (unsigned)by, 1, 0, ex->cur->stream, args,
                            NULL));
    return 0;
}

static int launch(RtGpuExec *ex, int kernel, int64_t n, void **args, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    int64_t blocks = (n + THREADS - 1) / THREADS, cap = (int64_t)gpu->sm_count * 32;
    if (blocks > cap) blocks = cap; /* grid-stride loops cover the rest */
    if (blocks < 1) blocks = 1;
    CHECK_CU(cuLaunchKernel(ex->fn[kernel], (unsigned)blocks, 1, 1, THREADS, 1, 1, 0, ex->cur->stream, args, NULL));
    return 0;
}

/* y[j] = the sum over k rows of a[i*ny + j] (/ n_mean for a mean): few rows (a fused group's lane
 * partials, at most 8 x 1024) in one launch of fn_sum_lead_part, 8 row lanes per column; many
 * in two, the row splits' partial sums (fn_sum_lead_part), then their sum (fn_sum_lead). */
#define ONE_LAUNCH_ROWS 16384
static int sum_rows(RtGpuExec *ex, int k_part, int k_sum, CUdeviceptr y, CUdeviceptr a, int64_t ny, int64_t k, int mean,
                    int64_t n_mean, RtStatus *st) {
    int64_t splits, chunk, zero = 0;
    int plain = 0;
    cu_sum_splits(ex->gpu->sm_count, ny, k, &splits, &chunk);
    if (splits == 1 || k <= ONE_LAUNCH_ROWS) {
        void *args[] = {&y, &a, &ny, &k, &k, &mean, &n_mean};
        return launch_grid(ex, k_part, (ny + 31) / 32, 1, 32, 8, args, st);
    }
    void *part_args[] = {&ex->cur->part, &a, &ny, &k, &chunk, &plain, &zero};
    if (launch_grid(ex, k_part, (ny + 31) / 32, splits, 32, 8, part_args, st) < 0) return -1;
    void *args[] = {&y, &ex->cur->part, &ny, &splits, &mean, &n_mean};
    return launch(ex, k_sum, ny, args, st);
}

static int run_group(RtGpuExec *ex, int gi, RtStatus *st) {
    const CuGroup *cg = &ex->mod.groups[gi];
    const PassFusion *f = &ex->plan.fusion;
    const int64_t *numel = ex->plan.numel;
    int64_t n = numel[pass_fuse_domain(ex->g, f, gi)], len = cg->lay.inner > 0 ? cg->lay.inner : 1;
    CUdeviceptr ptr[PASS_MAX_SLOTS];
    void *args[PASS_MAX_SLOTS + 3] = {&n, &len};
    int na = 2;
    int64_t cols = 0, rows = 0, splits = 1, chunk = 0;
    if (cg->sums) {
        cu_group_shape(ex->gpu->sm_count, cg, n, &cols, &rows, &splits, &chunk);
        len = cols;
        args[na++] = &chunk;
    }
    size_t per_sum = (size_t)(splits * 8 * cols);
    for (int s = 0, t = 0; s < cg->lay.n_slots; s++) {
        ptr[s] = cg->lay.slot_kind[s] == PASS_SLOT_SUM ? ex->cur->gpart + (size_t)t++ * per_sum * sizeof(float)
                                                        : ex->dev[cg->lay.slot_node[s]];
        args[na++] = &ptr[s];
    }
    if (!cg->sums) return launch(ex, cg->kernel, n, args, st);
    if (launch_grid(ex, cg->kernel, (cols + 31) / 32, splits, 32, 8, args, st) < 0) return -1;
    for (int s = 0; s < cg->lay.n_slots; s++) { /* each sum: its lanes' partials, summed */
        if (cg->lay.slot_kind[s] != PASS_SLOT_SUM) continue;
        IrId id = cg->lay.slot_node[s];
        int64_t ny = numel[id], k = (int64_t)per_sum / ny;
        if (sum_rows(ex, ex->mod.k_sum_part, ex->mod.k_sum, ex->dev[id], ptr[s], ny, k, ex->g->nodes[id].attr.u.reduce.mean,
                     n / ny, st) < 0)
            return -1;
    }
    return 0;
}

/* Y[m,n] = op(A)[m,k] op(B)[k,n] (+ beta Y), row-major, through column-major cuBLAS (Y^T = op(B)^T op(A)^T) */
static int gemm(RtGpuExec *ex, CUdeviceptr a, CUdeviceptr b, CUdeviceptr y, int m, int n, int k, int ta, int tb,
                float beta, RtStatus *st) {
    const float one = 1;
    int r = ex->gpu->api.cublasSgemm(ex->cur->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m,
                                     k, &one, (const float *)b, tb ? k : n, (const float *)a, ta ? m : k, &beta,
                                     (float *)y, n);
    return r == 0 ? 0 : rt_fail(st, "cublasSgemm (%d x %d x %d) failed with status %d", m, n, k, r);
}

static int pointwise(const RefWindow *w) {
    return w->kh == 1 && w->kw == 1 && w->sh == 1 && w->sw == 1 && w->pad_t == 0 && w->pad_l == 0;
}

/* FN_PROFILE: the time since the last lap (the node's start) goes to the phase of this
 * convolution's shape, the stream synchronised; nothing without a profile. (A profile runs the
 * step on one stream, gpu->stream.) */
static int lap(RtGpuExec *ex, IrOp op, const RefWindow *w, int phase, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    if (!ex->prof_s) return 0;
    CHECK_CU(cuStreamSynchronize(gpu->stream));
    double now = rt_now();
    gpu_conv_profile_add(&ex->conv_prof, op, w, phase, now - ex->lap_t);
    ex->lap_t = now;
    return 0;
}

/* Images per im2col chunk: as many as keep the columns within FN_GPU_COL_MB (ex->col_bytes;
 * default 32, so that a chunk is read back while it is still in L2), at least one; the whole
 * batch when it is 0. */
static int col_images(const RtGpuExec *ex, const RefWindow *w) {
    size_t per = (size_t)w->oh * w->ow * w->kh * w->kw * w->c * sizeof(float);
    if (!ex->col_bytes || !per) return w->n;
    size_t k = ex->col_bytes / per;
    return k < 1 ? 1 : k > (size_t)w->n ? w->n : (int)k;
}

/* A convolution around a column matrix, a chunk of images at a time: forward, im2col(x) x w;
 * filter gradient, the chunks' im2col(x)^T x dy summed (beta 1 after the first); data gradient,
 * col2im(dy x w^T). a and b are the node's operands (x and w, x and dy, dy and w). */
static int conv_by_columns(RtGpuExec *ex, IrOp op, int k0, CUdeviceptr a, CUdeviceptr b, CUdeviceptr y, const RefWindow *w,
                           RtStatus *st) {
    int per = col_images(ex, w), K = w->kh * w->kw * w->c;
    size_t in_img = (size_t)w->h * w->w * w->c * sizeof(float), out_img = (size_t)w->oh * w->ow * w->o * sizeof(float);
    CUdeviceptr col = ex->cur->scratch;
    for (int b0 = 0; b0 < w->n; b0 += per) {
        RefWindow c = *w;
        c.n = per < w->n - b0 ? per : w->n - b0;
        int M = c.n * c.oh * c.ow, rc;
        if (op == IR_OP_CONV2D_BWD_DATA) {
            CUdeviceptr dx = y + b0 * in_img;
            void *args[] = {&dx, &col, &c};
            if (gemm(ex, a + b0 * out_img, b, col, M, K, w->o, 0, 1, 0, st) < 0 || lap(ex, op, w, GPU_CONV_GEMM, st) < 0 ||
                launch(ex, k0, (int64_t)c.n * c.h * c.w * c.c, args, st) < 0 || lap(ex, op, w, GPU_CONV_COL2IM, st) < 0)
                return -1;
            continue;
        }
        CUdeviceptr x = a + b0 * in_img;
        void *args[] = {&col, &x, &c}; /* a thread per output pixel and channel */
        if (launch(ex, k0, (int64_t)M * c.c, args, st) < 0 || lap(ex, op, w, GPU_CONV_IM2COL, st) < 0) return -1;
        if (op == IR_OP_CONV2D) rc = gemm(ex, col, b, y + b0 * out_img, M, w->o, K, 0, 0, 0, st); /* [M,K] x [K,O] */
        else rc = gemm(ex, col, b + b0 * out_img, y, K, w->o, M, 1, 0, b0 ? 1 : 0, st);          /* col^T x dy */
        if (rc < 0 || lap(ex, op, w, GPU_CONV_GEMM, st) < 0) return -1;
    }
    return 0;
}

int gpu_run_node(RtGpuExec *ex, IrId id, RtStatus *st) {
    const IrNode *n = &ex->g->nodes[id];
    const RtPlan *p = &ex->plan;
    const CuNodePlan *cp = &ex->mod.plan[id];
    CUdeviceptr y = ex->dev[id], a = n->n_in > 0 ? ex->dev[n->in[0]] : 0, b = n->n_in > 1 ? ex->dev[n->in[1]] : 0;
    int64_t ny = p->numel[id], na = n->n_in > 0 ? p->numel[n->in[0]] : 0, nb = n->n_in > 1 ? p->numel[n->in[1]] : 0;
    const int64_t *yd = p->dims[id];
    int yr = p->rank[id];
    float f = (float)n->attr.u.scalar.f;
    int k0 = cp->n_kernels ? cp->kernel[0] : -1;
    RefWindow w;
    if (cp->work == CU_FUSED) return run_group(ex, cp->group, st);
    if (cp->work == CU_NOTHING || n->op == IR_OP_CONST) return 0; /* constants are filled once */
    switch (ir_op_info[n->op].cls) {
    case IR_CLASS_ELEMENTWISE:
        if (n->n_in == 1) {
            void *args[] = {&y, &a, &ny, &f};
            return launch(ex, k0, ny, args, st);
        } else {
            void *args[] = {&y, &a, &b, &ny, &na, &nb};
            return launch(ex, k0, ny, args, st);
        }
    default: break;
    }
    const IrReduceAttr *ra = &n->attr.u.reduce;
    int mean = ra->mean;
    switch (n->op) {
    case IR_OP_RESHAPE: {
        if (y == a) return 0; /* fused plans: the reshape shares its input's block */
        void *args[] = {&y, &a, &ny};
        return launch(ex, k0, ny, args, st);
    }
    case IR_OP_SUM: return sum_rows(ex, k0, cp->kernel[1], y, a, ny, na / ny, mean, na / ny, st);
    case IR_OP_SUMLAST: {
        int64_t c = na / ny;
        void *args[] = {&y, &a, &ny, &c, &mean};
        if (c < 64) return launch(ex, k0, ny, args, st);
        int64_t blocks = ny < (int64_t)ex->gpu->sm_count * 16 ? ny : (int64_t)ex->gpu->sm_count * 16;
        return launch_grid(ex, cp->kernel[1], blocks, 1, 256, 1, args, st);
    }
    case IR_OP_BCAST: {
        float s = mean ? (float)na / (float)ny : 1.f;
        void *args[] = {&y, &a, &ny, &na, &s};
        return launch(ex, k0, ny, args, st);
    }
    case IR_OP_BCASTLAST: {
        int64_t c = yd[yr - 1];
        void *args[] = {&y, &a, &na, &c, &mean};
        return launch(ex, k0, ny, args, st);
    }
    case IR_OP_SLICE:
    case IR_OP_CONCAT: {
        int ax = n->attr.u.axis.axis;
        int64_t outer, inner;
        rt_plan_axis(p, id, ax, &outer, &inner);
        if (n->op == IR_OP_SLICE) {
            int64_t src_ax = p->dims[n->in[0]][ax], len = yd[ax], start = n->attr.u.axis.start;
            void *args[] = {&y, &a, &outer, &src_ax, &len, &start, &inner};
            return launch(ex, k0, ny, args, st);
        }
        int64_t off = 0, y_ax = yd[ax];
        for (int k = 0; k < n->n_in; k++) {
            CUdeviceptr x = ex->dev[n->in[k]];
            int64_t len = p->dims[n->in[k]][ax];
            void *args[] = {&y, &x, &outer, &y_ax, &off, &len, &inner};
            if (launch(ex, k0, outer * len * inner, args, st) < 0) return -1;
            off += len;
        }
        return 0;
    }
    case IR_OP_MATMUL: {
        const IrMatmulAttr *m = &n->attr.u.matmul;
        const int64_t *ad = p->dims[n->in[0]];
        return gemm(ex, a, b, y, (int)yd[0], (int)yd[1], (int)(m->ta ? ad[0] : ad[1]), m->ta, m->tb, 0, st);
    }
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_BWD_FILTER:
    case IR_OP_CONV2D_BWD_DATA: {
        rt_plan_window(p, id, &w);
        if (ex->prof_s) gpu_conv_profile_add(&ex->conv_prof, n->op, &w, GPU_CONV_GEMM, 0)->calls++;
        if (!pointwise(&w)) return conv_by_columns(ex, n->op, k0, a, b, y, &w, st);
        int M = w.n * w.oh * w.ow, rc; /* 1x1, stride 1: x is the column matrix */
        if (n->op == IR_OP_CONV2D) rc = gemm(ex, a, b, y, M, w.o, w.c, 0, 0, 0, st);           /* [M,C] x [C,O] */
        else if (n->op == IR_OP_CONV2D_BWD_FILTER) rc = gemm(ex, a, b, y, w.c, w.o, M, 1, 0, 0, st); /* x^T x dy */
        else rc = gemm(ex, a, b, y, M, w.c, w.o, 0, 1, 0, st);                                   /* dy x w^T */
        return rc < 0 ? -1 : lap(ex, n->op, &w, GPU_CONV_GEMM, st);
    }
    case IR_OP_MAXPOOL:
    case IR_OP_AVGPOOL: {
        rt_plan_window(p, id, &w);
        void *args[] = {&y, &a, &w};
        return launch(ex, k0, ny, args, st);
    }
    case IR_OP_MAXPOOL_GRAD: {
        rt_plan_window(p, id, &w);
        void *args[] = {&y, &a, &b, &w};
        return launch(ex, k0, ny, args, st);
    }
    case IR_OP_AVGPOOL_GRAD: {
        rt_plan_window(p, id, &w);
        void *args[] = {&y, &a, &w};
        return launch(ex, k0, ny, args, st);
    }
    case IR_OP_SOFTMAX:
    case IR_OP_L2NORM:
    case IR_OP_L2NORM_GRAD: {
        int64_t cols = yd[yr - 1], rows = ny / cols;
        double eps = n->attr.u.scalar.f;
        void *sm[] = {&y, &a, &rows, &cols}, *l2[] = {&y, &a, &rows, &cols, &eps}, *l2g[] = {&y, &a, &b, &rows, &cols, &eps};
        return launch(ex, k0, rows, n->op == IR_OP_SOFTMAX ? sm : n->op == IR_OP_L2NORM ? l2 : l2g, st);
    }
    case IR_OP_SOFTMAX_XENT:
    case IR_OP_ACCURACY: {
        int64_t rows = p->dims[n->in[0]][0], cols = p->dims[n->in[0]][1];
        void *args[] = {&y, &a, &b, &rows, &cols};
        return launch(ex, k0, n->op == IR_OP_ACCURACY ? 1 : rows, args, st);
    }
    case IR_OP_SOFTMAX_XENT_GRAD: {
        CUdeviceptr g = ex->dev[n->in[2]];
        int64_t rows = yd[0], cols = yd[1];
        void *args[] = {&y, &a, &b, &g, &rows, &cols};
        return launch(ex, k0, rows, args, st);
    }
    case IR_OP_DROPOUT_MASK: { /* key rt_hash(seed, step, salt) on the device */
        uint64_t salt = 0xd50u + (uint64_t)id;
        void *args[] = {&y, &b, &ny, &ex->seed_step, &salt};
        return launch(ex, k0, ny, args, st);
    }
    case IR_OP_GATHER: {
        int64_t rows_out = yd[0], rows = p->dims[n->in[0]][0], e = yd[1];
        void *args[] = {&y, &a, &b, &rows_out, &rows, &e};
        return launch(ex, k0, ny, args, st);
    }
    case IR_OP_SCATTER_ADD: {
        int64_t n_in = p->dims[n->in[0]][0], rows = yd[0], e = yd[1];
        void *args[] = {&y, &a, &b, &n_in, &rows, &e};
        return launch(ex, k0, ny, args, st);
    }
    default: return rt_fail(st, "the GPU executor has no launch for op %s", ir_op_info[n->op].name);
    }
}

/* ---- setup ----------------------------------------------------------------------------------- */

static size_t up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

void gpu_node_scratch(const RtGpuExec *ex, IrId id, int64_t need[3]) {
    const RtPlan *p = &ex->plan;
    const IrGraph *g = ex->g;
    const CuNodePlan *cp = &ex->mod.plan[id];
    int sm = ex->gpu->sm_count;
    IrOp op = g->nodes[id].op;
    int64_t splits, chunk;
    need[0] = need[1] = need[2] = 0;
    if (!p->needed[id]) return;
    if (cp->work == CU_FUSED) {
        const CuGroup *cg = &ex->mod.groups[cp->group];
        if (!cg->sums) return;
        int64_t cols, rows, gsplits, gchunk;
        cu_group_shape(sm, cg, p->numel[pass_fuse_domain(g, &p->fusion, cp->group)], &cols, &rows, &gsplits, &gchunk);
        int64_t per_sum = gsplits * 8 * cols;
        need[2] = cg->sums * per_sum;
        for (int s = 0; s < cg->lay.n_slots; s++)
            if (cg->lay.slot_kind[s] == PASS_SLOT_SUM) { /* as sum_rows finishes it */
                int64_t ny = p->numel[cg->lay.slot_node[s]], k = per_sum / ny;
                cu_sum_splits(sm, ny, k, &splits, &chunk);
                if (k > ONE_LAUNCH_ROWS && splits * ny > need[1]) need[1] = splits * ny;
            }
    } else if (op == IR_OP_SUM) {
        int64_t ny = p->numel[id], k = p->numel[g->nodes[id].in[0]] / ny;
        cu_sum_splits(sm, ny, k, &splits, &chunk);
        need[1] = k > ONE_LAUNCH_ROWS && splits > 1 ? splits * ny : 0;
    } else if (op == IR_OP_CONV2D || op == IR_OP_CONV2D_BWD_FILTER || op == IR_OP_CONV2D_BWD_DATA) {
        RefWindow w;
        rt_plan_window(p, id, &w);
        if (!pointwise(&w)) need[0] = (int64_t)col_images(ex, &w) * w.oh * w.ow * w.kh * w.kw * w.c;
    }
}

/* n bytes as "1.23 GB" or, under a GB, "45.6 MB" */
static void bytes_text(char *out, size_t cap, double n) {
    if (n >= 1e9) snprintf(out, cap, "%.2f GB", n / 1e9);
    else snprintf(out, cap, "%.1f MB", n / 1e6);
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

static int setup(RtGpuExec *ex, double fraction, RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    const RtPlan *p = &ex->plan;
    const IrGraph *g = ex->g;
    /* the module (emitted by the caller), compiled for this card (or found in the kernel cache)
       and loaded */
    char err[512];
    void *cubin;
    size_t n_cubin;
    int hit;
    char *log;
    int rc = cu_compile_cached(ex->mod.source, gpu->arch, NULL, &cubin, &n_cubin, &hit, &log, err, sizeof err);
    if (rc < 0) {
        rt_fail(st, "%s%s%s", err, log && *log ? ":\n" : "", log ? log : "");
        free(log);
        return -1;
    }
    free(log);
    rc = RT_CU(&gpu->api, st, cuModuleLoadData(&ex->cumod, cubin));
    free(cubin);
    if (rc < 0) return -1;
    ex->fn = calloc((size_t)ex->mod.n_names + 1, sizeof *ex->fn);
    for (int i = 0; i < ex->mod.n_names; i++) CHECK_CU(cuModuleGetFunction(&ex->fn[i], ex->cumod, ex->mod.names[i]));
    /* one slab: planned blocks (packed by the plan when it is fused), variables, im2col
       scratch, partial sums */
    size_t *block_off = calloc((size_t)p->n_blocks + 1, sizeof *block_off), total = 0;
    for (int b = 0; b < p->n_blocks; b++) {
        block_off[b] = p->block_off ? p->block_off[b] : total;
        total += p->block_off ? 0 : up(p->block_bytes[b]);
    }
    if (p->block_off) total = up(p->slab_bytes);
    /* the variables the graph reads (all of them for a training graph, whose store the moving
       averages mirror): an eval graph leaves the optimiser's slots on the host */
    char *used = calloc((size_t)ex->vars->n + 1, 1);
    for (IrId id = 0; id < p->n; id++)
        if (p->needed[id] && (g->nodes[id].op == IR_OP_PARAM || g->nodes[id].op == IR_OP_STATE))
            used[rt_vars_find(ex->vars, ir_str(g, g->nodes[id].attr.u.leaf.name)) - ex->vars->v] = 1;
    for (int v = 0; v < ex->vars->n; v++) used[v] |= g->n_effects > 0;
    size_t *var_off = calloc((size_t)ex->vars->n + 1, sizeof *var_off), avg0 = total;
    for (int pass = 0; pass < 2; pass++) /* the averaged variables first, in one run */
        for (int v = 0; v < ex->vars->n; v++) {
            if (!used[v] || rt_var_is_averaged(&ex->vars->v[v]) != !pass) continue;
            var_off[v] = total;
            total += up((size_t)ex->vars->v[v].n * sizeof(float));
            if (!pass) ex->avg_bytes = total - avg0;
        }
    /* the largest im2col chunk, splits x ny of the sums, and groups' partials */
    int64_t col_n = 1, part_n = 1, gpart_n = 1;
    for (IrId id = 0; id < p->n; id++) {
        int64_t need[3];
        gpu_node_scratch(ex, id, need);
        if (need[0] > col_n) col_n = need[0];
        if (need[1] > part_n) part_n = need[1];
        if (need[2] > gpart_n) gpart_n = need[2];
    }
    size_t scratch_off = total;
    total += up((size_t)col_n * sizeof(float));
    size_t part_off = total;
    total += up((size_t)part_n * sizeof(float));
    size_t gpart_off = total;
    total += up((size_t)gpart_n * sizeof(float));
    size_t seed_step_off = total;
    total += up(2 * sizeof(uint64_t));
    /* a training step's inputs' inbox: where the next step's inputs land while a step runs (with
       events and page-locked staging) */
    const RtCudaApi *api = &gpu->api;
    int overlap = g->n_effects > 0 && api->cuEventCreate && api->cuEventRecord && api->cuStreamWaitEvent &&
                  api->cuMemcpyHtoDAsync && api->cuMemAllocHost && api->cuMemFreeHost;
    size_t *inbox_off = calloc((size_t)p->n + 1, sizeof *inbox_off);
    for (IrId id = 0; id < p->n && overlap; id++)
        if (p->needed[id] && g->nodes[id].op == IR_OP_INPUT) {
            inbox_off[id] = total;
            total += up((size_t)p->numel[id] * p->esize[id] + 1);
        }
    ex->fraction = fraction;
    if (gpu_reserve(ex, total, "the step", st) < 0) {
        free(inbox_off);
        free(block_off);
        free(var_off);
        free(used);
        return -1;
    }
    rc = RT_CU(&gpu->api, st, cuMemAlloc(&ex->slab, total));
    ex->bytes = total;
    if (rc < 0) gpu->held -= total;
    ex->dev = calloc((size_t)p->n + 1, sizeof *ex->dev);
    ex->var_dev = calloc((size_t)ex->vars->n + 1, sizeof *ex->var_dev);
    ex->host = calloc((size_t)p->n + 1, sizeof *ex->host);
    ex->host_pinned = calloc((size_t)p->n + 1, 1);
    ex->pinned = gpu->api.cuMemAllocHost && gpu->api.cuMemFreeHost && gpu->api.cuMemcpyHtoDAsync;
    if (ex->pinned && gpu->api.cuMemAllocHost((void **)&ex->seed_step_host, 2 * sizeof(uint64_t)) != 0)
        ex->seed_step_host = NULL;
    for (IrId id = 0; id < p->n && rc == 0; id++)
        if (p->block_of[id] >= 0) ex->dev[id] = ex->slab + block_off[p->block_of[id]];
    for (int v = 0; v < ex->vars->n && rc == 0; v++) {
        if (!used[v]) continue; /* var_dev 0: not on the device */
        ex->var_dev[v] = ex->slab + var_off[v];
        rc = RT_CU(&gpu->api, st, cuMemcpyHtoD(ex->var_dev[v], ex->vars->v[v].data, (size_t)ex->vars->v[v].n * sizeof(float)));
    }
    free(used);
    ex->avg0 = ex->slab + avg0;
    ex->queue[0] = (GpuQueue){.stream = gpu->stream, .blas = gpu->blas, .scratch = ex->slab + scratch_off,
                              .part = ex->slab + part_off, .gpart = ex->slab + gpart_off, .used = 1};
    ex->cur = &ex->queue[0];
    ex->seed_step = ex->slab + seed_step_off;
    ex->inbox = calloc((size_t)p->n + 1, sizeof *ex->inbox);
    for (IrId id = 0; id < p->n && rc == 0; id++)
        if (inbox_off[id]) ex->inbox[id] = ex->slab + inbox_off[id];
    free(inbox_off);
    free(block_off);
    free(var_off);
    for (IrId id = 0; id < p->n && rc == 0; id++) { /* variables' nodes read the store's device copy */
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
            else ex->host[id] = calloc(bytes ? bytes : 1, 1);
        } else if (nd->op == IR_OP_CONST) {
            float f = (float)nd->attr.u.scalar.f;
            int64_t cnt = p->numel[id];
            void *args[] = {&ex->dev[id], &cnt, &f};
            rc = launch(ex, ex->mod.plan[id].kernel[0], cnt, args, st);
        }
    }
    for (IrId id = 0; id < p->n; id++) /* values computed straight into their variables */
        if (p->assign_to && p->assign_to[id] != IR_NONE) ex->dev[id] = ex->dev[p->assign_to[id]];
    for (IrId id = 0; id < p->n; id++) /* the inbox is filled asynchronously from page-locked staging only */
        if (ex->inbox[id] && !ex->host_pinned[id]) overlap = 0;
    if (overlap && rc == 0 &&
        (RT_CU(api, st, cuStreamCreate(&ex->copy_stream, 1 /* non-blocking */)) < 0 ||
         RT_CU(api, st, cuEventCreate(&ex->staged_ev, 2 /* no timing */)) < 0 ||
         RT_CU(api, st, cuEventCreate(&ex->inbox_free, 2)) < 0))
        rc = -1;
    return rc;
}

/* The plan and the module: fused (FN_FUSE unset or not 0) when every group can be written as a
 * kernel, else a kernel per op. */
static int plan_and_emit(RtGpuExec *ex, const int64_t *sym, const char *const *want, int n_want, int run_effects,
                         RtStatus *st) {
    char err[512];
    if (rt_exec_fusion_enabled()) {
        if (rt_plan_build(&ex->plan, ex->g, sym, want, n_want, run_effects, 4, RT_PLAN_FUSE | RT_PLAN_IM2COL | RT_PLAN_ASSIGN,
                          st) < 0)
            return -1;
        if (cu_emit_fused(ex->g, &ex->plan.fusion, ex->plan.numel, &ex->mod, err, sizeof err) == 0) return 0;
        fprintf(stderr, "fn: the GPU runs this graph unfused: %s\n", err);
        rt_plan_free(&ex->plan);
    }
    if (rt_plan_build(&ex->plan, ex->g, sym, want, n_want, run_effects, 4, 0, st) < 0) return -1;
    if (cu_emit_graph(ex->g, &ex->mod, err, sizeof err) < 0) return rt_fail(st, "%s", err);
    return 0;
}

RtGpuExec *rt_gpu_exec_new(RtGpu *gpu, const IrGraph *g, RtVars *vars, const int64_t *sym,
                           const char *const *want, int n_want, int run_effects, double memory_fraction,
                           RtStatus *st) {
    if (vars->prec != 4) {
        rt_fail(st, "the GPU runs float32 variables");
        return NULL;
    }
    RtGpuExec *ex = calloc(1, sizeof *ex);
    ex->gpu = gpu;
    ex->g = g;
    ex->vars = vars;
    const char *col_mb = getenv("FN_GPU_COL_MB");
    double mb = col_mb && *col_mb ? atof(col_mb) : 32;
    ex->col_bytes = mb > 0 ? (size_t)(mb * 1048576) : 0;
    if (rt_vars_bind(vars, g, sym, st) < 0 || plan_and_emit(ex, sym, want, n_want, run_effects, st) < 0 ||
        setup(ex, memory_fraction > 0 ? memory_fraction : 1, st) < 0) {
        rt_gpu_exec_free(ex);
        return NULL;
    }
    const char *prof = getenv("FN_PROFILE");
    if (prof && *prof && strcmp(prof, "0") != 0) {
        ex->prof_s = calloc(2 * IR_OP_COUNT, sizeof *ex->prof_s); /* ops alone, then groups by last op */
        ex->prof_calls = calloc(2 * IR_OP_COUNT, sizeof *ex->prof_calls);
    }
    if (gpu_queues_plan(ex, st) < 0) {
        rt_gpu_exec_free(ex);
        return NULL;
    }
    return ex;
}

void rt_gpu_exec_free(RtGpuExec *ex) {
    if (!ex) return;
    if (ex->ema) ex->gpu->api.cuMemFree(ex->ema);
    if (ex->prof_s) {
        fprintf(stderr, "GPU profile (each node synchronised): %lld steps of %s\n", (long long)ex->prof_steps, ex->gpu->name);
        rt_profile_print(ex->prof_s, ex->prof_calls, 2 * IR_OP_COUNT, ex->prof_steps);
        gpu_conv_profile_print(&ex->conv_prof, ex->prof_steps, 40, stderr);
    }
    gpu_conv_profile_free(&ex->conv_prof);
    gpu_queues_free(ex);
    free(ex->prof_s);
    free(ex->prof_calls);
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
 * per-node profile is being taken, and FN_CUDA_GRAPH is not 0. */
static int graphs_usable(const RtGpuExec *ex) {
    const RtCudaApi *a = &ex->gpu->api;
    const char *e = getenv("FN_CUDA_GRAPH");
    return !(e && strcmp(e, "0") == 0) && !ex->prof_s && a->cuStreamBeginCapture && a->cuStreamEndCapture &&
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
    if (ex->inbox_used) CHECK_CU(cuStreamWaitEvent(ex->copy_stream, ex->inbox_free, 0));
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
        ex->inbox_used = 1;
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
    if (!ex->host[id]) ex->host[id] = malloc(bytes ? bytes : 1);
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
    double dec = fmin(decay, (1.0 + (double)t) / (10.0 + (double)t)); /* as rt_ema_update */
    float k = (float)(1 - dec);
    int64_t n = (int64_t)(ex->avg_bytes / sizeof(float));
    void *args[] = {&ex->ema, &ex->avg0, &n, &k};
    if (n > 0 && launch(ex, ex->mod.k_ema, n, args, st) < 0) return -1;
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

size_t rt_gpu_exec_bytes(const RtGpuExec *ex) { return ex->bytes; }
