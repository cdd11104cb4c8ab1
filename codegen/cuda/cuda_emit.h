/* CUDA C for a graph: the GPU target's code generator (issue 8, first step).
 *
 * What this is: for every node of a graph, the kernels that compute it, written as CUDA C from
 * op templates (one template per op and operand layout), gathered into one module with each
 * kernel once, in first-use order, so the text is byte-identical across runs (golden-tested).
 * Sizes are kernel arguments, never constants: one module serves every batch, image and class
 * count, as the artifact does. Convolutions and matmuls are GEMM-shaped: the module has their
 * im2col / col2im kernels and the plan marks the GEMM for cuBLAS. Most kernels are
 * grid-stride loops with one thread per output element; the sums run in blocks (row splits,
 * then the splits summed; or a block per long row), always in a fixed order and without
 * atomics, so a step's results do not change from run to run.
 * What this is not: fused (the fusion pass is issue 9's), launched (the driver-API runtime is
 * the next step), or f64 (the GPU runs the f32 graphs).
 */
#ifndef FN_CODEGEN_CUDA_EMIT_H
#define FN_CODEGEN_CUDA_EMIT_H

#include "ir/ir.h"

typedef enum {
    CU_NOTHING, /* sources, assignments (done by the runtime after the step) */
    CU_KERNELS, /* kernel[0..n_kernels) in order */
    CU_GEMM     /* cuBLAS, around the listed kernels (im2col before, col2im after) */
} CuWork;

typedef struct {
    IrId node;
    CuWork work;
    int n_kernels;
    int kernel[3]; /* indices into CuModule.names */
} CuNodePlan;

typedef struct {
    char *source; /* the module: prelude + kernels */
    char **names; /* extern "C" kernel names, in source order */
    int n_names;
    CuNodePlan *plan; /* one per node, in node order */
    int n_plan;
} CuModule;

/* 0, or -1 with a message in err (an op or dtype the GPU target cannot run). */
int cu_emit_graph(const IrGraph *g, CuModule *m, char *err, size_t errcap);
void cu_module_free(CuModule *m);
/* Every kernel the emitter can write (all ops, all operand layouts) in one module, for tests
 * that compile them all; malloc'ed. */
char *cu_emit_catalogue(int *n_kernels);

#endif
