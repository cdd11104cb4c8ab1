/* See embed.h. */
#include "runtime/eval/embed.h"

#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"
#include "runtime/data/loader.h"
#include "runtime/logs/progress.h"
#include "runtime/core/rt.h"

int rt_embed(RtExec *ex, const RtEmbedOpts *o, char *const *paths, int n, int flip, float *out,
             int *dim, RtStatus *st) {
    int rank;
    int64_t dims[IR_MAX_RANK], count;
    float *images = rt_exec_input(ex, "images", &count);
    const float *emb = rt_exec_output(ex, "embeddings", NULL, &rank, dims);
    if (!images || !emb || rank != 2 || dims[0] != o->batch)
        return rt_fail(st, "the eval graph must take \"images\" and give \"embeddings\" [N,D]");
    *dim = (int)dims[1];
    RtDataset ds;
    memset(&ds, 0, sizeof ds);
    ds.paths = (char **)paths;
    ds.labels = fn_calloc((size_t)(n ? n : 1), sizeof(int));
    int32_t *labels = fn_malloc((size_t)o->batch * sizeof *labels);
    if (!ds.labels || !labels) {
        free(ds.labels);
        free(labels);
        return rt_fail(st, "out of memory embedding %d images", n);
    }
    ds.n_images = n;
    int n_batches = (n + o->batch - 1) / o->batch;
    int control = (o->fixed_std ? RT_AUG_FIXED_STD : 0) | (flip ? RT_AUG_FLIP_ALWAYS : 0);
    RtLoaderOpts lo = {&ds, o->batch, o->image_size, control, o->threads, 2, RT_ORDER_SEQUENTIAL,
                       0, o->bad ? n : 0, n_batches, 0, o->log, 0, 0};
    RtLoader *ld = rt_loader_new(&lo, st);
    int rc = ld ? 0 : -1;
    RtProgress pr;
    rt_progress_start(&pr, o->progress, flip ? "flipped images" : "images", n);
    RtLoaderFill fill = {ld, images, labels, NULL, NULL, 0};
    int staged = 0; /* on a GPU, batch b + 1 is loaded while batch b runs */
    for (int b = 0; b < n_batches && rc == 0; b++) {
        rt_progress_update(&pr, (int64_t)b * o->batch);
        if (o->stop && *o->stop) {
            rc = rt_fail(st, "stopped on request after %d of %d %simages", b * o->batch, n, flip ? "flipped " : "");
            break;
        }
        if (!staged) rc = rt_loader_fill(&fill, st);
        if (rc == 0 && (staged = rt_exec_run_ahead(ex, 0, 0, b + 1 < n_batches, rt_loader_fill, &fill, st)) < 0) rc = -1;
        int rows = n - b * o->batch < o->batch ? n - b * o->batch : o->batch;
        if (rc == 0 && !(emb = rt_exec_output(ex, "embeddings", NULL, NULL, NULL))) /* after every run: a GPU */
            rc = rt_fail(st, "the embeddings of batch %d could not be read", b);  /* copies them back then */
        if (rc == 0) memcpy(out + (size_t)b * o->batch * *dim, emb, (size_t)rows * *dim * sizeof(float));
    }
    rt_progress_update(&pr, n);
    rt_progress_end(&pr);
    for (int i = 0; rc == 0 && o->bad && i < n; i++) o->bad[i] = (unsigned char)rt_loader_is_bad(ld, i);
    rt_loader_free(ld);
    free(labels);
    free(ds.labels);
    return rc;
}

int rt_lfw_embed(RtExec *ex, const RtEmbedOpts *o, char *const *paths, int n, float *all, int *dim,
                 RtStatus *st) {
    int64_t d[IR_MAX_RANK];
    int rank;
    if (!rt_exec_output(ex, "embeddings", NULL, &rank, d) || rank != 2)
        return rt_fail(st, "the eval graph gives no \"embeddings\"");
    int passes = o->use_flipped_images ? 2 : 1;
    float *one = fn_malloc((size_t)(n ? n : 1) * (size_t)d[1] * sizeof(float));
    int rc = one ? 0 : rt_fail(st, "out of memory for the embeddings of %d images", n);
    for (int f = 0; f < passes && rc == 0; f++) {
        rc = rt_embed(ex, o, paths, n, f, one, dim, st);
        for (int i = 0; i < n && rc == 0; i++) /* [original, flipped] per image */
            memcpy(all + ((size_t)i * passes + f) * *dim, one + (size_t)i * *dim, (size_t)*dim * sizeof(float));
    }
    free(one);
    return rc;
}

int rt_lfw_run(RtExec *ex, const RtEmbedOpts *o, const RtLfwPairs *p, RtLfwResult *r,
               double *images_per_s, RtStatus *st) {
    int n = 2 * p->n_pairs, dim = 0;
    int64_t d[IR_MAX_RANK];
    int rank;
    if (!rt_exec_output(ex, "embeddings", NULL, &rank, d) || rank != 2)
        return rt_fail(st, "the eval graph gives no \"embeddings\"");
    int passes = o->use_flipped_images ? 2 : 1, ranks = rt_comm_size(o->comm), me = rt_comm_rank(o->comm);
    size_t row = (size_t)d[1] * passes;
    float *all = fn_calloc((size_t)n * row, sizeof(float));
    int lo = (int)((int64_t)n * me / ranks), hi = (int)((int64_t)n * (me + 1) / ranks); /* this rank's */
    double t0 = rt_now();
    int rc = !all ? rt_fail(st, "out of memory for the embeddings of %d images", n)
             : hi > lo ? rt_lfw_embed(ex, o, p->paths + lo, hi - lo, all + (size_t)lo * row, &dim, st)
                       : 0;
    dim = (int)d[1];
    if (rc == 0) rc = rt_comm_allreduce(o->comm, all, (int64_t)n * (int64_t)row, 4, 0, st); /* x + 0 = x */
    double dt = rt_now() - t0;
    if (images_per_s) *images_per_s = dt > 0 ? n * passes / dt : 0;
    int use_sets = o->n_folds == p->n_sets;
    if (rc == 0)
        rc = rt_lfw_evaluate(all, dim * passes, p->issame, use_sets ? p->fold : NULL, p->n_pairs,
                             o->n_folds, o->metric, o->subtract_mean, r, st);
    free(all);
    return rc;
}
