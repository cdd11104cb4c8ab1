/* See rundir.h. Creates run folders; does not decide what goes in them (train.c). */
#include "runtime/rundir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void rt_expand_home(const char *path, char *out, size_t cap) {
    const char *home = getenv("HOME");
    char buf[4096]; /* path and out may be the same buffer */
    if (path[0] == '~' && (path[1] == '/' || !path[1]) && home)
        snprintf(buf, sizeof buf, "%s%s", home, path + 1);
    else
        snprintf(buf, sizeof buf, "%s", path);
    snprintf(out, cap, "%s", buf);
}

int rt_mkdirs(const char *path, char *out, size_t cap, RtStatus *st) {
    char buf[4096];
    rt_expand_home(path, buf, sizeof buf);
    snprintf(out, cap, "%s", buf);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return rt_fail(st, "cannot create directory %s: %s", buf, strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    return 0;
}

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

int rt_is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int rt_write_text(const char *path, const char *text, int append, RtStatus *st) {
    FILE *f = fopen(path, append ? "a" : "w");
    if (!f) return rt_fail(st, "cannot write %s: %s", path, strerror(errno));
    fputs(text, f);
    if (fclose(f) != 0) return rt_fail(st, "cannot write %s: %s", path, strerror(errno));
    return 0;
}
