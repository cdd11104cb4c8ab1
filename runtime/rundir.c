/* See rundir.h. */
#include "runtime/rundir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int rt_mkdirs(const char *path, char *out, size_t cap, RtStatus *st) {
    const char *home = getenv("HOME");
    char buf[4096]; /* path and out may be the same buffer */
    if (path[0] == '~' && (path[1] == '/' || !path[1]) && home)
        snprintf(buf, sizeof buf, "%s%s", home, path + 1);
    else
        snprintf(buf, sizeof buf, "%s", path);
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

void rt_run_name(const char *models_base, char *name, size_t cap) {
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y%m%d-%H%M%S", &tm);
    snprintf(name, cap, "%s", base);
    for (int k = 2;; k++) {
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", models_base, name);
        if (stat(path, &sb) != 0) return;
        snprintf(name, cap, "%s_%d", base, k);
    }
}

int rt_write_text(const char *path, const char *text, int append, RtStatus *st) {
    FILE *f = fopen(path, append ? "a" : "w");
    if (!f) return rt_fail(st, "cannot write %s: %s", path, strerror(errno));
    fputs(text, f);
    if (fclose(f) != 0) return rt_fail(st, "cannot write %s: %s", path, strerror(errno));
    return 0;
}
