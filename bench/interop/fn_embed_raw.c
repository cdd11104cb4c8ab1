/* fn's own output for raw float input: the peer that bench/interop/onnx_parity.py compares ONNX
 * Runtime against. Loads MODEL as fnrun export does (an artifact with seeded weights, a
 * checkpoint or a run directory; an MTCNN graph with --mtcnn_weights), binds the batch to --n,
 * reads n images of float32 NHWC from --input, runs the graph on the CPU and writes one output
 * (float32, fn's layout) to --out; with --runs K it then times K more runs and prints each.
 * Seeded weights have trivial batch-norm statistics (mean 0, variance 1, beta 0); --randomize S
 * gives every moving_mean, moving_variance and beta random values first and --save PATH writes
 * the variables as checkpoint PATH (run "parity": its artifact must sit beside it as
 * model-parity.fnc), for the exporter to read the same weights.
 * What this is not: a preprocessing tool (the caller standardises the images) or a test.
 * Usage: fn_embed_raw MODEL --n N --input IN.f32 --out OUT.f32 [--image_size S] [--graph eval]
 *        [--output embeddings] [--input_name images] [--mtcnn_weights DIR] [--seed 666]
 *        [--embedding_size 128] [--use_moving_averages] [--runs K] [--randomize S --save PATH]
 *        [--set NAME=VALUE]... (a scalar input) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/eval/model.h"
#include "cli/blas.h"
#include "cli/options.h"

typedef struct {
    const char *model, *input, *out, *graph, *output, *input_name, *mtcnn_weights, *save;
    int n, image_size, seed, embedding_size, use_moving_averages, runs, randomize;
    const char *set[8]; /* NAME=VALUE: scalar inputs */
    int n_set;
} Args;

static int parse(int argc, char **argv, Args *a) {
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "--use_moving_averages")) {
            a->use_moving_averages = 1;
            continue;
        }
        if (f[0] != '-') {
            a->model = f;
            continue;
        }
        if (!v) return -1;
        i++;
        if (!strcmp(f, "--n"))
            a->n = atoi(v);
        else if (!strcmp(f, "--input"))
            a->input = v;
        else if (!strcmp(f, "--out"))
            a->out = v;
        else if (!strcmp(f, "--image_size"))
            a->image_size = atoi(v);
        else if (!strcmp(f, "--graph"))
            a->graph = v;
        else if (!strcmp(f, "--output"))
            a->output = v;
        else if (!strcmp(f, "--input_name"))
            a->input_name = v;
        else if (!strcmp(f, "--mtcnn_weights"))
            a->mtcnn_weights = v;
        else if (!strcmp(f, "--seed"))
            a->seed = atoi(v);
        else if (!strcmp(f, "--embedding_size"))
            a->embedding_size = atoi(v);
        else if (!strcmp(f, "--runs"))
            a->runs = atoi(v);
        else if (!strcmp(f, "--randomize"))
            a->randomize = atoi(v);
        else if (!strcmp(f, "--save"))
            a->save = v;
        else if (!strcmp(f, "--set") && a->n_set < 8)
            a->set[a->n_set++] = v;
        else
            return -1;
    }
    return a->model && a->input && a->out && a->n > 0 ? 0 : -1;
}

static int ends_with(const char *s, const char *t) {
    size_t a = strlen(s), b = strlen(t);
    return a >= b && !strcmp(s + a - b, t);
}

/* batch-norm statistics and offsets drawn from stream `seed`: mean += U(-0.2, 0.2), variance
 * *= U(0.5, 2), beta = U(-0.2, 0.2); then the checkpoint, when asked for */
static int randomize(const Args *a, RtVars *vars, RtStatus *st) {
    for (int i = 0; i < vars->n; i++) {
        RtVar *v = &vars->v[i];
        float *d = v->data;
        uint64_t key = rt_hash((uint64_t)a->randomize, rt_hash_str(v->name), 0);
        for (int64_t k = 0; k < v->n; k++) {
            double u = rt_uniform(key, (uint64_t)k);
            if (ends_with(v->name, "/moving_mean"))
                d[k] += (float)(0.4 * u - 0.2);
            else if (ends_with(v->name, "/moving_variance"))
                d[k] *= (float)(0.5 + 1.5 * u);
            else if (ends_with(v->name, "/beta"))
                d[k] = (float)(0.4 * u - 0.2);
        }
    }
    if (!a->save) return 0;
    RtCkptInfo info;
    memset(&info, 0, sizeof info);
    snprintf(info.run, sizeof info.run, "parity");
    info.image_size = a->image_size;
    info.embedding_size = a->embedding_size;
    info.classes = 1;
    return rt_checkpoint_save(a->save, &info, vars, NULL, 0, st);
}

/* reads the input, runs once, writes the output, then times a->runs more runs */
static int run(const Args *a, RtExec *ex, RtStatus *st) {
    int64_t n;
    float *x = rt_exec_input(ex, a->input_name, &n);
    if (!x) return rt_fail(st, "the graph has no input %s", a->input_name);
    FILE *f = fopen(a->input, "rb");
    size_t got = f ? fread(x, sizeof(float), (size_t)n, f) : 0;
    if (f) fclose(f);
    if (got != (size_t)n)
        return rt_fail(st, "%s: wanted %lld floats, read %zu", a->input, (long long)n, got);
    for (int i = 0; i < a->n_set; i++) {
        char nm[256];
        const char *eq = strchr(a->set[i], '=');
        snprintf(nm, sizeof nm, "%.*s", eq ? (int)(eq - a->set[i]) : 0, a->set[i]);
        float *v = eq ? rt_exec_input(ex, nm, NULL) : NULL;
        if (!v) return rt_fail(st, "--set %s: not NAME=VALUE of a scalar input", a->set[i]);
        *v = (float)atof(eq + 1);
    }
    if (rt_exec_run(ex, 1, 0, st) < 0) return -1;
    int64_t ne, dims[IR_MAX_RANK];
    int rank;
    const float *y = rt_exec_output(ex, a->output, &ne, &rank, dims);
    if (!y) return rt_fail(st, "the graph has no output %s", a->output);
    f = fopen(a->out, "wb");
    if (!f || fwrite(y, sizeof(float), (size_t)ne, f) != (size_t)ne)
        return rt_fail(st, "cannot write %s", a->out);
    fclose(f);
    printf("output %s [", a->output);
    for (int k = 0; k < rank; k++)
        printf("%s%lld", k ? "," : "", (long long)dims[k]);
    printf("]\nrun_s");
    for (int r = 0; r < a->runs; r++) {
        double t0 = rt_now();
        if (rt_exec_run(ex, 1, (uint64_t)r + 1, st) < 0) return -1;
        printf(" %.4f", rt_now() - t0);
    }
    printf("\n");
    return 0;
}

int main(int argc, char **argv) {
    cli_blas_select(argv);
    Args a = {.graph = "eval",
              .output = "embeddings",
              .input_name = "images",
              .image_size = 160,
              .seed = 666,
              .embedding_size = 128};
    if (parse(argc, argv, &a) < 0) {
        fprintf(stderr, "usage: fn_embed_raw MODEL --n N --input IN.f32 --out OUT.f32 "
                        "[--image_size S] [--graph G] "
                        "[--output NAME] [--input_name NAME] [--mtcnn_weights DIR] [--seed S] "
                        "[--embedding_size E] "
                        "[--use_moving_averages] [--runs K] [--randomize S --save PATH] [--set "
                        "NAME=VALUE]...\n");
        return 2;
    }
    RtStatus st;
    RtModelOpts mo = {a.model, a.graph, a.image_size, a.embedding_size, a.use_moving_averages, (uint64_t)a.seed,
                      a.mtcnn_weights};
    RtModel m;
    const char *want[] = {a.output};
    RtExec *ex = NULL;
    RtBackend cpu;
    if (cli_backend_cpu(&cpu, 0, &st) < 0) return fprintf(stderr, "%s\n", st.msg), 1;
    int rc = rt_model_open(&mo, a.n, &m, &st) == 0 && (ex = rt_exec_bind(&cpu, m.g, m.vars, m.b, m.nb, want, 1, 0, &st)) &&
                     (!a.randomize || randomize(&a, m.vars, &st) == 0) && run(&a, ex, &st) == 0
                 ? 0
                 : 1;
    if (rc) fprintf(stderr, "fn_embed_raw: %s\n", st.msg);
    rt_exec_free(ex);
    rt_backend_close(&cpu);
    rt_model_close(&m);
    return rc;
}
