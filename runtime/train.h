/* The training loop of `fnrun train` (the spine's subset of train_softmax.py). */
#ifndef FN_RT_TRAIN_H
#define FN_RT_TRAIN_H

#include "runtime/rt.h"

typedef struct {
    const char *artifact;
    const char *data_dir;
    int batch_size, image_size, embedding_size;
    int max_nrof_epochs, epoch_size;
    double learning_rate, keep_probability, weight_decay;
    uint64_t seed;
    double validation_set_split_ratio; /* 0: no validation set */
    int min_nrof_val_images_per_class;
    int validate_every_n_epochs;
    int lfw_batch_size; /* batch size of the validation pass */
    int random_rotate, random_crop, random_flip, use_fixed_image_standardization;
    int nrof_preprocess_threads;
    int max_bad_images;
    FILE *log;          /* per-step lines; NULL = stdout */
} RtTrainOpts;

/* Fills the reference's defaults. */
void rt_train_defaults(RtTrainOpts *o);
/* Trains and returns 0, or -1 with a one-line message. If losses is not NULL it receives up to
 * n_losses per-step total losses (for tests). */
int rt_train(const RtTrainOpts *o, double *losses, int n_losses, RtStatus *st);

#endif
