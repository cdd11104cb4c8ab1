/* stat.h5: the reference's training statistics (same keys and shapes), kept in memory and
 * rewritten every epoch through the HDF5 C library (to a temporary file, then renamed). */
#ifndef FN_RT_STATS_H
#define FN_RT_STATS_H

#include "runtime/core/rt.h"

typedef struct RtStats RtStats;

RtStats *rt_stats_new(int max_nrof_epochs, int epoch_size, int validate_every_n_epochs,
                      double prelogits_hist_max);
void rt_stats_free(RtStats *s);
/* step counts from 0; epoch from 1. prelogits: the batch's values (histogram of |p|). */
void rt_stats_step(RtStats *s, int64_t step, int epoch, double loss, double center_loss,
                   double reg_loss, double xent, double prelogits_norm, double accuracy,
                   const float *prelogits, int64_t n);
void rt_stats_validation(RtStats *s, int epoch, double loss, double xent, double accuracy);
void rt_stats_epoch(RtStats *s, int epoch, double lfw_accuracy, double lfw_valrate,
                    double learning_rate, double time_train, double time_validate,
                    double time_evaluate);
/* The file is built in memory, written to path.tmp.<pid> and renamed over path: a failure (disk
 * full) names the file with errno's reason and leaves no temporary file. */
int rt_stats_write(const RtStats *s, const char *path, RtStatus *st);
/* Reads a previous stat.h5 back (resume); arrays of another length keep their common prefix. */
int rt_stats_read(RtStats *s, const char *path, RtStatus *st);

/* Reads one 1-D float dataset (for fnrun plot); *n gets its length; malloc'ed. */
float *rt_stats_read_key(const char *path, const char *key, int64_t *n, RtStatus *st);

#endif
