/* The input pipeline's batch loader: worker threads decode and augment images into a bounded
 * ring of batch slots ahead of the training step.
 *
 * Determinism: batch k's images are chosen in order by one sampler (fresh seeded permutations,
 * or list order), and sample j of batch k is augmented with the stream rt_hash(seed, k, j), so
 * the batches are byte-identical for any number of threads, and a data-parallel rank that
 * loads only its slice of each batch gets exactly those samples of it. Memory is bounded by `depth`
 * slots of batch x size x size x 3 floats.
 * Bad files: the first failure of a file is reported (naming it) and counted; the sample is
 * replaced by a deterministic substitute; beyond max_bad_images distinct bad files the loader
 * stops with an error. */
#ifndef FN_RT_LOADER_H
#define FN_RT_LOADER_H

#include "runtime/data/data.h"
#include "runtime/data/image.h"

typedef enum { RT_ORDER_SHUFFLE, RT_ORDER_SEQUENTIAL } RtOrder;

typedef struct {
    const RtDataset *ds; /* must outlive the loader */
    int batch, size;
    int control; /* RT_AUG_* bits */
    int threads, depth;
    RtOrder order;
    uint64_t seed;
    int max_bad_images;
    int64_t max_batches; /* stop preparing after this many batches; 0 = never */
    int64_t first_batch; /* number of the first batch (a resumed run continues the sequence) */
    FILE *log; /* warnings about bad files; NULL = stderr */
    int slice_first, slice_len; /* of each batch, only samples slice_first.. (slice_len of them; 0:
                                   the whole batch) are loaded and handed out: a rank's share */
} RtLoaderOpts;

typedef struct RtLoader RtLoader;

RtLoader *rt_loader_new(const RtLoaderOpts *o, RtStatus *st);
/* Copies the next batch (or its slice) out (images [batch,size,size,3], labels [batch]); blocks until it is
 * ready, adding the time it waited to *wait_s if given. -1 with a message on a fatal error. */
int rt_loader_next(RtLoader *l, float *images, int32_t *labels, double *wait_s, RtStatus *st);
/* rt_loader_next as an RtExecFill (rt.h): a batch into images and labels, adding the wait to
 * *waited (if set), and lr_value into *lr (if set). */
typedef struct {
    RtLoader *ld;
    float *images;
    int32_t *labels;
    double *waited;
    float *lr, lr_value;
} RtLoaderFill;
int rt_loader_fill(void *fill, RtStatus *st);
int rt_loader_bad_images(RtLoader *l);
/* 1 if image (an index into the dataset) has failed to load (its samples were substitutes). */
int rt_loader_is_bad(RtLoader *l, int image);
void rt_loader_free(RtLoader *l);

#endif
