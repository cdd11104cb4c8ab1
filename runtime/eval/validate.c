/* See validate.h. */
#include "runtime/eval/validate.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/eval/model.h"
#include "runtime/eval/embed.h"

void rt_validate_defaults(RtValidateOpts *o) {
    memset(o, 0, sizeof *o);
    o->lfw_pairs = "data/pairs.txt";
    o->lfw_batch_size = 100;
    o->image_size = 160;
    o->embedding_size = 128;
    o->lfw_nrof_folds = 10;
    o->nrof_preprocess_threads = 4;
    o->seed = 666;
}

int rt_validate(const RtValidateOpts *o, RtStatus *st) {
    FILE *log = o->log ? o->log : stdout;
    RtModelOpts mo = {o->model, "eval", o->image_size, o->embedding_size, o->use_moving_averages, o->seed, NULL};
    RtModel m;
    if (rt_model_open(&mo, o->lfw_batch_size, &m, st) < 0) return -1;
    RtLfwPairs pairs;
    memset(&pairs, 0, sizeof pairs);
    RtExec *ex = NULL;
    int rc = -1;
    if (ir_output(m.g, "embeddings") == IR_NONE) {
        rt_fail(st, "artifact %s has no eval graph with \"embeddings\"", m.artifact);
        goto done;
    }
    if (rt_lfw_read_pairs(o->lfw_pairs, o->lfw_dir, &pairs, st) < 0 ||
        rt_lfw_check_folds(&pairs, o->lfw_nrof_folds, st) < 0)
        goto done;
    fprintf(log, "Model: %s%s%s\n", m.artifact, m.ckpt[0] ? " with " : " (untrained, seeded weights)", m.ckpt);
    fprintf(log, "LFW: %d pairs, skipped %d image pairs with missing images\n", pairs.n_pairs, pairs.n_skipped);
    const char *want[] = {"embeddings"};
    if (!o->backend) {
        rt_fail(st, "no backend to run on (RtValidateOpts.backend)");
        goto done;
    }
    if (!(ex = rt_exec_bind(o->backend, m.g, m.vars, m.b, m.nb, want, 1, 0, st))) goto done;
    if (rt_exec_upload_vars(ex, st) < 0) goto done; /* a GPU's copy */
    RtEmbedOpts eo = {o->lfw_batch_size, o->image_size, o->nrof_preprocess_threads,
                      o->use_fixed_image_standardization, o->use_flipped_images, o->lfw_nrof_folds,
                      o->distance_metric, o->subtract_mean, log, o->stop, NULL, NULL, NULL};
    RtLfwResult r;
    double t0 = rt_now(), ips = 0;
    fprintf(log, "Running forward pass on LFW images\n");
    fflush(log);
    if (rt_lfw_run(ex, &eo, &pairs, &r, &ips, st) < 0) goto done;
    int n_images = 2 * pairs.n_pairs * (o->use_flipped_images ? 2 : 1);
    fprintf(log, "Embedded %d images in %.1f s (%.1f images/s)\n", n_images, rt_now() - t0, ips);
    fprintf(log, "Accuracy: %2.5f+-%2.5f\n", r.acc_mean, r.acc_std);
    fprintf(log, "Validation rate: %2.5f+-%2.5f @ FAR=%2.5f\n", r.val_mean, r.val_std, r.far_mean);
    fprintf(log, "Area Under Curve (AUC): %1.3f\n", r.auc);
    fprintf(log, "Equal Error Rate (EER): %1.3f\n", r.eer);
    rc = 0;
done:
    rt_exec_free(ex);
    rt_lfw_free(&pairs);
    rt_model_close(&m);
    return rc;
}
