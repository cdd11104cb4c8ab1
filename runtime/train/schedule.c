/* See schedule.h. Differences from the reference's reader (documented in docs/design.md): past
 * the last entry the last rate applies, blank lines are skipped, and epochs must increase. */
#include "runtime/train/schedule.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"
#include "runtime/core/files.h"

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

int rt_schedule_load(const char *path, RtSchedule *s, RtStatus *st) {
    memset(s, 0, sizeof *s);
    if (rt_is_dir(path)) return rt_fail(st, "learning-rate schedule %s is a directory", path);
    FILE *f = fopen(path, "r");
    if (!f) return rt_fail(st, "cannot read learning-rate schedule %s: %s", path, strerror(errno));
    int rc = rt_schedule_parse(f, path, s, st);
    fclose(f);
    return rc;
}

int rt_schedule_parse(FILE *f, const char *path, RtSchedule *s, RtStatus *st) {
    memset(s, 0, sizeof *s);
    char line[1024];
    int ln = 0, cap = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        ln++;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *t = trim(line);
        if (!*t) continue;
        char *colon = strchr(t, ':');
        if (!colon) {
            rc = rt_fail(st, "%s:%d: expected 'epoch: rate', got '%s'", path, ln, t);
            break;
        }
        *colon = 0;
        char *es = trim(t), *rs = trim(colon + 1), *end;
        errno = 0;
        long epoch = strtol(es, &end, 10);
        if (!*es || *end || errno || epoch < 0 || epoch > INT_MAX) {
            rc = rt_fail(st, "%s:%d: epoch '%s' is not a non-negative integer", path, ln, es);
            break;
        }
        double rate;
        if (strcmp(rs, "-") == 0) {
            rate = -1;
        } else {
            rate = strtod(rs, &end);
            if (!*rs || *end || errno || !isfinite(rate)) {
                rc = rt_fail(st, "%s:%d: rate '%s' is not a finite number (or '-')", path, ln, rs);
                break;
            }
        }
        if (s->n > 0 && epoch <= s->epoch[s->n - 1]) {
            rc = rt_fail(st, "%s:%d: epoch %ld does not follow epoch %d", path, ln, epoch,
                         s->epoch[s->n - 1]);
            break;
        }
        if (s->n == cap) {
            cap = cap ? 2 * cap : 16;
            int *ne = fn_realloc(s->epoch, (size_t)cap * sizeof *s->epoch);
            if (ne) s->epoch = ne;
            double *nr = ne ? fn_realloc(s->rate, (size_t)cap * sizeof *s->rate) : NULL;
            if (!nr) {
                rc = rt_fail(st, "out of memory reading %s", path);
                break;
            }
            s->rate = nr;
        }
        s->epoch[s->n] = (int)epoch;
        s->rate[s->n++] = rate;
    }
    if (rc == 0 && s->n == 0) rc = rt_fail(st, "%s: no 'epoch: rate' entries", path);
    if (rc == 0 && s->epoch[0] > 1)
        rc = rt_fail(st, "%s: the first entry is for epoch %d, so epoch 1 has no rate", path, s->epoch[0]);
    if (rc) rt_schedule_free(s);
    return rc;
}

double rt_schedule_rate(const RtSchedule *s, int epoch) {
    double r = s->rate[0];
    for (int i = 0; i < s->n && s->epoch[i] <= epoch; i++) r = s->rate[i];
    return r;
}

void rt_schedule_free(RtSchedule *s) {
    free(s->epoch);
    free(s->rate);
    memset(s, 0, sizeof *s);
}
