/* See nccl.h. */
#include "runtime/gpu/nccl.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

typedef int NcclResult;
typedef struct NcclComm *NcclCommT;
typedef struct {
    char bytes[128]; /* NCCL_UNIQUE_ID_BYTES */
} NcclId;
enum { NCCL_FLOAT32 = 7, NCCL_SUM = 0, NCCL_AVG = 4, NCCL_WITH_AVG = 21000 /* 2.10.0 */ };

struct GpuNccl {
    void *lib;
    NcclCommT comm;
    char name[48];
    NcclResult (*GetVersion)(int *);
    NcclResult (*GetUniqueId)(NcclId *);
    NcclResult (*CommInitRank)(NcclCommT *, int, NcclId, int);
    NcclResult (*CommDestroy)(NcclCommT);
    NcclResult (*AllReduce)(const void *, void *, size_t, int, int, NcclCommT, CUstream);
    NcclResult (*GroupStart)(void);
    NcclResult (*GroupEnd)(void);
    const char *(*GetErrorString)(NcclResult);
};

static int nccl_fail(const GpuNccl *n, NcclResult r, const char *call, RtStatus *st) {
    const char *why = n->GetErrorString ? n->GetErrorString(r) : NULL;
    return rt_fail(st, "%s: %s (%d)", call, why ? why : "NCCL error", r);
}
#define NCCL_TRY(n, st, call) ((r = (n)->call) == 0 ? 0 : nccl_fail((n), r, #call, (st)))

static int load(GpuNccl *n, const char *library, RtStatus *st) {
    const char *lib = library && *library ? library : "libnccl.so.2";
    if (!(n->lib = dlopen(lib, RTLD_NOW | RTLD_LOCAL)))
        return rt_fail(st, "no NCCL for the data-parallel GPU step (%s): install libnccl2, or set FN_NCCL_LIBRARY to "
                           "a libnccl.so.2 (PyPI's nvidia-nccl-cu13 has one in nvidia/nccl/lib)",
                       dlerror());
#define SYM(field, sym) *(void **)&n->field = dlsym(n->lib, sym)
    SYM(GetVersion, "ncclGetVersion");
    SYM(GetUniqueId, "ncclGetUniqueId");
    SYM(CommInitRank, "ncclCommInitRank");
    SYM(CommDestroy, "ncclCommDestroy");
    SYM(AllReduce, "ncclAllReduce");
    SYM(GroupStart, "ncclGroupStart");
    SYM(GroupEnd, "ncclGroupEnd");
    SYM(GetErrorString, "ncclGetErrorString");
#undef SYM
    if (!n->GetVersion || !n->GetUniqueId || !n->CommInitRank || !n->CommDestroy || !n->AllReduce || !n->GroupStart ||
        !n->GroupEnd)
        return rt_fail(st, "%s lacks an entry point fn needs", lib);
    int v = 0;
    NcclResult r;
    if (NCCL_TRY(n, st, GetVersion(&v)) < 0) return -1;
    snprintf(n->name, sizeof n->name, "NCCL %d.%d.%d", v / 10000, v / 100 % 100, v % 100);
    if (v < NCCL_WITH_AVG) return rt_fail(st, "%s is older than the 2.10 fn needs (ncclAvg)", n->name);
    return 0;
}

GpuNccl *gpu_nccl_open(const char *library, RtComm *comm, RtStatus *st) {
    GpuNccl *n = fn_calloc(1, sizeof *n);
    if (!n) {
        rt_fail(st, "out of memory opening NCCL");
        return NULL;
    }
    NcclId id;
    memset(&id, 0, sizeof id);
    NcclResult r;
    /* every rank reaches the broadcast and the count of failures, even one that failed to load,
       and joins the communicator only when every rank can (else NCCL's set-up waits for it) */
    int rc = load(n, library, st);
    if (rt_comm_rank(comm) == 0 && rc == 0) rc = NCCL_TRY(n, st, GetUniqueId(&id));
    RtStatus bst;
    if (rt_comm_broadcast(comm, &id, (int64_t)sizeof id, 0, &bst) < 0 && rc == 0) rc = rt_fail(st, "%s", bst.msg);
    double failed = rc < 0;
    if (rt_comm_allreduce(comm, &failed, 1, 8, 0, &bst) < 0 && rc == 0) rc = rt_fail(st, "%s", bst.msg);
    if (rc == 0 && failed > 0) rc = rt_fail(st, "NCCL did not start on %.0f of the %d ranks", failed, rt_comm_size(comm));
    if (rc == 0) rc = NCCL_TRY(n, st, CommInitRank(&n->comm, rt_comm_size(comm), id, rt_comm_rank(comm)));
    if (rc < 0) {
        gpu_nccl_close(n);
        return NULL;
    }
    return n;
}

void gpu_nccl_close(GpuNccl *n) {
    if (!n) return;
    if (n->comm) n->CommDestroy(n->comm);
    if (n->lib) dlclose(n->lib);
    free(n);
}

const char *gpu_nccl_name(const GpuNccl *n) { return n->name; }

int gpu_nccl_allreduce(GpuNccl *n, CUdeviceptr x, CUdeviceptr y, int64_t count, int mean, CUstream s, RtStatus *st) {
    NcclResult r;
    return NCCL_TRY(n, st, AllReduce((const void *)x, (void *)y, (size_t)count, NCCL_FLOAT32, mean ? NCCL_AVG : NCCL_SUM,
                                     n->comm, s));
}

int gpu_nccl_group_begin(GpuNccl *n, RtStatus *st) {
    NcclResult r;
    return NCCL_TRY(n, st, GroupStart());
}

int gpu_nccl_group_end(GpuNccl *n, RtStatus *st) {
    NcclResult r;
    return NCCL_TRY(n, st, GroupEnd());
}
