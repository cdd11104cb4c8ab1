/* Embeddings of image files through a bound eval graph (output "embeddings"), and the LFW
 * evaluation built on them (the reference's lfw.evaluate with flipped images). */
#ifndef FN_RT_EMBED_H
#define FN_RT_EMBED_H

#include <signal.h>

#include "runtime/core/exec.h"
#include "runtime/eval/lfw.h"

typedef struct {
    int batch;      /* the N the exec was bound with */
    int image_size;
    int threads;
    int fixed_std;  /* --use_fixed_image_standardization, else prewhitening */
    int use_flipped_images, n_folds, metric, subtract_mean;
    FILE *progress; /* a progress line every ~10% of the images; NULL for none */
    volatile sig_atomic_t *stop; /* when set, stop between batches with an error; may be NULL */
    unsigned char *bad; /* [n] or NULL: an unreadable image is marked 1 here (its row is a
                           substitute's, for the caller to drop) and warned of, not an error */
    FILE *log;          /* those warnings; NULL: stderr */
    RtComm *comm;       /* rt_lfw_run: the data-parallel ranks, each embedding its share of the
                           images (the rows gathered by a sum over zeros); NULL: all here */
} RtEmbedOpts;

/* out[n * dim]: the embeddings of paths, centre-cropped (control: RT_AUG_FLIP_ALWAYS for the
 * flipped pass); the last batch is filled up with repeated images whose rows are dropped.
 * An unreadable image is an error naming it, or with o->bad, marked and warned of. */
int rt_embed(RtExec *ex, const RtEmbedOpts *o, char *const *paths, int n, int flip, float *out,
             int *dim, RtStatus *st);
/* all[n, dim * passes]: the embeddings of paths as the LFW evaluation takes them, with
 * use_flipped_images [original, flipped] per image (fnrun embed's rows are these). */
int rt_lfw_embed(RtExec *ex, const RtEmbedOpts *o, char *const *paths, int n, float *all, int *dim,
                 RtStatus *st);
/* Embeds every pair's images (and their flips, concatenated, with use_flipped_images) and
 * evaluates: on every rank of o->comm, each embedding a contiguous share. images_per_s gets the
 * embedding throughput (all ranks'). */
int rt_lfw_run(RtExec *ex, const RtEmbedOpts *o, const RtLfwPairs *p, RtLfwResult *r,
               double *images_per_s, RtStatus *st);

#endif
