/* The runtime: variables, the graph executor, artifacts, data and the training loop.
 *
 * What this is: everything `fnrun` needs to run a compiled graph on the host with the reference
 * kernels (codegen/ref). No process-global state: every call takes its context explicitly.
 * Library code never exits; it returns -1 and fills an RtStatus.
 * What this is not: a compiler (never includes frontend/ or passes/).
 */
#ifndef FN_RT_H
#define FN_RT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ir/ir.h"

/* ---- status -------------------------------------------------------------------------------- */
typedef struct {
    char msg[1024];
} RtStatus;
int rt_fail(RtStatus *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

double rt_now(void); /* monotonic seconds */
/* FN_PROFILE's table on stderr: seconds and calls per op (index = IrOp; from IR_OP_COUNT on, the
 * fused loops ending in that op), largest first, after the mean per step when steps > 0. */
void rt_profile_print(const double *s, const int64_t *calls, int n, int64_t steps);
/* Threads the BLAS (when it is OpenBLAS) and the executor's fused loops (OpenMP) may use, set for
 * the calling thread. Work that runs its own threads over many small GEMMs (MTCNN) wants 1. */
void rt_blas_threads(int n);
/* Debian's OpenBLAS 0.3.21 does not know some newer CPUs (a Sapphire Rapids VM reports a generic
 * "Intel Xeon Processor") and falls back to its Prescott (SSE3) kernels, 3-6x slower than its
 * AVX-512 ones. OpenBLAS picks its kernels once, from OPENBLAS_CORETYPE, when it loads; so when
 * it reports Prescott on a CPU with AVX-512 (or AVX2) and the variable is unset, this sets it
 * and re-executes the program (argv as given). Returns only if nothing needed doing. */
void rt_blas_select(char **argv);

/* ---- random numbers: counter-based, so results never depend on call order or threads ------- */
uint64_t rt_mix(uint64_t x);                               /* splitmix64 finaliser */
uint64_t rt_hash(uint64_t a, uint64_t b, uint64_t c);      /* key for a random stream */
double rt_uniform(uint64_t key, uint64_t counter);         /* in [0, 1) */
uint64_t rt_hash_str(const char *s);
/* Seeded Fisher-Yates shuffle of v[0..n) drawing from the stream `key`. */
void rt_shuffle(int *v, int n, uint64_t key);

/* ---- symbols ------------------------------------------------------------------------------- */
typedef struct {
    const char *name;
    int64_t value;
} RtBinding;
/* Fills sym[g->n_syms] from bindings and the graph's defaults; error names an unbound symbol. */
int rt_bind_syms(const IrGraph *g, const RtBinding *b, int nb, int64_t *sym, RtStatus *st);

/* ---- variables (params and states), shared by every graph of an artifact ------------------ */
typedef struct {
    char *name;
    int is_state;
    IrInit init;
    double init_value;
    int flags; /* IR_LEAF_* */
    int rank;
    int64_t dims[IR_MAX_RANK];
    int64_t n;
    void *data; /* n reals of the store's precision */
} RtVar;

typedef struct {
    int prec; /* bytes per real: 4 or 8 */
    RtVar *v;
    int n, cap;
} RtVars;

RtVars *rt_vars_new(int prec);
void rt_vars_free(RtVars *vs);
/* Adds every PARAM/STATE of g (shapes bound by sym) that is not there yet; an existing variable
 * with another shape is an error. New variables are zero until rt_vars_init. */
int rt_vars_bind(RtVars *vs, const IrGraph *g, const int64_t *sym, RtStatus *st);
/* Initialises every variable from its initialiser; glorot uniform draws from a stream keyed by
 * (seed, variable name), so the result does not depend on declaration order. */
void rt_vars_init(RtVars *vs, uint64_t seed);
RtVar *rt_vars_find(RtVars *vs, const char *name);
int64_t rt_vars_count(const RtVars *vs, int trainable_only);

/* ---- executor ------------------------------------------------------------------------------ */
typedef struct RtExec RtExec;
/* Binds shapes and allocates every buffer once. `want` lists the outputs to compute (NULL/0 =
 * all outputs); with run_effects the step also performs the graph's assignments. */
RtExec *rt_exec_new(const IrGraph *g, RtVars *vars, const int64_t *sym, const char *const *want,
                    int n_want, int run_effects, RtStatus *st);
void rt_exec_free(RtExec *ex);
/* rt_bind_syms then rt_exec_new. */
RtExec *rt_exec_bind(const IrGraph *g, RtVars *vars, const RtBinding *b, int nb,
                     const char *const *want, int n_want, int run_effects, RtStatus *st);
/* The buffer of input `name` (reals of the precision, or int32 for int inputs); NULL if the
 * graph has no such input. *n gets its element count. */
void *rt_exec_input(RtExec *ex, const char *name, int64_t *n);
int rt_exec_run(RtExec *ex, uint64_t seed, uint64_t step, RtStatus *st);
/* A run that, on a GPU executor, also prepares the next one: after the step is launched,
 * fill_next(ctx) writes the next run's inputs into the input buffers (when `next`), and they are
 * copied aside on the device while the step runs. 1: the next run's inputs are in place (do not
 * fill them again), 0: they are not (always on the CPU, whose buffers must keep this run's inputs
 * until its outputs are read), -1: an error. */
typedef int (*RtExecFill)(void *ctx, RtStatus *st);
int rt_exec_run_ahead(RtExec *ex, uint64_t seed, uint64_t step, int next, RtExecFill fill_next, void *ctx, RtStatus *st);
/* Output `name` of the last run (NULL if absent). Ask again after every run: a GPU executor
 * copies it back when asked, so an earlier pointer holds an earlier step's values. */
const void *rt_exec_output(RtExec *ex, const char *name, int64_t *n, int *rank, int64_t *dims);
double rt_exec_scalar(RtExec *ex, const char *name); /* NaN if absent */
/* The same executor on a GPU (runtime/gpu/gpu_exec.h): every rt_exec_* call works on it, inputs
 * are copied to the device before each run and outputs back on request; the trained variables
 * (and their moving averages) stay on the device until rt_exec_sync_host asks for them.
 * memory_fraction bounds the device memory (--gpu_memory_fraction). */
typedef struct RtGpu RtGpu;
RtExec *rt_exec_bind_gpu(RtGpu *gpu, double memory_fraction, const IrGraph *g, RtVars *vars,
                         const RtBinding *b, int nb, const char *const *want, int n_want, int run_effects,
                         RtStatus *st);
/* After the store's variables changed on the host (initialised, restored): copies them to the
 * device of a GPU executor; nothing to do on the CPU. */
int rt_exec_upload_vars(RtExec *ex, RtStatus *st);
/* The moving averages' step (runtime/core/ema.h) after a training step: on the host for the CPU, on
 * the device for a GPU executor (which takes `ema`'s values to the device at its first call). */
int rt_exec_ema_update(RtExec *ex, RtVars *ema, double decay, int64_t t, RtStatus *st);
/* Before the host reads the variables (checkpoints, CPU validation, histograms): a GPU
 * executor copies back what its steps changed, the variables and, when ema is given and the
 * device holds the averages, those; nothing to do on the CPU. */
int rt_exec_sync_host(RtExec *ex, RtVars *ema, RtStatus *st);
size_t rt_exec_bytes(const RtExec *ex);
/* A GPU executor's streams, waits between them and modelled overlap (rt_gpu_exec_streams);
 * 0 on the CPU. */
int rt_exec_gpu_streams(const RtExec *ex, int *waits, double *overlap);
/* The executors (CPU and GPU) fuse pointwise nodes (passes/fuse.c) unless FN_FUSE=0 is set in the environment
 * (the unfused reference path, for checking the fused one). */
int rt_exec_fusion_enabled(void);

#endif
