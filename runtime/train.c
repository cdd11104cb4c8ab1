/* The training loop: artifact + dataset -> bound train graph -> steps with per-step lines, and
 * the validation pass on the eval graph (BatchNorm on moving statistics, no dropout).
 * Batches come from the loader (loader.h): an epoch is epoch_size batches drawn from successive
 * seeded permutations of all training images, augmented per the flags, prepared by worker
 * threads ahead of the step. */
#include "runtime/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/artifact.h"
#include "runtime/loader.h"

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
    o->nrof_preprocess_threads = 4;
    o->max_bad_images = 10;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
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

/* Warnings about bad files go to stderr, not to the training log. */
static RtLoader *open_loader(const RtTrainOpts *o, const RtDataset *ds, int batch, int control,
                             RtOrder order, int64_t max_batches, RtStatus *st) {
    RtLoaderOpts lo = {ds, batch, o->image_size, control, o->nrof_preprocess_threads, 2, order,
                       o->seed, o->max_bad_images, max_batches, NULL};
    return rt_loader_new(&lo, st);
}

/* The validation pass: floor(n_val / batch) full batches in list order, as the reference. */
static int validate(Step *s, const RtDataset *val, const RtTrainOpts *o, int epoch, FILE *log,
                    RtStatus *st) {
    int n_batches = val->n_images / s->batch;
    double t0 = now(), loss = 0, xent = 0, acc = 0;
    int control = o->use_fixed_image_standardization ? RT_AUG_FIXED_STD : 0;
    RtLoader *ld = open_loader(o, val, s->batch, control, RT_ORDER_SEQUENTIAL, n_batches, st);
    if (!ld) return -1;
    fprintf(log, "Running forward pass on validation set\n");
    for (int b = 0; b < n_batches; b++) {
        if (rt_loader_next(ld, s->images, s->labels, NULL, st) < 0 ||
            rt_exec_run(s->ex, o->seed, 0, st) < 0) {
            rt_loader_free(ld);
            return -1;
        }
        loss += rt_exec_scalar(s->ex, "loss") / n_batches;
        xent += rt_exec_scalar(s->ex, "xent") / n_batches;
        acc += rt_exec_scalar(s->ex, "accuracy") / n_batches;
    }
    rt_loader_free(ld);
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
    RtLoader *ld = NULL;
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
    int control = (o->random_rotate ? RT_AUG_ROTATE : 0) | (o->random_crop ? RT_AUG_CROP : 0) |
                  (o->random_flip ? RT_AUG_FLIP : 0) |
                  (o->use_fixed_image_standardization ? RT_AUG_FIXED_STD : 0);
    ld = open_loader(o, &train, o->batch_size, control, RT_ORDER_SHUFFLE, 0, st);
    if (!ld) goto done;
    double waited = 0, busy = 0;
    float *lr = rt_exec_input(ts.ex, "learning_rate", NULL);
    uint64_t step = 0;
    int has_reg = ir_output(g, "reg_loss") != IR_NONE;
    fprintf(log, "Running training\n");
    for (int epoch = 1; epoch <= o->max_nrof_epochs; epoch++) {
        for (int bi = 0; bi < o->epoch_size; bi++, step++) {
            double t0 = now();
            if (rt_loader_next(ld, ts.images, ts.labels, &waited, st) < 0) goto done;
            if (lr) *lr = (float)o->learning_rate;
            if (rt_exec_run(ts.ex, o->seed, step, st) < 0) goto done;
            busy += now() - t0;
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
                goto done;
            }
        }
        int n = o->validate_every_n_epochs > 0 ? o->validate_every_n_epochs : 1;
        if (vs.ex && ((epoch - 1) % n == n - 1 || epoch == o->max_nrof_epochs) &&
            validate(&vs, &val, o, epoch, log, st) < 0)
            goto done;
    }
    fprintf(log, "Input: waited %.3f s of %.3f s of step time for data (%.1f%%) with %d threads; "
                 "%d bad images skipped\n",
            waited, busy, busy > 0 ? 100 * waited / busy : 0.0, o->nrof_preprocess_threads,
            rt_loader_bad_images(ld));
    rc = 0;
done:
    rt_loader_free(ld);
    rt_exec_free(ts.ex);
    rt_exec_free(vs.ex);
    rt_vars_free(vars);
    rt_dataset_free(&all);
    rt_dataset_free(&train);
    rt_dataset_free(&val);
    rt_artifact_free(&art);
    return rc;
}
