/* The logs of a training run: TensorBoard events and stat.h5 in its log directory. */
#ifndef FN_RT_TRAINLOG_H
#define FN_RT_TRAINLOG_H

#include "runtime/logs/events.h"
#include "runtime/logs/stats.h"
#include "runtime/train/train.h"

typedef struct {
    RtEvents *ev;
    RtStats *stats;
    char stat_path[4200];
    double loss_avg, xent_avg; /* 0.9 moving averages for the smoothed scalars */
    int have_avg;
} RtTrainLog;

/* A step's scalars as the logs record them (the ranks' means in a data-parallel run) */
enum { RT_STEP_LOSS, RT_STEP_XENT, RT_STEP_REG, RT_STEP_ACC, RT_STEP_CL, RT_STEP_NORM, RT_STEP_N };
/* The train step's outputs "loss", "xent", "reg_loss", "accuracy", "center_loss" and
 * "prelogits_norm" into v (NaN where the model has no such output) */
void rt_trainlog_scalars(RtExec *ex, double v[RT_STEP_N]);

/* Opens the event file and the statistics (read back from stat.h5 when resuming). */
int rt_trainlog_open(RtTrainLog *lg, const RtTrainOpts *o, const char *log_dir, RtStatus *st);
void rt_trainlog_close(RtTrainLog *lg);
/* The scalars and statistics of global step `step` (0-based; TensorBoard gets step + 1), the
 * first batch's images, and every 100 steps with --log_histograms the weight and gradient
 * histograms (the variables copied back from a GPU first). ex is the train step with its
 * outputs (the prelogits histogram is of its batch); images its input batch; v its scalars.
 * 0, or -1 when the copy failed. */
int rt_trainlog_step(RtTrainLog *lg, RtExec *ex, const float *images, int batch, RtVars *vars,
                     const RtTrainOpts *o, int64_t step, int epoch, double lr_eff, const double v[RT_STEP_N],
                     RtStatus *st);

#endif
