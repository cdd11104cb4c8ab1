/* The fast CPU backend's kernels (float32), checked against the reference kernels
 * (codegen/ref) by tests/test_cpu_fast.c. The CPU backend (runtime/cpu) runs them unless its
 * options (RtOptions.fuse = 0) ask for the reference path.
 *
 * Every kernel shares its work among the tasks of `pool` (ir/pool.h; NULL: the calling thread
 * alone), split by the shapes only, so that no result depends on the number of threads.
 * Convolutions: NHWC x HWIO like the reference, over a RefWindow; scratch holds
 * cpu_conv_scratch(win, paths, fn_pool_size(pool)) floats. */
#ifndef FN_CODEGEN_CPU_H
#define FN_CODEGEN_CPU_H

#include <stddef.h>

#include "codegen/ref/ref.h"
#include "ir/pool.h"

/* paths: the fast algorithms a convolution may take where they win (CPU_PATH_*; 0: tiled im2col
 * only) and, in the bits from CPU_ISA_SHIFT, the vector instruction set its own kernels are
 * built for (FN_ISA_*, ir/pool.h; 0: the host's best): CPU_PATHS(CPU_PATHS_ALL, FN_ISA_AVX2)
 * runs the AVX2 kernels on an AVX-512 machine. The scratch is sized for the same. */
enum { CPU_PATH_WINOGRAD = 1, CPU_PATH_DIRECT = 2, CPU_PATHS_ALL = 3, CPU_ISA_SHIFT = 4 };
#define CPU_PATHS(algorithms, isa) ((algorithms) | (isa) << CPU_ISA_SHIFT)
static inline int cpu_paths_isa(int paths) { return fn_isa_resolve(paths >> CPU_ISA_SHIFT); }
size_t cpu_conv_scratch(const RefWindow *win, int paths, int threads);
/* What a forward convolution does with rows of its output as soon as they are final:
 * fn(arg, p0, p1, worker) on output pixels p0..p1 of the batch (every channel), on the worker
 * that wrote them, while they are in its cache (the CPU executor runs the fused loop that reads
 * the convolution there: its epilogue). Each pixel is handed on once. NULL: none. */
typedef struct {
    void (*fn)(void *arg, int64_t p0, int64_t p1, int worker);
    void *arg;
} CpuEpilogue;
/* ep->fn over pixels 0..pixels in fixed chunks on the pool (for a pass that cannot hand rows on
 * as it goes); nothing for a NULL ep */
void cpu_epilogue_all(const CpuEpilogue *ep, int64_t pixels, FnPool *pool);
void cpu_conv2d_f32(const float *x, const float *w, float *y, const RefWindow *win, int paths, float *scratch,
                    FnPool *pool, const CpuEpilogue *ep);
void cpu_conv2d_bwd_data_f32(const float *dy, const float *w, float *dx, const RefWindow *win, int paths,
                             float *scratch, FnPool *pool);
void cpu_conv2d_bwd_filter_f32(const float *x, const float *dy, float *dw, const RefWindow *win, int paths,
                               float *scratch, FnPool *pool);
/* dst[i] += partials[r * n + i] for r = 0, 1, ... count-1 in that order (the filter
 * gradients' fixed pixel ranges), elements split over the team */
void cpu_add_partials(float *dst, const float *partials, size_t n, int count, FnPool *pool);

/* Winograd F(4x4, 3x3) (conv_winograd.c) for 3x3 stride-1 windows, and F(4, 7) for 1x7 and 7x1;
 * the functions above call it where cpu_winograd_fits and paths has CPU_PATH_WINOGRAD. Scratch:
 * cpu_winograd_scratch floats. */
int cpu_winograd_fits(const RefWindow *win);
size_t cpu_winograd_scratch(const RefWindow *win, int threads);
/* isa: the transforms' instruction set (FN_ISA_BASE, _AVX2 or _AVX512, no more than the host's) */
void cpu_winograd_conv2d_f32(const float *x, const float *w, float *y, const RefWindow *win, float *scratch,
                             FnPool *pool, int isa, const CpuEpilogue *ep);
void cpu_winograd_bwd_data_f32(const float *dy, const float *w, float *dx, const RefWindow *win, float *scratch,
                               FnPool *pool, int isa);
void cpu_winograd_bwd_filter_f32(const float *x, const float *dy, float *dw, const RefWindow *win, float *scratch,
                                 FnPool *pool, int isa);

/* Direct convolutions through a pointer table (conv_direct.c) for small weights, in AVX-512 or
 * AVX2 (isa; the baseline has none), where cpu_direct_fits for that pass and ISA and paths has
 * CPU_PATH_DIRECT. Scratch: cpu_direct_scratch floats. */
enum { CPU_FWD, CPU_BWD_DATA, CPU_BWD_FILTER };
int cpu_direct_fits(const RefWindow *win, int pass, int isa);
size_t cpu_direct_scratch(const RefWindow *win, int threads);
void cpu_direct_conv2d_f32(const float *x, const float *w, float *y, const RefWindow *win, float *scratch, FnPool *pool,
                           int isa, const CpuEpilogue *ep);
void cpu_direct_bwd_data_f32(const float *dy, const float *w, float *dx, const RefWindow *win, float *scratch,
                             FnPool *pool, int isa);
void cpu_direct_bwd_filter_f32(const float *x, const float *dy, float *dw, const RefWindow *win, float *scratch,
                               FnPool *pool, int isa);

/* y[m,n] = op(a) op(b) + beta y, row-major like cblas_sgemm (ta, tb: a is [k,m], b is [n,k]),
 * as one-threaded sgemms over fixed blocks of rows (of columns when m is small) shared by the
 * pool (gemm.c): a block's result does not depend on who runs it. */
void cpu_sgemm(FnPool *pool, int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
               float beta, float *y, int ldy);
/* The same with ep->fn on rows of y as they are final (blocks of rows; after the whole product
 * when it splits by columns) */
void cpu_sgemm_ep(FnPool *pool, int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                  float beta, float *y, int ldy, const CpuEpilogue *ep);
/* The whole-batch convolution (the reference's way, codegen/ref/conv_impl.h: one column matrix,
 * one GEMM) with its im2col, col2im and GEMM shared by the pool; scratch: ref_conv_scratch. */
void cpu_whole_conv2d_f32(const float *x, const float *w, float *y, const RefWindow *win, float *scratch, FnPool *pool,
                          const CpuEpilogue *ep);
void cpu_whole_bwd_data_f32(const float *dy, const float *w, float *dx, const RefWindow *win, float *scratch,
                            FnPool *pool);
void cpu_whole_bwd_filter_f32(const float *x, const float *dy, float *dw, const RefWindow *win, float *scratch,
                              FnPool *pool);

/* Max pool and its gradient (pool_fast.c): the reference's results, threaded and vectorised for
 * isa (FN_ISA_*, no more than the host's; 0: its best). */
void cpu_maxpool_f32(const float *x, float *y, const RefWindow *win, FnPool *pool, int isa);
void cpu_maxpool_grad_f32(const float *x, const float *dy, float *dx, const RefWindow *win, FnPool *pool, int isa);

#endif
