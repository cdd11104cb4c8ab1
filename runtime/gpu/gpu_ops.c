/* See gpu_internal.h: the launches of one node's work (a fused group, an op's kernels, the
 * cuBLAS GEMMs of matmuls and convolutions around their im2col / col2im chunks, the sums'
 * finishing) on the current stream, and the scratch each node takes. Launch arguments follow
 * the kernel signatures in the .cu files of codegen/cuda/kernels; the per-op cases mirror
 * runtime/cpu/exec_kernels.h. */
#include <stdlib.h>

#include "runtime/gpu/gpu_internal.h"
#include "runtime/core/rt.h"

/* a kernel whose blocks are laid out by the kernel itself: gx x gy blocks of bx x by threads */
static int launch_grid3(RtGpuExec *ex, int kernel, int64_t gx, int64_t gy, int64_t gz, int bx, int by, void **args,
                        RtStatus *st) {
    RtGpu *gpu = ex->gpu;
    CHECK_CU(cuLaunchKernel(ex->fn[kernel], (unsigned)gx, (unsigned)gy, (unsigned)gz, (unsigned)bx, (unsigned)by, 1, 0,
                            ex->cur->stream, args, NULL));
    return 0;
}

static int launch_grid(RtGpuExec *ex, int kernel, int64_t gx, int64_t gy, int bx, int by, void **args, RtStatus *st) {
    return launch_grid3(ex, kernel, gx, gy, 1, bx, by, args, st);
}

/* blocks of 8 rows (a warp each) for the cross-entropy's row kernels, at most 8 a multiprocessor */
static int64_t row_blocks(const RtGpuExec *ex, int64_t rows) {
    int64_t b = (rows + 7) / 8, most = 8 * (int64_t)ex->gpu->sm_count;
    return b < 1 ? 1 : b > most ? most : b;
}

int gpu_launch(RtGpuExec *ex, int kernel, int64_t n, void **args, RtStatus *st) {
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
/* how sum_rows splits k rows of ny: the row splits and their rows, 1 split (one launch) when the
 * rows are few; the partials' floats in the stream's `part` */
static int64_t sum_plan(int sm_count, int64_t ny, int64_t k, int64_t *splits, int64_t *chunk) {
    cu_sum_splits(sm_count, ny, k, splits, chunk);
    if (k <= ONE_LAUNCH_ROWS) *splits = 1, *chunk = k;
    return *splits > 1 ? *splits * ny : 0;
}

static int sum_rows(RtGpuExec *ex, int k_part, int k_sum, CUdeviceptr y, CUdeviceptr a, int64_t ny, int64_t k, int mean,
                    int64_t n_mean, RtStatus *st) {
    int64_t splits, chunk, zero = 0;
    int plain = 0;
    if (!sum_plan(ex->gpu->sm_count, ny, k, &splits, &chunk)) {
        void *args[] = {&y, &a, &ny, &k, &k, &mean, &n_mean};
        return launch_grid(ex, k_part, (ny + 31) / 32, 1, 32, 8, args, st);
    }
    void *part_args[] = {&ex->cur->part, &a, &ny, &k, &chunk, &plain, &zero};
    if (launch_grid(ex, k_part, (ny + 31) / 32, splits, 32, 8, part_args, st) < 0) return -1;
    void *args[] = {&y, &ex->cur->part, &ny, &splits, &mean, &n_mean};
    return gpu_launch(ex, k_sum, ny, args, st);
}

/* fn_sum_lead_multi's argument (the prelude's FnSums, laid out alike) */
typedef struct {
    CUdeviceptr y, a;
    int64_t ny, k, n_mean;
    int32_t mean, pad;
} GpuSum;
typedef struct {
    GpuSum s[CU_MAX_SUMS];
} GpuSums;

/* (run_group's test, and gpu_tails.c's) */
int gpu_group_finishes(int sm_count, const PassFuseLayout *lay, const int64_t *numel, int64_t n) {
    int64_t cols, rows, splits, chunk, sp, ch;
    int sums = 0;
    for (int s = 0; s < lay->n_slots; s++) sums += lay->slot_kind[s] == PASS_SLOT_SUM;
    cu_group_shape(sm_count, lay, n, &cols, &rows, &splits, &chunk);
    if (!sums || sums > CU_MAX_SUMS || (cols + 31) / 32 > GPU_TICKETS) return 0;
    for (int s = 0; s < lay->n_slots; s++) {
        if (lay->slot_kind[s] != PASS_SLOT_SUM) continue;
        int64_t ny = numel[lay->slot_node[s]];
        if (sum_plan(sm_count, ny, splits * 8 * cols / ny, &sp, &ch) || (ny != cols && cols > 32)) return 0;
    }
    return 1;
}

static int run_group(RtGpuExec *ex, int gi, RtStatus *st) {
    const CuGroup *cg = &ex->mod.groups[gi];
    const PassFusion *f = &ex->plan.fusion;
    const int64_t *numel = ex->plan.numel;
    const RtPlan *p = &ex->plan;
    IrId d = pass_fuse_domain(ex->g, f, gi);
    int64_t n = numel[d], len = cg->lay.inner > 0 ? cg->lay.inner : 1, wid = rt_plan_width(p, d); /* wid: the views' */
    CUdeviceptr ptr[PASS_MAX_SLOTS], tail[PASS_MAX_SLOTS];
    void *args[3 * PASS_MAX_SLOTS + 7] = {&n, &len};
    int na = 2;
    int64_t cols = 0, rows = 0, splits = 1, chunk = 0;
    if (cg->sums) {
        cu_group_shape(ex->gpu->sm_count, &cg->lay, n, &cols, &rows, &splits, &chunk);
        len = cols;
        args[na++] = &chunk;
    } else if (cg->strided) {
        args[na++] = &wid;
    }
    size_t per_sum = (size_t)(splits * 8 * cols);
    for (int s = 0, t = 0; s < cg->lay.n_slots; s++) { /* a view's pointer, then its row stride */
        IrId x = cg->lay.slot_node[s];
        int kind = cg->lay.slot_kind[s];
        ptr[s] = kind == PASS_SLOT_SUM ? ex->cur->gpart + (size_t)t++ * per_sum * sizeof(float) : ex->dev[x];
        args[na++] = &ptr[s];
        if ((kind == PASS_SLOT_FULL || kind == PASS_SLOT_OUT) && p->view_of[x] != IR_NONE) args[na++] = &p->row_stride[x];
    }
    if (!cg->sums) return gpu_launch(ex, cg->kernel, n / cg->vec, args, st);
    /* each sum: its lanes' partials, summed; those that take one split in one launch together, or
       by the group's own last blocks where every sum does and runs along the columns (or the
       group has one column block) */
    GpuSums one = {0};
    int n_one = 0, fin = 0;
    char in_one[PASS_MAX_SLOTS] = {0};
    int64_t most = 0;
    for (int s = 0; s < cg->lay.n_slots; s++) {
        if (cg->lay.slot_kind[s] != PASS_SLOT_SUM) continue;
        IrId id = cg->lay.slot_node[s];
        int64_t ny = numel[id], k = (int64_t)per_sum / ny, sp, ch;
        int mean = ex->g->nodes[id].attr.u.reduce.mean;
        if (ex->mod.k_sum_multi >= 0 && n_one < CU_MAX_SUMS && !sum_plan(ex->gpu->sm_count, ny, k, &sp, &ch)) {
            one.s[n_one++] = (GpuSum){ex->dev[id], ptr[s], ny, k, n / ny, mean, 0};
            in_one[s] = 1;
            if (ny > most) most = ny;
        }
    }
    if (n_one == cg->sums && gpu_group_finishes(ex->gpu->sm_count, &cg->lay, numel, n)) fin = n_one;
    args[na++] = &ex->cur->tickets;
    args[na++] = &one;
    args[na++] = &fin;
    if (cg->tail >= 0 && !fin) return rt_fail(st, "fused group %d: a tail, but its sums finish apart", gi);
    for (int s = 0; cg->tail >= 0 && s < cg->tail_lay.n_slots; s++) { /* the tail's slots (gpu_tails.c) */
        tail[s] = ex->dev[cg->tail_lay.slot_node[s]];
        args[na++] = &tail[s];
    }
    if (launch_grid(ex, cg->kernel, (cols + 31) / 32, splits, 32, 8, args, st) < 0) return -1;
    if (fin) return 0;
    for (int s = 0; s < cg->lay.n_slots; s++) { /* the others, one at a time */
        if (cg->lay.slot_kind[s] != PASS_SLOT_SUM || in_one[s]) continue;
        IrId id = cg->lay.slot_node[s];
        int64_t ny = numel[id], k = (int64_t)per_sum / ny;
        if (sum_rows(ex, ex->mod.k_sum_part, ex->mod.k_sum, ex->dev[id], ptr[s], ny, k, ex->g->nodes[id].attr.u.reduce.mean,
                     n / ny, st) < 0)
            return -1;
    }
    if (n_one == 1) {
        GpuSum *q = &one.s[0];
        return sum_rows(ex, ex->mod.k_sum_part, ex->mod.k_sum, q->y, q->a, q->ny, q->k, q->mean, q->n_mean, st);
    }
    void *margs[] = {&one};
    return n_one ? launch_grid3(ex, ex->mod.k_sum_multi, (most + 31) / 32, 1, n_one, 32, 8, margs, st) : 0;
}

/* Y[m,n] = op(A)[m,k] op(B)[k,n] (+ beta Y), row-major, through column-major cuBLAS (Y^T = op(B)^T op(A)^T).
 * half: A and B are bfloat16, and so is Y when half is 2 (sums in float32); else all float32, and
 * with FN_GPU_BF16=1 or act multiplied as bfloat16 (cuBLAS rounds them). */
static int gemm_typed(RtGpuExec *ex, CUdeviceptr a, CUdeviceptr b, CUdeviceptr y, int m, int n, int k, int ta, int tb,
                      float beta, int half, RtStatus *st) {
    const float one = 1;
    const RtCudaApi *api = &ex->gpu->api;
    int opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N, opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, ldb = tb ? k : n, lda = ta ? m : k;
    int in = half ? CUDA_R_16BF : CUDA_R_32F, out = half == 2 ? CUDA_R_16BF : CUDA_R_32F;
    int r = half || ex->gpu->bf16 == 1 || ex->gpu->bf16 == 3
                ? api->cublasGemmEx(ex->cur->blas, opb, opa, n, m, k, &one, (const void *)b, in, ldb, (const void *)a, in,
                                    lda, &beta, (void *)y, out, n, half ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32F_FAST_16BF,
                                    CUBLAS_GEMM_DEFAULT)
                : api->cublasSgemm(ex->cur->blas, opb, opa, n, m, k, &one, (const float *)b, ldb, (const float *)a, lda,
                                   &beta, (float *)y, n);
    return r == 0 ? 0 : rt_fail(st, "cuBLAS GEMM (%d x %d x %d) failed with status %d", m, n, k, r);
}

static int gemm(RtGpuExec *ex, CUdeviceptr a, CUdeviceptr b, CUdeviceptr y, int m, int n, int k, int ta, int tb,
                float beta, RtStatus *st) {
    return gemm_typed(ex, a, b, y, m, n, k, ta, tb, beta, 0, st);
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
 * default 256: on an H200, 32 MB chunks, read back from L2, made the step 5-9 % slower than the
 * whole batch at once, the GEMMs being smaller), at least one; the whole batch when it is 0. */
static int col_images(const RtGpuExec *ex, const RefWindow *w) {
    size_t per = (size_t)w->oh * w->ow * w->kh * w->kw * w->c * (ex->gpu->bf16 ? 2 : sizeof(float));
    if (!ex->col_bytes || !per) return w->n;
    size_t k = ex->col_bytes / per;
    return k < 1 ? 1 : k > (size_t)w->n ? w->n : (int)k;
}

/* FN_GPU_IMPLICIT: whether a convolution with a window runs as an implicit GEMM on the tensor
 * cores (fn_conv_igemm, fn_conv_igemm_filter: no column matrix, no cuBLAS) with TF32 on, where
 * the window sums at most 64 channels (the input's, the output's for the data gradient), whose
 * column matrices cost the most traffic per multiply-add: 0 never; 1 forward only; 2 (the
 * default) forward, data and filter gradients; 3 every convolution with a window. */
static int implicit_conv(const RtGpuExec *ex, IrOp op, const RefWindow *w) {
    if (!ex->gpu->tf32 || ref_conv_pointwise(w) || ex->implicit <= 0 || (ex->implicit == 1 && op != IR_OP_CONV2D)) return 0;
    return ex->implicit >= 3 || (op == IR_OP_CONV2D_BWD_DATA ? w->o : w->c) <= 64;
}

int gpu_conv_kind(const RtGpuExec *ex, IrId id) {
    RefWindow w;
    rt_plan_window(&ex->plan, id, &w);
    return ref_conv_pointwise(&w) ? GPU_CONV_POINTWISE : implicit_conv(ex, ex->g->nodes[id].op, &w) ? GPU_CONV_IMPLICIT
                                                                                                    : GPU_CONV_COLUMNS;
}

/* The filter gradient's row splits: enough blocks of fn_conv_igemm_filter for 8 a
 * multiprocessor, each split a multiple of 32 rows. Returns the floats of their partial sums (0
 * for one split, written straight to the gradient). */
static int64_t filter_splits(const RtGpuExec *ex, const RefWindow *w, int64_t *splits, int64_t *chunk) {
    int64_t M = (int64_t)w->n * w->oh * w->ow, K = (int64_t)w->kh * w->kw * w->c;
    int64_t tiles = (K + 127) / 128 * ((w->o + 31) / 32), want = 8 * (int64_t)ex->gpu->sm_count;
    int64_t s = (want + tiles - 1) / tiles, steps = (M + 31) / 32;
    if (s > steps) s = steps;
    if (s < 1) s = 1;
    *chunk = (steps + s - 1) / s * 32;
    *splits = (M + *chunk - 1) / *chunk;
    return *splits > 1 ? *splits * K * w->o : 0;
}

/* kernels: the node's (im2col or col2im, then the implicit GEMM, then fn_sum_lead for the filter
 * gradient); a and b its operands: (x, w), (x, dy) or (dy, w) */
static int conv_implicit(RtGpuExec *ex, IrOp op, const int *kernels, CUdeviceptr a, CUdeviceptr b, CUdeviceptr y,
                         const RefWindow *w, RtStatus *st) {
    CuWin c = cu_win(w);
    if (op == IR_OP_CONV2D_BWD_FILTER) {
        int64_t splits, chunk, ny = (int64_t)w->kh * w->kw * w->c * w->o, one = 1;
        CUdeviceptr part = filter_splits(ex, w, &splits, &chunk) ? ex->cur->scratch : y;
        void *args[] = {&part, &a, &b, &c, &chunk};
        int mean = 0;
        void *sum_args[] = {&y, &part, &ny, &splits, &mean, &one};
        if (launch_grid3(ex, kernels[1], (w->kh * w->kw * w->c + 127) / 128, (w->o + 31) / 32, splits, 128, 1, args, st) < 0 ||
            (part != y && gpu_launch(ex, kernels[2], ny, sum_args, st) < 0))
            return -1;
        return lap(ex, op, w, GPU_CONV_GEMM, st);
    }
    int data = op == IR_OP_CONV2D_BWD_DATA;
    int64_t rows = (int64_t)w->n * (data ? w->h * w->w : w->oh * w->ow), cols = data ? w->c : w->o;
    void *args[] = {&y, &a, &b, &c, &data};
    if (launch_grid(ex, kernels[1], (rows + 127) / 128, (cols + 31) / 32, 128, 1, args, st) < 0) return -1;
    return lap(ex, op, w, GPU_CONV_GEMM, st);
}

/* Where a column convolution's scratch holds, in bytes: its columns (a chunk's, float32 or
 * bfloat16) at 0; with FN_GPU_BF16 also the chunk's dy and the weights in bfloat16, at *dy_at and
 * *w_at. Returns the floats it takes. */
static int64_t col_scratch(const RtGpuExec *ex, const RefWindow *w, size_t *dy_at, size_t *w_at) {
    int64_t per = col_images(ex, w), M = per * w->oh * w->ow, K = (int64_t)w->kh * w->kw * w->c;
    if (!ex->gpu->bf16) {
        *dy_at = *w_at = 0;
        return M * K;
    }
    size_t cols = ((size_t)(M * K) * 2 + ALIGN - 1) / ALIGN * ALIGN, dys = ((size_t)(M * w->o) * 2 + ALIGN - 1) / ALIGN * ALIGN;
    *dy_at = cols;
    *w_at = cols + dys;
    return (int64_t)((cols + dys + (size_t)K * w->o * 2 + sizeof(float) - 1) / sizeof(float));
}

/* FN_GPU_BF16: y = x (n floats) in bfloat16 */
static int to_bf16(RtGpuExec *ex, const CuNodePlan *cp, CUdeviceptr y, CUdeviceptr x, int64_t n, RtStatus *st) {
    void *args[] = {&y, &x, &n};
    return gpu_launch(ex, cp->bf16[1], n, args, st);
}

/* FN_GPU_BF16=act, a 1x1 stride-1 convolution whose value or activation operands are bfloat16:
 * the GEMM on bfloat16 operands, an operand kept in float32 (the weights; an activation that the
 * plan left so) rounded into the scratch first, operand k's at at[k]. */
typedef struct {
    int on, conv[2];
    size_t at[2];
    int64_t floats; /* the scratch it takes */
} HalfGemm;

static HalfGemm pointwise_half(const RtGpuExec *ex, IrId id) {
    const IrNode *n = &ex->g->nodes[id];
    const size_t *es = ex->plan.esize;
    HalfGemm h = {0};
    h.on = ex->gpu->bf16 == 3 && (es[id] == 2 || es[n->in[0]] == 2 || (n->op == IR_OP_CONV2D_BWD_FILTER && es[n->in[1]] == 2));
    if (!h.on) return h;
    size_t end = 0;
    for (int k = 0; k < 2; k++) {
        h.conv[k] = es[n->in[k]] != 2;
        h.at[k] = end;
        if (h.conv[k]) end += ((size_t)ex->plan.numel[n->in[k]] * 2 + ALIGN - 1) / ALIGN * ALIGN;
    }
    h.floats = (int64_t)((end + sizeof(float) - 1) / sizeof(float));
    return h;
}

int gpu_conv_half_weights(const RtGpuExec *ex, IrId id) {
    IrOp op = ex->g->nodes[id].op;
    if (!ex->gpu->bf16 || (op != IR_OP_CONV2D && op != IR_OP_CONV2D_BWD_DATA)) return 0;
    int kind = gpu_conv_kind(ex, id);
    return kind == GPU_CONV_COLUMNS || (kind == GPU_CONV_POINTWISE && pointwise_half(ex, id).on);
}

int gpu_copy_assigned(RtGpuExec *ex, RtStatus *st) {
    for (int r = 0; r < ex->n_copy_runs; r++) {
        CUdeviceptr segs = ex->copy_segs + (size_t)ex->copy_run[r] * sizeof(GpuSeg);
        void *args[] = {&segs};
        if (launch_grid(ex, ex->mod.k_copy_segs, 16, ex->copy_run[r + 1] - ex->copy_run[r], THREADS, 1, args, st) < 0)
            return -1;
    }
    return 0;
}

int gpu_round_weights(RtGpuExec *ex, RtStatus *st) {
    if (!ex->n_mirror) return 0;
    void *args[] = {&ex->mirror_segs};
    return launch_grid(ex, ex->mod.k_round_weights, 16, ex->n_mirror, THREADS, 1, args, st);
}

/* y (M x N) = op(x) op(w) of a 1x1 stride-1 convolution (the operands a, b as gemm takes them) */
static int pointwise_gemm(RtGpuExec *ex, IrId id, const CuNodePlan *cp, CUdeviceptr a, CUdeviceptr b, CUdeviceptr y,
                          int m, int nn, int k, int ta, int tb, RtStatus *st) {
    HalfGemm h = pointwise_half(ex, id);
    if (!h.on) return gemm(ex, a, b, y, m, nn, k, ta, tb, 0, st);
    const IrNode *n = &ex->g->nodes[id];
    CUdeviceptr op[2] = {a, b};
    if (h.conv[1] && ex->mirror && ex->mirror[n->in[1]]) { /* the weights, rounded at the step's start */
        op[1] = ex->mirror[n->in[1]];
        h.conv[1] = 0;
    }
    for (int q = 0; q < 2; q++)
        if (h.conv[q]) {
            CUdeviceptr to = ex->cur->scratch + h.at[q];
            if (to_bf16(ex, cp, to, op[q], ex->plan.numel[n->in[q]], st) < 0) return -1;
            op[q] = to;
        }
    return gemm_typed(ex, op[0], op[1], y, m, nn, k, ta, tb, 0, ex->plan.esize[id] == 2 ? 2 : 1, st);
}

/* A convolution around a column matrix, a chunk of images at a time: forward, im2col(x) x w;
 * filter gradient, the chunks' im2col(x)^T x dy summed (beta 1 after the first); data gradient,
 * col2im(dy x w^T). a and b are the node's operands (x and w, x and dy, dy and w). With
 * FN_GPU_BF16 the GEMMs' operands are bfloat16 (the columns, dy and the weights, rounded once
 * each; the data gradient's columns too), their sums float32. */
static int conv_by_columns(RtGpuExec *ex, IrId id, const CuNodePlan *cp, CUdeviceptr a, CUdeviceptr b, CUdeviceptr y,
                           const RefWindow *w, RtStatus *st) {
    IrOp op = ex->g->nodes[id].op;
    const IrId *in = ex->g->nodes[id].in;
    int per = col_images(ex, w), K = w->kh * w->kw * w->c, half = ex->gpu->bf16;
    if (half && (cp->bf16[0] < 0 || cp->bf16[1] < 0)) return rt_fail(st, "the CUDA module has no bfloat16 column kernels");
    int k_col = half ? cp->bf16[0] : cp->kernel[0];
    /* the images' bytes: x's (dx's for the data gradient) and y's (dy's), bfloat16 or float32 */
    IrId xid = op == IR_OP_CONV2D_BWD_DATA ? id : in[0], yid = op == IR_OP_CONV2D ? id : op == IR_OP_CONV2D_BWD_DATA ? in[0] : in[1];
    int dy_half = op != IR_OP_CONV2D && ex->plan.esize[yid] == 2;
    size_t in_img = (size_t)w->h * w->w * w->c * ex->plan.esize[xid], out_img = (size_t)w->oh * w->ow * w->o * ex->plan.esize[yid];
    size_t dy_at, w_at;
    col_scratch(ex, w, &dy_at, &w_at);
    CUdeviceptr col = ex->cur->scratch, dyh = col + dy_at, wh = col + w_at;
    if (half && op != IR_OP_CONV2D_BWD_FILTER) { /* the weights in bfloat16: rounded at the step's start, or here */
        if (ex->mirror && ex->mirror[in[1]]) wh = ex->mirror[in[1]];
        else if (to_bf16(ex, cp, wh, b, (int64_t)K * w->o, st) < 0) return -1;
    }
    CuWin c = cu_win(w);
    for (int b0 = 0; b0 < w->n; b0 += per) {
        c.win.n = per < w->n - b0 ? per : w->n - b0;
        int M = c.win.n * w->oh * w->ow, rc;
        CUdeviceptr dy = op == IR_OP_CONV2D_BWD_DATA ? a + b0 * out_img : b + b0 * out_img;
        if (dy_half) dyh = dy; /* already bfloat16 */
        else if (half && op != IR_OP_CONV2D && to_bf16(ex, cp, dyh, dy, (int64_t)M * w->o, st) < 0) return -1;
        if (op == IR_OP_CONV2D_BWD_DATA) {
            CUdeviceptr dx = y + b0 * in_img;
            void *args[] = {&dx, &col, &c};
            if ((half ? gemm_typed(ex, dyh, wh, col, M, K, w->o, 0, 1, 0, 2, st) : gemm(ex, dy, b, col, M, K, w->o, 0, 1, 0, st)) < 0 ||
                lap(ex, op, w, GPU_CONV_GEMM, st) < 0 || gpu_launch(ex, k_col, (int64_t)c.win.n * w->h * w->w * w->c, args, st) < 0 ||
                lap(ex, op, w, GPU_CONV_COL2IM, st) < 0)
                return -1;
            continue;
        }
        CUdeviceptr x = a + b0 * in_img;
        void *args[] = {&col, &x, &c}; /* a thread per output pixel and channel */
        if (gpu_launch(ex, k_col, (int64_t)M * w->c, args, st) < 0 || lap(ex, op, w, GPU_CONV_IM2COL, st) < 0) return -1;
        if (op == IR_OP_CONV2D) /* [M,K] x [K,O] */
            rc = gemm_typed(ex, col, half ? wh : b, y + b0 * out_img, M, w->o, K, 0, 0, 0,
                            !half ? 0 : ex->plan.esize[id] == 2 ? 2 : 1, st);
        else /* col^T x dy */
            rc = gemm_typed(ex, col, half ? dyh : dy, y, K, w->o, M, 1, 0, b0 ? 1 : 0, half ? 1 : 0, st); /* float32 dw */
        if (rc < 0 || lap(ex, op, w, GPU_CONV_GEMM, st) < 0) return -1;
    }
    return 0;
}

/* one node's launch: its operands, on the device and in the plan, and its first kernel */
typedef struct {
    IrId id;
    const IrNode *n;
    const CuNodePlan *cp;
    CUdeviceptr y, a, b;
    int64_t ny, na, nb;
    const int64_t *yd; /* y's dimensions */
    int yr, k0;
} NodeRun;

/* RESHAPE, SUM, SUMLAST, BCAST, BCASTLAST */
static int run_reduce_bcast(RtGpuExec *ex, NodeRun *r, RtStatus *st) {
    const IrNode *n = r->n;
    int mean = n->attr.u.reduce.mean;
    if (n->op == IR_OP_RESHAPE) {
        if (r->y == r->a) return 0; /* fused plans: the reshape shares its input's block */
        void *args[] = {&r->y, &r->a, &r->ny};
        return gpu_launch(ex, r->k0, r->ny, args, st);
    }
    if (n->op == IR_OP_SUM)
        return sum_rows(ex, r->k0, r->cp->kernel[1], r->y, r->a, r->ny, r->na / r->ny, mean, r->na / r->ny, st);
    if (n->op == IR_OP_SUMLAST) {
        int64_t c = r->na / r->ny;
        void *args[] = {&r->y, &r->a, &r->ny, &c, &mean};
        if (c < 64) return gpu_launch(ex, r->k0, r->ny, args, st);
        int64_t blocks = r->ny < (int64_t)ex->gpu->sm_count * 16 ? r->ny : (int64_t)ex->gpu->sm_count * 16;
        return launch_grid(ex, r->cp->kernel[1], blocks, 1, 256, 1, args, st);
    }
    if (n->op == IR_OP_BCAST) {
        float s = mean ? (float)r->na / (float)r->ny : 1.f;
        void *args[] = {&r->y, &r->a, &r->ny, &r->na, &s};
        return gpu_launch(ex, r->k0, r->ny, args, st);
    }
    int64_t c = r->yd[r->yr - 1]; /* BCASTLAST */
    void *args[] = {&r->y, &r->a, &r->na, &c, &mean};
    return gpu_launch(ex, r->k0, r->ny, args, st);
}

/* SLICE, CONCAT: a launch per operand of a concatenation */
static int run_slice_concat(RtGpuExec *ex, NodeRun *r, RtStatus *st) {
    const RtPlan *p = &ex->plan;
    const IrNode *n = r->n;
    int ax = n->attr.u.axis.axis;
    int64_t outer, inner;
    rt_plan_axis(p, r->id, ax, &outer, &inner);
    if (n->op == IR_OP_SLICE) {
        int64_t src_ax = p->dims[n->in[0]][ax], len = r->yd[ax], start = n->attr.u.axis.start;
        void *args[] = {&r->y, &r->a, &outer, &src_ax, &len, &start, &inner};
        return gpu_launch(ex, r->k0, r->ny, args, st);
    }
    int64_t off = 0, y_ax = r->yd[ax];
    for (int k = 0; k < n->n_in; k++) { /* but the operands that are views: they wrote their band */
        CUdeviceptr x = ex->dev[n->in[k]];
        int64_t len = p->dims[n->in[k]][ax];
        void *args[] = {&r->y, &x, &outer, &y_ax, &off, &len, &inner};
        if (p->view_of[n->in[k]] != r->id && gpu_launch(ex, r->k0, outer * len * inner, args, st) < 0) return -1;
        off += len;
    }
    return 0;
}

/* CONV2D and its gradients: implicit GEMMs, by columns, or (1x1, stride 1) one GEMM of x */
static int run_conv(RtGpuExec *ex, NodeRun *r, RtStatus *st) {
    IrOp op = r->n->op;
    RefWindow w;
    rt_plan_window(&ex->plan, r->id, &w);
    GpuConvRow *row = ex->prof_s ? gpu_conv_profile_add(&ex->conv_prof, op, &w, GPU_CONV_GEMM, 0) : NULL;
    if (row) row->calls++;
    if (implicit_conv(ex, op, &w)) { /* operands (x, w) or (dy, w) */
        if (row) row->implicit = 1;
        return conv_implicit(ex, op, r->cp->kernel, r->a, r->b, r->y, &w, st);
    }
    if (!ref_conv_pointwise(&w)) return conv_by_columns(ex, r->id, r->cp, r->a, r->b, r->y, &w, st);
    IrId id = r->id;
    const CuNodePlan *cp = r->cp;
    CUdeviceptr a = r->a, b = r->b, y = r->y;
    int M = w.n * w.oh * w.ow, rc; /* 1x1, stride 1: x is the column matrix */
    if (op == IR_OP_CONV2D) rc = pointwise_gemm(ex, id, cp, a, b, y, M, w.o, w.c, 0, 0, st);           /* [M,C] x [C,O] */
    else if (op == IR_OP_CONV2D_BWD_FILTER) rc = pointwise_gemm(ex, id, cp, a, b, y, w.c, w.o, M, 1, 0, st); /* x^T x dy */
    else rc = pointwise_gemm(ex, id, cp, a, b, y, M, w.c, w.o, 0, 1, st);                                   /* dy x w^T */
    return rc < 0 ? -1 : lap(ex, op, &w, GPU_CONV_GEMM, st);
}

/* MAXPOOL, AVGPOOL, AVGPOOL_GRAD, MAXPOOL_GRAD */
static int run_pool(RtGpuExec *ex, NodeRun *r, RtStatus *st) {
    RefWindow w;
    rt_plan_window(&ex->plan, r->id, &w);
    CuWin cw = cu_win(&w);
    if (r->n->op != IR_OP_MAXPOOL_GRAD) {
        void *args[] = {&r->y, &r->a, &cw};
        return gpu_launch(ex, r->k0, r->ny, args, st);
    }
    /* operands x, dy; each window's argmax into the scratch first */
    CUdeviceptr code = ex->cur->scratch;
    void *code_args[] = {&code, &r->a, &cw}, *args[] = {&r->y, &code, &r->b, &cw};
    return gpu_launch(ex, r->k0, r->nb, code_args, st) < 0 ? -1 : gpu_launch(ex, r->cp->kernel[1], r->ny, args, st);
}

/* SOFTMAX, L2NORM, L2NORM_GRAD, SOFTMAX_XENT, ACCURACY, SOFTMAX_XENT_GRAD: row kernels */
static int run_rows(RtGpuExec *ex, NodeRun *r, RtStatus *st) {
    const IrNode *n = r->n;
    const RtPlan *p = &ex->plan;
    if (n->op == IR_OP_SOFTMAX || n->op == IR_OP_L2NORM || n->op == IR_OP_L2NORM_GRAD) {
        int64_t cols = r->yd[r->yr - 1], rows = r->ny / cols;
        double eps = n->attr.u.scalar.f;
        void *sm[] = {&r->y, &r->a, &rows, &cols}, *l2[] = {&r->y, &r->a, &rows, &cols, &eps},
             *l2g[] = {&r->y, &r->a, &r->b, &rows, &cols, &eps};
        return gpu_launch(ex, r->k0, rows, n->op == IR_OP_SOFTMAX ? sm : n->op == IR_OP_L2NORM ? l2 : l2g, st);
    }
    /* SOFTMAX_XENT, ACCURACY: a warp per row, 8 rows a block; accuracy in one block */
    if (n->op == IR_OP_SOFTMAX_XENT || n->op == IR_OP_ACCURACY) {
        int64_t rows = p->dims[n->in[0]][0], cols = p->dims[n->in[0]][1];
        void *args[] = {&r->y, &r->a, &r->b, &rows, &cols};
        return launch_grid(ex, r->k0, n->op == IR_OP_ACCURACY ? 1 : row_blocks(ex, rows), 1, 32, 8, args, st);
    }
    CUdeviceptr g = ex->dev[n->in[2]]; /* SOFTMAX_XENT_GRAD */
    int64_t rows = r->yd[0], cols = r->yd[1];
    void *args[] = {&r->y, &r->a, &r->b, &g, &rows, &cols};
    return launch_grid(ex, r->k0, row_blocks(ex, rows), 1, 32, 8, args, st);
}

/* DROPOUT_MASK, GATHER, SCATTER_ADD */
static int run_index(RtGpuExec *ex, NodeRun *r, RtStatus *st) {
    const IrNode *n = r->n;
    const RtPlan *p = &ex->plan;
    if (n->op == IR_OP_DROPOUT_MASK) { /* key rt_hash(seed, step, salt) on the device */
        uint64_t salt = rt_dropout_salt(ex->g, r->id);
        uint64_t first = (uint64_t)ex->rank * (uint64_t)r->ny; /* counted over the global batch, as the CPU's */
        void *args[] = {&r->y, &r->b, &r->ny, &ex->seed_step, &salt, &first};
        return gpu_launch(ex, r->k0, r->ny, args, st);
    }
    if (n->op == IR_OP_GATHER) {
        int64_t rows_out = r->yd[0], rows = p->dims[n->in[0]][0], e = r->yd[1];
        void *args[] = {&r->y, &r->a, &r->b, &rows_out, &rows, &e};
        return gpu_launch(ex, r->k0, r->ny, args, st);
    }
    int64_t n_in = p->dims[n->in[0]][0], rows = r->yd[0], e = r->yd[1]; /* SCATTER_ADD */
    void *args[] = {&r->y, &r->a, &r->b, &n_in, &rows, &e};
    return gpu_launch(ex, r->k0, r->ny, args, st);
}

int gpu_run_node(RtGpuExec *ex, IrId id, RtStatus *st) {
    const IrNode *n = &ex->g->nodes[id];
    const RtPlan *p = &ex->plan;
    const CuNodePlan *cp = &ex->mod.plan[id];
    NodeRun r = {.id = id, .n = n, .cp = cp, .y = ex->dev[id], .ny = p->numel[id], .yd = p->dims[id], .yr = p->rank[id]};
    r.a = n->n_in > 0 ? ex->dev[n->in[0]] : 0, r.b = n->n_in > 1 ? ex->dev[n->in[1]] : 0;
    r.na = n->n_in > 0 ? p->numel[n->in[0]] : 0, r.nb = n->n_in > 1 ? p->numel[n->in[1]] : 0;
    r.k0 = cp->n_kernels ? cp->kernel[0] : -1;
    if (cp->work == CU_FUSED) return run_group(ex, cp->group, st);
    if (cp->work == CU_NOTHING || n->op == IR_OP_CONST) return 0; /* constants are filled once */
    if (ir_op_info[n->op].cls == IR_CLASS_ELEMENTWISE) {
        float f = (float)n->attr.u.scalar.f;
        void *args1[] = {&r.y, &r.a, &r.ny, &f}, *args2[] = {&r.y, &r.a, &r.b, &r.ny, &r.na, &r.nb};
        return gpu_launch(ex, r.k0, r.ny, n->n_in == 1 ? args1 : args2, st);
    }
    switch (n->op) {
    case IR_OP_RESHAPE:
    case IR_OP_SUM:
    case IR_OP_SUMLAST:
    case IR_OP_BCAST:
    case IR_OP_BCASTLAST: return run_reduce_bcast(ex, &r, st);
    case IR_OP_SLICE:
    case IR_OP_CONCAT: return run_slice_concat(ex, &r, st);
    case IR_OP_MATMUL: {
        const IrMatmulAttr *m = &n->attr.u.matmul;
        const int64_t *ad = p->dims[n->in[0]];
        return gemm(ex, r.a, r.b, r.y, (int)r.yd[0], (int)r.yd[1], (int)(m->ta ? ad[0] : ad[1]), m->ta, m->tb, 0, st);
    }
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_BWD_FILTER:
    case IR_OP_CONV2D_BWD_DATA: return run_conv(ex, &r, st);
    case IR_OP_MAXPOOL:
    case IR_OP_AVGPOOL:
    case IR_OP_AVGPOOL_GRAD:
    case IR_OP_MAXPOOL_GRAD: return run_pool(ex, &r, st);
    case IR_OP_SOFTMAX:
    case IR_OP_L2NORM:
    case IR_OP_L2NORM_GRAD:
    case IR_OP_SOFTMAX_XENT:
    case IR_OP_ACCURACY:
    case IR_OP_SOFTMAX_XENT_GRAD: return run_rows(ex, &r, st);
    case IR_OP_DROPOUT_MASK:
    case IR_OP_GATHER:
    case IR_OP_SCATTER_ADD: return run_index(ex, &r, st);
    case IR_OP_ALLREDUCE: /* kept by passes/replicas.c: the run reduces its group (float32 values: no
                             reduced value leads with the batch, as bfloat16 ones do) */
        if (p->esize[id] != 4 || p->esize[n->in[0]] != 4) return rt_fail(st, "a reduction over the replicas of bfloat16 values");
        return gpu_nccl_allreduce(ex->gpu->nccl, r.a, r.y, r.ny, n->attr.u.replicas.mean, ex->cur->stream, st);
    default: return rt_fail(st, "the GPU executor has no launch for op %s", ir_op_info[n->op].name);
    }
}

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
        cu_group_shape(sm, &cg->lay, p->numel[pass_fuse_domain(g, &p->fusion, cp->group)], &cols, &rows, &gsplits, &gchunk);
        int64_t per_sum = gsplits * 8 * cols;
        need[2] = cg->sums * per_sum;
        for (int s = 0; s < cg->lay.n_slots; s++)
            if (cg->lay.slot_kind[s] == PASS_SLOT_SUM) { /* as sum_rows finishes it */
                int64_t ny = p->numel[cg->lay.slot_node[s]], part = sum_plan(sm, ny, per_sum / ny, &splits, &chunk);
                if (part > need[1]) need[1] = part;
            }
    } else if (op == IR_OP_SUM) {
        int64_t ny = p->numel[id];
        need[1] = sum_plan(sm, ny, p->numel[g->nodes[id].in[0]] / ny, &splits, &chunk);
    } else if (op == IR_OP_MAXPOOL_GRAD) {
        need[0] = p->numel[g->nodes[id].in[1]]; /* an int per output: fn_maxpool_code */
    } else if (op == IR_OP_CONV2D || op == IR_OP_CONV2D_BWD_FILTER || op == IR_OP_CONV2D_BWD_DATA) {
        RefWindow w;
        rt_plan_window(p, id, &w);
        if (implicit_conv(ex, op, &w)) {
            if (op == IR_OP_CONV2D_BWD_FILTER) need[0] = filter_splits(ex, &w, &splits, &chunk);
        } else if (ref_conv_pointwise(&w)) {
            need[0] = pointwise_half(ex, id).floats;
        } else {
            size_t dy_at, w_at;
            need[0] = col_scratch(ex, &w, &dy_at, &w_at);
        }
    }
}

