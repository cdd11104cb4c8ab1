/* `fnrun validate`: validate_on_lfw.py on an artifact (weights from --seed), a checkpoint, or a
 * run's model directory (its latest checkpoint and the artifact saved beside it). */
#ifndef FN_RT_VALIDATE_H
#define FN_RT_VALIDATE_H

#include <signal.h>

#include "runtime/core/exec.h"

typedef struct {
    const char *model; /* artifact, checkpoint or run directory */
    const char *lfw_dir, *lfw_pairs;
    int lfw_batch_size, image_size, embedding_size, lfw_nrof_folds, distance_metric;
    int use_flipped_images, subtract_mean, use_fixed_image_standardization;
    int use_moving_averages, nrof_preprocess_threads;
    const RtBackend *backend; /* where the forward passes run */
    uint64_t seed;
    volatile sig_atomic_t *stop; /* set (by a signal handler) to stop between batches; may be NULL */
    FILE *log;
} RtValidateOpts;

void rt_validate_defaults(RtValidateOpts *o);
int rt_validate(const RtValidateOpts *o, RtStatus *st);

#endif
