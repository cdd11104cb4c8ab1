/* See rundir.h. Creates run folders; does not decide what goes in them (train.c). */
#include "runtime/train/rundir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int rt_run_create(const char *models_base, char *name, size_t cap, RtStatus *st) {
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y%m%d-%H%M%S", &tm);
    snprintf(name, cap, "%s", base);
    for (int k = 2; k < 10000; k++) { /* mkdir is atomic: of two runs, exactly one gets a name */
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", models_base, name);
        if (mkdir(path, 0777) == 0) return 0;
        if (errno != EEXIST) return rt_fail(st, "cannot create directory %s: %s", path, strerror(errno));
        snprintf(name, cap, "%s_%d", base, k);
    }
    return rt_fail(st, "--models_base_dir %s: no free run name for %s", models_base, base);
}

