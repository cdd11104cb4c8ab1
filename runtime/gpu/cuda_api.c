/* See cuda_api.h. */
#include "runtime/gpu/cuda_api.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

static void *open_first(const char *const *names) {
    for (int i = 0; names[i]; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (h) return h;
    }
    return NULL;
}

int rt_cuda_open(RtCudaApi *a, const char *emu, int ordinal, RtStatus *st) {
    memset(a, 0, sizeof *a);
    static const char *const cuda_names[] = {"libcuda.so.1", "libcuda.so", NULL};
    static const char *const cublas_names[] = {"libcublas.so", "libcublas.so.13", "libcublas.so.12",
                                               "/usr/local/cuda/lib64/libcublas.so", NULL};
    if (emu && *emu) { /* tests: the host emulation (tests/hostcuda) */
        if (!(a->libcuda = a->libcublas = dlopen(emu, RTLD_NOW | RTLD_LOCAL)))
            return rt_fail(st, "FN_CUDA_EMULATOR=%s: %s", emu, dlerror());
    } else if (!(a->libcuda = open_first(cuda_names)))
        return rt_fail(st, "no CUDA driver (libcuda.so.1) on this machine");
    else if (!(a->libcublas = open_first(cublas_names)))
        return rt_fail(st, "no cuBLAS (libcublas.so) on this machine");
#define CU(name, sym) *(void **)&a->name = dlsym(a->libcuda, sym)
#define BL(name, sym) *(void **)&a->name = dlsym(a->libcublas, sym)
    CU(cuInit, "cuInit");
    CU(cuDeviceGet, "cuDeviceGet");
    CU(cuDeviceGetName, "cuDeviceGetName");
    CU(cuDeviceGetAttribute, "cuDeviceGetAttribute");
    CU(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
    CU(cuCtxSetCurrent, "cuCtxSetCurrent");
    CU(cuModuleLoadData, "cuModuleLoadData");
    CU(cuModuleGetFunction, "cuModuleGetFunction");
    CU(cuMemAlloc, "cuMemAlloc_v2");
    CU(cuMemFree, "cuMemFree_v2");
    CU(cuMemGetInfo, "cuMemGetInfo_v2");
    CU(cuMemcpyHtoD, "cuMemcpyHtoD_v2");
    CU(cuMemcpyDtoH, "cuMemcpyDtoH_v2");
    CU(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2");
    CU(cuMemsetD8Async, "cuMemsetD8Async");
    CU(cuStreamCreate, "cuStreamCreate");
    CU(cuStreamSynchronize, "cuStreamSynchronize");
    CU(cuLaunchKernel, "cuLaunchKernel");
    CU(cuGetErrorString, "cuGetErrorString");
    BL(cublasCreate, "cublasCreate_v2");
    BL(cublasSetStream, "cublasSetStream_v2");
    BL(cublasSgemm, "cublasSgemm_v2");
    CU(cuStreamDestroy, "cuStreamDestroy_v2");
    BL(cublasDestroy, "cublasDestroy_v2");
    BL(cublasSetMathMode, "cublasSetMathMode");
    CU(cuMemAllocHost, "cuMemAllocHost_v2");
    CU(cuMemFreeHost, "cuMemFreeHost");
    CU(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
    CU(cuStreamBeginCapture, "cuStreamBeginCapture_v2");
    CU(cuStreamEndCapture, "cuStreamEndCapture");
    CU(cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags");
    CU(cuGraphLaunch, "cuGraphLaunch");
    CU(cuGraphDestroy, "cuGraphDestroy");
    CU(cuGraphExecDestroy, "cuGraphExecDestroy");
    BL(cublasSetWorkspace, "cublasSetWorkspace_v2");
    CU(cuModuleUnload, "cuModuleUnload");
    CU(cuDeviceGetCount, "cuDeviceGetCount");
    CU(cuEventCreate, "cuEventCreate");
    CU(cuEventDestroy, "cuEventDestroy_v2");
    CU(cuEventRecord, "cuEventRecord");
    CU(cuStreamWaitEvent, "cuStreamWaitEvent");
    BL(cublasGemmEx, "cublasGemmEx");
#undef CU
#undef BL
    void **first = (void **)&a->cuInit, **end = (void **)(&a->cublasSgemm + 1);
    for (void **p = first; p < end; p++)
        if (!*p) return rt_fail(st, "the CUDA driver or cuBLAS lacks an entry point fn needs");
    CUdevice dev;
    CUcontext ctx;
    int count = 0;
    if (RT_CU(a, st, cuInit(0)) < 0) return -1;
    if (ordinal > 0 && a->cuDeviceGetCount && a->cuDeviceGetCount(&count) == 0 && ordinal >= count)
        return rt_fail(st, "this machine has %d GPU%s and no card %d for this rank: run one rank per GPU", count,
                       count == 1 ? "" : "s", ordinal);
    if (RT_CU(a, st, cuDeviceGet(&dev, ordinal)) < 0 ||
        RT_CU(a, st, cuDevicePrimaryCtxRetain(&ctx, dev)) < 0 || RT_CU(a, st, cuCtxSetCurrent(ctx)) < 0)
        return -1;
    return 0;
}

int rt_cuda_check(const RtCudaApi *a, CUresult r, const char *call, const char *file, int line, RtStatus *st) {
    if (r == 0) return 0;
    const char *msg = NULL;
    if (a->cuGetErrorString) a->cuGetErrorString(r, &msg);
    return rt_fail(st, "%s:%d: %s: %s (%d)", file, line, call, msg ? msg : "CUDA error", r);
}
