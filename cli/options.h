/* The runtime's options from the environment, the paths' ~, and the backend --device picks:
 * the one place that reads FN_* variables and the one place that knows every backend.
 * What this is not: flag parsing (flags.h) or the options' meaning (runtime/core/options.h). */
#ifndef FN_CLI_OPTIONS_H
#define FN_CLI_OPTIONS_H

#include <stdio.h>

#include "runtime/core/exec.h"

/* Defaults (rt_options_defaults), then the FN_* variables set in the environment. */
void cli_options_from_env(RtOptions *o);
/* The CPU backend with the environment's options (the tools, the benchmarks, MTCNN's nets) and
 * `threads` threads (0: the options' choice). 0, or -1 with st; rt_backend_close stops it. */
int cli_backend_cpu(RtBackend *be, int threads, RtStatus *st);
/* p with a leading ~ expanded by $HOME into buf, or p itself. */
const char *cli_path(const char *p, char *buf, size_t cap);

/* The backends a command may use: the CPU always, a GPU when --device asks for one. */
typedef struct {
    RtBackend cpu, gpu;
    RtBackend *chosen; /* &cpu or &gpu */
} CliBackends;
/* --device: "cpu" (or NULL), "gpu" (an error without one) or "auto" (the GPU if there is one).
 * Writes "Device: ..." to log, with `what` runs there. 0, or -1 with st. */
int cli_backends_open(CliBackends *b, const char *device, const RtOptions *o, const char *what, FILE *log,
                      RtStatus *st);
void cli_backends_close(CliBackends *b);

/* Data-parallel runs: when mpirun (Open MPI's OMPI_COMM_WORLD_SIZE, or PMI_SIZE) started K > 1
 * processes, *comm gets MPI's ranks (runtime/dist) with sync_batch_norm set; with FN_COMM=self
 * one replica that runs the reductions all the same (rt_comm_self: the whole data-parallel path
 * checked on one device); else NULL, one process. 0, or -1 with st (no MPI in this build, or
 * MPI failed to start). */
int cli_comm_open(RtComm **comm, int sync_batch_norm, RtStatus *st);
/* A rank's CPU threads: its share of the cores it may use, split with the ranks on its machine */
int cli_rank_threads(const RtComm *comm);
/* Ends every rank of the job (after this one failed), naming nothing: mpirun reports it */
void cli_comm_abort(RtComm *comm);

#endif
