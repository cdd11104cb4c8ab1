/* Shared test fixtures that need the runtime: a generated class-per-folder dataset and
 * compiling a model to an artifact. */
#ifndef FN_TEST_FIXTURES_H
#define FN_TEST_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "passes/passes.h"
#include "runtime/core/exec.h"

/* classes x per_class PNG images of size x size under dir/c<k>/img<i>.png: class k is a fixed
 * colour per quadrant with per-image noise. */
void fx_make_dataset(const char *dir, int classes, int per_class, int size, unsigned seed);
/* The whole compiler pipeline into an artifact; 0 or -1 (diagnostics on stderr). */
int fx_compile(const char *model, const char *out);
/* The single subdirectory of dir (a run), into out; 0 or -1. */
int fx_only_subdir(const char *dir, char *out, unsigned cap);

/* Executor tests' inputs: every input of g that ex has gets random values (labels in [0, 3),
 * tensors uniform in [-1, 1]) or, for scalars, keep_probability 0.8, the p-norm's p 1 and other
 * rates 0.01 (prec: 4 or 8 bytes per real). Each filled input is then handed to copy (when not
 * NULL), to give a second executor the same. */
typedef void (*FxInputCopy)(void *ctx, const char *name, const void *data, size_t bytes);
void fx_random_inputs(const IrGraph *g, RtExec *ex, int prec, uint64_t *rng, FxInputCopy copy, void *ctx);
/* An FxInputCopy into another CPU executor (ctx: the RtExec). */
void fx_copy_to_exec(void *ctx, const char *name, const void *data, size_t bytes);

/* A model run by the executor tests: its file, the training graph (with opt) or the eval one,
 * and the sizes it is bound to. */
typedef struct {
    const char *model;
    int training;
    PassOptimizer opt;
    RtBinding b[4];
    int nb;
} FxCase;
/* The case's graph through the whole pipeline; NULL with the diagnostics on stderr. */
IrGraph *fx_build_case(const FxCase *c);
/* the same as a one-process run binds it (passes/replicas.c: no ALLREDUCE), for tests that hand
 * a graph to the GPU executor or a code generator themselves */
IrGraph *fx_build_one_process(const FxCase *c);

#endif
