/* The training loop: artifact + dataset -> bound train graph -> steps with per-step lines.
 * Sampling: an epoch is epoch_size batches drawn from successive seeded permutations of all
 * training images (a fresh permutation each time one is used up), as the reference. */
#include "runtime/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/artifact.h"
#include "runtime/data.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    int *perm, n, pos, pass;
    uint64_t seed;
} Sampler;

static void sampler_next_pass(Sampler *s) {
    for (int i = 0; i < s->n; i++) s->perm[i] = i;
    uint64_t key = rt_hash(s->seed, (uint64_t)s->pass++, 0x5a3);
    for (int i = s->n - 1; i > 0; i--) { /* Fisher-Yates */
        int j = (int)(rt_uniform(key, (uint64_t)i) * (i + 1));
        int t = s->perm[i];
        s->perm[i] = s->perm[j];
        s->perm[j] = t;
    }
    s->pos = 0;
}

static int sampler_take(Sampler *s) {
    if (s->pos == s->n) sampler_next_pass(s);
    return s->perm[s->pos++];
}

static int set_scalar(RtExec *ex, const char *name, double v) {
    float *p = rt_exec_input(ex, name, NULL);
    if (p) *p = (float)v;
    return p != NULL;
}

int rt_train(const RtTrainOpts *o, double *losses, int n_losses, RtStatus *st) {
    FILE *log = o->log ? o->log : stdout;
    RtArtifact art;
    RtDataset ds;
    if (rt_artifact_load(o->artifact, &art, st) < 0) return -1;
    IrGraph *g = rt_artifact_graph(&art, "train");
    if (!g || ir_output(g, "loss") == IR_NONE) {
        rt_artifact_free(&art);
        return rt_fail(st, "artifact %s has no training graph (its model defines no \"loss\")",
                       o->artifact);
    }
    if (rt_dataset_scan(o->data_dir, &ds, st) < 0) {
        rt_artifact_free(&art);
        return -1;
    }
    fprintf(log, "Number of classes in training set: %d\nNumber of examples in training set: %d\n",
            ds.n_classes, ds.n_images);
    RtBinding b[] = {{"N", o->batch_size},
                     {"image_size", o->image_size},
                     {"embedding_size", o->embedding_size},
                     {"classes", ds.n_classes}};
    int64_t *sym = calloc((size_t)g->n_syms + 1, sizeof *sym);
    RtVars *vars = rt_vars_new(4);
    RtExec *ex = NULL;
    unsigned char *pix = NULL;
    int rc = -1;
    const char *want[] = {"loss", "xent", "accuracy"};
    if (rt_bind_syms(g, b, 4, sym, st) < 0) goto done;
    ex = rt_exec_new(g, vars, sym, want, 3, 1, st);
    if (!ex) goto done;
    rt_vars_init(vars, o->seed);
    int64_t n_img, n_lab;
    float *images = rt_exec_input(ex, "images", &n_img);
    int32_t *labels = rt_exec_input(ex, "labels", &n_lab);
    if (!images || !labels || n_img != (int64_t)o->batch_size * o->image_size * o->image_size * 3) {
        rt_fail(st, "the model's train graph must take inputs \"images\" [N,image_size,"
                    "image_size,3] and \"labels\" [N]");
        goto done;
    }
    fprintf(log, "Variables: %lld trainable values in %d variables; step buffers %.1f MiB\n",
            (long long)rt_vars_count(vars, 1), vars->n, (double)rt_exec_bytes(ex) / (1 << 20));
    Sampler smp = {malloc((size_t)ds.n_images * sizeof(int)), ds.n_images, ds.n_images, 0, o->seed};
    size_t per_img = (size_t)o->image_size * (size_t)o->image_size * 3;
    uint64_t step = 0;
    int has_reg = ir_output(g, "reg_loss") != IR_NONE;
    for (int epoch = 1; epoch <= o->max_nrof_epochs; epoch++) {
        for (int bi = 0; bi < o->epoch_size; bi++, step++) {
            double t0 = now();
            for (int k = 0; k < o->batch_size; k++) {
                int idx = sampler_take(&smp), w, h;
                if (rt_image_load(ds.paths[idx], &pix, &w, &h, st) < 0) goto done_smp;
                rt_image_to_input(pix, w, h, o->image_size, images + (size_t)k * per_img);
                free(pix);
                pix = NULL;
                labels[k] = ds.labels[idx];
            }
            set_scalar(ex, "learning_rate", o->learning_rate);
            set_scalar(ex, "keep_probability", o->keep_probability);
            set_scalar(ex, "weight_decay", o->weight_decay);
            if (rt_exec_run(ex, o->seed, step, st) < 0) goto done_smp;
            double loss = rt_exec_scalar(ex, "loss"), xent = rt_exec_scalar(ex, "xent");
            double acc = rt_exec_scalar(ex, "accuracy");
            if (losses && (int)step < n_losses) losses[step] = loss;
            fprintf(log,
                    "Epoch: [%d][%d/%d]\tTime %.3f\tLoss %2.3f\tXent %2.3f\tRegLoss %2.3f\t"
                    "Accuracy %2.3f\tLr %2.5f\tCl %2.3f\n",
                    epoch, bi + 1, o->epoch_size, now() - t0, loss, xent,
                    has_reg ? loss - xent : 0.0, acc, o->learning_rate, 0.0);
            fflush(log);
            if (!isfinite(loss)) {
                rt_fail(st, "loss is %f at step %llu: training diverged (lower --learning_rate)",
                        loss, (unsigned long long)step);
                goto done_smp;
            }
        }
    }
    rc = 0;
done_smp:
    free(smp.perm);
done:
    free(pix);
    rt_exec_free(ex);
    rt_vars_free(vars);
    free(sym);
    rt_dataset_free(&ds);
    rt_artifact_free(&art);
    return rc;
}
