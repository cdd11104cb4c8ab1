/* The training loop of `fnrun train`: train_softmax.py's flags, run directories, checkpoints
 * and resume. */
#ifndef FN_RT_TRAIN_H
#define FN_RT_TRAIN_H

#include <signal.h>

#include "runtime/core/exec.h"

typedef struct {
    const char *artifact;
    const char *data_dir;
    const char *logs_base_dir, *models_base_dir;
    int batch_size, image_size, embedding_size;
    int max_nrof_epochs, epoch_size;
    uint64_t seed;
    /* optimisation */
    const char *optimizer; /* ADAGRAD ADADELTA ADAM RMSPROP MOM (SGD too) */
    double learning_rate;  /* > 0 constant; <= 0 read the schedule file */
    const char *learning_rate_schedule_file;
    int learning_rate_decay_epochs;
    double learning_rate_decay_factor;
    double moving_average_decay;
    int eval_with_moving_averages; /* validation uses the averaged weights [fix] */
    /* losses */
    double keep_probability, weight_decay;
    double prelogits_norm_loss_factor, prelogits_norm_p;
    double center_loss_factor, center_loss_alfa;
    /* data */
    double validation_set_split_ratio;
    int min_nrof_val_images_per_class, validate_every_n_epochs, lfw_batch_size;
    int random_rotate, random_crop, random_flip, use_fixed_image_standardization;
    int nrof_preprocess_threads, max_bad_images;
    /* LFW evaluation after every epoch (lfw_dir NULL or empty: none) */
    const char *lfw_dir, *lfw_pairs;
    int lfw_nrof_folds, lfw_distance_metric, lfw_use_flipped_images, lfw_subtract_mean;
    /* logs */
    int log_histograms;        /* TensorBoard histograms of weights and gradients */
    double prelogits_hist_max; /* stat.h5 prelogits_hist range */
    /* restarts */
    const char *pretrained_model; /* a checkpoint file: weights restored by name and shape */
    const char *resume;           /* a run's model directory: continue from its last checkpoint */
    /* where it runs */
    const RtBackend *backend;     /* the step, validation and LFW; its host where the device cannot */
    int kill_midwrite;            /* the crash test: killed halfway through writing a checkpoint */
    /* bookkeeping */
    const char *arguments_text; /* arguments.txt content */
    const char *command_line;   /* for revision_info.txt */
    volatile sig_atomic_t *stop; /* set (by a signal handler) to end after the current step */
    FILE *log;                   /* console lines; NULL = stdout */
} RtTrainOpts;

/* Fills the reference's defaults. */
void rt_train_defaults(RtTrainOpts *o);
/* Trains and returns 0, or -1 with a one-line message. If losses is not NULL it receives the
 * total loss of global steps 0 .. n_losses-1 (for tests). */
int rt_train(const RtTrainOpts *o, double *losses, int n_losses, RtStatus *st);

#endif
