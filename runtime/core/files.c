/* See files.h. Paths and folders; knows nothing of runs or checkpoints, nor of ~ (cli/). */
#include "runtime/core/files.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int rt_mkdirs(const char *path, char *out, size_t cap, RtStatus *st) {
    char buf[4096];
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
