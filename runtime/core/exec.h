/* The executor interface: a graph bound at its sizes on a backend, run step by step. A backend
 * (the CPU, runtime/cpu; a GPU, runtime/gpu) is a table of functions and a device; the layers
 * above bind and run through it and never ask which one it is. The place that picks a backend
 * (cli/backend.c) is the only one that knows them all.
 * What this is not: the plan (plan.h, which both backends share) or the kernels.
 */
#ifndef FN_RT_EXEC_H
#define FN_RT_EXEC_H

#include "runtime/core/comm.h"
#include "runtime/core/options.h"
#include "runtime/core/rt.h"

typedef struct RtBackend RtBackend;

/* How a device spreads its step: its items of work (each a launch or a few; 0 on the CPU), the
 * streams (0 on the CPU), the waits between them, the modelled length on them over one stream's,
 * and the reductions over the replicas in how many launches. */
typedef struct {
    int items, streams, waits, reductions, buckets;
    double overlap;
} RtStreams;

/* What a backend does; x is one of its executors. Each returns -1 with st filled on failure.
 * run_ahead may be NULL (runs do not overlap the host's work). */
typedef struct {
    /* Binds g at sym, allocating everything once: `want` lists the outputs to keep (NULL/0:
     * all), run_effects adds the graph's assignments to the step. */
    void *(*bind)(const RtBackend *be, const IrGraph *g, RtVars *vars, const int64_t *sym, const char *const *want,
                  int n_want, int run_effects, RtStatus *st);
    void (*free)(void *x);
    void *(*input)(void *x, const char *name, int64_t *n);
    int (*run)(void *x, uint64_t seed, uint64_t step, RtStatus *st);
    int (*run_ahead)(void *x, uint64_t seed, uint64_t step, int next, int (*fill)(void *, RtStatus *), void *ctx,
                     RtStatus *st);
    const void *(*output)(void *x, const char *name, int64_t *n, int *rank, int64_t *dims, RtStatus *st);
    int (*upload_vars)(void *x, RtStatus *st);
    int (*ema_update)(void *x, RtVars *ema, double decay, int64_t t, RtStatus *st);
    int (*sync_host)(void *x, RtVars *ema, RtStatus *st);
    size_t (*bytes)(const void *x);
    RtStreams (*streams)(const void *x);
    void (*close)(RtBackend *be); /* the device's resources (NULL: none) */
} RtBackendOps;

struct RtBackend {
    const RtBackendOps *ops;
    void *dev;          /* the backend's device (a GPU's context), NULL on the CPU */
    RtOptions opt;      /* how its executors run: read at each bind */
    RtBackend *host;    /* where a graph runs that the device cannot take (the CPU backend) */
    RtComm *comm;       /* the data-parallel replicas its executors' ALLREDUCEs reduce over (NULL: one
                           process); a graph is bound as passes/replicas.c specialises it for them */
    char name[192];     /* "CPU", "NVIDIA H100 80GB HBM3 (sm_90)" */
};

void rt_backend_close(RtBackend *be); /* its device; the struct stays the caller's */

typedef struct RtExec RtExec;
/* Binds shapes and allocates every buffer once. `want` lists the outputs to compute (NULL/0 =
 * all outputs); with run_effects the step also performs the graph's assignments. */
RtExec *rt_exec_new(const RtBackend *be, const IrGraph *g, RtVars *vars, const int64_t *sym,
                    const char *const *want, int n_want, int run_effects, RtStatus *st);
/* rt_bind_syms then rt_exec_new. */
RtExec *rt_exec_bind(const RtBackend *be, const IrGraph *g, RtVars *vars, const RtBinding *b, int nb,
                     const char *const *want, int n_want, int run_effects, RtStatus *st);
void rt_exec_free(RtExec *ex);
/* The buffer of input `name` (reals of the precision, or int32 for int inputs); NULL if the
 * graph has no such input. *n gets its element count. A GPU's is a host staging buffer. */
void *rt_exec_input(RtExec *ex, const char *name, int64_t *n);
int rt_exec_run(RtExec *ex, uint64_t seed, uint64_t step, RtStatus *st);
/* A run that, where the backend can, also prepares the next one: after the step is launched,
 * fill_next(ctx) writes the next run's inputs into the input buffers (when `next`), and they are
 * copied aside on the device while the step runs. 1: the next run's inputs are in place (do not
 * fill them again), 0: they are not (the CPU, whose buffers must keep this run's inputs until
 * its outputs are read), -1: an error. */
typedef int (*RtExecFill)(void *ctx, RtStatus *st);
int rt_exec_run_ahead(RtExec *ex, uint64_t seed, uint64_t step, int next, RtExecFill fill_next, void *ctx, RtStatus *st);
/* Output `name` of the last run (NULL if absent). Ask again after every run: a GPU executor
 * copies it back when asked, so an earlier pointer holds an earlier step's values. */
const void *rt_exec_output(RtExec *ex, const char *name, int64_t *n, int *rank, int64_t *dims);
double rt_exec_scalar(RtExec *ex, const char *name); /* NaN if absent */
/* After the store's variables changed on the host (initialised, restored): a device copies them
 * over; nothing to do on the CPU. */
int rt_exec_upload_vars(RtExec *ex, RtStatus *st);
/* The moving averages' step (ema.h) after a training step, where the variables live (a device
 * takes `ema`'s values over at its first call). */
int rt_exec_ema_update(RtExec *ex, RtVars *ema, double decay, int64_t t, RtStatus *st);
/* Before the host reads the variables (checkpoints, host evaluation, histograms): a device
 * copies back what its steps changed, the variables and, when ema is given and the device holds
 * the averages, those; nothing to do on the CPU. */
int rt_exec_sync_host(RtExec *ex, RtVars *ema, RtStatus *st);
size_t rt_exec_bytes(const RtExec *ex); /* memory held (the device's, on a GPU) */
/* How a device spreads its step (rt_exec_streams). */
RtStreams rt_exec_streams(const RtExec *ex);

/* A per-op profile's rows on stderr: seconds and calls per op (index = IrOp; from IR_OP_COUNT
 * on, the fused loops ending in that op), largest first, after the mean per step when steps > 0. */
void rt_profile_print(const double *s, const int64_t *calls, int n, int64_t steps);

#endif
