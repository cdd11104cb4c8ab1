/* The compiler driver shared by fnc and the tests: frontend + pass pipeline + artifact. */
#ifndef FN_CLI_DRIVER_H
#define FN_CLI_DRIVER_H

#include "frontend/fe.h"
#include "passes/passes.h"
#include "codegen/cuda/cuda_emit.h"
#include "runtime/core/artifact.h"

/* Frontend + pipeline for one graph (ctx->optimizer chooses the train update). NULL after
 * printing the diagnostics or the pass failure to diag. */
IrGraph *drv_build(const char *model, const FeDefine *defs, int n_defs, int training,
                   PassCtx *ctx, FILE *diag);
/* Writes the artifact: graph "eval", and "train/<OPTIMIZER>" for every optimiser when the
 * model has a "loss". With several models the names get the file's stem as a prefix
 * ("pnet/eval"). 0, or -1 after printing why to diag. */
int drv_compile(const char *const *models, int n_models, const FeDefine *defs, int n_defs,
                const char *out, PassCtx *ctx, FILE *diag);
/* g's CUDA module: a kernel per op (fused 0; one module for every size), or fused as the GPU
 * executor emits it (fused 2: with the activations in bfloat16, as FN_GPU_BF16=act), at the
 * model's sizes (1 where it has none) with N = n, or with n <= 0 the model's N, else 90; *half
 * (if not NULL) the values in bfloat16: those of rank 4 that lead with a symbolic batch N (none
 * where -D bound N). *g becomes the graph as one process binds it (its ALLREDUCEs dropped:
 * passes/replicas.c), the one m's node plans index. 0, or -1 with a message in st. */
int drv_cuda_module(IrGraph **g, int training, int fused, int64_t n, CuModule *m, int *half, FnStatus *st);

#endif
