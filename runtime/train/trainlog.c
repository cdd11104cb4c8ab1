/* The training run's logs: TensorBoard scalars, images and histograms (events.h) and stat.h5
 * (stats.h), fed once per step. */
#include "runtime/train/trainlog.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ir/alloc.h"

int rt_trainlog_open(RtTrainLog *lg, const RtTrainOpts *o, const char *log_dir, RtStatus *st) {
    lg->ev = rt_events_open(log_dir, -1, st);
    if (!lg->ev) return -1;
    lg->stats = rt_stats_new(o->max_nrof_epochs, o->epoch_size, o->validate_every_n_epochs,
                             o->prelogits_hist_max);
    if (!lg->stats) return rt_fail(st, "out of memory for the statistics of %s", log_dir);
    snprintf(lg->stat_path, sizeof lg->stat_path, "%s/stat.h5", log_dir);
    if (o->resume && access(lg->stat_path, R_OK) == 0) return rt_stats_read(lg->stats, lg->stat_path, st);
    return 0;
}

void rt_trainlog_close(RtTrainLog *lg) {
    rt_events_close(lg->ev);
    rt_stats_free(lg->stats);
}

void rt_trainlog_scalars(RtExec *ex, double v[RT_STEP_N]) {
    v[RT_STEP_LOSS] = rt_exec_scalar(ex, "loss");
    v[RT_STEP_XENT] = rt_exec_scalar(ex, "xent");
    v[RT_STEP_REG] = rt_exec_scalar(ex, "reg_loss");
    v[RT_STEP_ACC] = rt_exec_scalar(ex, "accuracy");
    v[RT_STEP_CL] = rt_exec_scalar(ex, "center_loss"); /* NaN without one */
    v[RT_STEP_NORM] = rt_exec_scalar(ex, "prelogits_norm");
}

/* The scalars and statistics of global step `step` (0-based; TensorBoard gets step + 1). */
int rt_trainlog_step(RtTrainLog *lg, RtExec *ex, const float *images, int batch, RtVars *vars,
                     const RtTrainOpts *o, int64_t step, int epoch, double lr_eff, const double sc[RT_STEP_N],
                     RtStatus *st) {
    double loss = sc[RT_STEP_LOSS], xent = sc[RT_STEP_XENT], cl = sc[RT_STEP_CL], reg = sc[RT_STEP_REG];
    double norm = sc[RT_STEP_NORM], acc = sc[RT_STEP_ACC];
    int64_t np = 0;
    const float *p = rt_exec_output(ex, "prelogits", &np, NULL, NULL);
    rt_stats_step(lg->stats, step, epoch, loss, cl, reg, xent, norm, acc, p, np);
    lg->loss_avg = lg->have_avg ? 0.9 * lg->loss_avg + 0.1 * loss : loss;
    lg->xent_avg = lg->have_avg ? 0.9 * lg->xent_avg + 0.1 * xent : xent;
    lg->have_avg = 1;
    int64_t t = step + 1;
    rt_events_scalar(lg->ev, "total_loss_raw", t, loss);
    rt_events_scalar(lg->ev, "total_loss", t, lg->loss_avg);
    rt_events_scalar(lg->ev, "cross_entropy_raw", t, xent);
    rt_events_scalar(lg->ev, "cross_entropy", t, lg->xent_avg);
    rt_events_scalar(lg->ev, "learning_rate", t, lr_eff);
    if (step == 0) { /* a few training inputs, back to bytes */
        int size = o->image_size, n = batch < 3 ? batch : 3;
        unsigned char *rgb = fn_malloc((size_t)size * size * 3); /* none: no images (as a lost record) */
        for (int k = 0; rgb && k < n; k++) {
            const float *x = images + (size_t)k * size * size * 3;
            float lo = x[0], hi = x[0];
            for (int i = 0; i < size * size * 3; i++) lo = fminf(lo, x[i]), hi = fmaxf(hi, x[i]);
            for (int i = 0; i < size * size * 3; i++)
                rgb[i] = (unsigned char)(hi > lo ? 255.0f * (x[i] - lo) / (hi - lo) + 0.5f : 0);
            char tag[64];
            snprintf(tag, sizeof tag, "input_images/%d", k);
            rt_events_image(lg->ev, tag, t, rgb, size, size);
        }
        free(rgb);
    }
    if (o->log_histograms && step % 100 == 0) {
        if (rt_exec_sync_host(ex, NULL, st) < 0) return -1;
        for (int i = 0; i < vars->n; i++) {
            RtVar *v = &vars->v[i];
            if (v->is_state) continue;
            char tag[600];
            int64_t n;
            rt_events_histogram(lg->ev, v->name, t, v->data, v->n);
            snprintf(tag, sizeof tag, "grad/%s", v->name);
            const float *gr = rt_exec_output(ex, tag, &n, NULL, NULL);
            snprintf(tag, sizeof tag, "%s/gradients", v->name);
            if (gr) rt_events_histogram(lg->ev, tag, t, gr, n);
        }
    }
    return 0;
}
