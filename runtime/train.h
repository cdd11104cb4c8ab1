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
    FILE *log; /* per-step lines; NULL = stdout */
} RtTrainOpts;

/* Trains and returns 0, or -1 with a one-line message. If losses is not NULL it receives up to
 * n_losses per-step total losses (for tests). */
int rt_train(const RtTrainOpts *o, double *losses, int n_losses, RtStatus *st);

#endif
