/* A bound graph's plan, shared by the CPU executor (exec.c) and the GPU one (gpu/gpu_exec.c):
 * every node's dimensions at the bound sizes, which nodes the requested outputs and effects
 * need, and the liveness-based memory plan (which block holds each node's value). */
#ifndef FN_RT_PLAN_H
#define FN_RT_PLAN_H

#include "codegen/ref/ref.h"
#include "passes/passes.h"
#include "runtime/core/rt.h"

typedef struct {
    const IrGraph *g;
    int n;
    int64_t (*dims)[IR_MAX_RANK];
    int *rank;
    int64_t *numel;
    size_t *esize;
    char *needed;
    char *kept; /* the requested outputs (all when none was named): in memory after a step */
    int *block_of; /* -1: no block (variables, assignments, nodes not needed) */
    size_t *block_bytes;
    int n_blocks;
    size_t *block_off; /* fused plans: each block's offset in one slab of slab_bytes; else NULL
                          (one allocation per block) */
    size_t slab_bytes;
    PassFusion fusion; /* n_groups 0: every node runs on its own */
    IrId *assign_to;   /* RT_PLAN_ASSIGN: the variable whose storage holds this node's value (the
                          new value its assignment would copy there), else IR_NONE */
    /* Views (fused plans; the GPU's concat operands and slices along the last axis): a caller may
     * set these between rt_plan_values and rt_plan_memory, which then places node id's value
     * inside view_of[id]'s block, view_at[id] elements in, its rows of the last axis
     * row_stride[id] elements apart, and keeps that block to the view's last reader. A view's
     * readers and writer index it so (rows and columns); no loop writes over a view, or over a
     * block holding views, in place. */
    IrId *view_of;       /* per node: the value whose block holds it, else IR_NONE */
    int64_t *view_at;    /* per node: where in it its first element is */
    int64_t *row_stride; /* per node: a view's elements from a row to the next; 0 for others */
    int n_views;
} RtPlan;

/* rt_plan_build's flags. FUSE: group pointwise nodes (pass_fuse) so that a group runs where its
 * leader stands, only its materialized values get blocks, and a reshape shares its input's
 * block.
 * ASSIGN (with FUSE): a fused loop writes an assigned value straight into its variable where
 * nothing reads the old value after the loop and no other assignment writes or reads that
 * variable (assign_to); the assignment then copies nothing. */
enum { RT_PLAN_FUSE = 1, RT_PLAN_ASSIGN = 4, RT_PLAN_READS_FIRST = 8 };
/* READS_FIRST (with ASSIGN): the executor's fused loops read all of an element's operands before
 * they write any of its results (the GPU's kernels; the CPU's tiles read member by member), so
 * a member of the loop may read the variable's old value after the one writing its new value. */
/* With FUSE, flags may add RT_PLAN_SLACK(k): a value's memory goes to another only k node
 * positions after its last reader, not at once (the GPU: fewer waits between streams that the
 * reuse alone would order, for more memory). */
#define RT_PLAN_SLACK(k) ((k) << 8)
/* want: output names (NULL/0 = all outputs); run_effects: the assignments too. prec: bytes per
 * real. flags: RT_PLAN_*. Checks every needed dimension is positive and every reshape keeps
 * its element count. */
int rt_plan_build(RtPlan *p, const IrGraph *g, const int64_t *sym, const char *const *want, int n_want,
                  int run_effects, int prec, int flags, RtStatus *st);
/* rt_plan_build in two halves, for a caller that changes esize between them (the GPU's bfloat16
 * values): the dimensions, what is needed, the fusion; then the memory plan (same flags). A
 * fused group may write a value over an operand's memory only where both have one esize. */
int rt_plan_values(RtPlan *p, const IrGraph *g, const int64_t *sym, const char *const *want, int n_want,
                   int run_effects, int prec, int flags, RtStatus *st);
int rt_plan_memory(RtPlan *p, int flags, RtStatus *st); /* 0, or -1 (out of memory; p freed) */
void rt_plan_free(RtPlan *p);
/* The window (input, kernel, strides, padding, output size) a window op slides. */
void rt_plan_window(const RtPlan *p, IrId id, RefWindow *win);
/* The element counts before and after axis ax of node id's shape (slices and concats copy
 * outer runs of len * inner elements). */
void rt_plan_axis(const RtPlan *p, IrId id, int ax, int64_t *outer, int64_t *inner);
/* The length of node id's last axis (its rows' width; 1 for a scalar). */
int64_t rt_plan_width(const RtPlan *p, IrId id);
/* Index of output `name` in g->outputs, or -1. */
int rt_plan_output(const IrGraph *g, const char *name);

#endif
