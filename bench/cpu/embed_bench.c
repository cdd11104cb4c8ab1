/* Embedding throughput of fn's CPU executor: the eval graph of a model (default
 * Inception-ResNet-v1, 512-d embeddings), batch 100 at 160x160 by default, random images and
 * freshly initialised weights, only the "embeddings" output requested (as fnrun validate does).
 * Checks that every embedding has unit length before timing; prints `images/s=...` like
 * bench/ref/train_step.py --embed, its PyTorch peer. FN_FUSE=0 measures the reference path.
 * Usage: embed_bench [MODEL.fn] [--batch N] [--image_size S] [--reps R] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/cpu/bench_args.h"
#include "cli/driver.h"
#include "runtime/core/rt.h"
#include "cli/options.h"

int main(int argc, char **argv) {
    BenchArgs args = {"models/inception_resnet_v1.fn", 100, 160, 3, NULL, 0};
    int rc;
    IrGraph *g = bench_start(argc, argv, &args, &rc);
    if (!g) return rc;
    int batch = args.batch, image = args.image, reps = args.reps;
    RtStatus st;
    RtBackend cpu;
    if (cli_backend_cpu(&cpu, 0, &st) < 0) return fprintf(stderr, "%s\n", st.msg), 1;
    RtVars *vars = rt_vars_new(4);
    const RtBinding b[] = {{"N", batch}, {"image_size", image}, {"embedding_size", 512}, {"classes", 16}};
    const char *want[] = {"embeddings"};
    RtExec *ex = rt_exec_bind(&cpu, g, vars, b, 4, want, 1, 0, &st);
    if (!ex) {
        fprintf(stderr, "embed_bench: %s\n", st.msg);
        return 1;
    }
    rt_vars_init(vars, 1);
    int64_t n;
    float *x = rt_exec_input(ex, "images", &n);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(2 * rt_uniform(5, (uint64_t)i) - 1);
    float *keep = rt_exec_input(ex, "keep_probability", NULL);
    if (keep) *keep = 1;
    if (rt_exec_run(ex, 1, 0, &st) < 0) {
        fprintf(stderr, "embed_bench: %s\n", st.msg);
        return 1;
    }
    int64_t ne;
    const float *e = rt_exec_output(ex, "embeddings", &ne, NULL, NULL);
    double worst = 0;
    for (int64_t r = 0; r < batch; r++) {
        double s = 0;
        for (int64_t j = 0; j < ne / batch; j++) s += (double)e[r * (ne / batch) + j] * e[r * (ne / batch) + j];
        worst = fabs(sqrt(s) - 1) > worst ? fabs(sqrt(s) - 1) : worst;
    }
    if (!(worst < 1e-4)) {
        fprintf(stderr, "embed_bench: embeddings are not unit vectors (worst |norm - 1| = %g)\n", worst);
        return 1;
    }
    double t0 = rt_now();
    for (int r = 0; r < reps; r++)
        if (rt_exec_run(ex, 1, (uint64_t)r + 1, &st) < 0) return 1;
    double dt = rt_now() - t0;
    printf("fn embeddings batch=%d image=%d reps=%d images/s=%.1f\n", batch, image, reps, batch * reps / dt);
    rt_exec_free(ex);
    rt_backend_close(&cpu);
    rt_vars_free(vars);
    ir_graph_free(g);
    return 0;
}
