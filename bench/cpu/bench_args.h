/* The command line both bench tools take: [MODEL.fn] [--batch N] [--image_size S] [--reps R]
 * [--layer TEXT] [--fwd] [--device D] (conv_lab: only the shapes whose description contains
 * TEXT; only the forward pass; embed_bench: cpu or gpu). */
#ifndef FN_BENCH_CPU_ARGS_H
#define FN_BENCH_CPU_ARGS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/blas.h"
#include "cli/driver.h"
#include "runtime/core/rt.h"

typedef struct {
    const char *model;
    int batch, image, reps;
    const char *layer;
    int fwd;
    const char *device;
} BenchArgs;

/* Fills a (keeping its defaults for what is not given); 0, or -1 after printing the usage. */
static int bench_args(int argc, char **argv, BenchArgs *a) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) a->batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--image_size") && i + 1 < argc) a->image = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) a->reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--layer") && i + 1 < argc) a->layer = argv[++i];
        else if (!strcmp(argv[i], "--fwd")) a->fwd = 1;
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) a->device = argv[++i];
        else if (argv[i][0] != '-') a->model = argv[i];
        else {
            fprintf(stderr, "usage: %s [MODEL.fn] [--batch N] [--image_size S] [--reps R] [--layer TEXT] [--fwd] [--device cpu|gpu]\n", argv[0]);
            return -1;
        }
    }
    return 0;
}

/* The OpenBLAS kernels chosen, the command line read into a, and the model's eval graph; NULL
 * after printing the usage (*rc 2) or the diagnostics (*rc 1). */
static IrGraph *bench_start(int argc, char **argv, BenchArgs *a, int *rc) {
    cli_blas_select(argv);
    *rc = 2;
    if (bench_args(argc, argv, a) < 0) return NULL;
    *rc = 1;
    PassCtx ctx = {0};
    return drv_build(a->model, NULL, 0, 0, &ctx, stderr);
}

#endif
