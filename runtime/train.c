/* The training loop: artifact + dataset -> bound train graph -> steps with per-step lines, and
 * the validation pass on the eval graph (BatchNorm on moving statistics, no dropout).
 * Sampling: an epoch is epoch_size batches drawn from successive seeded permutations of all
 * training images (a fresh permutation each time one is used up), as the reference. */
#include "runtime/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/artifact.h"
#include "runtime/data.h"

void rt_train_defaults(RtTrainOpts *o) {
    memset(o, 0, sizeof *o);
    o->batch_size = 90;
    o->image_size = 160;
    o->embedding_size = 128;
    o->max_nrof_epochs = 500;
    o->epoch_size = 1000;
    o->learning_rate = 0.1;
    o->keep_probability = 1.0;
    o->seed = 666;
    o->validate_every_n_epochs = 5;
    o->lfw_batch_size = 100;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    int *perm, n, pos, pass;
    uint64_t seed;
} Sampler;

static int sampler_take(Sampler *s) {
    if (s->pos == s->n) { /* a fresh seeded permutation (Fisher-Yates) */
        for (int i = 0; i < s->n; i++) s->perm[i] = i;
        uint64_t key = rt_hash(s->seed, (uint64_t)s->pass++, 0x5a3);
        for (int i = s->n - 1; i > 0; i--) {
            int j = (int)(rt_uniform(key, (uint64_t)i) * (i + 1));
            int t = s->perm[i];
            s->perm[i] = s->perm[j];
            s->perm[j] = t;
        }
        s->pos = 0;
    }
    return s->perm[s->pos++];
}

/* One bound graph with its input buffers. */
typedef struct {
    RtExec *ex;
    float *images;
    int32_t *labels;
    int batch;
} Step;

static int step_open(Step *s, IrGraph *g, RtVars *vars, const RtTrainOpts *o, int batch,
                     int n_classes, int run_effects, RtStatus *st) {
    memset(s, 0, sizeof *s);
    RtBinding b[] = {{"N", batch},
                     {"image_size", o->image_size},
                     {"embedding_size", o->embedding_size},
                     {"classes", n_classes}};
    int64_t *sym = calloc((size_t)g->n_syms + 1, sizeof *sym);
    const char *want[] = {"loss", "xent", "accuracy"};
    if (rt_bind_syms(g, b, 4, sym, st) == 0)
        s->ex = rt_exec_new(g, vars, sym, want, 3, run_effects, st);
    free(sym);
    if (!s->ex) return -1;
    int64_t n_img;
    s->images = rt_exec_input(s->ex, "images", &n_img);
    s->labels = rt_exec_input(s->ex, "labels", NULL);
    s->batch = batch;
    if (!s->images || !s->labels || n_img != (int64_t)batch * o->image_size * o->image_size * 3)
        return rt_fail(st, "the model must take inputs \"images\" [N,image_size,image_size,3] and "
                           "\"labels\" [N]");
    float *p;
    if ((p = rt_exec_input(s->ex, "keep_probability", NULL))) *p = (float)o->keep_probability;
    if ((p = rt_exec_input(s->ex, "weight_decay", NULL))) *p = (float)o->weight_decay;
    return 0;
}

/* Decodes the images idx[0..batch) of ds into the step's inputs. */
static int step_load(Step *s, const RtDataset *ds, const int *idx, int size, RtStatus *st) {
    size_t per = (size_t)size * (size_t)size * 3;
    for (int k = 0; k < s->batch; k++) {
        unsigned char *pix;
        int w, h;
        if (rt_image_load(ds->paths[idx[k]], &pix, &w, &h, st) < 0) return -1;
        rt_image_to_input(pix, w, h, size, s->images + (size_t)k * per);
        free(pix);
        s->labels[k] = ds->labels[idx[k]];
    }
    return 0;
}

/* The validation pass: floor(n_val / batch) full batches in list order, as the reference. */
static int validate(Step *s, const RtDataset *val, const RtTrainOpts *o, int epoch, FILE *log,
                    RtStatus *st) {
    int n_batches = val->n_images / s->batch;
    double t0 = now(), loss = 0, xent = 0, acc = 0;
    int *idx = malloc((size_t)s->batch * sizeof *idx);
    fprintf(log, "Running forward pass on validation set\n");
    for (int b = 0; b < n_batches; b++) {
        for (int k = 0; k < s->batch; k++) idx[k] = b * s->batch + k;
        if (step_load(s, val, idx, o->image_size, st) < 0 || rt_exec_run(s->ex, o->seed, 0, st) < 0) {
            free(idx);
            return -1;
        }
        loss += rt_exec_scalar(s->ex, "loss") / n_batches;
        xent += rt_exec_scalar(s->ex, "xent") / n_batches;
        acc += rt_exec_scalar(s->ex, "accuracy") / n_batches;
    }
    free(idx);
    fprintf(log, "Validation Epoch: %d\tTime %.3f\tLoss %2.3f\tXent %2.3f\tAccuracy %2.3f\n", epoch,
            now() - t0, loss, xent, acc);
    return 0;
}

int rt_train(const RtTrainOpts *o, double *losses, int n_losses, RtStatus *st) {
    FILE *log = o->log ? o->log : stdout;
    RtArtifact art;
    RtDataset all, train, val;
    Step ts = {0}, vs = {0};
    RtVars *vars = NULL;
    Sampler smp = {0};
    int rc = -1;
    memset(&train, 0, sizeof train);
    memset(&val, 0, sizeof val);
    if (rt_artifact_load(o->artifact, &art, st) < 0) return -1;
    IrGraph *g = rt_artifact_graph(&art, "train"), *ge = rt_artifact_graph(&art, "eval");
    if (!g || !ge || ir_output(g, "loss") == IR_NONE) {
        rt_artifact_free(&art);
        return rt_fail(st, "artifact %s has no training graph (its model defines no \"loss\")",
                       o->artifact);
    }
    if (rt_dataset_scan(o->data_dir, &all, st) < 0) {
        rt_artifact_free(&art);
        return -1;
    }
    rt_dataset_split(&all, o->validation_set_split_ratio, o->min_nrof_val_images_per_class,
                     o->seed, &train, &val);
    fprintf(log, "Number of classes in training set: %d\nNumber of examples in training set: %d\n",
            train.n_classes, train.n_images);
    fprintf(log, "Number of classes in validation set: %d\nNumber of examples in validation set: %d\n",
            val.n_classes, val.n_images);
    if (train.n_images == 0) {
        rt_fail(st, "--data_dir %s: no training images after the validation split", o->data_dir);
        goto done;
    }
    vars = rt_vars_new(4);
    if (step_open(&ts, g, vars, o, o->batch_size, train.n_classes, 1, st) < 0) goto done;
    if (val.n_images >= o->lfw_batch_size &&
        step_open(&vs, ge, vars, o, o->lfw_batch_size, train.n_classes, 0, st) < 0)
        goto done;
    if (val.n_images > 0 && !vs.ex)
        fprintf(log, "note: %d validation images are fewer than --lfw_batch_size %d: no validation "
                     "pass\n", val.n_images, o->lfw_batch_size);
    rt_vars_init(vars, o->seed);
    fprintf(log, "Variables: %lld trainable values; step buffers %.1f MiB\n",
            (long long)rt_vars_count(vars, 1),
            (double)(rt_exec_bytes(ts.ex) + (vs.ex ? rt_exec_bytes(vs.ex) : 0)) / (1 << 20));
    smp = (Sampler){malloc((size_t)train.n_images * sizeof(int)), train.n_images, train.n_images, 0, o->seed};
    int *idx = malloc((size_t)o->batch_size * sizeof *idx);
    float *lr = rt_exec_input(ts.ex, "learning_rate", NULL);
    uint64_t step = 0;
    int has_reg = ir_output(g, "reg_loss") != IR_NONE;
    fprintf(log, "Running training\n");
    for (int epoch = 1; epoch <= o->max_nrof_epochs; epoch++) {
        for (int bi = 0; bi < o->epoch_size; bi++, step++) {
            double t0 = now();
            for (int k = 0; k < o->batch_size; k++) idx[k] = sampler_take(&smp);
            if (step_load(&ts, &train, idx, o->image_size, st) < 0) goto done_idx;
            if (lr) *lr = (float)o->learning_rate;
            if (rt_exec_run(ts.ex, o->seed, step, st) < 0) goto done_idx;
            double loss = rt_exec_scalar(ts.ex, "loss"), xent = rt_exec_scalar(ts.ex, "xent");
            if (losses && (int)step < n_losses) losses[step] = loss;
            fprintf(log,
                    "Epoch: [%d][%d/%d]\tTime %.3f\tLoss %2.3f\tXent %2.3f\tRegLoss %2.3f\t"
                    "Accuracy %2.3f\tLr %2.5f\tCl %2.3f\n",
                    epoch, bi + 1, o->epoch_size, now() - t0, loss, xent,
                    has_reg ? loss - xent : 0.0, rt_exec_scalar(ts.ex, "accuracy"),
                    o->learning_rate, 0.0);
            fflush(log);
            if (!isfinite(loss)) {
                rt_fail(st, "loss is %f at step %llu: training diverged (lower --learning_rate)",
                        loss, (unsigned long long)step + 1);
                goto done_idx;
            }
        }
        int n = o->validate_every_n_epochs > 0 ? o->validate_every_n_epochs : 1;
        if (vs.ex && ((epoch - 1) % n == n - 1 || epoch == o->max_nrof_epochs) &&
            validate(&vs, &val, o, epoch, log, st) < 0)
            goto done_idx;
    }
    rc = 0;
done_idx:
    free(idx);
done:
    free(smp.perm);
    rt_exec_free(ts.ex);
    rt_exec_free(vs.ex);
    rt_vars_free(vars);
    rt_dataset_free(&all);
    rt_dataset_free(&train);
    rt_dataset_free(&val);
    rt_artifact_free(&art);
    return rc;
}
