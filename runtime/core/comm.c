/* See comm.h: the collectives' forwarding, and one process's identity where there is no RtComm. */
#include "runtime/core/comm.h"

#include <stdlib.h>

#include "ir/alloc.h"

int rt_comm_rank(const RtComm *c) { return c ? c->rank : 0; }
int rt_comm_size(const RtComm *c) { return c ? c->size : 1; }

static void self_free(RtComm *c) { free(c); }
static const RtCommOps self_ops = {NULL, NULL, NULL, self_free}; /* never called: one rank */

RtComm *rt_comm_self(int sync_batch_norm) {
    RtComm *c = fn_calloc(1, sizeof *c);
    if (c) *c = (RtComm){&self_ops, 0, 1, 0, 1, sync_batch_norm};
    return c;
}

unsigned rt_comm_groups(const RtComm *c) {
    if (!c) return 0;
    return 1u << IR_REPLICAS_ALWAYS | 1u << (c->sync_batch_norm ? IR_REPLICAS_SYNC_BN : IR_REPLICAS_LOCAL_BN);
}

int rt_comm_allreduce(RtComm *c, void *buf, int64_t n, int prec, int mean, RtStatus *st) {
    if (rt_comm_size(c) < 2 || n <= 0) return 0;
    if (c->ops->allreduce(c, buf, n, prec, st) < 0) return -1;
    if (!mean) return 0;
    if (prec == 4)
        for (int64_t i = 0; i < n; i++) ((float *)buf)[i] /= (float)c->size;
    else
        for (int64_t i = 0; i < n; i++) ((double *)buf)[i] /= (double)c->size;
    return 0;
}

int rt_comm_broadcast(RtComm *c, void *buf, int64_t bytes, int root, RtStatus *st) {
    return rt_comm_size(c) < 2 || bytes <= 0 ? 0 : c->ops->broadcast(c, buf, bytes, root, st);
}

int rt_comm_barrier(RtComm *c, RtStatus *st) { return rt_comm_size(c) < 2 ? 0 : c->ops->barrier(c, st); }

void rt_comm_free(RtComm *c) {
    if (c && c->ops->free) c->ops->free(c);
}
