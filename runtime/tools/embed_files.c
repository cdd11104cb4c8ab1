/* See embed_files.h. */
#include "runtime/tools/embed_files.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ir/alloc.h"
#include "runtime/data/npy.h"
#include "runtime/eval/embed.h"
#include "runtime/eval/model.h"

void rt_embed_files_defaults(RtEmbedFilesOpts *o) {
    memset(o, 0, sizeof *o);
    o->image_size = 160;
    o->embedding_size = 128;
    o->seed = 666;
    o->batch_size = 100; /* fnrun validate's --lfw_batch_size: the same rows bit for bit */
    o->threads = 4;
}

/* The rows of the images read in both passes: [plain | flipped], or plain alone.
 * plain [n, d] over every input; with flip, flipped [ng, d] over the ng inputs good[] of the
 * first pass. */
static int keep_rows(const float *plain, const unsigned char *bad, int n, int flip, const float *flipped,
                     const int *good, const unsigned char *bad_flipped, int ng, int d, RtEmbeddings *e,
                     RtStatus *st) {
    int cols = flip ? 2 * d : d;
    e->rows = fn_malloc((size_t)(n ? n : 1) * (size_t)cols * sizeof(float));
    e->source = fn_malloc((size_t)(n ? n : 1) * sizeof(int));
    if (!e->rows || !e->source) return rt_fail(st, "out of memory keeping %d embeddings", n);
    e->dim = cols;
    for (int i = 0; i < n; i++) e->n_unreadable += bad[i];
    for (int j = 0; j < ng; j++) {
        int i = good[j];
        if (flip && bad_flipped[j]) { /* unreadable since the first pass */
            e->n_unreadable++;
            continue;
        }
        float *r = e->rows + (size_t)e->n * (size_t)cols;
        memcpy(r, plain + (size_t)i * d, (size_t)d * sizeof(float));
        if (flip) memcpy(r + d, flipped + (size_t)j * d, (size_t)d * sizeof(float));
        e->source[e->n++] = i;
    }
    return 0;
}

/* The plain pass over every input, then the flipped pass over those it could read. */
static int run_passes(RtExec *ex, const RtEmbedFilesOpts *o, const RtInputs *in, int d, RtEmbeddings *e,
                      RtStatus *st) {
    int n = in->n, ng = 0, dim = d, flip = o->use_flipped_images;
    float *plain = fn_malloc((size_t)n * d * sizeof(float)), *flipped = NULL;
    unsigned char *bad = fn_calloc((size_t)n, 1), *bad_flipped = NULL;
    int *good = fn_malloc((size_t)n * sizeof(int));
    char **good_paths = fn_malloc((size_t)n * sizeof(char *));
    int rc = plain && bad && good && good_paths ? 0 : rt_fail(st, "out of memory for %d embeddings", n);
    RtEmbedOpts eo = {o->batch_size, o->image_size, o->threads, o->use_fixed_image_standardization, 0, 0, 0, 0,
                      o->progress, o->stop, bad, o->log, NULL};
    if (rc == 0) rc = rt_embed(ex, &eo, in->paths, n, 0, plain, &dim, st);
    for (int i = 0; rc == 0 && i < n; i++)
        if (!bad[i]) good_paths[ng] = in->paths[i], good[ng++] = i;
    if (rc == 0 && flip && ng > 0) {
        flipped = fn_malloc((size_t)ng * d * sizeof(float));
        bad_flipped = fn_calloc((size_t)ng, 1);
        eo.bad = bad_flipped;
        rc = flipped && bad_flipped ? rt_embed(ex, &eo, good_paths, ng, 1, flipped, &dim, st)
                                    : rt_fail(st, "out of memory for %d flipped embeddings", ng);
    }
    if (rc == 0)
        rc = keep_rows(plain, bad, n, flip, flipped, good, bad_flipped, ng, d, e, st);
    free(plain);
    free(flipped);
    free(bad);
    free(bad_flipped);
    free(good);
    free(good_paths);
    return rc;
}

int rt_embed_files(const RtEmbedFilesOpts *o, const RtInputs *in, RtEmbeddings *e, RtStatus *st) {
    memset(e, 0, sizeof *e);
    if (in->n == 0) return rt_fail(st, "no images to embed");
    if (!o->backend) return rt_fail(st, "no backend to run on (RtEmbedFilesOpts.backend)");
    RtModelOpts mo = {o->model, "eval", o->image_size, o->embedding_size, o->use_moving_averages, o->seed, NULL};
    RtModel m;
    if (rt_model_open(&mo, o->batch_size, &m, st) < 0) return -1;
    const char *want[] = {"embeddings"};
    RtExec *ex = NULL;
    int rank, rc = -1;
    int64_t dims[IR_MAX_RANK];
    if (ir_output(m.g, "embeddings") == IR_NONE)
        rt_fail(st, "%s has no eval graph with \"embeddings\"", m.artifact);
    else if ((ex = rt_exec_bind(o->backend, m.g, m.vars, m.b, m.nb, want, 1, 0, st)) &&
             rt_exec_upload_vars(ex, st) == 0) {
        if (!rt_exec_output(ex, "embeddings", NULL, &rank, dims) || rank != 2)
            rt_fail(st, "the eval graph's \"embeddings\" is not [N,D]");
        else
            rc = run_passes(ex, o, in, (int)dims[1], e, st);
    }
    rt_exec_free(ex);
    rt_model_close(&m);
    if (rc < 0) rt_embeddings_free(e);
    return rc;
}

int rt_embed_inputs(const RtEmbedFilesOpts *o, const RtAlignInputsOpts *al, const RtInputs *in, RtEmbeddings *e,
                    RtStatus *st) {
    if (!al) return rt_embed_files(o, in, e, st);
    RtAligned a;
    memset(e, 0, sizeof *e);
    if (rt_align_inputs(al, in, &a, st) < 0) return -1;
    int rc = a.crops.n == 0 ? rt_fail(st, "no face found in any of the %d images", in->n)
                            : rt_embed_files(o, &a.crops, e, st);
    for (int i = 0; rc == 0 && i < e->n; i++) e->source[i] = a.source[e->source[i]]; /* rows of inputs */
    e->n_unreadable += a.n_unreadable;
    e->n_no_face = a.n_no_face;
    for (int i = 0; i < a.crops.n; i++) unlink(a.crops.paths[i]);
    rt_aligned_free(&a);
    return rc;
}

/* one TSV field: tabs and newlines in a file name would break the table */
static void put_field(FILE *f, const char *s) {
    for (; *s; s++) fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}

static int save_tsv(const char *path, const RtInputs *in, const RtEmbeddings *e, RtStatus *st) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return rt_fail(st, "cannot write %s: %s", tmp, strerror(errno));
    fputs("path\tclass\n", f);
    for (int i = 0; i < e->n; i++) {
        put_field(f, in->paths[e->source[i]]);
        fputc('\t', f);
        put_field(f, in->classes[e->source[i]]);
        fputc('\n', f);
    }
    int err = ferror(f) || fflush(f) != 0 ? (errno ? errno : EIO) : 0;
    if (fclose(f) != 0 && !err) err = errno ? errno : EIO;
    if (!err && rename(tmp, path) != 0) err = errno;
    if (!err) return 0;
    unlink(tmp);
    return rt_fail(st, "cannot write %s: %s", path, strerror(err));
}

int rt_embeddings_save(const char *out, const RtInputs *in, const RtEmbeddings *e, RtStatus *st) {
    char npy[4096], tsv[4096];
    snprintf(npy, sizeof npy, "%s.npy", out);
    snprintf(tsv, sizeof tsv, "%s.tsv", out);
    if (rt_npy_save_f32(npy, e->rows, e->n, e->dim, st) < 0) return -1;
    if (save_tsv(tsv, in, e, st) < 0) {
        unlink(npy); /* the pair or nothing */
        return -1;
    }
    return 0;
}

void rt_embeddings_free(RtEmbeddings *e) {
    free(e->rows);
    free(e->source);
    memset(e, 0, sizeof *e);
}
