/* NCCL for the GPU executor: the sums of a data-parallel step's ALLREDUCEs between the ranks'
 * cards. The library is opened with dlopen like libcuda (the system's libnccl.so.2, PyPI's
 * nvidia-nccl-cu13 wheel named by path, or tests/hostcuda's emulation over MPI), and its
 * communicator starts from the run's RtComm: rank 0's unique id broadcast over it, then every rank
 * joins. Only the entry points fn calls are declared, with NCCL's ABI types spelled out here.
 * What this is not: the transport that starts the ranks or reduces the host's values (RtComm,
 * runtime/dist), or the choice of what is reduced when (gpu_queues.c: buckets on a stream). */
#ifndef FN_RT_GPU_NCCL_H
#define FN_RT_GPU_NCCL_H

#include "runtime/core/comm.h"
#include "runtime/gpu/cuda_api.h"

typedef struct GpuNccl GpuNccl;

/* NCCL opened (library: a path or a name, NULL for libnccl.so.2) and its communicator over
 * comm's ranks, on the current context's card. Collective: every rank calls it. NULL with st
 * filled when the library is missing, too old (ncclAvg: 2.10), or the ranks cannot connect. */
GpuNccl *gpu_nccl_open(const char *library, RtComm *comm, RtStatus *st);
void gpu_nccl_close(GpuNccl *n);
/* "NCCL 2.21.5" */
const char *gpu_nccl_name(const GpuNccl *n);
/* y[0..count) <- the ranks' sums of x (their mean with mean set), float32, queued on stream s; x may be y */
int gpu_nccl_allreduce(GpuNccl *n, CUdeviceptr x, CUdeviceptr y, int64_t count, int mean, CUstream s, RtStatus *st);
/* The calls between begin and end go as one launch (a bucket), when end is called. */
int gpu_nccl_group_begin(GpuNccl *n, RtStatus *st);
int gpu_nccl_group_end(GpuNccl *n, RtStatus *st);

#endif
