/* The GPU executor: a bound graph run on an NVIDIA GPU through the driver API (cuda_api.h),
 * with the kernels fnc's CUDA target writes (codegen/cuda) compiled by NVRTC for the card and
 * cached on disk, and GEMM-shaped work (matmuls, convolutions after im2col) on cuBLAS. Mirrors
 * RtExec: the same plan (runtime/core/plan.h), one device slab holding the planned blocks, the
 * variables (those with moving averages first, in one run) and the im2col scratch; inputs are
 * staged on the host and copied before the step, outputs copied back on request; assignments
 * not computed in place are device-to-device copies after the step; the moving averages live
 * in a second allocation laid out like the averaged run of the slab, so one kernel steps them
 * all.
 *
 * The step's work is spread over streams (gpu_queues.c, streams.h), with optimiser updates
 * written straight into their variables.
 *
 * Status: the unfused path (options' fuse 0) matched the CPU executor on an H200 (2026-11-28,
 * bench/RESULTS.md). The fused kernels, the device-side moving averages, the deferred copies
 * back, the CUDA graph and the streams were written after that lease and run in ctest on
 * tests/hostcuda's emulation; bench/gpu/check.sh checks them on the next lent machine. It builds
 * everywhere and fails cleanly where there is no driver. */
#ifndef FN_RT_GPU_EXEC_H
#define FN_RT_GPU_EXEC_H

#include <stdio.h>

#include "runtime/core/exec.h"
#include "runtime/core/plan.h"

typedef struct RtGpu RtGpu;
/* The GPU backend (runtime/core/exec.h) on device 0 with options o (copied): 0, or -1 with the
 * reason when there is no GPU. host: the backend for graphs the device cannot take. */
int rt_backend_gpu_open(RtBackend *be, const RtOptions *o, RtBackend *host, RtStatus *st);

/* Device 0 with its stream and cuBLAS handle, with o's device options (the emulator, the kernel
 * cache, TF32, bfloat16); NULL with a message if there is none. */
RtGpu *rt_gpu_open(const RtOptions *o, RtStatus *st);
void rt_gpu_close(RtGpu *gpu);
const char *rt_gpu_name(const RtGpu *gpu); /* e.g. "NVIDIA H100 80GB HBM3 (sm_90)" */
/* gpu_bf16 as the card took it: 0 off, 1 bfloat16 GEMM operands, 2 only the column
 * convolutions', 3 (act) as 1 with the activations and their gradients stored in bfloat16 */
int rt_gpu_bf16(const RtGpu *gpu);

/* The data-parallel ranks whose sums this card's steps take part in: NCCL opened over comm
 * (runtime/gpu/nccl.h), once; collective, as every rank binds the same graphs in the same order.
 * Binding a graph with ALLREDUCEs on the backend calls it. */
int rt_gpu_replicas(RtGpu *gpu, RtComm *comm, RtStatus *st);

typedef struct RtGpuExec RtGpuExec;
/* As rt_exec_new (float32 variables only), with options o (copied); o's gpu_memory_fraction
 * bounds the slab against the device memory (--gpu_memory_fraction). */
RtGpuExec *rt_gpu_exec_new(RtGpu *gpu, const RtOptions *o, const IrGraph *g, RtVars *vars, const int64_t *sym,
                           const char *const *want, int n_want, int run_effects, RtStatus *st);
void rt_gpu_exec_free(RtGpuExec *ex);
void *rt_gpu_exec_input(RtGpuExec *ex, const char *name, int64_t *n); /* host staging buffer */
int rt_gpu_exec_run(RtGpuExec *ex, uint64_t seed, uint64_t step, RtStatus *st); /* launch, then wait */
/* The step in two halves, so that the host can prepare the next one meanwhile: launch copies the
 * inputs in (the staged ones, else the host's now) and queues the step; wait returns when it has
 * run. Outputs are read after wait. */
int rt_gpu_exec_launch(RtGpuExec *ex, uint64_t seed, uint64_t step, RtStatus *st);
int rt_gpu_exec_wait(RtGpuExec *ex, RtStatus *st);
/* Copies the host's input staging to the device's inbox now, on a stream of its own, even while
 * a step runs; returns when the staging may be refilled. The next launch takes them. */
int rt_gpu_exec_stage(RtGpuExec *ex, RtStatus *st);
/* 1 when stage overlaps a running step (the driver has events), else 0 (stage only marks). */
int rt_gpu_exec_overlaps(const RtGpuExec *ex);
/* Copies the output to the host and returns it (valid until the next call). */
const void *rt_gpu_exec_output(RtGpuExec *ex, const char *name, int64_t *n, int *rank, int64_t *dims,
                               RtStatus *st);
/* Copies the store's variables to the device (after they were initialised or restored). */
int rt_gpu_exec_upload_vars(RtGpuExec *ex, RtStatus *st);
/* Copies the device's variables back into the store (before a checkpoint or a comparison). */
int rt_gpu_exec_download_vars(RtGpuExec *ex, RtStatus *st);
/* The moving averages' step on the device (the host's rt_ema_update, element for element); the
 * first call takes ema's values to the device. */
int rt_gpu_exec_ema_update(RtGpuExec *ex, RtVars *ema, double decay, int64_t t, RtStatus *st);
/* Copies back what changed on the device since the last copy: the variables after a step with
 * effects, and ema's averages when the device updates them. */
int rt_gpu_exec_sync_host(RtGpuExec *ex, RtVars *ema, RtStatus *st);
size_t rt_gpu_exec_bytes(const RtGpuExec *ex); /* device bytes held */
/* The streams the step's work uses (options' gpu_streams, default 4, and one for the reductions
 * over the replicas), the waits between them, the step's modelled length on them over its length
 * on one (runtime/gpu/streams.h), and the reductions in their NCCL launches (buckets). */
RtStreams rt_gpu_exec_streams(const RtGpuExec *ex);
/* The values gpu_bf16 act keeps in bfloat16 (0 otherwise). */
int rt_gpu_exec_half_values(const RtGpuExec *ex);
/* The concat operands and slices kept as views (options' gpu_views; runtime/gpu/gpu_views.c). */
int rt_gpu_exec_views(const RtGpuExec *ex);
/* The small groups that run as tails of others (options' gpu_tails; runtime/gpu/gpu_tails.c). */
int rt_gpu_exec_tails(const RtGpuExec *ex);
/* The CUDA C module the executor compiled (its bound plan's: views, tails, bfloat16 values). */
const char *rt_gpu_exec_source(const RtGpuExec *ex);
/* gpu_bf16 act's choice (runtime/gpu/gpu_half.c): sets esize 2 (bfloat16) for the values of p
 * (rt_plan_values' fused plan) kept so: the rank-4 values that lead with the batch, stored, not
 * read by the host, whose writer and readers all have bfloat16 forms (a reshape's operand and a
 * concat's operands sharing its type). Returns how many. */
int rt_gpu_half_values(RtPlan *p);
/* The step's two floors (device/METHOD.md): the GEMMs' and convolutions' floating-point
 * operations, and the bytes its work reads and writes if each operand moved once; col_bytes:
 * what every convolution with a window would add by writing its im2col columns and reading them
 * back (implicit GEMMs do without). */
void rt_gpu_exec_floor(const RtGpuExec *ex, double *flops, double *bytes, double *col_bytes);

#endif
