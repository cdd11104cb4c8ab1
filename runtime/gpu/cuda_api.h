/* The CUDA driver API and cuBLAS, opened with dlopen: the same fnrun binary runs where neither
 * is installed (rt_cuda_open then fails with a message and the CPU is used). Only the entry
 * points fn calls are declared, with the driver's ABI types spelled out here. */
#ifndef FN_RT_GPU_CUDA_API_H
#define FN_RT_GPU_CUDA_API_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/core/rt.h"

typedef int CUresult;
typedef int CUdevice;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef unsigned long long CUdeviceptr;
typedef struct cublasContext *cublasHandle_t;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;
typedef struct CUevent_st *CUevent;

typedef struct {
    void *libcuda, *libcublas;
    CUresult (*cuInit)(unsigned);
    CUresult (*cuDeviceGet)(CUdevice *, int);
    CUresult (*cuDeviceGetName)(char *, int, CUdevice);
    CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
    CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
    CUresult (*cuCtxSetCurrent)(CUcontext);
    CUresult (*cuModuleLoadData)(CUmodule *, const void *);
    CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
    CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
    CUresult (*cuMemFree)(CUdeviceptr);
    CUresult (*cuMemGetInfo)(size_t *, size_t *);
    CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
    CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
    CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
    CUresult (*cuMemsetD8Async)(CUdeviceptr, unsigned char, size_t, CUstream);
    CUresult (*cuStreamCreate)(CUstream *, unsigned);
    CUresult (*cuStreamSynchronize)(CUstream);
    CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                               CUstream, void **, void **);
    CUresult (*cuGetErrorString)(CUresult, const char **);
    int (*cublasCreate)(cublasHandle_t *);
    int (*cublasSetStream)(cublasHandle_t, CUstream);
    int (*cublasSgemm)(cublasHandle_t, int, int, int, int, int, const float *, const float *, int, const float *,
                       int, const float *, float *, int);
    /* optional (after cublasSgemm: not required to open): teardown, TF32, pinned staging, CUDA
       graphs and cuBLAS's workspace for them, events */
    CUresult (*cuStreamDestroy)(CUstream);
    int (*cublasDestroy)(cublasHandle_t);
    int (*cublasSetMathMode)(cublasHandle_t, int);
    CUresult (*cuMemAllocHost)(void **, size_t);
    CUresult (*cuMemFreeHost)(void *);
    CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
    CUresult (*cuStreamBeginCapture)(CUstream, int);
    CUresult (*cuStreamEndCapture)(CUstream, CUgraph *);
    CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *, CUgraph, unsigned long long);
    CUresult (*cuGraphLaunch)(CUgraphExec, CUstream);
    CUresult (*cuGraphDestroy)(CUgraph);
    CUresult (*cuGraphExecDestroy)(CUgraphExec);
    int (*cublasSetWorkspace)(cublasHandle_t, void *, size_t);
    CUresult (*cuModuleUnload)(CUmodule);
    /* optional: the number of cards (a rank's place on its machine checked against it) */
    CUresult (*cuDeviceGetCount)(int *);
    /* optional: events, for work on several streams */
    CUresult (*cuEventCreate)(CUevent *, unsigned);
    CUresult (*cuEventDestroy)(CUevent);
    CUresult (*cuEventRecord)(CUevent, CUstream);
    CUresult (*cuStreamWaitEvent)(CUstream, CUevent, unsigned);
    /* optional: GEMMs with a compute type (FN_GPU_BF16) */
    int (*cublasGemmEx)(cublasHandle_t, int, int, int, int, int, const void *, const void *, int, int, const void *, int,
                        int, const void *, void *, int, int, int, int);
} RtCudaApi;

/* Opens libcuda and libcublas and makes card `ordinal`'s primary context current. -1 with a
 * message when either library or the card is missing. emulator: a library standing in for the
 * driver and cuBLAS (tests/hostcuda), or NULL. */
int rt_cuda_open(RtCudaApi *api, const char *emulator, int ordinal, RtStatus *st);
/* "file:line: call: the driver's message" for a failed call; 0 for success. */
int rt_cuda_check(const RtCudaApi *api, CUresult r, const char *call, const char *file, int line, RtStatus *st);
#define RT_CU(api, st, call) rt_cuda_check((api), (api)->call, #call, __FILE__, __LINE__, (st))

#endif
