/* RtComm over MPI (dist.h). Sums are MPI_Allreduce's MPI_SUM: for a given number of ranks and
 * message size Open MPI runs the same algorithm every time (its tuned component decides from the
 * sizes alone), so repeated runs give the same bits, and every rank ends with the same result
 * (ring or recursive halving: each chunk's sum is computed once, then copied; with two ranks
 * a + b and b + a are the same float). Messages go in chunks that fit MPI's int counts.
 * What this is not: NCCL (the GPU's reductions, runtime/gpu/nccl.c, which start from this). */
#include "runtime/dist/dist.h"

#include <limits.h>
#include <stdlib.h>

#include "ir/alloc.h"

#ifdef FN_HAVE_MPI
#include <mpi.h>

static int mpi_fail(RtStatus *st, int err, const char *what) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(err, msg, &len) != MPI_SUCCESS) len = 0;
    msg[len] = 0;
    return rt_fail(st, "%s failed: %s", what, len ? msg : "unknown MPI error");
}

enum { CHUNK = INT_MAX / 2 }; /* elements per call */

static int mpi_allreduce(RtComm *c, void *buf, int64_t n, int prec, RtStatus *st) {
    (void)c;
    for (int64_t i = 0; i < n; i += CHUNK) {
        int count = (int)(n - i < CHUNK ? n - i : CHUNK);
        void *at = (char *)buf + (size_t)i * (size_t)prec;
        int err = MPI_Allreduce(MPI_IN_PLACE, at, count, prec == 4 ? MPI_FLOAT : MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        if (err != MPI_SUCCESS) return mpi_fail(st, err, "MPI_Allreduce");
    }
    return 0;
}

static int mpi_broadcast(RtComm *c, void *buf, int64_t bytes, int root, RtStatus *st) {
    (void)c;
    for (int64_t i = 0; i < bytes; i += CHUNK) {
        int count = (int)(bytes - i < CHUNK ? bytes - i : CHUNK);
        int err = MPI_Bcast((char *)buf + i, count, MPI_BYTE, root, MPI_COMM_WORLD);
        if (err != MPI_SUCCESS) return mpi_fail(st, err, "MPI_Bcast");
    }
    return 0;
}

static int mpi_barrier(RtComm *c, RtStatus *st) {
    (void)c;
    int err = MPI_Barrier(MPI_COMM_WORLD);
    return err == MPI_SUCCESS ? 0 : mpi_fail(st, err, "MPI_Barrier");
}

static void mpi_free(RtComm *c) {
    MPI_Finalize();
    free(c);
}

static const RtCommOps mpi_ops = {mpi_allreduce, mpi_broadcast, mpi_barrier, mpi_free};

int rt_mpi_available(void) { return 1; }

RtComm *rt_mpi_open(int *argc, char ***argv, RtStatus *st) {
    int provided = 0, err = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (err != MPI_SUCCESS) {
        mpi_fail(st, err, "MPI_Init_thread");
        return NULL;
    }
    /* a failed collective returns to fn, which reports it and ends the job (rt_mpi_abort) */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    RtComm *c = fn_calloc(1, sizeof *c);
    MPI_Comm node; /* the ranks of this machine, in world order */
    if (!c || MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) != MPI_SUCCESS) {
        free(c);
        rt_fail(st, "MPI: out of memory, or no node communicator");
        MPI_Finalize();
        return NULL;
    }
    MPI_Comm_rank(node, &c->local_rank);
    MPI_Comm_size(node, &c->local_size);
    MPI_Comm_free(&node);
    c->ops = &mpi_ops;
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    return c;
}

void rt_mpi_abort(RtComm *c, int code) {
    if (c) MPI_Abort(MPI_COMM_WORLD, code);
}

#else /* no MPI in this build */

int rt_mpi_available(void) { return 0; }

RtComm *rt_mpi_open(int *argc, char ***argv, RtStatus *st) {
    (void)argc, (void)argv;
    rt_fail(st, "this fnrun was built without MPI: run it without mpirun, or install libopenmpi-dev and rebuild");
    return NULL;
}

void rt_mpi_abort(RtComm *c, int code) { (void)c, (void)code; }

#endif
