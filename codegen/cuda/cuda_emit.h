/* CUDA C for a graph: the GPU target's code generator (issue 8, first step).
 *
 * What this is: for every node of a graph, the kernels that compute it, written as CUDA C from
 * op templates (one template per op and operand layout), gathered into one module with each
 * kernel once, in first-use order, so the text is byte-identical across runs (golden-tested).
 * Sizes are kernel arguments, never constants: one module serves every batch, image and class
 * count, as the artifact does. Convolutions and matmuls are GEMM-shaped: the module has their
 * im2col / col2im kernels and the plan marks the GEMM for cuBLAS. Most kernels are
 * grid-stride loops with one thread per output element; the sums run in blocks (row splits,
 * then the splits summed; or a block per long row), always in a fixed order and without
 * atomics, so a step's results do not change from run to run.
 * What this is not: fused (the fusion pass is issue 9's), launched (the driver-API runtime is
 * the next step), or f64 (the GPU runs the f32 graphs).
 */
#ifndef FN_CODEGEN_CUDA_EMIT_H
#define FN_CODEGEN_CUDA_EMIT_H

#include "codegen/ref/ref.h"
#include "ir/ir.h"
#include "passes/passes.h"

typedef enum {
    CU_NOTHING, /* sources, assignments (done by the runtime after the step), fused members but
                   the one at the group's run_at */
    CU_KERNELS, /* kernel[0..n_kernels) in order */
    CU_GEMM,    /* cuBLAS, around the listed kernels (im2col before, col2im after) */
    CU_FUSED,   /* a fused group's member at run_at: the group's kernel (CuModule.groups[group]) */
    CU_COLLECTIVE /* the runtime's reduction over the replicas (NCCL): an ALLREDUCE the run keeps */
} CuWork;

typedef struct {
    IrId node;
    CuWork work;
    int n_kernels;
    int kernel[3]; /* indices into CuModule.names */
    int bf16[2];   /* a convolution's bfloat16 column kernel (fn_im2col_bf16 or fn_col2im_bf16) and
                      fn_to_bf16, for FN_GPU_BF16; else -1 */
    int group;     /* CU_FUSED: index into CuModule.groups */
} CuNodePlan;

/* A fused group's kernel. Without sums it is a grid-stride loop over the n elements of the
 * group's domain (rows of len; suffix operands read at column i % len), vec of them a thread at
 * a time (launch n / vec threads):
 *     NAME(fn_i64 n, fn_i64 len, float *p0, ..., float *pS)
 * With sums it runs in blocks of 32 columns x 8 row lanes over row splits of `chunk` rows, and
 * each sum's slot receives a partial-sum buffer of (splits * 8) x len, written once per lane:
 *     NAME(fn_i64 n, fn_i64 len, fn_i64 chunk, float *p0, ..., float *pS, unsigned *tickets,
 *          FnSums fin, int n_fin)
 * Groups whose sums are scalars and which have no row length run with len 32 (n need not be a
 * multiple: lanes past n stop). With n_fin > 0 the last block of each column block to finish
 * (tickets[blockIdx.x], 0 before and after) adds up its columns' partials of fin's n_fin sums
 * into their values, as fn_sum_lead_part would with one split; else the runtime launches that
 * (fn_sum_lead_multi for several). */
typedef struct {
    int kernel; /* index into CuModule.names */
    int sums;   /* the group's terminal sums */
    int vec;    /* without sums: values a thread takes at a time, 4 (consecutive, loaded and stored
                   as one vector: n and the row length are multiples of 4) or 1 */
    int tail;    /* with sums: the group (PassFusion.tail) its blocks that finish the sums then run,
                    one element a column (a device function NAME_tail); its slots, tail_lay's, are
                    the kernel's last arguments (u0, u1, ...); else -1 */
    PassFuseLayout tail_lay;
    int strided; /* slots that are views (rows of the last axis `ld` apart): each such pointer
                    argument is followed by its fn_i64 ld, and a group without sums takes the
                    views' row width `wid` after len (a group with sums runs along their rows) */
    PassFuseLayout lay;
} CuGroup;

typedef struct {
    char *source; /* the module: prelude + kernels */
    char **names; /* extern "C" kernel names, in source order */
    int n_names;
    CuNodePlan *plan; /* one per node, in node order */
    int n_plan;
    CuGroup *groups; /* fused modules: one per fusion group */
    int n_groups;
    int k_sum_part, k_sum; /* fused modules with sums: the kernels that finish them; else -1 */
    int k_sum_multi;       /* and the one that finishes up to CU_MAX_SUMS of a group's at once */
    int k_round_weights;   /* graphs with convolutions: fn_to_bf16_segs; else -1 */
    int k_ema;             /* graphs with effects (training): the moving averages' step; else -1 */
    int k_copy_segs;       /* graphs with effects: the assignments' copies in one launch; else -1 */
} CuModule;

/* the sums fn_sum_lead_multi finishes in one launch (its FnSums) */
#define CU_MAX_SUMS 8

/* The launch shapes the sum kernels assume, for a card of sm_count multiprocessors. A leading-
 * axis sum of k rows of ny (fn_sum_lead_part): about 8 blocks of 32 columns per SM, at least 64
 * rows a split, at most 1024 splits. A fused group with sums over a domain of `domain` elements:
 * its columns (the row length, or 32 lanes for scalar sums alone), rows and row splits; the
 * kernel runs ceil(cols / 32) x splits blocks of 32 x 8 threads and writes (splits * 8) x cols
 * partial sums per sum. */
void cu_sum_splits(int sm_count, int64_t ny, int64_t k, int64_t *splits, int64_t *chunk);
void cu_group_shape(int sm_count, const PassFuseLayout *lay, int64_t domain, int64_t *cols, int64_t *rows,
                    int64_t *splits, int64_t *chunk);

/* The unfused module: a kernel per op, sizes as arguments (one module for every binding).
 * 0, or -1 with a message in st (an op or dtype the GPU target cannot run, or out of memory:
 * then m is empty). */
int cu_emit_graph(const IrGraph *g, CuModule *m, FnStatus *st);
/* The fused module for fusion f of g at element counts numel: a kernel per distinct group
 * (structurally equal groups share one), the other nodes as cu_emit_graph writes them. Sizes
 * are still arguments, but the layout (which operands are full, suffixes or scalars) and BCAST's
 * mean factors are the binding's. esize (NULL: float32 everywhere) is the plan's bytes per
 * element of each node: values of 2 are bfloat16, which the groups and the fixed kernels read
 * and write as such (a fixed kernel's variant NAME_hN, N's bits 1, 2, 4 for its value and first two
 * operands in bfloat16). stride (NULL: none) is the plan's row_stride: a group reads and writes a
 * node with a stride > 0 as a view, row by row (CuGroup.strided). -1 with a message when a group
 * cannot be written (operands of two row lengths, sums of another length than the row's or one). */
int cu_emit_fused(const IrGraph *g, const PassFusion *f, const int64_t *numel, const size_t *esize,
                  const int64_t *stride, CuModule *m, FnStatus *st);
void cu_module_free(CuModule *m);
/* Kernel launches and cuBLAS GEMMs a step of m makes, about: a fused group with sums launches
 * once (its last blocks finish up to CU_MAX_SUMS sums; the runtime launches fn_sum_lead_multi
 * and one more for each beyond where a sum has too many partials or runs across the columns), a
 * leading-axis sum
 * 2 (1 when its rows are few), a concat one per input, a sum_last one of its two kernels; im2col
 * is counted for every convolution once (1x1 stride-1 ones too), though it runs once per chunk
 * of images. */
void cu_module_counts(const IrGraph *g, const CuModule *m, int *launches, int *gemms);
/* Every kernel the emitter can write (all ops, all operand layouts) in one module, for tests
 * that compile them all; malloc'ed (NULL when out of memory). */
char *cu_emit_catalogue(int *n_kernels);

/* The window argument of the window kernels (the prelude's FnWin): RefWindow's fields, then the
 * divisors of their index arithmetic, each as its multiply-high constants (FnDiv, fn_udiv):
 * the input's h, w, c, the output's oh, ow, and the strides. */
typedef struct {
    unsigned d, m, l;
} CuDiv;
typedef struct {
    RefWindow win;
    CuDiv h, w, c, oh, ow, sh, sw;
} CuWin;
CuWin cu_win(const RefWindow *w);
/* d's constants: n / d == (umulhi(n, m) + n) >> l for every 0 <= n < 2^31 (d >= 1) */
CuDiv cu_div(unsigned d);

#endif
