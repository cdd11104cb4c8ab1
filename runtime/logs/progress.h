/* Progress of long work: a bar redrawn in place on a terminal, plain lines every 10% when the
 * output is a file or a pipe. */
#ifndef FN_RT_PROGRESS_H
#define FN_RT_PROGRESS_H

#include "runtime/core/rt.h"

typedef struct {
    FILE *f;
    int tty;
    const char *what;
    int64_t total, next_line;
    double t0, last_draw;
} RtProgress;

void rt_progress_start(RtProgress *p, FILE *f, const char *what, int64_t total);
void rt_progress_update(RtProgress *p, int64_t done);
void rt_progress_end(RtProgress *p);

#endif
