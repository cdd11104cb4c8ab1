/* The replicas of a data-parallel run as the runtime sees them: K processes (ranks) that run the
 * same step, each on its slice of every global batch, and the collectives between them, a table
 * of functions over one transport (runtime/dist/comm_mpi.c: MPI). cli/ opens it; a backend
 * carries it (RtBackend.comm) and its executors run a graph's ALLREDUCEs through it; the
 * training loop asks it its rank. A NULL RtComm is one process: rank 0 of 1, whose graphs keep
 * no ALLREDUCE (passes/replicas.c) and whose collectives are the identity. rt_comm_self is one
 * process that keeps them (the data-parallel path run whole with one replica, as a check).
 * What this is not: a transport (fn has none of its own) or a launcher (mpirun is).
 */
#ifndef FN_RT_COMM_H
#define FN_RT_COMM_H

#include "runtime/core/rt.h"

typedef struct RtComm RtComm;

/* Each returns 0, or -1 with st filled (a lost peer). */
typedef struct {
    /* buf[0..n) <- its sum over the ranks (floats when prec is 4, doubles when 8), in an order
       fixed by the ranks alone: the same bits on every rank and in every run */
    int (*allreduce)(RtComm *c, void *buf, int64_t n, int prec, RtStatus *st);
    int (*broadcast)(RtComm *c, void *buf, int64_t bytes, int root, RtStatus *st); /* root's bytes to all */
    int (*barrier)(RtComm *c, RtStatus *st);
    void (*free)(RtComm *c);
} RtCommOps;

struct RtComm {
    const RtCommOps *ops;
    int rank, size;
    int local_rank, local_size; /* among the ranks on this rank's machine (its node): which GPU it takes */
    int sync_batch_norm; /* batch norm's moments reduced over the ranks (IR_REPLICAS_SYNC_BN);
                            else each rank's own, and the moving statistics' targets reduced */
};

int rt_comm_rank(const RtComm *c); /* 0 for NULL */
int rt_comm_size(const RtComm *c); /* 1 for NULL */
/* One replica whose graphs keep their ALLREDUCEs (each the identity); rt_comm_free frees it. */
RtComm *rt_comm_self(int sync_batch_norm);
/* The ALLREDUCE groups this run reduces (bits 1 << IrReplicaGroup): none for NULL. */
unsigned rt_comm_groups(const RtComm *c);
/* buf <- the ranks' sum (mean: divided by their number); nothing with one rank */
int rt_comm_allreduce(RtComm *c, void *buf, int64_t n, int prec, int mean, RtStatus *st);
int rt_comm_broadcast(RtComm *c, void *buf, int64_t bytes, int root, RtStatus *st);
int rt_comm_barrier(RtComm *c, RtStatus *st);
void rt_comm_free(RtComm *c);

#endif
