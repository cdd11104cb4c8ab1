/* Learning-curve figures (cairo, PNG and SVG): `fnrun plot LOG_DIR` draws the seed page's three
 * figures from a run's stat.h5 and lfw_result.txt. */
#ifndef FN_RT_PLOT_H
#define FN_RT_PLOT_H

#include "runtime/core/rt.h"

typedef struct {
    const double *x, *y;
    int n;
    const char *label;
    double r, g, b;
    int dashed, markers;
} RtSeries;

/* One line chart into base.png and base.svg: labelled axes with ticks, a legend, a title. A
 * failed write names the file with errno's reason and removes it. */
int rt_plot(const char *base, const char *title, const char *xlabel, const char *ylabel,
            const RtSeries *s, int n_series, RtStatus *st);
/* The three figures of a run into out_dir (created if missing): lfw_accuracy, cross_entropy,
 * accuracy (.png and .svg each); their paths are printed on log. */
int rt_plot_run(const char *log_dir, const char *out_dir, FILE *log, RtStatus *st);

#endif
