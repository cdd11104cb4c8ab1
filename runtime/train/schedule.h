/* Learning-rate schedule files: lines `epoch: rate`, `#` comments and blank lines skipped, `-`
 * meaning -1. The entry with the largest epoch <= the current epoch (from 1) applies; past the
 * last entry the last applies; a rate <= 0 stops training before that epoch. */
#ifndef FN_RT_SCHEDULE_H
#define FN_RT_SCHEDULE_H

#include "runtime/core/rt.h"

typedef struct {
    int n;
    int *epoch;
    double *rate;
} RtSchedule;

/* Errors name the file and line: `FILE:LINE: message`. */
int rt_schedule_load(const char *path, RtSchedule *s, RtStatus *st);
/* The same from an open stream (path names it in messages): for the fuzz target. */
int rt_schedule_parse(FILE *f, const char *path, RtSchedule *s, RtStatus *st);
double rt_schedule_rate(const RtSchedule *s, int epoch);
void rt_schedule_free(RtSchedule *s);

#endif
