/* Compiler passes over IrGraph: one pass per file, one signature.
 *
 *   frontend ─▶ [verify] ─▶ autodiff ─▶ optimizer ─▶ simplify ─▶ recompute ─▶ [verify]  (train)
 *   frontend ─▶ [verify] ─▶ fold ─▶ simplify ─▶ recompute ─▶ [verify]                  (eval)
 *
 * Passes that rebuild the graph (simplify, recompute) replace *g. Every pass returns 0 or -1 with a
 * message in (*g)->err. Not here: parsing (frontend/), execution (runtime/).
 */
#ifndef FN_PASSES_H
#define FN_PASSES_H

#include "ir/ir.h"

/* The optimisers (formulas in passes/optimizer.c). */
typedef enum {
    PASS_OPT_SGD,
    PASS_OPT_ADAGRAD,
    PASS_OPT_ADADELTA,
    PASS_OPT_ADAM,
    PASS_OPT_RMSPROP,
    PASS_OPT_MOM,
    PASS_OPT_COUNT
} PassOptimizer;
extern const char *const pass_optimizer_names[PASS_OPT_COUNT];
int pass_optimizer_parse(const char *name); /* -1 if unknown */

typedef struct {
    const char *dump_after;  /* pass name, or "all"; NULL for none */
    FILE *dump;              /* where dumps go */
    int time_passes;         /* print each pass's time to stderr */
    int verify;              /* run the verifier after every pass */
    PassOptimizer optimizer; /* the train pipeline's update */
    int keep_batch_norm;     /* eval: leave batch norm unfolded (pass_fold does nothing) */
} PassCtx;

typedef int (*PassFn)(IrGraph **g, PassCtx *ctx);

/* Reverse-mode autodiff of the output "loss" with respect to every PARAM; each gradient becomes
 * the output "grad/<param name>". A graph without "loss" is left alone. */
int pass_autodiff(IrGraph **g, PassCtx *ctx);
/* For every "grad/<name>" output, the optimiser's update of the parameter and its slots, with
 * the scalar input "learning_rate". */
int pass_optimizer(IrGraph **g, PassOptimizer kind);
/* Eval graphs: inference batch norm after a conv2d or matmul folded into its weights and a
 * per-channel add (passes/fold.c). */
int pass_fold(IrGraph **g, PassCtx *ctx);
/* Rebuild keeping only what outputs and effects need (DCE), hash-consing again (CSE) and
 * applying the algebraic rewrite table (x*1, x+0, --x, scale chains) to a fixed point. */
int pass_simplify(IrGraph **g, PassCtx *ctx);
/* Copies of pointwise values that a reader's loop can recompute from one tensor in memory
 * anyway and small operands (batch norm's x - mean), one per reader, instead of the value
 * being written once and read back (passes/recompute.c; IrAttr.copy keeps copies apart). */
int pass_recompute(IrGraph **g, PassCtx *ctx);

/* The graph as a run of data-parallel replicas runs it (passes/replicas.c): each ALLREDUCE of a
 * group not in `groups` (bits 1 << IrReplicaGroup; 0 for one process) replaced by its input.
 * Called by the runtime when it binds; *g is replaced only when something was dropped. */
int pass_replicas(IrGraph **g, unsigned groups);
/* The ALLREDUCEs that stay in g under `groups` */
int pass_replicas_count(const IrGraph *g, unsigned groups);
/* The ALLREDUCEs in buckets of up to `bytes` at the symbols' values sym, none reading another of
 * its bucket (passes/buckets.c): g reordered so that each bucket's reductions come together,
 * after all of their operands and before any node that reads one. *g is replaced only when some
 * bucket holds several. */
int pass_buckets(IrGraph **g, int64_t bytes, const int64_t *sym);

/* Fusion (passes/fuse.c): an analysis of a finished graph, recomputed by the runtime when it
 * binds one and shown by `fnc info`. Pointwise nodes over one shape form a group that runs as
 * one loop, tile by tile; leading-axis sums of its members (terminals) accumulate in the same
 * loop; only members read outside the group (and outputs, and terminals) reach memory. */
enum { PASS_FUSE_MAX_GROUP = 64 }; /* members and terminals per group (bounds tile buffers) */
enum { PASS_FUSE_SMALL = 1 << 16 }; /* a vector of at most this many elements (a constant dim) is
                                       small: it may join a group late or beside unrelated ones */
enum { PASS_FUSE_RECENT = 4 };      /* the groups of small vectors a new one may join: the latest */
typedef struct {
    int n_groups;
    int *group_of;      /* per node: its group, or -1 (runs on its own) */
    IrId *members;      /* group i: members[start[i] .. start[i+1]), in id order */
    IrId *run_at;       /* group i runs at node run_at[i]: its last member, but for sums that
                           joined after the group escaped (late terminals, read only later) */
    int *start;         /* n_groups + 1 entries */
    char *materialized; /* per node: its value is written to memory */
    int *tail;          /* NULL, or per group: a group over its sums' length that its finishing blocks
                           run, each element after its sum (the GPU's: runtime/gpu/gpu_tails.c); the
                           tail's run_at is then this group's, and the tail has no kernel of its own */
    int n_fused, n_terminals, n_written, n_multi; /* counts for `fnc info` */
} PassFusion;
/* Pointwise ops: elementwise ones and BCAST (which reads its operand by index modulo). */
int pass_fuse_pointwise(IrOp op);
/* Legality, a pure function of the two nodes: may consumer c run in the same loop as its input
 * p? Both are float and p pointwise; c is pointwise over p's shape, or a SUM of p. */
int pass_fuse_legal(const IrGraph *g, IrId p, IrId c);
/* The node whose shape is group gi's domain: its first member, or a lone sum's input. */
IrId pass_fuse_domain(const IrGraph *g, const PassFusion *f, int gi);
/* The position of node x among group gi's members (members[start[gi] + k] is x); -1 when x is
 * not one (group_of[x] != gi). The fused kernels name member k's register after it. */
int pass_fuse_member(const PassFusion *f, int gi, IrId x);
/* Group gi's row length at element counts numel: the one length of its outside operands that
 * are smaller than the domain but not scalars, and of its sums; 0 when there is none, -1 when
 * there are several. Chunks hold whole rows, and the LLVM kernels loop over rows. */
int64_t pass_fuse_inner(const IrGraph *g, const PassFusion *f, int gi, const int64_t *numel);
/* Lanes of group gi's sums to a scalar on the CPU: PASS_FUSE_LANES partial sums (element i into
 * lane i mod LANES, each in index order; the lanes then added in order) where the group has such
 * a sum, no other row length, and a domain of whole lanes; else 1 (one running sum). */
enum { PASS_FUSE_LANES = 16 };
int64_t pass_fuse_lanes(const IrGraph *g, const PassFusion *f, int gi, const int64_t *numel);
/* A group's operands and results as one kernel sees them, at bound sizes (the LLVM and CUDA
 * targets): slot s holds node slot_node[s]'s buffer, read in full at the element index, as a
 * suffix at the column index, or as a scalar; or written (a materialized member), or a terminal
 * sum. Slots come member by member: new outside operands, then the member's result. */
enum { PASS_SLOT_FULL, PASS_SLOT_SUFFIX, PASS_SLOT_SCALAR, PASS_SLOT_OUT, PASS_SLOT_SUM };
enum { PASS_MAX_SLOTS = 3 * PASS_FUSE_MAX_GROUP };
typedef struct {
    int n_slots;
    IrId slot_node[PASS_MAX_SLOTS];
    int slot_kind[PASS_MAX_SLOTS]; /* PASS_SLOT_* */
    int64_t inner;                 /* the row length: the suffix operands' and sums' length, or 0 when
                                      there are none */
    int64_t lanes;                 /* pass_fuse_lanes: > 1 when sums to a scalar keep that many
                                      partials (the CPU's rows are then `lanes` long) */
} PassFuseLayout;
/* Group gi's layout at element counts numel; -1 when its operands and sums have two different
 * row lengths (then only the interpreted loops can run it). */
int pass_fuse_layout(const IrGraph *g, const PassFusion *f, int gi, const int64_t *numel, PassFuseLayout *lay);
/* The slot of node x in lay: as an operand (result 0) or as a result (1); -1 if none. */
int pass_fuse_slot(const PassFuseLayout *lay, IrId x, int result);
/* A group that may run as contraction c's epilogue: on rows of c's output (whole rows of its last
 * axis, `channels` long at the bound sizes) as soon as c has written them, so its run_at may move
 * to c (the caller sets it, before planning memory). It is the group of c's first fused reader,
 * over c's shape, without sums, whose row length divides the channels, whose other
 * operands are ready before c (sources, or values and groups that run earlier); else -1. The
 * memory plan keeps such a group from writing over any block c reads (runtime/core/plan.c). */
int pass_fuse_epilogue(const IrGraph *g, const PassFusion *f, IrId c, const int64_t *numel, int64_t channels);
/* Groups the needed nodes (needed NULL: all); the kept ones (the outputs a caller reads; NULL:
 * every output) are written to memory. Free with pass_fusion_free. 0, or -1 when out of memory
 * (f then empty). */
int pass_fuse(const IrGraph *g, const char *needed, const char *kept, PassFusion *f);
void pass_fusion_free(PassFusion *f);

/* Runs the pipeline for one graph; training selects the train pipeline above, with ctx's
 * optimizer. */
int pass_pipeline(IrGraph **g, int training, PassCtx *ctx);
/* The names of the passes, in pipeline order, NULL-terminated (for --dump-after checks). */
extern const char *const pass_names[];

#endif
