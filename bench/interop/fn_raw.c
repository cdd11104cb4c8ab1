/* fn's side of the parity checks in bench/interop/: raw float32 in and out, for a Python
 * script to compare with another framework's numbers.
 *
 *   fn_raw run CKPT IMAGES.f32 N SIZE OUT_DIR [--train LABELS.i32] [--moving_averages] [--f64]
 *   fn_raw dump CKPT OUT_DIR                  every variable and moving average of a checkpoint
 *   fn_raw vars ARTIFACT GRAPH EMBEDDING CLASSES   the graph's variables: name, dims (TSV)
 *
 * run: the artifact's graph with the weights of an fn checkpoint on images given as raw
 * float32 (already standardised); --f64 runs it in float64 (the executor's precision for
 * gradient checks: the weights widened, outputs written as NAME.f64).
 * CKPT: an fn checkpoint with its artifact beside it (as fnrun import writes them). IMAGES: N
 * images [N,SIZE,SIZE,3] (NHWC). Eval (default): the eval graph's embeddings, logits and
 * prelogits. --train: the training graph (train/SGD) in training mode — batch statistics,
 * dropout off (keep_probability 1), every regulariser's factor 0, so the loss is the mean
 * cross-entropy of LABELS (N int32) — its outputs and the gradient of that loss with respect
 * to every parameter (grad/NAME, fn's layout), the step's effects not run.
 * OUT_DIR gets manifest.tsv (name, dims, file) and one NAME.f32 per output ('/' as '~'); dump
 * writes the variables so, and the averages as NAME@ema.
 * What this is not: a benchmark (it times nothing) or a test (the scripts judge). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/core/artifact.h"
#include "runtime/core/ema.h"
#include "runtime/eval/model.h"
#include "cli/options.h"

static int read_raw(const char *path, void *buf, size_t bytes) {
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(buf, 1, bytes, f) : 0;
    int extra = f ? fgetc(f) != EOF : 0;
    if (f) fclose(f);
    if (got != bytes || extra) fprintf(stderr, "fn_raw: %s does not hold exactly %zu bytes\n", path, bytes);
    return got == bytes && !extra ? 0 : -1;
}

static void set_scalar(RtExec *ex, int prec, const char *name, double v) {
    void *p = rt_exec_input(ex, name, NULL);
    if (p && prec == 4) *(float *)p = (float)v;
    else if (p) *(double *)p = v;
}

/* vars in float64: every variable of v32 converted */
static RtVars *widen(const IrGraph *g, const RtBinding *b, int nb, const RtVars *v32, RtStatus *st) {
    RtVars *v64 = rt_vars_new(8);
    int64_t sym[64];
    if (rt_bind_syms(g, b, nb, sym, st) < 0 || rt_vars_bind(v64, g, sym, st) < 0) return NULL;
    for (int i = 0; i < v64->n; i++) {
        const RtVar *a = &v32->v[i];
        for (int64_t k = 0; k < a->n; k++) ((double *)v64->v[i].data)[k] = ((const float *)a->data)[k];
    }
    return v64;
}

/* one tensor as DIR/NAME.f32 and a manifest line */
static int write_tensor(const char *name, const void *x, int prec, int64_t n, int rank, const int64_t *dims,
                        const char *dir, FILE *manifest) {
    char file[512], path[4096];
    snprintf(file, sizeof file, "%s.f%d", name, 8 * prec);
    for (char *c = file; *c; c++)
        if (*c == '/') *c = '~';
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(x, (size_t)prec, (size_t)n, f) != (size_t)n) return fprintf(stderr, "fn_raw: cannot write %s\n", path), -1;
    fclose(f);
    fprintf(manifest, "%s\t", name);
    for (int k = 0; k < rank; k++) fprintf(manifest, "%s%lld", k ? "," : "", (long long)dims[k]);
    fprintf(manifest, "\t%s\n", file);
    return 0;
}

static int write_output(RtExec *ex, int prec, const char *name, const char *dir, FILE *manifest) {
    int64_t n, dims[IR_MAX_RANK];
    int rank;
    const void *x = rt_exec_output(ex, name, &n, &rank, dims);
    if (!x) return fprintf(stderr, "fn_raw: no output %s\n", name), -1;
    return write_tensor(name, x, prec, n, rank, dims, dir, manifest);
}

static FILE *open_manifest(const char *dir) {
    char path[4096];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/manifest.tsv", dir);
    FILE *m = fopen(path, "w");
    if (!m) fprintf(stderr, "fn_raw: cannot write %s\n", path);
    return m;
}

/* the checkpoint's artifact: model-RUN.fnc beside it */
static int load_artifact(const char *ckpt, RtCkptInfo *info, RtArtifact *art, RtStatus *st) {
    char path[4096], found[4096];
    if (rt_checkpoint_resolve_model(ckpt, path, found, sizeof path, info, st) < 0) return -1;
    if (!found[0]) return rt_fail(st, "%s is an artifact, not a checkpoint", ckpt);
    return rt_artifact_load(path, art, st);
}

/* every variable of the eval graph and the training graph the checkpoint names */
static int cmd_dump(const char *ckpt, const char *out) {
    RtStatus st;
    RtCkptInfo info;
    RtArtifact art;
    if (load_artifact(ckpt, &info, &art, &st) < 0) return fprintf(stderr, "fn_raw: %s\n", st.msg), 1;
    char train[64];
    snprintf(train, sizeof train, "train/%s", info.optimizer);
    const IrGraph *gs[2] = {rt_artifact_graph(&art, "eval"), rt_artifact_graph(&art, train)};
    RtBinding b[] = {{"N", 1}, {"image_size", info.image_size}, {"embedding_size", info.embedding_size}, {"classes", info.classes}};
    RtVars *vars = rt_vars_new(4), *ema;
    for (int k = 0; k < 2; k++) {
        int64_t sym[64];
        if (gs[k] && (rt_bind_syms(gs[k], b, 4, sym, &st) < 0 || rt_vars_bind(vars, gs[k], sym, &st) < 0))
            return fprintf(stderr, "fn_raw: %s\n", st.msg), 1;
    }
    ema = rt_ema_new(vars);
    RtCkptInfo i2;
    FILE *m = open_manifest(out);
    if (!m || rt_checkpoint_load(ckpt, &i2, vars, ema, &st) < 0) return fprintf(stderr, "fn_raw: %s\n", st.msg), 1;
    for (int i = 0; i < vars->n; i++)
        if (write_tensor(vars->v[i].name, vars->v[i].data, 4, vars->v[i].n, vars->v[i].rank, vars->v[i].dims, out, m) < 0) return 1;
    for (int i = 0; i < ema->n; i++) {
        char name[600];
        snprintf(name, sizeof name, "%s@ema", ema->v[i].name);
        if (write_tensor(name, ema->v[i].data, 4, ema->v[i].n, ema->v[i].rank, ema->v[i].dims, out, m) < 0) return 1;
    }
    fclose(m);
    printf("fn_raw: %d variables and %d averages to %s\n", vars->n, ema->n, out);
    return 0;
}

/* the variables of an artifact's graph bound at the given sizes: name, dims */
static int cmd_vars(const char *artifact, const char *graph, int emb, int classes) {
    RtStatus st;
    RtArtifact art;
    if (rt_artifact_load(artifact, &art, &st) < 0) return fprintf(stderr, "fn_raw: %s\n", st.msg), 1;
    const IrGraph *g = rt_artifact_graph(&art, graph);
    RtBinding b[] = {{"N", 1}, {"image_size", 160}, {"embedding_size", emb}, {"classes", classes}};
    RtVars *vars = rt_vars_new(4);
    int64_t sym[64];
    if (!g) return fprintf(stderr, "fn_raw: %s has no graph %s\n", artifact, graph), 1;
    if (rt_bind_syms(g, b, 4, sym, &st) < 0 || rt_vars_bind(vars, g, sym, &st) < 0)
        return fprintf(stderr, "fn_raw: %s\n", st.msg), 1;
    for (int i = 0; i < vars->n; i++) {
        printf("%s\t%s\t", vars->v[i].name, vars->v[i].is_state ? "state" : "param");
        for (int k = 0; k < vars->v[i].rank; k++) printf("%s%lld", k ? "," : "", (long long)vars->v[i].dims[k]);
        printf("\n");
    }
    return 0;
}

/* the outputs to keep: eval's three, or train's and a gradient per parameter */
static int wanted(const IrGraph *g, int train, const char **want, int cap) {
    static const char *const eval_outs[] = {"embeddings", "logits", "prelogits", "xent"};
    int n = 0;
    for (int i = 0; i < 4; i++)
        if (ir_output(g, eval_outs[i]) != IR_NONE && n < cap) want[n++] = eval_outs[i];
    for (int i = 0; train && i < g->n_outputs && n < cap; i++)
        if (!strncmp(ir_str(g, g->outputs[i].name), "grad/", 5)) want[n++] = ir_str(g, g->outputs[i].name);
    return n;
}

static int cmd_run(int argc, char **argv) {
    const char *ckpt = argv[2], *images = argv[3], *out = argv[6], *labels = NULL;
    int n = atoi(argv[4]), size = atoi(argv[5]), averages = 0, prec = 4;
    for (int i = 7; i < argc; i++) {
        if (!strcmp(argv[i], "--train") && i + 1 < argc) labels = argv[++i];
        else if (!strcmp(argv[i], "--moving_averages")) averages = 1;
        else if (!strcmp(argv[i], "--f64")) prec = 8;
        else return fprintf(stderr, "fn_raw: unknown argument %s\n", argv[i]), 2;
    }
    RtStatus st;
    RtModelOpts mo = {ckpt, labels ? "train/SGD" : "eval", size, 0, averages, 666, NULL};
    RtModel m;
    if (rt_model_open(&mo, n, &m, &st) < 0) return fprintf(stderr, "fn_raw: %s\n", st.msg), 1;
    const IrGraph *g = m.g;
    const RtBinding *b = m.b;
    RtVars *vars = m.vars;
    const char *want[1024];
    int n_want = wanted(g, labels != NULL, want, 1024);
    RtVars *run_vars = prec == 8 ? widen(g, b, m.nb, vars, &st) : vars;
    RtBackend cpu;
    if (cli_backend_cpu(&cpu, 0, &st) < 0) return fprintf(stderr, "%s\n", st.msg), 1;
    RtExec *ex = run_vars ? rt_exec_bind(&cpu, g, run_vars, b, m.nb, want, n_want, 0, &st) : NULL;
    if (!ex) return fprintf(stderr, "fn_raw: %s\n", st.msg), 1;
    int64_t n_img;
    void *x = rt_exec_input(ex, "images", &n_img); // [N,SIZE,SIZE,3]
    float *x32 = prec == 4 ? x : malloc((size_t)n_img * sizeof(float));
    if (read_raw(images, x32, (size_t)n_img * sizeof(float)) < 0) return 1;
    for (int64_t i = 0; prec == 8 && i < n_img; i++) ((double *)x)[i] = x32[i];
    if (labels && read_raw(labels, rt_exec_input(ex, "labels", NULL), (size_t)n * sizeof(int32_t)) < 0) return 1;
    set_scalar(ex, prec, "keep_probability", 1);
    set_scalar(ex, prec, "prelogits_norm_p", 1);
    set_scalar(ex, prec, "weight_decay", 0);
    set_scalar(ex, prec, "prelogits_norm_loss_factor", 0);
    set_scalar(ex, prec, "center_loss_factor", 0);
    set_scalar(ex, prec, "learning_rate", 0);
    if (rt_exec_run(ex, 1, 0, &st) < 0) return fprintf(stderr, "fn_raw: %s\n", st.msg), 1;
    FILE *man = open_manifest(out);
    if (!man) return 1;
    for (int i = 0; i < n_want; i++)
        if (write_output(ex, prec, want[i], out, man) < 0) return 1;
    fclose(man);
    printf("fn_raw: %d outputs of %s to %s\n", n_want, labels ? "train/SGD" : "eval", out);
    rt_exec_free(ex);
    rt_backend_close(&cpu);
    if (run_vars != vars) rt_vars_free(run_vars), free(x32);
    rt_model_close(&m);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 7 && !strcmp(argv[1], "run")) return cmd_run(argc, argv);
    if (argc == 4 && !strcmp(argv[1], "dump")) return cmd_dump(argv[2], argv[3]);
    if (argc == 6 && !strcmp(argv[1], "vars")) return cmd_vars(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
    fprintf(stderr, "usage: fn_raw run CKPT IMAGES.f32 N SIZE OUT_DIR [--train LABELS.i32] [--moving_averages] [--f64]\n"
                    "       fn_raw dump CKPT OUT_DIR\n       fn_raw vars ARTIFACT GRAPH EMBEDDING CLASSES\n");
    return 2;
}
