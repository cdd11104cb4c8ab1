/* A host emulation of the parts of the CUDA driver API, NVRTC and cuBLAS that fn calls, so that the
 * GPU executor (runtime/gpu/gpu_exec.c) and the kernels fn generates run, and are tested, on a
 * machine without a GPU. fn opens this library (libfn_hostcuda.so) in place of libcuda, libcublas
 * and libnvrtc when FN_CUDA_EMULATOR names it (runtime/gpu/cuda_api.c, codegen/cuda/nvrtc.c).
 *
 * - NVRTC (kernels.c): a "compile" turns the module's CUDA C into C++ for the host compiler
 *   (`c++`): a shim makes blockIdx, threadIdx, blockDim and gridDim globals, and for each
 *   `extern "C" __global__` kernel a runner is added that packs its arguments, runs one thread,
 *   or runs a whole grid thread by thread. The shared object is built once per source (in
 *   $TMPDIR/fn_hostcuda) and the "cubin" is the source itself, so the kernel cache works as with
 *   a real card. Kernels whose text calls __syncthreads run each block's threads as coroutines
 *   (ucontext): every thread runs to its next barrier before any goes past it, so __shared__
 *   memory (a static of the module, blocks running one at a time) behaves as on a card.
 * - Memory is host memory: a CUdeviceptr is a host address. cuBLAS's SGEMM is OpenBLAS's.
 * - Streams are asynchronous (driver.c): work is queued with its dependencies (the stream's last
 *   work, the events it waited for, the legacy stream's coupling with blocking streams) and runs
 *   only when the host waits for it (stream synchronisation, synchronous copies, frees), so a
 *   copy from host memory reads it when it runs, as a card's would. A captured stream records
 *   its work into a graph instead; a launched graph joins the queue. With
 *   FN_HOSTCUDA_SHUFFLE=seed the queue runs in a random order that keeps only the dependencies,
 *   so a missing wait between streams shows as a different result.
 * - Calls a real driver refuses are refused: synchronous copies and stream synchronisation
 *   while a stream captures (the capture is then invalidated), waits in a capture on events
 *   from outside it, unjoined streams at the end of a capture, launches past the grid and block
 *   limits, unknown kernels; and, as a race, two cuBLAS handles on one workspace.
 * FN_HOSTCUDA_STATS=1 prints what ran (launches per kernel, GEMMs, copies) when the process
 * ends; FN_HOSTCUDA_DRY=1 runs nothing, only counts (full-size steps in seconds).
 * What this is not: a timing model, or a check of the cubin NVRTC would make (test_cuda_codegen
 * compiles every kernel with the real NVRTC). The card is reported as compute capability 9.0 with
 * FN_HOSTCUDA_SMS multiprocessors (default 4). */
#ifndef FN_TESTS_HOSTCUDA_H
#define FN_TESTS_HOSTCUDA_H

#include <stddef.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
enum {
    OK = 0,
    ERR_VALUE = 1,
    ERR_MEMORY = 2,
    ERR_IMAGE = 200,
    ERR_NOT_FOUND = 500,
    ERR_CAPTURE_UNSUPPORTED = 900,
    ERR_CAPTURE_INVALIDATED = 901,
    ERR_CAPTURE_UNJOINED = 904,
    ERR_CAPTURE_ISOLATION = 905
};
#define EXPORT __attribute__((visibility("default")))

/* a kernel of a loaded module */
typedef struct {
    char name[128];
    size_t size;                                  /* packed arguments' bytes */
    void (*pack)(void **args, void *dst);         /* the launch's arguments, by value */
    void (*thread)(const void *packed);           /* one thread, ids set by fnhost_ids */
    void (*grid)(const void *packed, const unsigned *g, const unsigned *b); /* every thread in order */
    int syncs;                                    /* the kernel calls __syncthreads */
    void (*ids)(const unsigned *, const unsigned *, const unsigned *, const unsigned *);
} Func;

typedef struct {
    void *so;
    Func *f;
    int n;
} Module;

/* run f over grid g of blocks b with packed arguments (kernels.c) */
void hc_run_kernel(const Func *f, const void *args, const unsigned *g, const unsigned *b);
/* run all queued work (driver.c), before a module goes */
void hc_drain(void);

#endif
