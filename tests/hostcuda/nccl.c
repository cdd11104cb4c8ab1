/* An emulation of the parts of NCCL that fn calls (runtime/gpu/nccl.c), over MPI, for the host
 * emulation of the driver (hostcuda.h): libfn_hostnccl.so, named by FN_NCCL_LIBRARY where
 * FN_CUDA_EMULATOR names libfn_hostcuda.so, so that the data-parallel GPU step runs in ctest
 * with K processes under mpirun and no GPU.
 *
 * - A communicator is a duplicate of MPI_COMM_WORLD (the ranks fnrun's MPI started), checked
 *   against the rank and size NCCL is given; one of a single rank needs no MPI (FN_COMM=self).
 * - ncclAllReduce queues its reduction on the stream like a kernel (the driver's
 *   cuLaunchHostFunc): it runs in the stream's order when the host waits for the work, and a
 *   captured step replays it. The sum is MPI_Allreduce's (the same bits on every rank, and the
 *   same as fn's CPU ranks get); ncclAvg divides it by the ranks after.
 * - Calls between ncclGroupStart and ncclGroupEnd go in one queued function (a bucket), when
 *   the group ends, as NCCL launches them together; they must share a stream.
 * What this is not: a timing model, or NCCL's algorithms (rings, trees) or its bfloat16 sums.
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/hostcuda/hostcuda.h"

CUresult cuLaunchHostFunc(void *s, void (*fn)(void *), void *user); /* driver.c */

enum { SUCCESS = 0, SYSTEM_ERROR = 2, INVALID_ARGUMENT = 4, INVALID_USAGE = 5 };
enum { FLOAT32 = 7, SUM = 0, AVG = 4 };

typedef struct {
    const void *x;
    void *y;
    size_t n;
    int op;
} Op;

/* ops queued together: run in order, kept while the communicator lives (a graph may replay them) */
typedef struct Batch {
    struct Comm *comm;
    Op *ops;
    int n_ops;
    struct Batch *next;
} Batch;

typedef struct Comm {
    MPI_Comm mpi; /* MPI_COMM_NULL for one rank */
    int rank, size;
    Batch *batches;
} Comm;

static struct {
    int depth; /* ncclGroupStart's nesting */
    Comm *comm;
    void *stream;
    Op *ops;
    int n_ops, cap;
} group;

EXPORT int ncclGetVersion(int *v) {
    *v = 22105; /* the NCCL whose interface this follows: 2.21.5 */
    return SUCCESS;
}

EXPORT const char *ncclGetErrorString(int r) {
    switch (r) {
    case SUCCESS: return "no error";
    case SYSTEM_ERROR: return "system error (emulated NCCL: MPI failed)";
    case INVALID_ARGUMENT: return "invalid argument";
    case INVALID_USAGE: return "invalid usage";
    default: return "unknown result";
    }
}

typedef struct {
    char bytes[128];
} Id;

EXPORT int ncclGetUniqueId(Id *id) {
    memset(id, 0, sizeof *id);
    snprintf(id->bytes, sizeof id->bytes, "fn-hostnccl");
    return SUCCESS;
}

EXPORT int ncclCommInitRank(Comm **out, int nranks, Id id, int rank) {
    *out = NULL;
    if (strcmp(id.bytes, "fn-hostnccl") != 0 || nranks < 1 || rank < 0 || rank >= nranks) return INVALID_ARGUMENT;
    Comm *c = calloc(1, sizeof *c);
    if (!c) return SYSTEM_ERROR;
    c->rank = rank, c->size = nranks, c->mpi = MPI_COMM_NULL;
    if (nranks > 1) {
        int up = 0, r = -1, n = 0;
        if (MPI_Initialized(&up) != MPI_SUCCESS || !up || MPI_Comm_dup(MPI_COMM_WORLD, &c->mpi) != MPI_SUCCESS) {
            free(c);
            return INVALID_USAGE; /* the emulation needs the ranks' MPI */
        }
        MPI_Comm_rank(c->mpi, &r);
        MPI_Comm_size(c->mpi, &n);
        if (r != rank || n != nranks) {
            MPI_Comm_free(&c->mpi);
            free(c);
            return INVALID_ARGUMENT;
        }
    }
    *out = c;
    return SUCCESS;
}

EXPORT int ncclCommDestroy(Comm *c) {
    if (!c) return INVALID_ARGUMENT;
    hc_drain(); /* nothing queued may still need its batches */
    for (Batch *b = c->batches, *next; b; b = next) {
        next = b->next;
        free(b->ops);
        free(b);
    }
    if (c->mpi != MPI_COMM_NULL) MPI_Comm_free(&c->mpi);
    free(c);
    return SUCCESS;
}

/* the queued function: each op's sum over the ranks, in order */
static void run_batch(void *user) {
    const Batch *b = user;
    const Comm *c = b->comm;
    for (int i = 0; i < b->n_ops; i++) {
        const Op *o = &b->ops[i];
        float *y = o->y;
        if (o->x != o->y) memmove(y, o->x, o->n * sizeof *y);
        for (size_t at = 0; c->size > 1 && at < o->n; at += 1u << 30) {
            int count = (int)(o->n - at < (1u << 30) ? o->n - at : (1u << 30));
            if (MPI_Allreduce(MPI_IN_PLACE, y + at, count, MPI_FLOAT, MPI_SUM, c->mpi) != MPI_SUCCESS) {
                fprintf(stderr, "hostnccl: MPI_Allreduce failed on rank %d\n", c->rank);
                MPI_Abort(MPI_COMM_WORLD, 1); /* as a failed NCCL kernel leaves the job nowhere */
            }
        }
        if (o->op == AVG)
            for (size_t k = 0; k < o->n; k++) y[k] /= (float)c->size;
    }
}

/* the batch of these ops, made once: a step queues the same ones again and again */
static Batch *batch_of(Comm *c, const Op *ops, int n_ops) {
    for (Batch *b = c->batches; b; b = b->next)
        if (b->n_ops == n_ops && !memcmp(b->ops, ops, (size_t)n_ops * sizeof *ops)) return b;
    Batch *b = calloc(1, sizeof *b);
    if (!b || !(b->ops = malloc((size_t)n_ops * sizeof *ops))) {
        free(b);
        return NULL;
    }
    memcpy(b->ops, ops, (size_t)n_ops * sizeof *ops);
    b->n_ops = n_ops, b->comm = c, b->next = c->batches;
    c->batches = b;
    return b;
}

static int launch(Comm *c, const Op *ops, int n_ops, void *stream) {
    Batch *b = batch_of(c, ops, n_ops);
    if (!b) return SYSTEM_ERROR;
    return cuLaunchHostFunc(stream, run_batch, b) == OK ? SUCCESS : INVALID_ARGUMENT;
}

EXPORT int ncclAllReduce(const void *x, void *y, size_t n, int type, int op, Comm *c, void *stream) {
    if (!c || type != FLOAT32 || (op != SUM && op != AVG) || (n && (!x || !y))) return INVALID_ARGUMENT;
    Op o;
    memset(&o, 0, sizeof o); /* compared bytewise (batch_of) */
    o.x = x, o.y = y, o.n = n, o.op = op;
    if (!group.depth) return launch(c, &o, 1, stream);
    if (group.n_ops && (group.comm != c || group.stream != stream)) return INVALID_USAGE;
    if (group.n_ops == group.cap) {
        Op *grown = realloc(group.ops, ((size_t)group.cap * 2 + 16) * sizeof *grown);
        if (!grown) return SYSTEM_ERROR;
        group.ops = grown, group.cap = group.cap * 2 + 16;
    }
    group.ops[group.n_ops++] = o;
    group.comm = c, group.stream = stream;
    return SUCCESS;
}

EXPORT int ncclGroupStart(void) {
    group.depth++;
    return SUCCESS;
}

EXPORT int ncclGroupEnd(void) {
    if (group.depth < 1) return INVALID_USAGE;
    if (--group.depth || !group.n_ops) return SUCCESS;
    int r = launch(group.comm, group.ops, group.n_ops, group.stream);
    group.n_ops = 0;
    return r;
}

__attribute__((destructor)) static void free_group(void) { free(group.ops); }
