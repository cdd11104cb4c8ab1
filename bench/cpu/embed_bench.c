/* Embedding throughput of fn's executors: the eval graph of a model (default
 * Inception-ResNet-v1, 512-d embeddings), batch 100 at 160x160 by default, random images and
 * freshly initialised weights, only the "embeddings" output requested (as fnrun validate does).
 * Checks that every embedding has unit length before timing, and with --device gpu that they
 * match the CPU's on the same weights and images (worst difference printed; TF32 GEMMs keep
 * them within 5e-2); prints `images/s=...` like bench/ref/train_step.py --embed, its PyTorch
 * peer. On the GPU each batch is staged while the previous one runs (rt_exec_run_ahead, as
 * fnrun embed), the images copied from the host every time. FN_FUSE=0 measures the reference
 * path.
 * Usage: embed_bench [MODEL.fn] [--batch N] [--image_size S] [--reps R] [--device cpu|gpu] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/cpu/bench_args.h"
#include "cli/driver.h"
#include "runtime/core/rt.h"
#include "cli/options.h"

/* g's embeddings bound on backend be, with the random images in place */
static RtExec *bind_embed(RtBackend *be, const IrGraph *g, RtVars *vars, int batch, int image, RtStatus *st) {
    const RtBinding b[] = {{"N", batch}, {"image_size", image}, {"embedding_size", 512}, {"classes", 16}};
    const char *want[] = {"embeddings"};
    RtExec *ex = rt_exec_bind(be, g, vars, b, 4, want, 1, 0, st);
    if (!ex) return NULL;
    int64_t n;
    float *x = rt_exec_input(ex, "images", &n);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(2 * rt_uniform(5, (uint64_t)i) - 1);
    float *keep = rt_exec_input(ex, "keep_probability", NULL);
    if (keep) *keep = 1;
    return ex;
}

/* the worst |norm - 1| of the batch's embeddings [batch, e] */
static double worst_norm(const float *e, int64_t batch, int64_t dim) {
    double worst = 0;
    for (int64_t r = 0; r < batch; r++) {
        double s = 0;
        for (int64_t j = 0; j < dim; j++) s += (double)e[r * dim + j] * e[r * dim + j];
        worst = fabs(sqrt(s) - 1) > worst ? fabs(sqrt(s) - 1) : worst;
    }
    return worst;
}

/* a GPU's embeddings against the CPU's of the same weights and images: the worst difference */
static double against_cpu(RtBackend *cpu, const IrGraph *g, RtVars *vars, int batch, int image, const float *e,
                          int64_t ne, RtStatus *st) {
    RtExec *ref = bind_embed(cpu, g, vars, batch, image, st);
    if (!ref || rt_exec_run(ref, 1, 0, st) < 0) {
        if (ref) rt_exec_free(ref);
        return -1;
    }
    int64_t nr;
    const float *r = rt_exec_output(ref, "embeddings", &nr, NULL, NULL);
    double worst = nr == ne ? 0 : INFINITY;
    for (int64_t i = 0; i < ne && nr == ne; i++) worst = fmax(worst, fabs((double)e[i] - r[i]));
    rt_exec_free(ref);
    return worst;
}

static int fill_nothing(void *ctx, RtStatus *st) { return (void)ctx, (void)st, 0; } /* the same images again */

int main(int argc, char **argv) {
    BenchArgs args = {"models/inception_resnet_v1.fn", 100, 160, 3, NULL, 0, "cpu"};
    int rc;
    IrGraph *g = bench_start(argc, argv, &args, &rc);
    if (!g) return rc;
    int batch = args.batch, image = args.image, reps = args.reps;
    RtStatus st;
    RtOptions opt;
    CliBackends be;
    cli_options_from_env(&opt);
    if (cli_backends_open(&be, args.device, &opt, "the embeddings", stderr, &st) < 0)
        return fprintf(stderr, "embed_bench: %s\n", st.msg), 1;
    RtVars *vars = rt_vars_new(4);
    RtExec *ex = bind_embed(be.chosen, g, vars, batch, image, &st);
    if (!ex || (rt_vars_init(vars, 1), rt_exec_upload_vars(ex, &st) < 0) || rt_exec_run(ex, 1, 0, &st) < 0) {
        fprintf(stderr, "embed_bench: %s\n", st.msg);
        return 1;
    }
    int64_t ne;
    const float *e = rt_exec_output(ex, "embeddings", &ne, NULL, NULL);
    double worst = worst_norm(e, batch, ne / batch);
    if (!(worst < 1e-4)) {
        fprintf(stderr, "embed_bench: embeddings are not unit vectors (worst |norm - 1| = %g)\n", worst);
        return 1;
    }
    if (be.chosen != &be.cpu) {
        double d = against_cpu(&be.cpu, g, vars, batch, image, e, ne, &st);
        printf("fn embeddings on %s against the CPU's: worst difference %.2e\n", be.chosen->name, d);
        if (!(d >= 0 && d < 5e-2)) return fprintf(stderr, "embed_bench: the GPU's embeddings differ (%s)\n", d < 0 ? st.msg : "> 5e-2"), 1;
    }
    double t0 = rt_now();
    for (int r = 0; r < reps; r++)
        if (rt_exec_run_ahead(ex, 1, (uint64_t)r + 1, r + 1 < reps, fill_nothing, NULL, &st) < 0)
            return fprintf(stderr, "embed_bench: %s\n", st.msg), 1;
    double dt = rt_now() - t0;
    printf("fn embeddings device=%s batch=%d image=%d reps=%d images/s=%.1f\n", args.device, batch, image, reps,
           batch * reps / dt);
    rt_exec_free(ex);
    cli_backends_close(&be);
    rt_vars_free(vars);
    ir_graph_free(g);
    return 0;
}
